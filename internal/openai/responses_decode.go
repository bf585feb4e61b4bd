package openai

import (
	"encoding/json"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Responses API values xjp accepts.
var (
	responsesEfforts   = []string{"none", "minimal", "low", "medium", "high", "xhigh"}
	responsesSummaries = []string{"auto", "concise", "detailed"}
)

// minOutputTokens is the Responses API's minimum max_output_tokens.
const minOutputTokens = 16

// DecodeResponsesRequest decodes and validates a Responses API request body
// (POST /v1/responses). See responses.go for the design decisions.
//
// input is a string (one user message) or a list of items: messages (type
// "message" or no type, roles user, system, developer and assistant;
// content a string or parts input_text, input_image, input_file, and
// output_text and refusal for the assistant), function_call and
// function_call_output, custom_tool_call and custom_tool_call_output, and
// reasoning items. instructions becomes a system message before the input;
// system and developer messages keep their role and place. Assistant-side
// items in a row (messages, reasoning, calls) form one assistant message;
// outputs in a row form one tool message. Every call needs an output with
// its call_id later in input, and every output a call before it.
//
// Tools: function tools (flat: {type, name, description, parameters,
// strict}; the Chat Completions nested shape is refused), custom tools
// (Tool.Type "custom", Native verbatim) and namespace tools (flattened).
// tool_choice is "auto", "none", "required", {type: "function"|"custom",
// name} or {type: "allowed_tools", mode} (its mode only). max_output_tokens
// is at least 16. reasoning.effort becomes Reasoning; text.format becomes
// ResponseFormat.
//
// Errors are *llm.Error of kind caller_invalid with status 400, Param set to
// the offending field ("input[3].call_id") and a message in the style of
// OpenAI's own validation errors.
func DecodeResponsesRequest(body []byte) (*llm.Request, error) {
	if !json.Valid(body) {
		return nil, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest,
			Message: "we could not parse the JSON body of your request: the body is not valid JSON"}
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, errType("", "an object", root)
	}
	var f struct {
		model, input, instructions, tools, toolChoice, parallel, maxOut gjson.Result
		temperature, topP, reasoning, text, stream, user                gjson.Result
		prevID, conversation, background, prompt                        gjson.Result
		store, include, metadata, promptCacheKey, truncation            gjson.Result
	}
	req := &llm.Request{Native: &llm.Native{Dialect: llm.DialectResponses}}
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			f.model = v
			return true
		case "input":
			f.input = v
			return true
		case "stream":
			f.stream = v
			return true
		case "instructions":
			f.instructions = v
		case "tools":
			f.tools = v
		case "tool_choice":
			f.toolChoice = v
		case "parallel_tool_calls":
			f.parallel = v
		case "max_output_tokens":
			f.maxOut = v
		case "temperature":
			f.temperature = v
		case "top_p":
			f.topP = v
		case "reasoning":
			f.reasoning = v
		case "text":
			f.text = v
		case "user":
			f.user = v
		case "previous_response_id":
			f.prevID = v
		case "conversation":
			f.conversation = v
		case "background":
			f.background = v
		case "prompt":
			f.prompt = v
		case "store":
			f.store = v
		case "include":
			f.include = v
		case "metadata":
			f.metadata = v
		case "prompt_cache_key":
			f.promptCacheKey = v
		case "truncation":
			f.truncation = v
		}
		// Everything but model, input and stream travels verbatim: for the
		// echo in the response object and for a same-dialect upstream.
		setNative(req, k.Str, v.Raw)
		return true
	})

	// model
	switch {
	case !f.model.Exists() || f.model.Type == gjson.Null:
		return nil, errMissing("model")
	case f.model.Type != gjson.String:
		return nil, errType("model", "a string", f.model)
	case strings.TrimSpace(f.model.Str) == "":
		return nil, errValue("model", "invalid 'model': expected a non-empty string")
	}
	req.Model = f.model.Str

	// State xjp does not keep.
	if !isNull(f.prevID) {
		return nil, unsupported("previous_response_id", "previous_response_id is not supported: xjp does not store responses; send the full conversation in input")
	}
	if !isNull(f.conversation) {
		return nil, unsupported("conversation", "conversation is not supported: xjp does not store conversations; send the full conversation in input")
	}
	if !isNull(f.background) {
		if !f.background.IsBool() {
			return nil, errType("background", "a boolean", f.background)
		}
		if f.background.Bool() {
			return nil, unsupported("background", "background mode is not supported: xjp does not store responses to poll; send the request without background and read the answer (or its stream) directly")
		}
	}
	if !isNull(f.prompt) {
		return nil, unsupported("prompt", "prompt templates are not supported: they are stored on openai's servers; send the instructions and input themselves")
	}

	// Accepted members that need only a type check.
	if !isNull(f.store) && !f.store.IsBool() {
		return nil, errType("store", "a boolean", f.store)
	}
	if !isNull(f.include) {
		if err := stringArray("include", f.include); err != nil {
			return nil, err
		}
	}
	if !isNull(f.metadata) && !f.metadata.IsObject() {
		return nil, errType("metadata", "an object", f.metadata)
	}
	if !isNull(f.promptCacheKey) && f.promptCacheKey.Type != gjson.String {
		return nil, errType("prompt_cache_key", "a string", f.promptCacheKey)
	}
	if !isNull(f.truncation) {
		if f.truncation.Type != gjson.String {
			return nil, errType("truncation", "a string", f.truncation)
		}
		if modes := []string{"auto", "disabled"}; !oneOf(f.truncation.Str, modes) {
			return nil, errSupported("truncation", f.truncation.Str, modes)
		}
	}

	// tools first: input items refer to their names.
	if !isNull(f.tools) {
		tools, err := decodeResponsesTools(f.tools)
		if err != nil {
			return nil, err
		}
		req.Tools = tools
	}

	// instructions and input
	if !isNull(f.instructions) {
		if f.instructions.Type != gjson.String {
			return nil, errType("instructions", "a string", f.instructions)
		}
		if f.instructions.Str != "" {
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleSystem, Content: []llm.Part{llm.TextPart(f.instructions.Str)}})
		}
	}
	switch {
	case !f.input.Exists() || f.input.Type == gjson.Null:
		return nil, errMissing("input")
	case f.input.Type == gjson.String:
		req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser, Content: textParts(f.input.Str)})
	case f.input.IsArray():
		d := inputDecoder{req: req, calls: map[string]*llm.ToolCall{}, answered: map[string]bool{}, sigs: map[string]string{}}
		if err := d.decode(f.input); err != nil {
			return nil, err
		}
	default:
		return nil, errType("input", "a string or an array of input items", f.input)
	}
	if len(req.Messages) == 0 {
		return nil, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: "input", Code: "empty_array",
			Message: "invalid 'input': empty array. expected an array with minimum length 1, but got an empty array instead"}
	}

	if !isNull(f.toolChoice) {
		tc, err := decodeResponsesToolChoice(f.toolChoice)
		if err != nil {
			return nil, err
		}
		req.ToolChoice = tc
	}
	if !isNull(f.parallel) {
		if !f.parallel.IsBool() {
			return nil, errType("parallel_tool_calls", "a boolean", f.parallel)
		}
		b := f.parallel.Bool()
		req.ParallelToolCalls = &b
	}
	if !isNull(f.maxOut) {
		n, ok := intOf(f.maxOut)
		switch {
		case !ok:
			return nil, errType("max_output_tokens", "an integer", f.maxOut)
		case n < minOutputTokens:
			return nil, errBelowMin("max_output_tokens", minOutputTokens, f.maxOut.Raw)
		case n > 1<<31-1:
			n = 1<<31 - 1
		}
		req.MaxTokens = int(n)
	}
	if !isNull(f.temperature) {
		v, err := boundedFloat("temperature", f.temperature, 0, 2)
		if err != nil {
			return nil, err
		}
		req.Temperature = &v
	}
	if !isNull(f.topP) {
		v, err := boundedFloat("top_p", f.topP, 0, 1)
		if err != nil {
			return nil, err
		}
		req.TopP = &v
	}
	if !isNull(f.reasoning) {
		r, err := decodeResponsesReasoning(f.reasoning)
		if err != nil {
			return nil, err
		}
		req.Reasoning = r
	}
	if !isNull(f.text) {
		rf, err := decodeResponsesText(f.text)
		if err != nil {
			return nil, err
		}
		req.ResponseFormat = rf
	}
	if !isNull(f.user) {
		if f.user.Type != gjson.String {
			return nil, errType("user", "a string", f.user)
		}
		req.User = f.user.Str
	}
	if !isNull(f.stream) {
		if !f.stream.IsBool() {
			return nil, errType("stream", "a boolean", f.stream)
		}
		req.Stream = f.stream.Bool()
	}
	return req, nil
}

