package gateway

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/rickyjim626/xjp/internal/llm"
)

// A request that started before a reload finishes on the routing table it
// started with; the next one uses the new table.
func TestInflightKeepsItsTable(t *testing.T) {
	u := llm.Usage{InputTokens: 1, OutputTokens: 1}
	old := &fake{name: "old", script: []step{{delay: 100 * time.Millisecond, evs: okEvents("from old", u)}}}
	g, sink := newTestGateway(t, &Route{Provider: old, Model: "old-model"})

	done := make(chan llm.UsageRecord)
	go func() {
		_, rec, _ := run(t, g, context.Background())
		done <- rec
	}()
	for old.calls.Load() == 0 { // the request is in its attempt
		time.Sleep(time.Millisecond)
	}
	newer := &fake{name: "new", script: []step{{evs: okEvents("from new", u)}}}
	m := &Model{Name: "m", Routes: []*Route{{Provider: newer, Model: "new-model", MaxRetries: -1}}}
	g.SetTable(NewTable([]*Model{m}, map[string]Provider{"new": newer}))

	rec := <-done
	if rec.Provider != "old" || rec.UpstreamModel != "old-model" || rec.Status != 200 {
		t.Errorf("in-flight request: %s/%s status %d, want old/old-model 200", rec.Provider, rec.UpstreamModel, rec.Status)
	}
	resp, rec, err := run(t, g, context.Background())
	if err != nil || resp.Content[0].Text != "from new" || rec.Provider != "new" {
		t.Errorf("after the reload: %v, %+v", err, rec)
	}
	if len(sink.recs) != 2 {
		t.Errorf("usage records = %d, want 2", len(sink.recs))
	}
}

// With a tracer provider, each attempt is a span, child of the caller's
// span, with route, provider, model, attempt number, tokens and the error.
func TestAttemptSpans(t *testing.T) {
	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	u := llm.Usage{InputTokens: 7, OutputTokens: 3}
	p := &fake{name: "p", script: []step{{err: upstreamErr(503)}, {evs: okEvents("ok", u)}}}
	g, _ := newTestGateway(t, &Route{Provider: p, Model: "up"})
	g.tracer = tp.Tracer(tracerName) // what Options.TracerProvider does

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	if _, _, err := run(t, g, ctx); err != nil {
		t.Fatal(err)
	}
	parent.End()

	spans := sr.Ended()
	if len(spans) != 3 {
		t.Fatalf("spans = %d, want 2 attempts and the parent", len(spans))
	}
	for i, s := range spans[:2] {
		if s.Name() != "xjp.attempt" || s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %d: %s, parent %v", i, s.Name(), s.Parent().SpanID())
		}
		attrs := attrMap(s.Attributes())
		if attrs["xjp.route"] != "p/up" || attrs["gen_ai.provider.name"] != "p" || attrs["gen_ai.request.model"] != "up" || attrs["xjp.attempt"] != int64(i+1) {
			t.Errorf("span %d attributes: %v", i, attrs)
		}
	}
	if a := attrMap(spans[0].Attributes()); spans[0].Status().Code != codes.Error || a["error.type"] != "provider_overloaded" || a["xjp.upstream_status"] != int64(503) {
		t.Errorf("failed attempt: status %v, attributes %v", spans[0].Status(), a)
	}
	if a := attrMap(spans[1].Attributes()); spans[1].Status().Code == codes.Error || a["gen_ai.usage.input_tokens"] != int64(7) || a["gen_ai.usage.output_tokens"] != int64(3) {
		t.Errorf("good attempt: status %v, attributes %v", spans[1].Status(), a)
	}
}

func attrMap(kvs []attribute.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}
