package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// watcher runs watch on file in the background and collects what it reports.
type watcher struct {
	changes chan *Config
	errs    chan error
	done    chan error
}

func startWatch(t *testing.T, file string) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{changes: make(chan *Config, 10), errs: make(chan error, 10), done: make(chan error, 1)}
	ready := make(chan struct{})
	go func() {
		w.done <- watch(ctx, LoadOptions{File: file, Getenv: env(nil)}, 20*time.Millisecond,
			func(c *Config) { w.changes <- c },
			func(err error) { w.errs <- err },
			func() { close(ready) })
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-w.done; err != nil {
			t.Errorf("watch returned %v", err)
		}
	})
	select {
	case <-ready:
	case err := <-w.done:
		t.Fatalf("watch: %v", err)
	}
	return w
}

func (w *watcher) change(t *testing.T) *Config {
	t.Helper()
	select {
	case c := <-w.changes:
		return c
	case err := <-w.errs:
		t.Fatalf("got error %v, want a change", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no change reported")
	}
	return nil
}

func (w *watcher) err(t *testing.T) error {
	t.Helper()
	select {
	case c := <-w.changes:
		t.Fatalf("got a change (rpm %d), want an error", c.Limits.DefaultRPM)
	case err := <-w.errs:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("no error reported")
	}
	return nil
}

func (w *watcher) quiet(t *testing.T) {
	t.Helper()
	select {
	case c := <-w.changes:
		t.Fatalf("unexpected change (rpm %d)", c.Limits.DefaultRPM)
	case err := <-w.errs:
		t.Fatalf("unexpected error %v", err)
	case <-time.After(300 * time.Millisecond):
	}
}

func rpmFile(rpm int) string {
	return fmt.Sprintf("[limits]\ndefault_rpm = %d\n", rpm)
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "xjp.toml")
	write(t, file, rpmFile(1))
	w := startWatch(t, file)

	// Written in place.
	write(t, file, rpmFile(2))
	if c := w.change(t); c.Limits.DefaultRPM != 2 || c.File != file {
		t.Errorf("rpm %d file %q, want 2 %q", c.Limits.DefaultRPM, c.File, file)
	}

	// Saved again unchanged, and another file of the directory changed.
	write(t, file, rpmFile(2))
	write(t, filepath.Join(dir, "notes.txt"), "x")
	w.quiet(t)

	// A bad file is reported, not loaded; saving it again says nothing more.
	write(t, file, "[limits]\ndefault_rpm = -1\n")
	if err := w.err(t); !strings.Contains(err.Error(), "limits.default_rpm: must be positive") {
		t.Errorf("error = %v", err)
	}
	write(t, file, "[limits]\ndefault_rpm = -1\n")
	w.quiet(t)

	// Atomic save: a new file renamed over the old one.
	tmp := filepath.Join(dir, ".xjp.toml.tmp")
	write(t, tmp, rpmFile(3))
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
	if c := w.change(t); c.Limits.DefaultRPM != 3 {
		t.Errorf("rpm %d, want 3", c.Limits.DefaultRPM)
	}

	// vim: the old file moved to a backup, a new file written.
	if err := os.Rename(file, file+"~"); err != nil {
		t.Fatal(err)
	}
	write(t, file, rpmFile(4))
	if c := w.change(t); c.Limits.DefaultRPM != 4 {
		t.Errorf("rpm %d, want 4", c.Limits.DefaultRPM)
	}

	// Removed: reported once; back: loaded.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := w.err(t); !strings.Contains(err.Error(), "was removed; keeping the current config") {
		t.Errorf("error = %v", err)
	}
	write(t, file, rpmFile(5))
	if c := w.change(t); c.Limits.DefaultRPM != 5 {
		t.Errorf("rpm %d, want 5", c.Limits.DefaultRPM)
	}
}

// TestWatchSymlinkSwap follows a Kubernetes ConfigMap volume: xjp.toml is a
// symlink into ..data, itself a symlink to a timestamped directory that is
// swapped atomically on update.
func TestWatchSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	mkVersion := func(name string, rpm int) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name, "xjp.toml"), rpmFile(rpm))
	}
	mkVersion("..2026_01_01", 1)
	if err := os.Symlink("..2026_01_01", filepath.Join(dir, "..data")); err != nil {
		t.Skipf("symlinks: %v", err)
	}
	if err := os.Symlink(filepath.Join("..data", "xjp.toml"), filepath.Join(dir, "xjp.toml")); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, filepath.Join(dir, "xjp.toml"))

	mkVersion("..2026_01_02", 2)
	if err := os.Symlink("..2026_01_02", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01_01")); err != nil {
		t.Fatal(err)
	}
	if c := w.change(t); c.Limits.DefaultRPM != 2 {
		t.Errorf("rpm %d, want 2", c.Limits.DefaultRPM)
	}
}

func TestWatchNoFile(t *testing.T) {
	t.Chdir(t.TempDir())
	err := Watch(context.Background(), LoadOptions{Getenv: env(nil)}, func(*Config) {}, func(error) {})
	if !errors.Is(err, ErrNoFile) {
		t.Errorf("Watch() = %v, want ErrNoFile", err)
	}
	err = Watch(context.Background(), LoadOptions{File: "missing.toml", Getenv: env(nil)}, func(*Config) {}, func(error) {})
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Watch(missing) = %v", err)
	}
}
