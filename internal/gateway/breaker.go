package gateway

import (
	"errors"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/llm"
)

// BreakerSettings configure every route's circuit breaker.
type BreakerSettings struct {
	// FailureThreshold consecutive upstream failures open the breaker
	// (default 5).
	FailureThreshold int
	// OpenFor is how long it stays open before letting a probe through
	// (default 30s).
	OpenFor time.Duration
	// HalfOpenSuccesses consecutive successful probes close it again
	// (default 2).
	HalfOpenSuccesses int
}

// breaker wraps a two-step gobreaker: Allow before the attempt, done(err)
// when the stream ends. Client cancels and client errors never count.
type breaker struct {
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
	openFor time.Duration

	mu        sync.Mutex // guards the following fields
	openedAt  time.Time
	lastError string
}

func newBreaker(name string, s BreakerSettings, onChange func(name string, from, to gobreaker.State, b *breaker)) *breaker {
	b := &breaker{openFor: s.OpenFor}
	threshold := uint32(max(s.FailureThreshold, 1))
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: uint32(max(s.HalfOpenSuccesses, 1)),
		Timeout:     s.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= threshold },
		IsExcluded: func(err error) bool {
			var e *llm.Error
			if errors.As(err, &e) {
				return !e.Kind.UpstreamFault()
			}
			return false
		},
		OnStateChange: func(name string, from, to gobreaker.State) {
			b.mu.Lock()
			if to == gobreaker.StateOpen {
				b.openedAt = time.Now()
			}
			b.mu.Unlock()
			if onChange != nil {
				onChange(name, from, to, b)
			}
		},
	})
	return b
}

// allow asks whether an attempt may go out; done must be called with its
// outcome exactly once.
func (b *breaker) allow() (done func(error), ok bool) {
	d, err := b.cb.Allow()
	if err != nil {
		return nil, false
	}
	return func(err error) {
		if err != nil {
			var e *llm.Error
			if errors.As(err, &e) && e.Kind.UpstreamFault() {
				b.mu.Lock()
				b.lastError = e.Error()
				b.mu.Unlock()
			}
		}
		d(err)
	}, true
}

func (b *breaker) state(route string) event.BreakerStatus {
	c := b.cb.Counts()
	st := b.cb.State()
	b.mu.Lock()
	defer b.mu.Unlock()
	s := event.BreakerStatus{
		Route:               route,
		State:               st.String(),
		ConsecutiveFailures: int(c.ConsecutiveFailures),
		Requests:            int(c.Requests),
		Failures:            int(c.TotalFailures),
		LastError:           b.lastError,
	}
	if st == gobreaker.StateOpen {
		s.OpenedAt = b.openedAt
		s.NextProbe = b.openedAt.Add(b.openFor)
	}
	return s
}
