package gateway

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/llm"
)

// Info describes a request as the ingress knows it before routing.
type Info struct {
	ID       string
	KeyID    string
	KeyName  string
	Tenant   string
	Endpoint string // "chat", "messages", "responses", "gemini"
	Model    string
	Stream   bool
	// Budget, when set, meters the request's tokens against quotas while
	// it streams.
	Budget Budget
	// Affinity is a client session id (Claude Code's
	// X-Claude-Code-Session-Id): requests of one session pick the same
	// route among weighted ones, keeping the upstream's prompt cache warm.
	Affinity string
}

type connectTimeoutKey struct{}

// WithConnectTimeout returns ctx carrying a connect timeout for the
// provider's dialer (see ConnectTimeout).
func WithConnectTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, connectTimeoutKey{}, d)
}

// ConnectTimeout returns the connect timeout of the route an upstream call
// is made for, set by the attempt on its context: the dialer of a
// provider's HTTP client reads it, so that each route has its own.
func ConnectTimeout(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(connectTimeoutKey{}).(time.Duration)
	return d, ok && d > 0
}

// Budget meters one request's tokens against quotas (see internal/limit).
type Budget interface {
	// Charge adds tokens as they stream (input once known, output as it
	// arrives). It returns false once a quota is crossed: the stream is
	// then ended cleanly — open blocks closed, finish reason "length",
	// usage — rather than cut.
	Charge(tokens int64) bool
	// Settle is called once, when the exchange ends, with what was charged
	// and the request's real token total, so each token counts once.
	Settle(charged, actual int64)
}

// Exchange is one client request's life in the gateway: Begin, then Open
// (the attempt loop), then the ingress reads the stream, then End records
// it. Refusals before routing (rate limits) call End without Open.
type Exchange struct {
	g     *Gateway
	info  Info
	start time.Time

	// Written by the goroutine serving the request, read by snapshot under mu.
	mu       sync.Mutex
	model    *Model
	route    *Route
	attempts int
	stream   *meteredStream

	outTokens   atomic.Int64 // progress, read by snapshots
	ttft        atomic.Int64 // nanoseconds since start
	streamBytes atomic.Int64 // SSE bytes written to the client (AddStreamBytes)
	ended       atomic.Bool
}

// Begin starts an exchange and publishes it as in flight.
func (g *Gateway) Begin(info Info) *Exchange {
	x := &Exchange{g: g, info: info, start: g.now()}
	g.inflight.Store(info.ID, x)
	g.nflight.Add(1)
	if g.events.HasSubscribers() {
		r := x.snapshot()
		g.events.PublishMustDeliver(event.Event{Kind: event.RequestStarted, Request: &r})
	}
	return x
}

// AddStreamBytes adds n bytes written to the client as a stream; End
// counts them in xjp_stream_bytes_total.
func (x *Exchange) AddStreamBytes(n int64) { x.streamBytes.Add(n) }

// Attempts is the number of upstream attempts made so far.
func (x *Exchange) Attempts() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.attempts
}

// Route returns the route that answered (or was tried last).
func (x *Exchange) Route() *Route {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.route
}

func (x *Exchange) snapshot() event.Request {
	x.mu.Lock()
	r := event.Request{
		ID: x.info.ID, KeyID: x.info.KeyID, KeyName: x.info.KeyName, Tenant: x.info.Tenant,
		Endpoint: x.info.Endpoint, Model: x.info.Model, Stream: x.info.Stream,
		Start: x.start, Attempts: x.attempts,
	}
	if x.route != nil {
		r.Provider, r.UpstreamModel = x.route.Provider.Name(), x.route.Model
	}
	x.mu.Unlock()
	r.TTFT = time.Duration(x.ttft.Load())
	r.OutputTokens = x.outTokens.Load()
	return r
}

// Timeout causes, so an aborted attempt says which limit it hit.
var (
	errFirstByteTimeout = errors.New("first byte timeout")
	errIdleTimeout      = errors.New("idle timeout")
	errTotalTimeout     = errors.New("total timeout")
)

