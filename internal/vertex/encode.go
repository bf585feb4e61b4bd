package vertex

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"

	"github.com/rickyjim626/xjp/internal/llm"
)

// The two APIs that speak this dialect.
const (
	// APIVertex is Vertex AI (aiplatform.googleapis.com, /v1): regional,
	// global and express-mode endpoints.
	APIVertex = "vertex"
	// APIGemini is the Gemini Developer API of AI Studio
	// (generativelanguage.googleapis.com, /v1beta).
	APIGemini = "gemini"
)

// NormalizeModel returns the bare model id of "gemini-2.5-pro",
// "models/gemini-2.5-pro", "publishers/google/models/gemini-2.5-pro" or a
// full "projects/…/publishers/google/models/gemini-2.5-pro" resource name.
// Tuned-model endpoints ("projects/p/locations/l/endpoints/123") are
// returned unchanged.
func NormalizeModel(model string) string {
	model = strings.Trim(strings.TrimSpace(model), "/")
	if strings.Contains(model, "/endpoints/") {
		return model
	}
	if i := strings.LastIndex(model, "models/"); i >= 0 {
		return model[i+len("models/"):]
	}
	return model
}

var generationRE = regexp.MustCompile(`gemini-(\d+)(?:\.(\d+))?`)

// modelGeneration returns the Gemini version of a model id (2.5 → 25, 3 →
// 30, 3.1 → 31), 30 for the "-latest" aliases, and 0 when unknown.
func modelGeneration(model string) int {
	m := strings.ToLower(model)
	if sub := generationRE.FindStringSubmatch(m); sub != nil {
		major, _ := strconv.Atoi(sub[1])
		minor := 0
		if sub[2] != "" {
			minor, _ = strconv.Atoi(sub[2][:1])
		}
		return major*10 + minor
	}
	if strings.HasPrefix(m, "gemini-") && strings.HasSuffix(m, "-latest") {
		return 30
	}
	return 0
}

// partMeta remembers which tool call a part belongs to while contents are
// assembled (function calls and responses are re-ordered to pair up).
type partMeta struct {
	callID   string
	response bool
}

type encoder struct {
	api   string
	model string
	gen   int
	req   *llm.Request

	contents []Content
	meta     [][]partMeta
	system   []Part
	calls    map[string]*llm.ToolCall // tool-call id → call, from assistant turns
}

// EncodeRequest encodes call as a GenerateContentRequest for api (APIVertex
// or APIGemini; "" means APIVertex). It is pure: media given by http(s) URL
// is sent as fileData (Client.Stream fetches and inlines it beforehand).
func EncodeRequest(call *llm.Call, api string) ([]byte, error) {
	if call == nil || call.Request == nil {
		return nil, llm.InvalidRequest("", "empty request")
	}
	if api == "" {
		api = APIVertex
	}
	e := &encoder{api: api, model: NormalizeModel(call.Model), req: call.Request, calls: map[string]*llm.ToolCall{}}
	e.gen = modelGeneration(e.model)
	for _, m := range e.req.Messages {
		if m.Role != llm.RoleAssistant {
			continue
		}
		for _, p := range m.Content {
			if p.Type == llm.PartToolCall && p.ToolCall != nil && p.ToolCall.ID != "" {
				e.calls[p.ToolCall.ID] = p.ToolCall
			}
		}
	}

	for i, m := range e.req.Messages {
		if err := e.message(i, m); err != nil {
			return nil, err
		}
	}
	e.pairResponses()
	e.signatures()
	if len(e.contents) == 0 {
		return nil, llm.InvalidRequest("messages", "the request has no user or assistant content to send")
	}

	out := GenerateContentRequest{Contents: e.contents}
	if len(e.system) > 0 {
		out.SystemInstruction = &Content{Parts: e.system}
	}
	tools, hasFunctions, err := e.tools()
	if err != nil {
		return nil, err
	}
	out.Tools = tools
	if hasFunctions {
		out.ToolConfig = toolConfig(e.req.ToolChoice)
	}
	gc, err := e.generationConfig(call)
	if err != nil {
		return nil, err
	}
	out.GenerationConfig = gc

	body, err := marshal(out)
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindGatewayInternal, Status: 500, Message: "encode gemini request: " + err.Error(), Err: err}
	}
	var native map[string]json.RawMessage
	if e.req.Native != nil && e.req.Native.Dialect == llm.DialectGemini {
		native = e.req.Native.Fields
	}
	if len(native) == 0 && len(call.Body) == 0 {
		return body, nil
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, &llm.Error{Kind: llm.KindGatewayInternal, Status: 500, Message: "encode gemini request: " + err.Error(), Err: err}
	}
	for k, v := range native {
		top[k] = mergeMissing(top[k], v)
	}
	for k, v := range call.Body {
		top[k] = v
	}
	return marshal(top)
}

