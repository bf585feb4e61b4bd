package ingress_test

// What the Responses and Gemini columns of the matrix share with each other
// (matrix_responses_test.go, matrix_gemini_test.go): the usage record
// check, the check of a tool turn as the upstream received it, the
// expectations of upstream failures, and the Codex apply_patch fixture.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

// codexPatch is what the fakes put in the apply_patch call: a freeform
// patch with newlines, quotes and non-ASCII, the way Codex's apply_patch
// input looks.
const codexPatch = "*** Begin Patch\n*** Add File: hello.txt\n+Hello, \"world\" ☀\n+\tindented\\path\n*** End Patch\n"

func init() {
	// The fakes call apply_patch (in its function form) with {"input": patch}.
	toolArgs["apply_patch"] = mustJSON(map[string]string{"input": codexPatch})
}

// clientUsage is usage as a client reported it, in the client's terms
// mapped to llm.Usage's: prompt is every input token (uncached, cache read
// and cache write), as the Responses and Gemini formats count them.
type clientUsage struct {
	prompt, cached, output, reasoning int64
}

// expectRecord checks the request's one usage record: a success (200, one
// attempt), for the model and route of the cell, in the client's endpoint,
// with exactly the upstream's usage in disjoint buckets (no double
// counting: the record's buckets add up to what the client was told) and
// the client's view consistent with it.
func expectRecord(t *testing.T, c *cell, reqID, endpoint string, stream bool, a *answer, cu clientUsage) {
	t.Helper()
	rec := c.h.record(t, reqID)
	if rec.Status != http.StatusOK || rec.ErrorKind != "" || rec.Attempts != 1 {
		t.Errorf("usage record status %d kind %q attempts %d, want 200 \"\" 1", rec.Status, rec.ErrorKind, rec.Attempts)
	}
	if rec.Model != c.up.model || rec.Provider != c.up.provider || rec.UpstreamModel != c.up.upstream || rec.Stream != stream {
		t.Errorf("usage record model %q provider %q upstream %q stream %v", rec.Model, rec.Provider, rec.UpstreamModel, rec.Stream)
	}
	if rec.Endpoint != endpoint || rec.KeyID != "key_valid" {
		t.Errorf("usage record endpoint %q key %q, want %q key_valid", rec.Endpoint, rec.KeyID, endpoint)
	}
	u := rec.Usage
	if got := (clientUsage{u.PromptTokens(), u.CacheReadTokens, u.OutputTokens, u.ReasoningTokens}); got != cu {
		t.Errorf("usage record (prompt, cache read, output, reasoning) %+v, the client was told %+v", got, cu)
	}
	if a == nil {
		if u.OutputTokens == 0 || u.PromptTokens() == 0 {
			t.Errorf("usage record %+v: want input and output tokens", u)
		}
		return
	}
	if got := (neutralUsage{Input: u.InputTokens, CacheRead: u.CacheReadTokens, CacheWrite: u.CacheWriteTokens, Output: u.OutputTokens}); got != a.Usage {
		t.Errorf("usage record buckets %+v, want the upstream's %+v", got, a.Usage)
	}
	if u.Estimated {
		t.Errorf("usage record is flagged estimated although the upstream reported usage")
	}
}

// expectUsage checks the client's usage against the upstream's answer.
// Anthropic does not report thinking tokens apart from the output, so
// reasoning tokens are not compared for it.
func expectUsage(t *testing.T, up string, a *answer, cu clientUsage) {
	t.Helper()
	if a == nil {
		if cu.output == 0 || cu.prompt == 0 {
			t.Errorf("usage %+v: want input and output tokens", cu)
		}
		return
	}
	want := clientUsage{prompt: a.Usage.Input + a.Usage.CacheRead + a.Usage.CacheWrite, cached: a.Usage.CacheRead, output: a.Usage.Output, reasoning: a.ThoughtTokens}
	if up == "anthropic" {
		want.reasoning = cu.reasoning
	}
	if cu != want {
		t.Errorf("usage (prompt, cached, output, reasoning) = %+v, want the upstream's %+v (buckets %+v)", cu, want, a.Usage)
	}
}

// sentCall is a tool call the client replays.
type sentCall struct {
	id, name, args string
}

// expectUpstreamToolTurn checks the last upstream request of a tool round
// trip: the calls in the assistant turn, then one turn of results with the
// contents the client sent (results[i] answers calls[i]): for Gemini in
// call order, paired by name; for the others paired by id, in any order.
// ids is whether the upstream's call ids must be the client's.
func expectUpstreamToolTurn(t *testing.T, c *cell, calls []sentCall, results []string, ids bool) {
	t.Helper()
	cv := c.lastUp(t).Convo
	k := -1
	for i, tr := range cv.turns {
		if tr.role == "assistant" && len(tr.calls) > 0 {
			k = i
		}
	}
	if k < 0 || k+1 >= len(cv.turns) {
		t.Fatalf("the upstream's request has no tool call turn followed by results: %+v", cv.turns)
	}
	upCalls, res := cv.turns[k].calls, cv.turns[k+1].results
	if len(upCalls) != len(calls) || len(res) != len(calls) {
		t.Fatalf("the upstream got %d calls and %d results in the next turn, want %d each", len(upCalls), len(res), len(calls))
	}
	for i := range calls {
		if upCalls[i].Name != calls[i].name || !jsonEqual(upCalls[i].Args, calls[i].args) {
			t.Errorf("upstream call %d = %s(%s), the client had %s(%s)", i, upCalls[i].Name, upCalls[i].Args, calls[i].name, calls[i].args)
		}
		var got *fakeResult
		switch c.up.name {
		case "gemini":
			got = &res[i]
			if got.Name != calls[i].name {
				t.Errorf("functionResponse %d names %q, want %q", i, got.Name, calls[i].name)
			}
		default:
			if ids && upCalls[i].ID != calls[i].id {
				t.Errorf("upstream call %d id %q, want the client's %q", i, upCalls[i].ID, calls[i].id)
			}
			for j := range res {
				if upCalls[i].ID != "" && res[j].ID == upCalls[i].ID {
					got = &res[j]
				}
			}
			if got == nil {
				t.Errorf("upstream call %d (id %q) has no result paired by id: %+v", i, upCalls[i].ID, res)
				continue
			}
		}
		if got.Content != results[i] && !jsonEqual(got.Content, results[i]) {
			t.Errorf("upstream result for call %d = %q, want %q", i, got.Content, results[i])
		}
	}
	if c.up.name == "anthropic" {
		msgs := mustList(c.lastUp(t).JSON["messages"])
		last, _ := asMap(msgs[len(msgs)-1])
		if blocks := mustList(last["content"]); last["role"] != "user" || len(blocks) != len(results) {
			t.Errorf("anthropic upstream last message %s: want one user message of %d tool_result blocks", mustJSON(last), len(results))
		}
	}
}

