package ingress

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/rickyjim626/xjp/internal/demo"
	"github.com/rickyjim626/xjp/internal/gateway"
)

// benchServer is the ingress and gateway over the demo provider (no
// delay), with the given tracer provider (nil: tracing off).
func benchServer(tp trace.TracerProvider) http.Handler {
	d := demo.New(demo.Options{Name: "demo"})
	m := &gateway.Model{Name: "demo", Routes: []*gateway.Route{{Provider: d, Model: "demo", MaxRetries: -1}}}
	gw := gateway.New(gateway.Options{Table: gateway.NewTable([]*gateway.Model{m}, map[string]gateway.Provider{"demo": d}), TracerProvider: tp})
	keys := NewKeyCache(KeyCacheOptions{Lookup: func(context.Context, string) (*Key, error) {
		return &Key{ID: "k", Name: "bench", Allows: func(string) bool { return true }, Enabled: true}, nil
	}})
	return New(Options{Gateway: gw, Keys: keys, TracerProvider: tp})
}

// The cost of tracing per request: off (no provider: a nil check), and on
// with the SDK sampling every request into an exporter that drops spans.
//
//	go test ./internal/ingress -run '^$' -bench Tracing -benchmem
func BenchmarkTracing(b *testing.B) {
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	for _, bc := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"off", nil}, {"sdk", sdk}} {
		b.Run(bc.name, func(b *testing.B) {
			h := benchServer(bc.tp)
			body := `{"model":"demo","messages":[{"role":"user","content":"hi"}]}`
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer xjp_bench")
				req.Header.Set("Traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code, w.Body.String())
				}
			}
		})
	}
}

// With tracing off the server holds no tracer: the request path only
// checks for nil.
func TestTracingOffHasNoTracer(t *testing.T) {
	s := New(Options{Gateway: gateway.New(gateway.Options{})})
	if s.tracer != nil || s.propagator != nil {
		t.Error("tracing is on without a tracer provider")
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != 200 {
		t.Error(rec.Code)
	}
}
