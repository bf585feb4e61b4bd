package tui

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/llm"
)

func screen(m Model) string { return ansi.Strip(m.View().Content) }

func TestViewIsAltScreen(t *testing.T) {
	m, _ := scenario(t, false)
	m, _ = frame(m, 80, 24)
	if !m.View().AltScreen {
		t.Fatal("the root view must set AltScreen")
	}
}

func TestEventsDoNotRepaint(t *testing.T) {
	m, clk := scenario(t, false)
	m, before := frame(m, 80, 24)
	r := req("new", "bob", "brand-new-model", "demo", "demo", clk.Now())
	m = sendEvents(m, started(r))
	if got := screen(m); got != before {
		t.Fatal("an event repainted the screen; only the tick may")
	}
	_, after := frame(m, 80, 24)
	if !strings.Contains(after, "brand-new-model") {
		t.Fatalf("the tick did not show the new stream:\n%s", after)
	}
}

func TestQuitKeys(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		m, _ := scenario(t, false)
		_, cmd := m.Update(keyPress(k))
		if !quits(cmd) {
			t.Errorf("%s does not quit", k)
		}
	}
	// While typing a filter, q is a letter; ctrl+c still quits.
	m, _ := scenario(t, false)
	m = keys(m, "/")
	nm, cmd := m.Update(keyPress("q"))
	if quits(cmd) {
		t.Error("q quit while typing a filter")
	}
	m = nm.(Model)
	if m.st.filterEdit != "q" {
		t.Errorf("filter text %q, want q", m.st.filterEdit)
	}
	if _, cmd := m.Update(keyPress("ctrl+c")); !quits(cmd) {
		t.Error("ctrl+c does not quit while typing a filter")
	}
}

func TestRemoteQuitDetaches(t *testing.T) {
	m := NewModel(newFakeSource(event0()), Options{Now: newClock().Now, Remote: true})
	_, out := frame(m, 80, 24)
	if !strings.Contains(out, "q detach") || !strings.Contains(out, "REMOTE") {
		t.Fatalf("remote dashboard should say q detaches and REMOTE:\n%s", out)
	}
}

func TestPanelFocus(t *testing.T) {
	m, _ := scenario(t, true)
	m, _ = frame(m, 80, 24)
	want := []string{"Breakers", "Spend", "Errors", "Logs", "Streams", "Breakers"}
	for _, w := range want {
		m = keys(m, "tab")
		if got := m.st.panels[m.st.focus].Title(); got != w {
			t.Fatalf("tab: focus on %s, want %s", got, w)
		}
	}
	m = keys(m, "shift+tab", "shift+tab")
	if got := m.st.panels[m.st.focus].Title(); got != "Logs" {
		t.Fatalf("shift+tab twice from Breakers: focus on %s, want Logs", got)
	}
	// In the narrow layout the focused lower panel is the one shown, and it
	// stays shown when the focus goes back to the streams.
	m = keys(m, "shift+tab", "shift+tab") // Spend
	m, out := frame(m, 80, 24)
	if !strings.Contains(out, "tok/min") {
		t.Fatalf("spend panel not shown when focused:\n%s", out)
	}
	m = keys(m, "tab", "tab", "tab") // Errors, Logs, Streams
	if m.st.focus != 0 || m.st.panels[m.st.second].Title() != "Logs" {
		t.Fatalf("focus %d second %d", m.st.focus, m.st.second)
	}
}

func TestNavigationAndSelection(t *testing.T) {
	m, clk := scenario(t, false)
	m, _ = frame(m, 80, 24)
	m = keys(m, "j", "j", "down") // fourth row: r4, notebook gpt-4o
	if got := m.st.streams.selID; got != "r4" {
		t.Fatalf("selected %q, want r4", got)
	}
	m = keys(m, "k")
	if got := m.st.streams.selID; got != "r3" {
		t.Fatalf("selected %q, want r3", got)
	}
	// The selection follows its request when rows above it leave.
	r1 := m.data.inflight["r1"].r
	m = sendEvents(m, finished(&r1, clk.Now(), 200, "", "", llm.Usage{OutputTokens: 2000}, cost(0.01)))
	m, _ = frame(m, 80, 24)
	if got := m.st.streams.rows[m.st.streams.cur.pos].id; got != "r3" {
		t.Fatalf("cursor on %q after a row above left, want r3", got)
	}
	m = keys(m, "G")
	if m.st.streams.cur.pos != len(m.st.streams.rows)-1 {
		t.Fatal("G does not go to the last row")
	}
	m = keys(m, "g")
	if m.st.streams.cur.pos != 0 {
		t.Fatal("g does not go to the first row")
	}
}

