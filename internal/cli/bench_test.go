package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/store"
)

// BenchmarkOverhead measures what a request through xjp costs in CPU next
// to a plain httputil.ReverseProxy, against the same in-process upstream,
// in the same run (this machine is shared and noisy: only ratios measured
// together mean anything).
//
// Everything runs in one process, so CPU time is read for the whole
// process and each target's cost is the difference to calling the upstream
// directly: added = cpu(target) − cpu(direct). Reported per request:
//
//	direct-cpu-us    client + upstream
//	rproxy-cpu-us    what the reverse proxy adds
//	xjp-cpu-us       what xjp adds: auth (key cache), rate limit and daily
//	                 quota (charged as tokens stream), body decode, routing,
//	                 metering, metrics, encode, usage recorded to SQLite in
//	                 batches
//	xjp/rproxy       the ratio; the goal is at most 1.25
//
// Run it with: go test -run XXX -bench Overhead -benchtime 20x ./internal/cli/
func BenchmarkOverhead(b *testing.B) {
	for _, sc := range []struct {
		name   string
		stream bool
	}{{"chat", false}, {"chat-stream", true}} {
		b.Run(sc.name, func(b *testing.B) { benchOverhead(b, sc.stream) })
	}
}

const (
	benchConcurrency = 8
	benchBlock       = 200 // requests per target per iteration
)

func benchOverhead(b *testing.B, stream bool) {
	up := httptest.NewServer(mockUpstream(20, 6))
	defer up.Close()
	upURL, _ := url.Parse(up.URL)

	// The reference proxy as the shared bench kit builds it: pooled
	// transport, flush after every write, a buffer pool.
	rp := httputil.NewSingleHostReverseProxy(upURL)
	rp.FlushInterval = -1
	rp.Transport = &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second}
	rp.BufferPool = &bufferPool{}
	proxy := httptest.NewServer(rp)
	defer proxy.Close()

	gw, key, stop := benchGateway(b, up.URL)
	defer stop()

	body := fmt.Sprintf(`{"model":%%q,"stream":%v,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello in twenty words."}]}`, stream)
	targets := []struct {
		name string
		url  string
		body string
		auth string
	}{
		{"direct", up.URL + "/v1/chat/completions", fmt.Sprintf(body, "mock-model"), "Bearer sk-mock"},
		{"rproxy", proxy.URL + "/v1/chat/completions", fmt.Sprintf(body, "mock-model"), "Bearer sk-mock"},
		{"xjp", gw + "/v1/chat/completions", fmt.Sprintf(body, "m"), "Bearer " + key},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024}}

	// Warm up every path (connections, key cache, tokenizer-free paths).
	for _, t := range targets {
		if err := fire(client, t.url, t.body, t.auth, 50); err != nil {
			b.Fatalf("%s: %v", t.name, err)
		}
	}
	cpu := make([]time.Duration, len(targets))
	b.ResetTimer()
	for range b.N {
		for i, t := range targets {
			start := processCPU()
			if err := fire(client, t.url, t.body, t.auth, benchBlock); err != nil {
				b.Fatalf("%s: %v", t.name, err)
			}
			cpu[i] += processCPU() - start
		}
	}
	b.StopTimer()
	n := float64(b.N * benchBlock)
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / n }
	direct, rproxy, xjp := per(cpu[0]), per(cpu[1]-cpu[0]), per(cpu[2]-cpu[0])
	b.ReportMetric(direct, "direct-cpu-us")
	b.ReportMetric(rproxy, "rproxy-cpu-us")
	b.ReportMetric(xjp, "xjp-cpu-us")
	if rproxy > 0 {
		b.ReportMetric(xjp/rproxy, "xjp/rproxy")
	}
}

// fire sends n requests over benchConcurrency workers and reads every
// response to the end.
func fire(c *http.Client, url, body, auth string, n int) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	for range benchConcurrency {
		wg.Go(func() {
			for range jobs {
				req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", auth)
				resp, err := c.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return firstErr
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchGateway starts xjp (auth, metering and SQLite usage recording on)
// in front of the upstream and returns its URL and an API key.
func benchGateway(b *testing.B, upstream string) (string, string, func()) {
	b.Helper()
	dir := b.TempDir()
	file := filepath.Join(dir, "xjp.toml")
	toml := fmt.Sprintf(`
[demo]
enabled = false
[log]
level = "error"
[providers.mock]
kind = "openai"
base_url = "%s/v1"
api_key = "sk-mock"
[[models]]
name = "m"
price = { input_per_mtok = 1.0, output_per_mtok = 2.0 }
[[models.routes]]
provider = "mock"
model = "mock-model"
`, upstream)
	if err := os.WriteFile(file, []byte(toml), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{File: file, DataDir: dir, Getenv: func(string) string { return "" }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	s, err := newServer(ctx, cfg, func(string) string { return "" }, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	// Limits and quotas are on for this key, set high enough never to refuse.
	rpm, burst, daily := 1_000_000_000, 1_000_000, int64(1_000_000_000_000)
	_, secret, err := s.store.CreateKey(ctx, store.NewKey{Name: "bench", RPM: &rpm, Burst: &burst, DailyTokens: &daily})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s.http.Handler)
	return srv.URL, secret, func() {
		srv.Close()
		s.usage.Close(ctx)
		s.store.Close()
	}
}

// mockUpstream answers OpenAI chat completions like the shared bench kit's
// mock: n tokens of size bytes, usage, [DONE]; responses encoded once.
func mockUpstream(n, size int) http.Handler {
	tok := strings.Repeat("x", size-1) + " "
	var stream bytes.Buffer
	chunk := func(delta, finish, usage string) {
		fmt.Fprintf(&stream, `data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1,"model":"mock-model","choices":[{"index":0,"delta":%s,"finish_reason":%s}]%s}`+"\n\n", delta, finish, usage)
	}
	chunk(`{"role":"assistant","content":""}`, "null", "")
	for range n {
		chunk(fmt.Sprintf(`{"content":%q}`, tok), "null", "")
	}
	chunk(`{}`, `"stop"`, "")
	usage := fmt.Sprintf(`,"usage":{"prompt_tokens":12,"completion_tokens":%d,"total_tokens":%d}`, n, n+12)
	usageChunk := fmt.Sprintf(`data: {"id":"chatcmpl-mock","object":"chat.completion.chunk","created":1,"model":"mock-model","choices":[]%s}`+"\n\n", usage)
	events := bytes.SplitAfter(stream.Bytes(), []byte("\n\n"))
	whole := fmt.Sprintf(`{"id":"chatcmpl-mock","object":"chat.completion","created":1,"model":"mock-model","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}]%s}`,
		strings.Repeat(tok, n), usage)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !bytes.Contains(body, []byte(`"stream":true`)) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, whole)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for _, ev := range events {
			if len(ev) > 0 {
				w.Write(ev)
				f.Flush()
			}
		}
		if bytes.Contains(body, []byte(`"include_usage":true`)) {
			io.WriteString(w, usageChunk)
		}
		io.WriteString(w, "data: [DONE]\n\n")
		f.Flush()
	})
}

// bufferPool is an httputil.BufferPool of 32 KiB buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
