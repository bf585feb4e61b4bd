package ingress_test

// Claude Code through xjp: a recorded-shape Claude Code request
// (testdata/claude_code_request.json: three system blocks, the first the
// x-anthropic-billing-header attribution block, the others with
// cache_control; a {"role":"system"} message after the user turn with an
// output_config; 20 tools whose schemas use $schema, additionalProperties,
// exclusiveMinimum and const, one with defer_loading; adaptive thinking,
// output_config, context_management, metadata.user_id, stream true,
// max_tokens 32000) sent raw over HTTP to /v1/messages?beta=true with
// Claude Code's headers, with x-api-key and with Bearer auth.
//
// Against the Anthropic upstream the body must arrive as sent (model
// aside) with anthropic-version and anthropic-beta forwarded; against the
// OpenAI-compatible and Gemini upstreams it must be translated into a
// request they accept. Every answer must be an Anthropic event stream the
// Anthropic SDK accumulates. A second turn replays the first answer
// (thinking with its signature, tool_use) with the tool results.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	ant "github.com/anthropics/anthropic-sdk-go/v2"
)

const claudeCodeBeta = "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27,per-turn-control-2026-07-01,mid-conversation-tool-changes-2026-07-01,thinking-token-count-2026-05-13,advanced-tool-use-2025-11-20,effort-2025-11-24"

// claudeCodeRequest loads the fixture with model set.
func claudeCodeRequest(t *testing.T, model string) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/claude_code_request.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := readJSONBody(b)
	if err != nil {
		t.Fatal(err)
	}
	m["model"] = model
	return m
}

// claudeCodeHeaders are the headers Claude Code 2.1 sends; auth is
// "x-api-key" or "bearer".
func claudeCodeHeaders(auth string) map[string]string {
	h := map[string]string{
		"Anthropic-Version":           "2023-06-01",
		"Anthropic-Beta":              claudeCodeBeta,
		"X-App":                       "cli",
		"X-Claude-Code-Session-Id":    "5f0c2d1e-7b3a-4e59-9c21-0d8f6a7b3c42",
		"User-Agent":                  "claude-cli/2.1.330 (external, cli)",
		"Accept":                      "application/json",
		"X-Stainless-Lang":            "js",
		"X-Stainless-Package-Version": "0.70.0",
		"X-Stainless-Retry-Count":     "0",
		"Anthropic-Dangerous-Direct-Browser-Access": "true",
	}
	if auth == "bearer" {
		h["Authorization"] = "Bearer " + keyValid
	} else {
		h["X-Api-Key"] = keyValid
	}
	return h
}

type ccTarget struct {
	name     string
	model    string
	upstream string
}

var ccTargets = []ccTarget{
	{"anthropic", modelAnthropic, upstreamModelAnthropic},
	{"openai", modelOpenAI, upstreamModelOpenAI},
	{"gemini-vertex", modelGemini, upstreamModelGemini},
	{"gemini-aistudio", modelGeminiStudio, upstreamModelGemini},
}

