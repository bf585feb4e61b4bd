package ingress_test

// End-to-end resilience over HTTP: the real ingress (ingress.New) in front of
// the real gateway (gateway.New) and the real dialect clients, pointed at
// fault-injecting httptest upstreams that speak the OpenAI (and Anthropic)
// wire format. The gateway's unit tests (internal/gateway/gateway_test.go)
// cover the policy with a fake provider; these check what a client and an
// upstream see on the wire: hits per upstream, the gaps between them, the
// status, body and error format the client gets, and the log lines.
//
// Helpers here are prefixed res so as not to collide with the other test
// files of the package.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
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
)

// API keys of the resilience tests' key lookup.
const (
	resKey      = "xjp_resilienceKey0123456789abcdefghijklmnopqrstuv"
	resOtherKey = "xjp_resilienceOther0123456789abcdefghijklmnopqrst"
)

// resAction answers one upstream request; stream is the request's "stream".
type resAction func(w http.ResponseWriter, r *http.Request, stream bool)

// resUpstream is a fault-injecting upstream: hit n (1-based) is answered by
// plan(n). It records the time of every hit.
type resUpstream struct {
	name   string
	format string // "openai" or "anthropic"
	srv    *httptest.Server
	p      gateway.Provider
	hits   atomic.Int64

	mu    sync.Mutex // guards plan and times
	plan  func(n int) resAction
	times []time.Time
}

func (u *resUpstream) set(plan func(n int) resAction) {
	u.mu.Lock()
	u.plan = plan
	u.mu.Unlock()
}

func (u *resUpstream) hitTimes() []time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.times...)
}

func (u *resUpstream) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Stream bool `json:"stream"`
	}
	body, _ := io.ReadAll(r.Body)
	json.Unmarshal(body, &req)
	n := int(u.hits.Add(1))
	u.mu.Lock()
	u.times = append(u.times, time.Now())
	plan := u.plan
	u.mu.Unlock()
	plan(n)(w, r, req.Stream)
}

// resAlways answers every request with a.
func resAlways(a resAction) func(int) resAction { return func(int) resAction { return a } }

// resSeq answers the n-th request with as[n-1]; the last one repeats.
func resSeq(as ...resAction) func(int) resAction {
	return func(n int) resAction { return as[min(n, len(as))-1] }
}

// resStatus answers with an HTTP error in the upstream's format.
func resStatus(format string, status int, retryAfter, msg string) resAction {
	return func(w http.ResponseWriter, r *http.Request, _ bool) {
		w.Header().Set("Content-Type", "application/json")
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		if format == "anthropic" {
			fmt.Fprintf(w, `{"type":"error","error":{"type":"api_error","message":%q}}`, msg)
			return
		}
		fmt.Fprintf(w, `{"error":{"message":%q,"type":"server_error","code":null}}`, msg)
	}
}

// resOK answers text, streamed or whole as the request asks.
func resOK(format, text string) resAction {
	return func(w http.ResponseWriter, r *http.Request, stream bool) {
		if format == "anthropic" {
			resAnthropicAnswer(w, stream, text, false)
			return
		}
		resOpenAIAnswer(w, stream, text, false)
	}
}

// resCut streams the start of an answer, then drops the connection.
func resCut(format string) resAction {
	return func(w http.ResponseWriter, r *http.Request, stream bool) {
		if format == "anthropic" {
			resAnthropicAnswer(w, stream, "partial answer", true)
		} else {
			resOpenAIAnswer(w, stream, "partial answer", true)
		}
		panic(http.ErrAbortHandler) // the connection is closed mid-body
	}
}

// resSlowHeaders waits d (or for the caller to give up) before answering.
func resSlowHeaders(d time.Duration, then resAction) resAction {
	return func(w http.ResponseWriter, r *http.Request, stream bool) {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
		then(w, r, stream)
	}
}