// mergeMissing returns computed with the members of native it lacks: what
// the codec produced wins, and an object such as generationConfig keeps the
// native members the codec does not model (responseModalities,
// speechConfig…). A missing computed value yields native.
func mergeMissing(computed, native json.RawMessage) json.RawMessage {
	if len(computed) == 0 {
		return native
	}
	var c, n map[string]json.RawMessage
	if json.Unmarshal(computed, &c) != nil || json.Unmarshal(native, &n) != nil || c == nil || n == nil {
		return computed
	}
	for k, v := range n {
		if _, set := c[k]; !set {
			c[k] = v
		}
	}
	b, err := marshal(c)
	if err != nil {
		return computed
	}
	return b
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// add appends parts to the conversation, merging with the previous turn
// when it has the same role (Gemini wants alternating user/model turns).
func (e *encoder) add(role string, parts []Part, meta []partMeta) {
	if len(parts) == 0 {
		return
	}
	if n := len(e.contents); n > 0 && e.contents[n-1].Role == role {
		e.contents[n-1].Parts = append(e.contents[n-1].Parts, parts...)
		e.meta[n-1] = append(e.meta[n-1], meta...)
		return
	}
	e.contents = append(e.contents, Content{Role: role, Parts: parts})
	e.meta = append(e.meta, meta)
}

func (e *encoder) message(i int, m llm.Message) error {
	param := fmt.Sprintf("messages[%d]", i)
	switch m.Role {
	case llm.RoleSystem, llm.RoleDeveloper:
		for _, p := range m.Content {
			// Claude Code's attribution block changes on every request; sent
			// on, it would defeat Gemini's prefix caching.
			if p.Type == llm.PartText && p.Text != "" && !strings.HasPrefix(p.Text, "x-anthropic-billing-header:") {
				e.system = append(e.system, Part{Text: p.Text})
			}
		}
		return nil
	case llm.RoleAssistant:
		var parts []Part
		var meta []partMeta
		for j, p := range m.Content {
			switch p.Type {
			case llm.PartText:
				if p.Text != "" {
					parts, meta = append(parts, Part{Text: p.Text}), append(meta, partMeta{})
				}
			case llm.PartThinking, llm.PartRedactedThinking:
				// Thought text is never replayed: Gemini keeps its reasoning
				// state in signatures, and other providers' thinking means
				// nothing to it.
			case llm.PartToolCall:
				fp, err := e.functionCall(p.ToolCall, fmt.Sprintf("%s.content[%d]", param, j))
				if err != nil {
					return err
				}
				parts, meta = append(parts, fp), append(meta, partMeta{callID: p.ToolCall.ID})
			default:
				fp, ok, err := e.contentPart(p, fmt.Sprintf("%s.content[%d]", param, j))
				if err != nil {
					return err
				}
				if ok {
					parts, meta = append(parts, fp), append(meta, partMeta{})
				}
			}
		}
		e.add("model", parts, meta)
		return nil
	case llm.RoleUser, llm.RoleTool, "":
		var parts []Part
		var meta []partMeta
		for j, p := range m.Content {
			pp := fmt.Sprintf("%s.content[%d]", param, j)
			if p.Type == llm.PartToolResult {
				rp, extra, err := e.functionResponse(p, pp)
				if err != nil {
					return err
				}
				parts, meta = append(parts, rp), append(meta, partMeta{callID: p.ToolResult.ToolCallID, response: true})
				for _, x := range extra {
					parts, meta = append(parts, x), append(meta, partMeta{})
				}
				continue
			}
			if p.Type == llm.PartThinking || p.Type == llm.PartRedactedThinking || p.Type == llm.PartToolCall {
				continue
			}
			fp, ok, err := e.contentPart(p, pp)
			if err != nil {
				return err
			}
			if ok {
				parts, meta = append(parts, fp), append(meta, partMeta{})
			}
		}
		e.add("user", parts, meta)
		return nil
	}
	return llm.InvalidRequest(param+".role", "unsupported role %q", m.Role)
}

// contentPart converts text, media and native parts. ok is false for parts
// that are dropped (empty text).
func (e *encoder) contentPart(p llm.Part, param string) (Part, bool, error) {
	switch p.Type {
	case llm.PartText:
		if p.Text == "" {
			return Part{}, false, nil
		}
		return Part{Text: p.Text}, true, nil
	case llm.PartImage, llm.PartFile:
		mp, err := mediaPart(p.Media, param)
		return mp, err == nil, err
	case llm.PartNative:
		if p.Dialect == llm.DialectGemini && len(p.Native) > 0 {
			var np Part
			if err := json.Unmarshal(p.Native, &np); err != nil {
				return Part{}, false, llm.InvalidRequest(param, "invalid gemini part: %v", err)
			}
			return np, true, nil
		}
		return Part{}, false, llm.InvalidRequest(param, "a %s-only content part cannot be sent to a gemini model", p.Dialect)
	}
	return Part{}, false, llm.InvalidRequest(param, "content part of type %q cannot be sent to a gemini model", p.Type)
}

// mediaPart maps an image, video, audio or document to inlineData or
// fileData.
func mediaPart(m *llm.Media, param string) (Part, error) {
	if m == nil {
		return Part{}, llm.InvalidRequest(param, "media part without media")
	}
	if m.Data != "" {
		mt := m.MediaType
		if mt == "" {
			mt = sniffBase64(m.Data)
		}
		if mt == "" {
			return Part{}, llm.InvalidRequest(param, "inline media has no media type")
		}
		return Part{InlineData: &Blob{MIMEType: mt, Data: m.Data}}, nil
	}
	if m.URL == "" {
		return Part{}, llm.InvalidRequest(param, "media part has neither data nor a url")
	}
	if mt, data, ok := llm.ParseDataURL(m.URL); ok {
		if mt == "" {
			mt = sniffBase64(data)
		}
		if mt == "" {
			return Part{}, llm.InvalidRequest(param, "data url has no media type")
		}
		return Part{InlineData: &Blob{MIMEType: mt, Data: data}}, nil
	}
	mt := m.MediaType
	if mt == "" && IsYouTubeURL(m.URL) {
		mt = "video/mp4"
	}
	if mt == "" {
		mt = mediaTypeByExtension(m.URL)
	}
	if mt == "" {
		return Part{}, llm.InvalidRequest(param, "cannot tell the media type of %s: give the file an extension or a media type", redactURL(m.URL))
	}
	return Part{FileData: &FileData{MIMEType: mt, FileURI: m.URL}}, nil
}

// IsYouTubeURL reports whether u is a YouTube video URL, which Gemini reads
// by reference (fileData) rather than by fetching.
func IsYouTubeURL(u string) bool {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") {
		return false
	}
	switch strings.ToLower(pu.Hostname()) {
	case "youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be", "music.youtube.com":
		return true
	}
	return false
}