func unsupported(param, msg string) *llm.Error {
	return &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: param, Code: "unsupported_parameter", Message: msg}
}

func stringArray(p string, v gjson.Result) *llm.Error {
	if !v.IsArray() {
		return errType(p, "an array of strings", v)
	}
	var err *llm.Error
	i := 0
	v.ForEach(func(_, s gjson.Result) bool {
		if s.Type != gjson.String {
			err = errType(p+"["+strconv.Itoa(i)+"]", "a string", s)
			return false
		}
		i++
		return true
	})
	return err
}

func textParts(s string) []llm.Part {
	if s == "" {
		return nil
	}
	return []llm.Part{llm.TextPart(s)}
}

// ---- tools ----

// hostedToolHint tells Codex CLI users how to stop sending a hosted tool.
func hostedToolHint(typ string) string {
	if strings.HasPrefix(typ, "web_search") {
		return ` (codex cli: set web_search = "disabled" in ~/.codex/config.toml)`
	}
	return ""
}

func decodeResponsesTools(v gjson.Result) ([]llm.Tool, *llm.Error) {
	if !v.IsArray() {
		return nil, errType("tools", "an array", v)
	}
	var tools []llm.Tool
	seen := map[string]string{} // flat name → param of its definition
	var err *llm.Error
	add := func(p string, t llm.Tool) bool {
		if first, dup := seen[t.Name]; dup {
			err = errValue(p, "invalid 'tools': the tool name '%s' is used twice (%s and %s)", t.Name, first, p)
			return false
		}
		seen[t.Name] = p
		tools = append(tools, t)
		return true
	}
	i := 0
	v.ForEach(func(_, t gjson.Result) bool {
		p := "tools[" + strconv.Itoa(i) + "]"
		i++
		typ, e := toolType(p, t)
		if e != nil {
			err = e
			return false
		}
		switch typ {
		case "function", "custom":
			tool, e := decodeResponsesTool(p, typ, t, "")
			if e != nil {
				err = e
				return false
			}
			return add(p, tool)
		case "namespace":
			ns, e := requiredString(p+".name", t.Get("name"))
			if e != nil {
				err = e
				return false
			}
			if ns == "" {
				err = errValue(p+".name", "invalid '%s.name': empty string. expected a string with minimum length 1", p)
				return false
			}
			inner := t.Get("tools")
			switch {
			case isNull(inner):
				err = errMissing(p + ".tools")
				return false
			case !inner.IsArray():
				err = errType(p+".tools", "an array", inner)
				return false
			}
			j := 0
			inner.ForEach(func(_, it gjson.Result) bool {
				ip := p + ".tools[" + strconv.Itoa(j) + "]"
				j++
				ityp, e := toolType(ip, it)
				if e != nil {
					err = e
					return false
				}
				if ityp != "function" && ityp != "custom" {
					err = errSupported(ip+".type", ityp, []string{"function", "custom"})
					return false
				}
				tool, e := decodeResponsesTool(ip, ityp, it, ns)
				if e != nil {
					err = e
					return false
				}
				return add(ip, tool)
			})
			return err == nil
		}
		err = &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: p + ".type", Code: "unsupported_value",
			Message: "hosted tool '" + truncate(typ, 64) + "' is not supported by xjp: it runs on openai's servers and cannot be translated for other providers; remove it from the request" + hostedToolHint(typ)}
		return false
	})
	return tools, err
}

