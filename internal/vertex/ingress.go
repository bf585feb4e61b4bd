package vertex

// The Gemini-native ingress face of the dialect (POST
// /v1beta/models/{model}:generateContent, :streamGenerateContent and
// :countTokens, what @google/genai and gemini-cli speak):
// DecodeGenerateContentRequest, DecodeCountTokensRequest,
// EncodeGenerateContentResponse, GenerateContentStreamEncoder,
// EncodeCountTokensResponse and EncodeGoogleError.
//
// Design decisions:
//
//   - Field names. Google's REST API takes the proto JSON names (camelCase)
//     and the original proto names (snake_case); so does the decoder, for
//     every member it models. Members it does not model are kept verbatim in
//     Native.Fields (Dialect gemini) under their camelCase name, so that a
//     Gemini upstream receives them (generationConfig and toolConfig are
//     kept whole too, with camelCase keys, and merged under what the
//     upstream encoder computes).
//   - Tool-call ids. A functionCall that carries an id keeps it as
//     llm.ToolCall.ID; one without gets an id minted with MintToolCallID,
//     seeded by its position, so the same history always yields the same ids
//     (prompt caches upstream stay warm). A functionResponse is paired with a
//     call of the model turn right before it: by id when it has one, else the
//     first call not yet answered with the same name, in order. A response
//     that answers no call is a 400, as on Gemini. The encoders put the
//     upstream's call id in functionCall.id, so clients that echo it
//     (@google/genai, gemini-cli) pair exactly.
//   - functionResponse.response is an object; other upstreams need text:
//     {"output": X} becomes X (as text; JSON text when X is not a string),
//     {"error": X} becomes X with IsError, any other object its JSON text.
//   - Thought signatures. A functionCall's thoughtSignature goes to
//     llm.ToolCall.Signature (echoed to Gemini upstreams, ignored by the
//     others); a thought part's to the thinking part's Signature. Signatures
//     of other providers that are not standard base64 (which Google's bytes
//     field and the SDKs require) are sent to the client wrapped as
//     base64("xjp-sig:" + signature) and unwrapped when they come back;
//     redacted thinking travels as a thought part whose signature is
//     base64("xjp-redacted:" + data). A signature on a plain text part has
//     no neutral home and is dropped.
//   - Hosted Gemini tools (googleSearch, codeExecution, urlContext…) are kept
//     as tools of their own type with the tool object in Native: a Gemini
//     upstream receives them, other upstreams' encoders leave them out.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Wrapped signatures (see the design notes above).
const (
	sigWrapPrefix      = "xjp-sig:"
	redactedWrapPrefix = "xjp-redacted:"
)

// DecodeGenerateContentRequest decodes and validates a generateContent or
// streamGenerateContent request body. model is the model of the URL path
// ("gemini-2.5-pro" or "models/gemini-2.5-pro").
//
// contents (roles user and model; "function" is read as user) become
// messages: text, inlineData and fileData parts, functionCall parts of
// model turns as tool calls, functionResponse parts of user turns as a
// tool message before the rest of the turn, thought parts of model turns as
// thinking. systemInstruction becomes a system message first.
// tools.functionDeclarations (parameters in Google's Schema, converted to
// JSON Schema; or parametersJsonSchema verbatim) become function tools;
// toolConfig.functionCallingConfig the tool choice; generationConfig
// maxOutputTokens, temperature, topP, topK, stopSequences, seed,
// responseMimeType with responseSchema or responseJsonSchema and
// thinkingConfig the neutral fields. candidateCount above 1 is refused.
//
// Errors are *llm.Error of kind caller_invalid with status 400 and Param the
// offending field in camelCase ("contents[1].parts[0].functionCall.name").
func DecodeGenerateContentRequest(model string, body []byte) (*llm.Request, error) {
	root, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	req, err := newIngressRequest(model)
	if err != nil {
		return nil, err
	}
	d := &ingressDecoder{req: req}
	if err := d.request(root, ""); err != nil {
		return nil, err
	}
	return req, nil
}

// DecodeCountTokensRequest decodes a countTokens request body: either
// {"contents": […]} or {"generateContentRequest": {…}} (which wins when
// both are present, as on Google's API). The result is the request whose
// prompt is to be counted.
func DecodeCountTokensRequest(model string, body []byte) (*llm.Request, error) {
	root, err := parseObject(body)
	if err != nil {
		return nil, err
	}
	req, err := newIngressRequest(model)
	if err != nil {
		return nil, err
	}
	d := &ingressDecoder{req: req}
	if gcr := member(root, "generateContentRequest"); !isNullish(gcr) {
		if !gcr.IsObject() {
			return nil, typeErr("generateContentRequest", "an object", gcr)
		}
		err = d.request(gcr, "generateContentRequest.")
	} else {
		contents := member(root, "contents")
		if isNullish(contents) {
			return nil, llm.InvalidRequest("contents", "either contents or generateContentRequest must be set")
		}
		err = d.contents(contents, "")
	}
	if err != nil {
		return nil, err
	}
	return req, nil
}

