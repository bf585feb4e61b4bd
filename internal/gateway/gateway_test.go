package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/llm"
)

// fake is a scripted provider: each call takes the next step of script
// (the last one repeats).
type fake struct {
	name   string
	calls  atomic.Int64
	mu     sync.Mutex
	script []step
}

type step struct {
	err   *llm.Error    // fail before the stream
	delay time.Duration // before the first event
	evs   []llm.Event   // stream events; an EventError ends it with that error
	hang  bool          // block after the events until ctx ends
}

func (f *fake) Name() string { return f.name }

func (f *fake) Stream(ctx context.Context, call *llm.Call) (llm.Stream, error) {
	n := int(f.calls.Add(1)) - 1
	f.mu.Lock()
	st := f.script[min(n, len(f.script)-1)]
	f.mu.Unlock()
	if st.err != nil {
		e := *st.err
		return nil, &e
	}
	return &fakeStream{ctx: ctx, st: st, i: -1}, nil
}

type fakeStream struct {
	ctx context.Context
	st  step
	i   int
	err error
}

func (s *fakeStream) Next() bool {
	if s.i == -1 && s.st.delay > 0 {
		select {
		case <-time.After(s.st.delay):
		case <-s.ctx.Done():
			s.err = llm.FromTransport(s.ctx, "fake", s.ctx.Err())
			return false
		}
	}
	if s.i+1 >= len(s.st.evs) {
		if s.st.hang {
			<-s.ctx.Done()
			s.err = llm.FromTransport(s.ctx, "fake", s.ctx.Err())
		}
		return false
	}
	s.i++
	if ev := s.st.evs[s.i]; ev.Type == llm.EventError {
		s.err = ev.Err
		return false
	}
	return true
}
func (s *fakeStream) Event() llm.Event { return s.st.evs[s.i] }
func (s *fakeStream) Err() error       { return s.err }
func (s *fakeStream) Close() error     { return nil }

func okEvents(text string, u llm.Usage) []llm.Event {
	return []llm.Event{
		{Type: llm.EventStart, ID: "x", Model: "m"},
		{Type: llm.EventBlockStart, Index: 0, Block: &llm.Block{Type: llm.BlockText}},
		{Type: llm.EventTextDelta, Index: 0, Text: text},
		{Type: llm.EventBlockStop, Index: 0},
		{Type: llm.EventFinish, Finish: llm.FinishStop},
		{Type: llm.EventUsage, Usage: &u},
	}
}

func upstreamErr(status int) *llm.Error { return llm.FromStatus("fake", status, "boom") }

type sink struct {
	mu   sync.Mutex
	recs []llm.UsageRecord
}

func (s *sink) RecordUsage(r llm.UsageRecord) {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}

func newTestGateway(t *testing.T, routes ...*Route) (*Gateway, *sink) {
	t.Helper()
	providers := map[string]Provider{}
	for _, r := range routes {
		providers[r.Provider.Name()] = r.Provider
		if r.MaxRetries == 0 {
			r.MaxRetries = -1
		}
	}
	m := &Model{Name: "m", Routes: routes, Price: &Price{InputPerMTok: 1, OutputPerMTok: 2}}
	s := &sink{}
	g := New(Options{
		Table:   NewTable([]*Model{m}, providers),
		Retry:   Retry{MaxRetries: 2, BaseBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond},
		Breaker: BreakerSettings{FailureThreshold: 3, OpenFor: 100 * time.Millisecond, HalfOpenSuccesses: 1},
		Usage:   s,
		Rand:    rand.New(rand.NewPCG(1, 2)),
	})
	return g, s
}

// run does one whole exchange and returns the response, the error and the
// usage record.
func run(t *testing.T, g *Gateway, ctx context.Context) (*llm.Response, llm.UsageRecord, error) {
	t.Helper()
	x := g.Begin(Info{ID: "req", Model: "m", Endpoint: "chat"})
	m, err := g.Resolve("m")
	if err != nil {
		t.Fatal(err)
	}
	s, err := x.Open(ctx, m, &llm.Request{Model: "m", Stream: true, Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("hi")}}}})
	if err != nil {
		return nil, x.End(0, err), err
	}
	resp, err := llm.Collect(s)
	return resp, x.End(0, err), err
}