func toolType(p string, t gjson.Result) (string, *llm.Error) {
	if !t.IsObject() {
		return "", errType(p, "an object", t)
	}
	typ := t.Get("type")
	switch {
	case !typ.Exists() || typ.Type == gjson.Null:
		return "", errMissing(p + ".type")
	case typ.Type != gjson.String:
		return "", errType(p+".type", "a string", typ)
	}
	return typ.Str, nil
}

// decodeResponsesTool decodes a flat function or custom tool, inside
// namespace ns when ns is not empty.
func decodeResponsesTool(p, typ string, t gjson.Result, ns string) (llm.Tool, *llm.Error) {
	if typ == "function" && t.Get("function").IsObject() && !t.Get("name").Exists() {
		return llm.Tool{}, errValue(p+".name", "missing required parameter: '%s.name' (the responses api takes flat function tools {type, name, parameters}, not the chat completions shape {type, function: {…}})", p)
	}
	name, err := requiredString(p+".name", t.Get("name"))
	if err != nil {
		return llm.Tool{}, err
	}
	if name == "" {
		return llm.Tool{}, errValue(p+".name", "invalid '%s.name': empty string. expected a string with minimum length 1", p)
	}
	tool := llm.Tool{Type: typ, Name: namespacedName(ns, name)}
	if d := t.Get("description"); !isNull(d) {
		if d.Type != gjson.String {
			return llm.Tool{}, errType(p+".description", "a string", d)
		}
		tool.Description = d.Str
	}
	if typ == "custom" {
		if fm := t.Get("format"); !isNull(fm) {
			if !fm.IsObject() {
				return llm.Tool{}, errType(p+".format", "an object", fm)
			}
			if ft := fm.Get("type"); ft.Type != gjson.String || !oneOf(ft.Str, []string{"text", "grammar"}) {
				return llm.Tool{}, errSupported(p+".format.type", ft.String(), []string{"text", "grammar"})
			}
		}
		tool.Native = json.RawMessage(t.Raw)
		return tool, nil
	}
	if ps := t.Get("parameters"); !isNull(ps) {
		if !ps.IsObject() {
			return llm.Tool{}, errType(p+".parameters", "an object", ps)
		}
		tool.Parameters = json.RawMessage(ps.Raw)
	}
	if s := t.Get("strict"); !isNull(s) {
		if !s.IsBool() {
			return llm.Tool{}, errType(p+".strict", "a boolean", s)
		}
		b := s.Bool()
		tool.Strict = &b
	}
	return tool, nil
}