func parseObject(body []byte) (gjson.Result, error) {
	if !json.Valid(body) {
		return gjson.Result{}, llm.InvalidRequest("", "invalid JSON payload received: the body is not valid JSON")
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return gjson.Result{}, typeErr("", "an object", root)
	}
	return root, nil
}

func newIngressRequest(model string) (*llm.Request, error) {
	m := strings.TrimPrefix(strings.TrimSpace(model), "models/")
	if m == "" {
		return nil, llm.InvalidRequest("model", "the model name in the url is empty")
	}
	return &llm.Request{Model: m, Native: &llm.Native{Dialect: llm.DialectGemini}}, nil
}

// ---- field access: camelCase or snake_case ----

// snakeCase returns the proto field name of a JSON name: maxOutputTokens →
// max_output_tokens.
func snakeCase(camel string) string {
	var b strings.Builder
	for i := 0; i < len(camel); i++ {
		c := camel[i]
		if c >= 'A' && c <= 'Z' {
			b.WriteByte('_')
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

// camelCase returns the JSON name of a proto field name: max_output_tokens
// → maxOutputTokens. Names without underscores are unchanged.
func camelCase(name string) string {
	if !strings.Contains(name, "_") || strings.HasPrefix(name, "_") {
		return name
	}
	var b strings.Builder
	up := false
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			up = true
			continue
		case up && c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		up = false
		b.WriteByte(c)
	}
	return b.String()
}

// member returns obj's member named camel or its snake_case form.
func member(obj gjson.Result, camel string) gjson.Result {
	if !obj.IsObject() {
		return gjson.Result{}
	}
	var found gjson.Result
	snake := snakeCase(camel)
	obj.ForEach(func(k, v gjson.Result) bool {
		if k.Str == camel || k.Str == snake {
			found = v
			return false
		}
		return true
	})
	return found
}

func isNullish(v gjson.Result) bool { return !v.Exists() || v.Type == gjson.Null }

// camelKeys returns raw JSON with object keys in camelCase, recursively,
// except inside the members named in opaque (user data: schemas, args).
func camelKeys(raw string, opaque map[string]bool) json.RawMessage {
	var v any
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return json.RawMessage(raw)
	}
	b, err := marshal(camelValue(v, opaque))
	if err != nil {
		return json.RawMessage(raw)
	}
	return b
}

func camelValue(v any, opaque map[string]bool) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			ck := camelCase(k)
			if opaque[ck] {
				out[ck] = e
			} else {
				out[ck] = camelValue(e, opaque)
			}
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = camelValue(e, opaque)
		}
	}
	return v
}

// ---- errors ----

func typeErr(param, want string, got gjson.Result) *llm.Error {
	name := "the request body"
	if param != "" {
		name = "'" + param + "'"
	}
	return llm.InvalidRequest(param, "invalid value at %s: expected %s, but got %s", name, want, gjsonKind(got))
}

func gjsonKind(v gjson.Result) string {
	switch v.Type {
	case gjson.Null:
		return "null"
	case gjson.False, gjson.True:
		return "a boolean"
	case gjson.String:
		return "a string"
	case gjson.Number:
		return "a number"
	}
	if v.IsArray() {
		return "an array"
	}
	if v.IsObject() {
		return "an object"
	}
	return "nothing"
}

func requiredStr(param string, v gjson.Result) (string, error) {
	switch {
	case isNullish(v):
		return "", llm.InvalidRequest(param, "missing required field '%s'", param)
	case v.Type != gjson.String:
		return "", typeErr(param, "a string", v)
	}
	return v.Str, nil
}

func optionalStr(param string, v gjson.Result) (string, error) {
	if isNullish(v) {
		return "", nil
	}
	if v.Type != gjson.String {
		return "", typeErr(param, "a string", v)
	}
	return v.Str, nil
}

// ---- the request ----

type ingressDecoder struct {
	req *llm.Request
}

// requestOpaque are members whose values are user data, kept as they are
// when keys are camelCased.
var requestOpaque = map[string]bool{"responseSchema": true, "responseJsonSchema": true, "_responseJsonSchema": true}

func (d *ingressDecoder) setNative(name string, raw json.RawMessage) {
	if d.req.Native.Fields == nil {
		d.req.Native.Fields = map[string]json.RawMessage{}
	}
	d.req.Native.Fields[name] = raw
}

