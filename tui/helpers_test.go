package tui

import (
	"context"
	"fmt"
	"image/color"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/llm"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeSource serves a fixed snapshot and the events sent on its channel.
type fakeSource struct {
	mu     sync.Mutex
	snap   event.Snapshot
	events chan event.Event
	snaps  int
}

func newFakeSource(s event.Snapshot) *fakeSource {
	return &fakeSource{snap: s, events: make(chan event.Event, 1024)}
}

func (f *fakeSource) Snapshot(ctx context.Context) (event.Snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snaps++
	return f.snap, nil
}

func (f *fakeSource) Subscribe(ctx context.Context, fn func(event.Event)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-f.events:
			fn(ev)
		}
	}
}

func cost(c float64) *float64 { return &c }

// baseSnapshot is a gateway an hour into its day: four routes, spend by
// three keys on four models (one unpriced), two recent failures.
func baseSnapshot(now time.Time) event.Snapshot {
	return event.Snapshot{
		Listen:  "127.0.0.1:8080",
		Version: "v0.4.0",
		Started: now.Add(-62*time.Minute - 5*time.Second),
		Now:     now,
		Breakers: []event.BreakerStatus{
			{Route: "openrouter/anthropic/claude-sonnet-4.5", State: "closed", Requests: 40, Failures: 1},
			{Route: "clewdr/claude-sonnet-4-5", State: "closed", Requests: 12},
			{Route: "vertex/gemini-2.5-pro", State: "closed", Requests: 20, Failures: 2, ConsecutiveFailures: 2},
			{Route: "openrouter/openai/gpt-4o", State: "half-open", Requests: 3, Failures: 1, ConsecutiveFailures: 0},
		},
		Spend: []event.Spend{
			{Model: "claude-sonnet-4.5", KeyID: "k1", KeyName: "alice", Requests: 120, InputTokens: 310_000, CacheReadTokens: 1_200_000, OutputTokens: 84_000, CostUSD: 2.61},
			{Model: "claude-sonnet-4.5", KeyID: "k2", KeyName: "ci-bot", Requests: 40, Errors: 2, InputTokens: 90_000, OutputTokens: 12_000, CostUSD: 0.45},
			{Model: "gemini-2.5-pro", KeyID: "k1", KeyName: "alice", Requests: 30, InputTokens: 50_000, OutputTokens: 20_000, CostUSD: 0.26},
			{Model: "gpt-4o", KeyID: "k3", KeyName: "notebook", Requests: 8, InputTokens: 6_000, OutputTokens: 2_500, CostUSD: 0.04},
			{Model: "llama-3.3-70b", KeyID: "k3", KeyName: "notebook", Requests: 15, InputTokens: 20_000, OutputTokens: 9_000, Unpriced: 15},
		},
		Recent: []event.Request{
			{ID: "r-old2", KeyName: "ci-bot", Model: "gemini-2.5-pro", Provider: "vertex", UpstreamModel: "gemini-2.5-pro", Endpoint: "chat",
				Start: now.Add(-3 * time.Minute), Latency: 2 * time.Second, Status: 429, ErrorKind: llm.KindProviderRateLimited,
				ErrorMessage: "upstream rate limited: resource exhausted", Usage: llm.Usage{InputTokens: 900}},
			{ID: "r-old1", KeyName: "alice", Model: "claude-sonnet-4.5", Provider: "openrouter", UpstreamModel: "anthropic/claude-sonnet-4.5", Endpoint: "messages",
				Start: now.Add(-9 * time.Minute), Latency: 31 * time.Second, Status: 200, Usage: llm.Usage{InputTokens: 4000, OutputTokens: 1500}, CostUSD: cost(0.0345)},
		},
	}
}

// req is a request at the start of its life.
func req(id, keyName, model, provider, upstream string, start time.Time) *event.Request {
	return &event.Request{ID: id, KeyID: "id-" + keyName, KeyName: keyName, Endpoint: "chat", Model: model,
		Provider: provider, UpstreamModel: upstream, Stream: true, Start: start}
}