func decodeResponsesToolChoice(v gjson.Result) (*llm.ToolChoice, *llm.Error) {
	const p = "tool_choice"
	modes := []string{"none", "auto", "required"}
	switch {
	case v.Type == gjson.String:
		if !oneOf(v.Str, modes) {
			return nil, errSupported(p, v.Str, modes)
		}
		return &llm.ToolChoice{Mode: llm.ToolChoiceMode(v.Str)}, nil
	case !v.IsObject():
		return nil, errType(p, "a string or an object", v)
	}
	typ, err := toolType(p, v)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "function", "custom":
		name, err := requiredString(p+".name", v.Get("name"))
		if err != nil {
			return nil, err
		}
		if ns := v.Get("namespace"); ns.Type == gjson.String {
			name = namespacedName(ns.Str, name)
		}
		return &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: name}, nil
	case "allowed_tools":
		// The list of allowed tools has no neutral form; its mode does.
		mode := v.Get("mode")
		if !isNull(mode) && (mode.Type != gjson.String || !oneOf(mode.Str, []string{"auto", "required"})) {
			return nil, errSupported(p+".mode", mode.String(), []string{"auto", "required"})
		}
		if mode.Str == "required" {
			return &llm.ToolChoice{Mode: llm.ToolChoiceRequired}, nil
		}
		return &llm.ToolChoice{Mode: llm.ToolChoiceAuto}, nil
	}
	return nil, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: p + ".type", Code: "unsupported_value",
		Message: "tool_choice of type '" + truncate(typ, 64) + "' is not supported by xjp: hosted tools run on openai's servers; use 'auto', 'none', 'required', a function or a custom tool"}
}