// request decodes a GenerateContentRequest object; p prefixes params.
func (d *ingressDecoder) request(root gjson.Result, p string) error {
	var contents, system, tools, toolConfig, genConfig gjson.Result
	var err error
	root.ForEach(func(k, v gjson.Result) bool {
		switch name := camelCase(k.Str); name {
		case "contents":
			contents = v
		case "systemInstruction":
			system = v
		case "tools":
			tools = v
		case "toolConfig":
			toolConfig = v
		case "generationConfig":
			genConfig = v
		case "model":
			// countTokens' generateContentRequest names its model; the URL's wins.
		case "safetySettings":
			if !isNullish(v) && !v.IsArray() {
				err = typeErr(p+name, "an array", v)
				return false
			}
			d.setNative(name, camelKeys(v.Raw, nil))
		case "cachedContent":
			if !isNullish(v) && v.Type != gjson.String {
				err = typeErr(p+name, "a string", v)
				return false
			}
			d.setNative(name, json.RawMessage(v.Raw))
		case "labels":
			if !isNullish(v) && !v.IsObject() {
				err = typeErr(p+name, "an object", v)
				return false
			}
			d.setNative(name, json.RawMessage(v.Raw)) // keys are user data
		default:
			d.setNative(name, json.RawMessage(v.Raw))
		}
		return true
	})
	if err != nil {
		return err
	}
	if !isNullish(system) {
		if err := d.systemInstruction(system, p+"systemInstruction"); err != nil {
			return err
		}
	}
	if isNullish(contents) {
		return llm.InvalidRequest(p+"contents", "missing required field '%scontents': contents is not specified", p)
	}
	if err := d.contents(contents, p); err != nil {
		return err
	}
	if !isNullish(tools) {
		if err := d.tools(tools, p+"tools"); err != nil {
			return err
		}
	}
	if !isNullish(toolConfig) {
		if err := d.toolConfig(toolConfig, p+"toolConfig"); err != nil {
			return err
		}
	}
	if !isNullish(genConfig) {
		if err := d.generationConfig(genConfig, p+"generationConfig"); err != nil {
			return err
		}
	}
	return nil
}

func (d *ingressDecoder) systemInstruction(v gjson.Result, p string) error {
	var parts []llm.Part
	switch {
	case v.Type == gjson.String: // lenient: a plain string
		if v.Str != "" {
			parts = append(parts, llm.TextPart(v.Str))
		}
	case v.IsObject():
		list := member(v, "parts")
		if !isNullish(list) && !list.IsArray() {
			return typeErr(p+".parts", "an array", list)
		}
		var err error
		i := 0
		list.ForEach(func(_, part gjson.Result) bool {
			pp := p + ".parts[" + strconv.Itoa(i) + "]"
			i++
			if !part.IsObject() {
				err = typeErr(pp, "an object", part)
				return false
			}
			t := member(part, "text")
			if isNullish(t) {
				err = llm.InvalidRequest(pp, "system instructions take text parts only")
				return false
			}
			if t.Type != gjson.String {
				err = typeErr(pp+".text", "a string", t)
				return false
			}
			if t.Str != "" {
				parts = append(parts, llm.TextPart(t.Str))
			}
			return true
		})
		if err != nil {
			return err
		}
	default:
		return typeErr(p, "a Content object", v)
	}
	if len(parts) > 0 {
		d.req.Messages = append(d.req.Messages, llm.Message{Role: llm.RoleSystem, Content: parts})
	}
	return nil
}

// ---- contents ----

func (d *ingressDecoder) contents(v gjson.Result, p string) error {
	p += "contents"
	if !v.IsArray() {
		return typeErr(p, "an array", v)
	}
	var prev []*llm.ToolCall // calls of the model turn right before
	n := 0
	var err error
	v.ForEach(func(_, c gjson.Result) bool {
		cp := p + "[" + strconv.Itoa(n) + "]"
		i := n
		n++
		if !c.IsObject() {
			err = typeErr(cp, "an object", c)
			return false
		}
		role, e := optionalStr(cp+".role", member(c, "role"))
		if e != nil {
			err = e
			return false
		}
		parts := member(c, "parts")
		switch {
		case isNullish(parts):
			err = llm.InvalidRequest(cp+".parts", "missing required field '%s.parts'", cp)
			return false
		case !parts.IsArray():
			err = typeErr(cp+".parts", "an array", parts)
			return false
		}
		switch role {
		case "model":
			prev, err = d.modelTurn(i, cp, parts)
		case "user", "function", "":
			err = d.userTurn(cp, parts, prev)
			prev = nil
		default:
			err = llm.InvalidRequest(cp+".role", "invalid value at '%s.role': '%s'. supported values are 'user' and 'model'", cp, truncateStr(role, 64))
		}
		return err == nil
	})
	if err != nil {
		return err
	}
	if n == 0 {
		return llm.InvalidRequest(p, "contents must not be empty")
	}
	return nil
}

