package ingress_test

// The Gemini-native row of the cross-format matrix: google.golang.org/genai
// (BackendGeminiAPI, HTTPOptions.BaseURL = the gateway, the xjp key as
// APIKey) × {OpenAI-compatible upstream, Anthropic upstream, Gemini
// upstream, demo} × scenarios, each cell a subtest upstream/scenario with
// its own harness. Every cell checks the client's view (parts, finish
// reason, usage metadata, function call ids, errors in Google's shape)
// against what the fake upstream answered, the upstream's view against the
// client's request, and the usage sink for exactly one record. Raw-HTTP
// tests cover what the SDK does not send: the JSON-array stream without
// alt=sse, and the key in ?key=.
//
// Cells that cannot apply say so where they are handled: the demo has no
// image understanding and does not echo system prompts.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genai"
)

// gcell is one Gemini matrix cell.
type gcell struct {
	*cell
	gs *geminiSession
}

type gscenario struct {
	name string
	run  func(t *testing.T, c *gcell)
}

func TestMatrixGemini(t *testing.T) {
	for _, up := range upstreamKinds {
		t.Run(up.name, func(t *testing.T) {
			for _, sc := range geminiScenarios {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					h := newHarness(t, harnessOptions{})
					c := &gcell{cell: &cell{h: h, client: "gemini", up: up, fake: h.fakeFor(up.model)}, gs: newGeminiSession(t, h, up.model, keyValid)}
					sc.run(t, c)
					if c.fake != nil {
						for _, r := range c.fake.rejections() {
							t.Errorf("the %s upstream rejected a translated request: %s", c.fake.kind(), r)
						}
					}
				})
			}
		})
	}
}

var geminiScenarios = []gscenario{
	{name: "text", run: func(t *testing.T, c *gcell) {
		c.gs.addUser("Hello there, how are you today?")
		r := c.gs.send(t, gemOpts{})
		c.expectGem(t, r, genai.FinishReasonStop)
		if c.demo() && !strings.HasPrefix(r.text, "Hello from the xjp demo model.") {
			t.Errorf("demo text = %q", r.text)
		}
	}},
	{name: "stream", run: func(t *testing.T, c *gcell) {
		c.gs.addUser("Hello there, please stream your answer.")
		r := c.gs.send(t, gemOpts{stream: true})
		c.expectGem(t, r, genai.FinishReasonStop)
		if r.chunks < 3 {
			t.Errorf("the answer came in %d chunks; the text streams in pieces", r.chunks)
		}
		// A second turn replays the model turn.
		c.gs.addUser("Thanks, and once more please.")
		r2 := c.gs.send(t, gemOpts{stream: true})
		c.expectGem(t, r2, genai.FinishReasonStop)
		if up := c.lastUp(t); up != nil {
			if n := len(up.Convo.turns); n != 3 || up.Convo.turns[1].role != "assistant" || up.Convo.turns[1].text != r.text {
				t.Errorf("the replayed turn reached the upstream as %+v", up.Convo.turns)
			}
		}
	}},
	// Gemini has no tool-call ids: the client answers by name (and
	// position); the gateway pairs them with the upstream's ids.
	{name: "tool_roundtrip", run: func(t *testing.T, c *gcell) { c.toolRoundTrip(t, false, false, true, false) }},
	// The SDK echoes the ids the gateway gave (as @google/genai does).
	{name: "stream_tool", run: func(t *testing.T, c *gcell) { c.toolRoundTrip(t, true, false, false, false) }},
	{name: "parallel_tools", run: func(t *testing.T, c *gcell) { c.toolRoundTrip(t, true, true, true, false) }},
	// Thoughts, then a call, replayed without ids (Anthropic requires the
	// signed thinking block first in that turn).
	{name: "thinking_tool", run: func(t *testing.T, c *gcell) { c.toolRoundTrip(t, true, false, true, true) }},
	{name: "image_inline", run: func(t *testing.T, c *gcell) {
		c.gs.addUser("What is in this picture?", image{mediaType: "image/png", data: pngPixel})
		r := c.gs.send(t, gemOpts{})
		c.expectGem(t, r, genai.FinishReasonStop)
		if c.demo() {
			return // the demo has no image understanding: only success and metering apply
		}
		if want := "I see an image of type image/png."; r.text != want {
			t.Errorf("text = %q, want %q", r.text, want)
		}
		c.expectUpstreamImage(t, "image/png", pngPixel, "")
	}},
	{name: "image_filedata_url", run: func(t *testing.T, c *gcell) {
		// fileData with an http URL (not in the brief's list; what a
		// client passing a link sends).
		c.gs.addUser("What is in this picture?", image{url: c.h.imageURL, mediaType: "image/png"})
		r := c.gs.send(t, gemOpts{stream: true})
		c.expectGem(t, r, genai.FinishReasonStop)
		switch c.up.name {
		case "demo":
			return
		case "gemini":
			if want := "I see an image of type image/png."; r.text != want {
				t.Errorf("text = %q, want %q", r.text, want)
			}
			c.expectUpstreamImage(t, "image/png", pngPixel, "")
		default:
			if want := "I see an image at " + c.h.imageURL + "."; r.text != want {
				t.Errorf("text = %q, want %q", r.text, want)
			}
			c.expectUpstreamImage(t, "", "", c.h.imageURL)
		}
	}},
	{name: "system", run: func(t *testing.T, c *gcell) {
		const sys = "You are a pirate assistant named Sparrow."
		c.gs.system = sys
		c.gs.addUser("what is your system prompt?")
		r := c.gs.send(t, gemOpts{stream: true})
		c.expectGem(t, r, genai.FinishReasonStop)
		if c.demo() {
			return // the demo does not echo system prompts
		}
		if want := "My system prompt is: " + sys; r.text != want {
			t.Errorf("text = %q, want %q", r.text, want)
		}
		c.expectUpstreamSystem(t, sys)
	}},
	{name: "thinking", run: func(t *testing.T, c *gcell) { c.thinking(t) }},
	{name: "content_filter", run: func(t *testing.T, c *gcell) {
		if c.demo() {
			t.Skip("the demo has no safety filter")
		}
		c.gs.addUser("Tell me how to do something dangerous safetystop")
		r := c.gs.send(t, gemOpts{stream: true})
		c.expectGem(t, r, genai.FinishReasonSafety)
	}},
	{name: "count_tokens", run: func(t *testing.T, c *gcell) {
		// countTokens: exact from an upstream that counts (Anthropic),
		// else counted locally; not a model call, so nothing is metered.
		c.gs.addUser("How many tokens is this sentence, roughly?")
		id := c.h.newRequestID()
		n, err := c.gs.c.Models.CountTokens(context.Background(), c.up.model, c.gs.contents,
			&genai.CountTokensConfig{HTTPOptions: &genai.HTTPOptions{Headers: http.Header{"X-Request-Id": []string{id}}}})
		if err != nil {
			t.Fatalf("CountTokens: %v", err)
		}
		if n.TotalTokens <= 0 {
			t.Errorf("totalTokens %d", n.TotalTokens)
		}
		if c.up.name == "anthropic" {
			up := c.fake.requests()[len(c.fake.requests())-1]
			if !strings.HasSuffix(up.Path, "/count_tokens") || up.Answer == nil || int64(n.TotalTokens) != up.Answer.Usage.Input {
				t.Errorf("totalTokens %d, want the anthropic upstream's count (%s)", n.TotalTokens, up.Path)
			}
		}
		c.h.waitDone(t, id)
		if recs := c.h.sink.byID(id); len(recs) != 0 {
			t.Errorf("countTokens left %d usage records", len(recs))
		}
	}},
	{name: "length", run: func(t *testing.T, c *gcell) { c.length(t, false) }},
	{name: "length_stream", run: func(t *testing.T, c *gcell) { c.length(t, true) }},
	{name: "err400", run: func(t *testing.T, c *gcell) { c.upstreamError(t, 400, false) }},
	{name: "err401", run: func(t *testing.T, c *gcell) { c.upstreamError(t, 401, false) }},
	{name: "err429", run: func(t *testing.T, c *gcell) { c.upstreamError(t, 429, false) }},
	{name: "err500", run: func(t *testing.T, c *gcell) { c.upstreamError(t, 500, false) }},
	{name: "err503_stream", run: func(t *testing.T, c *gcell) { c.upstreamError(t, 503, true) }},
	{name: "cutstream", run: func(t *testing.T, c *gcell) { c.cutStream(t) }},
}

