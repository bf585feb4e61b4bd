package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/store/storetest"
)

// fakeInserter is a UsageInserter that can be taken down, made to refuse
// some rows, to block, or to panic.
type fakeInserter struct {
	down      atomic.Bool
	panicNext atomic.Bool
	calls     atomic.Int64
	reject    func(llm.UsageRecord) bool // rows refused even when up
	block     chan struct{}              // when set, inserts wait for it to close

	mu      sync.Mutex // guards written
	written map[string]int
}

func newFake() *fakeInserter { return &fakeInserter{written: map[string]int{}} }

func (f *fakeInserter) InsertUsage(ctx context.Context, rows []llm.UsageRecord) error {
	f.calls.Add(1)
	if f.panicNext.CompareAndSwap(true, false) {
		panic("boom")
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.down.Load() {
		return errors.New("dial tcp 127.0.0.1:5432: connection refused")
	}
	for _, r := range rows {
		if f.reject != nil && f.reject(r) {
			return fmt.Errorf("insert: %w: invalid byte sequence in row %s", store.ErrUsageRejected, r.RequestID)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range rows {
		f.written[r.RequestID]++
	}
	return nil
}

func (f *fakeInserter) snapshot() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := make(map[string]int, len(f.written))
	for k, v := range f.written {
		m[k] = v
	}
	return m
}

// logBuffer collects log output from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func fastOpts(log *logBuffer) store.WriterOptions {
	return store.WriterOptions{
		FlushEvery: 5 * time.Millisecond, BatchSize: 50,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond,
		WriteTimeout: 5 * time.Second,
		Logger:       log.logger(),
	}
}

func rec(i int) llm.UsageRecord {
	return llm.UsageRecord{
		Time: time.Now(), RequestID: fmt.Sprintf("req-%06d", i), KeyID: "key_test", Model: "demo",
		Status: 200, Usage: llm.Usage{InputTokens: 10, OutputTokens: 2},
	}
}

func closeWriter(t *testing.T, w *store.UsageWriter, d time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return w.Close(ctx)
}

// record sends n rows from 8 goroutines over about n/8 milliseconds,
// running during() concurrently from the 50th millisecond; it returns
// when both are done.
func record(w *store.UsageWriter, n int, during func()) {
	var wg sync.WaitGroup
	const producers = 8
	var next atomic.Int64
	for range producers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				w.RecordUsage(rec(i))
				time.Sleep(time.Millisecond)
			}
		})
	}
	if during != nil {
		wg.Go(func() {
			time.Sleep(50 * time.Millisecond)
			during()
		})
	}
	wg.Wait()
}

func checkAllOnce(t *testing.T, written map[string]int, n int) {
	t.Helper()
	if len(written) != n {
		t.Errorf("%d distinct rows written, want %d", len(written), n)
	}
	for i := range n {
		id := rec(i).RequestID
		if c := written[id]; c != 1 {
			t.Errorf("%s written %d times", id, c)
			return
		}
	}
}

func TestWriterOutageLosesNothing(t *testing.T) {
	t.Parallel()
	for _, batch := range []int{1, 50, 500} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			t.Parallel()
			f := newFake()
			var log logBuffer
			o := fastOpts(&log)
			o.BatchSize = batch
			w := store.NewUsageWriter(f, o)
			const n = 6000
			record(w, n, func() {
				f.down.Store(true) // the store goes away mid-run
				time.Sleep(300 * time.Millisecond)
				if w.Queued() == 0 {
					t.Error("nothing queued during the outage")
				}
				f.down.Store(false)
			})
			if err := closeWriter(t, w, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			checkAllOnce(t, f.snapshot(), n)
			if w.Dropped() != 0 || w.Written() != n || w.Queued() != 0 {
				t.Errorf("dropped %d written %d queued %d", w.Dropped(), w.Written(), w.Queued())
			}
			out := log.String()
			if !strings.Contains(out, "usage write failed") || !strings.Contains(out, "usage writes recovered") {
				t.Errorf("outage not logged:\n%s", out)
			}
		})
	}
}