// redactURL drops the query (signed URLs carry credentials) for messages.
func redactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i]
	}
	return u
}

var extMediaTypes = map[string]string{
	".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
	".webp": "image/webp", ".heic": "image/heic", ".heif": "image/heif", ".bmp": "image/bmp",
	".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown", ".html": "text/html",
	".csv": "text/csv", ".json": "application/json",
	".mp4": "video/mp4", ".mpeg": "video/mpeg", ".mpg": "video/mpeg", ".mov": "video/quicktime",
	".avi": "video/x-msvideo", ".flv": "video/x-flv", ".webm": "video/webm", ".wmv": "video/x-ms-wmv",
	".3gp": "video/3gpp", ".mp3": "audio/mpeg", ".wav": "audio/wav", ".aac": "audio/aac",
	".ogg": "audio/ogg", ".flac": "audio/flac", ".m4a": "audio/mp4", ".aiff": "audio/aiff",
}

// mediaTypeByExtension guesses from the URL path's extension (a fixed table,
// so results do not depend on the host's mime.types).
func mediaTypeByExtension(u string) string {
	p := u
	if pu, err := url.Parse(u); err == nil && pu.Path != "" {
		p = pu.Path
	}
	return extMediaTypes[strings.ToLower(path.Ext(p))]
}

// sniffBase64 recognises the common media signatures at the start of base64
// data.
func sniffBase64(data string) string {
	n := min(len(data), 24)
	n -= n % 4
	head, err := base64.StdEncoding.DecodeString(data[:n])
	if err != nil {
		return ""
	}
	return sniffBytes(head)
}

