package tui

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"
)

// TestProgramFlow runs the whole program with teatest: it starts, a stream
// appears and progresses, a breaker opens, the user quits. Events come
// through the same forwarder Run uses.
func TestProgramFlow(t *testing.T) {
	now := time.Now()
	snap := event0()
	snap.Started, snap.Now = now.Add(-time.Minute), now
	src := newFakeSource(snap)
	tm := teatest.NewTestModel(t, NewModel(src, Options{}), teatest.WithInitialTermSize(100, 30))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go forward(ctx, src, tm.GetProgram())

	waitFor := func(s string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(s)) },
			teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}

	waitFor("127.0.0.1:8080") // the snapshot arrived

	r := req("flow-1", "flow-key", "flow-model-x", "flowprov", "upstream-x", time.Now())
	src.events <- started(r)
	waitFor("flow-model-x")

	src.events <- progress(r, time.Now(), 300*time.Millisecond, 4321)
	waitFor("4321")

	src.events <- breakerEv(time.Now(), "otherprov/model-gone-bad", "closed", "open", "upstream 503")
	waitFor("otherprov/model-gone-bad")

	tm.Send(tea.KeyPressMsg{Code: 'q', Text: "q"})
	fm, ok := tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(Model)
	if !ok {
		t.Fatal("final model is not a Model")
	}
	if st := fm.data.breakers["otherprov/model-gone-bad"]; st == nil || st.State != "open" {
		t.Fatalf("breaker state %+v", st)
	}
	final := screen(fm)
	for _, want := range []string{"flow-model-x → flowprov/upstream-x", "4321", "✗ open   otherprov/model-gone-bad"} {
		if !strings.Contains(final, want) {
			t.Errorf("final screen lacks %q:\n%s", want, final)
		}
	}
}
