package tui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/rickyjim626/xjp/internal/event"
)

func TestBrokerSource(t *testing.T) {
	b := event.NewBroker()
	src := &BrokerSource{Broker: b, SnapshotFunc: func(context.Context) (event.Snapshot, error) {
		return event.Snapshot{Listen: "x"}, nil
	}}
	if s, err := src.Snapshot(context.Background()); err != nil || s.Listen != "x" {
		t.Fatalf("Snapshot = %+v, %v", s, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan event.Event, 10)
	done := make(chan error, 1)
	go func() { done <- src.Subscribe(ctx, func(ev event.Event) { got <- ev }) }()
	for !b.HasSubscribers() {
		time.Sleep(time.Millisecond)
	}
	b.PublishMustDeliver(event.Event{Kind: event.RequestStarted, Request: &event.Request{ID: "a"}})
	if ev := <-got; ev.Request.ID != "a" {
		t.Fatalf("got %+v", ev)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Subscribe returned %v", err)
	}
	if b.HasSubscribers() {
		t.Fatal("the subscription was not closed")
	}
}

// recorder is a fake program.
type recorder struct {
	mu   sync.Mutex
	msgs []tea.Msg
}

func (r *recorder) Send(msg tea.Msg) {
	r.mu.Lock()
	r.msgs = append(r.msgs, msg)
	r.mu.Unlock()
}

func (r *recorder) count() (events, errs int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.msgs {
		switch m.(type) {
		case eventMsg:
			events++
		case sourceErrMsg:
			errs++
		}
	}
	return events, errs
}

// flakySource delivers one event and fails, every time.
type flakySource struct{ calls int }

func (f *flakySource) Snapshot(context.Context) (event.Snapshot, error) { return event.Snapshot{}, nil }

func (f *flakySource) Subscribe(ctx context.Context, fn func(event.Event)) error {
	f.calls++
	fn(event.Event{Kind: event.ConfigReloaded, Reload: &event.Reload{OK: true}})
	return errors.New("connection reset")
}

func TestForwardRetries(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), retryMin+retryMin/2)
	defer cancel()
	rec := &recorder{}
	src := &flakySource{}
	forward(ctx, src, rec) // returns when ctx ends
	events, errs := rec.count()
	if src.calls < 2 || events != src.calls || errs != src.calls {
		t.Fatalf("calls %d, events %d, errors %d; want a retry after %v and every event and failure forwarded", src.calls, events, errs, retryMin)
	}
}

// panicSource panics inside Subscribe.
type panicSource struct{}

func (panicSource) Snapshot(context.Context) (event.Snapshot, error) { return event.Snapshot{}, nil }

func (panicSource) Subscribe(context.Context, func(event.Event)) error { panic("boom") }

func TestForwardRecovers(t *testing.T) {
	rec := &recorder{}
	forward(context.Background(), panicSource{}, rec)
	if _, errs := rec.count(); errs != 1 {
		t.Fatal("a panic in the source was not reported")
	}
}

// TestRun runs the real program on pipes: it starts, forwards events and
// returns nil when the user presses q, and also when ctx ends.
func TestRun(t *testing.T) {
	src := newFakeSource(event0())
	in, inW := io.Pipe()
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), src, Options{Input: in, Output: &syncWriter{w: &out}})
	}()
	src.events <- started(req("r1", "bob", "m", "demo", "demo", time.Now()))
	time.Sleep(300 * time.Millisecond)
	inW.Write([]byte("q"))
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after q: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after q")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	in2, _ := io.Pipe()
	if err := Run(ctx, src, Options{Input: in2, Output: io.Discard}); err != nil {
		t.Fatalf("Run after ctx ended: %v", err)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
