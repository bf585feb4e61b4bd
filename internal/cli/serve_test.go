package cli

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/store"
)

// startServe runs serveRun in the background on a free port with the demo
// model (words every delay) and returns its address, an API key, the
// context cancel that plays SIGINT, and the channel serveRun's error
// arrives on.
func startServe(t *testing.T, delay time.Duration) (string, string, context.CancelFunc, <-chan error) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "xjp.toml")
	os.WriteFile(file, []byte("[demo]\ndelay = \""+delay.String()+"\"\n[server]\nshutdown_grace = \"10s\"\n"), 0o600)
	cfg, err := config.Load(config.LoadOptions{File: file, DataDir: dir, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := openStore(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, secret, err := st.CreateKey(ctx, store.NewKey{Name: "test"})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	ios, _, _, _ := TestIO()
	ready := make(chan string, 1)
	opts := &serveOptions{
		IO: ios, Config: func() (*config.Config, error) { return cfg, nil }, Getenv: func(string) string { return "" },
		Now: time.Now, Listen: "127.0.0.1:0", Headless: true, Ready: func(addr string) { ready <- addr },
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- serveRun(sctx, opts) }()
	select {
	case addr := <-ready:
		return addr, secret, stop, done
	case err := <-done:
		t.Fatalf("serve ended early: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start")
	}
	panic("unreachable")
}

// SIGINT/SIGTERM stop accepting requests but let streams in flight finish,
// and serve returns nil (exit 0).
func TestServeGracefulShutdown(t *testing.T) {
	addr, key, stop, done := startServe(t, 20*time.Millisecond)
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions",
		strings.NewReader(`{"model":"demo","stream":true,"messages":[{"role":"user","content":"a long answer please"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() { // the stream has started
		t.Fatal("no first line")
	}
	stop() // SIGINT while the stream runs

	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) == 0 || lines[len(lines)-2] != "data: [DONE]" {
		t.Errorf("the stream in flight was cut: last lines %q", lines[max(0, len(lines)-3):])
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return after the stream ended")
	}
	// New connections are refused once it stopped.
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Error("server still accepting after shutdown")
	}
}
