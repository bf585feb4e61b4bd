package ingress

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/rickyjim626/xjp/internal/gateway"
)

// tracerName is the instrumentation scope of the ingress's spans.
const tracerName = "github.com/rickyjim626/xjp/internal/ingress"

// startSpan starts the server span of an API request, continuing the
// client's W3C trace (traceparent, tracestate) when it sent one. The
// gateway's attempt spans and the upstream HTTP spans become its children
// through the request's context. Only called when tracing is on.
func (s *Server) startSpan(r *http.Request, id string) (*http.Request, trace.Span) {
	ctx := s.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	name := r.Pattern // "POST /v1/chat/completions": low cardinality
	if name == "" {
		name = r.Method
	}
	ctx, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("xjp.request_id", id),
		))
	return r.WithContext(ctx), span
}

// endSpan ends a request's span with what the request log line knows:
// the model asked for, the provider that answered, tokens and the status.
func endSpan(span trace.Span, rec *recorder, status int) {
	attrs := []attribute.KeyValue{attribute.Int("http.response.status_code", status)}
	if rec.model != "" {
		attrs = append(attrs, gateway.AttrModel.String(rec.model))
	}
	if rec.provider != "" {
		attrs = append(attrs, gateway.AttrProvider.String(rec.provider), gateway.AttrRoute.String(rec.route))
	}
	if u := rec.usage; !u.IsZero() {
		attrs = append(attrs, gateway.AttrInputTokens.Int64(u.PromptTokens()), gateway.AttrOutputTokens.Int64(u.OutputTokens))
	}
	if rec.errKind != "" {
		attrs = append(attrs, gateway.AttrErrorKind.String(string(rec.errKind)))
	}
	span.SetAttributes(attrs...)
	if status >= 500 {
		span.SetStatus(codes.Error, string(rec.errKind))
	}
	span.End()
}