func truncateStr(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// partKind names the data member of a part.
func partKind(part gjson.Result) string {
	for _, k := range [...]string{"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult"} {
		if !isNullish(member(part, k)) {
			return k
		}
	}
	return ""
}

func (d *ingressDecoder) modelTurn(ci int, p string, parts gjson.Result) ([]*llm.ToolCall, error) {
	var calls []*llm.ToolCall
	var content []llm.Part
	var err error
	j := 0
	parts.ForEach(func(_, part gjson.Result) bool {
		pp := p + ".parts[" + strconv.Itoa(j) + "]"
		pj := j
		j++
		if !part.IsObject() {
			err = typeErr(pp, "an object", part)
			return false
		}
		sig, e := optionalStr(pp+".thoughtSignature", member(part, "thoughtSignature"))
		if e != nil {
			err = e
			return false
		}
		thought := member(part, "thought")
		if !isNullish(thought) && !thought.IsBool() {
			err = typeErr(pp+".thought", "a boolean", thought)
			return false
		}
		switch kind := partKind(part); {
		case kind == "functionCall":
			var tc *llm.ToolCall
			tc, err = d.functionCall(ci, pj, pp+".functionCall", member(part, "functionCall"))
			if err != nil {
				return false
			}
			tc.Signature, _ = unwrapSignature(sig)
			calls = append(calls, tc)
			content = append(content, llm.Part{Type: llm.PartToolCall, ToolCall: tc})
		case kind == "functionResponse":
			err = llm.InvalidRequest(pp+".functionResponse", "a functionResponse belongs in a user turn, not a model turn")
			return false
		case thought.Bool():
			text, e := optionalStr(pp+".text", member(part, "text"))
			if e != nil {
				err = e
				return false
			}
			s, redacted := unwrapSignature(sig)
			if redacted {
				content = append(content, llm.Part{Type: llm.PartRedactedThinking, Data: s})
				break
			}
			if text == "" && s == "" {
				break
			}
			// Streamed thought text comes as many parts, its signature in
			// the last one (or a part of its own): they are one block.
			n := len(content)
			if n == 0 || content[n-1].Type != llm.PartThinking || content[n-1].Signature != "" {
				content = append(content, llm.Part{Type: llm.PartThinking})
				n++
			}
			content[n-1].Text += text
			content[n-1].Signature = s
		case kind == "text":
			text, e := requiredStr(pp+".text", member(part, "text"))
			if e != nil {
				err = e
				return false
			}
			if text != "" {
				content = append(content, llm.TextPart(text))
			}
		case kind == "" && sig != "":
			// A signature-only part without thought: nothing to keep.
		default:
			var pt llm.Part
			pt, err = dataPart(pp, kind, part)
			if err != nil {
				return false
			}
			content = append(content, pt)
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if len(content) > 0 {
		d.req.Messages = append(d.req.Messages, llm.Message{Role: llm.RoleAssistant, Content: content})
	}
	return calls, nil
}

func (d *ingressDecoder) functionCall(ci, pj int, p string, fc gjson.Result) (*llm.ToolCall, error) {
	if !fc.IsObject() {
		return nil, typeErr(p, "an object", fc)
	}
	name, err := requiredStr(p+".name", member(fc, "name"))
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, llm.InvalidRequest(p+".name", "invalid value at '%s.name': empty name", p)
	}
	id, err := optionalStr(p+".id", member(fc, "id"))
	if err != nil {
		return nil, err
	}
	if id == "" {
		id = MintToolCallID(fmt.Sprintf("xjp-gemini-ingress#%d#%d", ci, pj), "", "")
	}
	args := member(fc, "args")
	tc := &llm.ToolCall{ID: id, Name: name, Arguments: "{}"}
	switch {
	case isNullish(args):
	case args.IsObject():
		var buf bytes.Buffer
		if json.Compact(&buf, []byte(args.Raw)) == nil {
			tc.Arguments = buf.String()
		}
	default:
		return nil, typeErr(p+".args", "an object", args)
	}
	return tc, nil
}

func (d *ingressDecoder) userTurn(p string, parts gjson.Result, prev []*llm.ToolCall) error {
	used := make([]bool, len(prev))
	var results, content []llm.Part
	var err error
	j := 0
	parts.ForEach(func(_, part gjson.Result) bool {
		pp := p + ".parts[" + strconv.Itoa(j) + "]"
		j++
		if !part.IsObject() {
			err = typeErr(pp, "an object", part)
			return false
		}
		if t := member(part, "thought"); t.Type == gjson.True {
			return true // a user turn's thoughts mean nothing upstream
		}
		switch kind := partKind(part); kind {
		case "functionResponse":
			var pt llm.Part
			pt, err = functionResponse(pp+".functionResponse", member(part, "functionResponse"), prev, used)
			if err != nil {
				return false
			}
			results = append(results, pt)
		case "functionCall":
			err = llm.InvalidRequest(pp+".functionCall", "a functionCall belongs in a model turn, not a user turn")
			return false
		case "text":
			text, e := requiredStr(pp+".text", member(part, "text"))
			if e != nil {
				err = e
				return false
			}
			if text != "" {
				content = append(content, llm.TextPart(text))
			}
		case "":
			if isNullish(member(part, "thoughtSignature")) {
				err = llm.InvalidRequest(pp, "a part needs data: text, inlineData, fileData, functionCall or functionResponse")
				return false
			}
		default:
			var pt llm.Part
			pt, err = dataPart(pp, kind, part)
			if err != nil {
				return false
			}
			content = append(content, pt)
		}
		return true
	})
	if err != nil {
		return err
	}
	if len(results) > 0 {
		d.req.Messages = append(d.req.Messages, llm.Message{Role: llm.RoleTool, Content: results})
	}
	if len(content) > 0 || len(results) == 0 {
		d.req.Messages = append(d.req.Messages, llm.Message{Role: llm.RoleUser, Content: content})
	}
	return nil
}

// functionResponse pairs a response with a call of the model turn before:
// by id, else the first unanswered call of the same name.
func functionResponse(p string, fr gjson.Result, prev []*llm.ToolCall, used []bool) (llm.Part, error) {
	if !fr.IsObject() {
		return llm.Part{}, typeErr(p, "an object", fr)
	}
	name, err := requiredStr(p+".name", member(fr, "name"))
	if err != nil {
		return llm.Part{}, err
	}
	id, err := optionalStr(p+".id", member(fr, "id"))
	if err != nil {
		return llm.Part{}, err
	}
	match := -1
	if id != "" {
		for k, tc := range prev {
			if !used[k] && tc.ID == id {
				match = k
				break
			}
		}
	}
	if match < 0 {
		for k, tc := range prev {
			if !used[k] && tc.Name == name {
				match = k
				break
			}
		}
	}
	if match < 0 {
		return llm.Part{}, llm.InvalidRequest(p, "the functionResponse for %q answers no functionCall of the model turn right before it: each function response must follow the model turn that called the function", truncateStr(name, 64))
	}
	used[match] = true
	tr := &llm.ToolResult{ToolCallID: prev[match].ID, Name: name}
	out := llm.Part{Type: llm.PartToolResult, ToolResult: tr}
	resp := member(fr, "response")
	switch {
	case isNullish(resp):
	case !resp.IsObject():
		return llm.Part{}, typeErr(p+".response", "an object", resp)
	default:
		// The object itself is kept for a Gemini upstream; other upstreams
		// get it as text.
		out.Native, out.Dialect = json.RawMessage(compactJSON(resp.Raw)), llm.DialectGemini
		text, isErr := responseText(resp)
		tr.IsError = isErr
		if text != "" {
			tr.Content = append(tr.Content, llm.TextPart(text))
		}
	}
	if extra := member(fr, "parts"); !isNullish(extra) {
		if !extra.IsArray() {
			return llm.Part{}, typeErr(p+".parts", "an array", extra)
		}
		j := 0
		extra.ForEach(func(_, part gjson.Result) bool {
			pp := p + ".parts[" + strconv.Itoa(j) + "]"
			j++
			kind := partKind(part)
			if kind != "inlineData" && kind != "fileData" {
				err = llm.InvalidRequest(pp, "function response parts take inlineData or fileData")
				return false
			}
			var pt llm.Part
			pt, err = dataPart(pp, kind, part)
			tr.Content = append(tr.Content, pt)
			return err == nil
		})
		if err != nil {
			return llm.Part{}, err
		}
	}
	return out, nil
}

// responseText turns a functionResponse.response object into text:
// {"output": X} → X, {"error": X} → X (an error), anything else its JSON.
func responseText(resp gjson.Result) (string, bool) {
	var keys []string
	resp.ForEach(func(k, _ gjson.Result) bool {
		keys = append(keys, k.Str)
		return true
	})
	if len(keys) == 1 && (keys[0] == "output" || keys[0] == "error") {
		v := resp.Get(keys[0])
		if v.Type == gjson.String {
			return v.Str, keys[0] == "error"
		}
		return compactJSON(v.Raw), keys[0] == "error"
	}
	if len(keys) == 0 {
		return "", false
	}
	return compactJSON(resp.Raw), false
}

func compactJSON(raw string) string {
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(raw)) != nil {
		return raw
	}
	return buf.String()
}

// dataPart decodes inlineData and fileData parts; other data (executable
// code, its results, media with video metadata) is kept verbatim for Gemini
// upstreams.
func dataPart(p, kind string, part gjson.Result) (llm.Part, error) {
	native := llm.Part{Type: llm.PartNative, Dialect: llm.DialectGemini, Native: camelKeys(part.Raw, nil)}
	if !isNullish(member(part, "videoMetadata")) {
		return native, nil
	}
	switch kind {
	case "inlineData":
		v := member(part, "inlineData")
		p += ".inlineData"
		if !v.IsObject() {
			return llm.Part{}, typeErr(p, "an object", v)
		}
		mt, err := requiredStr(p+".mimeType", member(v, "mimeType"))
		if err != nil {
			return llm.Part{}, err
		}
		data, err := requiredStr(p+".data", member(v, "data"))
		if err != nil {
			return llm.Part{}, err
		}
		if _, err := base64.StdEncoding.DecodeString(data); err != nil {
			if _, err := base64.URLEncoding.DecodeString(data); err != nil {
				return llm.Part{}, llm.InvalidRequest(p+".data", "invalid value at '%s.data': base64 decoding failed", p)
			}
		}
		return mediaOf(mt, &llm.Media{MediaType: mt, Data: data}), nil
	case "fileData":
		v := member(part, "fileData")
		p += ".fileData"
		if !v.IsObject() {
			return llm.Part{}, typeErr(p, "an object", v)
		}
		uri, err := requiredStr(p+".fileUri", member(v, "fileUri"))
		if err != nil {
			return llm.Part{}, err
		}
		mt, err := optionalStr(p+".mimeType", member(v, "mimeType"))
		if err != nil {
			return llm.Part{}, err
		}
		return mediaOf(mt, &llm.Media{MediaType: mt, URL: uri}), nil
	}
	return native, nil
}

func mediaOf(mt string, m *llm.Media) llm.Part {
	if strings.HasPrefix(mt, "image/") {
		return llm.Part{Type: llm.PartImage, Media: m}
	}
	return llm.Part{Type: llm.PartFile, Media: m}
}

// unwrapSignature undoes wrapSignature: the original signature, or the data
// of a redacted thinking block (redacted true).
func unwrapSignature(s string) (sig string, redacted bool) {
	if s == "" {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return s, false
	}
	if rest, ok := bytes.CutPrefix(raw, []byte(sigWrapPrefix)); ok {
		return string(rest), false
	}
	if rest, ok := bytes.CutPrefix(raw, []byte(redactedWrapPrefix)); ok {
		return string(rest), true
	}
	return s, false
}

// wrapSignature returns a signature as Google's bytes field carries it:
// standard base64 as it is, anything else wrapped.
func wrapSignature(sig string) string {
	if sig == "" {
		return ""
	}
	if raw, err := base64.StdEncoding.DecodeString(sig); err == nil && !bytes.HasPrefix(raw, []byte("xjp-")) {
		return sig
	}
	return base64.StdEncoding.EncodeToString([]byte(sigWrapPrefix + sig))
}

func wrapRedacted(data string) string {
	return base64.StdEncoding.EncodeToString([]byte(redactedWrapPrefix + data))
}

// ---- tools ----

func (d *ingressDecoder) tools(v gjson.Result, p string) error {
	if !v.IsArray() {
		return typeErr(p, "an array", v)
	}
	var err error
	i := 0
	v.ForEach(func(_, t gjson.Result) bool {
		tp := p + "[" + strconv.Itoa(i) + "]"
		i++
		if !t.IsObject() {
			err = typeErr(tp, "an object", t)
			return false
		}
		t.ForEach(func(k, tv gjson.Result) bool {
			name := camelCase(k.Str)
			if name != "functionDeclarations" {
				// A Gemini hosted tool: forwarded to Gemini upstreams only.
				native, _ := marshal(map[string]json.RawMessage{name: json.RawMessage(tv.Raw)})
				d.req.Tools = append(d.req.Tools, llm.Tool{Type: name, Native: native})
				return true
			}
			if isNullish(tv) {
				return true
			}
			if !tv.IsArray() {
				err = typeErr(tp+".functionDeclarations", "an array", tv)
				return false
			}
			j := 0
			tv.ForEach(func(_, fd gjson.Result) bool {
				var tool llm.Tool
				tool, err = functionDeclaration(tp+".functionDeclarations["+strconv.Itoa(j)+"]", fd)
				j++
				if err != nil {
					return false
				}
				d.req.Tools = append(d.req.Tools, tool)
				return true
			})
			return err == nil
		})
		return err == nil
	})
	return err
}

func functionDeclaration(p string, fd gjson.Result) (llm.Tool, error) {
	if !fd.IsObject() {
		return llm.Tool{}, typeErr(p, "an object", fd)
	}
	name, err := requiredStr(p+".name", member(fd, "name"))
	if err != nil {
		return llm.Tool{}, err
	}
	if name == "" {
		return llm.Tool{}, llm.InvalidRequest(p+".name", "invalid value at '%s.name': empty name", p)
	}
	desc, err := optionalStr(p+".description", member(fd, "description"))
	if err != nil {
		return llm.Tool{}, err
	}
	tool := llm.Tool{Type: "function", Name: name, Description: desc}
	params, jsonSchema := member(fd, "parameters"), member(fd, "parametersJsonSchema")
	switch {
	case !isNullish(params) && !isNullish(jsonSchema):
		return llm.Tool{}, llm.InvalidRequest(p+".parametersJsonSchema", "parameters and parametersJsonSchema are mutually exclusive: set one of them")
	case !isNullish(params):
		s, err := jsonSchemaOf(p+".parameters", params)
		if err != nil {
			return llm.Tool{}, err
		}
		tool.Parameters = s
	case !isNullish(jsonSchema):
		if !jsonSchema.IsObject() {
			return llm.Tool{}, typeErr(p+".parametersJsonSchema", "an object", jsonSchema)
		}
		tool.Parameters = json.RawMessage(compactJSON(jsonSchema.Raw))
	}
	return tool, nil
}

// jsonSchemaOf converts Google's Schema object (the OpenAPI subset, in
// camelCase or snake_case) to JSON Schema: type names lower-cased, nullable
// as a "null" type, example as examples, format "enum" and
// propertyOrdering dropped, int64 counts given as strings made numbers.
// Property names are kept as they are.
func jsonSchemaOf(p string, v gjson.Result) (json.RawMessage, error) {
	if !v.IsObject() {
		return nil, typeErr(p, "an object", v)
	}
	var m map[string]any
	dec := json.NewDecoder(strings.NewReader(v.Raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, llm.InvalidRequest(p, "invalid schema: %v", err)
	}
	b, err := marshal(convertSchema(m, 0))
	if err != nil {
		return nil, llm.InvalidRequest(p, "invalid schema: %v", err)
	}
	return b, nil
}

var schemaCounts = map[string]bool{"maxItems": true, "minItems": true, "maxLength": true, "minLength": true, "maxProperties": true, "minProperties": true}

func convertSchema(s map[string]any, depth int) map[string]any {
	out := make(map[string]any, len(s))
	if depth > maxSchemaDepth {
		return out
	}
	nullable := false
	sub := func(v any) any {
		if m, ok := v.(map[string]any); ok {
			return convertSchema(m, depth+1)
		}
		return v
	}
	for k, v := range s {
		switch key := camelCase(k); key {
		case "type":
			t, ok := v.(string)
			if !ok {
				out[key] = v
				continue
			}
			if t = strings.ToLower(t); t != "" && t != "type_unspecified" {
				out[key] = t
			}
		case "nullable":
			nullable = v == true
		case "properties", "$defs", "definitions", "defs":
			props, ok := v.(map[string]any)
			if !ok {
				continue
			}
			conv := make(map[string]any, len(props))
			for name, ps := range props {
				conv[name] = sub(ps)
			}
			if key == "defs" {
				key = "$defs"
			}
			out[key] = conv
		case "items", "additionalProperties", "not":
			out[key] = sub(v)
		case "anyOf", "oneOf", "allOf", "prefixItems":
			list, ok := v.([]any)
			if !ok {
				continue
			}
			conv := make([]any, len(list))
			for i, e := range list {
				conv[i] = sub(e)
			}
			out[key] = conv
		case "propertyOrdering":
		case "example":
			out["examples"] = []any{v}
		case "format":
			if f, _ := v.(string); f != "enum" {
				out[key] = v
			}
		case "ref":
			out["$ref"] = v
		default:
			if str, ok := v.(string); ok && schemaCounts[key] {
				if n, err := strconv.ParseInt(str, 10, 64); err == nil {
					out[key] = n
					continue
				}
			}
			out[key] = v
		}
	}
	if nullable {
		switch t := out["type"].(type) {
		case string:
			out["type"] = []any{t, "null"}
		case nil:
			if list, ok := out["anyOf"].([]any); ok {
				out["anyOf"] = append(list, map[string]any{"type": "null"})
			}
		}
	}
	return out
}

func (d *ingressDecoder) toolConfig(v gjson.Result, p string) error {
	if !v.IsObject() {
		return typeErr(p, "an object", v)
	}
	d.setNative("toolConfig", camelKeys(v.Raw, nil))
	fcc := member(v, "functionCallingConfig")
	if isNullish(fcc) {
		return nil
	}
	p += ".functionCallingConfig"
	if !fcc.IsObject() {
		return typeErr(p, "an object", fcc)
	}
	mode, err := optionalStr(p+".mode", member(fcc, "mode"))
	if err != nil {
		return err
	}
	var names []string
	if list := member(fcc, "allowedFunctionNames"); !isNullish(list) {
		if !list.IsArray() {
			return typeErr(p+".allowedFunctionNames", "an array", list)
		}
		list.ForEach(func(_, n gjson.Result) bool {
			if n.Type != gjson.String {
				err = typeErr(p+".allowedFunctionNames", "an array of strings", list)
				return false
			}
			names = append(names, n.Str)
			return true
		})
		if err != nil {
			return err
		}
	}
	switch strings.ToUpper(mode) {
	case "AUTO", "VALIDATED":
		d.req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceAuto}
	case "NONE":
		d.req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceNone}
	case "ANY":
		if len(names) == 1 {
			d.req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: names[0]}
		} else {
			d.req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolChoiceRequired}
		}
	case "", "MODE_UNSPECIFIED":
	default:
		return llm.InvalidRequest(p+".mode", "invalid value at '%s.mode': '%s'. supported values are 'AUTO', 'ANY', 'NONE' and 'VALIDATED'", p, truncateStr(mode, 64))
	}
	return nil
}

