package gateway

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Span attribute keys shared by the gateway's and the ingress's spans. They
// follow the OpenTelemetry GenAI conventions where one exists; the rest are
// xjp's own.
const (
	AttrModel          = attribute.Key("gen_ai.request.model")       // the model asked for (request) or sent upstream (attempt)
	AttrProvider       = attribute.Key("gen_ai.provider.name")       // the provider's configured name
	AttrInputTokens    = attribute.Key("gen_ai.usage.input_tokens")  // all input, cached included
	AttrOutputTokens   = attribute.Key("gen_ai.usage.output_tokens") // output, reasoning included
	AttrRoute          = attribute.Key("xjp.route")                  // "provider/upstream_model"
	AttrAttempt        = attribute.Key("xjp.attempt")                // 1 for a request's first attempt
	AttrErrorKind      = attribute.Key("error.type")                 // the llm.Kind of a failure
	AttrUpstreamModel  = attribute.Key("xjp.upstream_model")         // the model id sent upstream
	AttrUpstreamStatus = attribute.Key("xjp.upstream_status")        // the upstream's HTTP status of a failure
)

// tracerName is the instrumentation scope of the gateway's spans.
const tracerName = "github.com/rickyjim626/xjp/internal/gateway"

// startAttempt starts the span of attempt n on route r, a child of the
// request's span in ctx. The returned context carries it to the provider's
// HTTP client (whose otelhttp transport makes the upstream call its child
// and sends traceparent). Only called when tracing is on.
func (g *Gateway) startAttempt(ctx context.Context, r *Route, n int) (context.Context, trace.Span) {
	return g.tracer.Start(ctx, "xjp.attempt", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			AttrRoute.String(r.Name()),
			AttrProvider.String(r.Provider.Name()),
			AttrModel.String(r.Model),
			AttrAttempt.Int(n),
		))
}

// endAttempt ends an attempt's span with its outcome; u is the usage seen
// on a stream (nil for an attempt that failed before its first event). A
// nil span (tracing off) does nothing.
func endAttempt(span trace.Span, err error, u *llm.Usage) {
	if span == nil {
		return
	}
	if u != nil {
		span.SetAttributes(AttrInputTokens.Int64(u.PromptTokens()), AttrOutputTokens.Int64(u.OutputTokens))
	}
	if err != nil {
		e := llm.AsError(err)
		span.SetAttributes(AttrErrorKind.String(string(e.Kind)))
		if e.UpstreamStatus != 0 {
			span.SetAttributes(AttrUpstreamStatus.Int(e.UpstreamStatus))
		}
		if e.Kind != llm.KindCallerCanceled {
			// The kind, not the message: upstream messages may echo what
			// was sent to them, and spans leave the process.
			span.SetStatus(codes.Error, string(e.Kind))
		}
	}
	span.End()
}