func decodeResponsesReasoning(v gjson.Result) (*llm.Reasoning, *llm.Error) {
	const p = "reasoning"
	if !v.IsObject() {
		return nil, errType(p, "an object", v)
	}
	for _, k := range [...]string{"summary", "generate_summary"} {
		if s := v.Get(k); !isNull(s) {
			if s.Type != gjson.String {
				return nil, errType(p+"."+k, "a string", s)
			}
			if !oneOf(s.Str, responsesSummaries) {
				return nil, errSupported(p+"."+k, s.Str, responsesSummaries)
			}
		}
	}
	effort := v.Get("effort")
	if isNull(effort) {
		return nil, nil // summary only: the upstream's default effort
	}
	if effort.Type != gjson.String {
		return nil, errType(p+".effort", "a string", effort)
	}
	if !oneOf(effort.Str, responsesEfforts) {
		return nil, errSupported(p+".effort", effort.Str, responsesEfforts)
	}
	return &llm.Reasoning{Effort: effort.Str, Disabled: effort.Str == "none"}, nil
}

func decodeResponsesText(v gjson.Result) (*llm.ResponseFormat, *llm.Error) {
	const p = "text"
	if !v.IsObject() {
		return nil, errType(p, "an object", v)
	}
	if vb := v.Get("verbosity"); !isNull(vb) && vb.Type != gjson.String {
		return nil, errType(p+".verbosity", "a string", vb)
	}
	fm := v.Get("format")
	if isNull(fm) {
		return nil, nil
	}
	if !fm.IsObject() {
		return nil, errType(p+".format", "an object", fm)
	}
	typ, err := requiredString(p+".format.type", fm.Get("type"))
	if err != nil {
		return nil, err
	}
	switch typ {
	case "text", "json_object":
		return &llm.ResponseFormat{Type: typ}, nil
	case "json_schema":
	default:
		return nil, errSupported(p+".format.type", typ, []string{"text", "json_object", "json_schema"})
	}
	name, err := requiredString(p+".format.name", fm.Get("name"))
	if err != nil {
		return nil, err
	}
	rf := &llm.ResponseFormat{Type: typ, Name: name}
	s := fm.Get("schema")
	switch {
	case isNull(s):
		return nil, errMissing(p + ".format.schema")
	case !s.IsObject():
		return nil, errType(p+".format.schema", "an object", s)
	}
	rf.Schema = json.RawMessage(s.Raw)
	if st := fm.Get("strict"); !isNull(st) {
		if !st.IsBool() {
			return nil, errType(p+".format.strict", "a boolean", st)
		}
		b := st.Bool()
		rf.Strict = &b
	}
	return rf, nil
}

// ---- input items ----

type inputDecoder struct {
	req      *llm.Request
	calls    map[string]*llm.ToolCall // call_id → call
	callAt   []string                 // call_ids in order, with their params
	callP    map[string]string
	answered map[string]bool
	sigs     map[string]string // call_id → thought signature from an xjp reasoning item
}

func (d *inputDecoder) decode(input gjson.Result) *llm.Error {
	d.callP = map[string]string{}
	var err *llm.Error
	i := 0
	input.ForEach(func(_, it gjson.Result) bool {
		err = d.item("input["+strconv.Itoa(i)+"]", it)
		i++
		return err == nil
	})
	if err != nil {
		return err
	}
	for _, id := range d.callAt {
		if !d.answered[id] {
			return &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: d.callP[id], Code: "invalid_value",
				Message: "no tool output found for function call " + truncate(id, 64) + ": every call in input needs its output (an item with the same call_id)"}
		}
	}
	for id, sig := range d.sigs {
		if tc := d.calls[id]; tc != nil && tc.Signature == "" {
			tc.Signature = sig
		}
	}
	return nil
}