func (d *ingressDecoder) generationConfig(v gjson.Result, p string) error {
	if !v.IsObject() {
		return typeErr(p, "an object", v)
	}
	d.setNative("generationConfig", camelKeys(v.Raw, requestOpaque))
	r := d.req
	num := func(name string) (float64, bool, error) {
		f := member(v, name)
		if isNullish(f) {
			return 0, false, nil
		}
		if f.Type != gjson.Number {
			return 0, false, typeErr(p+"."+name, "a number", f)
		}
		return f.Num, true, nil
	}
	if n, ok, err := num("maxOutputTokens"); err != nil {
		return err
	} else if ok {
		if n < 0 || n != float64(int64(n)) {
			return llm.InvalidRequest(p+".maxOutputTokens", "invalid value at '%s.maxOutputTokens': expected a non-negative integer", p)
		}
		r.MaxTokens = int(min(n, 1<<31-1))
	}
	if n, ok, err := num("temperature"); err != nil {
		return err
	} else if ok {
		if n < 0 || n > 2 {
			return llm.InvalidRequest(p+".temperature", "invalid value at '%s.temperature': %g is out of range [0, 2]", p, n)
		}
		r.Temperature = &n
	}
	if n, ok, err := num("topP"); err != nil {
		return err
	} else if ok {
		if n < 0 || n > 1 {
			return llm.InvalidRequest(p+".topP", "invalid value at '%s.topP': %g is out of range [0, 1]", p, n)
		}
		r.TopP = &n
	}
	if n, ok, err := num("topK"); err != nil {
		return err
	} else if ok && n >= 1 {
		k := int(min(n, 1<<31-1))
		r.TopK = &k
	}
	if n, ok, err := num("candidateCount"); err != nil {
		return err
	} else if ok && n > 1 {
		return llm.InvalidRequest(p+".candidateCount", "candidateCount > 1 is not supported by xjp: ask for one candidate per request")
	}
	if n, ok, err := num("seed"); err != nil {
		return err
	} else if ok {
		s := int64(n)
		r.Seed = &s
	}
	if stops := member(v, "stopSequences"); !isNullish(stops) {
		if !stops.IsArray() {
			return typeErr(p+".stopSequences", "an array", stops)
		}
		var err error
		stops.ForEach(func(_, s gjson.Result) bool {
			if s.Type != gjson.String {
				err = typeErr(p+".stopSequences", "an array of strings", stops)
				return false
			}
			r.Stop = append(r.Stop, s.Str)
			return true
		})
		if err != nil {
			return err
		}
	}
	mime, err := optionalStr(p+".responseMimeType", member(v, "responseMimeType"))
	if err != nil {
		return err
	}
	if mime == "application/json" {
		rf := &llm.ResponseFormat{Type: "json_object"}
		if s := member(v, "responseJsonSchema"); !isNullish(s) {
			rf.Type, rf.Name, rf.Schema = "json_schema", "response", json.RawMessage(compactJSON(s.Raw))
		} else if s := member(v, "responseSchema"); !isNullish(s) {
			schema, err := jsonSchemaOf(p+".responseSchema", s)
			if err != nil {
				return err
			}
			rf.Type, rf.Name, rf.Schema = "json_schema", "response", schema
		}
		r.ResponseFormat = rf
	}
	if tc := member(v, "thinkingConfig"); !isNullish(tc) {
		if !tc.IsObject() {
			return typeErr(p+".thinkingConfig", "an object", tc)
		}
		rs, err := thinkingOf(p+".thinkingConfig", tc)
		if err != nil {
			return err
		}
		r.Reasoning = rs
	}
	return nil
}

