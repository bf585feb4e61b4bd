package openai

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// The guard: Client satisfies gateway.Provider structurally.
var _ interface {
	Name() string
	Stream(context.Context, *llm.Call) (llm.Stream, error)
} = (*Client)(nil)

const testKey = "sk-test-secret-123"

func testCall() *llm.Call {
	return &llm.Call{
		Request: &llm.Request{Model: "fast", Stream: true, Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("hi")}}}},
		Model:   "openai/gpt-4o-mini",
		Headers: map[string]string{"X-Title": "call-title"},
	}
}

func sseHandler(t *testing.T, frames ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, f := range frames {
			io.WriteString(w, f)
			w.(http.Flusher).Flush()
		}
	}
}

func TestClientStream(t *testing.T) {
	var logs bytes.Buffer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/chat/completions" {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		for k, want := range map[string]string{
			"Authorization": "Bearer " + testKey, "Content-Type": "application/json", "Accept": "text/event-stream",
			"Http-Referer": "https://xjp.dev", "X-Title": "call-title",
		} {
			if got := r.Header.Get(k); got != want {
				t.Errorf("header %s = %q, want %q", k, got, want)
			}
		}
		body, _ := io.ReadAll(r.Body)
		if !bytes.Contains(body, []byte(`"model":"openai/gpt-4o-mini"`)) || !bytes.Contains(body, []byte(`"stream":true,"stream_options":{"include_usage":true}`)) {
			t.Errorf("body = %s", body)
		}
		sseHandler(t,
			": OPENROUTER PROCESSING\n\n",
			`data: {"id":"gen-1","model":"openai/gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}`+"\n\n",
			`data: {"id":"gen-1","model":"openai/gpt-4o-mini","choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7,"cost":0.0001}}`+"\n\n",
			"data: [DONE]\n\n")(w, r)
	}))
	defer srv.Close()
	c := NewClient(ClientOptions{Name: "openrouter", BaseURL: srv.URL + "/api/v1/", APIKey: testKey,
		Headers: map[string]string{"HTTP-Referer": "https://xjp.dev", "X-Title": "xjp"},
		Logger:  slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if c.Name() != "openrouter" {
		t.Errorf("Name = %q", c.Name())
	}
	s, err := c.Stream(context.Background(), testCall())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := llm.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "Hello" || resp.FinishReason != llm.FinishStop || resp.Usage.InputTokens != 5 || resp.Usage.CostUSD == nil {
		t.Errorf("response = %+v", resp)
	}
	if logs.Len() == 0 {
		t.Error("no debug log")
	}
	if strings.Contains(logs.String(), testKey) || strings.Contains(logs.String(), "Bearer") {
		t.Errorf("the API key reached the logs: %s", logs.String())
	}
}

func TestClientErrors(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		kind       llm.Kind
		wantStatus int
		msg        string
		retryAfter time.Duration
	}{
		{"400 keeps message", 400, nil, `{"error":{"message":"Invalid 'messages[0].content': string too long.","type":"invalid_request_error","param":"messages[0].content","code":"string_above_max_length"}}`,
			llm.KindCallerInvalid, 400, "string too long", 0},
		{"401", 401, nil, `{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}`,
			llm.KindProviderAuth, 502, "Incorrect API key provided", 0},
		{"429 retry-after", 429, map[string]string{"Retry-After": "7"}, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`,
			llm.KindProviderRateLimited, 429, "Rate limit reached", 7 * time.Second},
		{"500", 500, nil, `{"error":{"message":"The server had an error","type":"server_error"}}`, llm.KindProviderServer, 502, "The server had an error", 0},
		{"503 plain text", 503, map[string]string{"Content-Type": "text/plain"}, "upstream connect error\n", llm.KindProviderOverloaded, 503, "upstream connect error", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := NewClient(ClientOptions{Name: "up", BaseURL: srv.URL + "/v1", APIKey: testKey})
			s, err := c.Stream(context.Background(), testCall())
			if s != nil {
				t.Error("stream returned with an error")
			}
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v", err)
			}
			if e.Kind != tt.kind || e.Status != tt.wantStatus || e.UpstreamStatus != tt.status || e.Provider != "up" ||
				!strings.Contains(e.Message, tt.msg) || e.RetryAfter != tt.retryAfter {
				t.Errorf("err = %+v", e)
			}
			if strings.Contains(string(EncodeError(e)), testKey) {
				t.Error("key leaked into the error")
			}
		})
	}
}

func TestClientErrorBeforeFirstChunk(t *testing.T) {
	srv := httptest.NewServer(sseHandler(t, ": OPENROUTER PROCESSING\n\n",
		`data: {"error":{"code":429,"message":"Provider returned error","metadata":{"error_type":"rate_limit_exceeded"}},"choices":[{"delta":{"content":""},"finish_reason":"error"}]}`+"\n\n"))
	defer srv.Close()
	_, err := NewClient(ClientOptions{Name: "or", BaseURL: srv.URL}).Stream(context.Background(), testCall())
	if e := llm.AsError(err); e == nil || e.Kind != llm.KindProviderRateLimited || !e.Kind.Retryable() {
		t.Fatalf("err = %v", err)
	}

	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer srv2.Close()
	_, err = NewClient(ClientOptions{Name: "clewdr", BaseURL: srv2.URL}).Stream(context.Background(), testCall())
	if e := llm.AsError(err); e == nil || e.Kind != llm.KindProviderServer {
		t.Fatalf("204: err = %v", err)
	}
}

func TestClientJSONAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"id":"chatcmpl-9","object":"chat.completion","model":"llama3","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!","tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`)
	}))
	defer srv.Close()
	s, err := NewClient(ClientOptions{Name: "ollama", BaseURL: srv.URL + "/v1"}).Stream(context.Background(), testCall())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := llm.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "Hi!" || len(resp.ToolCalls()) != 1 || resp.ToolCalls()[0].Arguments != `{"a":1}` ||
		resp.FinishReason != llm.FinishToolCalls || resp.Usage.OutputTokens != 4 {
		t.Errorf("response = %+v", resp)
	}
}

func TestClientTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := NewClient(ClientOptions{Name: "down", BaseURL: url}).Stream(context.Background(), testCall())
	if e := llm.AsError(err); e == nil || e.Kind != llm.KindProviderConnect || e.Provider != "down" {
		t.Fatalf("err = %v", err)
	}
}

// hangingServer sends one chunk, then waits for the request to be
// cancelled and reports it on the returned channel.
func hangingServer(t *testing.T) (*httptest.Server, chan struct{}) {
	canceled := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"id":"x","model":"m","choices":[{"index":0,"delta":{"content":"first"}}]}`+"\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(canceled)
		case <-time.After(5 * time.Second):
			t.Error("the upstream request was never cancelled")
		}
	}))
	return srv, canceled
}

func TestClientCancelAbortsUpstream(t *testing.T) {
	srv, canceled := hangingServer(t)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := NewClient(ClientOptions{Name: "up", BaseURL: srv.URL}).Stream(ctx, testCall())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 3; i++ { // start, block start, text
		if !s.Next() {
			t.Fatalf("Next %d: %v", i, s.Err())
		}
	}
	done := make(chan struct{})
	go func() {
		for s.Next() {
		}
		close(done)
	}()
	cancel()
	select {
	case <-canceled:
	case <-time.After(3 * time.Second):
		t.Fatal("server did not see the cancellation")
	}
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("Next did not return after cancel")
	}
	if e := llm.AsError(s.Err()); e == nil || e.Kind != llm.KindCallerCanceled {
		t.Errorf("Err = %v, want caller_canceled", s.Err())
	}
}

func TestClientCloseDuringNext(t *testing.T) {
	srv, canceled := hangingServer(t)
	defer srv.Close()
	s, err := NewClient(ClientOptions{Name: "up", BaseURL: srv.URL}).Stream(context.Background(), testCall())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		s.Next()
	}
	done := make(chan bool)
	go func() { done <- s.Next() }()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	select {
	case ok := <-done:
		if ok {
			t.Error("Next returned an event after Close")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Close did not abort Next")
	}
	select {
	case <-canceled:
	case <-time.After(3 * time.Second):
		t.Fatal("server did not see the abort")
	}
	if err := s.Err(); err != nil {
		t.Errorf("Err after Close = %v", err)
	}
}

func TestClientEncodeRefusal(t *testing.T) {
	c := NewClient(ClientOptions{Name: "up", BaseURL: "http://127.0.0.1:1"})
	call := testCall()
	call.Request.Messages[0].Content = append(call.Request.Messages[0].Content,
		llm.Part{Type: llm.PartNative, Dialect: llm.DialectAnthropic, Native: []byte(`{"type":"search_result"}`)})
	_, err := c.Stream(context.Background(), call)
	if e := llm.AsError(err); e == nil || e.Kind != llm.KindCallerInvalid || e.Status != 400 {
		t.Fatalf("err = %v", err)
	}
}