func started(r *event.Request) event.Event {
	c := *r
	return event.Event{Kind: event.RequestStarted, Time: r.Start, Request: &c}
}

func progress(r *event.Request, at time.Time, ttft time.Duration, tokens int64) event.Event {
	c := *r
	c.TTFT, c.OutputTokens = ttft, tokens
	return event.Event{Kind: event.RequestProgress, Time: at, Request: &c}
}

func finished(r *event.Request, at time.Time, status int, kind llm.Kind, msg string, u llm.Usage, c *float64) event.Event {
	f := *r
	f.Latency, f.Status, f.ErrorKind, f.ErrorMessage, f.Usage, f.CostUSD = at.Sub(r.Start), status, kind, msg, u, c
	f.OutputTokens = u.OutputTokens
	if f.TTFT == 0 && u.OutputTokens > 0 {
		f.TTFT = 400 * time.Millisecond
	}
	return event.Event{Kind: event.RequestFinished, Time: at, Request: &f}
}

func breakerEv(at time.Time, route, from, to, reason string) event.Event {
	return event.Event{Kind: event.BreakerChanged, Time: at, Breaker: &event.Breaker{Route: route, From: from, To: to, Reason: reason}}
}

// send delivers messages to m in order, like the program would.
func send(m Model, msgs ...tea.Msg) Model {
	for _, msg := range msgs {
		nm, _ := m.Update(msg)
		m = nm.(Model)
	}
	return m
}

func sendEvents(m Model, evs ...event.Event) Model {
	for _, ev := range evs {
		m = send(m, eventMsg(ev))
	}
	return m
}

// frame sizes m, ticks once and returns the screen without escape codes.
func frame(m Model, w, h int) (Model, string) {
	m = send(m, tea.WindowSizeMsg{Width: w, Height: h}, tickMsg(m.data.now()))
	return m, ansi.Strip(m.View().Content)
}

