package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/config"
)

// tailer runs xjp tail in the background.
type tailer struct {
	out, errOut *obsBuffer
	cancel      context.CancelFunc
	done        chan error
	connects    atomic.Int64
}

func startTail(t *testing.T, s *obsServer, mod func(*tailOptions), tty bool) *tailer {
	t.Helper()
	tl := &tailer{out: &obsBuffer{}, errOut: &obsBuffer{}, done: make(chan error, 1)}
	ios := &IOStreams{Out: tl.out, ErrOut: tl.errOut}
	ios.SetStdoutTTY(tty)
	opts := &tailOptions{
		IO: ios, Config: func() (*config.Config, error) {
			cfg := *s.cfg
			cfg.Server.Listen = s.addr // what the server's config says it listens on
			return &cfg, nil
		},
		Location: time.UTC, MinBackoff: 10 * time.Millisecond,
		onConnect: func() { tl.connects.Add(1) },
	}
	if mod != nil {
		mod(opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tl.cancel = cancel
	go func() { tl.done <- tailRun(ctx, opts) }()
	t.Cleanup(cancel)
	return tl
}

// stop plays Ctrl-C and returns tail's error.
func (tl *tailer) stop(t *testing.T) error {
	t.Helper()
	tl.cancel()
	select {
	case err := <-tl.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("tail did not stop on Ctrl-C")
	}
	return nil
}

func (tl *tailer) lines() []string {
	s := strings.TrimRight(tl.out.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var (
	tailTimeRE    = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)
	tailLatencyRE = regexp.MustCompile(`\b\d+(ms|\.\d\ds)\b`)
	ansiRE        = regexp.MustCompile("\x1b\\[[0-9;]*m")
)

// normalizeTail replaces times and durations, which vary.
func normalizeTail(line string) string {
	line = tailTimeRE.ReplaceAllString(line, "TIME")
	return tailLatencyRE.ReplaceAllString(line, "DUR")
}

// xjp tail against a live server: three requests, one failing, as text,
// as JSON and coloured on a terminal, with filters.
func TestTail(t *testing.T) {
	s := startObs(t, obsOptions{toml: demoConfig})
	plain := startTail(t, s, nil, false)
	jsonl := startTail(t, s, func(o *tailOptions) { o.JSON = true }, false)
	tty := startTail(t, s, nil, true)
	errorsOnly := startTail(t, s, func(o *tailOptions) { o.Errors = true }, false)
	okOnly := startTail(t, s, func(o *tailOptions) { o.Status = "2xx"; o.Key = "test"; o.Model = "demo" }, false)
	// Wait until every tail follows the server.
	obsWait(t, 5*time.Second, "tails connected", func() bool {
		return plain.connects.Load() == 1 && jsonl.connects.Load() == 1 && tty.connects.Load() == 1 && errorsOnly.connects.Load() == 1 && okOnly.connects.Load() == 1
	})

	if code, _ := s.post(t, "/v1/chat/completions", chatBody("Hello", true)); code != 200 {
		t.Fatalf("stream: %d", code)
	}
	if code, _ := s.post(t, "/v1/messages", `{"model":"demo","max_tokens":100,"messages":[{"role":"user","content":"Hi there"}]}`); code != 200 {
		t.Fatalf("messages: %d", code)
	}
	if code, _ := s.post(t, "/v1/chat/completions", chatBody("xjp:fail=500", false)); code != 502 {
		t.Fatalf("failing request: %d", code)
	}
	obsWait(t, 5*time.Second, "three lines", func() bool { return len(plain.lines()) == 3 && len(jsonl.lines()) == 3 && len(tty.lines()) == 3 })

	want := []string{
		"TIME  200  demo → demo/demo  test  DUR  ttft DUR  in 5  out 26  $0.000000",
		"TIME  200  demo → demo/demo  test  DUR  ttft DUR  in 6  out 27  $0.000000",
		"TIME  502  demo → demo/demo  test  DUR  ttft -  in 0  out 0  $0.000000  provider_server: demo: demo failure 500 requested by the prompt (after 3 attempts)",
	}
	got := plain.lines()
	for i := range want {
		if normalizeTail(got[i]) != want[i] {
			t.Errorf("line %d:\n got %q\nwant %q", i, normalizeTail(got[i]), want[i])
		}
	}

	var recs []tailRecord
	for _, l := range jsonl.lines() {
		var r tailRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		recs = append(recs, r)
	}
	if r := recs[0]; r.Status != 200 || r.Endpoint != "chat" || !r.Stream || r.Model != "demo" || r.Provider != "demo" || r.Key != "test" ||
		r.InputTokens != 5 || r.OutputTokens != 26 || r.LatencyMS <= 0 || r.TTFTMS <= 0 || r.RequestID == "" || r.CostUSD == nil {
		t.Errorf("json line 1: %+v", r)
	}
	if r := recs[1]; r.Endpoint != "messages" || r.Stream {
		t.Errorf("json line 2: %+v", r)
	}
	if r := recs[2]; r.Status != 502 || r.ErrorKind != "provider_server" || !strings.Contains(r.Error, "demo failure 500") {
		t.Errorf("json line 3: %+v", r)
	}

	// On a terminal: the same line, coloured, local time.
	tl := tty.lines()
	if !strings.Contains(tl[0], "\x1b[32m200") || !strings.Contains(tl[2], "\x1b[31m502") {
		t.Errorf("terminal lines not coloured: %q", tl)
	}
	if plainTTY := ansiRE.ReplaceAllString(tl[0], ""); !regexp.MustCompile(`^\d\d:\d\d:\d\d  200  demo → demo/demo  test `).MatchString(plainTTY) {
		t.Errorf("terminal line: %q", plainTTY)
	}

	obsWait(t, 5*time.Second, "filtered tails", func() bool { return len(errorsOnly.lines()) == 1 && len(okOnly.lines()) == 2 })
	if l := errorsOnly.lines()[0]; !strings.Contains(l, "  502  ") {
		t.Errorf("--errors: %q", l)
	}

	for _, tl := range []*tailer{plain, jsonl, tty, errorsOnly, okOnly} {
		if err := tl.stop(t); err != nil {
			t.Errorf("tail after Ctrl-C: %v, want nil (exit 0)", err)
		}
		if e := tl.errOut.String(); e != "" {
			t.Errorf("tail stderr: %q", e)
		}
	}
	// Only the finished requests were sent to the tails, not every event.
	if got := len(plain.lines()); got != 3 {
		t.Errorf("after stop: %d lines", got)
	}
}

// xjp tail reconnects when the server restarts and prints a notice.
func TestTailReconnects(t *testing.T) {
	dir := t.TempDir()
	s := startObs(t, obsOptions{toml: demoConfig, dir: dir})
	tl := startTail(t, s, nil, false)
	obsWait(t, 5*time.Second, "tail connected", func() bool { return tl.connects.Load() == 1 })
	s.post(t, "/v1/chat/completions", chatBody("before", false))
	obsWait(t, 5*time.Second, "first line", func() bool { return len(tl.lines()) == 1 })

	s.close() // the server restarts on the same address
	obsWait(t, 5*time.Second, "the notice", func() bool { return strings.Contains(tl.errOut.String(), "lost the connection") })
	s2 := startObs(t, obsOptions{toml: demoConfig, dir: dir, listen: s.addr})
	s2.key = s.key
	obsWait(t, 10*time.Second, "tail reconnected", func() bool { return tl.connects.Load() == 2 })
	s2.post(t, "/v1/chat/completions", chatBody("after", false))
	obsWait(t, 5*time.Second, "second line", func() bool { return len(tl.lines()) == 2 })
	if err := tl.stop(t); err != nil {
		t.Errorf("tail: %v", err)
	}
	if e := tl.errOut.String(); !strings.Contains(e, "xjp tail: lost the connection to http://"+s.addr) || !strings.Contains(e, "xjp tail: reconnected") {
		t.Errorf("stderr: %q", e)
	}
}

func TestTailFlags(t *testing.T) {
	f := NewFactory(&IOStreams{})
	var got *tailOptions
	cmd := newCmdTail(f, func(o *tailOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--model", "demo", "--key", "ci", "--status", "5xx", "--errors", "--json", "--addr", "h:1", "--token", "t"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Model != "demo" || got.Key != "ci" || got.Status != "5xx" || !got.Errors || !got.JSON || got.Addr != "h:1" || got.Token != "t" {
		t.Errorf("options: %+v", got)
	}
	for _, bad := range []string{"abc", "600", "5x", "2000"} {
		cmd := newCmdTail(f, func(*tailOptions) error { return nil })
		cmd.SetArgs([]string{"--status", bad})
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); err == nil {
			t.Errorf("--status %s accepted", bad)
		}
	}
	if dialAddr("0.0.0.0:8080") != "127.0.0.1:8080" || dialAddr(":9") != "127.0.0.1:9" || dialAddr("[::]:8080") != "[::1]:8080" || dialAddr("10.0.0.1:80") != "10.0.0.1:80" {
		t.Error("dialAddr")
	}
}
