package tui

import (
	"context"
	"errors"
	"fmt"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/rickyjim626/xjp/internal/event"
)

// Source is where the dashboard's data comes from: in-process (the broker
// of the running server) or remote (the admin API of another server).
type Source interface {
	// Snapshot returns the gateway's state now.
	Snapshot(ctx context.Context) (event.Snapshot, error)
	// Subscribe calls fn for each event until ctx ends or the source
	// fails; remote sources reconnect inside. fn is called from one
	// goroutine at a time.
	Subscribe(ctx context.Context, fn func(event.Event)) error
}

// BrokerSource is the in-process Source: events from the running server's
// broker, snapshots from a function of the server (it knows the listen
// address, the breakers and today's spend; the broker does not).
type BrokerSource struct {
	Broker *event.Broker
	// SnapshotFunc builds the snapshot.
	SnapshotFunc func(ctx context.Context) (event.Snapshot, error)
}

var _ Source = (*BrokerSource)(nil)

// Snapshot calls SnapshotFunc.
func (s *BrokerSource) Snapshot(ctx context.Context) (event.Snapshot, error) {
	if s.SnapshotFunc == nil {
		return event.Snapshot{}, errors.New("tui: no snapshot function")
	}
	return s.SnapshotFunc(ctx)
}

// Subscribe follows the broker until ctx ends; it then returns ctx.Err().
func (s *BrokerSource) Subscribe(ctx context.Context, fn func(event.Event)) error {
	sub := s.Broker.Subscribe()
	defer sub.Close()
	for {
		ev, ok := sub.Next(ctx.Done())
		if !ok {
			return ctx.Err()
		}
		fn(ev)
	}
}

// sender is the part of *tea.Program the forwarder needs.
type sender interface{ Send(tea.Msg) }

// Messages from the forwarder.
type (
	// eventMsg is one event from the source.
	eventMsg event.Event
	// sourceErrMsg says Subscribe failed (it is retried).
	sourceErrMsg struct{ err error }
)

// Retry delays after Subscribe fails.
const (
	retryMin = 500 * time.Millisecond
	retryMax = 10 * time.Second
)

// forward is the one goroutine through which outside events enter the
// program (house rule 14): it subscribes to src and hands every event to
// p.Send, which blocks while the program is busy, so the source's own
// buffers absorb bursts (and its lossy queue sheds progress events, never
// the gateway). When Subscribe fails it tells the program and retries with
// backoff until ctx ends.
func forward(ctx context.Context, src Source, p sender) {
	defer func() {
		if r := recover(); r != nil {
			p.Send(sourceErrMsg{fmt.Errorf("event forwarder panicked: %v", r)})
		}
	}()
	wait := retryMin
	for ctx.Err() == nil {
		start := time.Now()
		err := src.Subscribe(ctx, func(ev event.Event) { p.Send(eventMsg(ev)) })
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("event stream ended")
		}
		p.Send(sourceErrMsg{err})
		if time.Since(start) > retryMax {
			wait = retryMin // it worked for a while: start over
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(wait*2, retryMax)
	}
}
