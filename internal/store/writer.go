package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v7"

	"github.com/rickyjim626/xjp/internal/llm"
)

// UsageInserter is what a UsageWriter writes to. *Store implements it;
// InsertUsage must write all rows or none.
type UsageInserter interface {
	InsertUsage(ctx context.Context, rows []llm.UsageRecord) error
}

var _ UsageInserter = (*Store)(nil)

// WriterOptions configure a UsageWriter. Zero values take the defaults.
type WriterOptions struct {
	// FlushEvery is the longest a row waits in memory while the store is
	// up. Default 100ms.
	FlushEvery time.Duration
	// BatchSize is the most rows written in one transaction; reaching it
	// also starts a write before FlushEvery. Default 500.
	BatchSize int
	// MaxBuffered bounds the rows held in memory, including the batch being
	// written. When it is reached RecordUsage drops the new row (see
	// UsageWriter). Default 100000.
	MaxBuffered int
	// WriteTimeout bounds one write attempt. Default 10s.
	WriteTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between attempts while the
	// store fails. Defaults 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives outage, recovery and drop messages. Nil discards them.
	Logger *slog.Logger
	// OnDrop, if set, is called from the writer goroutine with the number
	// of rows dropped since its last call (a metric counter's Add).
	OnDrop func(n int)
	// OnQueueDepth, if set, is called from the writer goroutine with the
	// rows in memory after each write round (a gauge's Set).
	OnQueueDepth func(n int)
}

func (o *WriterOptions) setDefaults() {
	if o.FlushEvery <= 0 {
		o.FlushEvery = 100 * time.Millisecond
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.MaxBuffered <= 0 {
		o.MaxBuffered = 100_000
	}
	o.MaxBuffered = max(o.MaxBuffered, o.BatchSize)
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// logEvery spaces repeated outage and drop log lines.
const logEvery = 10 * time.Second

// closeGrace is how long Close waits for the writer after its context ends.
const closeGrace = 250 * time.Millisecond

// UsageWriter records usage rows off the request path. RecordUsage only
// appends to a bounded in-memory queue; one goroutine writes the queue in
// batches of BatchSize rows, each in one transaction, every FlushEvery or
// as soon as a batch is full.
//
// When the store fails, the rows stay queued and the batch is retried with
// exponential backoff (MinBackoff to MaxBackoff) until it is written; rows
// keep queuing meanwhile. Nothing is dropped silently:
//
//   - When MaxBuffered rows are queued, RecordUsage drops the new row. The
//     rows already queued, and the batch being retried, are kept: the loss
//     is the contiguous most recent stretch of an outage, and RecordUsage
//     stays O(1) and never waits. Drops are counted (Dropped, OnDrop) and
//     logged at most once per 10s with the count.
//   - When a write fails with ErrUsageRejected (the database refused the
//     data of a row: retrying cannot help), the batch is split in halves,
//     recursively, to find the rows refused on their own; each is dropped,
//     counted and logged with its request id and the error, so that one bad
//     row cannot wedge the queue. Any other error (connection lost, locked,
//     missing table) is an outage: every row is kept and retried.
//   - Rows still queued when Close's context ends are counted as dropped,
//     logged, and reported by Close's error.
//
// A write whose commit acknowledgement is lost (the connection dies during
// COMMIT) is retried, so on Postgres such a batch can be written twice;
// rows are never lost that way.
type UsageWriter struct {
	ins  UsageInserter
	opts WriterOptions
	log  *slog.Logger

	mu sync.Mutex // guards the following fields
	// q holds the rows not yet written, oldest first. Its head is the batch
	// being written: it leaves q only once written.
	q        []llm.UsageRecord
	closed   bool
	closeCtx context.Context

	kick    chan struct{} // a full batch is waiting
	closing chan struct{} // closed by Close
	done    chan struct{} // closed when the goroutine ends

	dropped    atomic.Int64
	written    atomic.Int64
	unwritten  atomic.Int64 // rows left when Close gave up
	closeOnce  sync.Once
	reported   int64 // drops passed to OnDrop; writer goroutine only
	logged     int64 // drops logged; writer goroutine only
	lastLogged time.Time
}

// NewUsageWriter starts a writer to ins. Close it to flush and stop it.
func NewUsageWriter(ins UsageInserter, opts WriterOptions) *UsageWriter {
	opts.setDefaults()
	w := &UsageWriter{
		ins:     ins,
		opts:    opts,
		log:     opts.Logger,
		kick:    make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go w.run()
	return w
}

// RecordUsage queues rec for writing. It never blocks on the store: when
// the queue is full, or the writer is closed, the row is dropped and
// counted.
func (w *UsageWriter) RecordUsage(rec llm.UsageRecord) {
	w.mu.Lock()
	if w.closed || len(w.q) >= w.opts.MaxBuffered {
		w.mu.Unlock()
		w.dropped.Add(1)
		return
	}
	w.q = append(w.q, rec)
	n := len(w.q)
	w.mu.Unlock()
	if n >= w.opts.BatchSize {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// Dropped returns the number of rows dropped so far.
func (w *UsageWriter) Dropped() int64 { return w.dropped.Load() }

// Written returns the number of rows written so far.
func (w *UsageWriter) Written() int64 { return w.written.Load() }

// Queued returns the number of rows in memory, not yet written.
func (w *UsageWriter) Queued() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.q)
}

// Close stops accepting rows and writes every queued row, retrying while
// the store fails, until ctx ends. It returns an error when rows remain
// unwritten (they are then counted as dropped).
func (w *UsageWriter) Close(ctx context.Context) error {
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.closeCtx = ctx
		w.mu.Unlock()
		close(w.closing)
	})
	select {
	case <-w.done:
	case <-ctx.Done():
		// The writer sees ctx end too and gives up at once, unless the
		// inserter ignores ctx: wait a little, not forever.
		t := time.NewTimer(closeGrace)
		defer t.Stop()
		select {
		case <-w.done:
		case <-t.C:
			return fmt.Errorf("store: usage writer closed with %d rows unwritten: %w", w.Queued(), context.Cause(ctx))
		}
	}
	if n := w.unwritten.Load(); n > 0 {
		return fmt.Errorf("store: usage writer closed with %d rows unwritten: %w", n, context.Cause(ctx))
	}
	return nil
}

func (w *UsageWriter) run() {
	defer close(w.done)
	for !w.loop() {
		// loop recovered a panic: start over after a pause.
		time.Sleep(w.opts.FlushEvery)
	}
}

// loop writes until Close; it returns false after recovering a panic.
func (w *UsageWriter) loop() (finished bool) {
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("store: usage writer panicked; restarting", "panic", p, "stack", string(debug.Stack()))
			finished = false
		}
	}()
	tick := time.NewTicker(w.opts.FlushEvery)
	defer tick.Stop()
	var (
		retry *time.Timer // set while waiting out a backoff
		out   outage
	)
	for {
		var retryC <-chan time.Time
		if retry != nil {
			retryC = retry.C
		}
		select {
		case <-w.closing:
			if retry != nil {
				retry.Stop()
			}
			w.drain(&out)
			return true
		case <-retryC:
			retry = nil
		case <-tick.C:
			if retry != nil {
				continue
			}
		case <-w.kick:
			if retry != nil {
				continue
			}
		}
		if err := w.flush(context.Background()); err != nil {
			retry = time.NewTimer(w.failed(&out, err))
		} else {
			w.succeeded(&out)
		}
		w.report(false)
	}
}