func TestClaudeCode(t *testing.T) {
	for _, tg := range ccTargets {
		for _, auth := range []string{"x-api-key", "bearer"} {
			t.Run(tg.name+"/"+auth, func(t *testing.T) {
				t.Parallel()
				// The user-length limit is tested on its own
				// (TestClaudeCodeUserIDForOpenAI), so that the rest of
				// the translation is checked here.
				h := newHarness(t, harnessOptions{openAIUserLimit: -1})
				fake := h.fakeFor(tg.model)
				req := claudeCodeRequest(t, tg.model)
				body := []byte(mustJSON(req))
				id := h.newRequestID()
				hdr := claudeCodeHeaders(auth)
				hdr["X-Request-Id"] = id
				resp := h.rawPost(t, "/v1/messages?beta=true", hdr, body)
				if rej := fake.rejections(); len(rej) > 0 {
					t.Fatalf("the %s upstream rejected the translated Claude Code request:\n%s", tg.name, strings.Join(rej, "\n"))
				}
				if resp.status != http.StatusOK {
					t.Fatalf("status %d: %s", resp.status, resp.body)
				}
				if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
					t.Errorf("content type %q", ct)
				}
				msg := checkAnthropicStream(t, string(resp.body))
				up := fake.last()
				a := up.Answer
				checkClaudeCodeAnswer(t, msg, a)
				rec := h.record(t, id)
				if rec.Status != 200 || rec.Usage.InputTokens != a.Usage.Input || rec.Usage.CacheReadTokens != a.Usage.CacheRead ||
					rec.Usage.CacheWriteTokens != a.Usage.CacheWrite || rec.Usage.OutputTokens != a.Usage.Output {
					t.Errorf("usage record %+v, the upstream reported %+v", rec, a.Usage)
				}

				switch tg.name {
				case "anthropic":
					checkFaithful(t, req, up, tg.upstream)
				case "openai":
					checkClaudeCodeOpenAI(t, up)
				default:
					checkClaudeCodeGemini(t, up)
				}
				if strings.Contains(strings.Join(headerValues(up.Header), " "), keyValid) {
					t.Errorf("the client's xjp key reached the upstream")
				}

				// Turn 2: the answer goes back with the tool results.
				if len(a.Calls) == 0 {
					t.Fatalf("the upstream did not call Glob: %q", a.Text)
				}
				req2 := claudeCodeSecondTurn(t, req, msg)
				id2 := h.newRequestID()
				hdr["X-Request-Id"] = id2
				resp2 := h.rawPost(t, "/v1/messages?beta=true", hdr, []byte(mustJSON(req2)))
				if rej := fake.rejections(); len(rej) > 0 {
					t.Fatalf("the %s upstream rejected the second turn:\n%s", tg.name, strings.Join(rej, "\n"))
				}
				if resp2.status != http.StatusOK {
					t.Fatalf("turn 2: status %d: %s", resp2.status, resp2.body)
				}
				msg2 := checkAnthropicStream(t, string(resp2.body))
				up2 := fake.last()
				checkClaudeCodeAnswer(t, msg2, up2.Answer)
				if !strings.Contains(up2.Answer.Text, "internal/llm/llm.go") {
					t.Errorf("turn 2: the upstream did not see the tool result: %q", up2.Answer.Text)
				}
				if tg.name == "anthropic" {
					checkFaithful(t, req2, up2, tg.upstream)
				}
				h.record(t, id2)
			})
		}
	}
}

// checkAnthropicStream checks the event sequence Claude Code depends on and
// accumulates it with the Anthropic SDK.
func checkAnthropicStream(t *testing.T, body string) ant.Message {
	t.Helper()
	evs := parseSSE(body)
	if len(evs) < 4 {
		t.Fatalf("short stream: %s", body)
	}
	var msg ant.Message
	open := map[int64]string{} // index → block type
	next := int64(0)
	pinged := false
	partial := map[int64]*strings.Builder{}
	for i, ev := range evs {
		if ev.event == "" {
			t.Fatalf("event %d has no event: line (the SDK ignores it): %s", i, ev.data)
		}
		var head struct {
			Type  string `json:"type"`
			Index int64  `json:"index"`
		}
		if err := json.Unmarshal([]byte(ev.data), &head); err != nil {
			t.Fatalf("event %d: %v: %s", i, err, ev.data)
		}
		if head.Type != ev.event {
			t.Errorf("event %d: event: %s but data type %s", i, ev.event, head.Type)
		}
		switch {
		case i == 0 && ev.event != "message_start":
			t.Fatalf("first event %s, want message_start", ev.event)
		case i == len(evs)-1 && ev.event != "message_stop":
			t.Fatalf("last event %s, want message_stop: %s", ev.event, body)
		}
		switch ev.event {
		case "ping":
			pinged = true
			continue
		case "error":
			t.Fatalf("stream error: %s", ev.data)
		case "content_block_start":
			if head.Index != next {
				t.Errorf("content_block_start index %d, want %d", head.Index, next)
			}
			next++
			var cb struct {
				ContentBlock struct {
					Type  string          `json:"type"`
					Input json.RawMessage `json:"input"`
				} `json:"content_block"`
			}
			json.Unmarshal([]byte(ev.data), &cb)
			open[head.Index] = cb.ContentBlock.Type
			if cb.ContentBlock.Type == "tool_use" {
				if string(cb.ContentBlock.Input) != "{}" {
					t.Errorf("tool_use block starts with input %s, want {}", cb.ContentBlock.Input)
				}
				partial[head.Index] = &strings.Builder{}
			}
		case "content_block_delta":
			if _, ok := open[head.Index]; !ok {
				t.Errorf("delta for block %d that is not open", head.Index)
			}
			var d struct {
				Delta struct {
					Type        string `json:"type"`
					PartialJSON string `json:"partial_json"`
				} `json:"delta"`
			}
			json.Unmarshal([]byte(ev.data), &d)
			if d.Delta.Type == "input_json_delta" {
				partial[head.Index].WriteString(d.Delta.PartialJSON)
			}
		case "content_block_stop":
			if _, ok := open[head.Index]; !ok {
				t.Errorf("stop for block %d that is not open", head.Index)
			}
			if b := partial[head.Index]; b != nil && !validJSONObject(b.String()) {
				t.Errorf("tool_use block %d: input_json_delta fragments %q are not a JSON object", head.Index, b.String())
			}
			delete(open, head.Index)
		case "message_delta":
			if len(open) > 0 {
				t.Errorf("message_delta with blocks still open: %v", open)
			}
			var md struct {
				Usage *struct {
					OutputTokens *int64 `json:"output_tokens"`
				} `json:"usage"`
			}
			json.Unmarshal([]byte(ev.data), &md)
			if md.Usage == nil || md.Usage.OutputTokens == nil {
				t.Errorf("message_delta without usage.output_tokens: %s", ev.data)
			}
		}
		var u ant.MessageStreamEventUnion
		if err := json.Unmarshal([]byte(ev.data), &u); err != nil {
			t.Fatalf("event %d does not decode as a stream event: %v", i, err)
		}
		if err := msg.Accumulate(u); err != nil {
			t.Fatalf("accumulate event %d (%s): %v", i, ev.data, err)
		}
	}
	if next > 0 && !pinged {
		t.Errorf("no ping event")
	}
	return msg
}

