package ingress_test

// The harness starts the real ingress handler (ingress.New) on httptest,
// in front of a real gateway (gateway.New) whose table routes logical
// models to the demo provider and to the real dialect clients (openai,
// anthropic, vertex), each pointed at a fake upstream that speaks that
// provider's wire format (fakeupstream_*_test.go). A usage sink records
// every llm.UsageRecord; a tracker tells when the handler of a request has
// returned, so that tests can assert exactly one record per request
// without sleeping.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/anthropic"
	"github.com/rickyjim626/xjp/internal/demo"
	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/ingress"
	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/openai"
	"github.com/rickyjim626/xjp/internal/vertex"
)

// TestMain clears the environment variables the official SDKs read, so
// that only the options the tests pass reach them (the SDKs read
// OPENAI_BASE_URL, ANTHROPIC_BASE_URL and friends at NewClient).
func TestMain(m *testing.M) {
	for _, k := range []string{
		"OPENAI_BASE_URL", "OPENAI_API_KEY", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_WEBHOOK_SECRET",
		"ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CUSTOM_HEADERS", "ANTHROPIC_PROFILE",
		"GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS",
		"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
	} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

// API keys of the in-memory key store.
const (
	keyValid      = "xjp_validKey0123456789abcdefghijklmnopqrstuvwxyzABCD"
	keyDisabled   = "xjp_disabledKey0123456789abcdefghijklmnopqrstuvwxyzA"
	keyExpired    = "xjp_expiredKey0123456789abcdefghijklmnopqrstuvwxyzAB"
	keyRestricted = "xjp_restrictedKey0123456789abcdefghijklmnopqrstuvwxy"
	keyUnknown    = "xjp_unknownKey0123456789abcdefghijklmnopqrstuvwxyzAB"
)

// Keys the gateway uses upstream; the fakes check them.
const (
	upstreamKeyOpenAI    = "sk-upstream-openai"
	upstreamKeyAnthropic = "sk-ant-upstream"
	upstreamKeyGemini    = "AIza-upstream-gemini"
)

// Logical models and their upstream models.
const (
	modelOpenAI    = "m-openai"
	modelAnthropic = "m-anthropic"
	modelGemini    = "m-gemini"
	modelDemo      = "m-demo"
	// modelGeminiStudio reaches the Gemini fake through the AI Studio API
	// (/v1beta, the stricter schema subset).
	modelGeminiStudio = "m-gemini-studio"
	// modelGemini3 is a Gemini 3 model: the fake then signs function calls
	// and requires the signature back.
	modelGemini3 = "m-gemini3"
	// modelFailoverA and modelFailoverB have broken routes first (the
	// fakes answer 500 for the "broken" upstream models), then a working
	// one of another format.
	modelFailoverA = "m-failover-a"
	modelFailoverB = "m-failover-b"
	// modelGeminiBadKey reaches the Gemini fake with a wrong API key.
	modelGeminiBadKey = "m-gemini-badkey"
	// Routes that clamp max tokens.
	modelOpenAICapped    = "m-openai-capped"
	modelAnthropicCapped = "m-anthropic-capped"

	upstreamModelOpenAI    = "openai/gpt-4o" // an OpenRouter-style id with a "/"
	upstreamModelAnthropic = "claude-sonnet-4-5"
	upstreamModelGemini    = "gemini-2.5-flash"
	upstreamModelGemini3   = "gemini-3-pro-preview"
)

// Provider names in the table ("provider/upstream_model" addressing).
const (
	provOpenAI    = "oai"
	provAnthropic = "anth"
	provGemini    = "gem"
	provDemo      = "demo"
	provStudio    = "gemstudio"
)

// maxMediaBytes caps media the vertex client fetches.
const maxMediaBytes = 64 << 10

// pngPixel is a 1×1 PNG.
const pngPixel = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"

type harnessOptions struct {
	maxBody int64
	breaker gateway.BreakerSettings
	retry   *gateway.Retry
	// anthropicNoCount makes the Anthropic fake answer 404 on count_tokens.
	anthropicNoCount bool
	// openAIUserLimit is the longest "user" the OpenAI fake accepts: 0
	// means 128 (OpenRouter's limit), -1 no limit.
	openAIUserLimit int
}

type harness struct {
	t    *testing.T
	url  string // the gateway
	gw   *gateway.Gateway
	oai  *fakeOpenAI
	anth *fakeAnthropic
	gem  *fakeGemini
	// imageURL serves pngPixel (image/png).
	imageURL  string
	imageBase string // the image server, for other paths
	sink      *usageSink
	track     *tracker
	logs      *syncBuffer
	seq       atomic.Int64
}

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	h := &harness{t: t, sink: &usageSink{}, track: &tracker{done: map[string]chan struct{}{}}, logs: &syncBuffer{}}

	userLimit := o.openAIUserLimit
	switch userLimit {
	case 0:
		userLimit = 128
	case -1:
		userLimit = 0
	}
	h.oai = newFakeOpenAI(t, userLimit)
	h.anth = newFakeAnthropic(t, !o.anthropicNoCount)
	h.gem = newFakeGemini(t)

	img, _ := base64.StdEncoding.DecodeString(pngPixel)
	imgSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/pixel.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(img)
		case "/big.png": // over the vertex client's media cap
			w.Header().Set("Content-Type", "image/png")
			w.Write(append(img, make([]byte, maxMediaBytes)...))
		case "/page.html":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body>not an image</body></html>"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(imgSrv.Close)
	h.imageURL = imgSrv.URL + "/pixel.png"
	h.imageBase = imgSrv.URL

	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	oc := openai.NewClient(openai.ClientOptions{Name: provOpenAI, BaseURL: h.oai.srv.URL + "/v1", APIKey: upstreamKeyOpenAI, Logger: log})
	ac := anthropic.NewClient(anthropic.ClientOptions{Name: provAnthropic, BaseURL: h.anth.srv.URL, APIKey: upstreamKeyAnthropic, Logger: log})
	vc, err := vertex.NewClient(context.Background(), vertex.ClientOptions{Name: provGemini, APIKey: upstreamKeyGemini, BaseURL: h.gem.srv.URL, MaxMediaBytes: maxMediaBytes, AllowPrivateMedia: true, Logger: log})
	if err != nil {
		t.Fatalf("vertex.NewClient: %v", err)
	}
	sc, err := vertex.NewClient(context.Background(), vertex.ClientOptions{Name: provStudio, API: vertex.APIGemini, APIKey: upstreamKeyGemini, BaseURL: h.gem.srv.URL, AllowPrivateMedia: true, Logger: log})
	if err != nil {
		t.Fatalf("vertex.NewClient: %v", err)
	}
	bk, err := vertex.NewClient(context.Background(), vertex.ClientOptions{Name: "gembadkey", APIKey: "AIza-wrong", BaseURL: h.gem.srv.URL, Logger: log})
	if err != nil {
		t.Fatalf("vertex.NewClient: %v", err)
	}
	dp := demo.New(demo.Options{Name: provDemo})
	providers := map[string]gateway.Provider{provOpenAI: oc, provAnthropic: ac, provGemini: vc, provStudio: sc, provDemo: dp}
	route := func(p gateway.Provider, model string) []*gateway.Route {
		return []*gateway.Route{{Provider: p, Model: model, MaxRetries: -1}}
	}
	table := gateway.NewTable([]*gateway.Model{
		{Name: modelOpenAI, Routes: route(oc, upstreamModelOpenAI)},
		{Name: modelAnthropic, Routes: route(ac, upstreamModelAnthropic)},
		{Name: modelGemini, Routes: route(vc, upstreamModelGemini)},
		{Name: modelGeminiStudio, Routes: route(sc, upstreamModelGemini)},
		{Name: modelGemini3, Routes: route(vc, upstreamModelGemini3)},
		{Name: modelGeminiBadKey, Routes: route(bk, upstreamModelGemini)},
		{Name: modelOpenAICapped, Routes: []*gateway.Route{{Provider: oc, Model: upstreamModelOpenAI, MaxRetries: -1, MaxTokens: 4096}}},
		{Name: modelAnthropicCapped, Routes: []*gateway.Route{{Provider: ac, Model: upstreamModelAnthropic, MaxRetries: -1, MaxTokens: 8000}}},
		{Name: modelFailoverA, Routes: []*gateway.Route{
			{Provider: vc, Model: "broken-gemini", MaxRetries: -1},
			{Provider: oc, Model: "broken/model", MaxRetries: -1, Priority: 1},
			{Provider: ac, Model: upstreamModelAnthropic, MaxRetries: -1, Priority: 2},
		}},
		{Name: modelFailoverB, Routes: []*gateway.Route{
			{Provider: ac, Model: "broken-claude", MaxRetries: -1},
			{Provider: oc, Model: "broken/model", MaxRetries: -1, Priority: 1},
			{Provider: vc, Model: upstreamModelGemini, MaxRetries: -1, Priority: 2},
		}},
		{Name: modelDemo, Routes: route(dp, "demo")},
	}, providers)

	retry := gateway.Retry{MaxRetries: 2, BaseBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	if o.retry != nil {
		retry = *o.retry
	}
	breaker := o.breaker
	if breaker == (gateway.BreakerSettings{}) {
		breaker = gateway.BreakerSettings{FailureThreshold: 1000, OpenFor: time.Minute, HalfOpenSuccesses: 1}
	}
	h.gw = gateway.New(gateway.Options{
		Table: table, Retry: retry, Breaker: breaker, Usage: h.sink,
		EstimateInput: llm.CountRequestTokens, Logger: log,
	})

	now := time.Now()
	store := map[string]*ingress.Key{
		keyValid:      {ID: "key_valid", Name: "valid", Prefix: "xjp_vali", Allows: allowAll, Enabled: true},
		keyDisabled:   {ID: "key_disabled", Name: "disabled", Prefix: "xjp_disa", Allows: allowAll, Enabled: false},
		keyExpired:    {ID: "key_expired", Name: "expired", Prefix: "xjp_expi", Allows: allowAll, Enabled: true, ExpiresAt: now.Add(-time.Hour)},
		keyRestricted: {ID: "key_restricted", Name: "restricted", Prefix: "xjp_rest", Enabled: true, Allows: func(m string) bool { return m == modelDemo }},
	}
	keys := ingress.NewKeyCache(ingress.KeyCacheOptions{Lookup: func(ctx context.Context, secret string) (*ingress.Key, error) {
		k, ok := store[secret]
		if !ok {
			return nil, ingress.ErrUnknownKey
		}
		c := *k
		return &c, nil
	}})

	srv := ingress.New(ingress.Options{
		Gateway: h.gw, Keys: keys, Logger: log, MaxBodyBytes: o.maxBody,
		CountTokens: llm.CountRequestTokens,
	})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		srv.ServeHTTP(w, r)
		h.track.finish(w.Header().Get("X-Request-Id"))
	}))
	t.Cleanup(ts.Close)
	h.url = ts.URL
	return h
}

