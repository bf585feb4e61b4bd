package store_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/store"
)

func TestIdempotency(t *testing.T) {
	t.Parallel()
	clk := newClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	eachOpts(t, func(o *store.Options) { o.Now = clk.Now }, func(t *testing.T, st *store.Store, _ store.Options) {
		ctx := t.Context()
		const ttl = time.Hour
		// Each step runs in order on the same store; the table reads as the
		// state machine: (no record) → in_flight → done → expired → in_flight ...
		steps := []struct {
			name       string
			do         func() (*store.IdemRecord, error)
			wantErr    error
			wantRecord bool
			check      func(t *testing.T, r *store.IdemRecord)
		}{
			{name: "first begin claims", do: func() (*store.IdemRecord, error) { return st.BeginIdem(ctx, "key_a", "k1", "h1", ttl) }},
			{name: "same request while running", do: func() (*store.IdemRecord, error) { return st.BeginIdem(ctx, "key_a", "k1", "h1", ttl) },
				wantErr: store.ErrIdemInFlight, wantRecord: true, check: func(t *testing.T, r *store.IdemRecord) {
					if r.State != store.IdemInFlight || r.RequestHash != "h1" || !r.ExpiresAt.Equal(clk.Now().Add(ttl)) {
						t.Errorf("%+v", r)
					}
				}},
			{name: "other request, same key", do: func() (*store.IdemRecord, error) { return st.BeginIdem(ctx, "key_a", "k1", "h2", ttl) },
				wantErr: store.ErrIdemMismatch, wantRecord: true},
			{name: "same key, other scope claims", do: func() (*store.IdemRecord, error) { return st.BeginIdem(ctx, "key_b", "k1", "h2", ttl) }},
			{name: "complete", do: func() (*store.IdemRecord, error) {
				return nil, st.CompleteIdem(ctx, "key_a", "k1", 200, []byte(`{"id":"chatcmpl-1"}`))
			}},
			{name: "complete twice", do: func() (*store.IdemRecord, error) { return nil, st.CompleteIdem(ctx, "key_a", "k1", 200, nil) },
				wantErr: store.ErrIdemNotFound},
			{name: "replay", do: func() (*store.IdemRecord, error) { return st.BeginIdem(ctx, "key_a", "k1", "h1", ttl) },
				wantRecord: true, check: func(t *testing.T, r *store.IdemRecord) {
					if r.State != store.IdemDone || r.Status != 200 || string(r.Response) != `{"id":"chatcmpl-1"}` {
						t.Errorf("%+v", r)
					}
				}},
			{name: "mismatch after done", do: func() (*store.IdemRecord, error) { return st.BeginIdem(ctx, "key_a", "k1", "h9", ttl) },
				wantErr: store.ErrIdemMismatch, wantRecord: true},
			{name: "release done record fails", do: func() (*store.IdemRecord, error) { return nil, st.ReleaseIdem(ctx, "key_a", "k1") },
				wantErr: store.ErrIdemNotFound},
			{name: "release in-flight", do: func() (*store.IdemRecord, error) { return nil, st.ReleaseIdem(ctx, "key_b", "k1") }},
			{name: "claim again after release", do: func() (*store.IdemRecord, error) { return st.BeginIdem(ctx, "key_b", "k1", "h3", ttl) }},
			{name: "expiry passes", do: func() (*store.IdemRecord, error) { clk.Add(ttl); return nil, nil }},
			{name: "expired record is taken over, even with another hash", do: func() (*store.IdemRecord, error) {
				return st.BeginIdem(ctx, "key_a", "k1", "h4", ttl)
			}},
			{name: "taken over record is in flight with the new hash", do: func() (*store.IdemRecord, error) {
				return st.BeginIdem(ctx, "key_a", "k1", "h4", ttl)
			}, wantErr: store.ErrIdemInFlight, wantRecord: true, check: func(t *testing.T, r *store.IdemRecord) {
				if r.Response != nil || r.Status != 0 {
					t.Errorf("old response kept: %+v", r)
				}
			}},
			{name: "bad arguments", do: func() (*store.IdemRecord, error) { return st.BeginIdem(ctx, "key_a", "", "h", ttl) }, wantErr: store.ErrInvalid},
			{name: "bad ttl", do: func() (*store.IdemRecord, error) { return st.BeginIdem(ctx, "key_a", "x", "h", 0) }, wantErr: store.ErrInvalid},
		}
		for _, s := range steps {
			r, err := s.do()
			if s.wantErr == nil && err != nil || s.wantErr != nil && !errors.Is(err, s.wantErr) {
				t.Fatalf("%s: err = %v, want %v", s.name, err, s.wantErr)
			}
			if (r != nil) != s.wantRecord {
				t.Fatalf("%s: record %+v, want one: %v", s.name, r, s.wantRecord)
			}
			if s.check != nil {
				s.check(t, r)
			}
		}

		// Purge removes only expired records: key_b/k1 (claimed before the
		// clock moved) has expired, key_a/k1 (taken over after) has not.
		n, err := st.PurgeIdem(ctx)
		if err != nil || n != 1 {
			t.Errorf("purge = %d, %v; want 1", n, err)
		}
		if _, err := st.BeginIdem(ctx, "key_a", "k1", "h4", ttl); !errors.Is(err, store.ErrIdemInFlight) {
			t.Errorf("purged a live record: %v", err)
		}
	})
}

func TestIdempotencyConcurrentBegin(t *testing.T) {
	t.Parallel()
	eachOpts(t, nil, func(t *testing.T, st *store.Store, o store.Options) {
		// Two stores on one database: two processes, or two replicas.
		other := openStore(t, o)
		ctx := t.Context()
		for round := range 5 {
			key := "race-" + string(rune('a'+round))
			var claims, inflight atomic.Int64
			var wg sync.WaitGroup
			for i := range 16 {
				s := st
				if i%2 == 1 {
					s = other
				}
				wg.Go(func() {
					r, err := s.BeginIdem(ctx, "key_a", key, "h", time.Minute)
					switch {
					case err == nil && r == nil:
						claims.Add(1)
					case errors.Is(err, store.ErrIdemInFlight):
						inflight.Add(1)
					default:
						t.Errorf("begin: %v %+v", err, r)
					}
				})
			}
			wg.Wait()
			if claims.Load() != 1 || inflight.Load() != 15 {
				t.Errorf("%s: %d claims, %d in flight; want 1 and 15", key, claims.Load(), inflight.Load())
			}
		}
	})
}