func TestStreamDetailsOnEnter(t *testing.T) {
	m, _ := scenario(t, false)
	m, _ = frame(m, 80, 24)
	m = keys(m, "enter")
	if m.st.state != stateDetails {
		t.Fatal("enter on a stream does not open its details")
	}
	out := screen(m)
	for _, want := range []string{"Request r1", "in flight", "openrouter/anthropic/claude-sonnet-4.5", "out 1830 so far"} {
		if !strings.Contains(out, want) {
			t.Errorf("details lack %q:\n%s", want, out)
		}
	}
	m = keys(m, "esc")
	if m.st.state != stateDashboard {
		t.Fatal("esc does not close the details")
	}
}

func TestErrorDetailsOnEnter(t *testing.T) {
	m, _ := scenario(t, false)
	m, _ = frame(m, 80, 24)
	m = keys(m, "tab", "tab", "tab") // errors (no log panel)
	m = keys(m, "j", "enter")
	out := screen(m)
	for _, want := range []string{"Request r7", "502 provider_server", "please retry", "later (after 3 attempts)"} {
		if !strings.Contains(out, want) {
			t.Errorf("details lack %q:\n%s", want, out)
		}
	}
	// q quits from the details too; enter closes them.
	if _, cmd := m.Update(keyPress("q")); !quits(cmd) {
		t.Error("q does not quit from the details")
	}
	m = keys(m, "enter")
	if m.st.state != stateDashboard {
		t.Fatal("enter does not close the details")
	}
	// The first error is the rejected reload.
	m = keys(m, "k", "enter")
	if out := screen(m); !strings.Contains(out, `unknown provider "openrouterr"`) {
		t.Errorf("reload details lack the error:\n%s", out)
	}
}

func TestBreakerDetailsOnEnter(t *testing.T) {
	m, _ := scenario(t, false)
	m, _ = frame(m, 80, 24)
	m = keys(m, "tab", "enter")
	out := screen(m)
	for _, want := range []string{"Breaker vertex/gemini-2.5-pro", "✗ open", "503 Service Unavailable"} {
		if !strings.Contains(out, want) {
			t.Errorf("breaker details lack %q:\n%s", want, out)
		}
	}
}

func TestFilter(t *testing.T) {
	m, _ := scenario(t, false)
	m, _ = frame(m, 80, 24)
	m = keys(m, "/", "G", "E", "M")
	// Filtering applies while typing, case-insensitively.
	if n := len(m.st.streams.rows); n != 2 {
		t.Fatalf("%d rows match GEM, want 2", n)
	}
	for _, r := range m.st.streams.rows {
		if r.model != "gemini-2.5-pro" {
			t.Errorf("row %s (%s) does not match", r.id, r.model)
		}
	}
	m = keys(m, "backspace", "backspace", "backspace", "n", "o", "t", "e", "enter") // by key name
	if m.st.state != stateDashboard || m.st.filter != "note" {
		t.Fatalf("state %d filter %q", m.st.state, m.st.filter)
	}
	if n := len(m.st.streams.rows); n != 2 {
		t.Fatalf("%d rows for key notebook, want 2", n)
	}
	if n := len(m.st.spend.v.byModel); n != 2 {
		t.Errorf("spend shows %d models for notebook, want 2", n)
	}
	_, out := frame(m, 80, 24)
	if !strings.Contains(out, "/note (esc clears)") {
		t.Errorf("footer does not show the filter:\n%s", out)
	}
	m = keys(m, "esc")
	if m.st.filter != "" || len(m.st.streams.rows) != 8 {
		t.Fatalf("esc did not clear the filter: %q, %d rows", m.st.filter, len(m.st.streams.rows))
	}
	// esc while typing drops the filter.
	m = keys(m, "/", "x", "esc")
	if m.st.filter != "" || m.st.state != stateDashboard {
		t.Fatal("esc while typing does not clear")
	}
}

