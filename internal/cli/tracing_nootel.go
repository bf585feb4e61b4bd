//go:build nootel

package cli

import (
	"context"
	"log/slog"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracing is always nil in a binary built with -tags nootel: it has no
// OpenTelemetry SDK or exporter (about 15 MiB less).
type tracing struct{}

// setupTracing warns when tracing is asked for, and leaves it off.
func setupTracing(_ context.Context, getenv func(string) string, log *slog.Logger) (*tracing, error) {
	if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != "" {
		log.Warn("OTEL_EXPORTER_OTLP_ENDPOINT is set, but this xjp was built without tracing (-tags nootel): no spans are exported")
	}
	return nil, nil
}

func (t *tracing) transport(rt http.RoundTripper) http.RoundTripper { return rt }

func (t *tracing) tracerProvider() trace.TracerProvider { return nil }

func (t *tracing) propagator() propagation.TextMapPropagator { return nil }

func (t *tracing) close(context.Context) error { return nil }