func sniffBytes(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "image/gif"
	case len(b) >= 12 && bytes.Equal(b[:4], []byte("RIFF")) && bytes.Equal(b[8:12], []byte("WEBP")):
		return "image/webp"
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return "application/pdf"
	}
	return ""
}

// functionCall maps an assistant tool call. The signature is settled later
// (signatures), once the turn's parts are known.
func (e *encoder) functionCall(tc *llm.ToolCall, param string) (Part, error) {
	if tc == nil || tc.Name == "" {
		return Part{}, llm.InvalidRequest(param, "tool call without a name")
	}
	args := argsObject(tc.Arguments)
	if tc.Type == "custom" { // a custom tool's call, in its function form
		args = json.RawMessage(llm.CustomArguments(tc.Arguments))
	}
	fc := &FunctionCall{Name: tc.Name, Args: args}
	if gid, _, ok := ParseToolCallID(tc.ID); ok {
		fc.ID = gid
	}
	return Part{FunctionCall: fc}, nil
}

// argsObject returns the arguments as a JSON object: Gemini's args is a
// Struct. Empty arguments are {}; anything that is not an object (a custom
// tool's raw input, a truncated string) is wrapped as {"input": "<text>"}.
func argsObject(args string) json.RawMessage {
	s := strings.TrimSpace(args)
	if s == "" {
		return json.RawMessage("{}")
	}
	if strings.HasPrefix(s, "{") && json.Valid([]byte(s)) {
		var buf bytes.Buffer
		if json.Compact(&buf, []byte(s)) == nil {
			return buf.Bytes()
		}
	}
	b, _ := marshal(map[string]string{"input": args})
	return b
}

// functionResponse maps a tool result. Its text goes in response.output
// ("error" when IsError), the key Google's reference names for function
// output; images or files in the result follow as separate parts.
func (e *encoder) functionResponse(part llm.Part, param string) (Part, []Part, error) {
	tr := part.ToolResult
	if tr == nil {
		return Part{}, nil, llm.InvalidRequest(param, "tool result part without a result")
	}
	name := tr.Name
	var gid string
	if tc, found := e.calls[tr.ToolCallID]; found {
		name = tc.Name
	}
	if g, _, ok := ParseToolCallID(tr.ToolCallID); ok {
		gid = g
	}
	if name == "" {
		return Part{}, nil, llm.InvalidRequest(param, "tool result %q answers no tool call in the conversation, and gemini needs the function name", tr.ToolCallID)
	}
	var resp json.RawMessage
	if part.Dialect == llm.DialectGemini && len(part.Native) > 0 {
		// A Gemini client's own response object goes back as it was sent.
		resp = part.Native
	} else {
		key := "output"
		if tr.IsError {
			key = "error"
		}
		var err error
		if resp, err = marshal(map[string]string{key: tr.Text()}); err != nil {
			return Part{}, nil, llm.InvalidRequest(param, "tool result: %v", err)
		}
	}
	var extra []Part
	for j, p := range tr.Content {
		if p.Type == llm.PartImage || p.Type == llm.PartFile {
			mp, err := mediaPart(p.Media, fmt.Sprintf("%s.content[%d]", param, j))
			if err != nil {
				return Part{}, nil, err
			}
			extra = append(extra, mp)
		}
	}
	return Part{FunctionResponse: &FunctionResponse{ID: gid, Name: name, Response: resp}}, extra, nil
}

// pairResponses orders the functionResponse parts of each user turn like the
// functionCall parts of the model turn before it, and puts them first:
// Gemini pairs calls and responses by position.
func (e *encoder) pairResponses() {
	for i := 1; i < len(e.contents); i++ {
		if e.contents[i].Role != "user" || e.contents[i-1].Role != "model" {
			continue
		}
		order := map[string]int{}
		for k, m := range e.meta[i-1] {
			if m.callID != "" {
				order[m.callID] = k
			}
		}
		type item struct {
			part Part
			meta partMeta
			key  int
		}
		var responses, others []item
		for k, p := range e.contents[i].Parts {
			m := e.meta[i][k]
			if !m.response {
				others = append(others, item{p, m, 0})
				continue
			}
			pos, found := order[m.callID]
			if !found {
				pos = 1<<30 + k
			}
			responses = append(responses, item{p, m, pos})
		}
		if len(responses) == 0 {
			continue
		}
		// Stable insertion sort: turns are short.
		for a := 1; a < len(responses); a++ {
			for b := a; b > 0 && responses[b].key < responses[b-1].key; b-- {
				responses[b], responses[b-1] = responses[b-1], responses[b]
			}
		}
		parts := make([]Part, 0, len(e.contents[i].Parts))
		meta := make([]partMeta, 0, len(parts))
		for _, it := range append(responses, others...) {
			parts, meta = append(parts, it.part), append(meta, it.meta)
		}
		e.contents[i].Parts, e.meta[i] = parts, meta
	}
}