func TestPause(t *testing.T) {
	m, clk := scenario(t, false)
	m, _ = frame(m, 80, 24)
	m = keys(m, "p")
	if !m.st.paused {
		t.Fatal("p does not pause")
	}
	r := req("late", "bob", "paused-model", "demo", "demo", clk.Now())
	m = sendEvents(m, started(r))
	clk.Advance(time.Second)
	m, out := frame(m, 80, 24)
	if strings.Contains(out, "paused-model") {
		t.Fatal("a paused view showed a new stream")
	}
	if !strings.Contains(out, "PAUSED") || !strings.Contains(out, "in flight 7") {
		t.Fatalf("the header should stay live and say PAUSED:\n%s", out)
	}
	// Navigation still works on the frozen rows.
	m = keys(m, "j")
	if m.st.streams.selID != "r2" {
		t.Fatalf("selected %q, want r2", m.st.streams.selID)
	}
	m = keys(m, "p")
	if m.st.paused || !strings.Contains(screen(m), "paused-model") {
		t.Fatal("unpausing does not catch up")
	}
}

func TestHelpToggle(t *testing.T) {
	m, _ := scenario(t, false)
	m, _ = frame(m, 80, 24)
	m = keys(m, "?")
	if m.st.state != stateHelp || !strings.Contains(screen(m), "Legend") {
		t.Fatal("? does not show the help")
	}
	m = keys(m, "?")
	if m.st.state != stateDashboard {
		t.Fatal("? does not close the help")
	}
}