// resIdle streams the first chunk, then says nothing until the caller
// gives up.
func resIdle() resAction {
	return func(w http.ResponseWriter, r *http.Request, stream bool) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, resOpenAIChunk(`{"role":"assistant","content":"first words"}`, "null"))
		http.NewResponseController(w).Flush()
		<-r.Context().Done()
	}
}

// resBlock answers with then once release is closed; started is closed
// when the request has arrived.
func resBlock(started, release chan struct{}, then resAction) resAction {
	var once sync.Once
	return func(w http.ResponseWriter, r *http.Request, stream bool) {
		once.Do(func() { close(started) })
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		then(w, r, stream)
	}
}

func resOpenAIChunk(delta, finish string) string {
	return `data: {"id":"chatcmpl-up","object":"chat.completion.chunk","created":1,"model":"up","choices":[{"index":0,"delta":` +
		delta + `,"finish_reason":` + finish + `}]}` + "\n\n"
}

// resOpenAIAnswer writes a Chat Completions answer; cut stops a stream
// after its first content.
func resOpenAIAnswer(w http.ResponseWriter, stream bool, text string, cut bool) {
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"chatcmpl-up","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,`+
			`"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`, text)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fl := http.NewResponseController(w)
	io.WriteString(w, resOpenAIChunk(`{"role":"assistant","content":""}`, "null"))
	for _, word := range strings.SplitAfter(text, " ") {
		q, _ := json.Marshal(word)
		io.WriteString(w, resOpenAIChunk(`{"content":`+string(q)+`}`, "null"))
		fl.Flush()
	}
	if cut {
		return
	}
	io.WriteString(w, resOpenAIChunk(`{}`, `"stop"`))
	io.WriteString(w, `data: {"id":"chatcmpl-up","object":"chat.completion.chunk","created":1,"model":"up","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`+"\n\n")
	io.WriteString(w, "data: [DONE]\n\n")
}

// resAnthropicAnswer writes a Messages answer; cut stops a stream after
// its first content.
func resAnthropicAnswer(w http.ResponseWriter, stream bool, text string, cut bool) {
	q, _ := json.Marshal(text)
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"msg_up","type":"message","role":"assistant","model":"up","content":[{"type":"text","text":%s}],`+
			`"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":2}}`, q)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	ev := func(name, data string) {
		fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data)
		http.NewResponseController(w).Flush()
	}
	ev("message_start", `{"type":"message_start","message":{"id":"msg_up","type":"message","role":"assistant","model":"up","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":1}}}`)
	ev("content_block_start", `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}`)
	ev("content_block_delta", `{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":`+string(q)+`}}`)
	if cut {
		return
	}
	ev("content_block_stop", `{"type":"content_block_stop","index":0}`)
	ev("message_delta", `{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":2}}`)
	ev("message_stop", `{"type":"message_stop"}`)
}

// resLogs is a goroutine-safe log buffer.
type resLogs struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *resLogs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *resLogs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// resSink keeps the usage records.
type resSink struct {
	mu   sync.Mutex
	recs []llm.UsageRecord
}

func (s *resSink) RecordUsage(r llm.UsageRecord) {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}

func (s *resSink) all() []llm.UsageRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]llm.UsageRecord(nil), s.recs...)
}

func (s *resSink) byID(id string) []llm.UsageRecord {
	var out []llm.UsageRecord
	for _, r := range s.all() {
		if r.RequestID == id {
			out = append(out, r)
		}
	}
	return out
}

// resEnv is an xjp in front of fault-injecting upstreams.
type resEnv struct {
	t    *testing.T
	url  string
	gw   *gateway.Gateway
	logs *resLogs
	log  *slog.Logger
	sink *resSink
	demo gateway.Provider
	seq  atomic.Int64
}

// resConfig is what start needs besides the routes.
type resConfig struct {
	retry   gateway.Retry
	breaker gateway.BreakerSettings
	idem    ingress.IdempotencyOptions
}

func newResEnv(t *testing.T) *resEnv {
	t.Helper()
	e := &resEnv{t: t, logs: &resLogs{}, sink: &resSink{}}
	e.log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.demo = demo.New(demo.Options{Name: "demo"})
	return e
}