// checkClaudeCodeAnswer compares the accumulated message to the upstream's
// answer.
func checkClaudeCodeAnswer(t *testing.T, msg ant.Message, a *answer) {
	t.Helper()
	var text string
	var calls []fakeCall
	for _, b := range msg.Content {
		switch b.Type {
		case "text":
			text += b.Text
		case "tool_use":
			calls = append(calls, fakeCall{ID: b.ID, Name: b.Name, Args: string(b.Input)})
		}
	}
	if text != a.Text {
		t.Errorf("text %q, want %q", text, a.Text)
	}
	if len(calls) != len(a.Calls) {
		t.Fatalf("%d tool calls, want %d", len(calls), len(a.Calls))
	}
	for i, c := range calls {
		if c.Name != a.Calls[i].Name || !jsonEqual(c.Args, a.Calls[i].Args) || a.Calls[i].ID != "" && c.ID != a.Calls[i].ID {
			t.Errorf("tool call %d = %+v, want %+v", i, c, a.Calls[i])
		}
	}
	if want := anthropicStopReason(a.Finish); string(msg.StopReason) != want {
		t.Errorf("stop_reason %q, want %q", msg.StopReason, want)
	}
	if msg.Usage.InputTokens != a.Usage.Input || msg.Usage.CacheReadInputTokens != a.Usage.CacheRead ||
		msg.Usage.CacheCreationInputTokens != a.Usage.CacheWrite || msg.Usage.OutputTokens != a.Usage.Output {
		t.Errorf("usage in %d cache read %d write %d out %d, want %+v", msg.Usage.InputTokens, msg.Usage.CacheReadInputTokens,
			msg.Usage.CacheCreationInputTokens, msg.Usage.OutputTokens, a.Usage)
	}
}