func TestResize(t *testing.T) {
	m, _ := scenario(t, true)
	for _, sz := range [][2]int{{80, 24}, {100, 30}, {120, 32}, {200, 60}, {60, 15}, {80, 24}} {
		m = send(m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		checkSize(t, screen(m), sz[0], sz[1]) // repainted at once, at the new size
	}
	m = send(m, tea.WindowSizeMsg{Width: 30, Height: 8})
	if out := screen(m); !strings.Contains(out, "terminal too small") {
		t.Fatalf("tiny terminal:\n%s", out)
	}
	// The wide layout tiles the panels; the narrow one shows tabs.
	m, out := frame(m, 160, 48)
	if !strings.Contains(out, " Breakers  1 open") || !strings.Contains(out, " Spend  today") {
		t.Errorf("wide layout should show every panel:\n%s", out)
	}
	_, out = frame(m, 80, 24)
	if !strings.Contains(out, "Errors (3)") {
		t.Errorf("narrow layout should show tabs with badges:\n%s", out)
	}
}

func TestLingeringRows(t *testing.T) {
	m, clk := scenario(t, false)
	m, _ = frame(m, 80, 24)
	if n := m.st.streams.done; n != 2 {
		t.Fatalf("%d finished rows linger, want 2", n)
	}
	clk.Advance(lingerFor - 2*time.Second) // r8 finished 1s before t0, r7 2s before
	m, _ = frame(m, 80, 24)
	if n := m.st.streams.done; n != 1 {
		t.Fatalf("%d finished rows after %v, want 1", n, lingerFor-2*time.Second)
	}
	clk.Advance(2 * time.Second)
	m, out := frame(m, 80, 24)
	if n := m.st.streams.done; n != 0 || strings.Contains(out, " 200") {
		t.Fatalf("finished rows still shown after %v:\n%s", lingerFor, out)
	}
	// At most lingerMax finished rows stay, the newest.
	for i := range lingerMax + 3 {
		r := req("burst"+itoa(i), "bob", "m", "demo", "demo", clk.Now())
		m = sendEvents(m, started(r), finished(r, clk.Now(), 200, "", "", llm.Usage{}, nil))
	}
	m, _ = frame(m, 80, 24)
	if n := m.st.streams.done; n != lingerMax {
		t.Fatalf("%d finished rows, want %d", n, lingerMax)
	}
	if got := m.st.streams.rows[len(m.st.streams.rows)-m.st.streams.done].id; got != "burst"+itoa(lingerMax+2) {
		t.Errorf("first finished row %s, want the newest", got)
	}
}

func TestStaleProgressIgnored(t *testing.T) {
	m, clk := scenario(t, false)
	// The scenario sent one progress for r8 after it finished.
	if m.data.ignored != 1 {
		t.Fatalf("ignored %d progress events, want 1", m.data.ignored)
	}
	if _, ok := m.data.inflight["r8"]; ok {
		t.Fatal("a late progress event resurrected a finished request")
	}
	// Unknown ids are ignored too; a finished event for one is fine.
	ghost := req("ghost", "bob", "ghost-model", "demo", "demo", clk.Now().Add(-time.Second))
	m = sendEvents(m, progress(ghost, clk.Now(), time.Millisecond, 99))
	if _, ok := m.data.inflight["ghost"]; ok || m.data.ignored != 2 {
		t.Fatal("progress for an unknown id was not ignored")
	}
	m = sendEvents(m, finished(ghost, clk.Now(), 200, "", "", llm.Usage{OutputTokens: 5}, nil))
	m, out := frame(m, 80, 24)
	if !strings.Contains(out, "ghost-model") {
		t.Fatalf("a finished event for an unknown id should linger like any:\n%s", out)
	}
	// An older progress update never lowers the count.
	r1 := m.data.inflight["r1"].r
	m = sendEvents(m, progress(&r1, clk.Now(), r1.TTFT, 10))
	if got := m.data.inflight["r1"].r.OutputTokens; got != 1830 {
		t.Fatalf("tokens went back to %d", got)
	}
}

func TestSourceErrorShown(t *testing.T) {
	m, _ := scenario(t, false)
	m = send(m, sourceErrMsg{err: errString("admin events: connection refused")})
	_, out := frame(m, 80, 24)
	if !strings.Contains(out, "⚠ admin events: connection refused") {
		t.Fatalf("source error not shown:\n%s", out)
	}
	// A good snapshot clears it.
	m = send(m, snapshotMsg{s: baseSnapshot(t0)})
	_, out = frame(m, 80, 24)
	if strings.Contains(out, "connection refused") {
		t.Fatal("the error outlived a good snapshot")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func TestTickFetchesSnapshots(t *testing.T) {
	clk := newClock()
	src := newFakeSource(event0())
	m := NewModel(src, Options{Now: clk.Now})
	m = send(m, snapshotMsg{s: event0()}) // the Init fetch came back
	fetched := func(cmd tea.Cmd) bool {
		return findMsg(cmd, func(msg tea.Msg) bool { _, ok := msg.(snapshotMsg); return ok })
	}
	_, cmd := m.Update(tickMsg(clk.Now()))
	if fetched(cmd) {
		t.Fatal("fetched again right after a snapshot")
	}
	clk.Advance(refreshEvery)
	_, cmd = m.Update(tickMsg(clk.Now()))
	if !fetched(cmd) {
		t.Fatal("no snapshot after refreshEvery")
	}
	m = send(m, snapshotMsg{s: event0()})
	// A breaker change asks for one sooner.
	m = sendEvents(m, breakerEv(clk.Now(), "demo/demo", "closed", "open", "boom"))
	clk.Advance(refreshSoon)
	_, cmd = m.Update(tickMsg(clk.Now()))
	if !fetched(cmd) {
		t.Fatal("no early snapshot after a breaker change")
	}
}

// findMsg runs cmd (and the commands of a batch) and reports whether one
// produced a message ok accepts. Ticks are skipped: they would wait.
func findMsg(cmd tea.Cmd, ok func(tea.Msg) bool) bool {
	if cmd == nil {
		return false
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-done:
	case <-time.After(50 * time.Millisecond):
		return false // a tick
	}
	if b, isBatch := msg.(tea.BatchMsg); isBatch {
		for _, c := range b {
			if findMsg(c, ok) {
				return true
			}
		}
		return false
	}
	return ok(msg)
}

func TestBackgroundColour(t *testing.T) {
	m, _ := scenario(t, false)
	m, _ = frame(m, 80, 24)
	dark := m.View().Content
	m = send(m, lightBackground())
	if m.View().Content == dark {
		t.Fatal("a light background did not restyle the screen")
	}
	if ansi.Strip(m.View().Content) != ansi.Strip(dark) {
		t.Fatal("restyling changed the text")
	}
}

func TestSnapshotReconciles(t *testing.T) {
	m, clk := scenario(t, false)
	// r2 finished but its event was lost; r9 started before we subscribed.
	s := baseSnapshot(clk.Now())
	for _, id := range []string{"r1", "r3", "r4", "r5", "r6"} {
		s.Inflight = append(s.Inflight, m.data.inflight[id].r)
	}
	s.Inflight = append(s.Inflight, *req("r9", "dave", "gpt-4o", "openrouter", "openai/gpt-4o", clk.Now().Add(-40*time.Second)))
	s.Inflight = append(s.Inflight, *req("r8", "alice", "x", "", "", clk.Now().Add(-time.Minute))) // finished already
	m = send(m, snapshotMsg{s: s})
	if _, ok := m.data.inflight["r2"]; ok {
		t.Error("r2, missing from the snapshot, is still in flight")
	}
	if _, ok := m.data.inflight["r9"]; !ok {
		t.Error("r9 from the snapshot is not followed")
	}
	if _, ok := m.data.inflight["r8"]; ok {
		t.Error("the snapshot resurrected r8, which finished")
	}
	m, _ = frame(m, 80, 24)
	if got := m.st.streams.rows[0].id; got != "r9" {
		t.Errorf("first row %s, want r9 (oldest)", got)
	}
}

func TestSpendLiveAndNotDoubleCounted(t *testing.T) {
	clk := newClock()
	s := event0()
	s.Spend = []event.Spend{{Model: "demo", KeyID: "k", KeyName: "dev", Requests: 10, InputTokens: 1000, OutputTokens: 500, CostUSD: 1}}
	m := NewModel(newFakeSource(s), Options{Now: clk.Now})
	m = send(m, snapshotMsg{s: s})
	clk.Advance(time.Second)
	r := &event.Request{ID: "x", KeyID: "k", KeyName: "dev", Model: "demo", Start: clk.Now()}
	m = sendEvents(m, started(r), finished(r, clk.Now(), 200, "", "", llm.Usage{InputTokens: 100, OutputTokens: 50}, cost(0.5)))
	m, _ = frame(m, 80, 24)
	if got := m.st.spend.v.total; got.requests != 11 || got.in != 1100 || got.cost != 1.5 {
		t.Fatalf("live spend %+v", got)
	}
	// The next snapshot includes it: it is not counted twice.
	s.Now = clk.Now()
	s.Spend[0].Requests, s.Spend[0].InputTokens, s.Spend[0].OutputTokens, s.Spend[0].CostUSD = 11, 1100, 550, 1.5
	m = send(m, snapshotMsg{s: s})
	m, _ = frame(m, 80, 24)
	if got := m.st.spend.v.total; got.requests != 11 || got.cost != 1.5 {
		t.Fatalf("spend after a snapshot %+v", got)
	}
	// An unpriced request flags its model.
	clk.Advance(time.Second)
	u := &event.Request{ID: "y", KeyName: "dev", Model: "mystery", Start: clk.Now()}
	m = sendEvents(m, started(u), finished(u, clk.Now(), 200, "", "", llm.Usage{InputTokens: 10}, nil))
	m, out := frame(m, 160, 48)
	if !strings.Contains(out, "unpriced") || !strings.Contains(out, "$1.50?") {
		t.Fatalf("unpriced model not flagged:\n%s", out)
	}
}

func TestMemoryBoundedWhilePausedAndWithoutSnapshots(t *testing.T) {
	m, clk := scenario(t, false)
	m, _ = frame(m, 80, 24)
	m = keys(m, "p")
	for i := range 5000 {
		r := req("p"+itoa(i), "bob", "m", "demo", "demo", clk.Now())
		m = sendEvents(m, started(r), finished(r, clk.Now(), 200, "", "", llm.Usage{InputTokens: 1}, cost(0.001)))
		if i%100 == 0 {
			clk.Advance(time.Second)
			m = send(m, tickMsg(clk.Now()))
		}
	}
	m = send(m, tickMsg(clk.Now()))
	if n := len(m.data.order); n > 2*len(m.data.inflight)+64 {
		t.Errorf("arrival order holds %d entries for %d in flight", n, len(m.data.inflight))
	}
	if n := len(m.data.overlay); n > 100*int(overlayKeep/time.Second)+100 {
		t.Errorf("spend overlay holds %d entries", n)
	}
	if n := len(m.data.gone); n > goneMax {
		t.Errorf("gone holds %d ids", n)
	}
	// Nothing was lost from the totals.
	m = keys(m, "p")
	if got := m.st.spend.v.total.requests; got != 213+5000+2 {
		t.Errorf("spend counts %d requests", got)
	}
}