// upstream starts a fault-injecting upstream of format "openai" or
// "anthropic", answering OK until told otherwise, and its provider named
// name.
func (e *resEnv) upstream(name, format string) *resUpstream {
	u := &resUpstream{name: name, format: format}
	u.plan = resAlways(resOK(format, "hello from "+name))
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	e.t.Cleanup(u.srv.Close)
	if format == "anthropic" {
		u.p = anthropic.NewClient(anthropic.ClientOptions{Name: name, BaseURL: u.srv.URL, APIKey: "sk-ant-test", Logger: e.log})
	} else {
		u.p = openai.NewClient(openai.ClientOptions{Name: name, BaseURL: u.srv.URL + "/v1", APIKey: "sk-test", Logger: e.log})
	}
	return u
}

// route is a route to u's upstream model "up-NAME" with the gateway's
// retries.
func (u *resUpstream) route() *gateway.Route {
	return &gateway.Route{Provider: u.p, Model: "up-" + u.name, MaxRetries: -1}
}

// start serves models.
func (e *resEnv) start(c resConfig, models ...*gateway.Model) {
	e.t.Helper()
	providers := map[string]gateway.Provider{"demo": e.demo}
	for _, m := range models {
		for _, r := range m.Routes {
			providers[r.Provider.Name()] = r.Provider
		}
	}
	if c.retry == (gateway.Retry{}) {
		c.retry = gateway.Retry{MaxRetries: 2, BaseBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	}
	if c.breaker == (gateway.BreakerSettings{}) {
		c.breaker = gateway.BreakerSettings{FailureThreshold: 1000, OpenFor: time.Minute, HalfOpenSuccesses: 1}
	}
	e.gw = gateway.New(gateway.Options{
		Table: gateway.NewTable(models, providers), Retry: c.retry, Breaker: c.breaker, Usage: e.sink,
		Logger: e.log, Rand: rand.New(rand.NewPCG(6, 7)),
	})
	keys := map[string]*ingress.Key{
		resKey:      {ID: "key_res", Name: "res", Prefix: "xjp_resi", Allows: func(string) bool { return true }, Enabled: true},
		resOtherKey: {ID: "key_other", Name: "other", Prefix: "xjp_resi", Allows: func(string) bool { return true }, Enabled: true},
	}
	kc := ingress.NewKeyCache(ingress.KeyCacheOptions{Lookup: func(_ context.Context, secret string) (*ingress.Key, error) {
		k, ok := keys[secret]
		if !ok {
			return nil, ingress.ErrUnknownKey
		}
		c := *k
		return &c, nil
	}})
	srv := ingress.New(ingress.Options{Gateway: e.gw, Keys: kc, Logger: e.log, Idempotency: c.idem})
	ts := httptest.NewServer(srv)
	e.t.Cleanup(ts.Close)
	e.url = ts.URL
}

// resResponse is a client's view of one answer.
type resResponse struct {
	status int
	header http.Header
	body   string
	id     string // X-Request-Id
}

// do sends a request with resKey (unless hdr sets auth) and reads the whole
// answer: by then the handler has returned and its usage record is in.
func (e *resEnv) do(t *testing.T, path, body string, hdr http.Header) resResponse {
	t.Helper()
	r, err := e.send(path, body, hdr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is do for any goroutine: it returns its error.
func (e *resEnv) send(path, body string, hdr http.Header) (resResponse, error) {
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	if err != nil {
		return resResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+resKey)
	req.Header.Set("Anthropic-Version", "2023-06-01")
	id := fmt.Sprintf("req-res-%d", e.seq.Add(1))
	req.Header.Set("X-Request-Id", id)
	for k, vs := range hdr {
		req.Header.Del(k)
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return resResponse{}, fmt.Errorf("POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resResponse{}, fmt.Errorf("POST %s: reading the answer: %w", path, err)
	}
	return resResponse{status: resp.StatusCode, header: resp.Header, body: string(b), id: resp.Header.Get("X-Request-Id")}, nil
}

// record returns the one usage record of a request.
func (e *resEnv) record(t *testing.T, id string) llm.UsageRecord {
	t.Helper()
	recs := e.sink.byID(id)
	if len(recs) != 1 {
		t.Fatalf("request %s: %d usage records, want 1", id, len(recs))
	}
	return recs[0]
}

func resChat(model string, stream bool, prompt string) string {
	return fmt.Sprintf(`{"model":%q,"stream":%t,"messages":[{"role":"user","content":%q}]}`, model, stream, prompt)
}

func resMessages(model string, stream bool, prompt string) string {
	return fmt.Sprintf(`{"model":%q,"max_tokens":64,"stream":%t,"messages":[{"role":"user","content":%q}]}`, model, stream, prompt)
}

// resErr is an error body in any of the formats.
type resErr struct {
	Type  string `json:"type"` // "error" on Anthropic paths
	Error struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Code    any    `json:"code"`   // OpenAI: a string; Gemini: the HTTP status
		Status  string `json:"status"` // Gemini
	} `json:"error"`
}

func resParseErr(t *testing.T, body string) resErr {
	t.Helper()
	var e resErr
	if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an error body: %q (%v)", body, err)
	}
	return e
}

// resSSEData returns the data lines of an SSE body, and the event names.
func resSSEData(body string) (data, events []string) {
	for _, line := range strings.Split(body, "\n") {
		switch {
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: "))
		case strings.HasPrefix(line, "event: "):
			events = append(events, strings.TrimPrefix(line, "event: "))
		}
	}
	return data, events
}

func TestResilience429ThenOK(t *testing.T) {
	e := newResEnv(t)
	up := e.upstream("a", "openai")
	up.set(resSeq(resStatus("openai", http.StatusTooManyRequests, "0.3", "slow down"), resOK("openai", "second time lucky")))
	e.start(resConfig{retry: gateway.Retry{MaxRetries: 2, BaseBackoff: time.Millisecond, MaxBackoff: 2 * time.Second}},
		&gateway.Model{Name: "m", Routes: []*gateway.Route{up.route()}})

	r := e.do(t, "/v1/chat/completions", resChat("m", false, "hi"), nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, "second time lucky") {
		t.Fatalf("HTTP %d %s", r.status, r.body)
	}
	if n := up.hits.Load(); n != 2 {
		t.Fatalf("upstream hit %d times, want 2 (one retry)", n)
	}
	ts := up.hitTimes()
	if gap := ts[1].Sub(ts[0]); gap < 300*time.Millisecond || gap > 1500*time.Millisecond {
		t.Errorf("retried %v after the 429, want the upstream's Retry-After of 300ms (backoff base is 1ms)", gap)
	}
	if rec := e.record(t, r.id); rec.Attempts != 2 || rec.Status != 200 {
		t.Errorf("usage record attempts %d status %d, want 2 200", rec.Attempts, rec.Status)
	}
}

func TestResilienceBreaker(t *testing.T) {
	e := newResEnv(t)
	flaky, backup := e.upstream("flaky", "openai"), e.upstream("backup", "openai")
	flaky.set(resAlways(resStatus("openai", http.StatusServiceUnavailable, "", "overloaded")))
	primary := flaky.route()
	primary.MaxRetries = 0
	fallback := backup.route()
	fallback.Priority = 1
	const openFor = 300 * time.Millisecond
	e.start(resConfig{breaker: gateway.BreakerSettings{FailureThreshold: 3, OpenFor: openFor, HalfOpenSuccesses: 1}},
		&gateway.Model{Name: "m", Routes: []*gateway.Route{primary, fallback}})
	state := func() string {
		for _, b := range e.gw.Breakers() {
			if b.Route == "flaky/up-flaky" {
				return b.State
			}
		}
		return "?"
	}

	// Three 503s in a row, one per request (no retries on the primary):
	// the fallback answers each, and the breaker opens.
	for i := range 3 {
		r := e.do(t, "/v1/chat/completions", resChat("m", i%2 == 0, "hi"), nil)
		if r.status != 200 || !strings.Contains(r.body, "backup") {
			t.Fatalf("request %d: HTTP %d %s", i, r.status, r.body)
		}
	}
	if flaky.hits.Load() != 3 || state() != "open" {
		t.Fatalf("after 3 failures: primary hit %d times, breaker %s; want 3, open", flaky.hits.Load(), state())
	}
	if !strings.Contains(e.logs.String(), `msg="breaker changed" route=flaky/up-flaky from=closed to=open`) {
		t.Errorf("the breaker opening was not logged:\n%s", e.logs)
	}

	// Open: later requests skip the primary without calling it.
	opened := time.Now()
	for range 5 {
		r := e.do(t, "/v1/chat/completions", resChat("m", false, "hi"), nil)
		if r.status != 200 || !strings.Contains(r.body, "backup") {
			t.Fatalf("with the breaker open: HTTP %d %s", r.status, r.body)
		}
		if rec := e.record(t, r.id); rec.Attempts != 1 || rec.Provider != "backup" {
			t.Errorf("with the breaker open: attempts %d provider %q, want 1 backup", rec.Attempts, rec.Provider)
		}
	}
	if n := flaky.hits.Load(); n != 3 {
		t.Fatalf("the open route was called: %d hits, want 3", n)
	}

	// After open_for one probe goes through; its success closes the breaker.
	flaky.set(resAlways(resOK("openai", "flaky is back")))
	time.Sleep(time.Until(opened.Add(openFor + 50*time.Millisecond)))
	r := e.do(t, "/v1/chat/completions", resChat("m", true, "hi"), nil)
	if r.status != 200 || !strings.Contains(r.body, "flaky") {
		t.Fatalf("probe: HTTP %d %s", r.status, r.body)
	}
	if flaky.hits.Load() != 4 || state() != "closed" {
		t.Fatalf("after a good probe: primary hit %d times, breaker %s; want 4, closed", flaky.hits.Load(), state())
	}
	r = e.do(t, "/v1/chat/completions", resChat("m", false, "hi"), nil)
	if !strings.Contains(r.body, "flaky is back") || flaky.hits.Load() != 5 {
		t.Errorf("after closing, the primary is not used: %s", r.body)
	}
}

// With every route's breaker open the client gets a 503 at once, in its
// format: api_error on OpenAI paths, overloaded_error on Anthropic's.
func TestResilienceAllBreakersOpen(t *testing.T) {
	e := newResEnv(t)
	down := e.upstream("down", "openai")
	down.set(resAlways(resStatus("openai", http.StatusInternalServerError, "", "boom")))
	rt := down.route()
	rt.MaxRetries = 0
	e.start(resConfig{breaker: gateway.BreakerSettings{FailureThreshold: 2, OpenFor: time.Minute, HalfOpenSuccesses: 1}},
		&gateway.Model{Name: "m", Routes: []*gateway.Route{rt}})
	for range 2 {
		if r := e.do(t, "/v1/chat/completions", resChat("m", false, "hi"), nil); r.status != http.StatusBadGateway {
			t.Fatalf("HTTP %d %s, want 502", r.status, r.body)
		}
	}
	for _, c := range []struct{ path, body, typ string }{
		{"/v1/chat/completions", resChat("m", true, "hi"), "api_error"},
		{"/v1/messages", resMessages("m", true, "hi"), "overloaded_error"},
	} {
		start := time.Now()
		r := e.do(t, c.path, c.body, nil)
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("%s: took %v with every breaker open, want an immediate answer", c.path, d)
		}
		if r.status != http.StatusServiceUnavailable {
			t.Fatalf("%s: HTTP %d %s, want 503", c.path, r.status, r.body)
		}
		if er := resParseErr(t, r.body); er.Error.Type != c.typ || !strings.Contains(er.Error.Message, "circuit breakers open") {
			t.Errorf("%s: error %+v, want type %s saying the breakers are open", c.path, er.Error, c.typ)
		}
	}
	if n := down.hits.Load(); n != 2 {
		t.Errorf("upstream hit %d times, want 2 (none while open)", n)
	}
}

func TestResilienceFailover(t *testing.T) {
	e := newResEnv(t)
	primary, fallback := e.upstream("primary", "openai"), e.upstream("fallback", "anthropic")
	primary.set(resAlways(resStatus("openai", http.StatusInternalServerError, "", "primary exploded")))
	fb := fallback.route()
	fb.Priority = 1
	e.start(resConfig{}, &gateway.Model{Name: "m", Routes: []*gateway.Route{primary.route(), fb}})

	for _, stream := range []bool{false, true} {
		before := primary.hits.Load()
		r := e.do(t, "/v1/chat/completions", resChat("m", stream, "hi"), nil)
		if r.status != 200 || !strings.Contains(r.body, "hello from fallback") {
			t.Fatalf("stream %v: HTTP %d %s", stream, r.status, r.body)
		}
		if n := primary.hits.Load() - before; n != 3 {
			t.Errorf("stream %v: primary hit %d times, want 3 (a try and 2 retries)", stream, n)
		}
		if rec := e.record(t, r.id); rec.Attempts != 4 || rec.Provider != "fallback" || rec.Status != 200 {
			t.Errorf("stream %v: usage record attempts %d provider %q status %d, want 4 fallback 200", stream, rec.Attempts, rec.Provider, rec.Status)
		}
	}
	if n := fallback.hits.Load(); n != 2 {
		t.Errorf("fallback hit %d times, want 2", n)
	}
}

// When every route fails the client gets one clear 502 and the log has
// the cause of each route.
func TestResilienceAllRoutesFail(t *testing.T) {
	e := newResEnv(t)
	a, b := e.upstream("a", "openai"), e.upstream("b", "openai")
	a.set(resAlways(resStatus("openai", http.StatusInternalServerError, "", "primary exploded")))
	b.set(resAlways(resStatus("openai", http.StatusBadGateway, "", "fallback lost its backend")))
	rb := b.route()
	rb.Priority = 1
	e.start(resConfig{}, &gateway.Model{Name: "m", Routes: []*gateway.Route{a.route(), rb}})

	for _, c := range []struct{ path, body, typ string }{
		{"/v1/chat/completions", resChat("m", false, "hi"), "api_error"},
		{"/v1/messages", resMessages("m", true, "hi"), "api_error"},
	} {
		r := e.do(t, c.path, c.body, nil)
		if r.status != http.StatusBadGateway {
			t.Fatalf("%s: HTTP %d %s, want 502", c.path, r.status, r.body)
		}
		er := resParseErr(t, r.body)
		if er.Error.Type != c.typ || !strings.Contains(er.Error.Message, "primary exploded") || !strings.Contains(er.Error.Message, "after 6 attempts") {
			t.Errorf("%s: error %+v: want %s naming the upstream's cause and the attempts", c.path, er.Error, c.typ)
		}
		if rec := e.record(t, r.id); rec.Status != 502 || rec.Attempts != 6 || rec.ErrorKind != llm.KindProviderServer {
			t.Errorf("%s: usage record status %d attempts %d kind %s", c.path, rec.Status, rec.Attempts, rec.ErrorKind)
		}
	}
	logs := e.logs.String()
	for _, want := range []string{
		`msg="upstream attempt failed" request_id=req-res-1 route=a/up-a kind=provider_server status=500 error="a: primary exploded"`,
		`msg="upstream attempt failed" request_id=req-res-1 route=b/up-b kind=provider_server status=502 error="b: fallback lost its backend"`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %s:\n%s", want, logs)
		}
	}
	if a.hits.Load() != 6 || b.hits.Load() != 6 {
		t.Errorf("hits a %d b %d, want 6 each", a.hits.Load(), b.hits.Load())
	}
}

