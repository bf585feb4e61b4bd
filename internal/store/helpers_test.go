package store_test

import (
	"context"
	"database/sql"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/store/storetest"
)

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// eachOpts is storetest.Each for tests that need to adjust the Options
// (a clock) or to reach the database behind the store.
func eachOpts(t *testing.T, adjust func(*store.Options), fn func(t *testing.T, st *store.Store, o store.Options)) {
	t.Helper()
	for _, d := range storetest.Drivers() {
		t.Run(d, func(t *testing.T) {
			o := storetest.Options(t, d)
			if adjust != nil {
				adjust(&o)
			}
			st := openStore(t, o)
			fn(t, st, o)
		})
	}
}

func openStore(t testing.TB, o store.Options) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), o)
	if err != nil {
		t.Fatalf("open %s: %v", o.Driver, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// rawDB opens the database behind o directly, bypassing the store.
func rawDB(t testing.TB, o store.Options) *sql.DB {
	t.Helper()
	var (
		db  *sql.DB
		err error
	)
	switch o.Driver {
	case store.DriverSQLite:
		u := url.URL{Scheme: "file", Path: o.DSN}
		db, err = sql.Open("sqlite", u.String()+"?_pragma=busy_timeout(5000)")
	default:
		db, err = sql.Open("pgx", o.DSN)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func ptr[T any](v T) *T { return &v }