// claudeCodeSecondTurn appends the assistant's answer and a user message
// with a tool_result per tool_use and a system-reminder text after them,
// as Claude Code does.
func claudeCodeSecondTurn(t *testing.T, req map[string]any, msg ant.Message) map[string]any {
	t.Helper()
	var assistant, results []any
	for _, b := range msg.Content {
		switch b.Type {
		case "thinking":
			assistant = append(assistant, map[string]any{"type": "thinking", "thinking": b.Thinking, "signature": b.Signature})
		case "text":
			assistant = append(assistant, map[string]any{"type": "text", "text": b.Text})
		case "tool_use":
			assistant = append(assistant, map[string]any{"type": "tool_use", "id": b.ID, "name": b.Name, "input": rawJSON(b.Input)})
			results = append(results, map[string]any{"type": "tool_result", "tool_use_id": b.ID,
				"content": []any{map[string]any{"type": "text", "text": "internal/llm/llm.go\ninternal/sse/sse.go"}}})
		}
	}
	results = append(results, map[string]any{"type": "text", "text": "<system-reminder>The TodoWrite tool hasn't been used recently.</system-reminder>",
		"cache_control": map[string]any{"type": "ephemeral"}})
	out := map[string]any{}
	for k, v := range req {
		out[k] = v
	}
	msgs := append(slices.Clone(mustList(req["messages"])),
		map[string]any{"role": "assistant", "content": assistant},
		map[string]any{"role": "user", "content": results},
		// Claude Code adds system messages after user turns.
		map[string]any{"role": "system", "content": []any{map[string]any{"type": "text", "text": "Skills available: none."}}})
	out["messages"] = msgs
	// round-trip through JSON so that rawJSON values compare as objects
	b := []byte(mustJSON(out))
	m, err := readJSONBody(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// checkFaithful checks that the Anthropic upstream got the client's body
// (model aside) and Claude Code's version and beta headers.
func checkFaithful(t *testing.T, req map[string]any, up *upstreamRequest, model string) {
	t.Helper()
	want := map[string]any{}
	for k, v := range req {
		want[k] = v
	}
	want["model"] = model
	if diffs := jsonDiff("", toPlain(want), toPlain(up.JSON)); len(diffs) > 0 {
		t.Errorf("the Anthropic upstream did not get the Claude Code body as sent (%d differences):\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	if got := up.Header.Get("Anthropic-Version"); got != "2023-06-01" {
		t.Errorf("anthropic-version upstream %q, want 2023-06-01", got)
	}
	got := splitList(up.Header.Values("Anthropic-Beta"))
	if w := splitList([]string{claudeCodeBeta}); !slices.Equal(got, w) {
		t.Errorf("anthropic-beta upstream %q, want %q", got, w)
	}
}

func splitList(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

func headerValues(h http.Header) []string {
	var out []string
	for _, vs := range h {
		out = append(out, vs...)
	}
	return out
}

// toPlain converts json.Number values into float64-free canonical form by
// a JSON round trip.
func toPlain(v any) any {
	var out any
	json.Unmarshal([]byte(mustJSON(v)), &out)
	return out
}

// jsonDiff lists the paths where a and b differ.
func jsonDiff(path string, a, b any) []string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: %s != %s", path, truncate(mustJSON(a), 200), truncate(mustJSON(b), 200))}
		}
		var out []string
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		var ks []string
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			x, inA := av[k]
			y, inB := bv[k]
			switch {
			case !inA:
				out = append(out, fmt.Sprintf("%s.%s: added %s", path, k, truncate(mustJSON(y), 200)))
			case !inB:
				out = append(out, fmt.Sprintf("%s.%s: dropped %s", path, k, truncate(mustJSON(x), 200)))
			default:
				out = append(out, jsonDiff(path+"."+k, x, y)...)
			}
		}
		return out
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return []string{fmt.Sprintf("%s: %s != %s", path, truncate(mustJSON(a), 300), truncate(mustJSON(b), 300))}
		}
		var out []string
		for i := range av {
			out = append(out, jsonDiff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i])...)
		}
		return out
	}
	if mustJSON(a) != mustJSON(b) {
		return []string{fmt.Sprintf("%s: %s != %s", path, truncate(mustJSON(a), 200), truncate(mustJSON(b), 200))}
	}
	return nil
}

// checkClaudeCodeOpenAI checks the translation to Chat Completions.
func checkClaudeCodeOpenAI(t *testing.T, up *upstreamRequest) {
	t.Helper()
	body := string(up.Body)
	for _, s := range []string{"x-anthropic-billing-header", "cache_control", "defer_loading", "context_management", "output_config", `"thinking"`} {
		if strings.Contains(body, s) {
			t.Errorf("%s reached the openai upstream", s)
		}
	}
	msgs := mustList(up.JSON["messages"])
	first, _ := asMap(msgs[0])
	if first["role"] != "system" || !strings.Contains(fmt.Sprint(first["content"]), "You are Claude Code") || !strings.Contains(fmt.Sprint(first["content"]), "# Tone and style") {
		t.Errorf("first message %s, want the system prompt", truncate(mustJSON(first), 300))
	}
	env := false
	for _, m := range msgs {
		mm, _ := asMap(m)
		if (mm["role"] == "system" || mm["role"] == "developer") && strings.Contains(mustJSON(mm["content"]), "<env>") {
			env = true
		}
	}
	if !env {
		t.Errorf("the in-conversation system message did not become system/developer content")
	}
	if n := len(up.Convo.tools); n != 20 {
		t.Errorf("%d tools, want 20", n)
	}
}

