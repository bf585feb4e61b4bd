package cli

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/store"
)

// obsBuffer is a bytes.Buffer safe for a server writing while a test reads.
type obsBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *obsBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *obsBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// obsServer is `xjp serve` running in the test process (serveRun).
type obsServer struct {
	addr   string // host:port
	key    string // an API key
	dir    string // the data directory
	file   string // the config file
	env    map[string]string
	logs   *obsBuffer // stderr: the logs
	stop   context.CancelFunc
	done   <-chan error
	cfg    *config.Config
	stdout *obsBuffer
	once   sync.Once
	err    error // what serveRun returned
}

// obsOptions configure startObs.
type obsOptions struct {
	toml      string            // the config file's contents
	env       map[string]string // the environment
	listen    string            // default 127.0.0.1:0
	dir       string            // data dir (default: a new temp dir)
	logLevel  string
	logFormat string
	tracing   *tracing
}

func (o obsOptions) getenv(k string) string { return o.env[k] }

// startObs starts a server and waits until it listens. It is stopped at
// the end of the test.
func startObs(t *testing.T, o obsOptions) *obsServer {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	if o.listen == "" {
		o.listen = "127.0.0.1:0"
	}
	file := filepath.Join(o.dir, "xjp.toml")
	if err := os.WriteFile(file, []byte(o.toml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.LoadOptions{File: file, DataDir: o.dir, Getenv: o.getenv})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var secret string
	if ks, _ := st.ListKeys(ctx, store.KeyFilter{Name: "test"}); len(ks) == 0 {
		_, secret, err = st.CreateKey(ctx, store.NewKey{Name: "test"})
		if err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	logs, stdout := &obsBuffer{}, &obsBuffer{}
	ios := &IOStreams{In: strings.NewReader(""), Out: stdout, ErrOut: logs}
	ready := make(chan string, 1)
	opts := &serveOptions{
		IO: ios, Config: func() (*config.Config, error) { return cfg, nil }, Getenv: o.getenv,
		Now: time.Now, Listen: o.listen, Headless: true, LogLevel: o.logLevel, LogFormat: o.logFormat,
		Ready: func(addr string) { ready <- addr }, Tracing: o.tracing,
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- serveRun(sctx, opts) }()
	s := &obsServer{key: secret, dir: o.dir, file: file, env: o.env, logs: logs, stop: stop, done: done, cfg: cfg, stdout: stdout}
	select {
	case s.addr = <-ready:
	case err := <-done:
		t.Fatalf("serve ended early: %v\n%s", err, logs)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	t.Cleanup(s.close)
	return s
}

// close stops the server and waits for it (once).
func (s *obsServer) close() {
	s.once.Do(func() {
		s.stop()
		select {
		case s.err = <-s.done:
		case <-time.After(15 * time.Second):
			s.err = context.DeadlineExceeded
		}
	})
}

// post sends a request with the API key and returns the status and body.
func (s *obsServer) post(t *testing.T, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// chatBody is a chat request for the demo model.
func chatBody(prompt string, stream bool) string {
	s := "false"
	if stream {
		s = "true"
	}
	return `{"model":"demo","stream":` + s + `,"messages":[{"role":"user","content":"` + prompt + `"}]}`
}

// obsWait polls cond until it holds or d passes.
func obsWait(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// demoConfig is a config with the demo model streaming at once.
const demoConfig = "[demo]\ndelay = \"0s\"\n[server]\nshutdown_grace = \"5s\"\n"
