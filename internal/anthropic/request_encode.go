package anthropic

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/rickyjim626/xjp/internal/llm"
)

// EncodeMessagesRequest builds the body of POST /v1/messages for one
// upstream attempt. version is the anthropic-version header the request is
// sent with; it decides which fields may be sent.
//
// Rules, beyond the one-to-one field mapping:
//
//   - "stream" follows the client: a non-streaming client gets one JSON
//     answer upstream too, cheaper to relay than a folded stream. "model"
//     is call.Model.
//   - max_tokens is call.MaxTokens(), or DefaultMaxTokens (4096) when that
//     is 0, because Anthropic requires it.
//   - Leading system and developer messages become the top-level system
//     blocks (cache_control kept). A system message later in the
//     conversation stays in place (Anthropic accepts {"role": "system"}
//     after a user turn) when the request arrived in this dialect, and is
//     appended to the top-level system otherwise.
//   - Consecutive tool messages and the user content right after them become
//     one user message whose tool_result blocks come first; other
//     consecutive messages of the same role are merged.
//   - Text blocks that are empty or whitespace only are never sent
//     (Anthropic rejects them); a message left with no content is dropped.
//   - Thinking parts are sent only when they carry a signature: unsigned
//     reasoning from other providers cannot be replayed to Anthropic and is
//     dropped. Redacted thinking is kept.
//   - Tool call arguments (JSON text) become the input object; "" becomes
//     {}; anything else that is not a JSON object is a 400.
//   - Content of another dialect (llm.PartNative) is a 400; hosted tools of
//     another dialect are dropped. Responses "custom" freeform tools go as
//     the function llm.Tool.AsFunction makes of them, and their calls in the
//     history as calls of that function (input {"input": "<raw text>"}).
//   - temperature, top_p and top_k are not sent for 2026-10-21 or later;
//     before it, temperature is clamped to [0, 1] (OpenAI clients may send
//     up to 2; clamping keeps the request working where a 400 would not).
//     For 2026-10-21 or later, document blocks in assistant messages are
//     dropped and citations are removed from text blocks in user messages.
//   - Reasoning: BudgetTokens becomes thinking {type: enabled} with the
//     budget raised to MinThinkingBudget and kept below max_tokens
//     (max_tokens is raised to budget + 4096 when needed, within
//     call.MaxTokensCap; when the cap leaves no room, thinking is not sent);
//     Adaptive becomes {type: adaptive}; Disabled is omitted, or sent as
//     {type: disabled} when the client spoke this dialect. An OpenAI-style
//     Effort (only when the client did not speak this dialect) becomes a
//     budget: minimal 1024, low 2048, medium 8192, high 16384, xhigh 32768,
//     none: no thinking; when the client set a max tokens, the budget is
//     kept within half of it (before the 1024 floor). For requests from
//     other dialects with thinking on, sampling parameters thinking cannot
//     use are left out (temperature other than 1, top_k, top_p below 0.95),
//     and thinking is left out when the last assistant turn calls tools
//     without a signed thinking block first or when tool_choice forces a
//     tool (Anthropic rejects both with thinking on).
//   - ResponseFormat json_schema becomes output_config.format {type:
//     json_schema, schema} (Anthropic structured outputs); json_object has
//     no Anthropic equivalent and is dropped.
//   - For clients of other dialects: stop sequences that are whitespace
//     only are dropped and a final assistant message (a prefill) loses its
//     trailing whitespace (Anthropic rejects both), and tool call ids get
//     characters outside [a-zA-Z0-9_-] replaced by "_" (consistently in
//     tool_use and tool_result, so pairs still match).
//   - Native.Fields are merged when the request arrived in this dialect
//     (objects the encoder also writes, such as thinking or output_config,
//     are merged member by member, the encoder's members winning);
//     call.Body is merged last and wins.
func EncodeMessagesRequest(call *llm.Call, version string) ([]byte, error) {
	e := newRequestEncoder(call, version, false)
	return e.encode()
}