// A stream that breaks after its first bytes reached the client is not
// retried: the client gets the partial answer and an error event in its
// format, and the upstream was called once.
func TestResilienceStreamCut(t *testing.T) {
	cases := []struct {
		name, upstream, path, body string
		check                      func(t *testing.T, data, events []string)
	}{
		{"openai upstream, openai client", "openai", "/v1/chat/completions", resChat("m", true, "hi"), resCheckOpenAIErrorEvent},
		{"anthropic upstream, anthropic client", "anthropic", "/v1/messages", resMessages("m", true, "hi"), resCheckAnthropicErrorEvent},
		{"openai upstream, anthropic client", "openai", "/v1/messages", resMessages("m", true, "hi"), resCheckAnthropicErrorEvent},
		{"anthropic upstream, openai client", "anthropic", "/v1/chat/completions", resChat("m", true, "hi"), resCheckOpenAIErrorEvent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newResEnv(t)
			up, spare := e.upstream("cut", c.upstream), e.upstream("spare", "openai")
			up.set(resAlways(resCut(c.upstream)))
			rs := spare.route()
			rs.Priority = 1
			e.start(resConfig{}, &gateway.Model{Name: "m", Routes: []*gateway.Route{up.route(), rs}})
			r := e.do(t, c.path, c.body, nil)
			if r.status != 200 || !strings.Contains(r.body, "partial") {
				t.Fatalf("HTTP %d %q: want the 200 stream with the partial answer", r.status, r.body)
			}
			data, events := resSSEData(r.body)
			c.check(t, data, events)
			if up.hits.Load() != 1 || spare.hits.Load() != 0 {
				t.Errorf("hits: cut %d, spare %d; want 1 and 0 (no retry after the first byte)", up.hits.Load(), spare.hits.Load())
			}
			if rec := e.record(t, r.id); rec.Attempts != 1 || rec.Status != 502 {
				t.Errorf("usage record attempts %d status %d, want 1 502", rec.Attempts, rec.Status)
			}
		})
	}
}

