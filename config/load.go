package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// LoadOptions says where Load looks.
type LoadOptions struct {
	// File is the config file (--config). "" searches, in order:
	// $XJP_CONFIG, ./xjp.toml, ./xjp.yaml, ./xjp.yml,
	// $XDG_CONFIG_HOME/xjp/xjp.toml (~/.config/xjp/…), …/xjp.yaml,
	// …/xjp.yml. Finding none is fine (all defaults); a File or
	// $XJP_CONFIG that does not exist is an error. The format comes from
	// the extension: .toml, .yaml or .yml.
	File string
	// DataDir is the data directory (--data-dir). "": $XJP_DATA_DIR, else
	// $XDG_DATA_HOME/xjp, else ~/.local/share/xjp.
	DataDir string
	// Getenv looks up environment variables; nil means os.Getenv. Tests
	// inject a map lookup.
	Getenv func(string) string
}

func (o LoadOptions) getenv() func(string) string {
	if o.Getenv == nil {
		return os.Getenv
	}
	return o.Getenv
}

// Load reads the configuration: defaults, then the config file, then the
// XJP_* environment variables, then adds the providers implied by the
// environment and the built-in demo provider and model, fills the derived
// defaults (the SQLite path, provider defaults) and validates the result.
//
// Errors name the file (or the environment variable), the key and the
// problem, all at once. Load has no side effects: it reads the file and the
// environment and creates nothing, so it can be called again on SIGHUP.
func Load(o LoadOptions) (*Config, error) {
	getenv := o.getenv()
	path, err := findFile(o.File, getenv)
	if err != nil {
		return nil, err
	}
	var data []byte
	if path != "" {
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, readError(path, "", err)
		}
	}
	return load(path, data, o, getenv)
}

