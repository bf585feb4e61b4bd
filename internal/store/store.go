// Package store is xjp's persistence: API keys, usage records, idempotency
// records and the audit log, in SQLite (modernc.org/sqlite, the default, no
// cgo) or Postgres (pgx through database/sql).
//
// There is one concrete *Store with hand-written SQL, one file per entity
// and sentinel errors (ErrKeyNotFound, ErrKeyNameTaken, ...). SQL is written
// once with ? placeholders and rebound to $n for Postgres; it stays in the
// subset both databases share. Timestamps are integer unix milliseconds.
// Migrations are goose SQL files embedded per dialect and applied by Open.
//
// SQLite has a single writer. Open therefore keeps two pools on the same
// file: a write pool of exactly one connection whose transactions start with
// BEGIN IMMEDIATE, so writers queue in database/sql instead of failing with
// SQLITE_BUSY, and a read-only pool for queries, which WAL lets run beside
// the writer. On Postgres both pools are the same *sql.DB.
//
// Usage rows are never written on the request path: UsageWriter buffers them
// and writes them in batches from one goroutine. InsertUsage also adds each
// row to usage_daily, per-day sums by every report dimension, in the same
// transaction, so that reports over months read thousands of sums instead
// of millions of rows (see QueryUsage).
//
// Limits of a key (Key.RPM, Key.Burst, Key.DailyTokens) are NULL when the
// key follows the server defaults, and 0 for RPM or DailyTokens means
// unlimited.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// ErrInvalid is wrapped by errors about arguments the store refuses
// (a missing name, a negative limit, malformed JSON).
var ErrInvalid = errors.New("store: invalid argument")

// Options configure Open.
type Options struct {
	// Driver is "sqlite" (the default when empty) or "postgres".
	Driver string
	// DSN is, for sqlite, the database file path (its directory is created
	// when missing; URIs and ":memory:" are not accepted); for postgres a
	// URL or key=value connection string understood by pgx. A search_path
	// parameter in the URL selects the schema.
	DSN string
	// Logger receives migration and usage-writer messages; nil discards them.
	Logger *slog.Logger
	// BusyTimeout (sqlite only) is how long a write waits for a lock held by
	// another process (a second xjp, a backup) before failing with
	// SQLITE_BUSY. Default 5s.
	BusyTimeout time.Duration
	// MaxOpenConns (postgres only) caps the connection pool of this replica.
	// Default 10.
	MaxOpenConns int
	// ReadConns (sqlite only) is the size of the read pool. Default 2.
	ReadConns int
	// Now is the clock used for created_at, last-use and expiry decisions.
	// Default time.Now.
	Now func() time.Time
}

// Store is the persistence of one xjp process. It is safe for concurrent use.
type Store struct {
	driver string
	// db takes every write; on sqlite it has exactly one connection.
	db *sql.DB
	// rdb serves queries; on sqlite a read-only pool, on postgres == db.
	rdb *sql.DB
	log *slog.Logger
	now func() time.Time
}

