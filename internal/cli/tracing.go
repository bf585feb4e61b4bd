//go:build !nootel

package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// tracing is the OpenTelemetry setup of a server: a tracer provider passed
// to the ingress and the gateway (never installed as the global one), the
// W3C propagator, and the upstream HTTP transport wrapper. A nil *tracing
// is tracing off: no exporter, no spans, a nil check per request.
type tracing struct {
	tp       trace.TracerProvider
	prop     propagation.TextMapPropagator
	shutdown func(context.Context) error
}

// setupTracing switches tracing on when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set and OTEL_SDK_DISABLED is not
// "true": spans go to that OTLP/HTTP endpoint in batches. The exporter
// reads the other OTEL_EXPORTER_OTLP_* variables (headers, timeout,
// compression) itself, the SDK reads OTEL_TRACES_SAMPLER, and
// OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES name the service (default
// "xjp"). Otherwise it returns nil.
//
// Binaries built with -tags nootel leave the SDK and exporter out (about
// 15 MiB; see tracing_nootel.go).
func setupTracing(ctx context.Context, getenv func(string) string, _ *slog.Logger) (*tracing, error) {
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return nil, nil
	}
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return nil, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: the OTLP exporter: %w", err)
	}
	// No semconv import: its schema URL must match the SDK's (see
	// DEPENDENCIES.md), and plain keys need none.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "xjp"), attribute.String("service.version", Version)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("tracing: the resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return newTracing(tp, tp.Shutdown), nil
}

// newTracing wraps a tracer provider (tests pass one over an in-memory
// exporter).
func newTracing(tp trace.TracerProvider, shutdown func(context.Context) error) *tracing {
	return &tracing{
		tp:       tp,
		prop:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown: shutdown,
	}
}

// transport wraps an upstream transport so that each upstream HTTP call is
// a client span, child of the attempt's span, and carries traceparent. Nil
// tracing leaves it as it is.
func (t *tracing) transport(rt http.RoundTripper) http.RoundTripper {
	if t == nil {
		return rt
	}
	return otelhttp.NewTransport(rt,
		otelhttp.WithTracerProvider(t.tp),
		otelhttp.WithPropagators(t.prop),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()), // metrics are Prometheus'
	)
}

// tracerProvider and propagator are nil when tracing is off.
func (t *tracing) tracerProvider() trace.TracerProvider {
	if t == nil {
		return nil
	}
	return t.tp
}

func (t *tracing) propagator() propagation.TextMapPropagator {
	if t == nil {
		return nil
	}
	return t.prop
}

// close flushes and stops the exporter.
func (t *tracing) close(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}