// encodeCountTokensRequest builds the body of POST
// /v1/messages/count_tokens: the same translation without max_tokens,
// stream and the fields count_tokens does not accept.
func encodeCountTokensRequest(call *llm.Call, version string) ([]byte, error) {
	e := newRequestEncoder(call, version, true)
	return e.encode()
}

// countTokensDenied are Messages fields count_tokens rejects.
var countTokensDenied = []string{"max_tokens", "stream", "metadata", "stop_sequences",
	"temperature", "top_p", "top_k", "service_tier", "inference_geo", "container", "diagnostics"}

type requestEncoder struct {
	call    *llm.Call
	req     *llm.Request
	version string
	same    bool // the client spoke this dialect
	v2026   bool
	count   bool
}

func newRequestEncoder(call *llm.Call, version string, count bool) *requestEncoder {
	req := call.Request
	return &requestEncoder{
		call:    call,
		req:     req,
		version: version,
		same:    req.Native != nil && req.Native.Dialect == llm.DialectAnthropic,
		v2026:   versionAtLeast(version, Version20261021),
		count:   count,
	}
}

// block is one encoded content block.
type block struct {
	raw        json.RawMessage
	toolResult bool
	kind       string // "thinking", "tool_use", …: the block's type
}

// wireMessage is one encoded message before merging.
type wireMessage struct {
	role   string
	blocks []block
	extras json.RawMessage
}