func TestWriterBatchesAndFlushesOnClose(t *testing.T) {
	t.Parallel()
	f := newFake()
	var depth atomic.Int64
	w := store.NewUsageWriter(f, store.WriterOptions{
		FlushEvery: time.Hour, BatchSize: 100, // only full batches or Close write
		OnQueueDepth: func(n int) { depth.Store(int64(n)) },
	})
	for i := range 250 {
		w.RecordUsage(rec(i))
	}
	// Full batches are written without waiting for FlushEvery ...
	deadline := time.Now().Add(5 * time.Second)
	for w.Written() < 200 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if w.Written() < 200 {
		t.Fatalf("written %d, want at least 200 before FlushEvery", w.Written())
	}
	// ... and Close writes the rest.
	if err := closeWriter(t, w, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkAllOnce(t, f.snapshot(), 250)
	if depth.Load() != 0 {
		t.Errorf("last queue depth %d", depth.Load())
	}
	// After Close rows are dropped, and counted.
	w.RecordUsage(rec(999))
	if w.Dropped() != 1 {
		t.Errorf("dropped %d after close, want 1", w.Dropped())
	}
	if err := closeWriter(t, w, time.Second); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestWriterDropsNewestWhenFull(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.block = make(chan struct{})
	var log logBuffer
	var onDrop atomic.Int64
	o := fastOpts(&log)
	o.MaxBuffered, o.BatchSize = 100, 10
	o.OnDrop = func(n int) { onDrop.Add(int64(n)) }
	w := store.NewUsageWriter(f, o)
	start := time.Now()
	for i := range 150 {
		w.RecordUsage(rec(i)) // never blocks, though the store does
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("RecordUsage took %v", d)
	}
	if w.Dropped() != 50 || w.Queued() != 100 {
		t.Errorf("dropped %d queued %d, want 50 and 100", w.Dropped(), w.Queued())
	}
	close(f.block)
	if err := closeWriter(t, w, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkAllOnce(t, f.snapshot(), 100) // the oldest 100 are kept
	if onDrop.Load() != 50 {
		t.Errorf("OnDrop got %d, want 50", onDrop.Load())
	}
	if !strings.Contains(log.String(), "usage rows dropped") || !strings.Contains(log.String(), "dropped=50") {
		t.Errorf("drop not logged:\n%s", log.String())
	}
}

func TestWriterCloseDeadlineCountsLoss(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.down.Store(true)
	var log logBuffer
	w := store.NewUsageWriter(f, fastOpts(&log))
	for i := range 20 {
		w.RecordUsage(rec(i))
	}
	err := closeWriter(t, w, 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "20 rows unwritten") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: %v", err)
	}
	if w.Dropped() != 20 || w.Written() != 0 {
		t.Errorf("dropped %d written %d", w.Dropped(), w.Written())
	}
	if !strings.Contains(log.String(), "rows lost") {
		t.Errorf("loss not logged:\n%s", log.String())
	}
}

func TestWriterRecoversPanics(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.panicNext.Store(true)
	var log logBuffer
	o := fastOpts(&log)
	o.OnQueueDepth = func(int) { panic("callback") }
	w := store.NewUsageWriter(f, o)
	for i := range 120 {
		w.RecordUsage(rec(i))
	}
	if err := closeWriter(t, w, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	checkAllOnce(t, f.snapshot(), 120)
	if !strings.Contains(log.String(), "usage insert panicked") || !strings.Contains(log.String(), "callback panicked") {
		t.Errorf("panics not logged:\n%s", log.String())
	}
}

func TestWriterIsolatesRefusedRows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		reject      func(llm.UsageRecord) bool
		fixAfter    time.Duration // the store stops refusing
		wantDropped int64
	}{
		{name: "one bad row among good ones",
			reject: func(r llm.UsageRecord) bool { return r.RequestID == rec(17).RequestID }, wantDropped: 1},
		{name: "two bad rows",
			reject: func(r llm.UsageRecord) bool {
				return r.RequestID == rec(3).RequestID || r.RequestID == rec(44).RequestID
			}, wantDropped: 2},
		{name: "every row bad", reject: func(llm.UsageRecord) bool { return true }, wantDropped: 50},
		// Refused rows while the store goes down mid-search: kept.
		{name: "outage during the search", reject: func(r llm.UsageRecord) bool { return r.RequestID == rec(17).RequestID },
			fixAfter: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			var fixed atomic.Bool
			var calls atomic.Int64
			f.reject = func(r llm.UsageRecord) bool {
				if tt.fixAfter < 0 && calls.Add(1) == 2 {
					f.down.Store(true) // the second insert of the search hits an outage
					go func() { time.Sleep(200 * time.Millisecond); f.down.Store(false); fixed.Store(true) }()
				}
				return !fixed.Load() && tt.reject(r)
			}
			var log logBuffer
			w := store.NewUsageWriter(f, fastOpts(&log))
			const n = 50
			for i := range n {
				w.RecordUsage(rec(i))
			}
			if err := closeWriter(t, w, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			written := f.snapshot()
			if int64(len(written)) != n-tt.wantDropped || w.Dropped() != tt.wantDropped {
				t.Errorf("written %d dropped %d, want %d and %d", len(written), w.Dropped(), n-tt.wantDropped, tt.wantDropped)
			}
			for id, c := range written {
				if c != 1 {
					t.Errorf("%s written %d times", id, c)
				}
			}
			if tt.wantDropped > 0 && !strings.Contains(log.String(), "request_id="+rec(17).RequestID) &&
				!strings.Contains(log.String(), "request_id="+rec(3).RequestID) {
				t.Errorf("refused row not logged:\n%s", log.String())
			}
		})
	}
}

// TestWriterRealStoreOutage takes the real database away mid-run and
// shows that every row is in it after it returns. SQLite: another
// connection (another process, a backup) holds the write lock for longer
// than the busy timeout, so writes fail with SQLITE_BUSY. Postgres: the
// store's connections are killed with pg_terminate_backend again and again,
// then the usage table disappears for a while (renamed away and back).
func TestWriterRealStoreOutage(t *testing.T) {
	t.Parallel()
	for _, driver := range storetest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			o := storetest.Options(t, driver)
			o.BusyTimeout = 50 * time.Millisecond
			st := openStore(t, o)
			var log logBuffer
			w := store.NewUsageWriter(st, fastOpts(&log))
			const n = 8000 // about a second of recording
			var outage func()
			switch driver {
			case store.DriverSQLite:
				outage = func() { holdSQLiteLock(t, o, 600*time.Millisecond) }
			case store.DriverPostgres:
				outage = func() { postgresOutage(t, o, 300*time.Millisecond) }
			}
			record(w, n, outage)
			if err := closeWriter(t, w, 30*time.Second); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "usage write failed") {
				t.Errorf("the outage did not make writes fail:\n%s", log.String())
			}
			for _, l := range strings.Split(log.String(), "\n") {
				if strings.Contains(l, "failed") || strings.Contains(l, "recovered") {
					t.Log(l)
				}
			}
			db := rawDB(t, o)
			var total, distinct int
			if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*), COUNT(DISTINCT request_id) FROM usage").Scan(&total, &distinct); err != nil {
				t.Fatal(err)
			}
			if distinct != n {
				t.Errorf("%d distinct rows in the store, want %d (dropped %d)", distinct, n, w.Dropped())
			}
			if total != distinct {
				// Only possible when a connection died during COMMIT.
				t.Logf("%d rows written twice (commit acknowledgement lost)", total-distinct)
			}
			t.Logf("%s: %d rows, writer written=%d dropped=%d", driver, total, w.Written(), w.Dropped())
		})
	}
}

func holdSQLiteLock(t *testing.T, o store.Options, d time.Duration) {
	db := rawDB(t, o)
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
}

func postgresOutage(t *testing.T, o store.Options, d time.Duration) {
	admin := storetest.PostgresAdmin(t)
	schema := storetest.Schema(o)
	ctx := context.Background()
	kill := func() {
		if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
			WHERE application_name = $1 AND pid <> pg_backend_pid()`, schema); err != nil {
			t.Error(err)
		}
	}
	for deadline := time.Now().Add(d); time.Now().Before(deadline); {
		kill()
		time.Sleep(15 * time.Millisecond)
	}
	// schema is [a-z0-9_]: safe to splice.
	if _, err := admin.ExecContext(ctx, "ALTER TABLE "+schema+".usage RENAME TO usage_away"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	if _, err := admin.ExecContext(ctx, "ALTER TABLE "+schema+".usage_away RENAME TO usage"); err != nil {
		t.Fatal(err)
	}
}