// expectGem checks a successful answer against the upstream's, the chunk
// facts of a stream and the usage record; it returns the upstream's answer
// (nil for the demo).
func (c *gcell) expectGem(t *testing.T, r *gemResult, finish genai.FinishReason) *answer {
	t.Helper()
	if !r.ok() {
		if c.fake != nil {
			if rej := c.fake.rejections(); len(rej) > 0 {
				t.Fatalf("request failed (%d %s: %s); the upstream rejected: %s", r.errCode, r.errStatus, r.errMessage, strings.Join(rej, "; "))
			}
		}
		t.Fatalf("request failed: %d %s: %s (%v)", r.errCode, r.errStatus, r.errMessage, r.err)
	}
	if len(r.problems) > 0 {
		t.Errorf("problems: %s", strings.Join(r.problems, "; "))
	}
	if r.finish != finish {
		t.Errorf("finishReason %q, want %q", r.finish, finish)
	}
	if r.modelVersion != c.up.model {
		t.Errorf("modelVersion %q, want the model asked for, %q", r.modelVersion, c.up.model)
	}
	a := c.lastAnswer(t)
	if a != nil {
		if r.text != a.Text {
			t.Errorf("text = %q, want the upstream's %q", r.text, a.Text)
		}
		if len(r.calls) != len(a.Calls) {
			t.Fatalf("%d function calls, want the upstream's %d: %+v", len(r.calls), len(a.Calls), r.calls)
		}
		for i, got := range r.calls {
			want := a.Calls[i]
			if got.name != want.Name || !jsonEqual(got.args, want.Args) {
				t.Errorf("call %d = %s(%s), want %s(%s)", i, got.name, got.args, want.Name, want.Args)
			}
			if want.ID != "" && got.id != want.ID {
				t.Errorf("call %d id %q, want the upstream's %q", i, got.id, want.ID)
			}
		}
		if up := c.lastUp(t); up.Convo.stream != r.streamed {
			t.Errorf("upstream stream = %v, want %v", up.Convo.stream, r.streamed)
		}
		c.expectUpstreamBasics(t)
	} else if r.text == "" && len(r.calls) == 0 {
		t.Errorf("the demo answered nothing")
	}
	ids := map[string]bool{}
	for i, call := range r.calls {
		if call.id == "" || ids[call.id] {
			t.Errorf("call %d has an empty or repeated id %q", i, call.id)
		}
		ids[call.id] = true
	}
	u := r.usageNumbers()
	if r.usage == nil {
		t.Errorf("no usageMetadata")
	}
	if u.Total != u.Prompt+u.Candidates+u.Thoughts {
		t.Errorf("usage totalTokenCount %d != prompt %d + candidates %d + thoughts %d", u.Total, u.Prompt, u.Candidates, u.Thoughts)
	}
	cu := clientUsage{prompt: u.Prompt, cached: u.Cached, output: u.Candidates + u.Thoughts, reasoning: u.Thoughts}
	expectUsage(t, c.up.name, a, cu)
	expectRecord(t, c.cell, r.reqID, "gemini", r.streamed, a, cu)
	return a
}

