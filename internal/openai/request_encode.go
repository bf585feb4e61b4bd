package openai

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/rickyjim626/xjp/internal/llm"
)

// EncodeChatRequest encodes call as a Chat Completions request for a
// generic OpenAI-compatible upstream (FlavorGeneric). See
// EncodeChatRequestFlavor.
func EncodeChatRequest(call *llm.Call) ([]byte, error) {
	return EncodeChatRequestFlavor(call, FlavorGeneric)
}

// EncodeChatRequestFlavor encodes call as a compact Chat Completions request
// body with a stable field order, whatever dialect the request came in.
//
// A streaming request asks for the usage too: "stream": true with
// "stream_options": {"include_usage": true}, whatever the client asked, so
// that every request is metered. A non-streaming client gets a
// non-streaming upstream call ("stream": false): one JSON body is cheaper
// to relay than a folded stream. "model" is call.Model.
//
// Max tokens (call.MaxTokens(), clamped and defaulted per route) go out as
// max_completion_tokens when the OpenAI client named them so or the flavor is
// FlavorOpenAI, else as max_tokens, the name every compatible server
// accepts. When call.Body sets max_tokens or max_completion_tokens itself,
// neither is emitted.
//
// Messages are translated from canonical form: system and developer
// messages stay in place with their role; a tool message holding N results
// becomes N "tool" messages whose content is the results' text (OpenAI tool
// messages take text only: images and files a result carried follow in one
// user message after the run of tool messages, introduced by a short text
// naming the call, merged into the next user turn when one follows);
// Claude Code's x-anthropic-billing-header system block is dropped (it
// only breaks prompt caching elsewhere); assistant text is joined with
// newlines into content (null when the turn is only tool calls), tool calls
// keep their ids with arguments "{}" when empty. Thinking travels per
// flavor:
//   - FlavorOpenAI drops it (OpenAI rejects unknown message fields and
//     cannot replay foreign reasoning);
//   - FlavorGeneric sends signed thinking, redacted blocks and Gemini
//     tool-call signatures as OpenRouter-style reasoning_details and the
//     signed text as reasoning_content;
//   - FlavorOpenRouter sends them as reasoning_details with the format of
//     the model family (anthropic-claude-v1, google-gemini-v1…).
//
// Unsigned thinking is an unverifiable transcript of another model and is
// dropped, except when the client spoke OpenAI itself: then it is the
// client's own reasoning_content (DeepSeek-style servers require it back)
// and is sent again.
//
// Content: images go as image_url (data URL or URL, with detail); WAV and
// MP3 audio as input_audio; other files as file parts with a file_data data
// URL, and a file known only by URL goes to OpenRouter as file_data (it
// fetches http(s) URLs) and elsewhere as a text reference. A tool result's
// is_error has no OpenAI field and is not marked. A PartNative of another
// dialect is refused with a 400 *llm.Error naming the part.
//
// Sampling: temperature, top_p, top_k (not to FlavorOpenAI, which refuses
// it), seed, user, and at most 4 stop sequences (OpenAI's limit; an
// Anthropic client may send more and the rest are dropped).
//
// Tools: function tools are sent. Custom (freeform) tools of a client that
// spoke Chat Completions itself are passed through as Chat Completions
// custom tools (same dialect: OpenAI's API has them, and the client reads
// custom calls back); custom tools from other dialects (the Responses API,
// Codex's apply_patch) go as the function llm.Tool.AsFunction makes of them
// (one string parameter "input"), and custom calls in their history as
// calls of that function, since most OpenAI-compatible servers have no
// freeform tools. Hosted tools of another dialect (Tool.Native set, Type
// neither function nor custom) are dropped, and a tool_choice naming a
// dropped tool becomes "auto".
//
// Reasoning: an effort goes as reasoning_effort. A budget (Anthropic
// thinking.budget_tokens) goes to OpenRouter exactly as
// reasoning.max_tokens and elsewhere as the nearest reasoning_effort (below
// 4096 tokens low, below 16384 medium, else high); adaptive thinking is
// OpenRouter's reasoning.enabled. A disabled switch without effort is not
// sent: models whose reasoning is mandatory refuse to turn it off.
//
// Native.Fields are merged in only when the request came in the OpenAI
// dialect (same-dialect passthrough; unknown fields survive); call.Body
// fields are merged last and win.
func EncodeChatRequestFlavor(call *llm.Call, fl Flavor) ([]byte, error) {
	if call == nil || call.Request == nil {
		return nil, &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusInternalServerError, Message: "openai: nil call"}
	}
	if fl == FlavorAuto {
		fl = FlavorGeneric
	}
	req := call.Request
	e := &reqEncoder{
		fl:    fl,
		model: call.Model,
		same:  req.Native != nil && req.Native.Dialect == llm.DialectOpenAI,
	}
	e.nativeCustom = e.same
	e.anthropic = req.Native != nil && req.Native.Dialect == llm.DialectAnthropic
	if e.model == "" {
		e.model = req.Model
	}
	var b body
	b.set("model", appendString(nil, e.model))
	msgs, err := e.messages(req.Messages)
	if err != nil {
		return nil, err
	}
	b.set("messages", msgs)
	if req.Stream {
		b.set("stream", []byte("true"))
		b.set("stream_options", []byte(`{"include_usage":true}`))
	} else {
		b.set("stream", []byte("false"))
	}

	_, bodyMax := call.Body["max_tokens"]
	_, bodyMaxC := call.Body["max_completion_tokens"]
	if n := call.MaxTokens(); n > 0 && !bodyMax && !bodyMaxC {
		name := "max_tokens"
		if _, ok := req.NativeField(llm.DialectOpenAI, "max_completion_tokens"); ok || fl == FlavorOpenAI {
			name = "max_completion_tokens"
		}
		b.set(name, strconv.AppendInt(nil, int64(n), 10))
	}
	if req.Temperature != nil {
		b.set("temperature", appendFloat(nil, *req.Temperature))
	}
	if req.TopP != nil {
		b.set("top_p", appendFloat(nil, *req.TopP))
	}
	if req.TopK != nil && fl != FlavorOpenAI {
		b.set("top_k", strconv.AppendInt(nil, int64(*req.TopK), 10))
	}
	if len(req.Stop) > 0 {
		stop := req.Stop
		if len(stop) > 4 { // OpenAI's limit; Anthropic allows more
			stop = stop[:4]
		}
		v := []byte{'['}
		for i, s := range stop {
			if i > 0 {
				v = append(v, ',')
			}
			v = appendString(v, s)
		}
		b.set("stop", append(v, ']'))
	}
	if req.Seed != nil {
		b.set("seed", strconv.AppendInt(nil, *req.Seed, 10))
	}
	if req.User != "" {
		b.set("user", appendString(nil, upstreamUser(req.User)))
	}
	e.tools(&b, req)
	if rf := req.ResponseFormat; rf != nil {
		b.set("response_format", encodeResponseFormat(rf))
	}
	e.reasoning(&b, req.Reasoning)

	if e.same {
		for _, k := range sortedKeys(req.Native.Fields) {
			if k == "max_completion_tokens" || b.has(k) {
				continue
			}
			b.set(k, appendRaw(nil, req.Native.Fields[k]))
		}
	}
	for _, k := range sortedKeys(call.Body) {
		b.set(k, appendRaw(nil, call.Body[k]))
	}
	return b.bytes(), nil
}