// signatures puts each function call's thoughtSignature on its part: from
// llm.ToolCall.Signature, else from the id minted by the decoder. Gemini 3
// validates the first function call of each model turn; when it has no
// signature (history from another model, a client that dropped it), the
// documented bypass value is sent instead.
func (e *encoder) signatures() {
	for i, c := range e.contents {
		if c.Role != "model" {
			continue
		}
		first := true
		for k := range c.Parts {
			p := &e.contents[i].Parts[k]
			if p.FunctionCall == nil {
				continue
			}
			tc := e.calls[e.meta[i][k].callID]
			var sig string
			if tc != nil && validSignature(tc.Signature) {
				sig = tc.Signature
			} else if _, s, ok := ParseToolCallID(e.meta[i][k].callID); ok && validSignature(s) {
				sig = s
			}
			if sig == "" && first && e.gen >= 30 {
				sig = SkipThoughtSignature
			}
			p.ThoughtSignature = sig
			first = false
		}
	}
}

func (e *encoder) tools() ([]json.RawMessage, bool, error) {
	var decls []FunctionDeclaration
	var hosted []json.RawMessage
	nativeGemini := e.req.Native != nil && e.req.Native.Dialect == llm.DialectGemini
	for i, t := range e.req.Tools {
		if t.Type == "custom" {
			// Gemini has no freeform tools: a custom tool (Codex's
			// apply_patch) goes as a function taking its input as one string.
			t = t.AsFunction()
		}
		switch t.Type {
		case "", "function":
			d := FunctionDeclaration{Name: t.Name, Description: t.Description}
			cs, err := cleanSchema(t.Parameters, e.api)
			if err != nil {
				return nil, false, llm.InvalidRequest(fmt.Sprintf("tools[%d].parameters", i), "tool %q: %v", t.Name, err)
			}
			d.Parameters, d.ParametersJSONSchema = cs.Schema, cs.JSONSchema
			decls = append(decls, d)
		default:
			// A Gemini hosted tool (googleSearch, codeExecution…) from a
			// Gemini-native client is forwarded; hosted tools of other
			// dialects have no Gemini equivalent.
			if nativeGemini && len(t.Native) > 0 {
				hosted = append(hosted, t.Native)
			}
		}
	}
	var out []json.RawMessage
	if len(decls) > 0 {
		b, err := marshal(Tool{FunctionDeclarations: decls})
		if err != nil {
			return nil, false, err
		}
		out = append(out, b)
	}
	return append(out, hosted...), len(decls) > 0, nil
}

func toolConfig(tc *llm.ToolChoice) *ToolConfig {
	if tc == nil {
		return nil
	}
	fc := &FunctionCallingConfig{}
	switch tc.Mode {
	case llm.ToolChoiceAuto:
		fc.Mode = "AUTO"
	case llm.ToolChoiceNone:
		fc.Mode = "NONE"
	case llm.ToolChoiceRequired:
		fc.Mode = "ANY"
	case llm.ToolChoiceTool:
		fc.Mode = "ANY"
		if tc.Name != "" {
			fc.AllowedFunctionNames = []string{tc.Name}
		}
	default:
		return nil
	}
	return &ToolConfig{FunctionCallingConfig: fc}
}

