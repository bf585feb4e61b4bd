package ingress_test

// The cross-format matrix: {OpenAI SDK, Anthropic SDK} × {OpenAI-compatible
// upstream, Anthropic upstream, Gemini upstream, demo} × scenarios, each
// cell a subtest client/upstream/scenario with its own harness. For every
// cell the client's view (content, finish reason, usage, tool-call ids and
// arguments, errors in its own format) is checked against what the fake
// upstream answered, the upstream's view (what the translated request
// looked like) against the client's request, and the usage sink for
// exactly one record with the right status, tokens and attempts.
//
// Cells that cannot apply say so where they are handled: the demo provider
// has no image understanding and does not echo system prompts, so its
// image and system cells only check that the request succeeds and is
// metered.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

type upstreamKind struct {
	name     string
	model    string // logical model
	provider string
	upstream string // upstream model id
}

var upstreamKinds = []upstreamKind{
	{name: "openai", model: modelOpenAI, provider: provOpenAI, upstream: upstreamModelOpenAI},
	{name: "anthropic", model: modelAnthropic, provider: provAnthropic, upstream: upstreamModelAnthropic},
	{name: "gemini", model: modelGemini, provider: provGemini, upstream: upstreamModelGemini},
	{name: "demo", model: modelDemo, provider: provDemo, upstream: "demo"},
}

type clientKind struct {
	name string
	open func(h *harness, model string) session
}

var clientKinds = []clientKind{
	{name: "openai", open: func(h *harness, model string) session { return newOpenAISession(h, model, keyValid) }},
	{name: "anthropic", open: func(h *harness, model string) session { return newAnthropicSession(h, model, keyValid) }},
}

// cell is one matrix cell being run.
type cell struct {
	h      *harness
	client string
	up     upstreamKind
	fake   fakeUpstream // nil for the demo
	s      session
}

func (c *cell) demo() bool { return c.fake == nil }

type scenario struct {
	name string
	run  func(t *testing.T, c *cell)
}