// add appends a part to the conversation: to the last message when it has
// the same role and that role collects items (assistant, tool), else as a
// new message.
func (d *inputDecoder) add(role llm.Role, parts ...llm.Part) {
	msgs := d.req.Messages
	if n := len(msgs); n > 0 && msgs[n-1].Role == role && (role == llm.RoleAssistant || role == llm.RoleTool) {
		msgs[n-1].Content = append(msgs[n-1].Content, parts...)
		return
	}
	d.req.Messages = append(msgs, llm.Message{Role: role, Content: parts})
}

func (d *inputDecoder) item(p string, it gjson.Result) *llm.Error {
	if !it.IsObject() {
		return errType(p, "an object", it)
	}
	typ := it.Get("type")
	switch {
	case isNull(typ):
		if !it.Get("role").Exists() {
			return errMissing(p + ".type")
		}
		return d.message(p, it)
	case typ.Type != gjson.String:
		return errType(p+".type", "a string", typ)
	}
	switch typ.Str {
	case "message":
		return d.message(p, it)
	case "function_call", "custom_tool_call":
		return d.call(p, typ.Str, it)
	case "function_call_output", "custom_tool_call_output":
		return d.output(p, it)
	case "reasoning":
		return d.reasoning(p, it)
	case "item_reference":
		return unsupported(p+".type", "item references are not supported: xjp does not store items; send the items themselves in input")
	}
	return &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: p + ".type", Code: "unsupported_value",
		Message: "input item type '" + truncate(typ.Str, 64) + "' is not supported by xjp: supported types are 'message', 'function_call', 'function_call_output', 'custom_tool_call', 'custom_tool_call_output' and 'reasoning'"}
}

func (d *inputDecoder) message(p string, it gjson.Result) *llm.Error {
	role, err := requiredString(p+".role", it.Get("role"))
	if err != nil {
		return err
	}
	roles := []string{"user", "assistant", "system", "developer"}
	if !oneOf(role, roles) {
		return errSupported(p+".role", role, roles)
	}
	c := it.Get("content")
	var parts []llm.Part
	switch {
	case isNull(c):
		return errMissing(p + ".content")
	case c.Type == gjson.String:
		parts = textParts(c.Str)
	case c.IsArray():
		j := 0
		c.ForEach(func(_, part gjson.Result) bool {
			var pt llm.Part
			var keep bool
			pt, keep, err = responsesPart(p+".content["+strconv.Itoa(j)+"]", part, llm.Role(role))
			if keep {
				parts = append(parts, pt)
			}
			j++
			return err == nil
		})
		if err != nil {
			return err
		}
	default:
		return errType(p+".content", "a string or an array of content parts", c)
	}
	if role == "assistant" {
		d.add(llm.RoleAssistant, parts...)
		return nil
	}
	d.req.Messages = append(d.req.Messages, llm.Message{Role: llm.Role(role), Content: parts})
	return nil
}

// responsesPart decodes one content part of a message or tool output. keep
// is false for parts that carry nothing (an empty text).
func responsesPart(p string, part gjson.Result, role llm.Role) (pt llm.Part, keep bool, err *llm.Error) {
	typ, err := toolType(p, part)
	if err != nil {
		return pt, false, err
	}
	var allowed []string
	switch role {
	case llm.RoleUser, llm.RoleTool:
		allowed = []string{"input_text", "input_image", "input_file"}
	case llm.RoleAssistant:
		allowed = []string{"output_text", "refusal", "input_text"}
	default: // system, developer
		allowed = []string{"input_text"}
	}
	if !oneOf(typ, allowed) {
		return pt, false, errSupported(p+".type", typ, allowed)
	}
	switch typ {
	case "input_text", "output_text":
		text, err := requiredString(p+".text", part.Get("text"))
		return llm.TextPart(text), text != "", err
	case "refusal":
		text, err := requiredString(p+".refusal", part.Get("refusal"))
		return llm.TextPart(text), text != "", err
	case "input_image":
		return responsesImage(p, part)
	default: // input_file
		return responsesFile(p, part)
	}
}

