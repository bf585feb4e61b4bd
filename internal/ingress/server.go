// Package ingress is xjp's net/http side: the client-facing endpoints
// (/v1/chat/completions, /v1/messages, /v1/models …), their middleware
// (request id, panic recovery, CORS, body limit, API-key auth), health and
// readiness. Each endpoint decodes its wire format into an llm.Request with
// the dialect's codec, hands it to the gateway, and encodes the resulting
// stream back in the same format — errors included, also mid-stream.
package ingress

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/llm"
)

// Options configure the HTTP server.
type Options struct {
	Gateway *gateway.Gateway
	// Keys verifies API keys (see KeyCache).
	Keys *KeyCache
	// Limiter admits requests per key (rate limits, quotas); nil admits all.
	Limiter Limiter
	Logger  *slog.Logger
	// MaxBodyBytes bounds request bodies (default 10 MiB).
	MaxBodyBytes int64
	// CORSOrigins allowed for browser clients ("*" for any); empty: no CORS.
	CORSOrigins []string
	// Ready reports whether the server can serve (store reachable).
	Ready func(ctx context.Context) error
	// Metrics serves /metrics when set.
	Metrics http.Handler
	// Admin serves /admin/ when set (NewAdmin; it does its own auth). It
	// gets the request id, recovery and log line of every endpoint.
	Admin http.Handler
	// TracerProvider, when set, makes a server span per API request (see
	// tracing.go); nil: tracing off, at the cost of a nil check.
	TracerProvider trace.TracerProvider
	// Propagator reads the client's trace context (W3C traceparent) when
	// tracing is on; nil: propagation.TraceContext.
	Propagator propagation.TextMapPropagator
	// LogBodies logs request and response bodies at debug level (log.bodies).
	// They hold prompts and answers: off unless asked for.
	LogBodies bool
	// TokenCounter counts input tokens locally (count_tokens fallback).
	CountTokens func(*llm.Request) int64
	// Idempotency handles the Idempotency-Key header of the model
	// endpoints (idempotency.go); without a Store the header is ignored.
	Idempotency IdempotencyOptions
	// WriteTimeout bounds each write to a client (default 60s), so a stuck
	// client cannot hold an upstream stream open forever.
	WriteTimeout time.Duration
	Now          func() time.Time
}

// Limiter enforces per-key rate limits and token quotas.
type Limiter interface {
	// Admit admits a request for a key. It returns a *llm.Error (429) to
	// refuse; the headers go on the response either way.
	Admit(ctx context.Context, key *Key, model string) (http.Header, error)
	// Budget meters the request's tokens against the key's quotas while it
	// streams; nil when the key has none.
	Budget(key *Key) gateway.Budget
}

// Server is the gateway's HTTP handler.
type Server struct {
	gw      *gateway.Gateway
	keys    *KeyCache
	limiter Limiter
	log     *slog.Logger
	maxBody int64
	cors    map[string]bool
	ready   func(ctx context.Context) error
	count   func(*llm.Request) int64
	wtime   time.Duration
	now     func() time.Time
	mux     *http.ServeMux
	bodies  bool
	idem    IdempotencyOptions

	tracer     trace.Tracer // nil: tracing off
	propagator propagation.TextMapPropagator
}

// New returns the server's handler.
func New(o Options) *Server {
	s := &Server{
		gw: o.Gateway, keys: o.Keys, limiter: o.Limiter, log: o.Logger,
		maxBody: o.MaxBodyBytes, ready: o.Ready, count: o.CountTokens,
		wtime: o.WriteTimeout, now: o.Now, mux: http.NewServeMux(), bodies: o.LogBodies,
		idem: o.Idempotency.withDefaults(),
	}
	if o.TracerProvider != nil {
		s.tracer = o.TracerProvider.Tracer(tracerName)
		s.propagator = o.Propagator
		if s.propagator == nil {
			s.propagator = propagation.TraceContext{}
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = 10 << 20
	}
	if s.wtime == 0 {
		s.wtime = 60 * time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	if len(o.CORSOrigins) > 0 {
		s.cors = make(map[string]bool)
		for _, origin := range o.CORSOrigins {
			s.cors[origin] = true
		}
	}

	s.route("POST /v1/chat/completions", chatDialect, s.serveModel(chatDialect))
	s.route("POST /v1/messages", messagesDialect, s.serveModel(messagesDialect))
	s.route("POST /v1/messages/count_tokens", messagesDialect, s.countTokens)
	s.route("POST /v1/responses", responsesDialect, s.serveModel(responsesDialect))
	s.route("POST /v1beta/models/{target...}", geminiErrors, s.gemini)
	s.route("GET /v1beta/models", geminiErrors, s.geminiModels)
	s.route("GET /v1beta/models/{model...}", geminiErrors, s.geminiModel)
	s.route("GET /v1/models", modelsDialect, s.models)
	s.route("GET /v1/models/{model...}", modelsDialect, s.model)
	s.mux.HandleFunc("GET /healthz", s.healthz)
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if o.Metrics != nil {
		s.mux.Handle("GET /metrics", o.Metrics)
	}
	if o.Admin != nil {
		s.mux.Handle("/admin/", s.chain(chatDialect, false, o.Admin))
	}
	s.mux.Handle("/", s.chain(chatDialect, false, http.HandlerFunc(s.notFound)))
	return s
}

// route registers an authenticated endpoint of a dialect.
func (s *Server) route(pattern string, d *dialect, h http.HandlerFunc) {
	s.mux.Handle(pattern, s.chain(d, true, h))
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mux.ServeHTTP(w, r)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if s.ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			writeJSON(w, map[string]any{"ready": false, "error": err.Error()})
			return
		}
	}
	writeJSON(w, map[string]any{"ready": true, "models": len(s.gw.Table().Models())})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	d := dialectFor(r.URL.Path)
	s.writeError(w, r, d, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusNotFound, Code: "not_found",
		Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
}