func TestAttemptLoop(t *testing.T) {
	u := llm.Usage{InputTokens: 10, OutputTokens: 5}
	tests := []struct {
		name         string
		primary      []step
		fallback     []step // nil: no fallback route
		wantErrKind  llm.Kind
		wantStatus   int
		wantText     string
		wantPrimary  int64
		wantFallback int64
		wantAttempts int
	}{
		{
			name:     "success first try",
			primary:  []step{{evs: okEvents("hello", u)}},
			wantText: "hello", wantPrimary: 1, wantAttempts: 1,
		},
		{
			name:     "429 then 200 retries the same route",
			primary:  []step{{err: upstreamErr(429)}, {evs: okEvents("ok", u)}},
			wantText: "ok", wantPrimary: 2, wantAttempts: 2,
		},
		{
			name:     "500 three times falls back",
			primary:  []step{{err: upstreamErr(500)}},
			fallback: []step{{evs: okEvents("from fallback", u)}},
			wantText: "from fallback", wantPrimary: 3, wantFallback: 1, wantAttempts: 4,
		},
		{
			name:        "400 is not retried nor failed over",
			primary:     []step{{err: upstreamErr(400)}},
			fallback:    []step{{evs: okEvents("never", u)}},
			wantErrKind: llm.KindCallerInvalid, wantStatus: 400, wantPrimary: 1, wantAttempts: 1,
		},
		{
			name:     "401 from upstream fails over without retrying",
			primary:  []step{{err: upstreamErr(401)}},
			fallback: []step{{evs: okEvents("fb", u)}},
			wantText: "fb", wantPrimary: 1, wantFallback: 1, wantAttempts: 2,
		},
		{
			name:        "both failing returns the most meaningful error",
			primary:     []step{{err: upstreamErr(429)}},
			fallback:    []step{{err: &llm.Error{Kind: llm.KindProviderConnect, Status: 502, Message: "refused"}}},
			wantErrKind: llm.KindProviderRateLimited, wantStatus: 429, wantPrimary: 3, wantFallback: 3, wantAttempts: 6,
		},
		{
			name: "error event before the first event is retried",
			primary: []step{
				{evs: []llm.Event{{Type: llm.EventError, Err: &llm.Error{Kind: llm.KindProviderOverloaded, Status: 503, Message: "overloaded"}}}},
				{evs: okEvents("second", u)},
			},
			wantText: "second", wantPrimary: 2, wantAttempts: 2,
		},
		{
			name: "error after the first event is not retried",
			primary: []step{{evs: []llm.Event{
				{Type: llm.EventStart},
				{Type: llm.EventBlockStart, Index: 0, Block: &llm.Block{Type: llm.BlockText}},
				{Type: llm.EventTextDelta, Index: 0, Text: "partial"},
				{Type: llm.EventError, Err: &llm.Error{Kind: llm.KindProviderServer, Status: 502, Message: "cut"}},
			}}},
			fallback:    []step{{evs: okEvents("never", u)}},
			wantErrKind: llm.KindProviderServer, wantStatus: 502, wantText: "partial", wantPrimary: 1, wantAttempts: 1,
		},
		{
			name:     "retry-after beyond max backoff fails over at once",
			primary:  []step{{err: func() *llm.Error { e := upstreamErr(429); e.RetryAfter = time.Minute; return e }()}},
			fallback: []step{{evs: okEvents("fb", u)}},
			wantText: "fb", wantPrimary: 1, wantFallback: 1, wantAttempts: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fake{name: "primary", script: tt.primary}
			routes := []*Route{{Provider: p, Model: "up-1"}}
			var fb *fake
			if tt.fallback != nil {
				fb = &fake{name: "fallback", script: tt.fallback}
				routes = append(routes, &Route{Provider: fb, Model: "up-2"})
			}
			g, s := newTestGateway(t, routes...)
			resp, rec, err := run(t, g, context.Background())
			if tt.wantErrKind != "" {
				var e *llm.Error
				if !errors.As(err, &e) || e.Kind != tt.wantErrKind || e.Status != tt.wantStatus {
					t.Fatalf("err = %#v, want kind %s status %d", err, tt.wantErrKind, tt.wantStatus)
				}
				if rec.ErrorKind != tt.wantErrKind || rec.Status != tt.wantStatus {
					t.Errorf("usage record kind %q status %d", rec.ErrorKind, rec.Status)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if tt.wantText != "" && (resp == nil || resp.Text() != tt.wantText) {
				t.Errorf("text = %v, want %q", resp, tt.wantText)
			}
			if got := p.calls.Load(); got != tt.wantPrimary {
				t.Errorf("primary calls = %d, want %d", got, tt.wantPrimary)
			}
			if fb != nil && fb.calls.Load() != tt.wantFallback {
				t.Errorf("fallback calls = %d, want %d", fb.calls.Load(), tt.wantFallback)
			}
			if rec.Attempts != tt.wantAttempts {
				t.Errorf("attempts = %d, want %d", rec.Attempts, tt.wantAttempts)
			}
			if len(s.recs) != 1 {
				t.Errorf("%d usage records, want 1", len(s.recs))
			}
		})
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	e := upstreamErr(429)
	e.RetryAfter = 15 * time.Millisecond
	p := &fake{name: "p", script: []step{{err: e}, {evs: okEvents("ok", llm.Usage{})}}}
	g, _ := newTestGateway(t, &Route{Provider: p, Model: "x"})
	start := time.Now()
	if _, _, err := run(t, g, context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 15*time.Millisecond {
		t.Errorf("retried after %v, before the upstream's Retry-After of 15ms", d)
	}
}

func TestBreaker(t *testing.T) {
	p := &fake{name: "flaky", script: []step{{err: upstreamErr(503)}}}
	fb := &fake{name: "backup", script: []step{{evs: okEvents("backup", llm.Usage{})}}}
	primary := &Route{Provider: p, Model: "a", MaxRetries: 0}
	g, _ := newTestGateway(t, primary, &Route{Provider: fb, Model: "b"})
	primary.MaxRetries = 0

	// Three requests, one failed attempt each: the breaker (threshold 3) opens.
	for range 3 {
		if _, _, err := run(t, g, context.Background()); err != nil {
			t.Fatalf("fallback should have answered: %v", err)
		}
	}
	if st := stateOf(g, "flaky/a"); st.State != "open" {
		t.Fatalf("breaker = %+v, want open", st)
	}
	calls := p.calls.Load()
	if _, rec, err := run(t, g, context.Background()); err != nil || rec.Attempts != 1 {
		t.Fatalf("with the breaker open: err %v attempts %d", err, rec.Attempts)
	}
	if p.calls.Load() != calls {
		t.Errorf("the open route was called")
	}

	// After open_for a probe goes through; its success closes the breaker.
	p.mu.Lock()
	p.script = []step{{evs: okEvents("recovered", llm.Usage{})}}
	p.mu.Unlock()
	time.Sleep(120 * time.Millisecond)
	resp, _, err := run(t, g, context.Background())
	if err != nil || resp.Text() != "recovered" {
		t.Fatalf("probe: %v %v", resp, err)
	}
	if st := stateOf(g, "flaky/a"); st.State != "closed" {
		t.Errorf("breaker after a good probe = %s", st.State)
	}
}

func TestAllBreakersOpen(t *testing.T) {
	p := &fake{name: "down", script: []step{{err: upstreamErr(500)}}}
	r := &Route{Provider: p, Model: "a"}
	g, _ := newTestGateway(t, r)
	r.MaxRetries = 0
	for range 3 {
		run(t, g, context.Background())
	}
	start := time.Now()
	_, _, err := run(t, g, context.Background())
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindGatewayNoUpstream || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want 503 no upstream", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond {
		t.Errorf("took %v with every breaker open; want immediate", d)
	}
}

func TestClientCancelNotCounted(t *testing.T) {
	p := &fake{name: "slow", script: []step{{delay: time.Second, evs: okEvents("x", llm.Usage{})}}}
	g, _ := newTestGateway(t, &Route{Provider: p, Model: "a"})
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		ctx, cancelCause := context.WithCancel(ctx)
		go func() { time.Sleep(2 * time.Millisecond); cancelCause() }()
		_, rec, err := run(t, g, ctx)
		cancel()
		if rec.Status != 499 || llm.AsError(err).Kind != llm.KindCallerCanceled {
			t.Fatalf("status %d err %v, want 499 cancel", rec.Status, err)
		}
	}
	if st := stateOf(g, "slow/a"); st.State != "closed" || st.ConsecutiveFailures != 0 {
		t.Errorf("client cancels counted against the upstream: %+v", st)
	}
}

func TestTimeouts(t *testing.T) {
	u := llm.Usage{}
	tests := []struct {
		name     string
		st       step
		timeouts Timeouts
		wantMsg  string
		midway   bool
	}{
		{"first byte", step{delay: time.Second, evs: okEvents("x", u)}, Timeouts{FirstByte: 20 * time.Millisecond}, "first-byte timeout", false},
		{"idle", step{evs: okEvents("x", u)[:3], hang: true}, Timeouts{Idle: 20 * time.Millisecond}, "idle timeout", true},
		{"total", step{evs: okEvents("x", u)[:3], hang: true}, Timeouts{Total: 30 * time.Millisecond}, "total timeout", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fake{name: "p", script: []step{tt.st}}
			r := &Route{Provider: p, Model: "a", Timeouts: tt.timeouts}
			g, _ := newTestGateway(t, r)
			r.MaxRetries = 0
			resp, rec, err := run(t, g, context.Background())
			e := llm.AsError(err)
			if e == nil || e.Kind != llm.KindProviderTimeout || e.Status != 504 {
				t.Fatalf("err = %v, want a 504 timeout", err)
			}
			if !strings.Contains(e.Message, tt.wantMsg) {
				t.Errorf("message %q does not say %q", e.Message, tt.wantMsg)
			}
			if tt.midway && (resp == nil || resp.Text() != "x") {
				t.Errorf("partial output lost: %v", resp)
			}
			if rec.Status != 504 {
				t.Errorf("usage status %d", rec.Status)
			}
		})
	}
}