// keyPress builds a key press the way the terminal reports it.
func keyPress(s string) tea.KeyPressMsg {
	switch s {
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(s)
	if len(r) != 1 {
		panic(fmt.Sprintf("keyPress %q", s))
	}
	return tea.KeyPressMsg{Code: r[0], Text: s}
}

// keys presses keys in order; a command a key returns is run and its
// message delivered when it is one of the dashboard's own (details),
// as the program would.
func keys(m Model, ks ...string) Model {
	for _, k := range ks {
		nm, cmd := m.Update(keyPress(k))
		m = nm.(Model)
		if cmd == nil {
			continue
		}
		switch msg := cmd().(type) {
		case detailsReqMsg, detailsErrMsg, detailsBreakerMsg:
			m = send(m, msg)
		}
	}
	return m
}

// quits reports whether cmd is tea.Quit.
func quits(cmd tea.Cmd) bool {
	if cmd == nil {
		return false
	}
	_, ok := cmd().(tea.QuitMsg)
	return ok
}

// scenario is the dashboard in a busy moment: six streams in flight at
// various stages, two that just finished (one failed), a breaker that
// opened, a rejected reload, and logs.
func scenario(t testing.TB, withLogs bool) (Model, *clock) {
	t.Helper()
	clk := newClock()
	var logs *LogBuffer
	if withLogs {
		logs = NewLogBuffer(100)
		fmt.Fprintln(logs, `time=2026-11-20T14:29:01Z level=INFO msg="listening" addr=127.0.0.1:8080`)
		fmt.Fprintln(logs, `time=2026-11-20T14:29:40Z level=WARN msg="upstream retry" route=vertex/gemini-2.5-pro status=503 attempt=1`)
		fmt.Fprintln(logs, `time=2026-11-20T14:29:58Z level=WARN msg="breaker changed" route=vertex/gemini-2.5-pro from=closed to=open`)
		fmt.Fprintln(logs, `time=2026-11-20T14:29:59Z level=ERROR msg="config reload rejected" file=/home/dev/.config/xjp/xjp.toml`)
	}
	src := newFakeSource(baseSnapshot(t0.Add(-30 * time.Second)))
	m := NewModel(src, Options{Now: clk.Now, Logs: logs})
	start := t0.Add(-30 * time.Second)
	clk.t = start
	m = send(m, snapshotMsg{s: baseSnapshot(start)})

	a := req("r1", "alice", "claude-sonnet-4.5", "openrouter", "anthropic/claude-sonnet-4.5", start.Add(2*time.Second))
	b := req("r2", "ci-bot", "claude-sonnet-4.5", "clewdr", "claude-sonnet-4-5", start.Add(10*time.Second))
	c := req("r3", "alice", "gemini-2.5-pro", "vertex", "gemini-2.5-pro", start.Add(15*time.Second))
	d := req("r4", "notebook", "gpt-4o", "openrouter", "openai/gpt-4o", start.Add(20*time.Second))
	e := req("r5", "notebook", "llama-3.3-70b", "groq", "llama-3.3-70b-versatile", start.Add(24*time.Second))
	f := req("r6", "a-very-long-key-name-for-the-ci", "claude-sonnet-4.5", "", "", start.Add(29*time.Second))
	g := req("r7", "ci-bot", "gemini-2.5-pro", "vertex", "gemini-2.5-pro", start.Add(12*time.Second))
	h := req("r8", "alice", "claude-sonnet-4.5", "openrouter", "anthropic/claude-sonnet-4.5", start.Add(5*time.Second))

	clk.t = start.Add(25 * time.Second)
	m = sendEvents(m, started(a), started(h), started(b), started(g), started(c), started(d), started(e))
	m = sendEvents(m,
		progress(a, clk.t, 640*time.Millisecond, 1830),
		progress(b, clk.t, 1200*time.Millisecond, 410),
		progress(h, clk.t, 380*time.Millisecond, 2950),
		progress(d, clk.t, 900*time.Millisecond, 75),
	)
	clk.t = start.Add(28 * time.Second)
	m = sendEvents(m,
		finished(g, clk.t, 502, llm.KindProviderServer, "vertex: 503 Service Unavailable: the model is overloaded, please retry later (after 3 attempts)", llm.Usage{InputTokens: 1200}, cost(0)),
		breakerEv(clk.t, "vertex/gemini-2.5-pro", "closed", "open", "vertex: 503 Service Unavailable"),
		event.Event{Kind: event.ConfigReloaded, Time: clk.t, Reload: &event.Reload{File: "/home/dev/.config/xjp/xjp.toml", OK: false,
			Error: `models[2].routes[0]: unknown provider "openrouterr"`}},
	)
	clk.t = start.Add(29 * time.Second)
	m = sendEvents(m,
		started(f),
		finished(h, clk.t, 200, "", "", llm.Usage{InputTokens: 5200, CacheReadTokens: 18000, OutputTokens: 3120}, cost(0.0632)),
		progress(h, clk.t, 380*time.Millisecond, 3000), // late progress of a finished request: ignored
	)
	clk.t = t0
	return m, clk
}

// checkSize fails unless out is exactly h lines of exactly w cells.
func checkSize(t *testing.T, out string, w, h int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Errorf("%d lines, want %d", len(lines), h)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got != w {
			t.Errorf("line %d is %d cells wide, want %d: %q", i+1, got, w, l)
		}
	}
}

// event0 is the snapshot of a gateway that just started.
func event0() event.Snapshot {
	return event.Snapshot{Listen: "127.0.0.1:8080", Version: "v0.4.0", Started: t0.Add(-3 * time.Second), Now: t0,
		Breakers: []event.BreakerStatus{{Route: "demo/demo", State: "closed"}}}
}

// lightBackground is the terminal's answer to RequestBackgroundColor on a
// white terminal.
func lightBackground() tea.BackgroundColorMsg {
	return tea.BackgroundColorMsg{Color: color.White}
}