// load builds a Config from the contents of the file at path ("" for none).
func load(path string, data []byte, o LoadOptions, getenv func(string) string) (*Config, error) {
	dataDir, err := resolveDataDir(o.DataDir, getenv)
	if err != nil {
		return nil, err
	}
	raw, err := parse(path, data)
	if err != nil {
		return nil, err
	}

	// The file, decoded strictly and keeping case: type errors, unknown
	// keys, and the providers and models.
	var file Config
	if err := decodeFile(path, raw, &file); err != nil {
		return nil, err
	}

	// The sections through viper: defaults < file < environment.
	c, err := layer(raw, getenv)
	if err != nil {
		return nil, err
	}
	c.File = path
	c.DataDir = dataDir
	c.getenv = getenv
	c.Providers = file.Providers
	if c.Providers == nil {
		c.Providers = map[string]Provider{}
	}
	c.Models = file.Models

	c.addImplicit(getenv)
	c.normalize()

	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// layer decodes the sections with viper: the defaults of every setting, the
// file's sections over them, and XJP_<SECTION>_<KEY> over both.
//
// viper's AutomaticEnv reads os.LookupEnv and cannot be given another
// lookup, so the environment is applied with Set from getenv, key by key,
// which has the same effect (the CLI applies flags after Load). As with
// AutomaticEnv, an empty variable counts as unset.
func layer(raw map[string]any, getenv func(string) string) (*Config, error) {
	v := viper.New()
	for _, s := range settings {
		v.SetDefault(s.key, s.def)
	}
	sections := map[string]any{}
	for k, val := range raw {
		if lk := strings.ToLower(k); lk != "providers" && lk != "models" {
			sections[k] = deepCopy(val)
		}
	}
	if err := v.MergeConfigMap(sections); err != nil {
		return nil, err
	}
	c := &Config{sources: map[string]string{}}
	for _, s := range settings {
		name := envName(s.key)
		if val := getenv(name); val != "" {
			v.Set(s.key, val)
			c.sources[s.key] = name
		}
	}
	if err := v.Unmarshal(c, viper.DecodeHook(decodeHook())); err != nil {
		// The file's values were checked by decodeFile, so a failure here
		// comes from an environment variable.
		return nil, errors.Join(c.decodeErrors(err)...)
	}
	return c, nil
}

// findFile returns the config file to read: file when set (it must exist),
// else $XJP_CONFIG (it must exist), else the first of the search path that
// exists, else "".
func findFile(file string, getenv func(string) string) (string, error) {
	from := ""
	if file == "" {
		file, from = getenv(EnvConfig), EnvConfig
	}
	if file != "" {
		file = expandHome(file, getenv)
		st, err := os.Stat(file)
		if err != nil {
			return "", readError(file, from, err)
		}
		if st.IsDir() {
			return "", fmt.Errorf("config file %s is a directory", file)
		}
		return file, nil
	}
	for _, p := range searchPath(getenv) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", nil
}

// searchPath is where Load looks for a config file when none is given.
func searchPath(getenv func(string) string) []string {
	names := []string{"xjp.toml", "xjp.yaml", "xjp.yml"}
	paths := append([]string(nil), names...)
	if dir := configHome(getenv); dir != "" {
		for _, n := range names {
			paths = append(paths, filepath.Join(dir, "xjp", n))
		}
	}
	return paths
}

// configHome is $XDG_CONFIG_HOME, else %AppData% on Windows, else ~/.config.
func configHome(getenv func(string) string) string {
	if d := getenv("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		return d
	}
	if runtime.GOOS == "windows" {
		if d := getenv("APPDATA"); d != "" {
			return d
		}
	}
	if h := homeDir(getenv); h != "" {
		return filepath.Join(h, ".config")
	}
	return ""
}

// resolveDataDir returns the absolute data dir: flag, else $XJP_DATA_DIR,
// else $XDG_DATA_HOME/xjp, else %LocalAppData%\xjp on Windows, else
// ~/.local/share/xjp.
func resolveDataDir(flag string, getenv func(string) string) (string, error) {
	d := flag
	if d == "" {
		d = getenv(EnvDataDir)
	}
	if d == "" {
		switch x := getenv("XDG_DATA_HOME"); {
		case filepath.IsAbs(x):
			d = filepath.Join(x, "xjp")
		case runtime.GOOS == "windows" && getenv("LOCALAPPDATA") != "":
			d = filepath.Join(getenv("LOCALAPPDATA"), "xjp")
		default:
			h := homeDir(getenv)
			if h == "" {
				return "", errors.New("cannot find a data dir: set --data-dir, XJP_DATA_DIR or HOME")
			}
			d = filepath.Join(h, ".local", "share", "xjp")
		}
	}
	d, err := filepath.Abs(expandHome(d, getenv))
	if err != nil {
		return "", fmt.Errorf("data dir: %w", err)
	}
	return d, nil
}

// homeDir is $HOME (%USERPROFILE% on Windows), else the system's idea of it.
func homeDir(getenv func(string) string) string {
	if h := getenv("HOME"); h != "" {
		return h
	}
	if runtime.GOOS == "windows" {
		if h := getenv("USERPROFILE"); h != "" {
			return h
		}
	}
	h, _ := os.UserHomeDir()
	return h
}

// expandHome replaces a leading "~/" with the home directory.
func expandHome(p string, getenv func(string) string) string {
	if p == "~" || strings.HasPrefix(p, "~/") || strings.HasPrefix(p, `~\`) {
		if h := homeDir(getenv); h != "" {
			return filepath.Join(h, p[1:])
		}
	}
	return p
}

// notFoundError is a config file that was asked for and does not exist.
type notFoundError struct {
	path, from string
}

func (e *notFoundError) Error() string {
	if e.from != "" {
		return fmt.Sprintf("config file %s (from %s) does not exist", e.path, e.from)
	}
	return fmt.Sprintf("config file %s does not exist", e.path)
}

func (e *notFoundError) Unwrap() error { return fs.ErrNotExist }

func readError(path, from string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &notFoundError{path: path, from: from}
	}
	return fmt.Errorf("config file: %w", err)
}

// parse decodes the file's contents into a map that keeps the case of every
// key. A nil map means no file.
func parse(path string, data []byte) (map[string]any, error) {
	if path == "" {
		return nil, nil
	}
	raw := map[string]any{}
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".toml":
		if err := toml.Unmarshal(data, &raw); err != nil {
			var de *toml.DecodeError
			if errors.As(err, &de) {
				row, col := de.Position()
				return nil, fmt.Errorf("%s:%d:%d: %s", path, row, col, de.Error())
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	case ".yaml", ".yml":
		if len(bytes.TrimSpace(data)) == 0 {
			return raw, nil
		}
		var m map[string]any
		if err := yaml.Unmarshal(data, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if m != nil {
			raw = m
		}
	default:
		return nil, fmt.Errorf("%s: unsupported config file extension %q (use .toml, .yaml or .yml)", path, ext)
	}
	return normalizeMap(raw), nil
}

// normalizeMap makes YAML's and TOML's generic values alike: maps with
// string keys, and int64 and float64 for numbers.
func normalizeMap(m map[string]any) map[string]any {
	for k, v := range m {
		m[k] = normalizeValue(v)
	}
	return m
}

func normalizeValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return normalizeMap(v)
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, val := range v {
			m[fmt.Sprint(k)] = normalizeValue(val)
		}
		return m
	case []any:
		for i := range v {
			v[i] = normalizeValue(v[i])
		}
		return v
	case int:
		return int64(v)
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case float32:
		return float64(v)
	}
	return v
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, val := range v {
			m[k] = deepCopy(val)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i := range v {
			s[i] = deepCopy(v[i])
		}
		return s
	}
	return v
}

// decodeFile decodes the whole file strictly (no string-to-number guessing)
// into out, keeping the case of map keys, and reports type errors and unknown
// keys with the file name and key path.
func decodeFile(path string, raw map[string]any, out *Config) error {
	if raw == nil {
		return nil
	}
	md := &mapstructure.Metadata{}
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		DecodeHook: decodeHook(),
		Metadata:   md,
		Result:     out,
		TagName:    "mapstructure",
	})
	if err != nil {
		return err
	}
	c := &Config{File: path}
	if err := dec.Decode(raw); err != nil {
		return errors.Join(c.decodeErrors(err)...)
	}
	sort.Strings(md.Unused)
	var errs []error
	for _, k := range md.Unused {
		k = keyPath(k)
		msg := "unknown key"
		if strings.HasPrefix(k, "providers.") && strings.HasSuffix(k, ".name") && strings.Count(k, ".") == 2 {
			msg += " (a provider's name is the name of its table)"
		} else if s := suggest(k); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		errs = append(errs, c.problem(k, "%s", msg))
	}
	return errors.Join(errs...)
}
