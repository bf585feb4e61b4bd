package vertex

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/rickyjim626/xjp/internal/llm"
)

// fakeVertex records requests and answers with a fixture stream.
type fakeVertex struct {
	mu   sync.Mutex
	reqs []recorded
	// answer writes the response; nil streams testdata/stream/text.sse.
	answer func(w http.ResponseWriter, r *http.Request)
}

type recorded struct {
	Method, Path, Query string
	Header              http.Header
	Body                []byte
}

func (f *fakeVertex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	f.mu.Unlock()
	if f.answer != nil {
		f.answer(w, r)
		return
	}
	raw, _ := os.ReadFile("testdata/stream/text.sse")
	w.Header().Set("Content-Type", "text/event-stream")
	_, _ = w.Write(raw)
}

func (f *fakeVertex) last(t *testing.T) recorded {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("no upstream request")
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeVertex) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func userCall(model string, parts ...llm.Part) *llm.Call {
	if len(parts) == 0 {
		parts = []llm.Part{text("Hello")}
	}
	return &llm.Call{Model: model, Request: &llm.Request{Stream: true, Messages: []llm.Message{{Role: llm.RoleUser, Content: parts}}}}
}

func staticToken(tok string) oauth2.TokenSource {
	return oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)})
}

func newTestClient(t *testing.T, o ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(context.Background(), o)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c
}

func TestClientEndpoints(t *testing.T) {
	f := &fakeVertex{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	cases := []struct {
		name   string
		opts   ClientOptions
		model  string
		path   string
		header string // auth header name
		value  string
	}{
		{"regional", ClientOptions{Project: "proj", Region: "europe-west4", TokenSource: staticToken("tok-1")},
			"gemini-2.5-pro", "/v1/projects/proj/locations/europe-west4/publishers/google/models/gemini-2.5-pro:streamGenerateContent", "Authorization", "Bearer tok-1"},
		{"default region", ClientOptions{Project: "proj", TokenSource: staticToken("tok-1")},
			"publishers/google/models/gemini-2.5-flash", "/v1/projects/proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent", "Authorization", "Bearer tok-1"},
		{"global", ClientOptions{Project: "proj", Region: "global", TokenSource: staticToken("tok-2")},
			"gemini-3-pro-preview", "/v1/projects/proj/locations/global/publishers/google/models/gemini-3-pro-preview:streamGenerateContent", "Authorization", "Bearer tok-2"},
		{"express", ClientOptions{APIKey: "vertex-key"},
			"gemini-2.5-flash", "/v1/publishers/google/models/gemini-2.5-flash:streamGenerateContent", "X-Goog-Api-Key", "vertex-key"},
		{"vertex key with project", ClientOptions{APIKey: "vertex-key", Project: "proj", Region: "us-east5"},
			"gemini-2.5-flash", "/v1/projects/proj/locations/us-east5/publishers/google/models/gemini-2.5-flash:streamGenerateContent", "X-Goog-Api-Key", "vertex-key"},
		{"ai studio", ClientOptions{API: "gemini", APIKey: "studio-key"},
			"models/gemini-2.5-flash", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "X-Goog-Api-Key", "studio-key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.BaseURL = srv.URL
			tc.opts.Name = "g"
			c := newTestClient(t, tc.opts)
			call := userCall(tc.model)
			call.Headers = map[string]string{"X-Extra": "1"}
			s, err := c.Stream(context.Background(), call)
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			resp, err := llm.Collect(s)
			if err != nil || resp.Text() != "Hello, world!" {
				t.Fatalf("Collect = %q, %v", resp.Text(), err)
			}
			r := f.last(t)
			if r.Method != http.MethodPost || r.Path != tc.path || r.Query != "alt=sse" {
				t.Errorf("request %s %s?%s, want POST %s?alt=sse", r.Method, r.Path, r.Query, tc.path)
			}
			if got := r.Header.Get(tc.header); got != tc.value {
				t.Errorf("%s = %q, want %q", tc.header, got, tc.value)
			}
			if tc.header == "X-Goog-Api-Key" && r.Header.Get("Authorization") != "" {
				t.Error("api key request also sent Authorization")
			}
			if r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Extra") != "1" {
				t.Errorf("headers = %v", r.Header)
			}
			var body GenerateContentRequest
			if err := json.Unmarshal(r.Body, &body); err != nil || len(body.Contents) != 1 {
				t.Errorf("body %s: %v", r.Body, err)
			}
		})
	}
}

