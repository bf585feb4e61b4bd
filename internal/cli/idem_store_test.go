package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/ingress"
	"github.com/rickyjim626/xjp/internal/store"
)

// The adapter maps the store's idempotency states to ingress's.
func TestIdemStoreAdapter(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st, err := store.Open(ctx, store.Options{DSN: filepath.Join(t.TempDir(), "xjp.db"), Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	a := idemStore{st}
	const ttl = time.Hour

	if rec, err := a.Begin(ctx, "key_a", "k", "h1", ttl); rec != nil || err != nil {
		t.Fatalf("first Begin = %v, %v; want a claim", rec, err)
	}
	if _, err := a.Begin(ctx, "key_a", "k", "h1", ttl); !errors.Is(err, ingress.ErrIdemInFlight) {
		t.Errorf("Begin in flight: %v, want ingress.ErrIdemInFlight", err)
	}
	if _, err := a.Begin(ctx, "key_a", "k", "h2", ttl); !errors.Is(err, ingress.ErrIdemMismatch) {
		t.Errorf("Begin with another hash: %v, want ingress.ErrIdemMismatch", err)
	}
	if err := a.Complete(ctx, "key_a", "k", 200, []byte("stored")); err != nil {
		t.Fatal(err)
	}
	if rec, err := a.Begin(ctx, "key_a", "k", "h1", ttl); err != nil || rec == nil || rec.Status != 200 || string(rec.Response) != "stored" {
		t.Errorf("Begin after Complete = %+v, %v; want the stored answer", rec, err)
	}
	if err := a.Release(ctx, "key_a", "gone"); err != nil {
		t.Errorf("releasing a claim that is gone: %v, want nil", err)
	}
	if rec, err := a.Begin(ctx, "key_a", "k2", "h", ttl); rec != nil || err != nil {
		t.Fatal(rec, err)
	}
	if err := a.Release(ctx, "key_a", "k2"); err != nil {
		t.Fatal(err)
	}
	if rec, err := a.Begin(ctx, "key_a", "k2", "h-other", ttl); rec != nil || err != nil {
		t.Errorf("Begin after Release = %v, %v; want a new claim", rec, err)
	}

	// The purge loop deletes expired records at once and then every tick.
	mu.Lock()
	now = now.Add(2 * ttl)
	mu.Unlock()
	logs := &obsBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { a.purgeLoop(pctx, time.Hour, log); close(done) }()
	obsWait(t, 5*time.Second, "the purge", func() bool { return strings.Contains(logs.String(), "records=2") })
	stop()
	<-done
}

// xjp serve replays an idempotent request from the store, answers 422 for
// the key reused with another body, and bills the request once.
func TestServeIdempotency(t *testing.T) {
	s := startObs(t, obsOptions{toml: demoConfig})
	post := func(body, key string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.addr+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+s.key)
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, stream := range []bool{false, true} {
		key := "order-1"
		if stream {
			key = "order-2"
		}
		r1, b1 := post(chatBody("hello", stream), key)
		r2, b2 := post(chatBody("hello", stream), key)
		if r1.StatusCode != 200 || r2.StatusCode != 200 || b1 != b2 || r2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("stream %v: first HTTP %d, replay HTTP %d %q replayed %q", stream, r1.StatusCode, r2.StatusCode, b2, r2.Header.Get("Idempotent-Replayed"))
		}
		r3, b3 := post(chatBody("something else", stream), key)
		if r3.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(b3, "idempotency_key_reused") {
			t.Errorf("stream %v: other body: HTTP %d %s, want 422", stream, r3.StatusCode, b3)
		}
	}
	s.close() // flushes the usage records
	if s.err != nil {
		t.Fatal(s.err)
	}
	st, err := openStore(context.Background(), s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.QueryUsage(context.Background(), store.UsageQuery{})
	if err != nil || len(rows) != 1 || rows[0].Requests != 2 {
		t.Errorf("usage rows %+v, %v: want 2 requests (the replays and 422s are not billed)", rows, err)
	}
}
