package openai

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/rickyjim626/xjp/internal/llm"
)

var reasoningEfforts = []string{"none", "minimal", "low", "medium", "high", "xhigh", "max"}

// DecodeChatRequest decodes and validates a Chat Completions request body.
//
// Errors are *llm.Error of kind caller_invalid with status 400, Param set to
// the offending field path ("messages[2].content") and a message in the
// style of OpenAI's own validation errors.
//
// Top-level members that have no neutral field (logprobs, penalties,
// metadata, store, service_tier, prediction, modalities, audio,
// web_search_options, verbosity, vendor extensions…) are kept verbatim in
// Native.Fields with Native.Dialect = openai, so that an OpenAI-compatible
// upstream receives them unchanged. When the client named its limit
// max_completion_tokens, that member is kept there too (with MaxTokens set):
// the upstream encoder then sends the limit under the same name.
//
// Assistant history may carry reasoning as reasoning_details (OpenRouter's
// entries, with signatures), reasoning_content or reasoning; they become
// thinking and redacted-thinking parts so that a client can replay them.
// Unknown user content part types are kept as llm.PartNative.
func DecodeChatRequest(body []byte) (*llm.Request, error) {
	if !json.Valid(body) {
		return nil, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest,
			Message: "we could not parse the JSON body of your request: the body is not valid JSON"}
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, errType("", "an object", root)
	}

	var f struct {
		model, messages, tools, toolChoice, parallel, responseFormat gjson.Result
		maxTokens, maxCompletion, temperature, topP, topK, stop, n   gjson.Result
		seed, user, effort, stream, streamOptions                    gjson.Result
	}
	req := &llm.Request{Native: &llm.Native{Dialect: llm.DialectOpenAI}}
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			f.model = v
		case "messages":
			f.messages = v
		case "tools":
			f.tools = v
		case "tool_choice":
			f.toolChoice = v
		case "parallel_tool_calls":
			f.parallel = v
		case "response_format":
			f.responseFormat = v
		case "max_tokens":
			f.maxTokens = v
		case "max_completion_tokens":
			f.maxCompletion = v
		case "temperature":
			f.temperature = v
		case "top_p":
			f.topP = v
		case "top_k":
			f.topK = v
		case "stop":
			f.stop = v
		case "n":
			f.n = v
		case "seed":
			f.seed = v
		case "user":
			f.user = v
		case "reasoning_effort":
			f.effort = v
		case "stream":
			f.stream = v
		case "stream_options":
			f.streamOptions = v
		default:
			setNative(req, k.Str, v.Raw)
		}
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

	// messages
	switch {
	case !f.messages.Exists() || f.messages.Type == gjson.Null:
		return nil, errMissing("messages")
	case !f.messages.IsArray():
		return nil, errType("messages", "an array", f.messages)
	}
	var err *llm.Error
	i := 0
	f.messages.ForEach(func(_, m gjson.Result) bool {
		var msg llm.Message
		msg, err = decodeMessage(i, m)
		if err != nil {
			return false
		}
		req.Messages = append(req.Messages, msg)
		i++
		return true
	})
	if err != nil {
		return nil, err
	}
	if i == 0 {
		return nil, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: "messages", Code: "empty_array",
			Message: "invalid 'messages': empty array. expected an array with minimum length 1, but got an empty array instead"}
	}

	// tools and tool choice
	if !isNull(f.tools) {
		if !f.tools.IsArray() {
			return nil, errType("tools", "an array", f.tools)
		}
		j := 0
		f.tools.ForEach(func(_, t gjson.Result) bool {
			var tool llm.Tool
			tool, err = decodeTool(j, t)
			if err != nil {
				return false
			}
			req.Tools = append(req.Tools, tool)
			j++
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	if !isNull(f.toolChoice) {
		tc, native, err := decodeToolChoice(f.toolChoice)
		if err != nil {
			return nil, err
		}
		if native {
			setNative(req, "tool_choice", f.toolChoice.Raw)
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
	if !isNull(f.responseFormat) {
		if req.ResponseFormat, err = decodeResponseFormat(f.responseFormat); err != nil {
			return nil, err
		}
	}

	// limits and sampling
	if !isNull(f.maxTokens) {
		n, err := positiveInt("max_tokens", f.maxTokens)
		if err != nil {
			return nil, err
		}
		req.MaxTokens = n
	}
	if !isNull(f.maxCompletion) {
		n, err := positiveInt("max_completion_tokens", f.maxCompletion)
		if err != nil {
			return nil, err
		}
		req.MaxTokens = n
		setNative(req, "max_completion_tokens", f.maxCompletion.Raw)
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
	if !isNull(f.topK) {
		n, err := positiveInt("top_k", f.topK)
		if err != nil {
			return nil, err
		}
		req.TopK = &n
	}
	if !isNull(f.stop) {
		if req.Stop, err = decodeStop(f.stop); err != nil {
			return nil, err
		}
	}
	if !isNull(f.n) {
		n, ok := intOf(f.n)
		switch {
		case !ok:
			return nil, errType("n", "an integer", f.n)
		case n < 1:
			return nil, errBelowMin("n", 1, f.n.Raw)
		case n > 1:
			return nil, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: "n", Code: "unsupported_value",
				Message: "n > 1 is not supported by xjp"}
		}
	}
	if !isNull(f.seed) {
		n, ok := intOf(f.seed)
		if !ok {
			return nil, errType("seed", "an integer", f.seed)
		}
		req.Seed = &n
	}
	if !isNull(f.user) {
		if f.user.Type != gjson.String {
			return nil, errType("user", "a string", f.user)
		}
		req.User = f.user.Str
	}
	if !isNull(f.effort) {
		if f.effort.Type != gjson.String {
			return nil, errType("reasoning_effort", "a string", f.effort)
		}
		if !oneOf(f.effort.Str, reasoningEfforts) {
			return nil, errSupported("reasoning_effort", f.effort.Str, reasoningEfforts)
		}
		req.Reasoning = &llm.Reasoning{Effort: f.effort.Str, Disabled: f.effort.Str == "none"}
	}

	// streaming
	if !isNull(f.stream) {
		if !f.stream.IsBool() {
			return nil, errType("stream", "a boolean", f.stream)
		}
		req.Stream = f.stream.Bool()
	}
	if !isNull(f.streamOptions) {
		if !f.streamOptions.IsObject() {
			return nil, errType("stream_options", "an object", f.streamOptions)
		}
		if !req.Stream {
			return nil, errValue("stream_options", "the 'stream_options' parameter is only allowed when 'stream' is enabled")
		}
		if iu := f.streamOptions.Get("include_usage"); !isNull(iu) {
			if !iu.IsBool() {
				return nil, errType("stream_options.include_usage", "a boolean", iu)
			}
			req.IncludeUsage = iu.Bool()
		}
	}
	return req, nil
}

func setNative(req *llm.Request, name, raw string) {
	if req.Native.Fields == nil {
		req.Native.Fields = make(map[string]json.RawMessage)
	}
	req.Native.Fields[name] = json.RawMessage(raw)
}

// decodeMessage decodes messages[i].
func decodeMessage(i int, m gjson.Result) (llm.Message, *llm.Error) {
	p := "messages[" + strconv.Itoa(i) + "]"
	if !m.IsObject() {
		return llm.Message{}, errType(p, "an object", m)
	}
	role := m.Get("role")
	switch {
	case !role.Exists() || role.Type == gjson.Null:
		return llm.Message{}, errMissing(p + ".role")
	case role.Type != gjson.String:
		return llm.Message{}, errType(p+".role", "a string", role)
	}
	var msg llm.Message
	if name := m.Get("name"); !isNull(name) {
		if name.Type != gjson.String {
			return msg, errType(p+".name", "a string", name)
		}
		msg.Name = name.Str
	}
	content := m.Get("content")
	var err *llm.Error
	switch role.Str {
	case "system", "developer", "user":
		msg.Role = llm.Role(role.Str)
		if isNull(content) {
			return msg, errMissing(p + ".content")
		}
		msg.Content, err = decodeContent(p+".content", content, msg.Role)
		return msg, err
	case "assistant":
		msg.Role = llm.RoleAssistant
		return decodeAssistant(p, m, msg)
	case "tool":
		msg.Role = llm.RoleTool
		id := m.Get("tool_call_id")
		switch {
		case !id.Exists() || id.Type == gjson.Null:
			return msg, errMissing(p + ".tool_call_id")
		case id.Type != gjson.String:
			return msg, errType(p+".tool_call_id", "a string", id)
		}
		var parts []llm.Part
		if !isNull(content) {
			if parts, err = decodeContent(p+".content", content, llm.RoleTool); err != nil {
				return msg, err
			}
		}
		msg.Content = []llm.Part{{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: id.Str, Content: parts}}}
		return msg, nil
	case "function":
		return msg, errValue(p+".role", "the legacy 'function' role is not supported by xjp: send the result as a 'tool' message with the 'tool_call_id' of the assistant's tool call")
	}
	return msg, errSupported(p+".role", role.Str, []string{"system", "developer", "user", "assistant", "tool"})
}

func decodeAssistant(p string, m gjson.Result, msg llm.Message) (llm.Message, *llm.Error) {
	if fc := m.Get("function_call"); !isNull(fc) {
		return msg, errValue(p+".function_call", "the legacy 'function_call' is not supported by xjp: use 'tool_calls'")
	}
	// Tool calls first: reasoning_details may refer to them by id.
	var calls []llm.Part
	if tcs := m.Get("tool_calls"); !isNull(tcs) {
		if !tcs.IsArray() {
			return msg, errType(p+".tool_calls", "an array", tcs)
		}
		var err *llm.Error
		j := 0
		tcs.ForEach(func(_, tc gjson.Result) bool {
			var call *llm.ToolCall
			call, err = decodeToolCall(p+".tool_calls["+strconv.Itoa(j)+"]", tc)
			if err != nil {
				return false
			}
			calls = append(calls, llm.Part{Type: llm.PartToolCall, ToolCall: call})
			j++
			return true
		})
		if err != nil {
			return msg, err
		}
	}
	thinking, err := decodeReasoning(p, m, calls)
	if err != nil {
		return msg, err
	}
	msg.Content = append(msg.Content, thinking...)
	if content := m.Get("content"); !isNull(content) {
		parts, err := decodeContent(p+".content", content, llm.RoleAssistant)
		if err != nil {
			return msg, err
		}
		msg.Content = append(msg.Content, parts...)
	}
	if r := m.Get("refusal"); r.Type == gjson.String && r.Str != "" {
		msg.Content = append(msg.Content, llm.TextPart(r.Str))
	}
	msg.Content = append(msg.Content, calls...)
	return msg, nil
}

// decodeReasoning reads an assistant message's reasoning: reasoning_details
// when present (it carries signatures), else reasoning_content, else
// reasoning. Encrypted entries whose id names one of the message's tool
// calls are Gemini thought signatures and go on that call.
func decodeReasoning(p string, m gjson.Result, calls []llm.Part) ([]llm.Part, *llm.Error) {
	if rd := m.Get("reasoning_details"); !isNull(rd) {
		if !rd.IsArray() {
			return nil, errType(p+".reasoning_details", "an array", rd)
		}
		return reasoningParts(rd, func(id, data string) bool {
			for _, c := range calls {
				if c.ToolCall.ID == id {
					c.ToolCall.Signature = data
					return true
				}
			}
			return false
		}), nil
	}
	for _, name := range [...]string{"reasoning_content", "reasoning"} {
		r := m.Get(name)
		if isNull(r) {
			continue
		}
		if r.Type != gjson.String {
			return nil, errType(p+"."+name, "a string", r)
		}
		if r.Str != "" {
			return []llm.Part{{Type: llm.PartThinking, Text: r.Str}}, nil
		}
		return nil, nil
	}
	return nil, nil
}

// reasoningParts folds OpenRouter reasoning_details entries into thinking
// parts. Consecutive text (or summary) entries with the same index are one
// block, closed by a signature; a client that replays streamed entries one
// by one gets the same parts as one that merged them. toolSig is offered
// encrypted entries that carry an id and reports whether it took them.
func reasoningParts(rd gjson.Result, toolSig func(id, data string) bool) []llm.Part {
	var parts []llm.Part
	lastIdx, lastType := "", ""
	rd.ForEach(func(_, e gjson.Result) bool {
		if !e.IsObject() {
			return true
		}
		typ := e.Get("type").Str
		idx := e.Get("index").Raw
		switch typ {
		case "reasoning.text", "reasoning.summary":
			text := e.Get("text").Str
			if typ == "reasoning.summary" {
				text = e.Get("summary").Str
			}
			sig := e.Get("signature").Str
			if n := len(parts); n > 0 && parts[n-1].Type == llm.PartThinking && parts[n-1].Signature == "" &&
				lastType == typ && lastIdx == idx {
				parts[n-1].Text += text
				parts[n-1].Signature = sig
			} else if text != "" || sig != "" {
				parts = append(parts, llm.Part{Type: llm.PartThinking, Text: text, Signature: sig})
			}
			lastIdx, lastType = idx, typ
		case "reasoning.encrypted":
			data := e.Get("data").Str
			if id := e.Get("id").Str; id != "" && toolSig != nil && toolSig(id, data) {
				return true
			}
			if data != "" {
				parts = append(parts, llm.Part{Type: llm.PartRedactedThinking, Data: data})
			}
			lastIdx, lastType = "", ""
		}
		return true
	})
	return parts
}

func decodeToolCall(p string, tc gjson.Result) (*llm.ToolCall, *llm.Error) {
	if !tc.IsObject() {
		return nil, errType(p, "an object", tc)
	}
	id := tc.Get("id")
	switch {
	case !id.Exists() || id.Type == gjson.Null:
		return nil, errMissing(p + ".id")
	case id.Type != gjson.String:
		return nil, errType(p+".id", "a string", id)
	}
	typ := tc.Get("type")
	if !isNull(typ) && typ.Type != gjson.String {
		return nil, errType(p+".type", "a string", typ)
	}
	switch typ.Str {
	case "", "function":
		fn := tc.Get("function")
		if isNull(fn) {
			return nil, errMissing(p + ".function")
		}
		if !fn.IsObject() {
			return nil, errType(p+".function", "an object", fn)
		}
		name, err := requiredString(p+".function.name", fn.Get("name"))
		if err != nil {
			return nil, err
		}
		args := fn.Get("arguments")
		if !isNull(args) && args.Type != gjson.String {
			return nil, errType(p+".function.arguments", "a string", args)
		}
		return &llm.ToolCall{ID: id.Str, Name: name, Arguments: args.Str}, nil
	case "custom":
		c := tc.Get("custom")
		if isNull(c) {
			return nil, errMissing(p + ".custom")
		}
		if !c.IsObject() {
			return nil, errType(p+".custom", "an object", c)
		}
		name, err := requiredString(p+".custom.name", c.Get("name"))
		if err != nil {
			return nil, err
		}
		input := c.Get("input")
		if !isNull(input) && input.Type != gjson.String {
			return nil, errType(p+".custom.input", "a string", input)
		}
		return &llm.ToolCall{ID: id.Str, Name: name, Arguments: input.Str, Type: "custom"}, nil
	}
	return nil, errSupported(p+".type", typ.Str, []string{"function", "custom"})
}

// decodeContent decodes a message's content: a string or an array of parts.
func decodeContent(p string, c gjson.Result, role llm.Role) ([]llm.Part, *llm.Error) {
	switch {
	case c.Type == gjson.String:
		if c.Str == "" {
			return nil, nil
		}
		return []llm.Part{llm.TextPart(c.Str)}, nil
	case c.IsArray():
	default:
		return nil, errType(p, "a string or an array of content parts", c)
	}
	var parts []llm.Part
	var err *llm.Error
	j := 0
	c.ForEach(func(_, part gjson.Result) bool {
		var pt llm.Part
		var keep bool
		pt, keep, err = decodePart(p+"["+strconv.Itoa(j)+"]", part, role)
		if err != nil {
			return false
		}
		if keep {
			parts = append(parts, pt)
		}
		j++
		return true
	})
	return parts, err
}

// decodePart decodes one content part. keep is false for parts that carry
// nothing (an empty text).
func decodePart(p string, part gjson.Result, role llm.Role) (pt llm.Part, keep bool, err *llm.Error) {
	if !part.IsObject() {
		return pt, false, errType(p, "an object", part)
	}
	typ := part.Get("type")
	switch {
	case !typ.Exists() || typ.Type == gjson.Null:
		return pt, false, errMissing(p + ".type")
	case typ.Type != gjson.String:
		return pt, false, errType(p+".type", "a string", typ)
	}
	allowed := []string{"text"}
	switch role {
	case llm.RoleUser:
		allowed = []string{"text", "image_url", "input_audio", "file"}
	case llm.RoleAssistant:
		allowed = []string{"text", "refusal"}
	}
	if typ.Str != "text" && !oneOf(typ.Str, allowed) {
		if role == llm.RoleUser {
			// A part type xjp does not model (a vendor extension): only a
			// same-dialect upstream can take it.
			return llm.Part{Type: llm.PartNative, Dialect: llm.DialectOpenAI, Native: json.RawMessage(part.Raw)}, true, nil
		}
		return pt, false, errSupported(p+".type", typ.Str, allowed)
	}
	var cc json.RawMessage
	if v := part.Get("cache_control"); v.IsObject() {
		cc = json.RawMessage(v.Raw)
	}
	switch typ.Str {
	case "text":
		text, err := requiredString(p+".text", part.Get("text"))
		if err != nil {
			return pt, false, err
		}
		return llm.Part{Type: llm.PartText, Text: text, CacheControl: cc}, text != "" || cc != nil, nil
	case "refusal":
		text, err := requiredString(p+".refusal", part.Get("refusal"))
		if err != nil {
			return pt, false, err
		}
		return llm.TextPart(text), text != "", nil
	case "image_url":
		media, err := decodeImageURL(p+".image_url", part.Get("image_url"))
		if err != nil {
			return pt, false, err
		}
		return llm.Part{Type: llm.PartImage, Media: media, CacheControl: cc}, true, nil
	case "input_audio":
		a := part.Get("input_audio")
		if isNull(a) {
			return pt, false, errMissing(p + ".input_audio")
		}
		if !a.IsObject() {
			return pt, false, errType(p+".input_audio", "an object", a)
		}
		data, err := requiredString(p+".input_audio.data", a.Get("data"))
		if err != nil {
			return pt, false, err
		}
		format, err := requiredString(p+".input_audio.format", a.Get("format"))
		if err != nil {
			return pt, false, err
		}
		if mt := audioMediaType(format); mt != "" {
			return llm.Part{Type: llm.PartFile, Media: &llm.Media{MediaType: mt, Data: data}}, true, nil
		}
		return llm.Part{Type: llm.PartNative, Dialect: llm.DialectOpenAI, Native: json.RawMessage(part.Raw)}, true, nil
	default: // file
		fl := part.Get("file")
		if isNull(fl) {
			return pt, false, errMissing(p + ".file")
		}
		if !fl.IsObject() {
			return pt, false, errType(p+".file", "an object", fl)
		}
		for _, k := range [...]string{"file_data", "file_id", "filename"} {
			if v := fl.Get(k); !isNull(v) && v.Type != gjson.String {
				return pt, false, errType(p+".file."+k, "a string", v)
			}
		}
		data, id := fl.Get("file_data").Str, fl.Get("file_id").Str
		if data == "" && id == "" {
			return pt, false, errMissing(p + ".file.file_data")
		}
		if mt, b64, ok := llm.ParseDataURL(data); ok && id == "" {
			return llm.Part{Type: llm.PartFile, Media: &llm.Media{MediaType: mt, Data: b64, Name: fl.Get("filename").Str}}, true, nil
		}
		// File ids and non-data-URL payloads only mean something to OpenAI.
		return llm.Part{Type: llm.PartNative, Dialect: llm.DialectOpenAI, Native: json.RawMessage(part.Raw)}, true, nil
	}
}

func decodeImageURL(p string, v gjson.Result) (*llm.Media, *llm.Error) {
	var u, detail gjson.Result
	switch {
	case isNull(v):
		return nil, errMissing(p)
	case v.Type == gjson.String: // lenient: {"image_url": "https://…"}
		u = v
	case v.IsObject():
		u, detail = v.Get("url"), v.Get("detail")
		p += ".url"
	default:
		return nil, errType(p, "an object", v)
	}
	url, err := requiredString(p, u)
	if err != nil {
		return nil, err
	}
	m := &llm.Media{}
	if !isNull(detail) {
		if detail.Type != gjson.String {
			return nil, errType(strings.TrimSuffix(p, ".url")+".detail", "a string", detail)
		}
		m.Detail = detail.Str
	}
	switch {
	case strings.HasPrefix(url, "data:"):
		mt, data, ok := llm.ParseDataURL(url)
		if !ok || data == "" {
			return nil, errValue(p, "invalid image url: a data url must be base64 encoded (data:image/png;base64,…)")
		}
		m.MediaType, m.Data = mt, data
	case strings.HasPrefix(url, "https://"), strings.HasPrefix(url, "http://"):
		m.URL = url
	default:
		return nil, errValue(p, "invalid image url: expected an http(s) url or a base64 data url")
	}
	return m, nil
}

func audioMediaType(format string) string {
	switch format {
	case "wav":
		return "audio/wav"
	case "mp3":
		return "audio/mpeg"
	}
	return ""
}

func audioFormat(mediaType string) string {
	switch mediaType {
	case "audio/wav", "audio/x-wav", "audio/wave":
		return "wav"
	case "audio/mpeg", "audio/mp3":
		return "mp3"
	}
	return ""
}

func decodeTool(j int, t gjson.Result) (llm.Tool, *llm.Error) {
	p := "tools[" + strconv.Itoa(j) + "]"
	if !t.IsObject() {
		return llm.Tool{}, errType(p, "an object", t)
	}
	typ := t.Get("type")
	switch {
	case !typ.Exists() || typ.Type == gjson.Null:
		return llm.Tool{}, errMissing(p + ".type")
	case typ.Type != gjson.String:
		return llm.Tool{}, errType(p+".type", "a string", typ)
	}
	switch typ.Str {
	case "function":
		fn := t.Get("function")
		if isNull(fn) {
			return llm.Tool{}, errMissing(p + ".function")
		}
		if !fn.IsObject() {
			return llm.Tool{}, errType(p+".function", "an object", fn)
		}
		name, err := requiredString(p+".function.name", fn.Get("name"))
		if err != nil {
			return llm.Tool{}, err
		}
		if name == "" {
			return llm.Tool{}, errValue(p+".function.name", "invalid 'tools[%d].function.name': empty string. expected a string with minimum length 1", j)
		}
		tool := llm.Tool{Type: "function", Name: name}
		if d := fn.Get("description"); !isNull(d) {
			if d.Type != gjson.String {
				return llm.Tool{}, errType(p+".function.description", "a string", d)
			}
			tool.Description = d.Str
		}
		if ps := fn.Get("parameters"); !isNull(ps) {
			if !ps.IsObject() {
				return llm.Tool{}, errType(p+".function.parameters", "an object", ps)
			}
			tool.Parameters = json.RawMessage(ps.Raw)
		}
		if s := fn.Get("strict"); !isNull(s) {
			if !s.IsBool() {
				return llm.Tool{}, errType(p+".function.strict", "a boolean", s)
			}
			b := s.Bool()
			tool.Strict = &b
		}
		return tool, nil
	case "custom":
		c := t.Get("custom")
		if isNull(c) {
			return llm.Tool{}, errMissing(p + ".custom")
		}
		if !c.IsObject() {
			return llm.Tool{}, errType(p+".custom", "an object", c)
		}
		name, err := requiredString(p+".custom.name", c.Get("name"))
		if err != nil {
			return llm.Tool{}, err
		}
		tool := llm.Tool{Type: "custom", Name: name, Native: json.RawMessage(t.Raw)}
		if d := c.Get("description"); d.Type == gjson.String {
			tool.Description = d.Str
		}
		return tool, nil
	}
	// A hosted tool of some vendor: only a same-dialect upstream knows it.
	return llm.Tool{Type: typ.Str, Name: t.Get("name").Str, Native: json.RawMessage(t.Raw)}, nil
}

// decodeToolChoice returns the neutral choice, or native=true when the
// choice has no neutral form (allowed_tools) and must travel in Native.
func decodeToolChoice(v gjson.Result) (tc *llm.ToolChoice, native bool, err *llm.Error) {
	const p = "tool_choice"
	modes := []string{"none", "auto", "required"}
	switch {
	case v.Type == gjson.String:
		if !oneOf(v.Str, modes) {
			return nil, false, errSupported(p, v.Str, modes)
		}
		return &llm.ToolChoice{Mode: llm.ToolChoiceMode(v.Str)}, false, nil
	case !v.IsObject():
		return nil, false, errType(p, "a string or an object", v)
	}
	typ := v.Get("type")
	switch {
	case !typ.Exists() || typ.Type == gjson.Null:
		return nil, false, errMissing(p + ".type")
	case typ.Type != gjson.String:
		return nil, false, errType(p+".type", "a string", typ)
	}
	switch typ.Str {
	case "function", "custom":
		obj := v.Get(typ.Str)
		if isNull(obj) {
			return nil, false, errMissing(p + "." + typ.Str)
		}
		if !obj.IsObject() {
			return nil, false, errType(p+"."+typ.Str, "an object", obj)
		}
		name, err := requiredString(p+"."+typ.Str+".name", obj.Get("name"))
		if err != nil {
			return nil, false, err
		}
		return &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: name}, false, nil
	case "allowed_tools":
		return nil, true, nil
	}
	return nil, false, errSupported(p+".type", typ.Str, []string{"function", "custom", "allowed_tools"})
}

func decodeResponseFormat(v gjson.Result) (*llm.ResponseFormat, *llm.Error) {
	const p = "response_format"
	if !v.IsObject() {
		return nil, errType(p, "an object", v)
	}
	typ, err := requiredString(p+".type", v.Get("type"))
	if err != nil {
		return nil, err
	}
	switch typ {
	case "text", "json_object":
		return &llm.ResponseFormat{Type: typ}, nil
	case "json_schema":
	default:
		return nil, errSupported(p+".type", typ, []string{"text", "json_object", "json_schema"})
	}
	js := v.Get("json_schema")
	if isNull(js) {
		return nil, errMissing(p + ".json_schema")
	}
	if !js.IsObject() {
		return nil, errType(p+".json_schema", "an object", js)
	}
	name, err := requiredString(p+".json_schema.name", js.Get("name"))
	if err != nil {
		return nil, err
	}
	rf := &llm.ResponseFormat{Type: typ, Name: name}
	if s := js.Get("schema"); !isNull(s) {
		if !s.IsObject() {
			return nil, errType(p+".json_schema.schema", "an object", s)
		}
		rf.Schema = json.RawMessage(s.Raw)
	}
	if s := js.Get("strict"); !isNull(s) {
		if !s.IsBool() {
			return nil, errType(p+".json_schema.strict", "a boolean", s)
		}
		b := s.Bool()
		rf.Strict = &b
	}
	return rf, nil
}

func decodeStop(v gjson.Result) ([]string, *llm.Error) {
	if v.Type == gjson.String {
		if v.Str == "" {
			return nil, nil
		}
		return []string{v.Str}, nil
	}
	if !v.IsArray() {
		return nil, errType("stop", "a string or an array of strings", v)
	}
	var out []string
	var err *llm.Error
	n := 0
	v.ForEach(func(_, s gjson.Result) bool {
		if s.Type != gjson.String {
			err = errType("stop["+strconv.Itoa(n)+"]", "a string", s)
			return false
		}
		out = append(out, s.Str)
		n++
		return true
	})
	if err != nil {
		return nil, err
	}
	if n > 4 {
		return nil, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: "stop", Code: "array_above_max_length",
			Message: fmt.Sprintf("invalid 'stop': array too long. expected an array with maximum length 4, but got an array with length %d instead", n)}
	}
	return out, nil
}

// ---- small helpers ----

func isNull(v gjson.Result) bool { return v.Type == gjson.Null }

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}

