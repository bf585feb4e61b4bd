package limit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

var (
	// errFallback tells Admit that Redis failed and it must decide
	// in-process.
	errFallback  = errors.New("limit: redis failed; deciding in-process")
	errRedisDown = errors.New("limit: redis is down; charges kept pending")
	errBadReply  = errors.New("limit: unexpected reply from the admission script")
)

// health tracks whether Redis answers.
type health struct {
	probeEvery time.Duration
	logEvery   time.Duration

	down      atomic.Bool
	nextProbe atomic.Int64 // unix nanoseconds; while down, Redis is not tried before this
	errors    atomic.Uint64
	fallbacks atomic.Uint64

	mu sync.Mutex // guards the following
	// lastLog is when the last failure warning was written; quiet counts
	// failures since.
	lastLog time.Time
	quiet   uint64
}

func (h *health) init(o Options) {
	h.probeEvery, h.logEvery = o.ProbeEvery, o.LogEvery
}

// usable reports whether to call Redis now: always while it is up; while
// it is down, for one caller per ProbeEvery.
func (h *health) usable(now time.Time) bool {
	if !h.down.Load() {
		return true
	}
	next := h.nextProbe.Load()
	if now.UnixNano() < next {
		return false
	}
	return h.nextProbe.CompareAndSwap(next, now.Add(h.probeEvery).UnixNano())
}

// redisFailed records a failed Redis call. A call that failed because the
// request's own context ended says nothing about Redis and is ignored.
func (l *Limiter) redisFailed(ctx context.Context, err error, now time.Time) {
	if ctx.Err() != nil {
		return
	}
	h := &l.health
	h.errors.Add(1)
	h.nextProbe.Store(now.Add(h.probeEvery).UnixNano())
	wasDown := h.down.Swap(true)

	h.mu.Lock()
	h.quiet++
	if !wasDown || now.Sub(h.lastLog) >= h.logEvery {
		l.o.Logger.Warn("limit: redis unreachable; rate limits and quotas are enforced by this replica alone until it answers",
			"error", err, "failures", h.quiet, "retry_every", h.probeEvery)
		h.lastLog, h.quiet = now, 0
	}
	h.mu.Unlock()
}

// redisOK records a successful Redis call, switching back to Redis (and
// flushing the charges kept meanwhile) after an outage.
func (l *Limiter) redisOK() {
	h := &l.health
	if !h.down.Load() || !h.down.CompareAndSwap(true, false) {
		return
	}
	h.mu.Lock()
	l.o.Logger.Info("limit: redis answers again; shared rate limits and quotas restored",
		"failures_since_last_warning", h.quiet)
	h.quiet = 0
	h.mu.Unlock()
	select {
	case l.kick <- struct{}{}:
	default:
	}
}