// Open runs the attempt loop for req on m's routes and returns the stream of
// the first attempt that produced an event. Errors are *llm.Error values
// carrying the status the client should see.
func (x *Exchange) Open(ctx context.Context, m *Model, req *llm.Request) (llm.Stream, error) {
	g := x.g
	x.mu.Lock()
	x.model = m
	x.mu.Unlock()

	var best *llm.Error
	tried := 0
	for _, r := range g.order(m, x.info.Affinity) {
		maxRetries := g.retry.MaxRetries
		if r.MaxRetries >= 0 {
			maxRetries = r.MaxRetries
		}
		for try := 0; ; try++ {
			s, err, skipped := x.attempt(ctx, r, req)
			if skipped {
				break // breaker open: next route
			}
			tried++
			if err == nil {
				return s, nil
			}
			best = moreMeaningful(best, err)
			if !x.tryAgain(ctx, err, try, maxRetries) {
				if !err.Kind.Retryable() && err.Kind != llm.KindProviderAuth {
					return nil, err // the client's fault or gone: no failover
				}
				break
			}
			if werr := x.wait(ctx, try+1, err.RetryAfter); werr != nil {
				return nil, werr
			}
		}
	}
	if tried == 0 {
		return nil, &llm.Error{Kind: llm.KindGatewayNoUpstream, Status: http.StatusServiceUnavailable, Code: "no_upstream",
			Message: fmt.Sprintf("every route of %q is unavailable (circuit breakers open); try again shortly", m.Name)}
	}
	if tried > 1 {
		e := *best
		e.Message = fmt.Sprintf("%s (after %d attempts)", best.Message, tried)
		return nil, &e
	}
	return nil, best
}

// tryAgain is the one place that says whether a failed attempt is retried
// on the same route.
func (x *Exchange) tryAgain(ctx context.Context, err *llm.Error, try, maxRetries int) bool {
	switch {
	case ctx.Err() != nil:
		return false
	case !err.Kind.Retryable():
		return false
	case try >= maxRetries:
		return false
	case x.g.retry.MaxBackoff > 0 && err.RetryAfter > x.g.retry.MaxBackoff:
		return false // the upstream wants a longer pause than we wait: fail over now
	}
	return true
}

func (x *Exchange) wait(ctx context.Context, n int, retryAfter time.Duration) *llm.Error {
	d := x.g.backoff(n, retryAfter)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return &llm.Error{Kind: llm.KindProviderTimeout, Status: http.StatusGatewayTimeout, Message: "request deadline reached while waiting to retry"}
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return llm.FromTransport(ctx, "", ctx.Err())
	case <-t.C:
		return nil
	}
}

// attempt makes one call on route r and waits for its first event.
func (x *Exchange) attempt(ctx context.Context, r *Route, req *llm.Request) (llm.Stream, *llm.Error, bool) {
	done, ok := r.breaker.allow()
	if !ok {
		return nil, nil, true
	}
	x.mu.Lock()
	x.attempts++
	n := x.attempts
	x.route = r
	x.mu.Unlock()
	if n > 1 {
		x.g.metrics.retry(r.Provider.Name())
	}

	// pctx parents the attempt: with tracing on it carries the attempt's
	// span to the provider (and its HTTP client).
	pctx := ctx
	var span trace.Span
	if x.g.tracer != nil {
		pctx, span = x.g.startAttempt(ctx, r, n)
	}
	if r.Timeouts.Connect > 0 {
		pctx = WithConnectTimeout(pctx, r.Timeouts.Connect)
	}
	actx, cancel := context.WithCancelCause(pctx)
	var cancelTotal context.CancelFunc = func() {}
	if r.Timeouts.Total > 0 {
		actx, cancelTotal = context.WithTimeoutCause(actx, r.Timeouts.Total, errTotalTimeout)
	}
	abort := func(cause error) { cancel(cause); cancelTotal() }
	var firstByte *time.Timer
	// A non-streamed answer arrives whole: only the total timeout bounds it.
	if r.Timeouts.FirstByte > 0 && req.Stream {
		firstByte = time.AfterFunc(r.Timeouts.FirstByte, func() { cancel(errFirstByteTimeout) })
	}
	stopFirstByte := func() {
		if firstByte != nil {
			firstByte.Stop()
		}
	}

	call := &llm.Call{
		Request:          req.Clone(),
		Model:            r.Model,
		MaxTokensCap:     r.MaxTokens,
		DefaultMaxTokens: r.DefaultMaxTokens,
		Body:             r.Body,
		Headers:          r.Headers,
	}
	s, err := r.Provider.Stream(actx, call)
	if err != nil {
		stopFirstByte()
		e := x.classify(ctx, actx, r, err)
		abort(nil)
		done(e)
		x.logAttempt(r, e)
		endAttempt(span, e, nil)
		return nil, e, false
	}
	if !s.Next() {
		stopFirstByte()
		err := s.Err()
		if err == nil {
			err = &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway, Message: "upstream sent an empty stream"}
		}
		e := x.classify(ctx, actx, r, err)
		s.Close()
		abort(nil)
		done(e)
		x.logAttempt(r, e)
		endAttempt(span, e, nil)
		return nil, e, false
	}
	stopFirstByte()
	ms := &meteredStream{x: x, s: s, ctx: ctx, actx: actx, route: r, abort: abort, done: done, span: span, first: true, idle: r.Timeouts.Idle, req: req,
		budget: x.info.Budget}
	if ms.idle > 0 {
		ms.idleTimer = time.AfterFunc(ms.idle, func() { cancel(errIdleTimeout) })
	}
	ms.observe(s.Event())
	x.mu.Lock()
	x.stream = ms
	x.mu.Unlock()
	return ms, nil, false
}

