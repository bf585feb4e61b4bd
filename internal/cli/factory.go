package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/store"
)

// Factory builds what commands need, lazily and once: the config, then the
// store. Global flags land in its fields before any command runs.
type Factory struct {
	IO *IOStreams

	// Global flags.
	ConfigFile string
	DataDir    string

	Getenv func(string) string // os.Getenv unless a test injects one
	Now    func() time.Time

	cfgOnce sync.Once
	cfg     *config.Config
	cfgErr  error
}

// NewFactory returns a factory over the given streams.
func NewFactory(io *IOStreams) *Factory {
	return &Factory{IO: io, Getenv: os.Getenv, Now: time.Now}
}

// Config loads and validates the configuration once.
func (f *Factory) Config() (*config.Config, error) {
	f.cfgOnce.Do(func() {
		f.cfg, f.cfgErr = config.Load(f.loadOptions())
	})
	return f.cfg, f.cfgErr
}

func (f *Factory) loadOptions() config.LoadOptions {
	return config.LoadOptions{File: f.ConfigFile, DataDir: f.DataDir, Getenv: f.Getenv}
}

// OpenStore opens the configured store (SQLite under the data dir by
// default). The caller closes it.
func (f *Factory) OpenStore(ctx context.Context) (*store.Store, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	return openStore(ctx, cfg)
}

func openStore(ctx context.Context, cfg *config.Config) (*store.Store, error) {
	dsn := cfg.Store.DSN
	if cfg.Store.Driver == "sqlite" && dsn == "" {
		dsn = filepath.Join(cfg.DataDir, "xjp.db")
	}
	st, err := store.Open(ctx, store.Options{Driver: cfg.Store.Driver, DSN: dsn})
	if err != nil {
		return nil, fmt.Errorf("opening the %s store: %w", cfg.Store.Driver, err)
	}
	return st, nil
}
