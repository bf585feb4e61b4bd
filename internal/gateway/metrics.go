package gateway

import (
	"errors"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Metric names and labels, served on GET /metrics. Label values are
// bounded: endpoints and token types are fixed sets, providers and routes
// come from the config, model is a logical model of the routing table or
// "other" (direct "provider/model" names are up to the client), status is
// the HTTP status number. Key and request ids are never labels.
const (
	metricRequests       = "xjp_requests_total"           // endpoint, model, provider, status
	metricDuration       = "xjp_request_duration_seconds" // endpoint, model, provider
	metricTTFT           = "xjp_ttft_seconds"             // model, provider
	metricTokens         = "xjp_tokens_total"             // model, provider, type
	metricCost           = "xjp_cost_usd_total"           // model
	metricStreamBytes    = "xjp_stream_bytes_total"       // endpoint
	metricUpstreamErrors = "xjp_upstream_errors_total"    // provider, kind
	metricBreakerState   = "xjp_breaker_state"            // route
	metricInflight       = "xjp_inflight_requests"
	metricRetries        = "xjp_retries_total" // provider
	metricRatelimited    = "xjp_ratelimited_total"

	// otherModel is the model label of direct "provider/model" names.
	otherModel = "other"
)

// Values of xjp_breaker_state.
const (
	breakerClosed   = 0
	breakerHalfOpen = 1
	breakerOpen     = 2
)

// metrics are the gateway's Prometheus collectors, registered on the
// registry given in Options.Metrics, never a global one (Caddy's
// reverseproxy/metrics.go). A nil *metrics observes nothing, so the call
// sites need no checks.
type metrics struct {
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	ttft           *prometheus.HistogramVec
	tokens         *prometheus.CounterVec
	cost           *prometheus.CounterVec
	streamBytes    *prometheus.CounterVec
	upstreamErrors *prometheus.CounterVec
	retries        *prometheus.CounterVec
	ratelimited    prometheus.Counter
}

// newMetrics creates the collectors of g and registers them on reg. A
// collector already registered with the same definition is reused, so two
// gateways may share a registry (the second one's breaker and in-flight
// gauges are then not registered).
func newMetrics(g *Gateway, reg prometheus.Registerer) *metrics {
	latency := []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	m := &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRequests,
			Help: "Requests finished, by endpoint, logical model, provider and the HTTP status the client got (499: client went away).",
		}, []string{"endpoint", "model", "provider", "status"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricDuration,
			Help:    "Time from a request's arrival to its end (the whole stream), by endpoint, logical model and provider.",
			Buckets: latency,
		}, []string{"endpoint", "model", "provider"})),
		ttft: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    metricTTFT,
			Help:    "Time from a request's arrival to its first streamed token, by logical model and provider.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 5, 10, 30, 60},
		}, []string{"model", "provider"})),
		tokens: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricTokens,
			Help: "Tokens billed, by logical model, provider and type (input: uncached input, cache_read, cache_write, output incl. reasoning; the types are disjoint).",
		}, []string{"model", "provider", "type"})),
		cost: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricCost,
			Help: "Cost of finished requests in US dollars, by logical model (unpriced requests add nothing).",
		}, []string{"model"})),
		streamBytes: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricStreamBytes,
			Help: "Bytes of server-sent events written to clients, by endpoint.",
		}, []string{"endpoint"})),
		upstreamErrors: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricUpstreamErrors,
			Help: "Failed upstream attempts (before or during the stream), by provider and error kind. Client cancels are not counted.",
		}, []string{"provider", "kind"})),
		retries: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: metricRetries,
			Help: "Upstream attempts after a request's first one (retries on the same route and failovers to the next), by the provider attempted.",
		}, []string{"provider"})),
		ratelimited: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: metricRatelimited,
			Help: "Requests refused by the gateway's own rate limits or quotas (429).",
		})),
	}
	sc := &stateCollector{
		g:        g,
		breakers: prometheus.NewDesc(metricBreakerState, "Circuit breaker state of each route of the routing table: 0 closed, 1 half-open, 2 open.", []string{"route"}, nil),
		inflight: prometheus.NewDesc(metricInflight, "Requests in progress.", nil, nil),
	}
	if err := reg.Register(sc); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
		panic(err)
	}
	return m
}

// register registers c on reg, or returns the equal collector registered
// before. Conflicting definitions are a programming error and panic, like
// prometheus.MustRegister.
func register[T prometheus.Collector](reg prometheus.Registerer, c T) T {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing
		}
	}
	panic(err)
}

// stateCollector reads the breaker states and the in-flight count when
// scraped, so the gauges always match the routing table in use (a reload
// adds and removes routes) and cost nothing between scrapes.
type stateCollector struct {
	g                  *Gateway
	breakers, inflight *prometheus.Desc
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.breakers
	ch <- c.inflight
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range c.g.Breakers() {
		v := breakerClosed
		switch b.State {
		case "half-open":
			v = breakerHalfOpen
		case "open":
			v = breakerOpen
		}
		ch <- prometheus.MustNewConstMetric(c.breakers, prometheus.GaugeValue, float64(v), b.Route)
	}
	ch <- prometheus.MustNewConstMetric(c.inflight, prometheus.GaugeValue, float64(c.g.nflight.Load()))
}

// modelLabel bounds the model label: a logical model of the routing table,
// or "other" for direct "provider/model" names and unknown names. m is the
// resolved model (nil when the exchange ended before Open).
func (g *Gateway) modelLabel(m *Model, asked string) string {
	if m == nil {
		var ok bool
		if m, ok = g.Table().models[asked]; !ok {
			return otherModel
		}
	}
	if m.Direct {
		return otherModel
	}
	return m.Name
}

// end observes a finished exchange.
func (m *metrics) end(model string, rec *llm.UsageRecord, e *llm.Error, streamBytes int64) {
	if m == nil {
		return
	}
	m.requests.WithLabelValues(rec.Endpoint, model, rec.Provider, strconv.Itoa(rec.Status)).Inc()
	m.duration.WithLabelValues(rec.Endpoint, model, rec.Provider).Observe(rec.Latency.Seconds())
	if rec.TTFT > 0 {
		m.ttft.WithLabelValues(model, rec.Provider).Observe(rec.TTFT.Seconds())
	}
	for _, t := range [...]struct {
		typ string
		n   int64
	}{
		{"input", rec.Usage.InputTokens},
		{"cache_read", rec.Usage.CacheReadTokens},
		{"cache_write", rec.Usage.CacheWriteTokens},
		{"output", rec.Usage.OutputTokens},
	} {
		if t.n > 0 {
			m.tokens.WithLabelValues(model, rec.Provider, t.typ).Add(float64(t.n))
		}
	}
	if rec.CostUSD != nil && *rec.CostUSD > 0 {
		m.cost.WithLabelValues(model).Add(*rec.CostUSD)
	}
	if streamBytes > 0 {
		m.streamBytes.WithLabelValues(rec.Endpoint).Add(float64(streamBytes))
	}
	if e != nil && e.Kind == llm.KindPolicyBudget {
		m.ratelimited.Inc()
	}
}

// upstreamError counts a failed attempt.
func (m *metrics) upstreamError(provider string, kind llm.Kind) {
	if m == nil {
		return
	}
	m.upstreamErrors.WithLabelValues(provider, string(kind)).Inc()
}

// retry counts an attempt after a request's first.
func (m *metrics) retry(provider string) {
	if m == nil {
		return
	}
	m.retries.WithLabelValues(provider).Inc()
}