func (e *requestEncoder) encode() ([]byte, error) {
	var o object
	model := e.call.Model
	if model == "" {
		model = e.req.Model
	}
	o.setString("model", model)

	maxTokens := 0
	if !e.count {
		maxTokens = e.call.MaxTokens()
		if maxTokens <= 0 {
			maxTokens = DefaultMaxTokens
		}
		o.setInt("max_tokens", 0) // placeholder keeps the member order
	}

	system, msgs, err := e.messages()
	if err != nil {
		return nil, err
	}
	if len(system) > 0 {
		o.set("system", appendBlocks(nil, system))
	}
	o.set("messages", appendMessages(nil, msgs))

	tools := e.tools()
	if len(tools) > 0 {
		o.set("tools", appendRawList(nil, tools))
		if tc := e.toolChoice(); tc != nil {
			o.set("tool_choice", tc)
		}
	}

	thinking, maxTokens := e.thinking(maxTokens, msgs)

	if !e.count {
		o.setInt("max_tokens", int64(maxTokens))
		if stops := e.stopSequences(); len(stops) > 0 {
			o.set("stop_sequences", stops)
		}
		if !e.v2026 {
			e.sampling(&o, thinking != nil)
		}
		if e.req.User != "" {
			var md object
			md.setString("user_id", e.req.User)
			o.set("metadata", md.bytes())
		}
	}
	if thinking != nil {
		o.set("thinking", thinking)
	}
	if rf := e.req.ResponseFormat; rf != nil && rf.Type == "json_schema" && isJSONObject(rf.Schema) {
		var f, oc object
		f.setString("type", "json_schema")
		f.set("schema", compact(rf.Schema))
		oc.set("format", f.bytes())
		o.set("output_config", oc.bytes())
	}
	if !e.count && e.req.Stream {
		o.set("stream", json.RawMessage("true"))
	}

	if e.same {
		for _, k := range sortedKeys(e.req.Native.Fields) {
			v := e.req.Native.Fields[k]
			if e.count && slices.Contains(countTokensDenied, k) {
				continue
			}
			if e.v2026 && (k == "temperature" || k == "top_p" || k == "top_k") {
				continue
			}
			if cur, ok := o.get(k); ok {
				if k == "max_tokens" && e.req.MaxTokens == 0 {
					o.set(k, v) // the client's explicit 0 (cache pre-warming)
					continue
				}
				o.set(k, mergeObjects(cur, v))
				continue
			}
			o.set(k, v)
		}
	}
	for _, k := range sortedKeys(e.call.Body) {
		o.set(k, e.call.Body[k])
	}
	return o.bytes(), nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// messages splits the conversation into top-level system blocks and
// messages, merged and ordered as Anthropic requires.
func (e *requestEncoder) messages() (system []block, out []wireMessage, err error) {
	leading := true
	for i, m := range e.req.Messages {
		switch m.Role {
		case llm.RoleSystem, llm.RoleDeveloper:
			blocks, err := e.contentBlocks(i, m.Content, "system")
			if err != nil {
				return nil, nil, err
			}
			if leading || !e.same {
				system = append(system, blocks...)
				continue
			}
			if len(blocks) > 0 || len(m.Native) > 0 {
				out = append(out, wireMessage{role: "system", blocks: blocks, extras: m.Native})
			}
			continue
		case llm.RoleAssistant:
			blocks, err := e.contentBlocks(i, m.Content, "assistant")
			if err != nil {
				return nil, nil, err
			}
			out = append(out, wireMessage{role: "assistant", blocks: blocks, extras: e.extras(m)})
		default: // user, tool, and roles newer than this code
			blocks, err := e.contentBlocks(i, m.Content, "user")
			if err != nil {
				return nil, nil, err
			}
			out = append(out, wireMessage{role: "user", blocks: blocks, extras: e.extras(m)})
		}
		leading = false
	}

	// drop empty messages, then merge neighbours of the same role
	merged := out[:0]
	for _, m := range out {
		if len(m.blocks) == 0 && (m.role != "system" || len(m.extras) == 0) {
			continue
		}
		if n := len(merged); n > 0 && m.role != "system" && merged[n-1].role == m.role {
			prev := &merged[n-1]
			prev.blocks = append(prev.blocks, m.blocks...)
			if len(m.extras) > 0 {
				if len(prev.extras) == 0 {
					prev.extras = m.extras
				} else {
					prev.extras = mergeObjects(prev.extras, m.extras)
				}
			}
			continue
		}
		merged = append(merged, m)
	}
	// Anthropic rejects a final assistant message (a prefill) that ends
	// with whitespace; clients of other dialects do not know that.
	if n := len(merged); n > 0 && !e.same && merged[n-1].role == "assistant" {
		m := &merged[n-1]
		if k := len(m.blocks) - 1; m.blocks[k].kind == "text" {
			var tb struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(m.blocks[k].raw, &tb) == nil && strings.TrimRightFunc(tb.Text, unicode.IsSpace) != tb.Text {
				var o object
				o.setString("type", "text")
				o.setString("text", strings.TrimRightFunc(tb.Text, unicode.IsSpace))
				m.blocks[k].raw = mergeObjects(o.bytes(), m.blocks[k].raw)
			}
		}
	}
	// tool_result blocks come first in a user message
	for i := range merged {
		if merged[i].role == "user" {
			slices.SortStableFunc(merged[i].blocks, func(a, b block) int {
				switch {
				case a.toolResult && !b.toolResult:
					return -1
				case !a.toolResult && b.toolResult:
					return 1
				}
				return 0
			})
		}
	}
	return system, merged, nil
}

func (e *requestEncoder) extras(m llm.Message) json.RawMessage {
	if e.same {
		return m.Native
	}
	return nil
}

// contentBlocks encodes the parts of message i for a message of role.
func (e *requestEncoder) contentBlocks(i int, parts []llm.Part, role string) ([]block, error) {
	blocks := make([]block, 0, len(parts))
	for j, p := range parts {
		path := "messages." + strconv.Itoa(i) + ".content." + strconv.Itoa(j)
		b, err := e.partBlock(path, p, role)
		if err != nil {
			return nil, err
		}
		if b.raw != nil {
			blocks = append(blocks, b)
		}
	}
	return blocks, nil
}

// partBlock encodes one part; a zero block means the part is dropped.
func (e *requestEncoder) partBlock(path string, p llm.Part, role string) (block, error) {
	var o object
	var known []string
	switch p.Type {
	case llm.PartText:
		if strings.TrimSpace(p.Text) == "" {
			return block{}, nil
		}
		o.setString("type", "text")
		o.setString("text", p.Text)
		known = []string{"type", "text", "cache_control"}
		if e.v2026 && role != "assistant" {
			known = append(known, "citations") // 2026-10-21 rejects citations in user turns
		}
	case llm.PartImage:
		if role == "system" {
			return block{}, nil
		}
		src, err := imageSource(path, p.Media)
		if err != nil {
			return block{}, err
		}
		o.setString("type", "image")
		o.set("source", src)
		known = []string{"type", "source", "cache_control"}
	case llm.PartFile:
		if role == "system" || role == "assistant" && e.v2026 {
			return block{}, nil
		}
		if p.Media != nil && strings.HasPrefix(p.Media.MediaType, "image/") {
			src, err := imageSource(path, p.Media)
			if err != nil {
				return block{}, err
			}
			o.setString("type", "image")
			o.set("source", src)
			break
		}
		src, err := documentSource(path, p.Media)
		if err != nil {
			return block{}, err
		}
		o.setString("type", "document")
		o.set("source", src)
		if p.Media.Name != "" {
			o.setString("title", p.Media.Name)
		}
	case llm.PartThinking:
		if p.Signature == "" || role == "system" {
			return block{}, nil
		}
		o.setString("type", "thinking")
		o.setString("thinking", p.Text)
		o.setString("signature", p.Signature)
		known = []string{"type", "thinking", "signature", "cache_control"}
	case llm.PartRedactedThinking:
		if p.Data == "" || role == "system" {
			return block{}, nil
		}
		o.setString("type", "redacted_thinking")
		o.setString("data", p.Data)
		known = []string{"type", "data", "cache_control"}
	case llm.PartToolCall:
		if role == "system" || p.ToolCall == nil {
			return block{}, nil
		}
		tc := p.ToolCall
		if tc.Type == "custom" { // a freeform tool's call, in its function form
			fn := tc.AsFunction()
			tc = &fn
		}
		input, err := toolInput(tc.Arguments)
		if err != nil {
			return block{}, bad(path, "tool call %q arguments are not a JSON object: %v", tc.Name, err)
		}
		id := e.toolID(tc.ID)
		if id == "" {
			id = newID("toolu_")
		}
		o.setString("type", "tool_use")
		o.setString("id", id)
		o.setString("name", tc.Name)
		o.set("input", input)
		known = []string{"type", "id", "name", "input", "cache_control"}
	case llm.PartToolResult:
		if role == "system" || p.ToolResult == nil {
			return block{}, nil
		}
		tr := p.ToolResult
		o.setString("type", "tool_result")
		o.setString("tool_use_id", e.toolID(tr.ToolCallID))
		var content []block
		for k, cp := range tr.Content {
			b, err := e.partBlock(path+".content."+strconv.Itoa(k), cp, "user")
			if err != nil {
				return block{}, err
			}
			if b.raw != nil {
				content = append(content, b)
			}
		}
		if len(content) > 0 {
			o.set("content", appendBlocks(nil, content))
		}
		if tr.IsError {
			o.set("is_error", rawBool(true))
		}
		known = []string{"type", "tool_use_id", "content", "is_error", "cache_control"}
	case llm.PartNative:
		if p.Dialect != llm.DialectAnthropic {
			return block{}, bad(path, "content of the %s format cannot be sent to an anthropic upstream", dialectName(p.Dialect))
		}
		if role == "assistant" && e.v2026 && blockType(p.Native) == "document" {
			return block{}, nil
		}
		return block{raw: p.Native, kind: blockType(p.Native), toolResult: blockType(p.Native) == "tool_result"}, nil
	default:
		return block{}, nil
	}
	if len(p.CacheControl) > 0 {
		o.set("cache_control", p.CacheControl)
	}
	if p.Dialect == llm.DialectAnthropic && len(p.Native) > 0 {
		o.addExtras(p.Native, known...)
	}
	typ, _ := o.get("type")
	kind, _ := strconv.Unquote(string(typ))
	return block{raw: o.bytes(), toolResult: p.Type == llm.PartToolResult, kind: kind}, nil
}

// toolID makes a tool call id from another dialect acceptable to
// Anthropic, whose ids match ^[a-zA-Z0-9_-]+$ (some OpenAI-compatible
// providers mint ids such as "functions.get_weather:0"): other bytes become
// "_". The mapping is deterministic, so a call and its result still pair.
func (e *requestEncoder) toolID(id string) string {
	if e.same {
		return id
	}
	var b []byte
	for i := 0; i < len(id); i++ {
		c := id[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			continue
		}
		if b == nil {
			b = []byte(id)
		}
		b[i] = '_'
	}
	if b == nil {
		return id
	}
	return string(b)
}

func dialectName(d llm.Dialect) string {
	if d == "" {
		return "unknown"
	}
	return string(d)
}

// blockType returns the "type" member of a raw block.
func blockType(raw json.RawMessage) string {
	var t struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(raw, &t)
	return t.Type
}

// toolInput turns tool call arguments into Anthropic's input object.
func toolInput(args string) (json.RawMessage, error) {
	s := strings.TrimSpace(args)
	if s == "" || s == "null" {
		return json.RawMessage("{}"), nil
	}
	if !json.Valid([]byte(s)) {
		return nil, fmt.Errorf("invalid JSON")
	}
	if kindOf([]byte(s)) != '{' {
		return nil, fmt.Errorf("not an object")
	}
	return compact(json.RawMessage(s)), nil
}

// imageSource encodes an image: base64 data (or a data: URL) as a base64
// source, other URLs as a url source.
func imageSource(path string, m *llm.Media) (json.RawMessage, error) {
	if m == nil {
		return nil, bad(path, "image has no data")
	}
	var o object
	mt, data := m.MediaType, m.Data
	if data == "" {
		if t, d, ok := llm.ParseDataURL(m.URL); ok {
			mt, data = t, d
		}
	}
	switch {
	case data != "":
		if mt == "" || !strings.HasPrefix(mt, "image/") {
			mt = sniffBase64(data)
		}
		o.setString("type", "base64")
		o.setString("media_type", mt)
		o.setString("data", data)
	case m.URL != "":
		o.setString("type", "url")
		o.setString("url", m.URL)
	default:
		return nil, bad(path, "image has no data")
	}
	return o.bytes(), nil
}

// sniffBase64 guesses the media type of base64 image data.
func sniffBase64(data string) string {
	n := min(len(data), 64)
	n -= n % 4
	head, err := base64.StdEncoding.DecodeString(data[:n])
	if err != nil {
		return "image/png"
	}
	mt := http.DetectContentType(head)
	if !strings.HasPrefix(mt, "image/") {
		return "image/png"
	}
	return mt
}

// documentSource encodes a PDF or plain-text document.
func documentSource(path string, m *llm.Media) (json.RawMessage, error) {
	if m == nil {
		return nil, bad(path, "document has no data")
	}
	var o object
	mt, data := m.MediaType, m.Data
	if data == "" {
		if t, d, ok := llm.ParseDataURL(m.URL); ok {
			mt, data = t, d
		}
	}
	if mt == "" && strings.HasSuffix(strings.ToLower(m.URL), ".pdf") {
		mt = "application/pdf"
	}
	switch {
	case mt == "application/pdf" && data != "":
		o.setString("type", "base64")
		o.setString("media_type", mt)
		o.setString("data", data)
	case mt == "application/pdf" && m.URL != "":
		o.setString("type", "url")
		o.setString("url", m.URL)
	case strings.HasPrefix(mt, "text/") && data != "":
		text, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return nil, bad(path, "document data is not valid base64")
		}
		o.setString("type", "text")
		o.setString("media_type", "text/plain")
		o.setString("data", string(text))
	default:
		if mt == "" {
			mt = "unknown"
		}
		return nil, bad(path, "anthropic upstreams accept PDF and plain-text documents only, not %s", mt)
	}
	return o.bytes(), nil
}