// toolRoundTrip: the model calls one function (or two at once), the client
// replays the model turn and answers with functionResponse parts; byName
// leaves the ids out of both, as the Gemini API has none; think asks for
// thoughts too.
func (c *gcell) toolRoundTrip(t *testing.T, stream, parallel, byName, think bool) {
	tools := []toolDef{weatherTool}
	prompt := "What is the weather in Paris? Please call get_weather."
	wantNames := []string{"get_weather"}
	if parallel {
		tools = []toolDef{weatherTool, timeTool}
		prompt = "Please call get_weather and get_time for Paris, both at once."
		wantNames = []string{"get_weather", "get_time"}
	}
	c.gs.byName = byName
	o := gemOpts{stream: stream, tools: tools, jsonSchema: parallel, think: think}
	c.gs.addUser(prompt)
	r1 := c.gs.send(t, o)
	// Gemini's finish reason is STOP also when the answer is calls.
	if a := c.expectGem(t, r1, genai.FinishReasonStop); think && (a != nil && r1.thought != a.Thinking || r1.thought == "") {
		t.Errorf("thoughts %q before the call, want the upstream's thinking", r1.thought)
	}
	if len(r1.calls) != len(wantNames) {
		t.Fatalf("%d function calls, want %d: %+v", len(r1.calls), len(wantNames), r1.calls)
	}
	var sent []sentCall
	var results []gemToolResult
	var contents []string
	for i, call := range r1.calls {
		if call.name != wantNames[i] {
			t.Errorf("call %d is %q, want %q", i, call.name, wantNames[i])
		}
		content := fmt.Sprintf("result %d for %s: 18°C and sunny", i, call.name)
		res := gemToolResult{id: call.id, name: call.name, content: content}
		if parallel && i == 1 {
			// A structured response: other upstreams get its JSON text.
			res.obj = map[string]any{"local_time": "14:05", "timezone": "Europe/Paris"}
			content = mustJSON(res.obj)
		}
		sent = append(sent, sentCall(call))
		results = append(results, res)
		contents = append(contents, content)
	}
	if c.demo() && !strings.Contains(r1.calls[0].args, `"city"`) {
		t.Errorf("demo get_weather arguments %s lack city", r1.calls[0].args)
	}

	c.gs.addResults(results...)
	r2 := c.gs.send(t, o)
	c.expectGem(t, r2, genai.FinishReasonStop)
	for i, res := range results {
		if res.obj == nil && !strings.Contains(r2.text, contents[i]) {
			t.Errorf("the final answer %q does not quote %q", r2.text, contents[i])
		}
	}
	if c.fake != nil {
		expectUpstreamToolTurn(t, c.cell, sent, contents, !byName)
	}
	if think && c.up.name == "anthropic" {
		msgs := mustList(c.lastUp(t).JSON["messages"])
		asst, _ := asMap(msgs[1])
		b0, _ := asMap(mustList(asst["content"])[0])
		if a1 := c.fake.requests()[0].Answer; b0["type"] != "thinking" || b0["signature"] != a1.Signature {
			t.Errorf("the replayed tool turn does not start with the signed thinking block: %s", mustJSON(asst))
		}
	}
}

// thinking: thinkingConfig (includeThoughts, a budget) makes the upstream
// think; the thinking comes back as thought parts, an Anthropic signature
// as their thoughtSignature. The SDK replays the model turn, and an
// Anthropic upstream gets its signed thinking block back (the fake checks
// the signature).
func (c *gcell) thinking(t *testing.T) {
	c.gs.addUser("Please think before answering: what is 2+2?")
	r := c.gs.send(t, gemOpts{stream: true, think: true})
	a := c.expectGem(t, r, genai.FinishReasonStop)
	switch {
	case c.demo():
		if r.thought == "" {
			t.Errorf("the demo thinks when asked; the client saw no thought parts")
		}
	case a != nil:
		if a.Thinking == "" {
			t.Fatalf("the %s upstream was not asked to think: %s", c.up.name, c.lastUp(t).Body)
		}
		if r.thought != a.Thinking {
			t.Errorf("thoughts = %q, want %q", r.thought, a.Thinking)
		}
	}
	c.gs.addUser("Thanks. And what is 3+3?")
	r2 := c.gs.send(t, gemOpts{think: true})
	if a2 := c.expectGem(t, r2, genai.FinishReasonStop); a2 != nil && r2.thought != a2.Thinking {
		t.Errorf("non-streamed thoughts = %q, want %q", r2.thought, a2.Thinking)
	}
	if c.up.name == "anthropic" {
		msgs := mustList(c.lastUp(t).JSON["messages"])
		first, _ := asMap(msgs[1])
		b0, _ := asMap(mustList(first["content"])[0])
		if b0["type"] != "thinking" || b0["signature"] != a.Signature || b0["thinking"] != a.Thinking {
			t.Errorf("the replayed model turn does not start with the signed thinking block: %s", mustJSON(first))
		}
	}
}

