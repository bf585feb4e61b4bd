package gateway

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rickyjim626/xjp/internal/llm"
)

// clock is a fake time source: each call advances it by step.
type clock struct {
	t    time.Time
	step time.Duration
}

func (c *clock) now() time.Time { c.t = c.t.Add(c.step); return c.t }

// A scrape after known traffic has exact values: requests by status,
// tokens, cost, stream bytes, upstream errors, retries, rate limits,
// breaker states and in-flight requests.
func TestMetricsScrape(t *testing.T) {
	u := llm.Usage{InputTokens: 100, CacheReadTokens: 20, OutputTokens: 50}
	p1 := &fake{name: "p1", script: []step{
		{evs: okEvents("hello", u)},  // request 1
		{err: upstreamErr(500)},      // request 2, first attempt
		{evs: okEvents("again", u)},  // request 2, retry
		{evs: okEvents("direct", u)}, // request 4 (direct name)
	}}
	p2 := &fake{name: "p2", script: []step{{err: upstreamErr(503)}}}
	primary := &Route{Provider: p1, Model: "up-1", MaxRetries: -1}
	broken := &Route{Provider: p2, Model: "up-2", MaxRetries: 0}
	models := []*Model{
		{Name: "chat-model", Routes: []*Route{primary}, Price: &Price{InputPerMTok: 1, OutputPerMTok: 2}},
		{Name: "broken", Routes: []*Route{broken}},
	}
	reg := prometheus.NewRegistry()
	clk := &clock{t: time.Unix(1_700_000_000, 0), step: 10 * time.Millisecond}
	g := New(Options{
		Table:   NewTable(models, map[string]Provider{"p1": p1, "p2": p2}),
		Retry:   Retry{MaxRetries: 2, BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond},
		Breaker: BreakerSettings{FailureThreshold: 2, OpenFor: time.Hour, HalfOpenSuccesses: 1},
		Metrics: reg,
		Now:     clk.now,
		Rand:    rand.New(rand.NewPCG(1, 2)),
	})
	ctx := context.Background()
	req := func(model string) *llm.Request {
		return &llm.Request{Model: model, Stream: true, Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("hi")}}}}
	}
	do := func(id, model string, streamBytes int64) {
		t.Helper()
		x := g.Begin(Info{ID: id, Model: model, Endpoint: "chat", Stream: true})
		m, err := g.Resolve(model)
		if err != nil {
			t.Fatal(err)
		}
		s, err := x.Open(ctx, m, req(model))
		if err != nil {
			x.End(0, err)
			return
		}
		if _, err := llm.Collect(s); err != nil {
			t.Fatal(err)
		}
		s.Close()
		x.AddStreamBytes(streamBytes)
		x.End(0, nil)
	}
	do("r1", "chat-model", 1000)
	do("r2", "chat-model", 500) // 500, then retried
	do("r3", "broken", 0)       // 503
	do("r3b", "broken", 0)      // 503 again: opens the breaker of p2/up-2
	do("r4", "p1/up-direct", 0) // a direct name: model "other"
	// A request refused by the gateway's rate limit, before any attempt.
	x := g.Begin(Info{ID: "r5", Model: "chat-model", Endpoint: "messages"})
	x.End(0, &llm.Error{Kind: llm.KindPolicyBudget, Status: 429, Message: "rate limit"})
	// One still in flight.
	g.Begin(Info{ID: "r6", Model: "chat-model", Endpoint: "chat"})

	// cost per ok request: (100*1 + 20*1 + 50*2) / 1e6 = 0.00022
	want := `
# HELP xjp_breaker_state Circuit breaker state of each route of the routing table: 0 closed, 1 half-open, 2 open.
# TYPE xjp_breaker_state gauge
xjp_breaker_state{route="p1/up-1"} 0
xjp_breaker_state{route="p2/up-2"} 2
# HELP xjp_cost_usd_total Cost of finished requests in US dollars, by logical model (unpriced requests add nothing).
# TYPE xjp_cost_usd_total counter
xjp_cost_usd_total{model="chat-model"} 0.00044
# HELP xjp_inflight_requests Requests in progress.
# TYPE xjp_inflight_requests gauge
xjp_inflight_requests 1
# HELP xjp_ratelimited_total Requests refused by the gateway's own rate limits or quotas (429).
# TYPE xjp_ratelimited_total counter
xjp_ratelimited_total 1
# HELP xjp_requests_total Requests finished, by endpoint, logical model, provider and the HTTP status the client got (499: client went away).
# TYPE xjp_requests_total counter
xjp_requests_total{endpoint="chat",model="broken",provider="p2",status="503"} 2
xjp_requests_total{endpoint="chat",model="chat-model",provider="p1",status="200"} 2
xjp_requests_total{endpoint="chat",model="other",provider="p1",status="200"} 1
xjp_requests_total{endpoint="messages",model="chat-model",provider="",status="429"} 1
# HELP xjp_retries_total Upstream attempts after a request's first one (retries on the same route and failovers to the next), by the provider attempted.
# TYPE xjp_retries_total counter
xjp_retries_total{provider="p1"} 1
# HELP xjp_stream_bytes_total Bytes of server-sent events written to clients, by endpoint.
# TYPE xjp_stream_bytes_total counter
xjp_stream_bytes_total{endpoint="chat"} 1500
# HELP xjp_tokens_total Tokens billed, by logical model, provider and type (input: uncached input, cache_read, cache_write, output incl. reasoning; the types are disjoint).
# TYPE xjp_tokens_total counter
xjp_tokens_total{model="chat-model",provider="p1",type="cache_read"} 40
xjp_tokens_total{model="chat-model",provider="p1",type="input"} 200
xjp_tokens_total{model="chat-model",provider="p1",type="output"} 100
xjp_tokens_total{model="other",provider="p1",type="cache_read"} 20
xjp_tokens_total{model="other",provider="p1",type="input"} 100
xjp_tokens_total{model="other",provider="p1",type="output"} 50
# HELP xjp_upstream_errors_total Failed upstream attempts (before or during the stream), by provider and error kind. Client cancels are not counted.
# TYPE xjp_upstream_errors_total counter
xjp_upstream_errors_total{kind="provider_overloaded",provider="p2"} 2
xjp_upstream_errors_total{kind="provider_server",provider="p1"} 1
`
	names := []string{"xjp_breaker_state", "xjp_cost_usd_total", "xjp_inflight_requests", "xjp_ratelimited_total", "xjp_requests_total",
		"xjp_retries_total", "xjp_stream_bytes_total", "xjp_tokens_total", "xjp_upstream_errors_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}

	// Every finished request has a duration; the three streamed answers a
	// time to first token.
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]uint64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				counts[mf.GetName()] += h.GetSampleCount()
			}
		}
	}
	if counts["xjp_request_duration_seconds"] != 6 || counts["xjp_ttft_seconds"] != 3 {
		t.Errorf("histogram samples = %v, want 6 durations and 3 ttfts", counts)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if !strings.HasPrefix(p.Metric, "xjp_cost_usd") { // _usd_total: dollars are not a base unit, on purpose
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// Two gateways on one registry share the request collectors instead of
// panicking (a config reload or a test building a second gateway).
func TestMetricsSharedRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(Options{Metrics: reg})
	g := New(Options{Metrics: reg})
	x := g.Begin(Info{ID: "a", Model: "m", Endpoint: "chat"})
	x.End(400, &llm.Error{Kind: llm.KindCallerInvalid, Status: 400})
	if n := testutil.ToFloat64(g.metrics.requests.WithLabelValues("chat", "other", "", "400")); n != 1 {
		t.Errorf("requests = %v, want 1", n)
	}
}