// tools encodes the tool definitions.
func (e *requestEncoder) tools() []json.RawMessage {
	var out []json.RawMessage
	for _, t := range e.req.Tools {
		if t.Type == "custom" {
			// Anthropic has no freeform tools: a custom tool (Codex's
			// apply_patch) goes as a function taking its input as one string.
			t = t.AsFunction()
		}
		switch t.Type {
		case "", "function":
			var o object
			o.setString("name", t.Name)
			if t.Description != "" {
				o.setString("description", t.Description)
			}
			schema := json.RawMessage(`{"type":"object","properties":{}}`)
			if isJSONObject(t.Parameters) {
				schema = compact(t.Parameters)
			}
			o.set("input_schema", schema)
			if e.same && t.Strict != nil {
				o.set("strict", rawBool(*t.Strict))
			}
			if len(t.CacheControl) > 0 {
				o.set("cache_control", t.CacheControl)
			}
			if e.same && len(t.Native) > 0 {
				o.addExtras(t.Native)
			}
			out = append(out, o.bytes())
		default:
			// Anthropic server tools travel verbatim; hosted tools of other
			// dialects have no equivalent here.
			if e.same && len(t.Native) > 0 {
				out = append(out, t.Native)
			}
		}
	}
	return out
}

func (e *requestEncoder) toolChoice() json.RawMessage {
	tc := e.req.ToolChoice
	par := e.req.ParallelToolCalls
	if tc == nil && (par == nil || *par) {
		return nil
	}
	var o object
	mode := llm.ToolChoiceAuto
	if tc != nil && tc.Mode != "" {
		mode = tc.Mode
	}
	switch mode {
	case llm.ToolChoiceRequired:
		o.setString("type", "any")
	case llm.ToolChoiceNone:
		o.setString("type", "none")
	case llm.ToolChoiceTool:
		o.setString("type", "tool")
		o.setString("name", tc.Name)
	default:
		o.setString("type", "auto")
	}
	if par != nil && mode != llm.ToolChoiceNone && (!*par || e.same) {
		o.set("disable_parallel_tool_use", rawBool(!*par))
	}
	return o.bytes()
}

