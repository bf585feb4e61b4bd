package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/store"
)

// serveWith runs serveRun with the given config file text in dir (shared
// between instances when the same dir is given) and returns its address
// and a stop func that waits for it to end.
func serveWith(t *testing.T, dir, toml string) (string, func()) {
	t.Helper()
	file := filepath.Join(dir, "xjp.toml")
	if err := os.WriteFile(file, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{File: file, DataDir: dir, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := TestIO()
	ready := make(chan string, 1)
	opts := &serveOptions{IO: ios, Config: func() (*config.Config, error) { return cfg, nil }, Getenv: func(string) string { return "" },
		Now: time.Now, Listen: "127.0.0.1:0", Headless: true, Ready: func(addr string) { ready <- addr }}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveRun(ctx, opts) }()
	select {
	case addr := <-ready:
		return addr, func() { stop(); <-done }
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	panic("unreachable")
}

func createKey(t *testing.T, dir string, nk store.NewKey) string {
	t.Helper()
	st, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: filepath.Join(dir, "xjp.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, secret, err := st.CreateKey(context.Background(), nk)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func chat(t *testing.T, addr, key, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

const hello = `{"model":"demo","messages":[{"role":"user","content":"Hello"}]}`

func ptr[T any](v T) *T { return &v }

func TestRateLimitOverHTTP(t *testing.T) {
	dir := t.TempDir()
	key := createKey(t, dir, store.NewKey{Name: "limited", RPM: ptr(2), Burst: ptr(2)})
	other := createKey(t, dir, store.NewKey{Name: "other", RPM: ptr(2), Burst: ptr(2)})
	addr, stop := serveWith(t, dir, "[demo]\ndelay = \"0s\"\n")
	defer stop()

	for i := range 2 {
		if resp, body := chat(t, addr, key, hello); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := chat(t, addr, key, hello)
	if resp.StatusCode != 429 {
		t.Fatalf("third request: %d %s, want 429", resp.StatusCode, body)
	}
	if !strings.Contains(body, `"type":"rate_limit_error"`) || !strings.Contains(body, "rate limit of 2 requests per minute") {
		t.Errorf("body %s", body)
	}
	h := resp.Header
	if h.Get("Retry-After") == "" || h.Get("X-Ratelimit-Limit-Requests") != "2" || h.Get("X-Ratelimit-Remaining-Requests") != "0" || h.Get("X-Ratelimit-Reset-Requests") == "" {
		t.Errorf("headers %v", h)
	}
	// Another key has its own bucket.
	if resp, body := chat(t, addr, other, hello); resp.StatusCode != 200 {
		t.Errorf("other key: %d %s", resp.StatusCode, body)
	}
}

func TestDailyQuotaOverHTTP(t *testing.T) {
	dir := t.TempDir()
	key := createKey(t, dir, store.NewKey{Name: "quota", DailyTokens: ptr(int64(20))})
	addr, stop := serveWith(t, dir, "[demo]\ndelay = \"0s\"\n")
	defer stop()

	// A stream that crosses the quota ends cleanly: finish reason length,
	// the usage chunk, [DONE] — not a cut.
	long := `{"model":"demo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"` +
		"Hi" + `"}]}`
	resp, body := chat(t, addr, key, long)
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `"finish_reason":"length"`) || !strings.Contains(body, `"choices":[],"usage":{`) || !strings.HasSuffix(body, "data: [DONE]\n\n") {
		t.Errorf("stream over quota did not end cleanly:\n%s", body)
	}
	// The next request is refused: the day's tokens are spent.
	resp, body = chat(t, addr, key, hello)
	if resp.StatusCode != 429 || !strings.Contains(body, `"code":"insufficient_quota"`) || !strings.Contains(body, "daily token quota of 20 tokens") {
		t.Fatalf("over quota: %d %s", resp.StatusCode, body)
	}
}

// Two gateway instances sharing one Redis hold a key's combined rate to its
// limit.
func TestRateLimitSharedByReplicas(t *testing.T) {
	addr := "127.0.0.1:6379"
	if c, err := net.DialTimeout("tcp", addr, time.Second); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI: no Redis at %s: %v", addr, err)
		}
		t.Skipf("no Redis at %s", addr)
	} else {
		c.Close()
	}
	var b [6]byte
	rand.Read(b[:])
	prefix := "xjptest:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		rc := redis.NewClient(&redis.Options{Addr: addr})
		defer rc.Close()
		ctx := context.Background()
		keys, _ := rc.Keys(ctx, prefix+"*").Result()
		if len(keys) > 0 {
			rc.Del(ctx, keys...)
		}
	})

	dir := t.TempDir()
	key := createKey(t, dir, store.NewKey{Name: "shared", RPM: ptr(60), Burst: ptr(10)})
	toml := "[demo]\ndelay = \"0s\"\n[redis]\nurl = \"redis://" + addr + "\"\nprefix = \"" + prefix + "\"\n"
	a, stopA := serveWith(t, dir, toml)
	defer stopA()
	bAddr, stopB := serveWith(t, dir, toml)
	defer stopB()

	admitted := 0
	for i := range 40 {
		target := a
		if i%2 == 1 {
			target = bAddr
		}
		resp, _ := chat(t, target, key, hello)
		if resp.StatusCode == 200 {
			admitted++
		} else if resp.StatusCode != 429 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// A burst of 10, plus at most one refill (a request per second) during
	// the run.
	if admitted < 10 || admitted > 11 {
		t.Errorf("two replicas admitted %d of 40 requests; the key's burst is 10", admitted)
	}
}
