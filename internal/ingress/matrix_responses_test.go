package ingress_test

// The Responses API row of the cross-format matrix: the openai-go/v3
// Responses client (POST /v1/responses, what Codex CLI speaks) × {OpenAI-
// compatible upstream, Anthropic upstream, Gemini upstream, demo} ×
// scenarios, each cell a subtest upstream/scenario with its own harness.
// Every cell checks the client's view (output items, status, usage, the
// stream protocol, errors in OpenAI's envelope) against what the fake
// upstream answered, the upstream's view against the client's request, and
// the usage sink for exactly one record.
//
// Cells that cannot apply say so where they are handled: the demo has no
// image understanding, does not echo system prompts and does not call
// custom (freeform) tools, so those cells check what does apply.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	oaiopt "github.com/openai/openai-go/v3/option"
	oaires "github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"

	"github.com/rickyjim626/xjp/internal/llm"
)

// rcell is one Responses matrix cell.
type rcell struct {
	*cell
	rs *responsesSession
}

type rscenario struct {
	name string
	run  func(t *testing.T, c *rcell)
}

func TestMatrixResponses(t *testing.T) {
	for _, up := range upstreamKinds {
		t.Run(up.name, func(t *testing.T) {
			for _, sc := range responsesScenarios {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					h := newHarness(t, harnessOptions{})
					c := &rcell{cell: &cell{h: h, client: "responses", up: up, fake: h.fakeFor(up.model)}, rs: newResponsesSession(h, up.model, keyValid)}
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

var responsesScenarios = []rscenario{
	{name: "text", run: func(t *testing.T, c *rcell) {
		c.rs.addUser("Hello there, how are you today?")
		r := c.rs.send(t, respOpts{})
		c.expectResp(t, r, "completed", "")
		if c.demo() && !strings.HasPrefix(r.text, "Hello from the xjp demo model.") {
			t.Errorf("demo text = %q", r.text)
		}
		if len(r.messageIDs) != 1 {
			t.Errorf("%d message items, want 1", len(r.messageIDs))
		}
	}},
	{name: "stream", run: func(t *testing.T, c *rcell) {
		c.rs.addUser("Hello there, please stream your answer.")
		r := c.rs.send(t, respOpts{stream: true})
		c.expectResp(t, r, "completed", "")
		if r.deltaText != r.text {
			t.Errorf("the text deltas built %q, the completed response says %q", r.deltaText, r.text)
		}
		if n := strings.Count(strings.Join(r.events, " "), "response.output_text.delta"); n < 2 {
			t.Errorf("the text came in %d deltas; the fake streams it word by word", n)
		}
		// A second turn replays the assistant message item verbatim.
		c.rs.addUser("Thanks, and once more please.")
		r2 := c.rs.send(t, respOpts{stream: true})
		c.expectResp(t, r2, "completed", "")
		if up := c.lastUp(t); up != nil {
			if n := len(up.Convo.turns); n != 3 || up.Convo.turns[1].role != "assistant" || up.Convo.turns[1].text != r.text {
				t.Errorf("the replayed turn reached the upstream as %+v", up.Convo.turns)
			}
		}
	}},
	{name: "tool_roundtrip", run: func(t *testing.T, c *rcell) { c.toolRoundTrip(t, false, false, false) }},
	{name: "stream_tool", run: func(t *testing.T, c *rcell) { c.toolRoundTrip(t, true, false, false) }},
	{name: "parallel_tools", run: func(t *testing.T, c *rcell) { c.toolRoundTrip(t, true, true, false) }},
	// Reasoning, then a call: the reasoning item is replayed with the call
	// (Anthropic requires the signed thinking block first in that turn).
	{name: "reasoning_tool", run: func(t *testing.T, c *rcell) { c.toolRoundTrip(t, true, false, true) }},
	{name: "image_data_url", run: func(t *testing.T, c *rcell) {
		c.rs.addUser("What is in this picture?", image{mediaType: "image/png", data: pngPixel})
		r := c.rs.send(t, respOpts{})
		c.expectResp(t, r, "completed", "")
		if c.demo() {
			return // the demo has no image understanding: only success and metering apply
		}
		if want := "I see an image of type image/png."; r.text != want {
			t.Errorf("text = %q, want %q", r.text, want)
		}
		c.expectUpstreamImage(t, "image/png", pngPixel, "")
	}},
	{name: "image_http_url", run: func(t *testing.T, c *rcell) {
		c.rs.addUser("What is in this picture?", image{url: c.h.imageURL})
		r := c.rs.send(t, respOpts{stream: true})
		c.expectResp(t, r, "completed", "")
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
	{name: "system", run: func(t *testing.T, c *rcell) {
		// instructions and a developer message in input both make the
		// system prompt, in that order.
		const instr = "You are a pirate assistant named Sparrow."
		const dev = "Always answer in English."
		c.rs.instructions = instr
		c.rs.addDeveloper(dev)
		c.rs.addUser("what is your system prompt?")
		r := c.rs.send(t, respOpts{stream: true})
		c.expectResp(t, r, "completed", "")
		if got := r.resp.Instructions.OfString; got != instr {
			t.Errorf("the response echoes instructions %q, want %q", got, instr)
		}
		if c.demo() {
			return // the demo does not echo system prompts
		}
		sys := instr + "\n" + dev
		if want := "My system prompt is: " + sys; r.text != want {
			t.Errorf("text = %q, want %q", r.text, want)
		}
		up := c.lastUp(t)
		if up.Convo.system != sys {
			t.Errorf("the upstream's system prompt = %q, want %q", up.Convo.system, sys)
		}
		for _, tr := range up.Convo.turns {
			if strings.Contains(tr.text, instr) || strings.Contains(tr.text, dev) {
				t.Errorf("the system prompt also went into a %s turn: %q", tr.role, tr.text)
			}
		}
	}},
	{name: "reasoning", run: func(t *testing.T, c *rcell) { c.reasoning(t) }},
	{name: "content_filter", run: func(t *testing.T, c *rcell) {
		if c.demo() {
			t.Skip("the demo has no safety filter")
		}
		c.rs.addUser("Tell me how to do something dangerous safetystop")
		r := c.rs.send(t, respOpts{stream: true})
		c.expectResp(t, r, "incomplete", "content_filter")
	}},
	{name: "length", run: func(t *testing.T, c *rcell) { c.length(t, false) }},
	{name: "length_stream", run: func(t *testing.T, c *rcell) { c.length(t, true) }},
	{name: "err400", run: func(t *testing.T, c *rcell) { c.upstreamError(t, 400, false) }},
	{name: "err401", run: func(t *testing.T, c *rcell) { c.upstreamError(t, 401, false) }},
	{name: "err429", run: func(t *testing.T, c *rcell) { c.upstreamError(t, 429, false) }},
	{name: "err500", run: func(t *testing.T, c *rcell) { c.upstreamError(t, 500, false) }},
	{name: "err503_stream", run: func(t *testing.T, c *rcell) { c.upstreamError(t, 503, true) }},
	{name: "cutstream", run: func(t *testing.T, c *rcell) { c.cutStream(t) }},
	{name: "codex", run: func(t *testing.T, c *rcell) { c.codex(t) }},
}

// expectResp checks a successful response against the upstream's answer,
// the stream protocol and the usage record; it returns the upstream's
// answer (nil for the demo).
func (c *rcell) expectResp(t *testing.T, r *respResult, status, reason string) *answer {
	t.Helper()
	if r.err != nil || r.resp == nil {
		if c.fake != nil {
			if rej := c.fake.rejections(); len(rej) > 0 {
				t.Fatalf("request failed (HTTP %d %s: %s); the upstream rejected: %s", r.errStatus, r.errType, r.errMessage, strings.Join(rej, "; "))
			}
		}
		t.Fatalf("request failed: HTTP %d %s %s: %s (%v); stream problems %q", r.errStatus, r.errType, r.errCode, r.errMessage, r.err, r.problems)
	}
	if len(r.problems) > 0 {
		t.Errorf("stream protocol violations:\n  %s\nevents: %s", strings.Join(r.problems, "\n  "), strings.Join(r.events, " "))
	}
	if r.status != status || r.incompleteReason != reason {
		t.Errorf("status %q incomplete_details.reason %q, want %q %q", r.status, r.incompleteReason, status, reason)
	}
	if r.streamed {
		want := map[string]string{"completed": "response.completed", "incomplete": "response.incomplete"}[status]
		if r.terminal != want {
			t.Errorf("the stream ended with %q, want %q", r.terminal, want)
		}
	}
	if r.model != c.up.model {
		t.Errorf("the response names model %q, want the one asked for, %q", r.model, c.up.model)
	}
	if !strings.HasPrefix(r.id, "resp_") {
		t.Errorf("response id %q, want the resp_ prefix", r.id)
	}
	for _, id := range r.messageIDs {
		if !strings.HasPrefix(id, "msg_") {
			t.Errorf("message item id %q, want the msg_ prefix", id)
		}
	}
	a := c.lastAnswer(t)
	if a != nil {
		if r.text != a.Text {
			t.Errorf("text = %q, want the upstream's %q", r.text, a.Text)
		}
		if len(r.calls) != len(a.Calls) {
			t.Fatalf("%d tool calls, want the upstream's %d: %+v", len(r.calls), len(a.Calls), r.calls)
		}
		for i, got := range r.calls {
			want := a.Calls[i]
			if got.name != want.Name {
				t.Errorf("call %d name %q, want %q", i, got.name, want.Name)
			}
			switch got.kind {
			case "custom_tool_call":
				if in := llm.CustomInput(want.Args); got.args != in {
					t.Errorf("custom call %d input %q, want the raw input %q", i, got.args, in)
				}
			default:
				if !jsonEqual(got.args, want.Args) {
					t.Errorf("call %d arguments %s, want %s", i, got.args, want.Args)
				}
			}
			if want.ID != "" && got.callID != want.ID {
				t.Errorf("call %d call_id %q, want the upstream's id %q", i, got.callID, want.ID)
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
		prefix := map[string]string{"function_call": "fc_", "custom_tool_call": "ctc_"}[call.kind]
		if call.callID == "" || ids[call.callID] {
			t.Errorf("call %d has an empty or repeated call_id %q", i, call.callID)
		}
		ids[call.callID] = true
		if !strings.HasPrefix(call.itemID, prefix) || call.itemID == call.callID {
			t.Errorf("call %d item id %q: want the %s prefix, distinct from call_id %q", i, call.itemID, prefix, call.callID)
		}
		if call.status != "completed" {
			t.Errorf("call %d status %q, want completed", i, call.status)
		}
		if call.kind == "function_call" && !validJSONObject(call.args) {
			t.Errorf("call %d arguments are not a JSON object: %q", i, call.args)
		}
	}
	u := r.usage
	if !r.usageValid {
		t.Errorf("the response has no usage")
	}
	if u.TotalTokens != u.InputTokens+u.OutputTokens {
		t.Errorf("usage total_tokens %d != input %d + output %d", u.TotalTokens, u.InputTokens, u.OutputTokens)
	}
	cu := clientUsage{prompt: u.InputTokens, cached: u.InputTokensDetails.CachedTokens, output: u.OutputTokens, reasoning: u.OutputTokensDetails.ReasoningTokens}
	expectUsage(t, c.up.name, a, cu)
	expectRecord(t, c.cell, r.reqID, "responses", r.streamed, a, cu)
	return a
}

// toolRoundTrip: the model calls one function (or two at once), the client
// sends function_call_output items paired by call_id, the model answers
// quoting them. think asks for reasoning (with encrypted content) too.
func (c *rcell) toolRoundTrip(t *testing.T, stream, parallel, think bool) {
	tools := []toolDef{weatherTool}
	prompt := "What is the weather in Paris? Please call get_weather."
	wantNames := []string{"get_weather"}
	if parallel {
		tools = []toolDef{weatherTool, timeTool}
		prompt = "Please call get_weather and get_time for Paris, both at once."
		wantNames = []string{"get_weather", "get_time"}
	}
	yes := true
	o := respOpts{stream: stream, tools: functionTools(tools...), parallel: &yes}
	if think {
		o.edit = reasoningParams
	}
	c.rs.addUser(prompt)
	r1 := c.rs.send(t, o)
	if a := c.expectResp(t, r1, "completed", ""); think && (a != nil && r1.reasoning != a.Thinking || r1.reasoning == "") {
		t.Errorf("reasoning %q before the call, want the upstream's thinking", r1.reasoning)
	}
	if len(r1.calls) != len(wantNames) {
		t.Fatalf("%d tool calls, want %d: %+v", len(r1.calls), len(wantNames), r1.calls)
	}
	var sent []sentCall
	var results []toolResult
	var contents []string
	for i, call := range r1.calls {
		if call.kind != "function_call" || call.name != wantNames[i] {
			t.Errorf("call %d is a %s %q, want a function_call %q", i, call.kind, call.name, wantNames[i])
		}
		content := fmt.Sprintf("result %d for %s: 18°C and sunny", i, call.name)
		sent = append(sent, sentCall{id: call.callID, name: call.name, args: call.args})
		results = append(results, toolResult{id: call.callID, content: content})
		contents = append(contents, content)
	}
	if stream {
		// The arguments streamed as deltas of the announced item.
		if n := strings.Count(strings.Join(r1.events, " "), "response.function_call_arguments.delta"); n < len(r1.calls) {
			t.Errorf("%d argument deltas for %d calls", n, len(r1.calls))
		}
	}
	if c.demo() {
		// The demo builds arguments from the schema.
		if !strings.Contains(r1.calls[0].args, `"city"`) {
			t.Errorf("demo get_weather arguments %s lack city", r1.calls[0].args)
		}
	}

	// The next request replays the function_call items verbatim (with
	// their fc_ ids and status) and answers each by call_id; with two calls
	// the second output is a list of content parts.
	c.rs.addOutputs(results[0])
	if len(results) > 1 {
		c.rs.addOutputList(results[1])
	}
	r2 := c.rs.send(t, o)
	c.expectResp(t, r2, "completed", "")
	for _, content := range contents {
		if !strings.Contains(r2.text, content) {
			t.Errorf("the final answer %q does not quote %q", r2.text, content)
		}
	}
	if c.fake != nil {
		expectUpstreamToolTurn(t, c.cell, sent, contents, true)
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

// reasoningParams asks for reasoning summaries and their encrypted content.
func reasoningParams(p *oaires.ResponseNewParams) {
	p.Reasoning = shared.ReasoningParam{Effort: shared.ReasoningEffortLow, Summary: shared.ReasoningSummaryAuto}
	p.Include = []oaires.ResponseIncludable{oaires.ResponseIncludableReasoningEncryptedContent}
	p.Store = oai.Bool(false)
}

// reasoning: reasoning.effort makes the upstream think; the thinking comes
// back as a reasoning item whose summary is the thinking text, with what
// the upstream needs to continue it (an Anthropic signature) in
// encrypted_content when the client includes reasoning.encrypted_content.
// The next turn replays the reasoning item verbatim, and an Anthropic
// upstream gets its signed thinking block back (the fake checks the
// signature).
func (c *rcell) reasoning(t *testing.T) {
	think := reasoningParams
	c.rs.addUser("Please think before answering: what is 2+2?")
	r := c.rs.send(t, respOpts{stream: true, edit: think})
	a := c.expectResp(t, r, "completed", "")
	switch {
	case c.demo():
		if r.reasoning == "" {
			t.Errorf("the demo thinks when asked; the client saw no reasoning")
		}
	case a != nil:
		if a.Thinking == "" {
			t.Fatalf("the %s upstream was not asked to think: %s", c.up.name, c.lastUp(t).Body)
		}
		if r.reasoning != a.Thinking {
			t.Errorf("reasoning summary = %q, want the thinking %q", r.reasoning, a.Thinking)
		}
	}
	if !slices.Contains(r.events, "response.reasoning_summary_text.delta") {
		t.Errorf("no reasoning_summary_text.delta in the stream: %s", strings.Join(r.events, " "))
	}
	if c.up.name == "anthropic" || c.demo() {
		// Signed thinking: the signature travels in encrypted_content.
		if len(r.encrypted) != 1 || !strings.HasPrefix(r.encrypted[0], "xjp1:") {
			t.Errorf("reasoning items' encrypted_content %q, want one xjp1: value", r.encrypted)
		}
	}

	c.rs.addUser("Thanks. And what is 3+3?")
	r2 := c.rs.send(t, respOpts{edit: think})
	if a2 := c.expectResp(t, r2, "completed", ""); a2 != nil && r2.reasoning != a2.Thinking {
		t.Errorf("non-streamed reasoning = %q, want %q", r2.reasoning, a2.Thinking)
	}
	if c.up.name == "anthropic" {
		msgs := mustList(c.lastUp(t).JSON["messages"])
		first, _ := asMap(msgs[1])
		b0, _ := asMap(mustList(first["content"])[0])
		if b0["type"] != "thinking" || b0["signature"] != a.Signature || b0["thinking"] != a.Thinking {
			t.Errorf("the replayed assistant turn does not start with the signed thinking block: %s", mustJSON(first))
		}
	}
}

// length: max_output_tokens cuts the answer: status incomplete with
// incomplete_details.reason max_output_tokens (response.incomplete when
// streamed), and the last message item incomplete.
func (c *rcell) length(t *testing.T, stream bool) {
	c.rs.addUser("Please write a very long answer about the sea and the sky and the stars and the moon tonight.")
	r := c.rs.send(t, respOpts{stream: stream, maxOutput: 16})
	c.expectResp(t, r, "incomplete", "max_output_tokens")
	if n := len(strings.Fields(r.text)); n == 0 || n > 16 {
		t.Errorf("a cut answer of %d words (%q)", n, r.text)
	}
	if r.resp != nil && r.resp.MaxOutputTokens != 16 {
		t.Errorf("the response echoes max_output_tokens %d, want 16", r.resp.MaxOutputTokens)
	}
	if r.resp != nil && len(r.resp.Output) > 0 {
		if last := r.resp.Output[len(r.resp.Output)-1]; last.Type != "message" || last.Status != "incomplete" {
			t.Errorf("the last output item is a %s with status %q, want an incomplete message", last.Type, last.Status)
		}
	}
	if up := c.lastUp(t); up != nil && up.Convo.maxTokens != 16 {
		t.Errorf("the upstream got max tokens %d, want 16", up.Convo.maxTokens)
	}
}

// upstreamError: the upstream answers HTTP status before its first byte;
// the client gets the gateway's status in OpenAI's error envelope (also
// when it asked for a stream), after retries when retryable, and one usage
// record.
func (c *rcell) upstreamError(t *testing.T, status int, stream bool) {
	t.Helper()
	ex := upstreamFailures[status]
	c.rs.addUser(fmt.Sprintf("Please fail%d now xjp:fail=%d", status, status))
	r := c.rs.send(t, respOpts{stream: stream})
	if r.err == nil {
		t.Fatalf("want HTTP %d, got %s %q (events %s)", ex.status, r.status, r.text, strings.Join(r.events, " "))
	}
	if len(r.events) > 0 {
		t.Errorf("an upstream that failed before its first byte must give an HTTP error, not a stream: %s", strings.Join(r.events, " "))
	}
	if r.errStatus != ex.status {
		t.Errorf("status = %d, want %d (%s: %s)", r.errStatus, ex.status, r.errType, r.errMessage)
	}
	if want := errorTypeFor("openai", ex.status); r.errType != want {
		t.Errorf("error type = %q, want %q", r.errType, want)
	}
	if !strings.Contains(r.errMessage, ex.msg) {
		t.Errorf("error message %q does not carry %q", r.errMessage, ex.msg)
	}
	if status == 429 && r.retryAfter == "" {
		t.Errorf("429 without Retry-After")
	}
	expectFailureRecord(t, c.cell, r.reqID, ex, 0)
}

// cutStream: the upstream breaks the stream after some text; the client
// gets an "error" event and then response.failed (status failed, error
// code and message, the output so far), nothing after it, and the request
// is billed for what was sent. The openai SDK does not fail on these events
// by itself: the stream closes normally.
func (c *rcell) cutStream(t *testing.T) {
	c.rs.addUser("Tell me a long story about dragons and castles please cutstream xjp:cut")
	r := c.rs.send(t, respOpts{stream: true})
	if r.err != nil {
		t.Fatalf("the SDK failed (%v): the gateway must report the failure as error + response.failed events", r.err)
	}
	if len(r.problems) > 0 {
		t.Errorf("stream protocol violations:\n  %s\nevents: %s", strings.Join(r.problems, "\n  "), strings.Join(r.events, " "))
	}
	if r.terminal != "response.failed" || !r.errorEvent {
		t.Fatalf("a cut stream ended with %q (error event %v); want error then response.failed: %s", r.terminal, r.errorEvent, strings.Join(r.events, " "))
	}
	if n := len(r.events); n < 2 || r.events[n-2] != "error" || r.events[n-1] != "response.failed" {
		t.Errorf("the stream must end with error, response.failed: %s", strings.Join(r.events, " "))
	}
	if r.errorCode == "" || r.errorMsg == "" {
		t.Errorf("error event code %q message %q: want both", r.errorCode, r.errorMsg)
	}
	if r.failedCode != "server_error" || r.failedMsg == "" {
		t.Errorf("response.failed error code %q message %q, want server_error and a message", r.failedCode, r.failedMsg)
	}
	if r.status != "failed" {
		t.Errorf("failed response status %q", r.status)
	}
	if r.deltaText == "" {
		t.Errorf("no text reached the client before the cut")
	}
	if r.text != r.deltaText {
		t.Errorf("the failed response's output text %q, the deltas carried %q", r.text, r.deltaText)
	}
	if a := c.lastAnswer(t); a != nil && !strings.HasPrefix(a.Text, r.deltaText) {
		t.Errorf("partial text %q is not a prefix of %q", r.deltaText, a.Text)
	}
	expectCutRecord(t, c.cell, r.reqID, 0)
}

// ---- Codex ----

// codexSystemPrompt stands for the ~17 kB developer message Codex sends.
var codexSystemPrompt = "You are Codex, a coding agent based on GPT-5. You and the user share the same workspace and collaborate to achieve the user's goals.\n\n" +
	strings.Repeat("# General\n- Prefer `rg` for searching text.\n- Keep edits minimal and focused.\n", 20)

// codexTools are Codex CLI's tools without the hosted web_search: function
// tools, the freeform apply_patch tool (a lark grammar) and a namespace of
// MCP tools.
func codexTools() []oaires.ToolUnionParam {
	tools := []oaires.ToolUnionParam{
		{OfFunction: &oaires.FunctionToolParam{Name: "shell", Description: oai.String("Runs a shell command and returns its output."), Strict: oai.Bool(false),
			Parameters: map[string]any{"type": "object", "properties": map[string]any{
				"command":    map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "description": "The command to execute"},
				"workdir":    map[string]any{"type": "string", "description": "The working directory"},
				"timeout_ms": map[string]any{"type": "number", "description": "The timeout in milliseconds"},
			}, "required": []any{"command"}, "additionalProperties": false}}},
		{OfFunction: &oaires.FunctionToolParam{Name: "update_plan", Description: oai.String("Updates the task plan."), Strict: oai.Bool(false),
			Parameters: map[string]any{"type": "object", "properties": map[string]any{
				"explanation": map[string]any{"type": "string"},
				"plan": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{
					"step":   map[string]any{"type": "string"},
					"status": map[string]any{"type": "string", "description": "One of: pending, in_progress, completed"},
				}, "required": []any{"step", "status"}, "additionalProperties": false}},
			}, "required": []any{"plan"}, "additionalProperties": false}}},
		customTool(`{"type":"custom","name":"apply_patch","description":"Use the ` + "`apply_patch`" + ` tool to edit files. This is a FREEFORM tool, so do not wrap the patch in JSON.","format":{"type":"grammar","syntax":"lark","definition":"start: begin_patch hunk+ end_patch\nbegin_patch: \"*** Begin Patch\" LF\nend_patch: \"*** End Patch\" LF?\nhunk: add_hunk | delete_hunk | update_hunk\nadd_hunk: \"*** Add File: \" filename LF add_line+\ndelete_hunk: \"*** Delete File: \" filename LF\nupdate_hunk: \"*** Update File: \" filename LF change?\nfilename: /(.+)/\nadd_line: \"+\" /(.*)/ LF -> line\nchange: (change_context | change_line)+\nchange_context: (\"@@\" | \"@@ \" /(.+)/) LF\nchange_line: (\"+\" | \"-\" | \" \") /(.*)/ LF\n%import common.LF\n"}}`),
		namespaceTool(`{"type":"namespace","name":"mcp__fs__","description":"Tools of the fs MCP server","tools":[{"type":"function","name":"read_file","description":"Reads a file","parameters":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}}]}`),
	}
	return tools
}

// codexOpts is a Codex CLI 0.169 request: always streamed, tool_choice
// auto, no parallel calls, reasoning summary auto, store false, encrypted
// reasoning included, a prompt cache key and client metadata, and its
// headers.
func codexOpts(tools []oaires.ToolUnionParam) respOpts {
	no := false
	return respOpts{
		stream: true, tools: tools, parallel: &no,
		edit: func(p *oaires.ResponseNewParams) {
			p.ToolChoice = oaires.ResponseNewParamsToolChoiceUnion{OfToolChoiceMode: oai.Opt(oaires.ToolChoiceOptionsAuto)}
			p.Reasoning = shared.ReasoningParam{Summary: shared.ReasoningSummaryAuto}
			p.Store = oai.Bool(false)
			p.Include = []oaires.ResponseIncludable{oaires.ResponseIncludableReasoningEncryptedContent}
			p.PromptCacheKey = oai.String("019a2b3c-4d5e-7f60-8a9b-0c1d2e3f4a5b")
			p.SetExtraFields(map[string]any{"client_metadata": map[string]any{"x-codex-installation-id": "inst-7f3a"}})
		},
		opts: []oaiopt.RequestOption{
			oaiopt.WithHeader("originator", "codex_exec"),
			oaiopt.WithHeader("session-id", "019a2b3c-4d5e-7f60-8a9b-0c1d2e3f4a5b"),
			oaiopt.WithHeader("thread-id", "019a2b3c-4d5e-7f60-8a9b-0c1d2e3f4a5b"),
			oaiopt.WithHeader("x-client-request-id", "019a2b3c-4d5e-7f60-8a9b-0c1d2e3f4a5b"),
			oaiopt.WithHeader("x-codex-window-id", "1"),
			oaiopt.WithHeader("x-codex-beta-features", ""),
			oaiopt.WithHeader("x-codex-turn-metadata", `{"turn":1}`),
		},
	}
}

// codex: a Codex-shaped conversation through each upstream, with a round
// trip of the custom apply_patch tool: the upstream sees a function tool
// taking {input}, the client gets a custom_tool_call carrying the raw
// input, replays it verbatim with a custom_tool_call_output, and the
// upstream sees the call (as {input}) and its result.
func (c *rcell) codex(t *testing.T) {
	s := c.rs
	s.addDeveloper(codexSystemPrompt)
	s.addDeveloper("<permissions instructions>\nFilesystem sandboxing: workspace-write. Approvals: never.\n</permissions instructions>")
	s.addMessage("user", "<environment_context>\n  <cwd>/home/dev/project</cwd>\n  <approval_policy>never</approval_policy>\n</environment_context>", true)
	s.addMessage("user", "Please call apply_patch to add hello.txt.", true)
	o := codexOpts(codexTools())
	r1 := s.send(t, o)
	if c.demo() {
		// The demo only calls function tools: the custom tool cannot be
		// called here. The Codex request itself must work, and the round
		// trip of a custom_tool_call the client replays is checked below.
		c.expectResp(t, r1, "completed", "")
		if len(r1.calls) != 0 {
			t.Fatalf("the demo called %+v", r1.calls)
		}
		s.input = append(s.input,
			oaires.ResponseInputItemParamOfCustomToolCall("call_codex_1", codexPatch, "apply_patch"),
			oaires.ResponseInputItemParamOfCustomToolCallOutput("call_codex_1", "Success. Updated the following files:\nA hello.txt\n"))
		r2 := s.send(t, o)
		c.expectResp(t, r2, "completed", "")
		if !strings.Contains(r2.text, "The tool apply_patch returned") {
			t.Errorf("the demo did not answer the custom tool's output: %q", r2.text)
		}
		return
	}
	c.expectResp(t, r1, "completed", "")
	if len(r1.calls) != 1 || r1.calls[0].kind != "custom_tool_call" || r1.calls[0].name != "apply_patch" {
		t.Fatalf("want one custom_tool_call apply_patch, got %+v", r1.calls)
	}
	call := r1.calls[0]
	if call.args != codexPatch {
		t.Errorf("custom_tool_call input %q, want the raw patch %q", call.args, codexPatch)
	}
	if r1.deltaCustom != codexPatch {
		t.Errorf("the custom_tool_call_input deltas carried %q, want the raw patch", r1.deltaCustom)
	}
	if slices.Contains(r1.events, "response.function_call_arguments.delta") || slices.Contains(r1.events, "response.function_call_arguments.done") {
		t.Errorf("a custom tool call streamed function_call_arguments events: %s", strings.Join(r1.events, " "))
	}
	// What the upstream saw: apply_patch as a function taking {input: string},
	// the namespaced MCP tool flattened, the developer messages as the
	// system prompt, no hosted tool.
	up := c.lastUp(t)
	schema := upstreamFunctionSchema(up, c.up.name, "apply_patch")
	props, _ := asMap(schema["properties"])
	in, _ := asMap(props["input"])
	if schemaType(schema) != "object" || schemaType(in) != "string" || len(props) != 1 {
		t.Errorf("the upstream got apply_patch with parameters %s, want an object taking one string input", mustJSON(schema))
	}
	if names := upstreamToolNames(up); !slices.Equal(names, []string{"shell", "update_plan", "apply_patch", "mcp__fs__read_file"}) {
		t.Errorf("the upstream got tools %q", names)
	}
	if !strings.HasPrefix(up.Convo.system, "You are Codex") || !strings.Contains(up.Convo.system, "<permissions instructions>") {
		t.Errorf("the upstream's system prompt %q lacks the developer messages", truncate(up.Convo.system, 200))
	}
	if n := len(up.Convo.turns); n != 1 || !strings.Contains(up.Convo.turns[0].text, "<environment_context>") {
		t.Errorf("the upstream's turns %+v: want one user turn with both user messages", up.Convo.turns)
	}
	// The response echoes Codex's parameters.
	if rp := r1.resp; rp.JSON.ExtraFields["store"].Raw() != "false" || rp.PromptCacheKey != "019a2b3c-4d5e-7f60-8a9b-0c1d2e3f4a5b" || rp.Reasoning.Summary != "auto" || rp.ParallelToolCalls {
		t.Errorf("echo: store %s prompt_cache_key %q reasoning %+v parallel %v", rp.JSON.ExtraFields["store"].Raw(), rp.PromptCacheKey, rp.Reasoning, rp.ParallelToolCalls)
	}

	// Turn 2: the custom_tool_call replayed verbatim with its output.
	const output = "Success. Updated the following files:\nA hello.txt\n"
	s.addCustomOutputs(toolResult{id: call.callID, content: output})
	r2 := s.send(t, o)
	c.expectResp(t, r2, "completed", "")
	if !strings.Contains(r2.text, "apply_patch returned") {
		t.Errorf("the final answer %q does not quote the patch result", r2.text)
	}
	expectUpstreamToolTurn(t, c.cell, []sentCall{{id: call.callID, name: "apply_patch", args: mustJSON(map[string]string{"input": codexPatch})}}, []string{output}, true)
}

// TestResponsesHostedToolRefused: Codex also sends the hosted web_search
// tool, which runs on OpenAI's servers; xjp refuses it with a clear 400
// naming the tool (by design, never silently dropped), before any upstream
// is asked and without a usage record.
func TestResponsesHostedToolRefused(t *testing.T) {
	for _, up := range upstreamKinds {
		t.Run(up.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			s := newResponsesSession(h, up.model, keyValid)
			s.addDeveloper(codexSystemPrompt)
			s.addMessage("user", "Search the web for the Go 1.26 release notes.", true)
			tools := append(codexTools(), oaires.ToolUnionParam{OfWebSearch: &oaires.WebSearchToolParam{Type: oaires.WebSearchToolTypeWebSearch}})
			for _, stream := range []bool{false, true} {
				o := codexOpts(tools)
				o.stream = stream
				r := s.send(t, o)
				if r.err == nil {
					t.Fatalf("stream %v: a request with web_search succeeded: %q", stream, r.text)
				}
				if r.errStatus != http.StatusBadRequest || r.errType != "invalid_request_error" || r.errParam != fmt.Sprintf("tools[%d].type", len(tools)-1) {
					t.Errorf("stream %v: HTTP %d type %q param %q, want 400 invalid_request_error tools[%d].type", stream, r.errStatus, r.errType, r.errParam, len(tools)-1)
				}
				if !strings.Contains(r.errMessage, "web_search") {
					t.Errorf("stream %v: the message %q does not name web_search", stream, r.errMessage)
				}
				h.waitDone(t, r.reqID)
				if n := len(h.sink.byID(r.reqID)); n != 0 {
					t.Errorf("stream %v: a request refused before routing left %d usage records", stream, n)
				}
			}
			if f := h.fakeFor(up.model); f != nil && len(f.requests()) != 0 {
				t.Errorf("the %s upstream was asked %d times", f.kind(), len(f.requests()))
			}
		})
	}
}

// TestResponsesThoughtSignatures: a Gemini 3 upstream signs its function
// calls and requires the signature back. Through the Responses client the
// signature must survive the round trip whether or not the client includes
// reasoning.encrypted_content (Codex does; other clients only echo the
// call), for a function tool and for Codex's custom apply_patch tool.
func TestResponsesThoughtSignatures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		include bool
		custom  bool
	}{
		{"function/include", true, false},
		{"function/no_include", false, false},
		{"custom/codex", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			s := newResponsesSession(h, modelGemini3, keyValid)
			o := respOpts{stream: true, tools: functionTools(weatherTool)}
			if tc.include {
				o.edit = func(p *oaires.ResponseNewParams) {
					p.Include = []oaires.ResponseIncludable{oaires.ResponseIncludableReasoningEncryptedContent}
					p.Store = oai.Bool(false)
				}
			}
			s.addUser("What is the weather in Paris? Please call get_weather.")
			if tc.custom {
				o = codexOpts(codexTools())
				s.input = nil
				s.addDeveloper(codexSystemPrompt)
				s.addMessage("user", "Please call apply_patch to add hello.txt.", true)
			}
			r1 := s.send(t, o)
			a := h.gem.last().Answer
			if r1.err != nil || len(r1.calls) != 1 || a == nil || a.Signature == "" || len(r1.problems) > 0 {
				t.Fatalf("turn 1: %v calls %+v problems %q rejections %q", r1.err, r1.calls, r1.problems, h.gem.rejections())
			}
			if tc.include && (len(r1.encrypted) != 1 || !strings.HasPrefix(r1.encrypted[0], "xjp1:")) {
				t.Errorf("encrypted_content %q: want one xjp1: reasoning item carrying the signature", r1.encrypted)
			}
			if tc.custom {
				if r1.calls[0].kind != "custom_tool_call" || r1.calls[0].args != codexPatch {
					t.Errorf("want a custom_tool_call with the raw patch, got %+v", r1.calls[0])
				}
				s.addCustomOutputs(toolResult{id: r1.calls[0].callID, content: "Done."})
			} else {
				s.addOutputs(toolResult{id: r1.calls[0].callID, content: "18°C"})
			}
			r2 := s.send(t, o)
			if r2.err != nil || r2.status != "completed" {
				t.Fatalf("turn 2: %v %s %s; rejections %q", r2.err, r2.status, r2.errMessage, h.gem.rejections())
			}
			contents := mustList(h.gem.last().JSON["contents"])
			model, _ := asMap(contents[len(contents)-2])
			found := false
			for _, pv := range mustList(model["parts"]) {
				if p, _ := asMap(pv); p["functionCall"] != nil {
					found = true
					if p["thoughtSignature"] != a.Signature {
						t.Errorf("the call went back with thoughtSignature %v, want %q", p["thoughtSignature"], a.Signature)
					}
				}
			}
			if !found {
				t.Errorf("no functionCall in the replayed model turn: %s", mustJSON(model))
			}
			for _, r := range h.gem.rejections() {
				t.Errorf("the gemini upstream rejected: %s", r)
			}
			h.record(t, r2.reqID)
		})
	}
}

// TestResponsesStatelessRefusals: what needs stored state is refused with
// a clear 400 naming the field, before any upstream is asked.
func TestResponsesStatelessRefusals(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	s := newResponsesSession(h, modelOpenAI, keyValid)
	s.addUser("Hello there.")
	for _, tc := range []struct {
		param string
		edit  func(p *oaires.ResponseNewParams)
	}{
		{"previous_response_id", func(p *oaires.ResponseNewParams) { p.PreviousResponseID = oai.String("resp_abc") }},
		{"background", func(p *oaires.ResponseNewParams) { p.Background = oai.Bool(true) }},
		{"input[1].type", func(p *oaires.ResponseNewParams) {
			p.Input.OfInputItemList = append(p.Input.OfInputItemList, oaires.ResponseInputItemParamOfItemReference("msg_abc"))
		}},
		{"max_output_tokens", func(p *oaires.ResponseNewParams) { p.MaxOutputTokens = oai.Int(8) }}, // below the minimum of 16
	} {
		r := s.send(t, respOpts{edit: tc.edit})
		if r.errStatus != http.StatusBadRequest || r.errType != "invalid_request_error" || r.errParam != tc.param {
			t.Errorf("%s: HTTP %d %q param %q (%s), want 400 invalid_request_error %s", tc.param, r.errStatus, r.errType, r.errParam, r.errMessage, tc.param)
		}
	}
	if n := len(h.oai.requests()); n != 0 {
		t.Errorf("refused requests reached the upstream %d times", n)
	}
}
