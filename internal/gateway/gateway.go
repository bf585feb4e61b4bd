// Package gateway is xjp's engine: it resolves a logical model to its
// routes, picks the order to try them in, and runs the attempt loop — per
// attempt the route's circuit breaker is asked, the provider called, and
// the first event awaited; failures before that first event are retried with
// backoff and then failed over to the next route. Once the first event is
// in, the stream is committed: it is metered (time to first token, tokens,
// cost), published as live events, and recorded as one usage row when the
// ingress ends the exchange.
//
// The shape follows Caddy's reverse proxy: each attempt is its own method,
// one function decides what is retryable, and breaker state lives on the
// route. Dialects and the store are reached only through the Provider and
// UsageSink interfaces declared here.
package gateway

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/trace"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/llm"
)

// UsageSink receives one record per finished request. It must not block:
// the store's batching writer only enqueues.
type UsageSink interface {
	RecordUsage(rec llm.UsageRecord)
}

// Retry is the retry policy of the attempt loop.
type Retry struct {
	// MaxRetries is how many times one route is retried after its first
	// attempt failed retryably (default 2).
	MaxRetries int
	// BaseBackoff and MaxBackoff bound the exponential backoff with full
	// jitter between retries; an upstream Retry-After is honoured up to
	// MaxBackoff (beyond it the route is given up at once).
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
}

// Options configure a Gateway.
type Options struct {
	Table   *Table
	Retry   Retry
	Breaker BreakerSettings
	// Usage receives usage records; nil discards them.
	Usage UsageSink
	// Events receives live events; nil publishes nothing.
	Events *event.Broker
	// EstimateInput counts a request's input tokens locally when the
	// upstream reports no usage (nil: no estimate).
	EstimateInput func(*llm.Request) int64
	Logger        *slog.Logger
	// ProgressEvery throttles request progress events (default 250ms).
	ProgressEvery time.Duration
	// Metrics, when set, is the registry the gateway's Prometheus
	// collectors are registered on (see metrics.go); nil: no metrics.
	Metrics prometheus.Registerer
	// TracerProvider, when set, makes a span per upstream attempt (see
	// tracing.go); nil: tracing off, at the cost of a nil check.
	TracerProvider trace.TracerProvider
	// Now and Rand are for tests.
	Now  func() time.Time
	Rand *rand.Rand
}

// Gateway routes requests to providers. It is safe for concurrent use.
type Gateway struct {
	table    atomic.Pointer[Table]
	retry    Retry
	bset     BreakerSettings
	usage    UsageSink
	events   *event.Broker
	estimate func(*llm.Request) int64
	log      *slog.Logger
	progress time.Duration
	now      func() time.Time
	metrics  *metrics     // nil: no metrics
	tracer   trace.Tracer // nil: no tracing

	rndMu sync.Mutex // guards rnd
	rnd   *rand.Rand

	bmu      sync.Mutex // guards breakers
	breakers map[string]*breaker

	inflight sync.Map // request id → *Exchange
	nflight  atomic.Int64

	unpriced sync.Map // model name → struct{}: warned once

	recentMu   sync.Mutex      // guards the following fields
	recent     []event.Request // ring of the last finished requests
	recentNext int
	recentN    int
}

// warnUnpriced logs, once per model, that its cost is unknown.
func (g *Gateway) warnUnpriced(model string) {
	if _, seen := g.unpriced.LoadOrStore(model, struct{}{}); seen {
		return
	}
	g.log.Warn("model has no price: its cost is recorded as unknown; add price = {input_per_mtok = …, output_per_mtok = …} to it in the config",
		"model", model)
}

// recentKeep is how many finished requests Recent remembers.
const recentKeep = 200

// remember adds a finished request to the ring Recent reads. It is called
// once per request, so it copies into a fixed ring: no allocation, no
// goroutine to wake.
func (g *Gateway) remember(r event.Request) {
	g.recentMu.Lock()
	if g.recent == nil {
		g.recent = make([]event.Request, recentKeep)
	}
	g.recent[g.recentNext] = r
	g.recentNext = (g.recentNext + 1) % recentKeep
	g.recentN = min(g.recentN+1, recentKeep)
	g.recentMu.Unlock()
}

// Recent returns the last finished requests, newest first.
func (g *Gateway) Recent() []event.Request {
	g.recentMu.Lock()
	defer g.recentMu.Unlock()
	out := make([]event.Request, 0, g.recentN)
	for i := 1; i <= g.recentN; i++ {
		out = append(out, g.recent[(g.recentNext-i+recentKeep)%recentKeep])
	}
	return out
}