// resCheckOpenAIErrorEvent wants the stream's last data to be
// {"error":{…}} and no [DONE].
func resCheckOpenAIErrorEvent(t *testing.T, data, _ []string) {
	t.Helper()
	if len(data) == 0 {
		t.Fatal("no data lines")
	}
	last := data[len(data)-1]
	var er resErr
	if err := json.Unmarshal([]byte(last), &er); err != nil || er.Error.Message == "" || er.Error.Type != "api_error" {
		t.Errorf("last data %q: want an OpenAI error frame of type api_error", last)
	}
	for _, d := range data {
		if d == "[DONE]" {
			t.Errorf("[DONE] after an error")
		}
	}
}

// resCheckAnthropicErrorEvent wants an event: error with an Anthropic
// error body last, and no message_stop.
func resCheckAnthropicErrorEvent(t *testing.T, data, events []string) {
	t.Helper()
	if len(events) == 0 || events[len(events)-1] != "error" {
		t.Fatalf("events %v: want event: error last", events)
	}
	var er resErr
	if err := json.Unmarshal([]byte(data[len(data)-1]), &er); err != nil || er.Type != "error" || er.Error.Type != "api_error" || er.Error.Message == "" {
		t.Errorf("error event data %q", data[len(data)-1])
	}
	for _, ev := range events {
		if ev == "message_stop" {
			t.Errorf("message_stop after an error")
		}
	}
}