// upstreamFailure is what the gateway makes of an upstream that answers
// HTTP status before its first byte (see cell.upstreamError).
type upstreamFailure struct {
	status   int
	kind     llm.Kind
	attempts int
	msg      string
}

var upstreamFailures = map[int]upstreamFailure{
	400: {400, llm.KindCallerInvalid, 1, "400 requested by the prompt"},
	401: {502, llm.KindProviderAuth, 1, "upstream refused the gateway's credentials"},
	429: {429, llm.KindProviderRateLimited, 1, "429 requested by the prompt"}, // retry-after 1s > max backoff: no retry
	500: {502, llm.KindProviderServer, 3, "500 requested by the prompt"},
	503: {503, llm.KindProviderOverloaded, 3, "503 requested by the prompt"},
}

// expectFailureRecord checks the usage record and the upstream's request
// count of a request that failed before its first byte; before is how many
// requests the upstream had got earlier.
func expectFailureRecord(t *testing.T, c *cell, reqID string, ex upstreamFailure, before int) {
	t.Helper()
	rec := c.h.record(t, reqID)
	if rec.Status != ex.status || rec.ErrorKind != ex.kind || rec.Attempts != ex.attempts {
		t.Errorf("usage record status %d kind %q attempts %d, want %d %q %d", rec.Status, rec.ErrorKind, rec.Attempts, ex.status, ex.kind, ex.attempts)
	}
	if !rec.Usage.IsZero() {
		t.Errorf("a refused request was billed: %+v", rec.Usage)
	}
	if c.fake != nil {
		if n := len(c.fake.requests()) - before; n != ex.attempts {
			t.Errorf("the upstream got %d requests, want %d", n, ex.attempts)
		}
	}
}

// expectCutRecord checks the usage record of a stream the upstream broke
// after its first bytes: the error status, one attempt, billed for what
// was sent, nothing retried; before is how many requests the upstream had
// got earlier.
func expectCutRecord(t *testing.T, c *cell, reqID string, before int) {
	t.Helper()
	wantStatus, wantKind := http.StatusBadGateway, llm.KindProviderServer
	if c.up.name == "anthropic" { // event: error overloaded_error
		wantStatus, wantKind = http.StatusServiceUnavailable, llm.KindProviderOverloaded
	}
	rec := c.h.record(t, reqID)
	if rec.Status != wantStatus || rec.ErrorKind != wantKind || rec.Attempts != 1 {
		t.Errorf("usage record status %d kind %q attempts %d, want %d %q 1", rec.Status, rec.ErrorKind, rec.Attempts, wantStatus, wantKind)
	}
	if rec.Usage.OutputTokens == 0 || rec.Usage.PromptTokens() == 0 {
		t.Errorf("a cut stream must still be billed for what was sent: usage %+v", rec.Usage)
	}
	if c.fake != nil && len(c.fake.requests())-before != 1 {
		t.Errorf("the upstream got %d requests; nothing may be retried after the first byte", len(c.fake.requests())-before)
	}
}

// cutStatus is the HTTP status the gateway reports for a cut stream.
func cutStatus(up string) int {
	if up == "anthropic" {
		return http.StatusServiceUnavailable
	}
	return http.StatusBadGateway
}

// upstreamFunctionSchema returns the parameters the upstream got for the
// function tool name (JSON Schema for OpenAI and Anthropic; Google's
// Schema or parametersJsonSchema for Gemini), nil when it got no such tool.
func upstreamFunctionSchema(up *upstreamRequest, kind, name string) map[string]any {
	for _, tv := range mustList(up.JSON["tools"]) {
		tm, _ := asMap(tv)
		switch kind {
		case "openai":
			fn, _ := asMap(tm["function"])
			if fn["name"] == name {
				p, _ := asMap(fn["parameters"])
				return p
			}
		case "anthropic":
			if tm["name"] == name {
				p, _ := asMap(tm["input_schema"])
				return p
			}
		case "gemini":
			for _, dv := range mustList(tm["functionDeclarations"]) {
				d, _ := asMap(dv)
				if d["name"] != name {
					continue
				}
				if p, ok := asMap(d["parametersJsonSchema"]); ok {
					return p
				}
				p, _ := asMap(d["parameters"])
				return p
			}
		}
	}
	return nil
}

// upstreamToolNames lists the function tools the upstream got.
func upstreamToolNames(up *upstreamRequest) []string {
	if up.Convo == nil {
		return nil
	}
	return up.Convo.tools
}

// schemaType reads a schema's type in either case (Google's Schema uses
// upper case).
func schemaType(s map[string]any) string {
	t, _ := asString(s["type"])
	return strings.ToLower(t)
}
