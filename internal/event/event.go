// Package event is xjp's broker of live events: requests starting,
// progressing and finishing, breakers changing state, config reloads. The
// dashboard, `xjp tail` (through /admin/events) and metrics read them.
//
// Delivery has two modes. Publish is lossy: when a subscriber's buffer is
// full the event is dropped for that subscriber and counted; it suits
// high-frequency progress updates (tokens so far). PublishMustDeliver is for
// terminal events (request finished, breaker changed, reload): they go to a
// separate, much larger per-subscriber queue. Request started and finished
// events are both must-deliver, so a subscriber sees them in order; a
// progress event may arrive after its request finished and is to be ignored. Neither ever blocks the
// publisher — a request must not wait on a slow dashboard. A subscriber whose
// must-deliver queue overflows is marked lagging and its drops are counted,
// so it can tell the user (or reconnect and resynchronise from a snapshot).
package event

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Kind is the kind of an event.
type Kind string

const (
	RequestStarted  Kind = "request_started"
	RequestProgress Kind = "request_progress"
	RequestFinished Kind = "request_finished"
	BreakerChanged  Kind = "breaker_changed"
	ConfigReloaded  Kind = "config_reloaded"
)

// Event is one thing that happened. Exactly one of Request, Breaker and
// Reload is set, according to Kind.
type Event struct {
	Kind    Kind      `json:"kind"`
	Time    time.Time `json:"time"`
	Request *Request  `json:"request,omitempty"`
	Breaker *Breaker  `json:"breaker,omitempty"`
	Reload  *Reload   `json:"reload,omitempty"`
}

// Request describes a request at some point of its life. Fields not yet
// known are zero.
type Request struct {
	ID            string `json:"id"`
	KeyID         string `json:"key_id,omitempty"`
	KeyName       string `json:"key_name,omitempty"`
	Tenant        string `json:"tenant,omitempty"`
	Endpoint      string `json:"endpoint"`
	Model         string `json:"model"`
	Provider      string `json:"provider,omitempty"`
	UpstreamModel string `json:"upstream_model,omitempty"`
	Stream        bool   `json:"stream"`

	Start   time.Time     `json:"start"`
	TTFT    time.Duration `json:"ttft_ns,omitempty"`
	Latency time.Duration `json:"latency_ns,omitempty"`

	// OutputTokens is the output so far (progress) or in total (finished).
	OutputTokens int64     `json:"output_tokens,omitempty"`
	Usage        llm.Usage `json:"usage"`
	CostUSD      *float64  `json:"cost_usd,omitempty"`
	Attempts     int       `json:"attempts,omitempty"`

	Status       int      `json:"status,omitempty"`
	ErrorKind    llm.Kind `json:"error_kind,omitempty"`
	ErrorMessage string   `json:"error_message,omitempty"`
}

// Breaker is a route's circuit breaker changing state.
type Breaker struct {
	Route string `json:"route"`
	From  string `json:"from"`
	To    string `json:"to"`
	// Reason is the error that tripped it, when it opened.
	Reason string `json:"reason,omitempty"`
}

// Reload is a config reload, successful or rejected.
type Reload struct {
	File  string `json:"file"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Broker fans events out to subscribers. The zero value is not usable; call
// NewBroker.
type Broker struct {
	mu   sync.RWMutex // guards subs
	subs map[*Subscription]struct{}
	// n mirrors len(subs) for a lock-free HasSubscribers.
	n atomic.Int32
	// dropped counts events lost by any subscriber.
	dropped atomic.Int64

	now func() time.Time
}

// NewBroker returns an empty broker.
func NewBroker() *Broker {
	return &Broker{subs: make(map[*Subscription]struct{}), now: time.Now}
}

// Subscription receives events until Close.
type Subscription struct {
	b        *Broker
	lossy    chan Event
	must     chan Event
	done     chan struct{}
	closed   sync.Once
	dropped  atomic.Int64
	lagging  atomic.Bool
	received atomic.Int64
}

// Buffer sizes of a subscription: progress events are cheap to lose, the
// terminal ones get a deep queue.
const (
	lossyBuffer = 256
	mustBuffer  = 16384
)

// Subscribe returns a new subscription. The caller must Close it.
func (b *Broker) Subscribe() *Subscription {
	s := &Subscription{
		b:     b,
		lossy: make(chan Event, lossyBuffer),
		must:  make(chan Event, mustBuffer),
		done:  make(chan struct{}),
	}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.n.Store(int32(len(b.subs)))
	b.mu.Unlock()
	return s
}

// Publish delivers ev to every subscriber with room for it and drops it for
// the others. It never blocks.
func (b *Broker) Publish(ev Event) {
	b.stamp(&ev)
	b.mu.RLock()
	for s := range b.subs {
		select {
		case s.lossy <- ev:
		default:
			s.dropped.Add(1)
			b.dropped.Add(1)
		}
	}
	b.mu.RUnlock()
}

// PublishMustDeliver delivers ev on the terminal-event queue. It never
// blocks either: a subscriber whose deep queue is full is marked lagging and
// the drop is counted.
func (b *Broker) PublishMustDeliver(ev Event) {
	b.stamp(&ev)
	b.mu.RLock()
	for s := range b.subs {
		select {
		case s.must <- ev:
		default:
			s.dropped.Add(1)
			b.dropped.Add(1)
			s.lagging.Store(true)
		}
	}
	b.mu.RUnlock()
}

func (b *Broker) stamp(ev *Event) {
	if ev.Time.IsZero() {
		ev.Time = b.now()
	}
}

// Dropped is the number of events lost by slow subscribers since start.
func (b *Broker) Dropped() int64 { return b.dropped.Load() }

// HasSubscribers reports whether anyone listens, so publishers can skip
// building events nobody reads. Safe on a nil Broker.
func (b *Broker) HasSubscribers() bool { return b != nil && b.n.Load() > 0 }

// Next waits for the next event, preferring terminal ones so that a flood of
// progress updates never delays a finish. ok is false when the subscription
// is closed or done is closed.
func (s *Subscription) Next(done <-chan struct{}) (ev Event, ok bool) {
	select {
	case ev = <-s.must:
		s.received.Add(1)
		return ev, true
	default:
	}
	select {
	case ev = <-s.must:
	case ev = <-s.lossy:
	case <-s.done:
		return Event{}, false
	case <-done:
		return Event{}, false
	}
	s.received.Add(1)
	return ev, true
}

// Dropped is the number of events this subscriber lost.
func (s *Subscription) Dropped() int64 { return s.dropped.Load() }

// Lagging reports whether a must-deliver event was lost.
func (s *Subscription) Lagging() bool { return s.lagging.Load() }

// Close ends the subscription; Next returns false afterwards.
func (s *Subscription) Close() {
	s.closed.Do(func() {
		s.b.mu.Lock()
		delete(s.b.subs, s)
		s.b.n.Store(int32(len(s.b.subs)))
		s.b.mu.Unlock()
		close(s.done)
	})
}