func TestResilienceFirstByteTimeout(t *testing.T) {
	e := newResEnv(t)
	slow := e.upstream("slow", "openai")
	slow.set(resAlways(resSlowHeaders(2*time.Second, resOK("openai", "too late"))))
	rt := slow.route()
	rt.MaxRetries = 0
	rt.Timeouts = gateway.Timeouts{FirstByte: 100 * time.Millisecond}
	e.start(resConfig{}, &gateway.Model{Name: "m", Routes: []*gateway.Route{rt}})

	for _, c := range []struct{ path, body, typ string }{
		{"/v1/chat/completions", resChat("m", true, "hi"), "api_error"},
		{"/v1/messages", resMessages("m", true, "hi"), "timeout_error"},
	} {
		start := time.Now()
		r := e.do(t, c.path, c.body, nil)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: answered after %v, want about the 100ms first-byte timeout", c.path, d)
		}
		if r.status != http.StatusGatewayTimeout {
			t.Fatalf("%s: HTTP %d %s, want 504", c.path, r.status, r.body)
		}
		er := resParseErr(t, r.body)
		if er.Error.Type != c.typ || !strings.Contains(er.Error.Message, "first-byte timeout of 100ms") {
			t.Errorf("%s: error %+v: want %s saying first-byte timeout", c.path, er.Error, c.typ)
		}
	}
}

