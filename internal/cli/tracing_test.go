//go:build !nootel

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// A traced request through the real server: the client's traceparent is
// continued by the request span, the attempt span is its child, the
// upstream HTTP call (otelhttp) the attempt's child, and the upstream
// receives that call's traceparent.
func TestTracingSpanTree(t *testing.T) {
	var mu sync.Mutex
	var upstreamTP string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		upstreamTP = r.Header.Get("Traceparent")
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := func(s string) { fmt.Fprintf(w, "data: %s\n\n", s); w.(http.Flusher).Flush() }
		chunk(`{"id":"c1","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"finish_reason":null}]}`)
		chunk(`{"id":"c1","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`)
		chunk(`{"id":"c1","object":"chat.completion.chunk","model":"gpt-x","choices":[],"usage":{"prompt_tokens":11,"completion_tokens":2,"total_tokens":13}}`)
		chunk(`[DONE]`)
	}))
	defer up.Close()

	sr := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sr))
	toml := demoConfig + `
[providers.up]
kind = "openai"
base_url = "` + up.URL + `/v1"
[[models]]
name = "m"
[[models.routes]]
provider = "up"
model = "gpt-x"
`
	s := startObs(t, obsOptions{toml: toml, tracing: newTracing(tp, tp.Shutdown)})

	const traceID, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Traceparent", "00-"+traceID+"-"+clientSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	obsWait(t, 5*time.Second, "three spans", func() bool { return len(sr.Ended()) >= 3 })

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range sr.Ended() {
		byName[sp.Name()] = sp
	}
	server, attempt := byName["POST /v1/chat/completions"], byName["xjp.attempt"]
	var client sdktrace.ReadOnlySpan
	for _, sp := range sr.Ended() {
		if sp.SpanKind() == trace.SpanKindClient {
			client = sp
		}
	}
	if server == nil || attempt == nil || client == nil {
		t.Fatalf("spans: %v", names(sr.Ended()))
	}
	if server.SpanContext().TraceID().String() != traceID || server.Parent().SpanID().String() != clientSpan || !server.Parent().IsRemote() {
		t.Errorf("the request span does not continue the client's trace: trace %s parent %s", server.SpanContext().TraceID(), server.Parent().SpanID())
	}
	if server.SpanKind() != trace.SpanKindServer {
		t.Errorf("request span kind %v", server.SpanKind())
	}
	if attempt.Parent().SpanID() != server.SpanContext().SpanID() {
		t.Error("the attempt span is not the request span's child")
	}
	if client.Parent().SpanID() != attempt.SpanContext().SpanID() {
		t.Error("the upstream call span is not the attempt span's child")
	}
	mu.Lock()
	wantTP := "00-" + traceID + "-" + client.SpanContext().SpanID().String() + "-01"
	if upstreamTP != wantTP {
		t.Errorf("upstream traceparent %q, want %q", upstreamTP, wantTP)
	}
	mu.Unlock()

	checkAttrs(t, "request", server.Attributes(), map[string]any{
		"gen_ai.request.model": "m", "gen_ai.provider.name": "up", "xjp.route": "up/gpt-x",
		"gen_ai.usage.input_tokens": int64(11), "gen_ai.usage.output_tokens": int64(2), "http.response.status_code": int64(200),
	})
	checkAttrs(t, "attempt", attempt.Attributes(), map[string]any{
		"gen_ai.request.model": "gpt-x", "gen_ai.provider.name": "up", "xjp.attempt": int64(1),
		"gen_ai.usage.input_tokens": int64(11), "gen_ai.usage.output_tokens": int64(2),
	})
	if a := attrs(client.Attributes()); a["http.response.status_code"] != int64(200) {
		t.Errorf("upstream span attributes: %v", a)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func attrs(kvs []attribute.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

func checkAttrs(t *testing.T, what string, kvs []attribute.KeyValue, want map[string]any) {
	t.Helper()
	got := attrs(kvs)
	for k, v := range want {
		if got[k] != v {
			b, _ := json.Marshal(got)
			t.Errorf("%s span: %s = %v, want %v (all: %s)", what, k, got[k], v, b)
		}
	}
}

// Tracing stays off without OTEL_EXPORTER_OTLP_ENDPOINT, and is set up
// (not connected: exports are batched) with it.
func TestSetupTracing(t *testing.T) {
	ctx := context.Background()
	tr, err := setupTracing(ctx, func(string) string { return "" }, nil)
	if err != nil || tr != nil {
		t.Fatalf("no endpoint: %v %v", tr, err)
	}
	if tr.tracerProvider() != nil || tr.propagator() != nil || tr.close(ctx) != nil {
		t.Error("nil tracing is not off")
	}
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_SDK_DISABLED": "true"}
	if tr, _ := setupTracing(ctx, func(k string) string { return env[k] }, nil); tr != nil {
		t.Error("OTEL_SDK_DISABLED=true left tracing on")
	}
	delete(env, "OTEL_SDK_DISABLED")
	tr, err = setupTracing(ctx, func(k string) string { return env[k] }, nil)
	if err != nil || tr == nil || tr.tracerProvider() == nil {
		t.Fatalf("with an endpoint: %v %v", tr, err)
	}
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	tr.close(sctx) // nothing to flush
}
