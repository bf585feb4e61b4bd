package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// recorded is what a fake upstream saw.
type recorded struct {
	mu     sync.Mutex
	path   string
	header http.Header
	body   []byte
}

func (r *recorded) set(req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.path, r.header, r.body = req.URL.Path, req.Header.Clone(), b
}

func (r *recorded) get() (string, http.Header, []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.path, r.header, r.body
}

func sseUpstream(t *testing.T, rec *recorded, fixture string) *httptest.Server {
	t.Helper()
	data := readTestdata(t, fixture)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.set(r)
		w.Header().Set("Content-Type", "text/event-stream")
		w.Write(data)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func userCall(dialect llm.Dialect, headers map[string]string) *llm.Call {
	req := &llm.Request{Stream: true,
		Model:       "alias",
		Messages:    []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("hi")}}},
		Temperature: ptr(0.5),
	}
	if dialect != "" {
		req.Native = &llm.Native{Dialect: dialect, Headers: headers}
	}
	return &llm.Call{Request: req, Model: "claude-sonnet-4-5", Headers: map[string]string{"X-Route": "r1"}}
}

func TestClientHeaders(t *testing.T) {
	clientHeaders := map[string]string{"Anthropic-Version": Version20261021, "Anthropic-Beta": "claude-code-20250219,interleaved-thinking-2025-05-14"}
	tests := []struct {
		name        string
		opts        ClientOptions
		call        *llm.Call
		path        string
		version     string
		beta        string
		apiKey      string
		auth        string
		temperature bool
	}{
		{"defaults", ClientOptions{APIKey: "sk-test"}, userCall("", nil),
			"/v1/messages", "2023-06-01", "", "sk-test", "", true},
		{"bearer and configured version", ClientOptions{APIKey: "sk-test", AuthHeader: "bearer", Version: Version20261021}, userCall(llm.DialectOpenAI, clientHeaders),
			"/v1/messages", Version20261021, "", "", "Bearer sk-test", false},
		{"client version and beta", ClientOptions{APIKey: "sk-test"}, userCall(llm.DialectAnthropic, clientHeaders),
			"/v1/messages", Version20261021, "claude-code-20250219,interleaved-thinking-2025-05-14", "sk-test", "", false},
		{"anthropic client without headers", ClientOptions{APIKey: "k", Version: "2023-06-01"}, userCall(llm.DialectAnthropic, nil),
			"/v1/messages", "2023-06-01", "", "k", "", true},
		{"clewdr code prefix", ClientOptions{APIKey: "pw", AuthHeader: "bearer", BaseURL: "/code/v1/"}, userCall("", nil),
			"/code/v1/messages", "2023-06-01", "", "", "Bearer pw", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec recorded
			srv := sseUpstream(t, &rec, "stream/text.sse")
			o := tt.opts
			o.BaseURL = srv.URL + o.BaseURL
			o.Name = "up"
			o.Headers = map[string]string{"X-Provider": "p"}
			c := NewClient(o)
			s, err := c.Stream(context.Background(), tt.call)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := llm.Collect(s)
			if err != nil || resp.Text() == "" {
				t.Fatalf("collect: %v %+v", err, resp)
			}
			path, h, body := rec.get()
			if path != tt.path {
				t.Errorf("path = %s, want %s", path, tt.path)
			}
			if got := h.Get("Anthropic-Version"); got != tt.version {
				t.Errorf("anthropic-version = %q, want %q", got, tt.version)
			}
			if got := h.Get("Anthropic-Beta"); got != tt.beta {
				t.Errorf("anthropic-beta = %q, want %q", got, tt.beta)
			}
			if got := h.Get("X-Api-Key"); got != tt.apiKey {
				t.Errorf("x-api-key = %q, want %q", got, tt.apiKey)
			}
			if got := h.Get("Authorization"); got != tt.auth {
				t.Errorf("authorization = %q, want %q", got, tt.auth)
			}
			if h.Get("X-Provider") != "p" || h.Get("X-Route") != "r1" || h.Get("Content-Type") != "application/json" {
				t.Errorf("headers = %v", h)
			}
			if got := strings.Contains(string(body), `"temperature"`); got != tt.temperature {
				t.Errorf("temperature sent = %v, want %v: %s", got, tt.temperature, body)
			}
			if !strings.Contains(string(body), `"model":"claude-sonnet-4-5"`) || !strings.Contains(string(body), `"stream":true`) {
				t.Errorf("body = %s", body)
			}
		})
	}
}