func TestResilienceIdleTimeout(t *testing.T) {
	e := newResEnv(t)
	idle := e.upstream("idle", "openai")
	idle.set(resAlways(resIdle()))
	rt := idle.route()
	rt.Timeouts = gateway.Timeouts{FirstByte: time.Second, Idle: 100 * time.Millisecond}
	e.start(resConfig{}, &gateway.Model{Name: "m", Routes: []*gateway.Route{rt}})

	r := e.do(t, "/v1/chat/completions", resChat("m", true, "hi"), nil)
	if r.status != 200 || !strings.Contains(r.body, "first words") {
		t.Fatalf("HTTP %d %q: want the stream's first words", r.status, r.body)
	}
	data, _ := resSSEData(r.body)
	resCheckOpenAIErrorEvent(t, data, nil)
	if last := data[len(data)-1]; !strings.Contains(last, "idle timeout of 100ms") {
		t.Errorf("error frame %s does not say idle timeout", last)
	}
	if rec := e.record(t, r.id); rec.Status != http.StatusGatewayTimeout || rec.ErrorKind != llm.KindProviderTimeout {
		t.Errorf("usage record status %d kind %s, want 504 provider_timeout", rec.Status, rec.ErrorKind)
	}
	if n := idle.hits.Load(); n != 1 {
		t.Errorf("upstream hit %d times, want 1", n)
	}

	r = e.do(t, "/v1/messages", resMessages("m", true, "hi"), nil)
	data, events := resSSEData(r.body)
	if len(events) == 0 || events[len(events)-1] != "error" || !strings.Contains(data[len(data)-1], "idle timeout") ||
		!strings.Contains(data[len(data)-1], `"type":"timeout_error"`) {
		t.Errorf("Anthropic client: events %v, last data %q: want event: error of type timeout_error saying idle timeout", events, data[len(data)-1])
	}
}

func TestResilienceWeightedRoutes(t *testing.T) {
	e := newResEnv(t)
	a, b, c := e.upstream("a", "openai"), e.upstream("b", "openai"), e.upstream("c", "openai")
	ra, rb, rc := a.route(), b.route(), c.route()
	ra.Weight, rb.Weight = 3, 1
	rc.Priority = 1 // only a fallback
	e.start(resConfig{}, &gateway.Model{Name: "m", Routes: []*gateway.Route{ra, rb, rc}})

	const n = 1000
	body := resChat("m", false, "hi")
	for i := range n {
		if r := e.do(t, "/v1/chat/completions", body, nil); r.status != 200 {
			t.Fatalf("request %d: HTTP %d %s", i, r.status, r.body)
		}
	}
	share := float64(a.hits.Load()) / n
	if share < 0.70 || share > 0.80 || a.hits.Load()+b.hits.Load() != n {
		t.Errorf("a got %d and b %d of %d requests (a %.1f%%), want 75%% ± 5 for a", a.hits.Load(), b.hits.Load(), n, share*100)
	}
	if c.hits.Load() != 0 {
		t.Errorf("the lower-priority route was used %d times", c.hits.Load())
	}
}
