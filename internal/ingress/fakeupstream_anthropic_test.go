package ingress_test

// A fake Anthropic Messages upstream: POST /v1/messages (and
// /v1/messages/count_tokens), x-api-key auth, anthropic-version required,
// the request rules of Anthropic's API reference (non-empty text blocks,
// alternating roles, tool_result blocks first in the user message right
// after the assistant's tool_use blocks and every tool_use answered,
// {name, input_schema} tools, object tool_choice, base64 images without a
// data: prefix, max_tokens required, no sampling parameters under
// 2026-10-21), answers as a Message or as the real event stream with
// event: lines.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Input tokens the fake reports as cache reads and writes.
const (
	anthropicCached       = 4
	anthropicCacheWritten = 5
)

type fakeAnthropic struct {
	fakeBase
	countTokens bool

	// sigs are the thinking signatures the fake issued; a replayed
	// thinking block must carry one of them.
	sigs map[string]bool
}

func newFakeAnthropic(t *testing.T, countTokens bool) *fakeAnthropic {
	f := &fakeAnthropic{fakeBase: newFakeBase("anthropic"), countTokens: countTokens, sigs: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAnthropic) issued(sig string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sigs[sig]
}

func (f *fakeAnthropic) issue(sig string) {
	f.mu.Lock()
	f.sigs[sig] = true
	f.mu.Unlock()
}

var anthropicTypes = map[int]string{
	400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
	413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 503: "api_error", 529: "overloaded_error",
}

func (f *fakeAnthropic) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := &upstreamRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	f.add(rec)
	fail := func(status int, msg string) {
		rec.Status = status
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_fake")
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		typ, ok := anthropicTypes[status]
		if !ok {
			typ = "api_error"
		}
		fmt.Fprintf(w, `{"type":"error","error":{"type":%q,"message":%s},"request_id":"req_fake"}`, typ, mustJSON(msg))
	}
	count := r.URL.Path == "/v1/messages/count_tokens"
	if r.Method != http.MethodPost || !(r.URL.Path == "/v1/messages" || count && f.countTokens) {
		if !count {
			rec.Reject = "unexpected " + r.Method + " " + r.URL.Path
		}
		fail(http.StatusNotFound, "Not Found")
		return
	}
	if got := r.Header.Get("X-Api-Key"); got != upstreamKeyAnthropic {
		rec.Reject = "bad x-api-key " + got
		fail(http.StatusUnauthorized, "invalid x-api-key")
		return
	}
	version := r.Header.Get("Anthropic-Version")
	if version == "" {
		rec.Reject = "anthropic-version header missing"
		fail(http.StatusBadRequest, "anthropic-version: header is required")
		return
	}
	m, err := readJSONBody(body)
	if err != nil {
		rec.Reject = "malformed JSON: " + err.Error()
		fail(http.StatusBadRequest, "There was an error parsing the body of your request: "+err.Error())
		return
	}
	rec.JSON = m
	c, err := f.parse(m, version, r.Header.Get("Anthropic-Beta") != "", count)
	if err != nil {
		rec.Reject = err.Error()
		fail(http.StatusBadRequest, err.Error())
		return
	}
	rec.Convo = c
	if m["model"] == "broken-claude" {
		fail(http.StatusInternalServerError, "fake anthropic upstream: this model is broken")
		return
	}
	a := decide(c, "anthropic", anthropicCached)
	a.Usage.CacheWrite = anthropicCacheWritten
	rec.Answer = &a
	if count {
		rec.Status = http.StatusOK
		a.Usage = neutralUsage{Input: 1000 + a.Usage.Input}
		rec.Answer = &a
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"input_tokens":%d}`, a.Usage.Input)
		return
	}
	if a.Fail != 0 {
		fail(a.Fail, fmt.Sprintf("fake anthropic upstream failure %d requested by the prompt", a.Fail))
		return
	}
	seq := f.nextSeq()
	for i := range a.Calls {
		a.Calls[i].ID = fmt.Sprintf("toolu_anth%d_%d", seq, i)
	}
	if a.Thinking != "" {
		a.Signature = fmt.Sprintf("sig-anth-%d-EqQBCkgIChAB", seq)
		f.issue(a.Signature)
	}
	rec.Status = http.StatusOK
	id := fmt.Sprintf("msg_fake%d", seq)
	model, _ := asString(m["model"])
	if !c.stream {
		if a.Hang {
			f.hang(r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, anthropicMessage(id, model, a))
		return
	}
	f.stream(w, r, id, model, a)
}

func anthropicStopReason(finish string) string {
	switch finish {
	case "content_filter":
		return "refusal"
	case "stop_sequence":
		return "stop_sequence"
	case "length":
		return "max_tokens"
	case "tool_calls":
		return "tool_use"
	}
	return "end_turn"
}

func anthropicMessage(id, model string, a answer) string {
	var content []any
	if a.Thinking != "" {
		content = append(content, map[string]any{"type": "thinking", "thinking": a.Thinking, "signature": a.Signature})
	}
	if a.Text != "" {
		content = append(content, map[string]any{"type": "text", "text": a.Text})
	}
	for _, c := range a.Calls {
		content = append(content, map[string]any{"type": "tool_use", "id": c.ID, "name": c.Name, "input": rawJSON(c.Args)})
	}
	if content == nil {
		content = []any{}
	}
	return fmt.Sprintf(`{"id":%q,"type":"message","role":"assistant","model":%q,"content":%s,"stop_reason":%q,"stop_sequence":%s,"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"output_tokens":%d,"service_tier":"standard"}}`,
		id, model, mustJSON(content), anthropicStopReason(a.Finish), stopSeqJSON(a), a.Usage.Input, a.Usage.CacheWrite, a.Usage.CacheRead, a.Usage.Output)
}