// length: maxOutputTokens cuts the answer: finishReason MAX_TOKENS.
func (c *gcell) length(t *testing.T, stream bool) {
	c.gs.addUser("Please write a very long answer about the sea and the sky and the stars.")
	r := c.gs.send(t, gemOpts{stream: stream, maxTokens: 3})
	c.expectGem(t, r, genai.FinishReasonMaxTokens)
	if n := len(strings.Fields(r.text)); n == 0 || n > 3 {
		t.Errorf("a cut answer of %d words (%q)", n, r.text)
	}
	if up := c.lastUp(t); up != nil && up.Convo.maxTokens != 3 {
		t.Errorf("the upstream got max tokens %d, want 3", up.Convo.maxTokens)
	}
}

// googleStatus is the google.rpc.Code name of the statuses the gateway
// answers failures with.
var googleStatus = map[int]string{400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
	429: "RESOURCE_EXHAUSTED", 502: "INTERNAL", 503: "UNAVAILABLE"}

// upstreamError: the upstream answers HTTP status before its first byte;
// the client gets the gateway's status in Google's error shape
// {"error":{code,message,status}} (also on streamGenerateContent), after
// retries when retryable, and one usage record.
func (c *gcell) upstreamError(t *testing.T, status int, stream bool) {
	t.Helper()
	ex := upstreamFailures[status]
	c.gs.addUser(fmt.Sprintf("Please fail%d now xjp:fail=%d", status, status))
	r := c.gs.send(t, gemOpts{stream: stream})
	if r.ok() {
		t.Fatalf("want HTTP %d, got %q", ex.status, r.text)
	}
	if r.chunks > 0 {
		t.Errorf("an upstream that failed before its first byte must give an HTTP error, not %d chunks", r.chunks)
	}
	if r.errCode != ex.status || r.errStatus != googleStatus[ex.status] {
		t.Errorf("error code %d status %q, want %d %q (%s)", r.errCode, r.errStatus, ex.status, googleStatus[ex.status], r.errMessage)
	}
	if !strings.Contains(r.errMessage, ex.msg) {
		t.Errorf("error message %q does not carry %q", r.errMessage, ex.msg)
	}
	if status == 429 {
		found := false
		for _, d := range r.errDetails {
			found = found || d["@type"] == "type.googleapis.com/google.rpc.RetryInfo" && d["retryDelay"] != ""
		}
		if !found {
			t.Errorf("429 without a google.rpc.RetryInfo detail: %v", r.errDetails)
		}
	}
	expectFailureRecord(t, c.cell, r.reqID, ex, 0)
}

// cutStream: the upstream breaks the stream after some text; the client
// gets the text so far, then an error chunk the SDK raises as an APIError
// with the gateway's status, and the request is billed for what was sent.
func (c *gcell) cutStream(t *testing.T) {
	c.gs.addUser("Tell me a long story about dragons and castles please cutstream xjp:cut")
	r := c.gs.send(t, gemOpts{stream: true})
	if r.ok() {
		t.Fatalf("a stream cut by the upstream ended without an error; text %q finish %q", r.text, r.finish)
	}
	want := cutStatus(c.up.name)
	if r.errCode != want || r.errStatus != googleStatus[want] || r.errMessage == "" {
		t.Errorf("mid-stream error %d %q %q, want %d %q", r.errCode, r.errStatus, r.errMessage, want, googleStatus[want])
	}
	if r.chunks == 0 || r.text == "" {
		t.Errorf("no text reached the client before the cut (%d chunks)", r.chunks)
	}
	if a := c.lastAnswer(t); a != nil && !strings.HasPrefix(a.Text, r.text) {
		t.Errorf("partial text %q is not a prefix of %q", r.text, a.Text)
	}
	if r.finish != "" {
		t.Errorf("a cut stream reported finishReason %q", r.finish)
	}
	expectCutRecord(t, c.cell, r.reqID, 0)
}

// ---- raw HTTP: what the SDK does not send ----