// intOf returns v as an integer when it is a JSON number without fraction
// or exponent.
func intOf(v gjson.Result) (int64, bool) {
	if v.Type != gjson.Number {
		return 0, false
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	if errors.Is(err, strconv.ErrRange) { // an integer, just a huge one
		return n, true
	}
	return n, err == nil
}

func positiveInt(param string, v gjson.Result) (int, *llm.Error) {
	n, ok := intOf(v)
	if !ok {
		return 0, errType(param, "an integer", v)
	}
	if n < 1 {
		return 0, errBelowMin(param, 1, v.Raw)
	}
	if n > 1<<31-1 {
		n = 1<<31 - 1
	}
	return int(n), nil
}

func boundedFloat(param string, v gjson.Result, lo, hi float64) (float64, *llm.Error) {
	if v.Type != gjson.Number {
		return 0, errType(param, "a number", v)
	}
	switch f := v.Num; {
	case f < lo:
		return 0, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: param, Code: "decimal_below_min_value",
			Message: fmt.Sprintf("invalid '%s': decimal below minimum value. expected a value >= %g, but got %s instead", param, lo, v.Raw)}
	case f > hi:
		return 0, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: param, Code: "decimal_above_max_value",
			Message: fmt.Sprintf("invalid '%s': decimal above maximum value. expected a value <= %g, but got %s instead", param, hi, v.Raw)}
	default:
		return f, nil
	}
}

