// Package storetest opens fresh stores for tests, on every driver: SQLite
// in t.TempDir(), and the real Postgres named by XJP_TEST_POSTGRES_DSN
// (default DefaultPostgresDSN) in a schema of its own, dropped when the
// test ends.
//
// When no Postgres answers, Postgres tests are skipped, unless the
// environment variable CI is set (to anything but "", "0" or "false"): then
// they fail, so that CI cannot pass without running them.
//
//	func TestX(t *testing.T) {
//		storetest.Each(t, func(t *testing.T, st *store.Store) { ... })
//	}
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver for the admin connection

	"github.com/rickyjim626/xjp/internal/store"
)

// DefaultPostgresDSN is used when XJP_TEST_POSTGRES_DSN is unset.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Drivers lists the drivers every store test runs on.
func Drivers() []string { return []string{store.DriverSQLite, store.DriverPostgres} }

// PostgresDSN returns the test server's DSN.
func PostgresDSN() string {
	if dsn := os.Getenv("XJP_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return DefaultPostgresDSN
}

// Each runs fn as a subtest per driver, each on a fresh store.
func Each(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	t.Helper()
	for _, d := range Drivers() {
		t.Run(d, func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open opens a fresh, migrated store on driver and closes it when the test
// ends.
func Open(t testing.TB, driver string) *store.Store {
	t.Helper()
	o := Options(t, driver)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := store.Open(ctx, o)
	if err != nil {
		t.Fatalf("storetest: open %s: %v", driver, err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Options returns the Options of a fresh, empty database on driver, without
// opening it: a new file in t.TempDir(), or a new Postgres schema (selected
// by search_path and named in application_name) dropped when the test ends.
// Use it to open one database twice.
func Options(t testing.TB, driver string) store.Options {
	t.Helper()
	switch driver {
	case store.DriverSQLite:
		return store.Options{Driver: driver, DSN: filepath.Join(t.TempDir(), "xjp.db")}
	case store.DriverPostgres:
		admin := PostgresAdmin(t)
		schema := "xjp_test_" + strings.ToLower(rand.Text()[:12])
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// schema is made of [a-z0-9_] above: safe to splice.
		if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
			t.Fatalf("storetest: create schema: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := admin.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
				t.Errorf("storetest: drop schema %s: %v", schema, err)
			}
		})
		dsn, err := withParams(PostgresDSN(), map[string]string{"search_path": schema, "application_name": schema})
		if err != nil {
			t.Fatalf("storetest: %v", err)
		}
		return store.Options{Driver: driver, DSN: dsn}
	default:
		t.Fatalf("storetest: unknown driver %q", driver)
		return store.Options{}
	}
}

// Schema returns the Postgres schema of o (also its connections'
// application_name), or "" for SQLite.
func Schema(o store.Options) string {
	if o.Driver != store.DriverPostgres {
		return ""
	}
	u, err := url.Parse(o.DSN)
	if err != nil {
		return ""
	}
	return u.Query().Get("search_path")
}

func withParams(dsn string, params map[string]string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("postgres dsn: %w", err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	for k, v := range params { // key=value form
		dsn += " " + k + "=" + v
	}
	return dsn, nil
}

var admin struct {
	once sync.Once
	db   *sql.DB
	err  error
}

// PostgresAdmin returns a connection pool to the test Postgres outside any
// test schema (to create and drop schemas, or to kill a store's
// connections). It skips the test when Postgres does not answer, or fails
// it when CI=true.
func PostgresAdmin(t testing.TB) *sql.DB {
	t.Helper()
	admin.once.Do(func() {
		db, err := sql.Open("pgx", PostgresDSN())
		if err != nil {
			admin.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := db.PingContext(ctx); err != nil {
			db.Close()
			admin.err = err
			return
		}
		db.SetMaxOpenConns(4)
		admin.db = db
	})
	if admin.err != nil {
		if inCI() {
			t.Fatalf("storetest: postgres at %s unavailable (CI is set, so this fails): %v", redact(PostgresDSN()), admin.err)
		}
		t.Skipf("storetest: postgres at %s unavailable, skipping (CI=true makes this fail): %v", redact(PostgresDSN()), admin.err)
	}
	return admin.db
}

// inCI reports whether the CI environment variable is set to a true value.
func inCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "0" && !strings.EqualFold(v, "false")
}

// redact hides a password in a URL DSN.
func redact(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		return u.Redacted()
	}
	return dsn
}