// TestGeminiJSONArrayStream: streamGenerateContent without alt=sse answers
// one JSON array of GenerateContentResponse chunks (application/json), the
// last with the finish reason and the usage, for every upstream kind; text
// and a function call.
func TestGeminiJSONArrayStream(t *testing.T) {
	for _, up := range upstreamKinds {
		t.Run(up.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			c := &cell{h: h, client: "gemini", up: up, fake: h.fakeFor(up.model)}
			for _, tc := range []struct {
				name, body string
				call       bool
			}{
				{"text", `{"contents":[{"role":"user","parts":[{"text":"Hello there, please stream your answer."}]}]}`, false},
				{"tool", `{"contents":[{"role":"user","parts":[{"text":"What is the weather in Paris? Please call get_weather."}]}],` +
					`"tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"}},"required":["city"]}}]}]}`, true},
			} {
				id := h.newRequestID()
				resp := h.rawPost(t, "/v1beta/models/"+up.model+":streamGenerateContent", map[string]string{"x-goog-api-key": keyValid, "X-Request-Id": id}, []byte(tc.body))
				if resp.status != http.StatusOK {
					t.Fatalf("%s: HTTP %d: %s", tc.name, resp.status, resp.body)
				}
				if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("%s: Content-Type %q, want application/json", tc.name, ct)
				}
				if strings.Contains(string(resp.body), "data:") {
					t.Errorf("%s: SSE framing without alt=sse: %s", tc.name, truncate(string(resp.body), 200))
				}
				var chunks []genai.GenerateContentResponse
				if err := json.Unmarshal(resp.body, &chunks); err != nil {
					t.Fatalf("%s: the body is not a JSON array of responses: %v: %s", tc.name, err, truncate(string(resp.body), 400))
				}
				if len(chunks) < 2 {
					t.Fatalf("%s: %d chunks", tc.name, len(chunks))
				}
				var text strings.Builder
				var calls []*genai.FunctionCall
				for i, ch := range chunks {
					if len(ch.Candidates) != 1 {
						t.Fatalf("%s: chunk %d has %d candidates", tc.name, i, len(ch.Candidates))
					}
					cand := ch.Candidates[0]
					if last := i == len(chunks)-1; (cand.FinishReason != "") != last || (ch.UsageMetadata != nil && ch.UsageMetadata.TotalTokenCount > 0) != last {
						t.Errorf("%s: chunk %d of %d: finishReason %q usage %+v; only the last carries both", tc.name, i, len(chunks), cand.FinishReason, ch.UsageMetadata)
					}
					if ch.ModelVersion != up.model {
						t.Errorf("%s: chunk %d modelVersion %q", tc.name, i, ch.ModelVersion)
					}
					if cand.Content == nil {
						continue
					}
					for _, p := range cand.Content.Parts {
						if p.FunctionCall != nil {
							calls = append(calls, p.FunctionCall)
						}
						text.WriteString(p.Text)
					}
				}
				last := chunks[len(chunks)-1]
				if last.Candidates[0].FinishReason != genai.FinishReasonStop {
					t.Errorf("%s: finishReason %q", tc.name, last.Candidates[0].FinishReason)
				}
				var a *answer
				if c.fake != nil {
					a = c.lastAnswer(t)
					if text.String() != a.Text {
						t.Errorf("%s: text %q, want %q", tc.name, text.String(), a.Text)
					}
					if !c.lastUp(t).Convo.stream {
						t.Errorf("%s: the upstream was not asked to stream", tc.name)
					}
				}
				if tc.call {
					if len(calls) != 1 || calls[0].Name != "get_weather" || calls[0].ID == "" {
						t.Fatalf("%s: calls %+v", tc.name, calls)
					}
					args, _ := json.Marshal(calls[0].Args)
					if a != nil && !jsonEqual(string(args), a.Calls[0].Args) {
						t.Errorf("%s: args %s, want %s", tc.name, args, a.Calls[0].Args)
					}
				}
				u := last.UsageMetadata
				cu := clientUsage{prompt: int64(u.PromptTokenCount), cached: int64(u.CachedContentTokenCount), output: int64(u.CandidatesTokenCount + u.ThoughtsTokenCount), reasoning: int64(u.ThoughtsTokenCount)}
				expectUsage(t, c.up.name, a, cu)
				expectRecord(t, c, id, "gemini", true, a, cu)
			}
			// An upstream failure before the first byte is a Google error,
			// not an array.
			before := 0
			if c.fake != nil {
				before = len(c.fake.requests())
			}
			id := h.newRequestID()
			resp := h.rawPost(t, "/v1beta/models/"+up.model+":streamGenerateContent", map[string]string{"x-goog-api-key": keyValid, "X-Request-Id": id},
				[]byte(`{"contents":[{"role":"user","parts":[{"text":"Please fail500 now xjp:fail=500"}]}]}`))
			expectGoogleError(t, resp, http.StatusBadGateway)
			expectFailureRecord(t, c, id, upstreamFailures[500], before)

			// A stream the upstream breaks after some text: the array
			// ends with an error element and is closed.
			if c.fake != nil {
				before = len(c.fake.requests())
			}
			id = h.newRequestID()
			resp = h.rawPost(t, "/v1beta/models/"+up.model+":streamGenerateContent", map[string]string{"x-goog-api-key": keyValid, "X-Request-Id": id},
				[]byte(`{"contents":[{"role":"user","parts":[{"text":"Tell me a long story about dragons and castles please cutstream xjp:cut"}]}]}`))
			var elems []json.RawMessage
			if err := json.Unmarshal(resp.body, &elems); err != nil || len(elems) < 2 {
				t.Fatalf("cut stream: not a closed JSON array with text and an error (%v): %s", err, truncate(string(resp.body), 600))
			}
			for i, e := range elems[:len(elems)-1] {
				if strings.Contains(string(e), `"error"`) {
					t.Errorf("cut stream: element %d is an error before the last: %s", i, e)
				}
			}
			expectGoogleError(t, rawResponse{status: cutStatus(up.name), body: elems[len(elems)-1]}, cutStatus(up.name))
			expectCutRecord(t, c, id, before)
		})
	}
}