func requiredString(param string, v gjson.Result) (string, *llm.Error) {
	switch {
	case !v.Exists() || v.Type == gjson.Null:
		return "", errMissing(param)
	case v.Type != gjson.String:
		return "", errType(param, "a string", v)
	}
	return v.Str, nil
}

func errMissing(param string) *llm.Error {
	return &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: param, Code: "missing_required_parameter",
		Message: "missing required parameter: '" + param + "'"}
}

func errType(param, want string, got gjson.Result) *llm.Error {
	e := &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: param, Code: "invalid_type"}
	if param == "" {
		e.Message = "invalid request body: expected " + want + ", but got " + jsonTypeName(got) + " instead"
	} else {
		e.Message = "invalid type for '" + param + "': expected " + want + ", but got " + jsonTypeName(got) + " instead"
	}
	return e
}

func errValue(param, format string, args ...any) *llm.Error {
	return &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: param, Code: "invalid_value",
		Message: fmt.Sprintf(format, args...)}
}

func errBelowMin(param string, min int, got string) *llm.Error {
	return &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Param: param, Code: "integer_below_min_value",
		Message: fmt.Sprintf("invalid '%s': integer below minimum value. expected a value >= %d, but got %s instead", param, min, got)}
}

func errSupported(param, got string, supported []string) *llm.Error {
	var b strings.Builder
	for i, s := range supported {
		switch {
		case i == 0:
		case i == len(supported)-1:
			b.WriteString(" and ")
		default:
			b.WriteString(", ")
		}
		b.WriteString("'" + s + "'")
	}
	return errValue(param, "invalid value for '%s': '%s'. supported values are: %s", param, truncate(got, 64), b.String())
}

func jsonTypeName(v gjson.Result) string {
	switch v.Type {
	case gjson.Null:
		return "null"
	case gjson.False, gjson.True:
		return "a boolean"
	case gjson.String:
		return "a string"
	case gjson.Number:
		if strings.ContainsAny(v.Raw, ".eE") {
			return "a decimal"
		}
		return "an integer"
	}
	if v.IsArray() {
		return "an array"
	}
	return "an object"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