// outage tracks consecutive failed write rounds for backoff and logging.
type outage struct {
	failures int
	bo       *backoff.ExponentialBackOff
	lastErr  string
	lastLog  time.Time
}

// failed records a failed round, logs it when it is the first, when the
// error changed or every logEvery, and returns the wait before the next.
func (w *UsageWriter) failed(o *outage, err error) time.Duration {
	if o.bo == nil {
		o.bo = w.newBackoff()
	}
	o.failures++
	if msg := err.Error(); o.failures == 1 || msg != o.lastErr || time.Since(o.lastLog) >= logEvery {
		w.log.Error("store: usage write failed; rows kept in memory and retried",
			"err", err, "failed_attempts", o.failures, "queued", w.Queued())
		o.lastErr, o.lastLog = msg, time.Now()
	}
	return o.bo.NextBackOff()
}

func (w *UsageWriter) succeeded(o *outage) {
	if o.failures > 0 {
		w.log.Info("store: usage writes recovered", "failed_attempts", o.failures, "queued", w.Queued())
	}
	*o = outage{}
}

func (w *UsageWriter) newBackoff() *backoff.ExponentialBackOff {
	bo := backoff.NewExponentialBackOff()
	bo.InitialInterval = w.opts.MinBackoff
	bo.MaxInterval = w.opts.MaxBackoff
	bo.Multiplier = 2
	bo.RandomizationFactor = 0.2
	bo.Reset()
	return bo
}

// drain writes the queue out for Close, retrying until the close context
// ends; what is left then is counted as dropped.
func (w *UsageWriter) drain(out *outage) {
	w.mu.Lock()
	ctx := w.closeCtx
	w.mu.Unlock()
	for {
		err := w.flush(ctx)
		if err == nil {
			w.succeeded(out)
			break
		}
		t := time.NewTimer(w.failed(out, err))
		select {
		case <-t.C:
			continue
		case <-ctx.Done():
			t.Stop()
		}
		w.mu.Lock()
		n := len(w.q)
		w.q = nil
		w.mu.Unlock()
		w.unwritten.Store(int64(n))
		w.dropped.Add(int64(n))
		w.log.Error("store: usage writer closed before writing every row; rows lost",
			"lost", n, "err", context.Cause(ctx))
		break
	}
	w.report(true)
}