func TestMetering(t *testing.T) {
	cost := 0.5
	tests := []struct {
		name          string
		evs           []llm.Event
		price         *Price
		wantUsage     llm.Usage
		wantCost      *float64
		wantEstimated bool
	}{
		{
			name:      "reported usage priced",
			evs:       okEvents("hello", llm.Usage{InputTokens: 1_000_000, OutputTokens: 500_000}),
			price:     &Price{InputPerMTok: 1, OutputPerMTok: 2},
			wantUsage: llm.Usage{InputTokens: 1_000_000, OutputTokens: 500_000},
			wantCost:  ptr(2.0),
		},
		{
			name:      "upstream cost wins",
			evs:       okEvents("hello", llm.Usage{InputTokens: 10, OutputTokens: 5, CostUSD: &cost}),
			price:     &Price{InputPerMTok: 1, OutputPerMTok: 2},
			wantUsage: llm.Usage{InputTokens: 10, OutputTokens: 5, CostUSD: &cost},
			wantCost:  &cost,
		},
		{
			name:      "no price, cost unknown",
			evs:       okEvents("hello", llm.Usage{InputTokens: 10, OutputTokens: 5}),
			wantUsage: llm.Usage{InputTokens: 10, OutputTokens: 5},
		},
		{
			name:          "no usage reported: estimated",
			evs:           okEvents("abcdefgh", llm.Usage{})[:5],
			wantUsage:     llm.Usage{InputTokens: 42, OutputTokens: 2, Estimated: true},
			wantEstimated: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fake{name: "p", script: []step{{evs: tt.evs}}}
			g, _ := newTestGateway(t, &Route{Provider: p, Model: "a"})
			g.Table().models["m"].Price = tt.price
			g.estimate = func(*llm.Request) int64 { return 42 }
			_, rec, err := run(t, g, context.Background())
			if err != nil {
				t.Fatal(err)
			}
			got := rec.Usage
			if got.InputTokens != tt.wantUsage.InputTokens || got.OutputTokens != tt.wantUsage.OutputTokens || got.Estimated != tt.wantEstimated {
				t.Errorf("usage = %+v, want %+v", got, tt.wantUsage)
			}
			switch {
			case tt.wantCost == nil && rec.CostUSD != nil:
				t.Errorf("cost = %v, want unknown", *rec.CostUSD)
			case tt.wantCost != nil && (rec.CostUSD == nil || *rec.CostUSD != *tt.wantCost):
				t.Errorf("cost = %v, want %v", rec.CostUSD, *tt.wantCost)
			}
			if rec.TTFT <= 0 || rec.Latency < rec.TTFT {
				t.Errorf("ttft %v latency %v", rec.TTFT, rec.Latency)
			}
			if rec.Provider != "p" || rec.UpstreamModel != "a" || rec.Status != 200 {
				t.Errorf("record %+v", rec)
			}
		})
	}
}