func TestMatrix(t *testing.T) {
	for _, cl := range clientKinds {
		t.Run(cl.name, func(t *testing.T) {
			for _, up := range upstreamKinds {
				t.Run(up.name, func(t *testing.T) {
					for _, sc := range scenarios {
						t.Run(sc.name, func(t *testing.T) {
							t.Parallel()
							h := newHarness(t, harnessOptions{})
							c := &cell{h: h, client: cl.name, up: up, fake: h.fakeFor(up.model), s: cl.open(h, up.model)}
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
		})
	}
}

var scenarios = []scenario{
	{name: "text", run: func(t *testing.T, c *cell) {
		c.s.addUser("Hello there, how are you today?")
		r := c.s.send(t, sendOpts{})
		c.expectAnswer(t, r, "stop")
		if c.demo() && !strings.HasPrefix(r.text, "Hello from the xjp demo model.") {
			t.Errorf("demo text = %q", r.text)
		}
	}},
	{name: "stream", run: func(t *testing.T, c *cell) {
		c.s.addUser("Hello there, please stream your answer.")
		r := c.s.send(t, sendOpts{stream: true})
		c.expectAnswer(t, r, "stop")
		if c.demo() && !strings.HasPrefix(r.text, "Hello from the xjp demo model.") {
			t.Errorf("demo text = %q", r.text)
		}
	}},
	{name: "length", run: func(t *testing.T, c *cell) {
		c.s.addUser("Please write a very long answer about the sea and the sky and the stars.")
		r := c.s.send(t, sendOpts{maxTokens: 3})
		c.expectAnswer(t, r, "length")
		if up := c.lastUp(t); up != nil && up.Convo.maxTokens != 3 {
			t.Errorf("the upstream got max tokens %d, want 3", up.Convo.maxTokens)
		}
	}},
	{name: "stop_sequence", run: func(t *testing.T, c *cell) {
		c.s.addUser("Count with me: one two three STOP four five")
		r := c.s.send(t, sendOpts{stream: true, stop: []string{"STOP"}})
		// Only Anthropic upstreams (and the demo) say which sequence
		// matched; OpenAI and Gemini report a plain stop.
		want := "stop"
		if c.client == "anthropic" && (c.up.name == "anthropic" || c.demo()) {
			want = "stop_sequence"
			if r.stopSeq != "STOP" {
				t.Errorf("stop_sequence %q, want STOP", r.stopSeq)
			}
		}
		c.expectAnswer(t, r, want)
		if strings.Contains(r.text, "four") {
			t.Errorf("text %q runs past the stop sequence", r.text)
		}
		if up := c.lastUp(t); up != nil && !slices.Equal(up.Convo.stops, []string{"STOP"}) {
			t.Errorf("the upstream got stop sequences %q", up.Convo.stops)
		}
	}},
	{name: "content_filter", run: func(t *testing.T, c *cell) {
		if c.demo() {
			t.Skip("the demo has no safety filter")
		}
		c.s.addUser("Tell me how to do something dangerous safetystop")
		r := c.s.send(t, sendOpts{stream: true})
		c.expectAnswer(t, r, "content_filter")
	}},
	{name: "tool_roundtrip", run: func(t *testing.T, c *cell) { c.toolRoundTrip(t, false, false) }},
	{name: "stream_tool", run: func(t *testing.T, c *cell) { c.toolRoundTrip(t, true, false) }},
	{name: "parallel_tools", run: func(t *testing.T, c *cell) { c.toolRoundTrip(t, true, true) }},
	{name: "noarg_tool", run: func(t *testing.T, c *cell) {
		c.s.addUser("Is everything fine? Please call get_status.")
		r := c.s.send(t, sendOpts{stream: true, tools: []toolDef{statusTool}})
		c.expectAnswer(t, r, "tool_calls")
		if len(r.calls) != 1 || !validJSONObject(r.calls[0].args) {
			t.Fatalf("a call without arguments must still carry a JSON object: %+v", r.calls)
		}
		c.s.addToolResults(toolResult{id: r.calls[0].id, content: "all systems nominal"})
		r2 := c.s.send(t, sendOpts{stream: true, tools: []toolDef{statusTool}})
		c.expectAnswer(t, r2, "stop")
	}},
	{name: "image_base64", run: func(t *testing.T, c *cell) {
		c.s.addUser("What is in this picture?", image{mediaType: "image/png", data: pngPixel})
		r := c.s.send(t, sendOpts{})
		c.expectAnswer(t, r, "stop")
		if c.demo() {
			return // the demo has no image understanding: only success and metering apply
		}
		if want := "I see an image of type image/png."; r.text != want {
			t.Errorf("text = %q, want %q", r.text, want)
		}
		c.expectUpstreamImage(t, "image/png", pngPixel, "")
	}},
	{name: "image_url", run: func(t *testing.T, c *cell) {
		c.s.addUser("What is in this picture?", image{url: c.h.imageURL})
		r := c.s.send(t, sendOpts{})
		c.expectAnswer(t, r, "stop")
		switch c.up.name {
		case "demo":
			return // no image understanding
		case "gemini":
			// Gemini cannot fetch http(s) URLs: the gateway fetches and inlines.
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
	{name: "system", run: func(t *testing.T, c *cell) {
		const sys = "You are a pirate assistant named Sparrow."
		c.s.setSystem(sys)
		c.s.addUser("what is your system prompt?")
		r := c.s.send(t, sendOpts{stream: true})
		c.expectAnswer(t, r, "stop")
		if c.demo() {
			return // the demo does not echo system prompts
		}
		if want := "My system prompt is: " + sys; r.text != want {
			t.Errorf("text = %q, want %q", r.text, want)
		}
		c.expectUpstreamSystem(t, sys)
	}},
	{name: "thinking", run: func(t *testing.T, c *cell) {
		c.s.addUser("Please think before answering: what is 2+2?")
		r := c.s.send(t, sendOpts{stream: true, think: true})
		a := c.expectAnswer(t, r, "stop")
		switch {
		case c.demo():
			if r.thinking == "" {
				t.Errorf("the demo thinks when asked; the client saw no thinking")
			}
		case a != nil:
			if a.Thinking == "" {
				t.Fatalf("the %s upstream was not asked to think: %s", c.up.name, c.lastUp(t).Body)
			}
			if r.thinking != a.Thinking {
				t.Errorf("thinking = %q, want %q", r.thinking, a.Thinking)
			}
			if c.client == "anthropic" && c.up.name == "anthropic" && r.signature != a.Signature {
				t.Errorf("signature = %q, want %q", r.signature, a.Signature)
			}
		}
		// The next turn replays the history (the Anthropic SDK sends the
		// thinking block back; the Anthropic fake checks its signature).
		c.s.addUser("Thanks. And what is 3+3?")
		r2 := c.s.send(t, sendOpts{think: true})
		if a2 := c.expectAnswer(t, r2, "stop"); a2 != nil && r2.thinking != a2.Thinking {
			t.Errorf("non-streamed thinking = %q, want %q", r2.thinking, a2.Thinking)
		}
		if c.client == "anthropic" && c.up.name == "anthropic" {
			up := c.lastUp(t)
			msgs, _ := asList(up.JSON["messages"])
			first, _ := asMap(msgs[1])
			blocks, _ := asList(first["content"])
			b0, _ := asMap(blocks[0])
			if b0["type"] != "thinking" || b0["signature"] != r.signature {
				t.Errorf("the replayed assistant turn does not start with the signed thinking block: %s", mustJSON(first))
			}
		}
	}},
	{name: "err400", run: func(t *testing.T, c *cell) { c.upstreamError(t, 400, false) }},
	{name: "err401", run: func(t *testing.T, c *cell) { c.upstreamError(t, 401, false) }},
	{name: "err429", run: func(t *testing.T, c *cell) { c.upstreamError(t, 429, true) }},
	{name: "err500", run: func(t *testing.T, c *cell) { c.upstreamError(t, 500, false) }},
	{name: "err503", run: func(t *testing.T, c *cell) { c.upstreamError(t, 503, true) }},
	{name: "err529", run: func(t *testing.T, c *cell) { c.upstreamError(t, 529, false) }},
	{name: "cutstream", run: func(t *testing.T, c *cell) {
		c.s.addUser("Tell me a long story about dragons and castles please cutstream xjp:cut")
		r := c.s.send(t, sendOpts{stream: true})
		if r.ok() {
			t.Fatalf("a stream cut by the upstream ended without an error; text %q finish %q", r.text, r.rawFinish)
		}
		if !r.midStream {
			t.Fatalf("want the error inside the 200 stream, got HTTP %d %s: %s", r.errStatus, r.errType, r.errMessage)
		}
		wantStatus, wantKind := http.StatusBadGateway, llm.KindProviderServer
		if c.up.name == "anthropic" { // event: error overloaded_error
			wantStatus, wantKind = http.StatusServiceUnavailable, llm.KindProviderOverloaded
		}
		if want := errorTypeFor(c.client, wantStatus); r.errType != want {
			t.Errorf("mid-stream error type = %q, want %q (message %q)", r.errType, want, r.errMessage)
		}
		if r.text == "" {
			t.Errorf("no text reached the client before the cut")
		}
		if a := c.lastAnswer(t); a != nil && !strings.HasPrefix(a.Text, r.text) {
			t.Errorf("partial text %q is not a prefix of %q", r.text, a.Text)
		}
		rec := c.h.record(t, r.reqID)
		if rec.Status != wantStatus || rec.ErrorKind != wantKind || rec.Attempts != 1 {
			t.Errorf("usage record status %d kind %q attempts %d, want %d %q 1", rec.Status, rec.ErrorKind, rec.Attempts, wantStatus, wantKind)
		}
		if rec.Usage.OutputTokens == 0 || rec.Usage.PromptTokens() == 0 {
			t.Errorf("a cut stream must still be billed for what was sent: usage %+v", rec.Usage)
		}
		if c.fake != nil && len(c.fake.requests()) != 1 {
			t.Errorf("the upstream got %d requests; nothing may be retried after the first byte", len(c.fake.requests()))
		}
	}},
}

// errorTypeFor is the error type a client's format uses for a status.
func errorTypeFor(client string, status int) string {
	if client == "openai" {
		switch {
		case status == 401:
			return "authentication_error"
		case status == 403:
			return "permission_error"
		case status == 429:
			return "rate_limit_error"
		case status >= 400 && status < 500:
			return "invalid_request_error"
		}
		return "api_error"
	}
	switch status {
	case 401:
		return "authentication_error"
	case 403:
		return "permission_error"
	case 404:
		return "not_found_error"
	case 413:
		return "request_too_large"
	case 429:
		return "rate_limit_error"
	case 503, 529:
		return "overloaded_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}

// lastUp returns the last model request the fake got (nil for the demo).
func (c *cell) lastUp(t *testing.T) *upstreamRequest {
	t.Helper()
	if c.fake == nil {
		return nil
	}
	up := c.fake.last()
	if up == nil {
		t.Fatalf("the %s upstream got no request", c.fake.kind())
	}
	return up
}

func (c *cell) lastAnswer(t *testing.T) *answer {
	t.Helper()
	up := c.lastUp(t)
	if up == nil {
		return nil
	}
	if up.Answer == nil {
		t.Fatalf("the %s upstream did not answer (status %d, reject %q)", c.fake.kind(), up.Status, up.Reject)
	}
	return up.Answer
}

// expectAnswer checks a successful answer against the upstream's and the
// usage record; it returns the upstream's answer (nil for the demo).
func (c *cell) expectAnswer(t *testing.T, r *clientResult, finish string) *answer {
	t.Helper()
	if !r.ok() {
		if c.fake != nil {
			if rej := c.fake.rejections(); len(rej) > 0 {
				t.Fatalf("request failed (HTTP %d %s: %s); the upstream rejected: %s", r.errStatus, r.errType, r.errMessage, strings.Join(rej, "; "))
			}
		}
		t.Fatalf("request failed: HTTP %d %s: %s (%v)", r.errStatus, r.errType, r.errMessage, r.err)
	}
	if r.finish != finish {
		t.Errorf("finish = %q (%s), want %s", r.finish, r.rawFinish, finish)
	}
	if r.model != c.up.model {
		t.Errorf("the response names model %q, want the one asked for, %q", r.model, c.up.model)
	}
	if prefix := map[string]string{"openai": "chatcmpl-", "anthropic": "msg_"}[c.client]; !strings.HasPrefix(r.id, prefix) {
		t.Errorf("response id %q, want the %s prefix", r.id, prefix)
	}
	a := c.lastAnswer(t)
	if a != nil {
		if r.text != a.Text {
			t.Errorf("text = %q, want the upstream's %q", r.text, a.Text)
		}
		if r.usage != a.Usage {
			t.Errorf("usage (uncached in, cache read, cache write, out) = %+v, want the upstream's %+v", r.usage, a.Usage)
		}
		if len(r.calls) != len(a.Calls) {
			t.Fatalf("%d tool calls, want the upstream's %d: %+v", len(r.calls), len(a.Calls), r.calls)
		}
		ids := map[string]bool{}
		for i, got := range r.calls {
			want := a.Calls[i]
			if got.name != want.Name || !jsonEqual(got.args, want.Args) {
				t.Errorf("tool call %d = %s(%s), want %s(%s)", i, got.name, got.args, want.Name, want.Args)
			}
			if want.ID != "" && got.id != want.ID {
				t.Errorf("tool call %d id = %q, want the upstream's %q", i, got.id, want.ID)
			}
			if got.id == "" || ids[got.id] {
				t.Errorf("tool call %d has an empty or repeated id %q", i, got.id)
			}
			ids[got.id] = true
		}
		if up := c.lastUp(t); up.Convo.stream != r.streamed {
			t.Errorf("upstream stream = %v, want %v", up.Convo.stream, r.streamed)
		}
		c.expectUpstreamBasics(t)
	} else if r.text == "" && len(r.calls) == 0 {
		t.Errorf("the demo answered nothing")
	}
	if r.usage.Output == 0 || r.usage.Input+r.usage.CacheRead == 0 {
		t.Errorf("usage %+v: want input and output tokens", r.usage)
	}
	if r.streamed {
		switch c.client {
		case "openai":
			if !r.firstRoleAssistant {
				t.Errorf("the first chunk did not carry role assistant")
			}
			if !r.usageChunkLast {
				t.Errorf("include_usage was asked but the last chunk before [DONE] was not a usage chunk with choices []")
			}
			if !r.toolDeltasOK {
				t.Errorf("tool call deltas: %s", strings.Join(r.toolDeltaProblems, "; "))
			}
		case "anthropic":
			if !r.sawMessageDelta || r.deltaOutputTokens != r.usage.Output {
				t.Errorf("message_delta usage.output_tokens = %d (seen %v), want %d", r.deltaOutputTokens, r.sawMessageDelta, r.usage.Output)
			}
		}
	}
	rec := c.h.record(t, r.reqID)
	if rec.Status != http.StatusOK || rec.ErrorKind != "" || rec.Attempts != 1 {
		t.Errorf("usage record status %d kind %q attempts %d, want 200 \"\" 1", rec.Status, rec.ErrorKind, rec.Attempts)
	}
	if got := (neutralUsage{Input: rec.Usage.InputTokens, CacheRead: rec.Usage.CacheReadTokens, CacheWrite: rec.Usage.CacheWriteTokens, Output: rec.Usage.OutputTokens}); got != r.usage {
		t.Errorf("usage record %+v, the client saw %+v", got, r.usage)
	}
	if a != nil && rec.Usage.Estimated {
		t.Errorf("usage record is flagged estimated although the upstream reported usage")
	}
	if a != nil && a.ThoughtTokens > 0 && rec.Usage.ReasoningTokens != a.ThoughtTokens && c.up.name != "anthropic" {
		t.Errorf("usage record reasoning tokens %d, want %d", rec.Usage.ReasoningTokens, a.ThoughtTokens)
	}
	if rec.Model != c.up.model || rec.Provider != c.up.provider || rec.UpstreamModel != c.up.upstream || rec.Stream != r.streamed {
		t.Errorf("usage record model %q provider %q upstream %q stream %v", rec.Model, rec.Provider, rec.UpstreamModel, rec.Stream)
	}
	wantEndpoint := map[string]string{"openai": "chat", "anthropic": "messages"}[c.client]
	if rec.Endpoint != wantEndpoint || rec.KeyID != "key_valid" {
		t.Errorf("usage record endpoint %q key %q", rec.Endpoint, rec.KeyID)
	}
	return a
}

// expectUpstreamBasics checks the model and per-dialect essentials of the
// last upstream request.
func (c *cell) expectUpstreamBasics(t *testing.T) {
	t.Helper()
	up := c.lastUp(t)
	switch c.up.name {
	case "openai":
		if up.JSON["model"] != upstreamModelOpenAI {
			t.Errorf("openai upstream model = %v, want %q", up.JSON["model"], upstreamModelOpenAI)
		}
		if up.Convo.stream {
			so, _ := asMap(up.JSON["stream_options"])
			if so["include_usage"] != true {
				t.Errorf("a streamed call must ask the openai upstream for usage: stream_options = %v", up.JSON["stream_options"])
			}
		}
	case "anthropic":
		if up.JSON["model"] != upstreamModelAnthropic {
			t.Errorf("anthropic upstream model = %v", up.JSON["model"])
		}
		want := "2023-06-01" // the provider's default
		if c.client == "anthropic" {
			want = "2026-10-21" // what anthropic-sdk-go/v2 sent
		}
		if got := up.Header.Get("Anthropic-Version"); got != want {
			t.Errorf("anthropic-version upstream = %q, want %q", got, want)
		}
		for _, m := range mustList(up.JSON["messages"]) {
			if mm, _ := asMap(m); mm["role"] == "system" {
				t.Errorf("a system message inside messages reached the anthropic upstream")
			}
		}
	case "gemini":
		if !strings.Contains(up.Path, "/models/"+upstreamModelGemini+":") {
			t.Errorf("gemini path %q does not name %q", up.Path, upstreamModelGemini)
		}
	}
}

func mustList(v any) []any {
	l, _ := asList(v)
	return l
}

// toolRoundTrip: the model calls one tool (or two at once), the client
// sends the results back, the model answers quoting them.
func (c *cell) toolRoundTrip(t *testing.T, stream, parallel bool) {
	tools := []toolDef{weatherTool}
	prompt := "What is the weather in Paris? Please call get_weather."
	wantNames := []string{"get_weather"}
	if parallel {
		tools = []toolDef{weatherTool, timeTool}
		prompt = "Please call get_weather and get_time for Paris, both at once."
		wantNames = []string{"get_weather", "get_time"}
	}
	c.s.addUser(prompt)
	r1 := c.s.send(t, sendOpts{stream: stream, tools: tools})
	c.expectAnswer(t, r1, "tool_calls")
	if len(r1.calls) != len(wantNames) {
		t.Fatalf("%d tool calls, want %d: %+v", len(r1.calls), len(wantNames), r1.calls)
	}
	indexes := map[int]bool{}
	var results []toolResult
	for i, call := range r1.calls {
		if call.name != wantNames[i] {
			t.Errorf("call %d is %q, want %q", i, call.name, wantNames[i])
		}
		if !validJSONObject(call.args) {
			t.Errorf("call %d arguments are not a JSON object: %q", i, call.args)
		}
		if indexes[call.index] {
			t.Errorf("call %d repeats index %d", i, call.index)
		}
		indexes[call.index] = true
		results = append(results, toolResult{id: call.id, content: fmt.Sprintf("result %d for %s: 18°C and sunny", i, call.name)})
	}
	if c.demo() {
		// The demo builds arguments from the schema.
		var args map[string]any
		json.Unmarshal([]byte(r1.calls[0].args), &args)
		if _, ok := args["city"]; !ok {
			t.Errorf("demo get_weather arguments %s lack city", r1.calls[0].args)
		}
	}

	c.s.addToolResults(results...)
	r2 := c.s.send(t, sendOpts{stream: stream, tools: tools})
	c.expectAnswer(t, r2, "stop")
	for _, res := range results {
		if !strings.Contains(r2.text, res.content) {
			t.Errorf("the final answer %q does not quote %q", r2.text, res.content)
		}
	}
	if c.fake == nil {
		return
	}
	// What the upstream got on the second turn: the calls, then one turn of
	// results answering them in order.
	cv := c.lastUp(t).Convo
	k := -1
	for i, tr := range cv.turns {
		if tr.role == "assistant" && len(tr.calls) > 0 {
			k = i
		}
	}
	if k < 0 || k+1 >= len(cv.turns) {
		t.Fatalf("the upstream's second request has no tool call turn followed by results: %+v", cv.turns)
	}
	calls, res := cv.turns[k].calls, cv.turns[k+1].results
	if len(calls) != len(r1.calls) || len(res) != len(r1.calls) {
		t.Fatalf("upstream got %d calls and %d results in the next turn, want %d each", len(calls), len(res), len(r1.calls))
	}
	for i := range r1.calls {
		if calls[i].Name != r1.calls[i].name || !jsonEqual(calls[i].Args, r1.calls[i].args) {
			t.Errorf("upstream call %d = %s(%s), the client had %s(%s)", i, calls[i].Name, calls[i].Args, r1.calls[i].name, r1.calls[i].args)
		}
		if res[i].Content != results[i].content {
			t.Errorf("upstream result %d = %q, want %q", i, res[i].Content, results[i].content)
		}
		switch c.up.name {
		case "gemini":
			if res[i].Name != r1.calls[i].name {
				t.Errorf("functionResponse %d names %q, want %q", i, res[i].Name, r1.calls[i].name)
			}
		default:
			if calls[i].ID != r1.calls[i].id || res[i].ID != r1.calls[i].id {
				t.Errorf("ids upstream: call %q result %q; the client's id %q", calls[i].ID, res[i].ID, r1.calls[i].id)
			}
		}
	}
	if c.up.name == "anthropic" {
		// all results in one user message, tool_result blocks first
		msgs := mustList(c.lastUp(t).JSON["messages"])
		last, _ := asMap(msgs[len(msgs)-1])
		blocks := mustList(last["content"])
		if last["role"] != "user" || len(blocks) != len(results) {
			t.Errorf("anthropic upstream last message %s: want one user message of %d tool_result blocks", mustJSON(last), len(results))
		}
	}
}

// expectUpstreamImage checks the image as the upstream got it: base64
// (media type and data, no data: prefix) or a URL.
func (c *cell) expectUpstreamImage(t *testing.T, mediaType, data, url string) {
	t.Helper()
	up := c.lastUp(t)
	var found []string
	switch c.up.name {
	case "openai":
		for _, m := range mustList(up.JSON["messages"]) {
			mm, _ := asMap(m)
			for _, p := range mustList(mm["content"]) {
				pm, _ := asMap(p)
				if iu, ok := asMap(pm["image_url"]); ok {
					found = append(found, fmt.Sprint(iu["url"]))
				}
			}
		}
		want := url
		if want == "" {
			want = "data:" + mediaType + ";base64," + data
		}
		if !slices.Equal(found, []string{want}) {
			t.Errorf("openai upstream images %q, want %q", found, want)
		}
	case "anthropic":
		for _, m := range mustList(up.JSON["messages"]) {
			mm, _ := asMap(m)
			for _, b := range mustList(mm["content"]) {
				bm, _ := asMap(b)
				if bm["type"] == "image" {
					found = append(found, mustJSON(bm["source"]))
				}
			}
		}
		want := mustJSON(map[string]any{"type": "url", "url": url})
		if url == "" {
			want = mustJSON(map[string]any{"type": "base64", "media_type": mediaType, "data": data})
		}
		if len(found) != 1 || !jsonEqual(found[0], want) {
			t.Errorf("anthropic upstream image sources %q, want %s", found, want)
		}
	case "gemini":
		for _, cv := range mustList(up.JSON["contents"]) {
			cm, _ := asMap(cv)
			for _, p := range mustList(cm["parts"]) {
				pm, _ := asMap(p)
				if d, ok := asMap(pm["inlineData"]); ok {
					found = append(found, mustJSON(d))
				}
				if d, ok := asMap(pm["fileData"]); ok {
					found = append(found, mustJSON(d))
				}
			}
		}
		want := mustJSON(map[string]any{"mimeType": mediaType, "data": data})
		if len(found) != 1 || !jsonEqual(found[0], want) {
			t.Errorf("gemini upstream media %q, want %s", found, want)
		}
	}
}

// expectUpstreamSystem checks where the system prompt went.
func (c *cell) expectUpstreamSystem(t *testing.T, sys string) {
	t.Helper()
	up := c.lastUp(t)
	switch c.up.name {
	case "openai":
		msgs := mustList(up.JSON["messages"])
		first, _ := asMap(msgs[0])
		if first["role"] != "system" || first["content"] != sys {
			t.Errorf("openai upstream first message %s, want the system prompt", mustJSON(first))
		}
	case "anthropic":
		got, _ := anthropicSystem("system", up.JSON["system"])
		if got != sys {
			t.Errorf("anthropic upstream top-level system %s, want %q", mustJSON(up.JSON["system"]), sys)
		}
	case "gemini":
		si, _ := asMap(up.JSON["systemInstruction"])
		parts := mustList(si["parts"])
		if len(parts) != 1 || mustJSON(parts[0]) != mustJSON(map[string]any{"text": sys}) {
			t.Errorf("gemini systemInstruction %s, want %q", mustJSON(si), sys)
		}
		for _, cv := range mustList(up.JSON["contents"]) {
			if strings.Contains(mustJSON(cv), sys) {
				t.Errorf("the system prompt also went into contents: %s", mustJSON(cv))
			}
		}
	}
}

// upstreamError: the upstream answers HTTP status in its error envelope;
// the client gets the gateway's status in its own format, after retries
// when the failure is retryable, and one usage record.
func (c *cell) upstreamError(t *testing.T, status int, stream bool) {
	t.Helper()
	type expect struct {
		status   int
		kind     llm.Kind
		attempts int
		msg      string
	}
	ex := map[int]expect{
		400: {400, llm.KindCallerInvalid, 1, "400 requested by the prompt"},
		401: {502, llm.KindProviderAuth, 1, "upstream refused the gateway's credentials"},
		429: {429, llm.KindProviderRateLimited, 1, "429 requested by the prompt"}, // retry-after 1s > max backoff: no retry
		500: {502, llm.KindProviderServer, 3, "500 requested by the prompt"},
		503: {503, llm.KindProviderOverloaded, 3, "503 requested by the prompt"},
		529: {503, llm.KindProviderOverloaded, 3, "529 requested by the prompt"},
	}[status]
	c.s.addUser(fmt.Sprintf("Please fail%d now xjp:fail=%d", status, status))
	r := c.s.send(t, sendOpts{stream: stream})
	if r.ok() {
		t.Fatalf("want HTTP %d, got success %q", ex.status, r.text)
	}
	if r.midStream {
		t.Fatalf("an upstream that failed before its first byte must give an HTTP error, not a 200 stream with an error (%s: %s)", r.errType, r.errMessage)
	}
	if r.errStatus != ex.status {
		t.Errorf("status = %d, want %d (%s: %s)", r.errStatus, ex.status, r.errType, r.errMessage)
	}
	if want := errorTypeFor(c.client, ex.status); r.errType != want {
		t.Errorf("error type = %q, want %q", r.errType, want)
	}
	if !strings.Contains(r.errMessage, ex.msg) {
		t.Errorf("error message %q does not carry %q", r.errMessage, ex.msg)
	}
	if status == 429 && r.retryAfter == "" {
		t.Errorf("429 without Retry-After")
	}
	rec := c.h.record(t, r.reqID)
	if rec.Status != ex.status || rec.ErrorKind != ex.kind || rec.Attempts != ex.attempts {
		t.Errorf("usage record status %d kind %q attempts %d, want %d %q %d", rec.Status, rec.ErrorKind, rec.Attempts, ex.status, ex.kind, ex.attempts)
	}
	if !rec.Usage.IsZero() {
		t.Errorf("a refused request was billed: %+v", rec.Usage)
	}
	if c.fake != nil {
		if n := len(c.fake.requests()); n != ex.attempts {
			t.Errorf("the upstream got %d requests, want %d", n, ex.attempts)
		}
	}
}