// logAttempt logs a failed attempt and counts it in
// xjp_upstream_errors_total; client cancels are neither.
func (x *Exchange) logAttempt(r *Route, e *llm.Error) {
	if e.Kind == llm.KindCallerCanceled {
		return
	}
	x.g.metrics.upstreamError(r.Provider.Name(), e.Kind)
	x.g.log.Warn("upstream attempt failed", "request_id", x.info.ID, "route", r.Name(), "kind", e.Kind, "status", e.UpstreamStatus, "error", e.Error())
}

// classify turns an attempt's error into an *llm.Error, telling our own
// timeouts apart from a client that went away.
func (x *Exchange) classify(client, attempt context.Context, r *Route, err error) *llm.Error {
	e := x.classifyKind(client, attempt, r, err)
	if red, ok := r.Provider.(Redactor); ok && e.Message != "" {
		if m := red.Redact(e.Message); m != e.Message {
			c := *e
			c.Message = m
			e = &c
		}
	}
	return e
}

// classifyKind does classify's work, before redaction.
func (x *Exchange) classifyKind(client, attempt context.Context, r *Route, err error) *llm.Error {
	if client.Err() != nil {
		return &llm.Error{Kind: llm.KindCallerCanceled, Status: 499, Message: "client closed the request", Err: err}
	}
	switch cause := context.Cause(attempt); {
	case errors.Is(cause, errFirstByteTimeout):
		return timeoutError(r, "no response within the first-byte timeout of %s", r.Timeouts.FirstByte)
	case errors.Is(cause, errIdleTimeout):
		return timeoutError(r, "no data for the idle timeout of %s", r.Timeouts.Idle)
	case errors.Is(cause, errTotalTimeout):
		return timeoutError(r, "the attempt exceeded the total timeout of %s", r.Timeouts.Total)
	}
	e := llm.AsError(err)
	var oe *net.OpError
	if e.Kind == llm.KindProviderTimeout && errors.As(err, &oe) && oe.Op == "dial" {
		return timeoutError(r, "could not connect within the connect timeout of %s", r.Timeouts.Connect)
	}
	if e.Kind == llm.KindCallerCanceled { // a provider saw our attempt context end
		return &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway, Provider: r.Provider.Name(), Message: "upstream call aborted", Err: err}
	}
	if e.Kind == llm.KindGatewayInternal {
		e = &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway, Provider: r.Provider.Name(), Message: e.Message, Err: err}
	}
	return e
}

func timeoutError(r *Route, format string, d time.Duration) *llm.Error {
	return &llm.Error{Kind: llm.KindProviderTimeout, Status: http.StatusGatewayTimeout, Code: "upstream_timeout",
		Provider: r.Provider.Name(), Message: fmt.Sprintf("upstream timeout: "+format, d)}
}

// meaning ranks errors: the one that tells the client most wins.
func meaning(k llm.Kind) int {
	switch k {
	case llm.KindProviderRateLimited:
		return 6
	case llm.KindProviderAuth:
		return 5
	case llm.KindProviderOverloaded:
		return 4
	case llm.KindProviderServer:
		return 3
	case llm.KindProviderTimeout:
		return 2
	case llm.KindProviderConnect:
		return 1
	}
	return 7 // client errors and cancels end the loop anyway
}

func moreMeaningful(best, e *llm.Error) *llm.Error {
	if best == nil || meaning(e.Kind) > meaning(best.Kind) {
		return e
	}
	return best
}