func TestWeightedRoutes(t *testing.T) {
	a := &fake{name: "a", script: []step{{evs: okEvents("a", llm.Usage{})}}}
	b := &fake{name: "b", script: []step{{evs: okEvents("b", llm.Usage{})}}}
	c := &fake{name: "c", script: []step{{evs: okEvents("c", llm.Usage{})}}}
	g, _ := newTestGateway(t,
		&Route{Provider: a, Model: "x", Weight: 3},
		&Route{Provider: b, Model: "x", Weight: 1},
		&Route{Provider: c, Model: "x", Priority: 1}, // only a fallback
	)
	const n = 1000
	for range n {
		if _, _, err := run(t, g, context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	share := float64(a.calls.Load()) / n
	if share < 0.70 || share > 0.80 {
		t.Errorf("route a got %.1f%% of requests, want 75%% ± 5", share*100)
	}
	if c.calls.Load() != 0 {
		t.Errorf("lower-priority route used %d times", c.calls.Load())
	}
}

func TestResolve(t *testing.T) {
	p := &fake{name: "openrouter", script: []step{{evs: okEvents("x", llm.Usage{})}}}
	g, _ := newTestGateway(t, &Route{Provider: p, Model: "anthropic/claude"})
	tests := []struct {
		name, model string
		wantStatus  int
		wantRoute   string
	}{
		{"logical", "m", 0, "openrouter/anthropic/claude"},
		{"direct with slashes", "openrouter/openai/gpt-4o", 0, "openrouter/openai/gpt-4o"},
		{"unknown", "gpt-9", 404, ""},
		{"unknown provider", "nope/gpt-4o", 404, ""},
		{"provider without model", "openrouter/", 404, ""},
		{"empty", "", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := g.Resolve(tt.model)
			if tt.wantStatus != 0 {
				if llm.StatusOf(err) != tt.wantStatus {
					t.Fatalf("err = %v, want status %d", err, tt.wantStatus)
				}
				return
			}
			if err != nil || m.Routes[0].Name() != tt.wantRoute {
				t.Fatalf("got %v %v, want route %s", m, err, tt.wantRoute)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	b := event.NewBroker()
	sub := b.Subscribe()
	defer sub.Close()
	p := &fake{name: "p", script: []step{{evs: okEvents("hello", llm.Usage{InputTokens: 3, OutputTokens: 1})}}}
	g, _ := newTestGateway(t, &Route{Provider: p, Model: "a"})
	g.events = b
	if _, _, err := run(t, g, context.Background()); err != nil {
		t.Fatal(err)
	}
	var kinds []event.Kind
	var fin *event.Request
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	for {
		ev, ok := sub.Next(ctx.Done())
		if !ok {
			break
		}
		kinds = append(kinds, ev.Kind)
		if ev.Kind == event.RequestFinished {
			fin = ev.Request
		}
	}
	if kinds[0] != event.RequestStarted || fin == nil {
		t.Fatalf("events %v", kinds)
	}
	if fin.Status != 200 || fin.Provider != "p" || fin.Usage.OutputTokens != 1 || fin.CostUSD == nil {
		t.Errorf("finished event %+v", fin)
	}
	if g.InflightCount() != 0 {
		t.Errorf("inflight = %d after the end", g.InflightCount())
	}
}

func stateOf(g *Gateway, route string) event.BreakerStatus {
	for _, s := range g.Breakers() {
		if s.Route == route {
			return s
		}
	}
	return event.BreakerStatus{}
}

func ptr[T any](v T) *T { return &v }

// A non-streamed upstream answer arrives whole, so the first-byte timeout
// does not apply to it; the total timeout does.
func TestFirstByteTimeoutSkipsNonStream(t *testing.T) {
	p := &fake{name: "p", script: []step{{delay: 40 * time.Millisecond, evs: okEvents("slow but fine", llm.Usage{})}}}
	r := &Route{Provider: p, Model: "a", Timeouts: Timeouts{FirstByte: 10 * time.Millisecond, Total: time.Second}}
	g, _ := newTestGateway(t, r)
	x := g.Begin(Info{ID: "req", Model: "m"})
	m, _ := g.Resolve("m")
	s, err := x.Open(context.Background(), m, &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("hi")}}}})
	if err != nil {
		t.Fatalf("non-stream request hit the first-byte timeout: %v", err)
	}
	resp, err := llm.Collect(s)
	x.End(0, err)
	if err != nil || resp.Text() != "slow but fine" {
		t.Fatalf("%v %v", resp, err)
	}
}

type redactingFake struct{ *fake }

func (r redactingFake) Redact(s string) string {
	return strings.ReplaceAll(s, "sk-secret-provider-key", "[REDACTED]")
}

// An upstream error that echoes the provider's key never reaches the client
// with the key in it.
func TestProviderKeyRedacted(t *testing.T) {
	leak := llm.FromStatus("p", 401, "Incorrect API key provided: sk-secret-provider-key")
	p := redactingFake{&fake{name: "p", script: []step{{err: leak}}}}
	g, _ := newTestGateway(t, &Route{Provider: p, Model: "a"})
	_, _, err := run(t, g, context.Background())
	if err == nil || strings.Contains(err.Error(), "sk-secret-provider-key") || !strings.Contains(err.Error(), "[REDACTED]") {
		t.Fatalf("err = %v", err)
	}
}

func TestBreakerDefaults(t *testing.T) {
	p := &fake{name: "p", script: []step{{err: upstreamErr(500)}}}
	r := &Route{Provider: p, Model: "a", MaxRetries: 0}
	g := New(Options{Table: NewTable([]*Model{{Name: "m", Routes: []*Route{r}}}, map[string]Provider{"p": p}),
		Retry: Retry{BaseBackoff: time.Millisecond}})
	for range 4 {
		run(t, g, context.Background())
	}
	if st := stateOf(g, "p/a"); st.State != "closed" {
		t.Fatalf("breaker %s after 4 failures; the default threshold is 5", st.State)
	}
	run(t, g, context.Background())
	if st := stateOf(g, "p/a"); st.State != "open" {
		t.Fatalf("breaker %s after 5 failures", st.State)
	}
}

type testBudget struct {
	quota, used     int64
	charged, actual int64
	settled         int
}

func (b *testBudget) Charge(n int64) bool { b.used += n; return b.used <= b.quota }
func (b *testBudget) Settle(charged, actual int64) {
	b.settled++
	b.charged, b.actual = charged, actual
}

// A stream that crosses its token quota ends cleanly: the current delta is
// delivered, open blocks are stopped, the finish reason is "length" and the
// usage follows; the upstream is released; the budget is settled once.
func TestBudgetEndsStreamCleanly(t *testing.T) {
	evs := []llm.Event{{Type: llm.EventStart, ID: "x", Model: "m", Usage: &llm.Usage{InputTokens: 10}},
		{Type: llm.EventBlockStart, Index: 0, Block: &llm.Block{Type: llm.BlockText}}}
	for range 50 {
		evs = append(evs, llm.Event{Type: llm.EventTextDelta, Index: 0, Text: strings.Repeat("a", 40)}) // ~10 tokens each
	}
	evs = append(evs, llm.Event{Type: llm.EventBlockStop, Index: 0}, llm.Event{Type: llm.EventFinish, Finish: llm.FinishStop},
		llm.Event{Type: llm.EventUsage, Usage: &llm.Usage{InputTokens: 10, OutputTokens: 500}})
	p := &fake{name: "p", script: []step{{evs: evs}}}
	g, _ := newTestGateway(t, &Route{Provider: p, Model: "a"})
	b := &testBudget{quota: 100}
	x := g.Begin(Info{ID: "req", Model: "m", Stream: true, Budget: b})
	m, _ := g.Resolve("m")
	s, err := x.Open(context.Background(), m, &llm.Request{Model: "m", Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	var types []llm.EventType
	deltas := 0
	for s.Next() {
		ev := s.Event()
		types = append(types, ev.Type)
		if ev.Type == llm.EventTextDelta {
			deltas++
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("err = %v, want a clean end", err)
	}
	s.Close()
	rec := x.End(0, nil)
	n := len(types)
	if n < 3 || types[n-3] != llm.EventBlockStop || types[n-2] != llm.EventFinish || types[n-1] != llm.EventUsage {
		t.Fatalf("stream ended with %v, want block_stop, finish, usage", types[max(0, n-4):])
	}
	if deltas < 8 || deltas > 12 {
		t.Errorf("%d deltas delivered; the quota of 100 tokens allows about 9", deltas)
	}
	if rec.Status != 200 || rec.ErrorKind != llm.KindPolicyBudget || !rec.Usage.Estimated {
		t.Errorf("usage record %+v", rec)
	}
	if b.settled != 1 || b.charged != b.used || b.actual != rec.Usage.TotalTokens() {
		t.Errorf("budget: settled %d charged %d (used %d) actual %d, record total %d", b.settled, b.charged, b.used, b.actual, rec.Usage.TotalTokens())
	}
}

// A quota crossed only by the final usage of a finished answer does not cut
// it.
func TestBudgetOverrunAtEndKeepsAnswer(t *testing.T) {
	p := &fake{name: "p", script: []step{{evs: okEvents("hi", llm.Usage{InputTokens: 500, OutputTokens: 5})}}}
	g, _ := newTestGateway(t, &Route{Provider: p, Model: "a"})
	b := &testBudget{quota: 100}
	x := g.Begin(Info{ID: "req", Model: "m", Budget: b})
	m, _ := g.Resolve("m")
	s, _ := x.Open(context.Background(), m, &llm.Request{Model: "m"})
	resp, err := llm.Collect(s)
	rec := x.End(0, err)
	if err != nil || resp.FinishReason != llm.FinishStop || rec.ErrorKind != "" {
		t.Fatalf("resp %+v err %v kind %q", resp, err, rec.ErrorKind)
	}
	if b.actual != 505 || b.settled != 1 {
		t.Errorf("settled actual %d (%d times), want 505 once", b.actual, b.settled)
	}
}

// Recent keeps the last finished requests, newest first, without anyone
// subscribed to events.
func TestRecent(t *testing.T) {
	g := New(Options{})
	for i := range recentKeep + 5 {
		g.Begin(Info{ID: fmt.Sprint("r", i), Model: "m"}).End(200+i%2, nil)
	}
	r := g.Recent()
	if len(r) != recentKeep || r[0].ID != fmt.Sprint("r", recentKeep+4) || r[recentKeep-1].ID != "r5" {
		t.Fatalf("recent: %d, first %s, last %s", len(r), r[0].ID, r[len(r)-1].ID)
	}
	if r[0].Status != 200 || r[1].Status != 201 { // r204, r203
		t.Errorf("statuses %d %d", r[0].Status, r[1].Status)
	}
}

// dialer is a provider that reports what its dialer would see: the route's
// connect timeout on the context, and a dial timeout.
type dialer struct{ seen time.Duration }

func (d *dialer) Name() string { return "dialer" }
func (d *dialer) Stream(ctx context.Context, call *llm.Call) (llm.Stream, error) {
	d.seen, _ = ConnectTimeout(ctx)
	err := &net.OpError{Op: "dial", Net: "tcp", Err: timeoutErr{}}
	return nil, llm.FromTransport(ctx, "dialer", err)
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

// A route's connect timeout reaches the dialer through the context, and a
// dial that times out is a 504 saying so.
func TestConnectTimeout(t *testing.T) {
	d := &dialer{}
	r := &Route{Provider: d, Model: "m", Timeouts: Timeouts{Connect: 50 * time.Millisecond}}
	g, _ := newTestGateway(t, r)
	r.MaxRetries = 0
	_, _, err := run(t, g, context.Background())
	e := llm.AsError(err)
	if d.seen != 50*time.Millisecond {
		t.Errorf("the dialer saw connect timeout %v", d.seen)
	}
	if e.Status != 504 || !strings.Contains(e.Message, "connect timeout of 50ms") {
		t.Errorf("err = %v (%d)", e, e.Status)
	}
}

// One session sticks to one of several weighted routes; sessions spread.
func TestSessionAffinity(t *testing.T) {
	a := &fake{name: "a", script: []step{{evs: okEvents("a", llm.Usage{})}}}
	b := &fake{name: "b", script: []step{{evs: okEvents("b", llm.Usage{})}}}
	g, _ := newTestGateway(t, &Route{Provider: a, Model: "x", Weight: 1}, &Route{Provider: b, Model: "x", Weight: 1})
	m, _ := g.Resolve("m")
	pick := func(session string) string {
		x := g.Begin(Info{ID: "r", Model: "m", Affinity: session})
		s, err := x.Open(context.Background(), m, &llm.Request{Model: "m"})
		if err != nil {
			t.Fatal(err)
		}
		resp, _ := llm.Collect(s)
		x.End(0, nil)
		return resp.Text()
	}
	for _, session := range []string{"s1", "s2", "s3"} {
		first := pick(session)
		for range 20 {
			if got := pick(session); got != first {
				t.Fatalf("session %s moved from route %s to %s", session, first, got)
			}
		}
	}
	seen := map[string]bool{}
	for i := range 40 {
		seen[pick(fmt.Sprint("session-", i))] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("40 sessions all went to one route: %v", seen)
	}
}

// A model without a price is logged once, not per request.
func TestUnpricedWarnedOnce(t *testing.T) {
	var logs strings.Builder
	p := &fake{name: "p", script: []step{{evs: okEvents("x", llm.Usage{InputTokens: 3, OutputTokens: 2})}}}
	g, _ := newTestGateway(t, &Route{Provider: p, Model: "a"})
	g.Table().models["m"].Price = nil
	g.log = slog.New(slog.NewTextHandler(&logs, nil))
	for range 3 {
		if _, rec, err := run(t, g, context.Background()); err != nil || rec.CostUSD != nil {
			t.Fatalf("err %v cost %v", err, rec.CostUSD)
		}
	}
	if n := strings.Count(logs.String(), "model has no price"); n != 1 {
		t.Errorf("warned %d times:\n%s", n, logs.String())
	}
}