// body is a JSON object under construction: fields in insertion order, set
// replacing a field of the same name in place.
type body struct{ fields []bodyField }

type bodyField struct {
	name string
	val  []byte
}

func (b *body) set(name string, val []byte) {
	for i := range b.fields {
		if b.fields[i].name == name {
			b.fields[i].val = val
			return
		}
	}
	b.fields = append(b.fields, bodyField{name, val})
}

func (b *body) has(name string) bool {
	for _, f := range b.fields {
		if f.name == name {
			return true
		}
	}
	return false
}

func (b *body) bytes() []byte {
	n := 2
	for _, f := range b.fields {
		n += len(f.name) + len(f.val) + 4
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for _, f := range b.fields {
		out = appendKey(out, f.name)
		out = append(out, f.val...)
	}
	return append(out, '}')
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type reqEncoder struct {
	fl        Flavor
	model     string
	same      bool // the client spoke OpenAI
	anthropic bool // the client spoke Anthropic
	// nativeCustom: custom tools go as Chat Completions custom tools, not
	// as functions.
	nativeCustom bool
}

// anthropicBillingHeader starts the attribution block Claude Code puts first
// in its system prompt. It changes with every release and would break
// prompt caching upstream; it means nothing outside Anthropic.
const anthropicBillingHeader = "x-anthropic-billing-header:"

// messages encodes the conversation as a JSON array.
func (e *reqEncoder) messages(msgs []llm.Message) ([]byte, *llm.Error) {
	out := []byte{'['}
	var deferred []llm.Part // tool result attachments waiting for a user message
	flush := func() {
		if len(deferred) == 0 {
			return
		}
		out = e.userMessage(out, "", deferred)
		deferred = nil
	}
	for i, m := range msgs {
		p := "messages[" + strconv.Itoa(i) + "]"
		if err := e.checkNative(p, m.Content); err != nil {
			return nil, err
		}
		// Tool results, wherever they are, become tool messages.
		var rest []llm.Part
		for _, part := range m.Content {
			if part.Type != llm.PartToolResult || part.ToolResult == nil {
				rest = append(rest, part)
				continue
			}
			tr := part.ToolResult
			out = appendSep(out)
			out = append(out, `{"role":"tool"`...)
			out = appendStringField(out, "tool_call_id", upstreamToolID(tr.ToolCallID))
			out = appendStringField(out, "content", tr.Text())
			out = append(out, '}')
			var att []llm.Part
			for _, c := range tr.Content {
				if c.Type != llm.PartText {
					att = append(att, c)
				}
			}
			if len(att) > 0 {
				deferred = append(deferred, llm.TextPart("Attachments returned by tool call "+tr.ToolCallID+":"))
				deferred = append(deferred, att...)
			}
		}
		switch m.Role {
		case llm.RoleTool:
			deferred = append(deferred, rest...)
			continue
		case llm.RoleSystem, llm.RoleDeveloper:
			flush()
			out = e.systemMessage(out, m, rest)
		case llm.RoleAssistant:
			flush()
			out = e.assistantMessage(out, m, rest)
		default: // user and unknown roles
			if len(rest) == 0 && len(m.Content) > 0 {
				continue // only tool results
			}
			parts := rest
			if len(deferred) > 0 {
				parts = append(deferred, rest...)
				deferred = nil
			}
			out = e.userMessage(out, m.Name, parts)
		}
	}
	flush()
	return append(out, ']'), nil
}

// checkNative refuses PartNative content of another dialect, also inside
// tool results.
func (e *reqEncoder) checkNative(p string, parts []llm.Part) *llm.Error {
	for j, part := range parts {
		switch {
		case part.Type == llm.PartNative && part.Dialect != llm.DialectOpenAI:
			typ := gjson.GetBytes(part.Native, "type").Str
			if typ == "" {
				typ = string(part.Dialect)
			}
			return llm.InvalidRequest(p+".content["+strconv.Itoa(j)+"]",
				"content type %q cannot be sent to an OpenAI-compatible upstream", typ)
		case part.Type == llm.PartToolResult && part.ToolResult != nil:
			if err := e.checkNative(p+".content["+strconv.Itoa(j)+"]", part.ToolResult.Content); err != nil {
				return err
			}
		}
	}
	return nil
}

func appendSep(out []byte) []byte {
	if len(out) > 1 {
		out = append(out, ',')
	}
	return out
}

func (e *reqEncoder) systemMessage(out []byte, m llm.Message, parts []llm.Part) []byte {
	var texts []llm.Part
	array := false
	for _, p := range parts {
		switch {
		case p.Type == llm.PartText:
			if e.anthropic && strings.HasPrefix(p.Text, anthropicBillingHeader) {
				continue
			}
			if p.CacheControl != nil && e.fl == FlavorOpenRouter {
				array = true
			}
			if p.Text != "" || array {
				texts = append(texts, p)
			}
		case p.Type == llm.PartNative && e.same:
			texts = append(texts, p)
			array = true
		}
	}
	if len(texts) == 0 {
		return out
	}
	out = appendSep(out)
	out = append(out, `{"role":`...)
	out = appendString(out, string(m.Role))
	out = appendKey(out, "content")
	if len(texts) == 1 && !array {
		out = appendString(out, texts[0].Text)
	} else {
		out = append(out, '[')
		for i, p := range texts {
			if i > 0 {
				out = append(out, ',')
			}
			out = e.contentPart(out, p)
		}
		out = append(out, ']')
	}
	if m.Name != "" {
		out = appendStringField(out, "name", m.Name)
	}
	return append(out, '}')
}

// userMessage appends a user message; a lone text part is sent as a string.
func (e *reqEncoder) userMessage(out []byte, name string, parts []llm.Part) []byte {
	var keep []llm.Part
	for _, p := range parts {
		switch p.Type {
		case llm.PartText, llm.PartImage, llm.PartFile, llm.PartNative:
			keep = append(keep, p)
		}
	}
	out = appendSep(out)
	out = append(out, `{"role":"user","content":`...)
	switch {
	case len(keep) == 0:
		out = append(out, `""`...)
	case len(keep) == 1 && keep[0].Type == llm.PartText && !e.keepCache(keep[0]):
		out = appendString(out, keep[0].Text)
	default:
		out = append(out, '[')
		for i, p := range keep {
			if i > 0 {
				out = append(out, ',')
			}
			out = e.contentPart(out, p)
		}
		out = append(out, ']')
	}
	if name != "" {
		out = appendStringField(out, "name", name)
	}
	return append(out, '}')
}

func (e *reqEncoder) keepCache(p llm.Part) bool {
	return p.CacheControl != nil && e.fl == FlavorOpenRouter
}

// contentPart appends one content part object. Media without data or URL
// becomes an empty text part; file URLs are only understood by OpenRouter
// and are sent as text references elsewhere.
func (e *reqEncoder) contentPart(out []byte, p llm.Part) []byte {
	switch p.Type {
	case llm.PartNative:
		return appendRaw(out, p.Native)
	case llm.PartImage, llm.PartFile:
		m := p.Media
		if m == nil || (m.Data == "" && m.URL == "") {
			return append(out, `{"type":"text","text":""}`...)
		}
		switch f := audioFormat(m.MediaType); {
		case p.Type == llm.PartImage || strings.HasPrefix(m.MediaType, "image/"):
			out = append(out, `{"type":"image_url","image_url":{`...)
			out = appendStringField(out, "url", m.DataURL())
			if m.Detail != "" {
				out = appendStringField(out, "detail", m.Detail)
			}
			out = append(out, '}')
		case f != "" && m.Data != "":
			out = append(out, `{"type":"input_audio","input_audio":{`...)
			out = appendStringField(out, "data", m.Data)
			out = appendStringField(out, "format", f)
			out = append(out, '}')
		case m.Data != "" || e.fl == FlavorOpenRouter && isHTTP(m.URL):
			name := m.Name
			if name == "" {
				name = "file"
			}
			out = append(out, `{"type":"file","file":{`...)
			out = appendStringField(out, "filename", name)
			out = appendStringField(out, "file_data", m.DataURL())
			out = append(out, '}')
		default:
			out = append(out, `{"type":"text"`...)
			out = appendStringField(out, "text", "File: "+m.URL)
		}
	default:
		out = append(out, `{"type":"text"`...)
		out = appendStringField(out, "text", p.Text)
	}
	if e.keepCache(p) {
		out = appendKey(out, "cache_control")
		out = appendRaw(out, p.CacheControl)
	}
	return append(out, '}')
}

func isHTTP(u string) bool {
	return strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://")
}

func (e *reqEncoder) assistantMessage(out []byte, m llm.Message, parts []llm.Part) []byte {
	var text []llm.Part
	var calls []*llm.ToolCall
	array := false
	for _, p := range parts {
		switch p.Type {
		case llm.PartText:
			if e.keepCache(p) {
				array = true
			}
			if p.Text != "" || e.keepCache(p) {
				text = append(text, p)
			}
		case llm.PartNative:
			if e.same {
				text = append(text, p)
				array = true
			}
		case llm.PartToolCall:
			if p.ToolCall != nil {
				calls = append(calls, p.ToolCall)
			}
		}
	}
	out = appendSep(out)
	out = append(out, `{"role":"assistant","content":`...)
	switch {
	case array:
		out = append(out, '[')
		for i, p := range text {
			if i > 0 {
				out = append(out, ',')
			}
			out = e.contentPart(out, p)
		}
		out = append(out, ']')
	case len(text) > 0:
		var s strings.Builder
		for i, p := range text {
			if i > 0 {
				s.WriteByte('\n')
			}
			s.WriteString(p.Text)
		}
		out = appendString(out, s.String())
	case len(calls) > 0:
		out = append(out, "null"...)
	default:
		out = append(out, `""`...)
	}
	if m.Name != "" {
		out = appendStringField(out, "name", m.Name)
	}
	out = e.assistantReasoning(out, parts)
	if len(calls) > 0 {
		out = append(out, `,"tool_calls":[`...)
		for i, tc := range calls {
			if i > 0 {
				out = append(out, ',')
			}
			if !e.nativeCustom {
				fn := tc.AsFunction()
				tc = &fn
			}
			if id := upstreamToolID(tc.ID); id != tc.ID {
				short := *tc
				short.ID = id
				tc = &short
			}
			out = appendToolCall(out, tc)
		}
		out = append(out, ']')
	}
	return append(out, '}')
}

// assistantReasoning appends the reasoning fields of an assistant message
// for the flavor (see EncodeChatRequestFlavor).
func (e *reqEncoder) assistantReasoning(out []byte, parts []llm.Part) []byte {
	if e.fl == FlavorOpenAI {
		return out
	}
	format := reasoningFormat(e.model)
	var content strings.Builder
	n := 0
	entry := func(typ string) {
		if n == 0 {
			out = append(out, `,"reasoning_details":[`...)
		} else {
			out = append(out, ',')
		}
		out = append(out, `{"type":`...)
		out = appendString(out, typ)
	}
	end := func(format string) {
		if format != "" {
			out = appendStringField(out, "format", format)
		}
		out = appendIntField(out, "index", int64(n))
		out = append(out, '}')
		n++
	}
	for _, p := range parts {
		switch p.Type {
		case llm.PartThinking:
			if p.Signature == "" && !e.same {
				continue
			}
			content.WriteString(p.Text)
			if p.Signature == "" && e.fl != FlavorOpenRouter {
				continue // reasoning_content carries it
			}
			entry("reasoning.text")
			out = appendStringField(out, "text", p.Text)
			if p.Signature != "" {
				out = appendStringField(out, "signature", p.Signature)
			}
			end(format)
		case llm.PartRedactedThinking:
			entry("reasoning.encrypted")
			out = appendStringField(out, "data", p.Data)
			end(format)
		case llm.PartToolCall:
			if p.ToolCall == nil || p.ToolCall.Signature == "" {
				continue
			}
			entry("reasoning.encrypted")
			out = appendStringField(out, "data", p.ToolCall.Signature)
			out = appendStringField(out, "id", upstreamToolID(p.ToolCall.ID))
			end(geminiReasoningFormat)
		}
	}
	if n > 0 {
		out = append(out, ']')
	}
	if e.fl == FlavorGeneric && content.Len() > 0 {
		out = appendStringField(out, "reasoning_content", content.String())
	}
	return out
}

// tools sets tools, tool_choice and parallel_tool_calls.
func (e *reqEncoder) tools(b *body, req *llm.Request) {
	if len(req.Tools) == 0 {
		return
	}
	kinds := make(map[string]string, len(req.Tools)) // name → function|custom
	v := []byte{'['}
	for _, t := range req.Tools {
		if t.Type == "custom" && !e.nativeCustom {
			t = t.AsFunction()
		}
		switch t.Type {
		case "", "function":
			v = appendSep(v)
			v = append(v, `{"type":"function","function":{`...)
			v = appendStringField(v, "name", t.Name)
			if t.Description != "" {
				v = appendStringField(v, "description", t.Description)
			}
			if len(t.Parameters) > 0 {
				v = appendKey(v, "parameters")
				v = appendRaw(v, t.Parameters)
			}
			if t.Strict != nil {
				v = appendBoolField(v, "strict", *t.Strict)
			}
			v = append(v, "}}"...)
			kinds[t.Name] = "function"
		case "custom":
			v = appendSep(v)
			v = append(v, `{"type":"custom","custom":{`...)
			v = appendStringField(v, "name", t.Name)
			if t.Description != "" {
				v = appendStringField(v, "description", t.Description)
			}
			format := gjson.GetBytes(t.Native, "custom.format") // Chat Completions shape
			if !format.Exists() {
				format = gjson.GetBytes(t.Native, "format") // Responses shape
			}
			if format.IsObject() {
				v = appendKey(v, "format")
				v = appendRaw(v, []byte(format.Raw))
			}
			v = append(v, "}}"...)
			kinds[t.Name] = "custom"
		default:
			// A hosted tool: only meaningful in the client's own dialect.
			if e.same && len(t.Native) > 0 {
				v = appendSep(v)
				v = appendRaw(v, t.Native)
				if t.Name != "" {
					kinds[t.Name] = t.Type
				}
			}
		}
	}
	if len(v) == 1 {
		return // every tool was dropped
	}
	b.set("tools", append(v, ']'))
	if tc := req.ToolChoice; tc != nil {
		switch tc.Mode {
		case llm.ToolChoiceTool:
			switch kinds[tc.Name] {
			case "function":
				c := []byte(`{"type":"function","function":{`)
				c = appendStringField(c, "name", tc.Name)
				b.set("tool_choice", append(c, "}}"...))
			case "custom":
				c := []byte(`{"type":"custom","custom":{`)
				c = appendStringField(c, "name", tc.Name)
				b.set("tool_choice", append(c, "}}"...))
			default:
				b.set("tool_choice", []byte(`"auto"`))
			}
		case llm.ToolChoiceAuto, llm.ToolChoiceNone, llm.ToolChoiceRequired:
			b.set("tool_choice", appendString(nil, string(tc.Mode)))
		}
	}
	if req.ParallelToolCalls != nil {
		b.set("parallel_tool_calls", strconv.AppendBool(nil, *req.ParallelToolCalls))
	}
}

func encodeResponseFormat(rf *llm.ResponseFormat) []byte {
	v := []byte(`{"type":`)
	switch rf.Type {
	case "json_schema":
		v = append(v, `"json_schema","json_schema":{`...)
		name := rf.Name
		if name == "" {
			name = "response"
		}
		v = appendStringField(v, "name", name)
		if len(rf.Schema) > 0 {
			v = appendKey(v, "schema")
			v = appendRaw(v, rf.Schema)
		}
		if rf.Strict != nil {
			v = appendBoolField(v, "strict", *rf.Strict)
		}
		return append(v, "}}"...)
	case "json_object":
		return append(v, `"json_object"}`...)
	}
	return append(v, `"text"}`...)
}

// reasoning sets reasoning_effort or OpenRouter's reasoning object.
func (e *reqEncoder) reasoning(b *body, r *llm.Reasoning) {
	if r == nil {
		return
	}
	if e.fl == FlavorOpenRouter {
		switch {
		case r.BudgetTokens > 0:
			v := strconv.AppendInt([]byte(`{"max_tokens":`), int64(r.BudgetTokens), 10)
			b.set("reasoning", append(v, '}'))
		case r.Effort != "":
			b.set("reasoning_effort", appendString(nil, r.Effort))
		case r.Adaptive && !r.Disabled:
			b.set("reasoning", []byte(`{"enabled":true}`))
		}
		return
	}
	switch {
	case r.Effort != "":
		b.set("reasoning_effort", appendString(nil, r.Effort))
	case r.BudgetTokens > 0:
		b.set("reasoning_effort", appendString(nil, effortForBudget(r.BudgetTokens)))
	}
}

// effortForBudget maps a thinking budget to the nearest effort level that
// every reasoning model accepts.
func effortForBudget(n int) string {
	switch {
	case n < 4096:
		return "low"
	case n < 16384:
		return "medium"
	}
	return "high"
}

// maxUserLen is the longest user id OpenAI-compatible APIs accept (OpenAI
// allows 64 characters, OpenRouter 128).
const maxUserLen = 64

// upstreamUser fits an end-user id into the user field. Longer ids — Claude
// Code's metadata.user_id is a ~190-character JSON string — become a stable
// hash, so the upstream still sees one user per id.
func upstreamUser(u string) string {
	if len(u) <= maxUserLen {
		return u
	}
	sum := sha256.Sum256([]byte(u))
	return "xjp-" + hex.EncodeToString(sum[:20])
}

// maxToolIDLen is the longest tool call id OpenAI accepts.
const maxToolIDLen = 40

// upstreamToolID fits a tool call id into OpenAI's limit. Ids minted by
// other upstreams can be long (Gemini's carry thought signatures); they
// become "call_" plus a hash, the same for a call and its result, so the
// pairing holds when a conversation moves to an OpenAI-compatible model.
func upstreamToolID(id string) string {
	if len(id) <= maxToolIDLen {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "call_" + hex.EncodeToString(sum[:16])
}