func TestClientStatusMapping(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		kind       llm.Kind
		clientSees int
		typ        string
		message    string
		retryAfter time.Duration
	}{
		{"400 keeps message", 400, nil, `{"type":"error","error":{"type":"invalid_request_error","message":"messages.0: roles must alternate"}}`,
			llm.KindCallerInvalid, 400, "invalid_request_error", "messages.0: roles must alternate", 0},
		{"401", 401, nil, `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`,
			llm.KindProviderAuth, 502, "authentication_error", "invalid x-api-key", 0},
		{"413", 413, nil, `{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum size"}}`,
			llm.KindCallerInvalid, 413, "request_too_large", "maximum size", 0},
		{"429 retry-after", 429, map[string]string{"Retry-After": "7"}, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}`,
			llm.KindProviderRateLimited, 429, "rate_limit_error", "per-minute rate limit", 7 * time.Second},
		{"500", 500, nil, `{"type":"error","error":{"type":"api_error","message":"Internal server error"}}`,
			llm.KindProviderServer, 502, "api_error", "Internal server error", 0},
		{"529", 529, nil, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
			llm.KindProviderOverloaded, 503, "overloaded_error", "Overloaded", 0},
		{"500 overloaded", 500, nil, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
			llm.KindProviderOverloaded, 503, "overloaded_error", "Overloaded", 0},
		{"502 html", 502, nil, `<html>Bad Gateway</html>`,
			llm.KindProviderServer, 502, "", "<html>Bad Gateway</html>", 0},
		{"clewdr 204", 204, nil, ``,
			llm.KindProviderServer, 502, "", "no content", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			c := NewClient(ClientOptions{Name: "up", BaseURL: srv.URL, APIKey: "k"})
			_, err := c.Stream(context.Background(), userCall("", nil))
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v", err)
			}
			if e.Kind != tt.kind || e.Status != tt.clientSees || e.UpstreamType != tt.typ || e.UpstreamStatus != tt.status || e.Provider != "up" {
				t.Errorf("err = %#v", e)
			}
			if !strings.Contains(e.Message, tt.message) {
				t.Errorf("message = %q, want %q", e.Message, tt.message)
			}
			if e.RetryAfter != tt.retryAfter {
				t.Errorf("retry after = %v, want %v", e.RetryAfter, tt.retryAfter)
			}
			if tt.status == 204 && !e.Kind.Retryable() {
				t.Error("204 not retryable")
			}
		})
	}
}

func TestClientStreamFailsBeforeFirstEvent(t *testing.T) {
	for name, body := range map[string]string{
		"error first": "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
		"empty":       "",
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, body)
			}))
			defer srv.Close()
			s, err := NewClient(ClientOptions{BaseURL: srv.URL}).Stream(context.Background(), userCall("", nil))
			var e *llm.Error
			if s != nil || !errors.As(err, &e) || !e.Kind.Retryable() {
				t.Errorf("stream %v err %#v", s, err)
			}
		})
	}
}

func TestClientJSONAnswer(t *testing.T) {
	data := readTestdata(t, "response/upstream.json")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(data)
	}))
	defer srv.Close()
	s, err := NewClient(ClientOptions{BaseURL: srv.URL}).Stream(context.Background(), userCall("", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := llm.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.ToolCalls()) != 1 || resp.FinishReason != llm.FinishToolCalls || resp.Usage.CacheReadTokens != 1500 {
		t.Errorf("resp = %+v", resp)
	}
}

func TestClientTransportError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := NewClient(ClientOptions{BaseURL: url}).Stream(context.Background(), userCall("", nil))
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindProviderConnect {
		t.Errorf("err = %#v", err)
	}
}

func TestClientCountTokens(t *testing.T) {
	var rec recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.set(r)
		switch r.URL.Path {
		case "/v1/messages/count_tokens":
			io.WriteString(w, `{"input_tokens":2095}`)
		case "/nocount/v1/messages/count_tokens":
			w.WriteHeader(404)
			io.WriteString(w, `{"type":"error","error":{"type":"not_found_error","message":"Not found"}}`)
		case "/noallow/v1/messages/count_tokens":
			w.WriteHeader(405)
		default:
			w.WriteHeader(500)
		}
	}))
	defer srv.Close()

	call := userCall(llm.DialectAnthropic, map[string]string{"Anthropic-Beta": "token-counting-2024-11-01"})
	n, err := NewClient(ClientOptions{BaseURL: srv.URL, APIKey: "k"}).CountTokens(context.Background(), call)
	if err != nil || n != 2095 {
		t.Fatalf("count = %d, %v", n, err)
	}
	path, h, body := rec.get()
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if path != "/v1/messages/count_tokens" || h.Get("Anthropic-Beta") != "token-counting-2024-11-01" || h.Get("X-Api-Key") != "k" {
		t.Errorf("path %s headers %v", path, h)
	}
	for _, k := range []string{"max_tokens", "stream", "temperature"} {
		if _, ok := v[k]; ok {
			t.Errorf("count_tokens body has %s: %s", k, body)
		}
	}

	for _, prefix := range []string{"/nocount", "/noallow"} {
		_, err = NewClient(ClientOptions{BaseURL: srv.URL + prefix}).CountTokens(context.Background(), call)
		var e *llm.Error
		if !errors.As(err, &e) || e.Code != "count_tokens_unsupported" || e.Kind.UpstreamFault() {
			t.Errorf("%s: err = %#v", prefix, err)
		}
	}
}

func TestClientCancelAbortsUpstream(t *testing.T) {
	aborted := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(aborted)
		case <-time.After(5 * time.Second):
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	s, err := NewClient(ClientOptions{BaseURL: srv.URL}).Stream(ctx, userCall("", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Next() {
		t.Fatalf("no first event: %v", s.Err())
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		cancel()
	}()
	if s.Next() {
		t.Error("event after cancel")
	}
	if e := llm.AsError(s.Err()); e == nil || e.Kind != llm.KindCallerCanceled {
		t.Errorf("err = %#v", s.Err())
	}
	select {
	case <-aborted:
	case <-time.After(3 * time.Second):
		t.Error("upstream request not aborted")
	}
}

func TestClientCloseDuringNext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)

	s, err := NewClient(ClientOptions{BaseURL: srv.URL}).Stream(context.Background(), userCall("", nil))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Next() || s.Event().Type != llm.EventStart {
		t.Fatalf("first event: %v", s.Err())
	}
	done := make(chan bool)
	go func() { done <- s.Next() }()
	time.Sleep(50 * time.Millisecond)
	s.Close()
	select {
	case more := <-done:
		if more {
			t.Error("event after Close")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Next blocked after Close")
	}
}
