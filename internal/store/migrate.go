package store

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// migrationTable is goose's version table. It has an xjp name so that a
// Postgres database shared with another goose user keeps two histories.
const migrationTable = "xjp_schema_migrations"

// migrate applies the pending migrations of s's dialect.
func (s *Store) migrate(ctx context.Context) error {
	dir, dialect := "migrations/sqlite", goose.DialectSQLite3
	if s.driver == DriverPostgres {
		dir, dialect = "migrations/postgres", goose.DialectPostgres
	}
	fsys, err := fs.Sub(migrations, dir)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	opts := []goose.ProviderOption{
		goose.WithTableName(migrationTable),
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(s.log),
	}
	if s.driver == DriverPostgres {
		// Replicas starting together wait for one another on an advisory
		// lock. The lock id is derived from the schema, so deployments in
		// different schemas of one database do not wait on each other.
		var schema string
		if err := s.db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			return fmt.Errorf("store: migrations: %w", err)
		}
		h := fnv.New64a()
		h.Write([]byte("xjp migrations " + schema))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64()>>1)),
			lock.WithLockTimeout(1, 300), // poll every second, give up after 5 minutes
		)
		if err != nil {
			return fmt.Errorf("store: migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate %s: %w", s.driver, err)
	}
	for _, r := range res {
		s.log.Info("store: migration applied", "driver", s.driver, "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}