func responsesImage(p string, part gjson.Result) (llm.Part, bool, *llm.Error) {
	native := llm.Part{Type: llm.PartNative, Dialect: llm.DialectResponses, Native: json.RawMessage(part.Raw)}
	u, id := part.Get("image_url"), part.Get("file_id")
	if !isNull(id) && id.Type != gjson.String {
		return llm.Part{}, false, errType(p+".file_id", "a string", id)
	}
	if isNull(u) {
		if id.Str != "" {
			return native, true, nil // an uploaded file: only openai knows it
		}
		return llm.Part{}, false, errMissing(p + ".image_url")
	}
	media, err := decodeImageURL(p+".image_url", u)
	if err != nil {
		return llm.Part{}, false, err
	}
	if dt := part.Get("detail"); !isNull(dt) {
		if dt.Type != gjson.String {
			return llm.Part{}, false, errType(p+".detail", "a string", dt)
		}
		if levels := []string{"low", "high", "auto", "original"}; !oneOf(dt.Str, levels) {
			return llm.Part{}, false, errSupported(p+".detail", dt.Str, levels)
		}
		media.Detail = dt.Str
	}
	return llm.Part{Type: llm.PartImage, Media: media}, true, nil
}

// fileMediaTypes guesses a document's media type from its file name when
// file_data is bare base64.
var fileMediaTypes = map[string]string{
	".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown", ".csv": "text/csv",
	".json": "application/json", ".html": "text/html", ".png": "image/png", ".jpg": "image/jpeg",
	".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
}

func responsesFile(p string, part gjson.Result) (llm.Part, bool, *llm.Error) {
	for _, k := range [...]string{"file_data", "file_id", "file_url", "filename"} {
		if v := part.Get(k); !isNull(v) && v.Type != gjson.String {
			return llm.Part{}, false, errType(p+"."+k, "a string", v)
		}
	}
	data, id, url, name := part.Get("file_data").Str, part.Get("file_id").Str, part.Get("file_url").Str, part.Get("filename").Str
	native := llm.Part{Type: llm.PartNative, Dialect: llm.DialectResponses, Native: json.RawMessage(part.Raw)}
	switch {
	case id != "":
		return native, true, nil // an uploaded file: only openai knows it
	case data != "":
		if mt, b64, ok := llm.ParseDataURL(data); ok {
			return llm.Part{Type: llm.PartFile, Media: &llm.Media{MediaType: mt, Data: b64, Name: name}}, true, nil
		}
		if mt := fileMediaTypes[strings.ToLower(path.Ext(name))]; mt != "" && !strings.HasPrefix(data, "data:") {
			return llm.Part{Type: llm.PartFile, Media: &llm.Media{MediaType: mt, Data: data, Name: name}}, true, nil
		}
		return native, true, nil
	case url != "":
		if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
			return llm.Part{}, false, errValue(p+".file_url", "invalid file url: expected an http(s) url")
		}
		return llm.Part{Type: llm.PartFile, Media: &llm.Media{URL: url, Name: name, MediaType: fileMediaTypes[strings.ToLower(path.Ext(urlPath(url)))]}}, true, nil
	}
	return llm.Part{}, false, errMissing(p + ".file_data")
}