func TestClientDefaultURLs(t *testing.T) {
	cases := []struct {
		opts ClientOptions
		want string
	}{
		{ClientOptions{Project: "p", Region: "asia-northeast1", TokenSource: staticToken("t")},
			"https://asia-northeast1-aiplatform.googleapis.com/v1/projects/p/locations/asia-northeast1/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"},
		{ClientOptions{Project: "p", Region: "global", TokenSource: staticToken("t")},
			"https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"},
		{ClientOptions{APIKey: "k"},
			"https://aiplatform.googleapis.com/v1/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"},
		{ClientOptions{API: "gemini", APIKey: "k"},
			"https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse"},
		{ClientOptions{BaseURL: "http://proxy.local:8080/google/", APIKey: "k"},
			"http://proxy.local:8080/google/v1/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"},
	}
	for _, tc := range cases {
		if got := newTestClient(t, tc.opts).URL("gemini-2.5-pro"); got != tc.want {
			t.Errorf("URL = %s\nwant  %s", got, tc.want)
		}
	}
	c := newTestClient(t, ClientOptions{Project: "p", Region: "us-central1", TokenSource: staticToken("t")})
	if got, want := c.URL("projects/p/locations/us-central1/endpoints/123"), "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/us-central1/endpoints/123:streamGenerateContent?alt=sse"; got != want {
		t.Errorf("endpoint URL = %s", got)
	}
}

func TestNewClientConfigErrors(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	cases := []struct {
		opts ClientOptions
		want []string
	}{
		{ClientOptions{Name: "vx", Project: "p"}, []string{"VERTEX_API_KEY", "credentials_file", "GOOGLE_APPLICATION_CREDENTIALS"}},
		{ClientOptions{Name: "vx", API: "gemini"}, []string{"api key"}},
		{ClientOptions{Name: "vx", API: "palm", APIKey: "k"}, []string{"api must be"}},
		{ClientOptions{Name: "vx", TokenSource: staticToken("t")}, []string{"VERTEX_PROJECT"}},
		{ClientOptions{Name: "vx", CredentialsFile: "/nonexistent/sa.json"}, []string{"credentials_file"}},
		{ClientOptions{Name: "vx", APIKey: "k", BaseURL: "not a url"}, []string{"base_url"}},
	}
	for _, tc := range cases {
		_, err := NewClient(context.Background(), tc.opts)
		if err == nil {
			t.Errorf("NewClient(%+v) succeeded", tc.opts)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}
}

func TestClientStatusMapping(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		body       string
		header     map[string]string
		kind       llm.Kind
		httpStatus int
		retry      time.Duration
		msg        string
	}{
		{"bad api key", 400, `{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com","metadata":{"service":"generativelanguage.googleapis.com"}}]}}`,
			nil, llm.KindProviderAuth, 502, 0, "API key not valid"},
		{"missing key", 403, `{"error":{"code":403,"message":"Method doesn't allow unregistered callers.","status":"PERMISSION_DENIED"}}`,
			nil, llm.KindProviderAuth, 502, 0, "unregistered callers"},
		{"rate limited", 429, `{"error":{"code":429,"message":"Resource exhausted. Please try again later.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"x"}]},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"17s"}]}}`,
			nil, llm.KindProviderRateLimited, 429, 17 * time.Second, "Resource exhausted"},
		{"rate limited header", 429, `[{"error":{"code":429,"message":"Quota exceeded","status":"RESOURCE_EXHAUSTED"}}]`,
			map[string]string{"Retry-After": "3"}, llm.KindProviderRateLimited, 429, 3 * time.Second, "Quota exceeded"},
		{"server", 500, `{"error":{"code":500,"message":"Internal error encountered.","status":"INTERNAL"}}`,
			nil, llm.KindProviderServer, 502, 0, "Internal error"},
		{"overloaded", 503, `{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`,
			nil, llm.KindProviderOverloaded, 503, 0, "overloaded"},
		{"deadline", 504, `{"error":{"code":504,"message":"Deadline exceeded","status":"DEADLINE_EXCEEDED"}}`,
			nil, llm.KindProviderTimeout, 504, 0, "Deadline"},
		{"invalid argument", 400, `{"error":{"code":400,"message":"Unable to submit request because it has an empty text parameter.","status":"INVALID_ARGUMENT"}}`,
			nil, llm.KindCallerInvalid, 400, 0, "empty text parameter"},
		{"not found", 404, `{"error":{"code":404,"message":"Publisher Model ` + "`x`" + ` was not found","status":"NOT_FOUND"}}`,
			nil, llm.KindCallerInvalid, 404, 0, "not found"},
		{"html", 502, `<html>bad gateway</html>`, nil, llm.KindProviderServer, 502, 0, "bad gateway"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeVertex{answer: func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}}
			srv := httptest.NewServer(f)
			defer srv.Close()
			c := newTestClient(t, ClientOptions{Name: "g", APIKey: "k", BaseURL: srv.URL})
			_, err := c.Stream(context.Background(), userCall("gemini-2.5-flash"))
			var le *llm.Error
			if !errors.As(err, &le) {
				t.Fatalf("err = %v", err)
			}
			if le.Kind != tc.kind || le.Status != tc.httpStatus || le.RetryAfter != tc.retry || le.UpstreamStatus != tc.status || le.Provider != "g" {
				t.Errorf("got kind=%s status=%d retry=%s upstream=%d provider=%q, want %s %d %s %d", le.Kind, le.Status, le.RetryAfter, le.UpstreamStatus, le.Provider, tc.kind, tc.httpStatus, tc.retry, tc.status)
			}
			if !strings.Contains(le.Message, tc.msg) {
				t.Errorf("message %q does not contain %q", le.Message, tc.msg)
			}
		})
	}
}