// flush writes the queue in batches until it is empty or a write fails.
func (w *UsageWriter) flush(ctx context.Context) error {
	for {
		// No copy: RecordUsage only appends, so it never writes the first
		// n elements, even when append moves q to a new array; and only
		// this goroutine removes them (pop), once they are written.
		w.mu.Lock()
		n := min(len(w.q), w.opts.BatchSize)
		batch := w.q[:n:n]
		w.mu.Unlock()
		if n == 0 {
			return nil
		}
		err := w.insert(ctx, batch)
		if err == nil {
			w.pop(n, nil)
			continue
		}
		if !errors.Is(err, ErrUsageRejected) {
			return err // an outage: keep everything
		}
		keep, err := w.isolate(ctx, batch)
		w.pop(n, keep)
		if err != nil {
			return err
		}
	}
}

// pop removes the n-row head batch from the queue and puts keep, the rows
// of it still to write, back at the head.
func (w *UsageWriter) pop(n int, keep []llm.UsageRecord) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(keep) > 0 {
		w.q = append(keep, w.q[n:]...)
		return
	}
	rest := len(w.q) - n
	if rest > compactBelow {
		// A backlog: move the head instead of copying it.
		clear(w.q[:n])
		w.q = w.q[n:]
		return
	}
	// Usually few rows arrived during the write: move them to the front
	// and reuse the array, so appends rarely allocate.
	copy(w.q, w.q[n:])
	clear(w.q[rest:])
	w.q = w.q[:rest]
}

// compactBelow is the most queued rows pop moves to reuse the queue's array.
const compactBelow = 4096

// isolate writes a batch the database refused in halves, recursively, to
// separate the rows it refuses from the rows it takes. A row refused on its
// own twice with ErrUsageRejected is dropped (counted and logged). Any other
// error stops the search: the rows not yet written are returned to keep,
// with that error.
func (w *UsageWriter) isolate(ctx context.Context, batch []llm.UsageRecord) (keep []llm.UsageRecord, outage error) {
	var try func(rows []llm.UsageRecord, refused bool)
	try = func(rows []llm.UsageRecord, refused bool) {
		if outage != nil {
			keep = append(keep, rows...)
			return
		}
		attempts := 1
		if len(rows) == 1 {
			attempts = 2 // once more on its own before dropping it
		}
		var err error
		for range attempts {
			if refused && len(rows) > 1 {
				break // known refused: split without trying again
			}
			if err = w.insert(ctx, rows); err == nil {
				return
			}
			if !errors.Is(err, ErrUsageRejected) {
				outage = err
				keep = append(keep, rows...)
				return
			}
			refused = false
		}
		if len(rows) == 1 {
			w.dropped.Add(1)
			r := rows[0]
			w.log.Error("store: usage row refused by the database; dropped",
				"request_id", r.RequestID, "key_id", r.KeyID, "model", r.Model, "err", err)
			return
		}
		mid := len(rows) / 2
		try(rows[:mid], false)
		try(rows[mid:], false)
	}
	try(batch, true)
	return keep, outage
}

// insert makes one write attempt, bounded by WriteTimeout. A panic in the
// inserter becomes an error.
func (w *UsageWriter) insert(ctx context.Context, rows []llm.UsageRecord) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("store: usage insert panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("store: usage insert panicked: %v", p)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, w.opts.WriteTimeout)
	defer cancel()
	if err := w.ins.InsertUsage(ctx, rows); err != nil {
		return err
	}
	w.written.Add(int64(len(rows)))
	return nil
}

// report passes new drops to OnDrop and the log (at most once per
// logEvery, unless final) and the queue depth to OnQueueDepth.
func (w *UsageWriter) report(final bool) {
	d := w.dropped.Load()
	if d > w.reported {
		delta := d - w.reported
		w.reported = d
		if w.opts.OnDrop != nil {
			w.safe(func() { w.opts.OnDrop(int(delta)) })
		}
	}
	if d > w.logged && (final || time.Since(w.lastLogged) >= logEvery) {
		w.log.Warn("store: usage rows dropped", "dropped", d-w.logged, "dropped_total", d,
			"max_buffered", w.opts.MaxBuffered)
		w.logged = d
		w.lastLogged = time.Now()
	}
	if w.opts.OnQueueDepth != nil {
		n := w.Queued()
		w.safe(func() { w.opts.OnQueueDepth(n) })
	}
}

func (w *UsageWriter) safe(fn func()) {
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("store: usage writer callback panicked", "panic", p)
		}
	}()
	fn()
}