// thinkingOf maps thinkingConfig: thinkingBudget 0 is thinking off, -1
// dynamic (adaptive), a positive budget a budget; thinkingLevel an effort.
func thinkingOf(p string, tc gjson.Result) (*llm.Reasoning, error) {
	r := &llm.Reasoning{}
	if b := member(tc, "thinkingBudget"); !isNullish(b) {
		if b.Type != gjson.Number {
			return nil, typeErr(p+".thinkingBudget", "a number", b)
		}
		switch n := b.Int(); {
		case n == 0:
			r.Disabled = true
		case n < 0:
			r.Adaptive = true
		default:
			r.BudgetTokens = int(min(n, 1<<31-1))
		}
	}
	level, err := optionalStr(p+".thinkingLevel", member(tc, "thinkingLevel"))
	if err != nil {
		return nil, err
	}
	switch l := strings.ToLower(level); l {
	case "":
	case "minimal", "low", "medium", "high":
		r.Effort = l
	case "thinking_level_unspecified":
	default:
		return nil, llm.InvalidRequest(p+".thinkingLevel", "invalid value at '%s.thinkingLevel': '%s'. supported values are 'MINIMAL', 'LOW', 'MEDIUM' and 'HIGH'", p, truncateStr(level, 64))
	}
	if *r == (llm.Reasoning{}) {
		if member(tc, "includeThoughts").Type == gjson.True {
			r.Adaptive = true
			return r, nil
		}
		return nil, nil
	}
	return r, nil
}

// statusCodes maps HTTP statuses to google.rpc.Code names.
var statusCodes = map[int]string{
	http.StatusBadRequest:            "INVALID_ARGUMENT",
	http.StatusUnauthorized:          "UNAUTHENTICATED",
	http.StatusForbidden:             "PERMISSION_DENIED",
	http.StatusNotFound:              "NOT_FOUND",
	http.StatusConflict:              "ABORTED",
	http.StatusRequestEntityTooLarge: "INVALID_ARGUMENT",
	http.StatusTooManyRequests:       "RESOURCE_EXHAUSTED",
	499:                              "CANCELLED",
	http.StatusNotImplemented:        "UNIMPLEMENTED",
	http.StatusServiceUnavailable:    "UNAVAILABLE",
	http.StatusGatewayTimeout:        "DEADLINE_EXCEEDED",
}