func allowAll(string) bool { return true }

// newRequestID returns a request id unique in the test binary.
func (h *harness) newRequestID() string {
	return fmt.Sprintf("req-%s-%d", strings.NewReplacer("/", "-", " ", "_").Replace(h.t.Name()), h.seq.Add(1))
}

// waitDone waits until the handler of request id has returned.
func (h *harness) waitDone(t *testing.T, id string) {
	t.Helper()
	select {
	case <-h.track.ch(id):
	case <-time.After(10 * time.Second):
		t.Fatalf("the handler of request %s did not return within 10s", id)
	}
}

// record waits for the request's handler and returns its one usage record,
// failing when there is not exactly one.
func (h *harness) record(t *testing.T, id string) llm.UsageRecord {
	t.Helper()
	h.waitDone(t, id)
	recs := h.sink.byID(id)
	if len(recs) != 1 {
		t.Fatalf("request %s: %d usage records, want exactly 1: %+v", id, len(recs), recs)
	}
	return recs[0]
}

// fakeFor returns the fake upstream of a logical model (nil for the demo).
func (h *harness) fakeFor(model string) fakeUpstream {
	switch model {
	case modelOpenAI, modelOpenAICapped:
		return h.oai
	case modelAnthropic, modelAnthropicCapped:
		return h.anth
	case modelGemini, modelGeminiStudio, modelGemini3, modelGeminiBadKey:
		return h.gem
	}
	return nil
}