func (e *encoder) generationConfig(call *llm.Call) (*GenerationConfig, error) {
	r := e.req
	gc := &GenerationConfig{
		Temperature:   r.Temperature,
		TopP:          r.TopP,
		TopK:          r.TopK,
		StopSequences: r.Stop,
	}
	if n := call.MaxTokens(); n > 0 {
		gc.MaxOutputTokens = n
	}
	if r.Seed != nil {
		// Gemini's seed is an int32: fold larger values into range.
		s := int32(*r.Seed & math.MaxInt32)
		gc.Seed = &s
	}
	if rf := r.ResponseFormat; rf != nil && (rf.Type == "json_object" || rf.Type == "json_schema") {
		gc.ResponseMIMEType = "application/json"
		if len(rf.Schema) > 0 {
			cs, err := cleanSchema(rf.Schema, e.api)
			if err != nil {
				return nil, llm.InvalidRequest("response_format", "response schema: %v", err)
			}
			gc.ResponseSchema, gc.ResponseJSONSchema = cs.Schema, cs.JSONSchema
		}
	}
	gc.ThinkingConfig = thinkingConfig(r.Reasoning, e.model, e.gen)
	if isZeroGenerationConfig(gc) {
		return nil, nil
	}
	return gc, nil
}

func isZeroGenerationConfig(gc *GenerationConfig) bool {
	b, _ := json.Marshal(gc)
	return string(b) == "{}"
}

// Thinking.
//
// Gemini 2.5 models take a token budget (thinkingBudget: -1 dynamic, 0 off;
// 2.5 Pro 128–32768 and cannot turn thinking off, 2.5 Flash 0–24576, 2.5
// Flash-Lite 512–24576). Gemini 3 models take a level (thinkingLevel: Pro
// LOW/HIGH (3.1 Pro also MEDIUM), Flash MINIMAL/LOW/MEDIUM/HIGH) and still
// accept thinkingBudget for compatibility; sending both is a 400. Gemini
// 2.0 and older have no thinking config at all.
//
//   - budget tokens (Anthropic thinking.budget_tokens) → thinkingBudget,
//     clamped to the 2.5 model's range
//   - effort on Gemini 3+: minimal → MINIMAL (LOW on Pro), low → LOW,
//     medium → MEDIUM (HIGH on Pro), high/xhigh/max → HIGH
//   - effort on 2.5: minimal 512, low 1024, medium 8192, high 24576 (32768
//     on Pro) budget tokens, clamped
//   - adaptive → no level (Gemini 3's own dynamic default) / budget -1 (2.5)
//   - disabled / effort "none" → MINIMAL (LOW on Pro) on Gemini 3, budget 0
//     (128 on 2.5 Pro, which cannot turn thinking off)
//
// includeThoughts is set whenever thinking was asked for, so thought
// summaries stream back as thinking blocks.
func thinkingConfig(r *llm.Reasoning, model string, gen int) *ThinkingConfig {
	if r == nil || (gen > 0 && gen < 25) {
		return nil
	}
	m := strings.ToLower(model)
	pro := strings.Contains(m, "-pro")
	lite := strings.Contains(m, "lite")
	levels := gen >= 30
	budget := func(n int) *ThinkingConfig {
		if gen == 25 {
			lo, hi := 1, 24576
			switch {
			case pro:
				lo, hi = 128, 32768
			case lite:
				lo = 512
			}
			n = max(lo, min(n, hi))
		}
		return &ThinkingConfig{IncludeThoughts: true, ThinkingBudget: &n}
	}
	effort := strings.ToLower(r.Effort)
	if r.Disabled || effort == "none" {
		if levels {
			if pro {
				return &ThinkingConfig{ThinkingLevel: "LOW"}
			}
			return &ThinkingConfig{ThinkingLevel: "MINIMAL"}
		}
		n := 0
		if pro && gen == 25 {
			n = 128
		}
		return &ThinkingConfig{ThinkingBudget: &n}
	}
	if r.BudgetTokens > 0 {
		return budget(r.BudgetTokens)
	}
	if effort != "" {
		if levels {
			level := "HIGH"
			switch effort {
			case "minimal":
				level = "MINIMAL"
				if pro {
					level = "LOW"
				}
			case "low":
				level = "LOW"
			case "medium":
				level = "MEDIUM"
				if pro {
					level = "HIGH"
				}
			}
			return &ThinkingConfig{IncludeThoughts: true, ThinkingLevel: level}
		}
		n := 24576
		switch effort {
		case "minimal":
			n = 512
		case "low":
			n = 1024
		case "medium":
			n = 8192
		default:
			if pro {
				n = 32768
			}
		}
		return budget(n)
	}
	if r.Adaptive && !levels {
		n := -1
		return &ThinkingConfig{IncludeThoughts: true, ThinkingBudget: &n}
	}
	return &ThinkingConfig{IncludeThoughts: true}
}