// checkClaudeCodeGemini checks the translation to generateContent.
func checkClaudeCodeGemini(t *testing.T, up *upstreamRequest) {
	t.Helper()
	body := string(up.Body)
	for _, s := range []string{"x-anthropic-billing-header", "cache_control", "defer_loading", "$schema", "exclusiveMinimum", `"const"`} {
		if strings.Contains(body, s) {
			t.Errorf("%s reached the gemini upstream", s)
		}
	}
	if !strings.Contains(up.Convo.system, "You are Claude Code") || !strings.Contains(up.Convo.system, "<env>") {
		t.Errorf("systemInstruction %q lacks the system prompt or the in-conversation system message", truncate(up.Convo.system, 300))
	}
	if n := len(up.Convo.tools); n != 20 {
		t.Errorf("%d function declarations, want 20", n)
	}
}

// TestClaudeCodeUserIDForOpenAI: Claude Code's metadata.user_id is a JSON
// string of about 190 characters; translated verbatim into the OpenAI
// "user" field it exceeds what OpenRouter (128) and OpenAI (64) accept, so
// every Claude Code request through an OpenAI-compatible route fails.
func TestClaudeCodeUserIDForOpenAI(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	req := claudeCodeRequest(t, modelOpenAI)
	resp := h.rawPost(t, "/v1/messages?beta=true", claudeCodeHeaders("x-api-key"), []byte(mustJSON(req)))
	up := h.oai.last()
	if resp.status != http.StatusOK || up.Reject != "" {
		t.Errorf("BUG: a Claude Code request through an OpenAI-compatible upstream fails: HTTP %d %s; upstream refused: %s (user = %q)",
			resp.status, truncate(string(resp.body), 300), up.Reject, up.JSON["user"])
	}
}

// TestCountTokens: /v1/messages/count_tokens?beta=true with Claude Code's
// request is exact from the Anthropic upstream (which implements it) and a
// plausible local count for the others, or when the Anthropic upstream has
// no count_tokens; never a fake zero.
func TestCountTokens(t *testing.T) {
	cases := []struct {
		name    string
		model   string
		noCount bool
		exact   bool
	}{
		{"anthropic", modelAnthropic, false, true},
		{"anthropic without count_tokens", modelAnthropic, true, false},
		{"openai", modelOpenAI, false, false},
		{"gemini", modelGemini, false, false},
		{"demo", modelDemo, false, false},
	}
	for _, c := range cases {
		for _, auth := range []string{"x-api-key", "bearer"} {
			t.Run(c.name+"/"+auth, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, harnessOptions{anthropicNoCount: c.noCount})
				full := claudeCodeRequest(t, c.model)
				req := map[string]any{}
				for _, k := range []string{"model", "messages", "system", "tools", "thinking"} {
					req[k] = full[k]
				}
				body := mustJSON(req)
				resp := h.rawPost(t, "/v1/messages/count_tokens?beta=true", claudeCodeHeaders(auth), []byte(body))
				if resp.status != http.StatusOK {
					t.Fatalf("HTTP %d: %s", resp.status, resp.body)
				}
				var out struct {
					InputTokens *int64 `json:"input_tokens"`
				}
				if err := json.Unmarshal(resp.body, &out); err != nil || out.InputTokens == nil {
					t.Fatalf("answer %s", resp.body)
				}
				n := *out.InputTokens
				if c.exact {
					up := h.anth.requests()
					if len(up) != 1 || up[0].Path != "/v1/messages/count_tokens" || up[0].Answer == nil {
						t.Fatalf("the anthropic upstream's count_tokens was not asked: %+v", up)
					}
					if rej := h.anth.rejections(); len(rej) > 0 {
						t.Fatalf("the anthropic upstream rejected count_tokens: %s", rej)
					}
					if want := up[0].Answer.Usage.Input; n != want {
						t.Errorf("input_tokens %d, want the upstream's exact %d", n, want)
					}
					if got := up[0].Header.Get("Anthropic-Beta"); got == "" {
						t.Errorf("anthropic-beta was not forwarded to count_tokens")
					}
					return
				}
				// A local count: the body is ~17 kB of JSON, mostly tool
				// schemas; o200k gives roughly one token per 3 to 6 bytes.
				lo, hi := int64(len(body)/8), int64(len(body)/2)
				if n < lo || n > hi {
					t.Errorf("local count %d for a %d-byte request, want between %d and %d", n, len(body), lo, hi)
				}
				if f := h.fakeFor(c.model); f != nil {
					for _, r := range f.requests() {
						if !strings.HasSuffix(r.Path, "/count_tokens") {
							t.Errorf("count_tokens made a model call upstream: %s", r.Path)
						}
					}
				}
			})
		}
	}
}