// tracker closes a channel per request id when the handler returns.
type tracker struct {
	mu   sync.Mutex // guards done
	done map[string]chan struct{}
}

func (tr *tracker) ch(id string) chan struct{} {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	c, ok := tr.done[id]
	if !ok {
		c = make(chan struct{})
		tr.done[id] = c
	}
	return c
}

func (tr *tracker) finish(id string) {
	c := tr.ch(id)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

// usageSink is a gateway.UsageSink that keeps every record.
type usageSink struct {
	mu   sync.Mutex // guards recs
	recs []llm.UsageRecord
}

var _ gateway.UsageSink = (*usageSink)(nil)

func (s *usageSink) RecordUsage(rec llm.UsageRecord) {
	s.mu.Lock()
	s.recs = append(s.recs, rec)
	s.mu.Unlock()
}

func (s *usageSink) byID(id string) []llm.UsageRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []llm.UsageRecord
	for _, r := range s.recs {
		if r.RequestID == id {
			out = append(out, r)
		}
	}
	return out
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// rawResponse is an answer of the gateway read by rawPost.
type rawResponse struct {
	status int
	header http.Header
	body   []byte
}

// rawPost sends body to the gateway with the given headers.
func (h *harness) rawPost(t *testing.T, path string, hdr map[string]string, body []byte) rawResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return h.do(t, req)
}

func (h *harness) rawGet(t *testing.T, path string, hdr map[string]string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return h.do(t, req)
}

func (h *harness) do(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	if id := resp.Header.Get("X-Request-Id"); id != "" {
		h.waitDone(t, id)
	}
	return rawResponse{status: resp.StatusCode, header: resp.Header, body: b}
}

// openAIError is OpenAI's error envelope.
type openAIError struct {
	Error struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

// anthropicError is Anthropic's error envelope.
type anthropicError struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

func decodeJSON[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", truncate(string(b), 400), err)
	}
	return v
}

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	event string
	data  string
}

// parseSSE splits an SSE body into events (LF or CRLF framing).
func parseSSE(body string) []sseEvent {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	var out []sseEvent
	for _, block := range strings.Split(body, "\n\n") {
		var ev sseEvent
		var data []string
		for _, line := range strings.Split(block, "\n") {
			switch {
			case strings.HasPrefix(line, "event:"):
				ev.event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:"):
				data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
			}
		}
		if ev.event == "" && len(data) == 0 {
			continue
		}
		ev.data = strings.Join(data, "\n")
		out = append(out, ev)
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// jsonEqual reports whether two JSON texts are semantically equal.
func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