// expectGoogleError checks an error body in Google's shape.
func expectGoogleError(t *testing.T, resp rawResponse, status int) {
	t.Helper()
	if resp.status != status {
		t.Errorf("HTTP %d, want %d: %s", resp.status, status, resp.body)
	}
	var body struct {
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
		} `json:"error"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil || body.Error == nil {
		t.Fatalf("not a Google error body (%v): %s", err, resp.body)
	}
	if body.Error.Code != status || body.Error.Status != googleStatus[status] || body.Error.Message == "" {
		t.Errorf("error %+v, want code %d status %q and a message", *body.Error, status, googleStatus[status])
	}
}

// TestGeminiKeyInQuery: the key may come in ?key= (Google's SDKs for the
// browser and curl examples send it so), with or without alt=sse; a wrong
// or missing one is refused in Google's error shape.
func TestGeminiKeyInQuery(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	c := &cell{h: h, client: "gemini", up: upstreamKinds[0], fake: h.fakeFor(modelOpenAI)}
	body := []byte(`{"contents":[{"role":"user","parts":[{"text":"Hello there, how are you today?"}]}]}`)
	base := "/v1beta/models/" + modelOpenAI

	id := h.newRequestID()
	resp := h.rawPost(t, base+":generateContent?key="+keyValid, map[string]string{"X-Request-Id": id}, body)
	if resp.status != http.StatusOK {
		t.Fatalf("?key=: HTTP %d: %s", resp.status, resp.body)
	}
	var gr genai.GenerateContentResponse
	if err := json.Unmarshal(resp.body, &gr); err != nil || len(gr.Candidates) != 1 || gr.Candidates[0].Content == nil {
		t.Fatalf("?key=: %v: %s", err, resp.body)
	}
	a := c.lastAnswer(t)
	if got := gr.Candidates[0].Content.Parts[0].Text; got != a.Text {
		t.Errorf("text %q, want %q", got, a.Text)
	}
	u := gr.UsageMetadata
	cu := clientUsage{prompt: int64(u.PromptTokenCount), cached: int64(u.CachedContentTokenCount), output: int64(u.CandidatesTokenCount + u.ThoughtsTokenCount), reasoning: int64(u.ThoughtsTokenCount)}
	expectUsage(t, c.up.name, a, cu)
	expectRecord(t, c, id, "gemini", false, a, cu)
	if got := c.lastUp(t).Header.Get("Authorization"); got != "Bearer "+upstreamKeyOpenAI {
		t.Errorf("the upstream got Authorization %q: the client's key must not travel on", got)
	}
	if q := c.lastUp(t).Query.Get("key"); q != "" {
		t.Errorf("the client's ?key= reached the upstream: %q", q)
	}

	id = h.newRequestID()
	resp = h.rawPost(t, base+":streamGenerateContent?alt=sse&key="+keyValid, map[string]string{"X-Request-Id": id}, body)
	if resp.status != http.StatusOK || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("?alt=sse&key=: HTTP %d %s: %s", resp.status, resp.header.Get("Content-Type"), resp.body)
	}
	if evs := parseSSE(string(resp.body)); len(evs) < 2 || !strings.Contains(evs[len(evs)-1].data, `"finishReason":"STOP"`) {
		t.Errorf("?alt=sse&key=: events %+v", evs)
	}
	h.record(t, id)

	n := len(c.fake.requests())
	for _, tc := range []struct {
		name, query string
		hdr         map[string]string
	}{
		{"unknown key", "?key=" + keyUnknown, nil},
		{"no key", "", nil},
		{"disabled key", "?key=" + keyDisabled, nil},
	} {
		id := h.newRequestID()
		hdr := map[string]string{"X-Request-Id": id}
		resp := h.rawPost(t, base+":generateContent"+tc.query, hdr, body)
		want := http.StatusUnauthorized
		if tc.name == "disabled key" {
			want = http.StatusForbidden
		}
		t.Run(tc.name, func(t *testing.T) { expectGoogleError(t, resp, want) })
		if recs := h.sink.byID(id); len(recs) != 0 {
			t.Errorf("%s: a refused request left %d usage records", tc.name, len(recs))
		}
	}
	if got := len(c.fake.requests()); got != n {
		t.Errorf("refused requests reached the upstream (%d more)", got-n)
	}
}

// TestGeminiCallPairing: function calls without ids are paired with their
// responses by name and position: two calls of the same function answered
// in order, and two calls answered in the reverse order by name. Each
// upstream must get every result paired with the right call (ids for
// OpenAI and Anthropic, order for Gemini).
func TestGeminiCallPairing(t *testing.T) {
	paris := map[string]any{"city": "Paris"}
	rome := map[string]any{"city": "Rome"}
	cases := []struct {
		name    string
		calls   []*genai.FunctionCall
		answers []gemToolResult // in the order sent
		// want is the results in call order, as the upstream must see them.
		want []string
	}{
		{"same name by position",
			[]*genai.FunctionCall{{Name: "get_weather", Args: paris}, {Name: "get_weather", Args: rome}},
			[]gemToolResult{{name: "get_weather", content: "Paris: 18°C"}, {name: "get_weather", content: "Rome: 25°C"}},
			[]string{"Paris: 18°C", "Rome: 25°C"}},
		{"reverse order by name",
			[]*genai.FunctionCall{{Name: "get_weather", Args: paris}, {Name: "get_time", Args: map[string]any{"timezone": "Europe/Paris"}}},
			[]gemToolResult{{name: "get_time", content: "14:05"}, {name: "get_weather", content: "Paris: 18°C"}},
			[]string{"Paris: 18°C", "14:05"}},
	}
	for _, up := range upstreamKinds {
		for _, tc := range cases {
			t.Run(up.name+"/"+strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, harnessOptions{})
				c := &gcell{cell: &cell{h: h, client: "gemini", up: up, fake: h.fakeFor(up.model)}, gs: newGeminiSession(t, h, up.model, keyValid)}
				c.gs.byName = true
				c.gs.addUser("What is the weather in Paris and Rome, and the time? Please call the tools.")
				turn := &genai.Content{Role: genai.RoleModel, Parts: []*genai.Part{genai.NewPartFromText("Let me call the tools.")}}
				var sent []sentCall
				for _, fc := range tc.calls {
					turn.Parts = append(turn.Parts, &genai.Part{FunctionCall: fc})
					sent = append(sent, sentCall{name: fc.Name, args: mustJSON(fc.Args)})
				}
				c.gs.contents = append(c.gs.contents, turn)
				c.gs.addResults(tc.answers...)
				r := c.gs.send(t, gemOpts{tools: []toolDef{weatherTool, timeTool}})
				c.expectGem(t, r, genai.FinishReasonStop)
				if c.fake != nil {
					expectUpstreamToolTurn(t, c.cell, sent, tc.want, false)
				} else {
					for _, w := range tc.want {
						if !strings.Contains(r.text, w) {
							t.Errorf("the demo's answer %q does not quote %q", r.text, w)
						}
					}
				}
				if c.fake != nil {
					for _, r := range c.fake.rejections() {
						t.Errorf("the %s upstream rejected a translated request: %s", c.fake.kind(), r)
					}
				}
			})
		}
	}
}

// TestGeminiThoughtSignatures: a Gemini 3 upstream signs its function
// calls and requires the signature back. Through the Gemini client the
// SDK replays it as thoughtSignature (with or without the call ids); the
// same history sent to an OpenAI or Anthropic upstream has it stripped
// (their fakes refuse unknown members).
func TestGeminiThoughtSignatures(t *testing.T) {
	for _, byName := range []bool{false, true} {
		t.Run(fmt.Sprintf("byName=%v", byName), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			g3 := upstreamKind{name: "gemini", model: modelGemini3, provider: provGemini, upstream: upstreamModelGemini3}
			c := &gcell{cell: &cell{h: h, client: "gemini", up: g3, fake: h.gem}, gs: newGeminiSession(t, h, modelGemini3, keyValid)}
			c.gs.byName = byName
			o := gemOpts{stream: true, tools: []toolDef{weatherTool}}
			c.gs.addUser("What is the weather in Paris? Please call get_weather.")
			r1 := c.gs.send(t, o)
			a := c.lastAnswer(t)
			if !r1.ok() || len(r1.calls) != 1 || a.Signature == "" {
				t.Fatalf("turn 1: %v calls %+v signature %q", r1.err, r1.calls, a.Signature)
			}
			var sig []byte
			for _, p := range r1.content.Parts {
				if p.FunctionCall != nil {
					sig = p.ThoughtSignature
				}
			}
			if want := a.Signature; string(sig) == "" || encodeStd(sig) != want {
				t.Errorf("the function call's thoughtSignature %q, want the upstream's %q", encodeStd(sig), want)
			}
			history := append([]*genai.Content(nil), c.gs.contents...) // user, model turn
			c.gs.addResults(gemToolResult{id: r1.calls[0].id, name: "get_weather", content: "18°C"})
			r2 := c.gs.send(t, o)
			if !r2.ok() {
				t.Fatalf("turn 2 failed: %d %s %s; rejections %q", r2.errCode, r2.errStatus, r2.errMessage, h.gem.rejections())
			}
			up := c.lastUp(t)
			model, _ := asMap(mustList(up.JSON["contents"])[1])
			for _, pv := range mustList(model["parts"]) {
				if p, _ := asMap(pv); p["functionCall"] != nil && p["thoughtSignature"] != a.Signature {
					t.Errorf("the Gemini 3 upstream got the call back with thoughtSignature %v, want %q", p["thoughtSignature"], a.Signature)
				}
			}
			for _, r := range h.gem.rejections() {
				t.Errorf("the gemini upstream rejected: %s", r)
			}

			// The same history (a signed Gemini 3 turn) to other upstreams.
			for _, other := range upstreamKinds[:2] {
				s := newGeminiSession(t, h, other.model, keyValid)
				s.byName = byName
				s.contents = append(s.contents, history...)
				s.addResults(gemToolResult{id: r1.calls[0].id, name: "get_weather", content: "18°C"})
				r := s.send(t, o)
				if !r.ok() {
					t.Errorf("%s: a signed Gemini 3 history failed: %d %s %s", other.name, r.errCode, r.errStatus, r.errMessage)
				}
				f := h.fakeFor(other.model)
				for _, rej := range f.rejections() {
					t.Errorf("the %s upstream rejected: %s", other.name, rej)
				}
				body := string(f.last().Body)
				if strings.Contains(body, "thoughtSignature") {
					t.Errorf("%s: a thoughtSignature member went upstream: %s", other.name, truncate(body, 600))
				}
				if other.name == "openai" {
					// By design the signature rides in OpenRouter's
					// reasoning_details (reasoning.encrypted, format
					// google-gemini-v1), for OpenAI-compatible routers in
					// front of Gemini; nowhere else.
					body = strings.Replace(body, `"data":"`+a.Signature+`"`, "", 1)
				}
				if strings.Contains(body, a.Signature) {
					t.Errorf("%s: the Gemini signature went upstream: %s", other.name, truncate(body, 600))
				}
			}
		})
	}
}

func encodeStd(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestGeminiToGeminiFunctionResponseObject (FAILS: a production bug,
// see the report): a functionResponse whose response is an object other
// than {"output": "<text>"} must reach a Gemini upstream as that object
// (only other upstreams need text, and get its JSON text: the matrix's
// parallel_tools cell checks that). It arrives JSON-encoded as a string
// inside {"output": "…"}: vertex's encoder rebuilds every response as
// {"output": ToolResult.Text()}.
func TestGeminiToGeminiFunctionResponseObject(t *testing.T) {
	for _, tc := range []struct {
		name string
		resp map[string]any
	}{
		{"object", map[string]any{"local_time": "14:05", "timezone": "Europe/Paris", "dst": true}},
		{"output_object", map[string]any{"output": map[string]any{"local_time": "14:05", "dst": true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			s := newGeminiSession(t, h, modelGemini, keyValid)
			s.byName = true
			s.addUser("What time is it in Paris? Please call get_time.")
			r1 := s.send(t, gemOpts{tools: []toolDef{timeTool}})
			if !r1.ok() || len(r1.calls) != 1 {
				t.Fatalf("turn 1: %v %+v", r1.err, r1.calls)
			}
			s.addResults(gemToolResult{name: "get_time", obj: tc.resp})
			r2 := s.send(t, gemOpts{tools: []toolDef{timeTool}})
			if !r2.ok() {
				t.Fatalf("turn 2: %v", r2.err)
			}
			contents := mustList(h.gem.last().JSON["contents"])
			last, _ := asMap(contents[len(contents)-1])
			p, _ := asMap(mustList(last["parts"])[0])
			fr, _ := asMap(p["functionResponse"])
			if got := mustJSON(fr["response"]); !jsonEqual(got, mustJSON(tc.resp)) {
				t.Errorf("the Gemini upstream got functionResponse.response %s, want the client's object %s", got, mustJSON(tc.resp))
			}
		})
	}
}

// TestGeminiModelsList: the SDK lists and gets models on /v1beta/models in
// the Gemini format.
func TestGeminiModelsList(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	s := newGeminiSession(t, h, modelOpenAI, keyValid)
	ctx := context.Background()
	var names []string
	for m, err := range s.c.Models.All(ctx) {
		if err != nil {
			t.Fatalf("Models.All: %v", err)
		}
		names = append(names, m.Name)
	}
	for _, up := range upstreamKinds {
		if !slices.Contains(names, "models/"+up.model) {
			t.Errorf("the list %q lacks models/%s", names, up.model)
		}
	}
	m, err := s.c.Models.Get(ctx, modelAnthropic, nil)
	if err != nil || m.Name != "models/"+modelAnthropic || !slices.Contains(m.SupportedActions, "generateContent") {
		t.Errorf("Models.Get = %+v, %v", m, err)
	}
	var apiErr genai.APIError
	if _, err := s.c.Models.Get(ctx, "no-such-model", nil); !errors.As(err, &apiErr) || apiErr.Code != 404 || apiErr.Status != "NOT_FOUND" {
		t.Errorf("Models.Get(no-such-model) = %v", err)
	}
}

// TestGeminiSnakeCase: Google's REST API takes the proto field names too;
// a request written in snake_case (system_instruction, generation_config,
// function_declarations, parameters_json_schema, tool_config) reaches every
// upstream with its meaning intact.
func TestGeminiSnakeCase(t *testing.T) {
	const sys = "You are a pirate assistant named Sparrow."
	body := `{"contents":[{"role":"user","parts":[{"text":"what is your system prompt?"}]}],` +
		`"system_instruction":{"parts":[{"text":"` + sys + `"}]},` +
		`"generation_config":{"max_output_tokens":100,"temperature":0.5},` +
		`"tools":[{"function_declarations":[{"name":"get_status","description":"System status","parameters_json_schema":{"type":"object","properties":{}}}]}],` +
		`"tool_config":{"function_calling_config":{"mode":"AUTO"}}}`
	for _, up := range upstreamKinds {
		t.Run(up.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			c := &cell{h: h, client: "gemini", up: up, fake: h.fakeFor(up.model)}
			id := h.newRequestID()
			resp := h.rawPost(t, "/v1beta/models/"+up.model+":generateContent", map[string]string{"x-goog-api-key": keyValid, "X-Request-Id": id}, []byte(body))
			if resp.status != http.StatusOK {
				var rej []string
				if c.fake != nil {
					rej = c.fake.rejections()
				}
				t.Fatalf("HTTP %d: %s; upstream rejections %q", resp.status, resp.body, rej)
			}
			var gr genai.GenerateContentResponse
			if err := json.Unmarshal(resp.body, &gr); err != nil || len(gr.Candidates) != 1 || gr.Candidates[0].Content == nil {
				t.Fatalf("%v: %s", err, resp.body)
			}
			h.record(t, id)
			if c.fake == nil {
				return // the demo does not echo system prompts
			}
			for _, r := range c.fake.rejections() {
				t.Errorf("the %s upstream rejected: %s", c.fake.kind(), r)
			}
			if got, want := gr.Candidates[0].Content.Parts[0].Text, "My system prompt is: "+sys; got != want {
				t.Errorf("text %q, want %q", got, want)
			}
			upr := c.lastUp(t)
			if upr.Convo.maxTokens != 100 || !slices.Equal(upr.Convo.tools, []string{"get_status"}) {
				t.Errorf("the upstream got max tokens %d tools %q", upr.Convo.maxTokens, upr.Convo.tools)
			}
			c.expectUpstreamSystem(t, sys)
		})
	}
}
