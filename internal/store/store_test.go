package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/store/storetest"
)

func TestRebind(t *testing.T) {
	t.Parallel()
	pg := storetest.Open(t, store.DriverPostgres)
	lite := storetest.Open(t, store.DriverSQLite)
	tests := []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"},
		{"INSERT INTO t VALUES (?, '?', \"?\", ?)", "INSERT INTO t VALUES ($1, '?', \"?\", $2)"},
		{"SELECT 'it''s ?' , ?", "SELECT 'it''s ?' , $1"},
		{"?,?,?,?,?,?,?,?,?,?,?", "$1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11"},
	}
	for _, tt := range tests {
		if got := pg.Rebind(tt.in); got != tt.want {
			t.Errorf("postgres Rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := lite.Rebind(tt.in); got != tt.in {
			t.Errorf("sqlite Rebind(%q) = %q", tt.in, got)
		}
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, o := range []store.Options{
		{Driver: "mysql", DSN: "x"},
		{Driver: store.DriverSQLite, DSN: ""},
		{Driver: store.DriverSQLite, DSN: ":memory:"},
		{Driver: store.DriverSQLite, DSN: "file:x.db?mode=memory"},
		{Driver: store.DriverPostgres, DSN: ""},
	} {
		if _, err := store.Open(t.Context(), o); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Open(%+v) = %v, want ErrInvalid", o, err)
		}
	}
	// A path under a regular file cannot be created.
	if _, err := store.Open(t.Context(), store.Options{DSN: filepath.Join(file, "sub", "xjp.db")}); err == nil {
		t.Error("open under a file: no error")
	}
	// Unreachable Postgres fails fast enough.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := store.Open(ctx, store.Options{Driver: store.DriverPostgres, DSN: "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=2"}); err == nil {
		t.Error("open unreachable postgres: no error")
	}
}

func TestOpenCreatesDirectoryAndUsesWAL(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "a", "b c", "x?y#z%.db") // URI-special characters
	st := openStore(t, store.Options{DSN: path})
	if st.Driver() != store.DriverSQLite {
		t.Errorf("driver %q", st.Driver())
	}
	if err := st.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateKey(t.Context(), store.NewKey{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the path given: %v", err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Errorf("no WAL file: %v", err)
	}
	db := rawDB(t, store.Options{Driver: store.DriverSQLite, DSN: path})
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v", mode, err)
	}
}

// TestOpenTwice: migrations are idempotent, and on Postgres several
// replicas may start on an empty schema at once.
func TestOpenTwice(t *testing.T) {
	t.Parallel()
	for _, d := range storetest.Drivers() {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			o := storetest.Options(t, d)
			st := openStore(t, o)
			k, secret, err := st.CreateKey(t.Context(), store.NewKey{Name: "survives"})
			if err != nil {
				t.Fatal(err)
			}
			st.Close()
			// Reopen, sequentially and then several at once.
			st = openStore(t, o)
			if got, err := st.VerifyKey(t.Context(), secret); err != nil || got.ID != k.ID {
				t.Fatalf("after reopen: %v", err)
			}
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					s, err := store.Open(t.Context(), o)
					if err != nil {
						t.Error(err)
						return
					}
					defer s.Close()
					if _, err := s.VerifyKey(t.Context(), secret); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		})
	}
	// Replicas racing on an empty Postgres schema.
	t.Run("postgres replicas on an empty schema", func(t *testing.T) {
		t.Parallel()
		o := storetest.Options(t, store.DriverPostgres)
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				s, err := store.Open(t.Context(), o)
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
					return
				}
				defer s.Close()
				if _, err := s.CountKeys(t.Context()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	})
}

// TestConcurrentWriters: many goroutines in two processes' worth of stores
// write to one SQLite file at once; none sees SQLITE_BUSY.
func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	eachOpts(t, nil, func(t *testing.T, st *store.Store, o store.Options) {
		other := openStore(t, o) // a second process on the same file
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make(chan error, 1000)
		for g := range 16 {
			s := st
			if g%2 == 1 {
				s = other
			}
			wg.Go(func() {
				for i := range 20 {
					k, _, err := s.CreateKey(ctx, store.NewKey{Name: fmt.Sprintf("g%d-%d", g, i)})
					if err != nil {
						errs <- err
						continue
					}
					if err := s.TouchKeys(ctx, map[string]time.Time{k.ID: time.Now()}); err != nil {
						errs <- err
					}
					if err := s.InsertUsage(ctx, []llm.UsageRecord{rec(g*1000 + i)}); err != nil {
						errs <- err
					}
					if _, err := s.UpdateKey(ctx, k.ID, store.KeyUpdate{RPM: ptr(i)}); err != nil {
						errs <- err
					}
					if _, err := s.BeginIdem(ctx, k.ID, "idem", "h", time.Minute); err != nil {
						errs <- err
					}
					if _, err := s.QueryUsage(ctx, store.UsageQuery{By: []string{store.ByModel}}); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n, err := st.CountKeys(ctx); err != nil || n != 320 {
			t.Errorf("keys %d, %v; want 320", n, err)
		}
		rows, err := st.QueryUsage(ctx, store.UsageQuery{})
		if err != nil || len(rows) != 1 || rows[0].Requests != 320 {
			t.Errorf("usage %v %v; want 320 requests", rows, err)
		}
	})
}

func TestPingAfterClose(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		if err := st.Ping(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if err := st.Ping(t.Context()); err == nil {
			t.Error("ping after close: no error")
		}
	})
}