func (e *requestEncoder) stopSequences() json.RawMessage {
	var stops []string
	for _, s := range e.req.Stop {
		if !e.same && strings.TrimSpace(s) == "" {
			continue
		}
		stops = append(stops, s)
	}
	if len(stops) == 0 {
		return nil
	}
	b := []byte{'['}
	for i, s := range stops {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// sampling writes temperature, top_p and top_k (versions before
// 2026-10-21 only).
func (e *requestEncoder) sampling(o *object, thinking bool) {
	restrict := thinking && !e.same
	if t := e.req.Temperature; t != nil {
		v := min(max(*t, 0), 1)
		if !restrict || v == 1 {
			o.set("temperature", strconv.AppendFloat(nil, v, 'g', -1, 64))
		}
	}
	if p := e.req.TopP; p != nil {
		v := min(max(*p, 0), 1)
		if !restrict || v >= 0.95 {
			o.set("top_p", strconv.AppendFloat(nil, v, 'g', -1, 64))
		}
	}
	if k := e.req.TopK; k != nil && !restrict {
		o.setInt("top_k", int64(*k))
	}
}

// effortBudgets maps OpenAI reasoning effort to a thinking budget.
var effortBudgets = map[string]int{
	"minimal": 1024,
	"low":     2048,
	"medium":  8192,
	"high":    16384,
	"xhigh":   32768,
}

// thinkingAnswerRoom is what max_tokens keeps beyond the thinking budget
// when it has to be raised.
const thinkingAnswerRoom = 4096

// thinking encodes the reasoning configuration and returns max_tokens,
// raised when the budget needs it.
func (e *requestEncoder) thinking(maxTokens int, msgs []wireMessage) (json.RawMessage, int) {
	r := e.req.Reasoning
	if r == nil {
		return nil, maxTokens
	}
	var o object
	switch {
	case r.Disabled:
		if !e.same {
			return nil, maxTokens
		}
		o.setString("type", "disabled")
		return o.bytes(), maxTokens
	case r.Adaptive:
		o.setString("type", "adaptive")
	case r.BudgetTokens > 0:
		b, mt, ok := e.fitBudget(r.BudgetTokens, maxTokens, false)
		if !ok {
			return nil, maxTokens
		}
		o.setString("type", "enabled")
		o.setInt("budget_tokens", int64(b))
		maxTokens = mt
	case r.Effort != "" && !e.same:
		budget, ok := effortBudgets[r.Effort]
		if !ok {
			return nil, maxTokens
		}
		b, mt, ok := e.fitBudget(budget, maxTokens, true)
		if !ok {
			return nil, maxTokens
		}
		o.setString("type", "enabled")
		o.setInt("budget_tokens", int64(b))
		maxTokens = mt
	default:
		return nil, maxTokens
	}
	if !e.same && (!lastToolTurnThinks(msgs) || e.forcesTool()) {
		return nil, e.callMaxTokens(maxTokens)
	}
	return o.bytes(), maxTokens
}

// forcesTool reports whether tool_choice forces a tool call (any or a
// named tool), which Anthropic does not allow together with thinking.
func (e *requestEncoder) forcesTool() bool {
	tc := e.req.ToolChoice
	return tc != nil && len(e.req.Tools) > 0 && (tc.Mode == llm.ToolChoiceRequired || tc.Mode == llm.ToolChoiceTool)
}

// callMaxTokens undoes a raise of max_tokens when thinking is left out.
func (e *requestEncoder) callMaxTokens(mt int) int {
	if n := e.call.MaxTokens(); n > 0 {
		return n
	}
	if e.count {
		return 0
	}
	return DefaultMaxTokens
}

// fitBudget applies Anthropic's budget rules: at least MinThinkingBudget
// and below max_tokens. ok is false when the route's cap leaves no room.
func (e *requestEncoder) fitBudget(b, maxTokens int, fromEffort bool) (budget, mt int, ok bool) {
	if e.count {
		return max(b, MinThinkingBudget), 0, true
	}
	if fromEffort && e.req.MaxTokens > 0 {
		b = min(b, maxTokens/2)
	}
	b = max(b, MinThinkingBudget)
	if b < maxTokens {
		return b, maxTokens, true
	}
	mt = b + thinkingAnswerRoom
	if c := e.call.MaxTokensCap; c > 0 && mt > c {
		mt = c
		if b >= mt {
			b = mt - thinkingAnswerRoom
			if b < MinThinkingBudget {
				b = mt - 1
			}
			if b < MinThinkingBudget {
				return 0, maxTokens, false
			}
		}
	}
	return b, mt, true
}

// lastToolTurnThinks reports whether the last assistant message, when it
// calls tools, starts with a thinking block: with thinking on, Anthropic
// rejects a final assistant tool turn that does not.
func lastToolTurnThinks(msgs []wireMessage) bool {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].role != "assistant" {
			continue
		}
		bs := msgs[i].blocks
		if !slices.ContainsFunc(bs, func(b block) bool { return b.kind == "tool_use" }) {
			return true
		}
		return len(bs) > 0 && (bs[0].kind == "thinking" || bs[0].kind == "redacted_thinking")
	}
	return true
}

func appendBlocks(dst []byte, blocks []block) []byte {
	dst = append(dst, '[')
	for i, b := range blocks {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, b.raw...)
	}
	return append(dst, ']')
}

func appendRawList(dst []byte, items []json.RawMessage) []byte {
	dst = append(dst, '[')
	for i, it := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, it...)
	}
	return append(dst, ']')
}

func appendMessages(dst []byte, msgs []wireMessage) []byte {
	dst = append(dst, '[')
	for i, m := range msgs {
		if i > 0 {
			dst = append(dst, ',')
		}
		var o object
		o.setString("role", m.role)
		o.set("content", appendBlocks(nil, m.blocks))
		if len(m.extras) > 0 {
			o.addExtras(m.extras)
		}
		dst = o.appendTo(dst)
	}
	return append(dst, ']')
}