func stopSeqJSON(a answer) string {
	if a.StopSeq == "" {
		return "null"
	}
	return mustJSON(a.StopSeq)
}

// rawJSON keeps JSON text verbatim inside mustJSON.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

func (f *fakeAnthropic) stream(w http.ResponseWriter, r *http.Request, id, model string, a answer) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	s := newFlusher(w)
	ev := func(name, data string) { s.write("event: " + name + "\ndata: " + data + "\n\n") }
	ev("message_start", fmt.Sprintf(`{"type":"message_start","message":{"id":%q,"type":"message","role":"assistant","model":%q,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"output_tokens":1,"service_tier":"standard"}}}`,
		id, model, a.Usage.Input, a.Usage.CacheWrite, a.Usage.CacheRead))
	idx := 0
	pinged := false
	start := func(block string) {
		ev("content_block_start", fmt.Sprintf(`{"type":"content_block_start","index":%d,"content_block":%s}`, idx, block))
		if !pinged {
			pinged = true
			ev("ping", `{"type": "ping"}`)
		}
	}
	delta := func(d string) {
		ev("content_block_delta", fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":%s}`, idx, d))
	}
	stop := func() {
		ev("content_block_stop", fmt.Sprintf(`{"type":"content_block_stop","index":%d}`, idx))
		idx++
	}
	if a.Thinking != "" {
		start(`{"type":"thinking","thinking":"","signature":""}`)
		for _, p := range textPieces(a.Thinking) {
			delta(fmt.Sprintf(`{"type":"thinking_delta","thinking":%s}`, mustJSON(p)))
		}
		delta(fmt.Sprintf(`{"type":"signature_delta","signature":%q}`, a.Signature))
		stop()
	}
	if a.Text != "" {
		start(`{"type":"text","text":""}`)
		for i, p := range textPieces(a.Text) {
			if a.Cut && i == 3 {
				ev("error", `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
				return
			}
			if a.Hang && i == 2 {
				f.hang(r)
				return
			}
			delta(fmt.Sprintf(`{"type":"text_delta","text":%s}`, mustJSON(p)))
		}
		stop()
	}
	for _, c := range a.Calls {
		start(fmt.Sprintf(`{"type":"tool_use","id":%q,"name":%q,"input":{}}`, c.ID, c.Name))
		delta(`{"type":"input_json_delta","partial_json":""}`)
		if c.Args == "{}" {
			stop() // an empty input streams no fragment beyond the first ""
			continue
		}
		for _, frag := range argPieces(c.Args, 3) {
			// one event split across two writes
			s.split("event: content_block_delta\ndata: " +
				fmt.Sprintf(`{"type":"content_block_delta","index":%d,"delta":{"type":"input_json_delta","partial_json":%s}}`, idx, mustJSON(frag)) + "\n\n")
		}
		stop()
	}
	// The current API repeats the cumulative input and cache counts in
	// message_delta; they must not be added to message_start's.
	ev("message_delta", fmt.Sprintf(`{"type":"message_delta","delta":{"stop_reason":%q,"stop_sequence":%s},"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,"output_tokens":%d}}`,
		anthropicStopReason(a.Finish), stopSeqJSON(a), a.Usage.Input, a.Usage.CacheWrite, a.Usage.CacheRead, a.Usage.Output))
	ev("message_stop", `{"type":"message_stop"}`)
}

var (
	anthropicToolID   = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)
	anthropicToolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,128}$`)
	serverToolType    = regexp.MustCompile(`^[a-z_]+_\d{8}$`)
)

// parse validates a Messages (or count_tokens) body and reads the
// conversation. beta says whether the client spoke Anthropic (its
// anthropic-beta header was forwarded): only then are {"role":"system"}
// messages accepted, as for Claude Code.
func (f *fakeAnthropic) parse(m map[string]any, version string, beta, count bool) (*convo, error) {
	allowed := []string{"model", "messages", "system", "tools", "tool_choice", "thinking", "output_config",
		"context_management", "mcp_servers", "cache_control", "speed"}
	if !count {
		allowed = append(allowed, "max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "stream",
			"metadata", "service_tier", "container", "inference_geo", "diagnostics")
	}
	if bad := unknownKeys(m, allowed...); len(bad) > 0 {
		return nil, fmt.Errorf("%s: Extra inputs are not permitted", bad[0])
	}
	c := &convo{}
	if s, ok := asString(m["model"]); !ok || s == "" {
		return nil, fmt.Errorf("model: Field required")
	}
	if !count {
		n, ok := asInt(m["max_tokens"])
		if !ok || n < 1 {
			return nil, fmt.Errorf("max_tokens: Field required (a positive integer)")
		}
		c.maxTokens = n
	}
	if version >= "2026-10-21" {
		for _, k := range []string{"temperature", "top_p", "top_k"} {
			if _, ok := m[k]; ok {
				return nil, fmt.Errorf("%s: is not supported on API version %s", k, version)
			}
		}
	} else if v, ok := m["temperature"]; ok {
		var t float64
		if n, isNum := v.(interface{ Float64() (float64, error) }); isNum {
			t, _ = n.Float64()
		}
		if t < 0 || t > 1 {
			return nil, fmt.Errorf("temperature: Input should be less than or equal to 1")
		}
	}
	if v, ok := m["stream"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return nil, fmt.Errorf("stream: Input should be a valid boolean")
		}
		c.stream = b
	}
	if v, ok := m["metadata"]; ok {
		md, isMap := asMap(v)
		if !isMap || len(unknownKeys(md, "user_id")) > 0 {
			return nil, fmt.Errorf("metadata: only user_id is permitted")
		}
		if u, ok := md["user_id"]; ok {
			if s, isStr := asString(u); !isStr || len(s) > 256 {
				return nil, fmt.Errorf("metadata.user_id: String should have at most 256 characters")
			}
		}
	}
	if v, ok := m["stop_sequences"]; ok {
		l, _ := asList(v)
		for i, sv := range l {
			s, _ := asString(sv)
			if strings.TrimSpace(s) == "" {
				return nil, fmt.Errorf("stop_sequences.%d: each stop sequence must contain non-whitespace", i)
			}
			c.stops = append(c.stops, s)
		}
	}

	// tools
	names := map[string]bool{}
	if v, ok := m["tools"]; ok {
		l, ok := asList(v)
		if !ok {
			return nil, fmt.Errorf("tools: Input should be a valid list")
		}
		for i, tv := range l {
			t, _ := asMap(tv)
			if typ, has := t["type"]; has && typ != "custom" {
				if ts, _ := asString(typ); serverToolType.MatchString(ts) {
					continue // a server tool (web_search_20250305…), versioned by date
				}
				return nil, fmt.Errorf("tools.%d.type: Input should be 'custom' or a server tool type (got %v)", i, typ)
			}
			if bad := unknownKeys(t, "type", "name", "description", "input_schema", "cache_control", "defer_loading",
				"strict", "eager_input_streaming", "input_examples"); len(bad) > 0 {
				return nil, fmt.Errorf("tools.%d.%s: Extra inputs are not permitted", i, bad[0])
			}
			name, _ := asString(t["name"])
			if !anthropicToolName.MatchString(name) {
				return nil, fmt.Errorf("tools.%d.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'", i)
			}
			if names[name] {
				return nil, fmt.Errorf("tools: Tool names must be unique (%s)", name)
			}
			schema, ok := asMap(t["input_schema"])
			if !ok {
				return nil, fmt.Errorf("tools.%d.input_schema: Field required", i)
			}
			if schema["type"] != "object" {
				return nil, fmt.Errorf("tools.%d.input_schema.type: Input should be 'object'", i)
			}
			names[name] = true
			c.tools = append(c.tools, name)
		}
	}
	if v, ok := m["tool_choice"]; ok {
		tc, isMap := asMap(v)
		if !isMap {
			return nil, fmt.Errorf("tool_choice: Input should be a valid dictionary or object")
		}
		switch tc["type"] {
		case "auto", "any", "none":
		case "tool":
			if n, _ := asString(tc["name"]); !names[n] {
				return nil, fmt.Errorf("tool_choice.name: Tool %q not found in tools", n)
			}
		default:
			return nil, fmt.Errorf("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
		}
		if bad := unknownKeys(tc, "type", "name", "disable_parallel_tool_use"); len(bad) > 0 {
			return nil, fmt.Errorf("tool_choice.%s: Extra inputs are not permitted", bad[0])
		}
	}
	if v, ok := m["thinking"]; ok {
		th, _ := asMap(v)
		switch th["type"] {
		case "enabled":
			b, ok := asInt(th["budget_tokens"])
			if !ok || b < 1024 {
				return nil, fmt.Errorf("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
			}
			if !count && b >= c.maxTokens {
				return nil, fmt.Errorf("`max_tokens` must be greater than `thinking.budget_tokens`")
			}
			c.think = true
		case "adaptive":
			c.think = true
		case "disabled":
		default:
			return nil, fmt.Errorf("thinking.type: Input should be 'enabled', 'disabled' or 'adaptive'")
		}
	}

	// system
	var systems []string
	if v, ok := m["system"]; ok {
		s, err := anthropicSystem("system", v)
		if err != nil {
			return nil, err
		}
		systems = append(systems, s)
	}

	// messages
	msgs, ok := asList(m["messages"])
	if !ok || len(msgs) == 0 {
		return nil, fmt.Errorf("messages: List should have at least 1 item")
	}
	prevRole := ""
	var prevToolUse []string // tool_use ids of the previous (assistant) message
	for i, mv := range msgs {
		msg, _ := asMap(mv)
		role, _ := asString(msg["role"])
		path := fmt.Sprintf("messages.%d", i)
		if role == "system" {
			if !beta {
				return nil, fmt.Errorf(`%s: Unexpected role "system". The Messages API accepts a top-level `+"`system`"+` parameter, not "system" as an input message role.`, path)
			}
			if bad := unknownKeys(msg, "role", "content", "output_config"); len(bad) > 0 {
				return nil, fmt.Errorf("%s.%s: Extra inputs are not permitted", path, bad[0])
			}
			s, err := anthropicSystem(path+".content", msg["content"])
			if err != nil {
				return nil, err
			}
			if s != "" {
				systems = append(systems, s)
			}
			continue
		}
		if role != "user" && role != "assistant" {
			return nil, fmt.Errorf("%s.role: Input should be 'user' or 'assistant'", path)
		}
		if bad := unknownKeys(msg, "role", "content"); len(bad) > 0 {
			return nil, fmt.Errorf("%s.%s: Extra inputs are not permitted", path, bad[0])
		}
		if prevRole == "" && role != "user" {
			return nil, fmt.Errorf("messages: first message must use the \"user\" role")
		}
		if role == prevRole {
			return nil, fmt.Errorf("messages: roles must alternate between \"user\" and \"assistant\", but found multiple %q roles in a row", role)
		}
		t, toolUse, err := f.anthropicTurn(path, role, msg["content"], prevToolUse, i == len(msgs)-1)
		if err != nil {
			return nil, err
		}
		if role == "user" && len(prevToolUse) > 0 {
			var got []string
			for _, r := range t.results {
				got = append(got, r.ID)
			}
			for _, id := range prevToolUse {
				if !slices.Contains(got, id) {
					return nil, fmt.Errorf("%s: `tool_use` ids were found without `tool_result` blocks immediately after: %s. Each `tool_use` block must have a corresponding `tool_result` block in the next message.", path, id)
				}
			}
		}
		if role == "assistant" {
			prevToolUse = toolUse
		} else {
			prevToolUse = nil
		}
		prevRole = role
		c.turns = append(c.turns, t)
	}
	if len(prevToolUse) > 0 {
		return nil, fmt.Errorf("messages: `tool_use` ids were found without `tool_result` blocks immediately after: %s", strings.Join(prevToolUse, ", "))
	}
	if c.think {
		if err := thinkingRules(m, msgs); err != nil {
			return nil, err
		}
	}
	c.system = strings.Join(systems, "\n")
	return c, nil
}

// anthropicSystem reads a system prompt: a string or text blocks.
func anthropicSystem(path string, v any) (string, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case []any:
		var texts []string
		for j, bv := range s {
			b, _ := asMap(bv)
			if b["type"] != "text" {
				return "", fmt.Errorf("%s.%d.type: Input should be 'text'", path, j)
			}
			if bad := unknownKeys(b, "type", "text", "cache_control", "citations"); len(bad) > 0 {
				return "", fmt.Errorf("%s.%d.%s: Extra inputs are not permitted", path, j, bad[0])
			}
			text, _ := asString(b["text"])
			if strings.TrimSpace(text) == "" {
				return "", fmt.Errorf("%s.%d: text content blocks must be non-empty", path, j)
			}
			texts = append(texts, text)
		}
		return strings.Join(texts, "\n"), nil
	}
	return "", fmt.Errorf("%s: Input should be a valid string or list", path)
}

// anthropicTurn validates one user or assistant message.
func (f *fakeAnthropic) anthropicTurn(path, role string, content any, prevToolUse []string, last bool) (turn, []string, error) {
	t := turn{role: role}
	var toolUse []string
	switch cv := content.(type) {
	case string:
		if strings.TrimSpace(cv) == "" && !(last && role == "assistant") {
			return t, nil, fmt.Errorf("%s: text content blocks must be non-empty", path)
		}
		t.text = cv
		return t, nil, nil
	case []any:
		if len(cv) == 0 && !(last && role == "assistant") {
			return t, nil, fmt.Errorf("%s.content: List should have at least 1 item", path)
		}
		var texts []string
		sawOther := false
		for j, bv := range cv {
			b, _ := asMap(bv)
			bp := fmt.Sprintf("%s.content.%d", path, j)
			typ, _ := asString(b["type"])
			switch typ {
			case "text":
				if bad := unknownKeys(b, "type", "text", "cache_control", "citations"); len(bad) > 0 {
					return t, nil, fmt.Errorf("%s.%s: Extra inputs are not permitted", bp, bad[0])
				}
				s, _ := asString(b["text"])
				if strings.TrimSpace(s) == "" {
					return t, nil, fmt.Errorf("%s: text content blocks must contain non-whitespace text", bp)
				}
				texts = append(texts, s)
				sawOther = true
			case "image":
				if role != "user" {
					return t, nil, fmt.Errorf("%s: image blocks are only allowed in user messages", bp)
				}
				desc, err := anthropicImage(bp, b)
				if err != nil {
					return t, nil, err
				}
				t.images = append(t.images, desc)
				sawOther = true
			case "document":
				sawOther = true
			case "tool_use":
				if role != "assistant" {
					return t, nil, fmt.Errorf("%s: tool_use blocks are only allowed in assistant messages", bp)
				}
				if bad := unknownKeys(b, "type", "id", "name", "input", "cache_control", "caller"); len(bad) > 0 {
					return t, nil, fmt.Errorf("%s.%s: Extra inputs are not permitted", bp, bad[0])
				}
				id, _ := asString(b["id"])
				if !anthropicToolID.MatchString(id) {
					return t, nil, fmt.Errorf("%s.id: String should match pattern '^[a-zA-Z0-9_-]+$' (got %q)", bp, id)
				}
				name, _ := asString(b["name"])
				input, ok := asMap(b["input"])
				if !ok || name == "" {
					return t, nil, fmt.Errorf("%s: tool_use needs a name and an input object", bp)
				}
				t.calls = append(t.calls, fakeCall{ID: id, Name: name, Args: mustJSON(input)})
				toolUse = append(toolUse, id)
			case "tool_result":
				if role != "user" {
					return t, nil, fmt.Errorf("%s: tool_result blocks are only allowed in user messages", bp)
				}
				if sawOther {
					return t, nil, fmt.Errorf("%s: tool_result blocks must come first in the user message, before any other content", bp)
				}
				if bad := unknownKeys(b, "type", "tool_use_id", "content", "is_error", "cache_control"); len(bad) > 0 {
					return t, nil, fmt.Errorf("%s.%s: Extra inputs are not permitted", bp, bad[0])
				}
				id, _ := asString(b["tool_use_id"])
				if !slices.Contains(prevToolUse, id) {
					return t, nil, fmt.Errorf("%s: unexpected `tool_use_id` found in `tool_result` blocks: %s. Each `tool_result` block must have a corresponding `tool_use` block in the previous message.", bp, id)
				}
				text, err := anthropicResultContent(bp+".content", b["content"])
				if err != nil {
					return t, nil, err
				}
				t.results = append(t.results, fakeResult{ID: id, Content: text})
			case "thinking":
				if role != "assistant" {
					return t, nil, fmt.Errorf("%s: thinking blocks are only allowed in assistant messages", bp)
				}
				sig, _ := asString(b["signature"])
				if !f.issued(sig) {
					return t, nil, fmt.Errorf("%s: Invalid `signature` in `thinking` block", bp)
				}
			case "redacted_thinking":
				if role != "assistant" {
					return t, nil, fmt.Errorf("%s: redacted_thinking blocks are only allowed in assistant messages", bp)
				}
			default:
				return t, nil, fmt.Errorf("%s.type: Input tag '%s' found using 'type' does not match any of the expected tags", bp, typ)
			}
		}
		t.text = strings.Join(texts, "\n")
		return t, toolUse, nil
	}
	return t, nil, fmt.Errorf("%s.content: Input should be a valid string or list", path)
}

func anthropicResultContent(path string, v any) (string, error) {
	switch c := v.(type) {
	case nil:
		return "", nil
	case string:
		return c, nil
	case []any:
		var texts []string
		for j, bv := range c {
			b, _ := asMap(bv)
			switch b["type"] {
			case "text":
				s, _ := asString(b["text"])
				if strings.TrimSpace(s) == "" {
					return "", fmt.Errorf("%s.%d: text content blocks must contain non-whitespace text", path, j)
				}
				texts = append(texts, s)
			case "image":
				if _, err := anthropicImage(fmt.Sprintf("%s.%d", path, j), b); err != nil {
					return "", err
				}
			default:
				return "", fmt.Errorf("%s.%d.type: Input should be 'text' or 'image'", path, j)
			}
		}
		return strings.Join(texts, "\n"), nil
	}
	return "", fmt.Errorf("%s: Input should be a valid string or list", path)
}

// anthropicImage validates an image block and describes it for the model.
func anthropicImage(path string, b map[string]any) (string, error) {
	src, ok := asMap(b["source"])
	if !ok {
		return "", fmt.Errorf("%s.source: Field required", path)
	}
	switch src["type"] {
	case "base64":
		mt, _ := asString(src["media_type"])
		data, _ := asString(src["data"])
		if !slices.Contains([]string{"image/jpeg", "image/png", "image/gif", "image/webp"}, mt) {
			return "", fmt.Errorf("%s.source.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'", path)
		}
		if strings.HasPrefix(data, "data:") {
			return "", fmt.Errorf("%s.source.data: base64 data must not carry a data: URL prefix", path)
		}
		raw, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			return "", fmt.Errorf("%s.source.data: invalid base64 data", path)
		}
		if sniffed := http.DetectContentType(raw); !bytes.HasPrefix([]byte(sniffed), []byte(mt)) {
			return "", fmt.Errorf("%s: Image does not match the provided media type %s", path, mt)
		}
		return mt, nil
	case "url":
		u, _ := asString(src["url"])
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return "", fmt.Errorf("%s.source.url: Input should be a valid URL", path)
		}
		return "url:" + u, nil
	}
	return "", fmt.Errorf("%s.source.type: Input should be 'base64' or 'url'", path)
}

// thinkingRules are the extended-thinking constraints of the Messages API:
// no forced tool use, temperature 1 only, no top_k, top_p of at least 0.95,
// and a final assistant turn that calls tools must start with a thinking
// block.
func thinkingRules(m map[string]any, msgs []any) error {
	if tc, ok := asMap(m["tool_choice"]); ok && (tc["type"] == "any" || tc["type"] == "tool") {
		return fmt.Errorf("Thinking may not be enabled when tool_choice forces tool use.")
	}
	num := func(k string) (float64, bool) {
		n, ok := m[k].(interface{ Float64() (float64, error) })
		if !ok {
			return 0, false
		}
		f, _ := n.Float64()
		return f, true
	}
	if t, ok := num("temperature"); ok && t != 1 {
		return fmt.Errorf("`temperature` may only be set to 1 when thinking is enabled.")
	}
	if _, ok := m["top_k"]; ok {
		return fmt.Errorf("`top_k` must be unset when thinking is enabled.")
	}
	if p, ok := num("top_p"); ok && p < 0.95 {
		return fmt.Errorf("`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled.")
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		msg, _ := asMap(msgs[i])
		if msg["role"] != "assistant" {
			continue
		}
		blocks, ok := asList(msg["content"])
		if !ok || len(blocks) == 0 {
			return nil
		}
		hasToolUse := false
		for _, b := range blocks {
			if bm, _ := asMap(b); bm["type"] == "tool_use" {
				hasToolUse = true
			}
		}
		first, _ := asMap(blocks[0])
		if hasToolUse && first["type"] != "thinking" && first["type"] != "redacted_thinking" {
			return fmt.Errorf("messages.%d.content.0.type: Expected `thinking` or `redacted_thinking`, but found `%v`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks).", i, first["type"])
		}
		return nil
	}
	return nil
}