// Open connects to the database, applies pending migrations and returns the
// Store. N replicas may call Open against one Postgres at the same time: the
// migrations run under a Postgres advisory lock.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Driver == "" {
		o.Driver = DriverSQLite
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{driver: o.Driver, log: o.Logger, now: o.Now}
	var err error
	switch o.Driver {
	case DriverSQLite:
		err = s.openSQLite(o)
	case DriverPostgres:
		err = s.openPostgres(o)
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want sqlite or postgres): %w", o.Driver, ErrInvalid)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) openSQLite(o Options) error {
	path := o.DSN
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("store: sqlite dsn must be a file path, got %q: %w", path, ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("store: sqlite path %q: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return fmt.Errorf("store: create data directory: %w", err)
	}
	busy := o.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	base := sqliteURI(abs) + "?_pragma=journal_mode(WAL)" +
		"&_pragma=busy_timeout(" + strconv.FormatInt(busy.Milliseconds(), 10) + ")" +
		"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"

	w, err := sql.Open("sqlite", base+"&_txlock=immediate")
	if err != nil {
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	// One writer connection: SQLite serialises writers anyway, and queuing
	// in database/sql is cheaper and fairer than busy-waiting on the lock.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Create the file and switch it to WAL before the readers open it.
	if err := w.Ping(); err != nil {
		w.Close()
		return fmt.Errorf("store: open sqlite %s: %w", abs, err)
	}

	n := o.ReadConns
	if n <= 0 {
		n = 2
	}
	// Readers serve key lookups (cached by the gateway) and reports: a
	// small page cache each keeps the process lean (SQLite's default is
	// 2 MiB per connection, outside the Go heap).
	r, err := sql.Open("sqlite", base+"&_query_only=1&_pragma=cache_size(-512)")
	if err != nil {
		w.Close()
		return fmt.Errorf("store: open sqlite: %w", err)
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(5 * time.Minute)
	s.db, s.rdb = w, r
	return nil
}

// sqliteURI turns an absolute path into a file: URI, escaping the
// characters SQLite's URI parser would otherwise interpret.
func sqliteURI(abs string) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows drive letter
	}
	u := url.URL{Scheme: "file", Path: p}
	return u.String()
}

func (s *Store) openPostgres(o Options) error {
	if o.DSN == "" {
		return fmt.Errorf("store: postgres dsn is empty: %w", ErrInvalid)
	}
	db, err := sql.Open("pgx", o.DSN)
	if err != nil {
		return fmt.Errorf("store: open postgres: %w", err)
	}
	n := o.MaxOpenConns
	if n <= 0 {
		n = 10
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	s.db, s.rdb = db, db
	return nil
}

// Close closes the pools. Close a UsageWriter that writes to s first.
func (s *Store) Close() error {
	err := s.db.Close()
	if s.rdb != s.db {
		err = errors.Join(err, s.rdb.Close())
	}
	if err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers (for /readyz). On sqlite it uses the
// read pool, so a long write does not make the process look unready.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.rdb.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Driver returns "sqlite" or "postgres".
func (s *Store) Driver() string { return s.driver }

// Rebind rewrites the ? placeholders of q for the store's driver: unchanged
// for sqlite, $1, $2, ... for postgres. A ? inside a quoted string literal
// or identifier is left alone.
func (s *Store) Rebind(q string) string {
	if s.driver != DriverPostgres {
		return q
	}
	return rebindDollar(q)
}

func rebindDollar(q string) string {
	if strings.IndexByte(q, '?') < 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + len(q)/4)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// inTx runs fn in a transaction on the write pool and commits it, or rolls
// it back when fn fails.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// isUniqueViolation reports whether err is a unique or primary key
// constraint failure in either database.
func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isDataError reports whether err is the database refusing the values of
// a statement (bad encoding, out of range, too big, a constraint), as
// opposed to a connection, lock or schema problem.
func isDataError(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "22", "23", "54": // data exception, integrity constraint, program limit exceeded
			return true
		}
		return false
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_CONSTRAINT, sqlite3.SQLITE_MISMATCH, sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_RANGE:
			return true
		}
	}
	return false
}

// Time columns are unix milliseconds.

func toMillis(t time.Time) int64 { return t.UnixMilli() }

func fromMillis(ms int64) time.Time { return time.UnixMilli(ms).UTC() }

func nullMillis(t *time.Time) sql.NullInt64 {
	if t == nil || t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func timePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromMillis(n.Int64)
	return &t
}

// cleanText makes s storable in both databases: valid UTF-8, no NUL byte
// (Postgres rejects it in text), at most max bytes.
func cleanText(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// clampInt32 keeps v inside an INTEGER column of Postgres.
func clampInt32(v int64) int64 {
	return max(math.MinInt32, min(math.MaxInt32, v))
}