// New returns a gateway serving o.Table.
func New(o Options) *Gateway {
	g := &Gateway{
		retry:    o.Retry,
		bset:     o.Breaker,
		usage:    o.Usage,
		events:   o.Events,
		estimate: o.EstimateInput,
		log:      o.Logger,
		progress: o.ProgressEvery,
		now:      o.Now,
		rnd:      o.Rand,
		breakers: make(map[string]*breaker),
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.rnd == nil {
		g.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if g.progress == 0 {
		g.progress = 250 * time.Millisecond
	}
	if g.bset.OpenFor <= 0 {
		g.bset.OpenFor = 30 * time.Second
	}
	if g.bset.FailureThreshold <= 0 {
		g.bset.FailureThreshold = 5
	}
	if g.bset.HalfOpenSuccesses <= 0 {
		g.bset.HalfOpenSuccesses = 2
	}
	if o.Table == nil {
		o.Table = NewTable(nil, nil)
	}
	g.SetTable(o.Table)
	if o.Metrics != nil {
		g.metrics = newMetrics(g, o.Metrics)
	}
	if o.TracerProvider != nil {
		g.tracer = o.TracerProvider.Tracer(tracerName)
	}
	return g
}

// SetTable installs a new routing table (config reload). Requests in flight
// finish on the table they started with; breakers carry over by route name.
func (g *Gateway) SetTable(t *Table) {
	for _, r := range t.Routes() {
		r.breaker = g.breakerFor(r.Name())
	}
	g.table.Store(t)
}

// Table returns the routing table in use.
func (g *Gateway) Table() *Table { return g.table.Load() }

func (g *Gateway) breakerFor(name string) *breaker {
	g.bmu.Lock()
	defer g.bmu.Unlock()
	if b, ok := g.breakers[name]; ok {
		return b
	}
	b := newBreaker(name, g.bset, g.breakerChanged)
	g.breakers[name] = b
	return b
}

func (g *Gateway) breakerChanged(name string, from, to gobreaker.State, b *breaker) {
	b.mu.Lock()
	reason := b.lastError
	b.mu.Unlock()
	lvl := slog.LevelInfo
	if to == gobreaker.StateOpen {
		lvl = slog.LevelWarn
	}
	g.log.Log(context.Background(), lvl, "breaker changed", "route", name, "from", from.String(), "to", to.String(), "reason", reason)
	if g.events != nil {
		g.events.PublishMustDeliver(event.Event{Kind: event.BreakerChanged, Breaker: &event.Breaker{
			Route: name, From: from.String(), To: to.String(), Reason: reason,
		}})
	}
}

// Breakers returns the state of every route's breaker in the current table.
func (g *Gateway) Breakers() []event.BreakerStatus {
	var out []event.BreakerStatus
	seen := map[string]bool{}
	for _, r := range g.Table().Routes() {
		if seen[r.Name()] {
			continue
		}
		seen[r.Name()] = true
		out = append(out, r.breaker.state(r.Name()))
	}
	return out
}

// Resolve finds the logical model for a client's model name: a [[models]]
// entry, or "provider/upstream_model". Unknown names are a 404.
func (g *Gateway) Resolve(name string) (*Model, error) {
	if name == "" {
		return nil, llm.InvalidRequest("model", "model is required")
	}
	m, ok := g.Table().lookup(name)
	if !ok {
		return nil, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusNotFound, Code: "model_not_found", Param: "model",
			Message: fmt.Sprintf("the model %q does not exist or is not routed by this gateway (GET /v1/models lists them)", name)}
	}
	if len(m.Routes) == 0 {
		return nil, &llm.Error{Kind: llm.KindGatewayNoUpstream, Status: http.StatusServiceUnavailable,
			Message: fmt.Sprintf("the model %q has no routes", name)}
	}
	if m.Direct {
		// A "provider/model" route is made per lookup: give it the
		// breaker of its name (shared with a table route of that name).
		m.Routes[0].breaker = g.breakerFor(m.Routes[0].Name())
	}
	return m, nil
}

// Inflight returns the requests in progress.
func (g *Gateway) Inflight() []event.Request {
	var out []event.Request
	g.inflight.Range(func(_, v any) bool {
		out = append(out, v.(*Exchange).snapshot())
		return true
	})
	return out
}

// InflightCount is the number of requests in progress.
func (g *Gateway) InflightCount() int64 { return g.nflight.Load() }

func (g *Gateway) float() float64 {
	g.rndMu.Lock()
	defer g.rndMu.Unlock()
	return g.rnd.Float64()
}

// order returns the routes of m in the order to try them. With an affinity
// (a client session id) the draw among weighted routes is a function of
// the session, so one session keeps landing on the same route and its
// prompt cache stays warm; other sessions still spread by weight.
func (g *Gateway) order(m *Model, affinity string) []*Route {
	if affinity != "" && len(m.Routes) > 1 {
		h := fnv.New64a()
		h.Write([]byte(m.Name))
		h.Write([]byte{0})
		h.Write([]byte(affinity))
		sum := h.Sum64()
		return order(m.Routes, rand.New(rand.NewPCG(sum, sum>>1|1)))
	}
	g.rndMu.Lock()
	defer g.rndMu.Unlock()
	return order(m.Routes, g.rnd)
}

// backoff returns the wait before retry number n (1-based): exponential
// with full jitter, at least the upstream's Retry-After.
func (g *Gateway) backoff(n int, retryAfter time.Duration) time.Duration {
	base, ceil := g.retry.BaseBackoff, g.retry.MaxBackoff
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	if ceil < base {
		ceil = base
	}
	exp := base << min(n-1, 20)
	if exp > ceil || exp <= 0 {
		exp = ceil
	}
	d := time.Duration(g.float() * float64(exp))
	if retryAfter > d {
		d = min(retryAfter, ceil)
	}
	return d
}