func urlPath(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

func (d *inputDecoder) call(p, typ string, it gjson.Result) *llm.Error {
	id, err := requiredString(p+".call_id", it.Get("call_id"))
	if err != nil {
		return err
	}
	if id == "" {
		return errValue(p+".call_id", "invalid '%s.call_id': empty string. expected a string with minimum length 1", p)
	}
	if _, dup := d.calls[id]; dup {
		return errValue(p+".call_id", "invalid '%s.call_id': the call_id '%s' is used by an earlier call", p, truncate(id, 64))
	}
	name, err := requiredString(p+".name", it.Get("name"))
	if err != nil {
		return err
	}
	if ns := it.Get("namespace"); !isNull(ns) {
		if ns.Type != gjson.String {
			return errType(p+".namespace", "a string", ns)
		}
		name = namespacedName(ns.Str, name)
	}
	for _, k := range [...]string{"id", "status"} {
		if v := it.Get(k); !isNull(v) && v.Type != gjson.String {
			return errType(p+"."+k, "a string", v)
		}
	}
	tc := &llm.ToolCall{ID: id, Name: name}
	if typ == "custom_tool_call" {
		input, err := requiredString(p+".input", it.Get("input"))
		if err != nil {
			return err
		}
		tc.Type, tc.Arguments = "custom", input
	} else {
		args, err := requiredString(p+".arguments", it.Get("arguments"))
		if err != nil {
			return err
		}
		tc.Arguments = args
	}
	d.calls[id] = tc
	d.callAt = append(d.callAt, id)
	d.callP[id] = p + ".call_id"
	d.add(llm.RoleAssistant, llm.Part{Type: llm.PartToolCall, ToolCall: tc})
	return nil
}

func (d *inputDecoder) output(p string, it gjson.Result) *llm.Error {
	id, err := requiredString(p+".call_id", it.Get("call_id"))
	if err != nil {
		return err
	}
	tc, ok := d.calls[id]
	if !ok {
		return &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: p + ".call_id", Code: "invalid_value",
			Message: "no tool call found for function call output with call_id " + truncate(id, 64) + ": the call must come earlier in input"}
	}
	if d.answered[id] {
		return errValue(p+".call_id", "invalid '%s.call_id': the call %s already has an output", p, truncate(id, 64))
	}
	d.answered[id] = true
	out := it.Get("output")
	var parts []llm.Part
	switch {
	case isNull(out):
		return errMissing(p + ".output")
	case out.Type == gjson.String:
		parts = textParts(out.Str)
	case out.IsArray():
		j := 0
		out.ForEach(func(_, part gjson.Result) bool {
			var pt llm.Part
			var keep bool
			pt, keep, err = responsesPart(p+".output["+strconv.Itoa(j)+"]", part, llm.RoleTool)
			if keep {
				parts = append(parts, pt)
			}
			j++
			return err == nil
		})
		if err != nil {
			return err
		}
	default:
		return errType(p+".output", "a string or an array of content parts", out)
	}
	d.add(llm.RoleTool, llm.Part{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: id, Name: tc.Name, Content: parts}})
	return nil
}

func (d *inputDecoder) reasoning(p string, it gjson.Result) *llm.Error {
	enc := it.Get("encrypted_content")
	if !isNull(enc) && enc.Type != gjson.String {
		return errType(p+".encrypted_content", "a string", enc)
	}
	if x, ok := decodeXJPReasoning(enc.Str); ok {
		switch x.Type {
		case "thinking":
			d.add(llm.RoleAssistant, llm.Part{Type: llm.PartThinking, Text: x.Thinking, Signature: x.Signature})
		case "redacted_thinking":
			d.add(llm.RoleAssistant, llm.Part{Type: llm.PartRedactedThinking, Data: x.Data})
		case "tool_call_signature":
			d.sigs[x.CallID] = x.Signature
		}
		return nil
	}
	// Reasoning xjp did not mint: its text, unsigned, with the item kept.
	var texts []string
	for _, k := range [...]string{"content", "summary"} {
		list := it.Get(k)
		if isNull(list) {
			continue
		}
		if !list.IsArray() {
			return errType(p+"."+k, "an array", list)
		}
		var err *llm.Error
		j := 0
		list.ForEach(func(_, s gjson.Result) bool {
			if !s.IsObject() {
				err = errType(p+"."+k+"["+strconv.Itoa(j)+"]", "an object", s)
				return false
			}
			if t := s.Get("text"); t.Type == gjson.String && t.Str != "" {
				texts = append(texts, t.Str)
			}
			j++
			return true
		})
		if err != nil {
			return err
		}
		if len(texts) > 0 {
			break // full reasoning text wins over its summary
		}
	}
	if len(texts) == 0 && enc.Str == "" {
		return nil
	}
	d.add(llm.RoleAssistant, llm.Part{Type: llm.PartThinking, Text: strings.Join(texts, "\n\n"),
		Native: json.RawMessage(it.Raw), Dialect: llm.DialectResponses})
	return nil
}