func TestClientEarlyStreamFailures(t *testing.T) {
	for _, tc := range []struct {
		file string
		kind llm.Kind
	}{
		{"prompt_blocked", llm.KindCallerInvalid},
		{"malformed_call", llm.KindProviderServer},
		{"truncated", ""}, // content arrives first: the failure comes from the stream
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw, _ := os.ReadFile("testdata/stream/" + tc.file + ".sse")
			srv := httptest.NewServer(&fakeVertex{answer: func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(raw) }})
			defer srv.Close()
			c := newTestClient(t, ClientOptions{APIKey: "k", BaseURL: srv.URL})
			s, err := c.Stream(context.Background(), userCall("gemini-2.5-flash"))
			if tc.kind != "" {
				if e := llm.AsError(err); e == nil || e.Kind != tc.kind {
					t.Fatalf("Stream err = %v, want %s", err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Stream: %v", err)
			}
			if _, err := llm.Collect(s); llm.AsError(err) == nil || llm.AsError(err).Kind != llm.KindProviderServer {
				t.Errorf("stream err = %v", err)
			}
		})
	}
}

// pngBytes is a 1×1 PNG.
var pngBytes, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

func TestClientMediaFetch(t *testing.T) {
	media := http.NewServeMux()
	media.HandleFunc("/cat", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream") // sniffed instead
		_, _ = w.Write(pngBytes)
	})
	media.HandleFunc("/big.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(make([]byte, 4096))
	})
	media.HandleFunc("/chunked.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		for range 8 { // no Content-Length: the cap applies while reading
			_, _ = w.Write(make([]byte, 512))
			w.(http.Flusher).Flush()
		}
	})
	media.HandleFunc("/missing.png", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	media.HandleFunc("/page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/zip")
		_, _ = w.Write([]byte("PK\x03\x04"))
	})
	mediaSrv := httptest.NewServer(media)
	defer mediaSrv.Close()
	f := &fakeVertex{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := newTestClient(t, ClientOptions{APIKey: "k", BaseURL: srv.URL, MaxMediaBytes: 1024, AllowPrivateMedia: true})

	original := userCall("gemini-2.5-flash", text("what is this?"),
		llm.Part{Type: llm.PartImage, Media: &llm.Media{URL: mediaSrv.URL + "/cat?sig=secret"}},
		llm.Part{Type: llm.PartFile, Media: &llm.Media{URL: "https://youtu.be/9hE5-98ZeCg"}})
	s, err := c.Stream(context.Background(), original)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	s.Close()
	var body GenerateContentRequest
	if err := json.Unmarshal(f.last(t).Body, &body); err != nil {
		t.Fatal(err)
	}
	parts := body.Contents[0].Parts
	if len(parts) != 3 || parts[1].InlineData == nil || parts[1].InlineData.MIMEType != "image/png" ||
		parts[1].InlineData.Data != base64.StdEncoding.EncodeToString(pngBytes) {
		t.Fatalf("image part = %+v", parts)
	}
	if parts[2].FileData == nil || parts[2].FileData.FileURI != "https://youtu.be/9hE5-98ZeCg" {
		t.Errorf("youtube part = %+v", parts[2])
	}
	if m := original.Request.Messages[0].Content[1].Media; m.URL == "" || m.Data != "" {
		t.Error("the caller's request was modified")
	}

	before := f.count()
	for _, tc := range []struct{ path, want string }{
		{"/big.png", "larger than the 1024-byte limit"},
		{"/chunked.png", "larger than the 1024-byte limit"},
		{"/missing.png", "HTTP 404"},
		{"/page", "not an image"},
	} {
		_, err := c.Stream(context.Background(), userCall("gemini-2.5-flash",
			llm.Part{Type: llm.PartImage, Media: &llm.Media{URL: mediaSrv.URL + tc.path}}))
		var le *llm.Error
		if !errors.As(err, &le) || le.Kind != llm.KindCallerInvalid || le.Status != 400 || !strings.Contains(le.Message, tc.want) {
			t.Errorf("%s: err = %v, want a 400 mentioning %q", tc.path, err, tc.want)
		}
	}
	if f.count() != before {
		t.Error("a request with unusable media reached the upstream")
	}
}

