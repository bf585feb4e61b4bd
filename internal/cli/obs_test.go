package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/ingress"
)

// scrape returns GET /metrics.
func (s *obsServer) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// metricLine returns the value of one series in a scrape, "" if absent.
func metricLine(scrape, series string) string {
	for _, l := range strings.Split(scrape, "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

// GET /metrics after known traffic through the real server: exact counts,
// the stream bytes the client received, and the Go, process and usage
// writer collectors on the same registry.
func TestMetricsEndpoint(t *testing.T) {
	s := startObs(t, obsOptions{toml: demoConfig})
	_, streamed1 := s.post(t, "/v1/chat/completions", chatBody("one", true))
	_, streamed2 := s.post(t, "/v1/chat/completions", chatBody("two", true))
	s.post(t, "/v1/chat/completions", chatBody("three", false))
	s.post(t, "/v1/chat/completions", chatBody("xjp:fail=500", false))

	var m string
	obsWait(t, 5*time.Second, "the requests counted", func() bool {
		m = s.scrape(t)
		return metricLine(m, `xjp_requests_total{endpoint="chat",model="demo",provider="demo",status="502"}`) == "1"
	})
	for series, want := range map[string]string{
		`xjp_requests_total{endpoint="chat",model="demo",provider="demo",status="200"}`:    "3",
		`xjp_requests_total{endpoint="chat",model="demo",provider="demo",status="502"}`:    "1",
		`xjp_stream_bytes_total{endpoint="chat"}`:                                          fmt.Sprint(len(streamed1) + len(streamed2)),
		`xjp_upstream_errors_total{kind="provider_server",provider="demo"}`:                "3", // the first try and two retries
		`xjp_retries_total{provider="demo"}`:                                               "2",
		`xjp_request_duration_seconds_count{endpoint="chat",model="demo",provider="demo"}`: "4",
		`xjp_ttft_seconds_count{model="demo",provider="demo"}`:                             "3",
		`xjp_tokens_total{model="demo",provider="demo",type="input"}`:                      "13", // the demo counts 4 a message + the text
		`xjp_breaker_state{route="demo/demo"}`:                                             "0",
		`xjp_inflight_requests`:                                                            "0",
		`xjp_ratelimited_total`:                                                            "0",
		`xjp_usage_dropped_total`:                                                          "0",
	} {
		if got := metricLine(m, series); got != want {
			t.Errorf("%s = %q, want %q", series, got, want)
		}
	}
	for _, series := range []string{"xjp_usage_queue_depth", "go_goroutines", "process_resident_memory_bytes", `xjp_tokens_total{model="demo",provider="demo",type="output"}`} {
		if metricLine(m, series) == "" {
			t.Errorf("%s missing", series)
		}
	}
	// No key or request ids among the labels.
	if strings.Contains(m, "key_") || strings.Contains(m, "req_") {
		t.Error("a key or request id leaked into the labels")
	}
}

// No secret reaches the logs, at debug level with bodies on: not the
// client's API key (Authorization, x-api-key, ?key=, in a prompt), not
// the provider key, even when the upstream's error message echoes it, not
// the admin token.
func TestLogsRedactSecrets(t *testing.T) {
	const providerKey = "sk-prov-SECRET-0123456789abcdef"
	var upstreamAuth sync.Map
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamAuth.Store(r.Header.Get("Authorization"), true)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":{"message":"Incorrect API key provided: %s (header %q)","type":"invalid_request_error","code":"invalid_api_key"}}`,
			providerKey, r.Header.Get("Authorization"))
	}))
	defer up.Close()
	toml := demoConfig + `
[log]
bodies = true
[providers.up]
kind = "openai"
base_url = "` + up.URL + `/v1"
api_key_env = "UP_KEY"
[[models]]
name = "m"
[[models.routes]]
provider = "up"
model = "gpt-x"
`
	s := startObs(t, obsOptions{toml: toml, env: map[string]string{"UP_KEY": providerKey}, logLevel: "debug", logFormat: "json"})
	token, err := readAdminToken(s.dir)
	if err != nil {
		t.Fatal(err)
	}

	send := func(method, path string, hdr map[string]string, body string) int {
		req, _ := http.NewRequest(method, "http://"+s.addr+path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	prompt := fmt.Sprintf(`{"model":"m","messages":[{"role":"user","content":"my key is %s and theirs is %s"}]}`, s.key, providerKey)
	if code := send("POST", "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + s.key}, prompt); code != 502 {
		t.Errorf("upstream 401: client got %d, want 502", code)
	}
	send("POST", "/v1/messages", map[string]string{"X-Api-Key": s.key, "Anthropic-Version": "2023-06-01"},
		`{"model":"demo","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`)
	send("POST", "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + s.key}, chatBody("stream it", true))
	send("POST", "/v1beta/models/demo:generateContent?key="+s.key, map[string]string{"X-Goog-Api-Key": s.key}, `{}`)
	send("GET", "/admin/status", map[string]string{"Authorization": "Bearer " + token}, "")
	send("GET", "/admin/status", map[string]string{"Authorization": "Bearer " + token + "x"}, "")
	if _, ok := upstreamAuth.Load("Bearer " + providerKey); !ok {
		t.Fatal("the provider key did not reach the upstream: the test proves nothing")
	}
	s.close() // flush
	logs := s.logs.String()
	for name, secret := range map[string]string{"API key": s.key, "provider key": providerKey, "admin token": token} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s is in the logs:\n%s", name, logs)
		}
	}
	for _, want := range []string{`"msg":"upstream attempt failed"`, `"msg":"request body"`, `"msg":"response body"`, `data: {`, "[REDACTED]", `"key":"xjp_`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// The request log line has everything: request id, key prefix, model,
// provider, status, latency and tokens.
func TestRequestLogLine(t *testing.T) {
	s := startObs(t, obsOptions{toml: demoConfig, logFormat: "json"})
	s.post(t, "/v1/chat/completions", chatBody("hi", false))
	s.close()
	var line string
	for _, l := range strings.Split(s.logs.String(), "\n") {
		if strings.Contains(l, `"msg":"request"`) && strings.Contains(l, "/v1/chat/completions") {
			line = l
		}
	}
	re := regexp.MustCompile(`^\{"time":"[^"]+","level":"INFO","msg":"request","request_id":"req_[0-9a-f]+","method":"POST","path":"/v1/chat/completions","status":200,"latency_ms":[0-9.]+,"key":"xjp_\w+","model":"demo","provider":"demo","route":"demo/demo","input_tokens":\d+,"output_tokens":\d+\}$`)
	if !re.MatchString(line) {
		t.Errorf("request line:\n%s", line)
	}
}

// modelsOf lists the models a server serves.
func (s *obsServer) models(t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.addr+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func aliasConfig(name string) string {
	return "[demo]\ndelay = \"5ms\"\n[server]\nshutdown_grace = \"5s\"\n[[models]]\nname = \"" + name + "\"\n[[models.routes]]\nprovider = \"demo\"\nmodel = \"demo-" + name + "\"\n"
}

// Providers, routes and prices reload when the file changes, on SIGHUP and
// on POST /admin/reload; a bad file is rejected with a clear log line and
// the running config kept; a stream in flight finishes on its config.
func TestHotReload(t *testing.T) {
	s := startObs(t, obsOptions{toml: aliasConfig("alpha")})
	if !strings.Contains(s.models(t), `"alpha"`) {
		t.Fatal("alpha not served")
	}
	// A long stream on alpha, in flight across the reload.
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"alpha","stream":true,"messages":[{"role":"user","content":"tell me a long story about the sea and the wind and the stars"}]}`))
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Scan() // it started

	// 1. The file changes: beta replaces alpha.
	os.WriteFile(s.file, []byte(aliasConfig("beta")), 0o600)
	obsWait(t, 5*time.Second, "beta after the file change", func() bool { return strings.Contains(s.models(t), `"beta"`) })
	if strings.Contains(s.models(t), `"alpha"`) {
		t.Error("alpha still served after the reload")
	}
	var body strings.Builder
	for sc.Scan() {
		body.WriteString(sc.Text() + "\n")
	}
	resp.Body.Close()
	if !strings.Contains(body.String(), "data: [DONE]") || strings.Contains(body.String(), `"error"`) {
		t.Errorf("the stream in flight did not finish on its config:\n%s", body.String())
	}

	// 2. A bad file is rejected; beta stays.
	os.WriteFile(s.file, []byte("[[models]]\nname = \"gamma\"\n[[models.routes]]\nprovider = \"nope\"\nmodel = \"x\"\n"), 0o600)
	obsWait(t, 5*time.Second, "the rejection", func() bool {
		return strings.Contains(s.logs.String(), "config reload rejected; keeping the running config")
	})
	if m := s.models(t); !strings.Contains(m, `"beta"`) || strings.Contains(m, `"gamma"`) {
		t.Errorf("after a bad file: %s", m)
	}
	if !strings.Contains(s.logs.String(), `unknown provider`) || !strings.Contains(s.logs.String(), s.file) {
		t.Errorf("the rejection does not say why or which file:\n%s", s.logs)
	}

	// 3. SIGHUP reloads even when the file is unchanged (say, for a new
	// provider key in the environment).
	os.WriteFile(s.file, []byte(aliasConfig("delta")), 0o600)
	obsWait(t, 5*time.Second, "delta", func() bool { return strings.Contains(s.models(t), `"delta"`) })
	reloads := func() int { return strings.Count(s.logs.String(), `"msg":"config reloaded"`) }
	time.Sleep(3 * logFlushEvery) // log lines are buffered: let the file watch's line arrive
	n := reloads()
	hangup(t)
	obsWait(t, 5*time.Second, "the SIGHUP reload", func() bool { return reloads() == n+1 })

	// 4. POST /admin/reload, good and bad.
	token, _ := readAdminToken(s.dir)
	post := func() int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/admin/reload", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(); code != 200 {
		t.Errorf("admin reload: %d", code)
	}
	obsWait(t, 5*time.Second, "the admin API reload", func() bool { return reloads() == n+2 })
}

// The status tracker reports the gateway's last finished requests, newest
// first, and today's spend; the in-process dashboard source follows the
// broker.
func TestStatusTracker(t *testing.T) {
	b := event.NewBroker()
	g := gateway.New(gateway.Options{Events: b})
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	spendCalls := 0
	tr := newStatusTracker(statusOptions{Version: "1.2.3", Started: now.Add(-time.Hour), Gateway: g, Events: b,
		Spend: func(_ context.Context, since time.Time) ([]event.Spend, error) {
			spendCalls++
			if !since.Equal(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("spend since %v, want UTC midnight", since)
			}
			return []event.Spend{{Model: "demo", KeyName: "k", Requests: 4}}, nil
		},
		Now: func() time.Time { return now },
	})
	tr.setListen("127.0.0.1:8080")

	src := localSource{tr}
	var got []string
	var mu sync.Mutex
	sctx, scancel := context.WithCancel(context.Background())
	subDone := make(chan error)
	go func() {
		subDone <- src.Subscribe(sctx, func(ev event.Event) { mu.Lock(); got = append(got, string(ev.Kind)+":"+ev.Request.ID); mu.Unlock() })
	}()
	obsWait(t, time.Second, "the source subscribed", func() bool { return b.HasSubscribers() })
	for i := range 5 {
		g.Begin(gateway.Info{ID: fmt.Sprint("r", i), Model: "demo"}).End(200, nil)
	}
	snap, err := src.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range snap.Recent {
		ids = append(ids, r.ID)
	}
	if strings.Join(ids, ",") != "r4,r3,r2,r1,r0" || snap.Listen != "127.0.0.1:8080" || snap.Version != "1.2.3" || !snap.Now.Equal(now) ||
		len(snap.Spend) != 1 || snap.Spend[0].Requests != 4 || snap.Inflight == nil || snap.Breakers == nil {
		t.Errorf("snapshot: %+v", snap)
	}
	src.Snapshot(context.Background())
	if spendCalls != 1 {
		t.Errorf("spend queried %d times within its TTL, want 1", spendCalls)
	}
	obsWait(t, time.Second, "the source's events", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 10 })
	mu.Lock()
	if got[0] != "request_started:r0" || got[1] != "request_finished:r0" {
		t.Errorf("events %v", got)
	}
	mu.Unlock()
	scancel()
	if err := <-subDone; err != nil {
		t.Errorf("Subscribe: %v", err)
	}
}

func TestServeLogFormatFlag(t *testing.T) {
	f := NewFactory(&IOStreams{})
	var got *serveOptions
	cmd := newCmdServe(f, func(o *serveOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--log-format", "json", "--log-level", "debug"})
	if err := cmd.Execute(); err != nil || got.LogFormat != "json" || got.LogLevel != "debug" {
		t.Fatalf("%v %+v", err, got)
	}
	cmd = newCmdServe(f, func(*serveOptions) error { return nil })
	cmd.SetArgs([]string{"--log-format", "xml"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "want text, json or auto") {
		t.Errorf("--log-format xml: %v", err)
	}
}

// Bodies hold prompts and answers: not logged unless log.bodies, even at
// debug level.
func TestBodiesNotLoggedByDefault(t *testing.T) {
	s := startObs(t, obsOptions{toml: demoConfig, logLevel: "debug"})
	s.post(t, "/v1/chat/completions", chatBody("a private prompt", true))
	s.close()
	if l := s.logs.String(); strings.Contains(l, "body") || strings.Contains(l, "private prompt") {
		t.Errorf("a body was logged:\n%s", l)
	}
}

// dashboardSource is the shape of the dashboard's data source (tui):
// the in-process source and the remote AdminClient both have it.
type dashboardSource interface {
	Snapshot(ctx context.Context) (event.Snapshot, error)
	Subscribe(ctx context.Context, fn func(event.Event)) error
}

var (
	_ dashboardSource = localSource{}
	_ dashboardSource = (*ingress.AdminClient)(nil)
)
