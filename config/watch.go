package config

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// ErrNoFile is returned by Watch when no config file is in use, so there is
// nothing to watch (xjp runs on defaults and the environment).
var ErrNoFile = errors.New("no config file to watch")

// watchDebounce is how long the file must stay quiet before it is reloaded:
// editors save in several steps.
const watchDebounce = 200 * time.Millisecond

// Watch reloads the config file that Load(o) would read whenever its
// contents change, until ctx is done (then it returns nil). Each change that
// loads and validates is passed to onChange; a file that does not (or that
// disappears) is passed to onError, and the caller keeps the config it has.
// A change is reported once: saving the same contents again, or a bad file
// that is saved again unchanged, calls nothing.
//
// Watch watches the file's directory, not the file, so that editors that
// save by writing a new file and renaming it over the old one (vim, JetBrains
// IDEs) and Kubernetes ConfigMap volumes (a symlink swapped atomically) keep
// being followed; it also watches the directory of the symlink's target.
// Events are debounced (200ms). Both callbacks run on the goroutine that
// called Watch, one at a time.
//
// Call Watch right after Load, with the same options. It returns ErrNoFile
// when no file is in use, and an error if the watch cannot be set up.
func Watch(ctx context.Context, o LoadOptions, onChange func(*Config), onError func(error)) error {
	return watch(ctx, o, watchDebounce, onChange, onError, nil)
}

// watch is Watch with a debounce to choose and ready, called once the
// watch is set up (tests).
func watch(ctx context.Context, o LoadOptions, debounce time.Duration, onChange func(*Config), onError func(error), ready func()) error {
	getenv := o.getenv()
	path, err := findFile(o.File, getenv)
	if err != nil {
		return err
	}
	if path == "" {
		return ErrNoFile
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("config watch: %w", err)
	}
	o.File = path

	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config watch: %w", err)
	}
	defer w.Close()

	fw := &fileWatch{w: w, abs: abs, dirs: map[string]bool{}}
	if err := fw.sync(); err != nil {
		return fmt.Errorf("config watch: %w", err)
	}
	fw.last = fw.hash()

	timer := time.NewTimer(debounce)
	timer.Stop()
	defer timer.Stop()
	if ready != nil {
		ready()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if fw.relevant(ev.Name) {
				timer.Reset(debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			onError(fmt.Errorf("config watch: %w", err))
		case <-timer.C:
			_ = fw.sync() // the symlink may point elsewhere now
			data, err := os.ReadFile(abs)
			if err != nil {
				if fw.last != "missing" {
					fw.last = "missing"
					if errors.Is(err, fs.ErrNotExist) {
						err = fmt.Errorf("config file %s was removed; keeping the current config", path)
					}
					onError(err)
				}
				continue
			}
			h := fmt.Sprintf("%x", sha256.Sum256(data))
			if h == fw.last {
				continue
			}
			fw.last = h
			c, err := load(path, data, o, getenv)
			if err != nil {
				onError(err)
				continue
			}
			onChange(c)
		}
	}
}

// fileWatch follows one file through its directory and, when it is a
// symlink, its target's directory.
type fileWatch struct {
	w    *fsnotify.Watcher
	abs  string          // the file as named
	real string          // the file after symlinks ("" when it cannot be resolved)
	dirs map[string]bool // directories watched
	last string          // hash of the contents last seen, or "missing"
}

// sync watches the directories of the file and of its symlink target.
func (fw *fileWatch) sync() error {
	want := map[string]bool{filepath.Dir(fw.abs): true}
	fw.real = ""
	if real, err := filepath.EvalSymlinks(fw.abs); err == nil {
		fw.real = real
		want[filepath.Dir(real)] = true
	}
	for d := range want {
		if !fw.dirs[d] {
			if err := fw.w.Add(d); err != nil {
				if d == filepath.Dir(fw.abs) {
					return err
				}
				continue
			}
			fw.dirs[d] = true
		}
	}
	for d := range fw.dirs {
		if !want[d] {
			_ = fw.w.Remove(d) // may be gone already
			delete(fw.dirs, d)
		}
	}
	return nil
}

// relevant reports whether an event on name may have changed the file: the
// file itself, its symlink target, or a Kubernetes "..data" swap.
func (fw *fileWatch) relevant(name string) bool {
	name = filepath.Clean(name)
	base := filepath.Base(name)
	return name == fw.abs || (fw.real != "" && name == fw.real) ||
		base == filepath.Base(fw.abs) || strings.HasPrefix(base, "..")
}

func (fw *fileWatch) hash() string {
	data, err := os.ReadFile(fw.abs)
	if err != nil {
		return "missing"
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}