func TestClientCancelAbortsUpstream(t *testing.T) {
	aborted := make(chan struct{})
	f := &fakeVertex{answer: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, `data: {"candidates":[{"content":{"parts":[{"text":"first"}]}}],"responseId":"r"}`+"\r\n\r\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			close(aborted)
		case <-time.After(10 * time.Second):
		}
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := newTestClient(t, ClientOptions{APIKey: "k", BaseURL: srv.URL})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.Stream(ctx, userCall("gemini-2.5-flash"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for s.Next() {
		ev := s.Event()
		got = append(got, ev.Type.String())
		if ev.Type == llm.EventTextDelta {
			cancel()
		}
	}
	select {
	case <-aborted:
	case <-time.After(5 * time.Second):
		t.Fatal("the upstream request was not aborted")
	}
	if e := llm.AsError(s.Err()); e == nil || e.Kind != llm.KindCallerCanceled {
		t.Errorf("Err = %v, want caller_canceled (events %v)", s.Err(), got)
	}
}

func TestClientConnectError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c := newTestClient(t, ClientOptions{APIKey: "k", BaseURL: url})
	_, err := c.Stream(context.Background(), userCall("gemini-2.5-flash"))
	if e := llm.AsError(err); e == nil || e.Kind != llm.KindProviderConnect {
		t.Errorf("err = %v, want provider_connect", err)
	}
}

func ExampleMintToolCallID() {
	id := MintToolCallID("resp-1#0", "", "AAEC")
	g, sig, _ := ParseToolCallID(id)
	fmt.Println(strings.HasPrefix(id, "call_"), g == "", sig)
	// Output: true true AAEC
}

// A non-streaming client gets a non-streaming upstream call.
func TestClientNonStream(t *testing.T) {
	f := &fakeVertex{answer: func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"candidates":[{"content":{"role":"model","parts":[{"text":"Hello there"}]},"finishReason":"STOP"}],`+
			`"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":2,"totalTokenCount":9},"responseId":"r1"}`)
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := newTestClient(t, ClientOptions{APIKey: "k", BaseURL: srv.URL})
	call := userCall("gemini-2.5-flash")
	call.Request.Stream = false
	s, err := c.Stream(context.Background(), call)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := llm.Collect(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.last(t); got.Path != "/v1/publishers/google/models/gemini-2.5-flash:generateContent" || got.Query != "" {
		t.Errorf("request %s?%s, want :generateContent without alt=sse", got.Path, got.Query)
	}
	if resp.Text() != "Hello there" || resp.FinishReason != llm.FinishStop || resp.Usage.InputTokens != 7 || resp.Usage.OutputTokens != 2 {
		t.Errorf("response %+v", resp)
	}
}

// By default media URLs may not point at loopback, private or link-local
// addresses (SSRF to internal services or cloud metadata).
func TestMediaFetchRefusesPrivateAddresses(t *testing.T) {
	hits := 0
	mediaSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++; w.Write(pngBytes) }))
	defer mediaSrv.Close()
	f := &fakeVertex{}
	srv := httptest.NewServer(f)
	defer srv.Close()
	c := newTestClient(t, ClientOptions{APIKey: "k", BaseURL: srv.URL})
	for _, u := range []string{mediaSrv.URL + "/cat.png", "http://169.254.169.254/latest/meta-data/", "http://[::1]:1/x.png", "http://10.0.0.1/x.png"} {
		_, err := c.Stream(context.Background(), userCall("gemini-2.5-flash", llm.Part{Type: llm.PartImage, Media: &llm.Media{URL: u}}))
		var le *llm.Error
		if !errors.As(err, &le) || le.Status != 400 || !strings.Contains(le.Message, "non-public address") {
			t.Errorf("%s: err = %v, want a 400 refusing a non-public address", u, err)
		}
	}
	if hits != 0 || f.count() != 0 {
		t.Errorf("fetched %d times, upstream called %d times", hits, f.count())
	}
	for _, tc := range []struct {
		ip   string
		want bool
	}{{"8.8.8.8", true}, {"2606:4700::1", true}, {"127.0.0.1", false}, {"10.1.2.3", false}, {"192.168.1.1", false},
		{"169.254.169.254", false}, {"100.64.0.1", false}, {"::1", false}, {"fe80::1", false}, {"::ffff:127.0.0.1", false}, {"0.0.0.0", false}} {
		if got := publicAddr(netip.MustParseAddr(tc.ip)); got != tc.want {
			t.Errorf("publicAddr(%s) = %v", tc.ip, got)
		}
	}
}
