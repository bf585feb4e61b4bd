package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/rickyjim626/xjp/config"
)

// The clients `xjp env` knows, by the name on its command line.
const (
	envClaude = "claude"
	envCodex  = "codex"
	envAider  = "aider"
	envGenAI  = "genai"
)

// envAliases maps other names users type to a client.
var envAliases = map[string]string{
	"claude":      envClaude,
	"claude-code": envClaude,
	"codex":       envCodex,
	"codex-cli":   envCodex,
	"aider":       envAider,
	"genai":       envGenAI,
	"gemini":      envGenAI,
	"gemini-cli":  envGenAI,
}

// envKeyPlaceholder stands in for a key xjp does not know: keys are stored
// hashed, so xjp can never print one it did not just create.
const envKeyPlaceholder = "REPLACE_WITH_YOUR_XJP_KEY"

// codexKeyEnv is the variable Codex reads the key from (env_key).
const codexKeyEnv = "XJP_API_KEY"

type envOptions struct {
	IO     *IOStreams
	Config func() (*config.Config, error)
	Getenv func(string) string
	Now    func() time.Time
	// GOOS picks the shell syntax: PowerShell on "windows", POSIX sh
	// otherwise (runtime.GOOS unless a test sets it).
	GOOS string

	Client string // claude, codex, aider or genai
	Write  bool
	Key    string
	Model  string
	Addr   string
}

func newCmdEnv(f *Factory, runF func(*envOptions) error) *cobra.Command {
	opts := &envOptions{IO: f.IO, Config: f.Config, Getenv: f.Getenv, Now: f.Now, GOOS: runtime.GOOS}
	cmd := &cobra.Command{
		Use:   "env claude|codex|aider|genai [flags]",
		Short: "Print or write the settings that point a coding agent at this xjp",
		Long: `Print the settings that point a client at this xjp, or write them into the
client's own config file with --write.

  claude   Claude Code: ANTHROPIC_BASE_URL and ANTHROPIC_AUTH_TOKEN (plus
           ANTHROPIC_MODEL and ANTHROPIC_DEFAULT_{OPUS,SONNET,HAIKU}_MODEL with
           --model). --write merges them into the "env" block of
           ~/.claude/settings.json ($CLAUDE_CONFIG_DIR/settings.json).
  codex    Codex CLI: a [model_providers.xjp] block (Responses API, no
           WebSockets, key from $XJP_API_KEY), model_provider = "xjp", model and
           web_search = "disabled" (xjp refuses hosted tools), plus
           'export XJP_API_KEY=…'. --write merges them into ~/.codex/config.toml
           ($CODEX_HOME/config.toml); the key stays in your shell.
  aider    Aider: OPENAI_API_BASE and OPENAI_API_KEY; run 'aider --model
           openai/MODEL'. --write merges openai-api-base, openai-api-key and
           model into ~/.aider.conf.yml.
  genai    gemini-cli and the Google Gen AI SDKs: GOOGLE_GEMINI_BASE_URL and
           GEMINI_API_KEY (plus GEMINI_MODEL with --model). --write merges them
           into ~/.gemini/.env ($GEMINI_CLI_HOME/.gemini/.env), which gemini-cli
           loads; the SDKs read only the environment.

The address is server.listen from the config (0.0.0.0 becomes 127.0.0.1), or
--addr. The key is --key, else $XJP_API_KEY, else a placeholder: xjp stores
only hashes of keys and cannot print one. Create one with
'xjp keys create --name claude'. --write needs a real key for claude, aider and
genai, whose files hold it.

--write backs the file it changes up to FILE.bak-<timestamp>, keeps every
setting it does not own, and writes nothing when the existing file cannot be
parsed.

On a terminal the output explains itself; otherwise stdout is only what a
script needs (export lines, or the TOML for codex) and notes go to stderr.
Lines are POSIX sh (export NAME=value); on Windows they are PowerShell
($env:NAME = 'value'). In fish, write set -gx NAME value instead.`,
		Example: `  eval "$(xjp env claude --key "$XJP_KEY")"    # this shell, then run claude
  xjp env claude --write --key xjp_... --model claude-sonnet-4.5
  xjp env codex --write --model claude-sonnet-4.5 && export XJP_API_KEY=xjp_...
  xjp env aider --model openrouter/openai/gpt-4o
  xjp env genai --addr gateway.internal:8080`,
		ValidArgs: []string{envClaude, envCodex, envAider, envGenAI},
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return flagErrorf(cmd, "name one client: claude, codex, aider or genai")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			client, ok := envAliases[strings.ToLower(args[0])]
			if !ok {
				return flagErrorf(cmd, "unknown client %q: want claude, codex, aider or genai", args[0])
			}
			opts.Client = client
			fl := cmd.Flags()
			if fl.Changed("key") {
				if err := checkEnvKey(opts.Key); err != nil {
					return flagErrorf(cmd, "--key: %v", err)
				}
			}
			if fl.Changed("model") && strings.TrimSpace(opts.Model) == "" {
				return flagErrorf(cmd, "--model is empty")
			}
			if fl.Changed("addr") {
				if _, err := envBaseURL(opts.Addr); err != nil {
					return flagErrorf(cmd, "--addr: %v", err)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return envRun(opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Write, "write", false, "write the settings into the client's config file (backing up what it replaces)")
	fl.StringVar(&opts.Key, "key", "", "the xjp API key to use (default: $XJP_API_KEY)")
	fl.StringVar(&opts.Model, "model", "", "the xjp model the client should ask for")
	fl.StringVar(&opts.Addr, "addr", "", "xjp's address, host:port or a URL (default: server.listen)")
	return cmd
}

// checkEnvKey rejects keys that cannot be a key at all.
func checkEnvKey(k string) error {
	switch {
	case k == "":
		return errors.New("empty key")
	case strings.ContainsAny(k, " \t\r\n\"'`$\\"):
		return errors.New("a key has no spaces, quotes or backslashes")
	}
	return nil
}

// envBaseURL turns an address (host:port or http(s)://host:port) into the
// gateway's root URL, with no trailing slash. Unspecified hosts (0.0.0.0,
// ::, empty) become 127.0.0.1: a client connects to a host, not to "any".
func envBaseURL(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", errors.New("empty address")
	}
	scheme := "http"
	if strings.Contains(addr, "://") {
		u, err := url.Parse(addr)
		if err != nil {
			return "", err
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return "", fmt.Errorf("%q: want http:// or https://", addr)
		}
		if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
			return "", fmt.Errorf("%q: give the server's root, without a path such as /v1", addr)
		}
		scheme, addr = u.Scheme, u.Host
		if u.Port() == "" {
			return scheme + "://" + connectHost(u.Hostname()), nil
		}
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("%q: want host:port, such as 127.0.0.1:8080", addr)
	}
	return scheme + "://" + net.JoinHostPort(connectHost(host), port), nil
}

func connectHost(h string) string {
	if ip := net.ParseIP(h); h == "" || (ip != nil && ip.IsUnspecified()) {
		return "127.0.0.1"
	}
	return h
}

// envSetting is what points one client at xjp.
type envSetting struct {
	client  string
	base    string      // the gateway's root URL
	key     string      // the key, or envKeyPlaceholder
	keyReal bool        // key is not the placeholder
	model   string      // "" when none was chosen
	vars    [][2]string // environment variables, in order
	notes   []string
}

func envRun(opts *envOptions) error {
	s, err := resolveEnv(opts)
	if err != nil {
		return err
	}
	if opts.Write {
		return envWrite(opts, s)
	}
	envPrint(opts, s)
	return nil
}

func (o *envOptions) getenv(k string) string {
	if o.Getenv == nil {
		return os.Getenv(k)
	}
	return o.Getenv(k)
}

// resolveEnv works out the address, key, model and variables of a client.
func resolveEnv(opts *envOptions) (*envSetting, error) {
	s := &envSetting{client: opts.Client, model: strings.TrimSpace(opts.Model)}

	var cfg *config.Config
	loadCfg := func() (*config.Config, error) {
		if cfg == nil {
			c, err := opts.Config()
			if err != nil {
				return nil, err
			}
			cfg = c
		}
		return cfg, nil
	}
	addr := opts.Addr
	if addr == "" {
		c, err := loadCfg()
		if err != nil {
			return nil, fmt.Errorf("%w (or give the address with --addr)", err)
		}
		addr = c.Server.Listen
	}
	base, err := envBaseURL(addr)
	if err != nil {
		return nil, err
	}
	s.base = base

	s.key = opts.Key
	if s.key == "" {
		if k := strings.TrimSpace(opts.getenv(codexKeyEnv)); k != "" {
			if err := checkEnvKey(k); err != nil {
				return nil, fmt.Errorf("$%s: %v", codexKeyEnv, err)
			}
			s.key = k
		}
	}
	s.keyReal = s.key != ""
	if !s.keyReal {
		s.key = envKeyPlaceholder
		s.notes = append(s.notes, fmt.Sprintf("No key given: %s is a placeholder. xjp stores only hashes of keys and cannot show one; create a key with 'xjp keys create --name %s' and pass it with --key or set %s.", envKeyPlaceholder, opts.Client, codexKeyEnv))
	} else if !strings.HasPrefix(s.key, "xjp_") {
		s.notes = append(s.notes, "The key does not start with xjp_: xjp accepts only its own keys (xjp keys create), never a provider's.")
	}

	// Codex and Aider must name a model; default to the config's first.
	if s.model == "" && (s.client == envCodex || s.client == envAider) {
		c, err := loadCfg()
		if err != nil {
			return nil, fmt.Errorf("%w (or name the model with --model)", err)
		}
		if len(c.Models) == 0 {
			return nil, errors.New("the config has no models: name one with --model")
		}
		s.model = c.Models[0].Name
		s.notes = append(s.notes, fmt.Sprintf("Model %q is the first model of xjp's config; choose another with --model.", s.model))
	}

	switch s.client {
	case envClaude:
		s.vars = [][2]string{{"ANTHROPIC_BASE_URL", s.base}, {"ANTHROPIC_AUTH_TOKEN", s.key}}
		if s.model != "" {
			for _, v := range []string{"ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL"} {
				s.vars = append(s.vars, [2]string{v, s.model})
			}
		} else {
			s.notes = append(s.notes, "Claude Code asks for its own model names (and a haiku model for background work); each must be a model of xjp's config, or pass --model to send every tier to one xjp model.")
		}
	case envCodex:
		s.vars = [][2]string{{codexKeyEnv, s.key}}
	case envAider:
		s.vars = [][2]string{{"OPENAI_API_BASE", s.base + "/v1"}, {"OPENAI_API_KEY", s.key}}
	case envGenAI:
		s.vars = [][2]string{{"GOOGLE_GEMINI_BASE_URL", s.base}, {"GEMINI_API_KEY", s.key}}
		if s.model != "" {
			s.vars = append(s.vars, [2]string{"GEMINI_MODEL", s.model})
		}
		s.notes = append(s.notes,
			"The Google SDKs prefer GOOGLE_API_KEY over GEMINI_API_KEY: unset GOOGLE_API_KEY.",
			"gemini-cli: an auth type saved in ~/.gemini/settings.json (security.auth.selectedType, such as oauth-personal) wins over these variables; choose the Gemini API key with /auth.")
	}
	return s, nil
}

// envPrint prints the settings: explained on a terminal, bare otherwise.
func envPrint(opts *envOptions, s *envSetting) {
	out, tty := opts.IO.Out, opts.IO.IsStdoutTTY()
	shell := func() {
		for _, v := range s.vars {
			fmt.Fprintln(out, shellAssign(opts.GOOS, v[0], v[1]))
		}
	}
	notes := func(w io.Writer, prefix string) {
		for _, n := range s.notes {
			fmt.Fprintf(w, "%s%s\n", prefix, n)
		}
	}
	if !tty {
		if s.client == envCodex {
			out.Write(codexTOML(s.base, s.model))
			fmt.Fprintf(opts.IO.ErrOut, "Set the key in your shell: %s\n", shellAssign(opts.GOOS, codexKeyEnv, s.key))
		} else {
			shell()
		}
		if s.client == envAider {
			fmt.Fprintf(opts.IO.ErrOut, "Run: aider --model %s\n", aiderModel(s.model))
		}
		notes(opts.IO.ErrOut, "")
		return
	}
	switch s.client {
	case envClaude:
		fmt.Fprintf(out, "# Claude Code → xjp at %s\n", s.base)
		shell()
		fmt.Fprintf(out, "# Then run claude. To keep these in %s instead: xjp env claude --write\n", displayPath(opts, claudeSettingsPath(opts)))
	case envCodex:
		fmt.Fprintf(out, "# Codex CLI → xjp at %s/v1. In %s (or: xjp env codex --write):\n", s.base, displayPath(opts, codexConfigPath(opts)))
		out.Write(codexTOML(s.base, s.model))
		fmt.Fprintf(out, "\n# Codex reads the key from $%s; set it in the shell you run codex from:\n", codexKeyEnv)
		shell()
	case envAider:
		fmt.Fprintf(out, "# Aider → xjp at %s/v1\n", s.base)
		shell()
		fmt.Fprintf(out, "# Then run: aider --model %s   (or keep it all in %s: xjp env aider --write)\n", aiderModel(s.model), displayPath(opts, aiderConfigPath(opts)))
	case envGenAI:
		fmt.Fprintf(out, "# gemini-cli and the Google Gen AI SDKs → xjp at %s\n", s.base)
		shell()
		fmt.Fprintf(out, "# gemini-cli can load these from %s: xjp env genai --write\n", displayPath(opts, geminiEnvPath(opts)))
	}
	notes(out, "# ")
}

// aiderModel is the --model Aider needs: its openai/ prefix selects the
// OpenAI-compatible client and is stripped before the request.
func aiderModel(m string) string { return "openai/" + m }

// codexTOML is the config.toml content that points Codex at xjp.
func codexTOML(base, model string) []byte {
	var b bytes.Buffer
	for _, kv := range codexRootKeys(model) {
		fmt.Fprintf(&b, "%s = %s\n", kv.key, kv.value)
	}
	b.WriteString("\n[model_providers.xjp]\n")
	for _, kv := range codexProviderKeys(base) {
		fmt.Fprintf(&b, "%s = %s\n", kv.key, kv.value)
	}
	return b.Bytes()
}

// tomlKV is one key and its value, already in TOML syntax.
type tomlKV struct{ key, value string }

func codexRootKeys(model string) []tomlKV {
	return []tomlKV{
		{"model_provider", tomlString("xjp")},
		{"model", tomlString(model)},
		{"web_search", tomlString("disabled")}, // xjp refuses hosted tools such as web_search
	}
}

func codexProviderKeys(base string) []tomlKV {
	return []tomlKV{
		{"name", tomlString("xjp")},
		{"base_url", tomlString(base + "/v1")},
		{"env_key", tomlString(codexKeyEnv)},
		{"wire_api", tomlString("responses")},
		{"supports_websockets", "false"},
	}
}

// tomlString quotes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_./:@%+=,-]+$`)

// shellAssign is one variable assignment: POSIX sh, or PowerShell on Windows.
func shellAssign(goos, name, value string) string {
	if goos == "windows" {
		return fmt.Sprintf("$env:%s = '%s'", name, strings.ReplaceAll(value, "'", "''"))
	}
	if !shellSafe.MatchString(value) {
		value = "'" + strings.ReplaceAll(value, "'", `'\''`) + "'"
	}
	return "export " + name + "=" + value
}

// Where each client keeps its settings.

func (o *envOptions) home() string {
	for _, k := range []string{"HOME", "USERPROFILE"} {
		if h := o.getenv(k); h != "" {
			return h
		}
	}
	h, _ := os.UserHomeDir()
	return h
}

func claudeSettingsPath(o *envOptions) string {
	if d := o.getenv("CLAUDE_CONFIG_DIR"); d != "" {
		return filepath.Join(d, "settings.json")
	}
	return filepath.Join(o.home(), ".claude", "settings.json")
}

func codexConfigPath(o *envOptions) string {
	if d := o.getenv("CODEX_HOME"); d != "" {
		return filepath.Join(d, "config.toml")
	}
	return filepath.Join(o.home(), ".codex", "config.toml")
}

func aiderConfigPath(o *envOptions) string {
	return filepath.Join(o.home(), ".aider.conf.yml")
}

func geminiEnvPath(o *envOptions) string {
	if d := o.getenv("GEMINI_CLI_HOME"); d != "" {
		return filepath.Join(d, ".gemini", ".env")
	}
	return filepath.Join(o.home(), ".gemini", ".env")
}

// displayPath shows a path under the home directory as ~/….
func displayPath(o *envOptions, p string) string {
	h := o.home()
	if h != "" {
		if rel, err := filepath.Rel(h, p); err == nil && !strings.HasPrefix(rel, "..") && !filepath.IsAbs(rel) {
			return "~" + string(filepath.Separator) + rel
		}
	}
	return p
}

// envWrite merges the settings into the client's config file.
func envWrite(opts *envOptions, s *envSetting) error {
	if !s.keyReal && s.client != envCodex {
		return fmt.Errorf("--write puts the key in the file, and no key was given: create one with 'xjp keys create --name %s' and pass it with --key or set %s", s.client, codexKeyEnv)
	}
	var (
		path  string
		merge func([]byte) ([]byte, error)
		what  []string
	)
	switch s.client {
	case envClaude:
		path, merge = claudeSettingsPath(opts), func(b []byte) ([]byte, error) { return mergeClaudeSettings(b, s.vars) }
		for _, v := range s.vars {
			what = append(what, v[0])
		}
		what = []string{"env: " + strings.Join(what, ", ")}
	case envCodex:
		path, merge = codexConfigPath(opts), func(b []byte) ([]byte, error) { return mergeCodexConfig(b, s.base, s.model) }
		what = []string{"model_provider, model, web_search", "[model_providers.xjp]"}
	case envAider:
		kv := [][2]string{{"openai-api-base", s.base + "/v1"}, {"openai-api-key", s.key}, {"model", aiderModel(s.model)}}
		path, merge = aiderConfigPath(opts), func(b []byte) ([]byte, error) { return mergeYAMLKeys(b, kv) }
		what = []string{"openai-api-base, openai-api-key, model"}
	case envGenAI:
		path, merge = geminiEnvPath(opts), func(b []byte) ([]byte, error) { return mergeDotenv(b, s.vars) }
		for _, v := range s.vars {
			what = append(what, v[0])
		}
		what = []string{strings.Join(what, ", ")}
	}
	res, err := mergeFile(path, opts.Now(), merge)
	if err != nil {
		return err
	}

	out, errOut, tty := opts.IO.Out, opts.IO.ErrOut, opts.IO.IsStdoutTTY()
	shown := displayPath(opts, res.path)
	if !tty {
		fmt.Fprintln(out, res.path)
		if res.backup != "" {
			fmt.Fprintf(errOut, "Backed up the previous file to %s\n", res.backup)
		}
		if s.client == envCodex {
			fmt.Fprintf(errOut, "Set the key in your shell: %s\n", shellAssign(opts.GOOS, codexKeyEnv, s.key))
		}
		for _, n := range s.notes {
			fmt.Fprintln(errOut, n)
		}
		return nil
	}
	switch {
	case !res.changed:
		fmt.Fprintf(out, "%s already points at xjp (%s): nothing to change.\n", shown, s.base)
	case res.backup == "":
		fmt.Fprintf(out, "Created %s (%s).\n", shown, strings.Join(what, "; "))
	default:
		fmt.Fprintf(out, "Updated %s (%s); other settings kept.\nThe previous file is in %s.\n", shown, strings.Join(what, "; "), displayPath(opts, res.backup))
	}
	switch s.client {
	case envCodex:
		fmt.Fprintf(out, "Now set the key in the shell you run codex from:\n  %s\n", shellAssign(opts.GOOS, codexKeyEnv, s.key))
	case envAider:
		fmt.Fprintln(out, "Run aider in your project: it reads the file.")
	case envGenAI:
		fmt.Fprintln(out, "gemini-cli loads that file; programs using the SDKs need the variables exported (xjp env genai).")
	}
	for _, n := range s.notes {
		fmt.Fprintln(out, n)
	}
	return nil
}

// mergeResult says what mergeFile did.
type mergeResult struct {
	path    string // the file written (symlinks resolved)
	backup  string // the copy of the previous file; "" when there was none
	changed bool
}

// mergeFile rewrites path with merge applied to its contents (nil when it
// does not exist). The previous file is copied to path.bak-<timestamp>
// first, the new one is written to a temporary file and renamed into place,
// so a failure never leaves half a file; a symlink is followed, so dotfile
// managers keep their link. Nothing is written when merge fails.
func mergeFile(path string, now time.Time, merge func([]byte) ([]byte, error)) (mergeResult, error) {
	res := mergeResult{path: path}
	if p, err := filepath.EvalSymlinks(path); err == nil {
		res.path = p
	}
	old, err := os.ReadFile(res.path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return res, err
	}
	mode := fs.FileMode(0o600) // the file may hold a key
	if exists {
		if st, err := os.Stat(res.path); err == nil {
			mode = st.Mode().Perm()
		}
	}
	updated, err := merge(old)
	if err != nil {
		return res, fmt.Errorf("%s: %w; nothing was written", res.path, err)
	}
	if exists && bytes.Equal(old, updated) {
		return res, nil
	}
	res.changed = true
	dir := filepath.Dir(res.path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	if exists {
		stamp := now.Format("20060102-150405")
		res.backup = res.path + ".bak-" + stamp
		for i := 1; ; i++ {
			if _, err := os.Lstat(res.backup); errors.Is(err, fs.ErrNotExist) {
				break
			}
			res.backup = fmt.Sprintf("%s.bak-%s-%d", res.path, stamp, i)
		}
		if err := os.WriteFile(res.backup, old, mode); err != nil {
			return res, fmt.Errorf("backing up %s: %w; nothing was written", res.path, err)
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(res.path)+".tmp-*")
	if err != nil {
		return res, err
	}
	_, werr := tmp.Write(updated)
	if err := errors.Join(werr, tmp.Chmod(mode), tmp.Close()); err != nil {
		os.Remove(tmp.Name())
		return res, err
	}
	if err := os.Rename(tmp.Name(), res.path); err != nil {
		os.Remove(tmp.Name())
		return res, err
	}
	return res, nil
}

// --- ~/.claude/settings.json ---

// jsonMember is one member of a JSON object, its value kept verbatim.
type jsonMember struct {
	key   string
	value json.RawMessage
}

// parseJSONObject reads a JSON object keeping its members' order.
func parseJSONObject(data []byte) ([]jsonMember, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errors.New("not a JSON object")
	}
	var ms []jsonMember
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		k, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		ms = append(ms, jsonMember{k, v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not valid JSON: data after the object")
	}
	return ms, nil
}

// renderJSONObject writes members as an indented JSON object.
func renderJSONObject(ms []jsonMember) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.key)
		b.Write(k)
		b.WriteByte(':')
		if err := json.Compact(&b, m.value); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	var out bytes.Buffer
	if err := json.Indent(&out, b.Bytes(), "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// setJSONMembers sets keys to values, in place where they are, appended
// otherwise.
func setJSONMembers(ms []jsonMember, vars [][2]string) []jsonMember {
	for _, v := range vars {
		val, _ := json.Marshal(v[1])
		found := false
		for i := 0; i < len(ms); i++ {
			if ms[i].key != v[0] {
				continue
			}
			if found { // a duplicate: JSON readers keep the last one
				ms = append(ms[:i], ms[i+1:]...)
				i--
				continue
			}
			ms[i].value, found = val, true
		}
		if !found {
			ms = append(ms, jsonMember{v[0], val})
		}
	}
	return ms
}

// mergeClaudeSettings sets vars in the "env" object of a Claude Code
// settings file, keeping everything else in its order.
func mergeClaudeSettings(old []byte, vars [][2]string) ([]byte, error) {
	var top []jsonMember
	if len(bytes.TrimSpace(old)) > 0 {
		var err error
		if top, err = parseJSONObject(old); err != nil {
			return nil, err
		}
	}
	idx := -1
	for i, m := range top {
		if m.key == "env" {
			idx = i
		}
	}
	var env []jsonMember
	if idx >= 0 && string(bytes.TrimSpace(top[idx].value)) != "null" {
		var err error
		if env, err = parseJSONObject(top[idx].value); err != nil {
			return nil, fmt.Errorf(`"env": %v`, err)
		}
	}
	same := true
	for _, v := range vars {
		n := 0
		for _, m := range env {
			if m.key == v[0] {
				var cur string
				if json.Unmarshal(m.value, &cur) != nil || cur != v[1] {
					n = 2
				}
				n++
			}
		}
		same = same && n == 1
	}
	if same && len(top) > 0 {
		return old, nil // nothing to change
	}
	env = setJSONMembers(env, vars)
	envJSON, err := renderJSONObject(env)
	if err != nil {
		return nil, err
	}
	if idx >= 0 {
		top[idx].value = envJSON
	} else {
		top = append(top, jsonMember{"env", envJSON})
	}
	updated, err := renderJSONObject(top)
	if err != nil {
		return nil, err
	}
	// Everything but the variables set must be as it was.
	var before, after map[string]any
	if len(bytes.TrimSpace(old)) > 0 {
		json.Unmarshal(old, &before)
	}
	if err := json.Unmarshal(updated, &after); err != nil {
		return nil, err
	}
	for _, m := range []map[string]any{before, after} {
		if e, ok := m["env"].(map[string]any); ok {
			for _, v := range vars {
				delete(e, v[0])
			}
			if len(e) == 0 {
				delete(m, "env")
			}
		}
	}
	if len(before) == 0 {
		before = nil
	}
	if len(after) == 0 {
		after = nil
	}
	if !reflect.DeepEqual(before, after) {
		return nil, errors.New("could not merge the settings without changing others; edit the file by hand")
	}
	return updated, nil
}

// --- ~/.codex/config.toml ---

// tomlStmt is one statement of a TOML file: a table header or a key/value
// pair, over lines [start, end].
type tomlStmt struct {
	header     bool
	name       string // the header's table, or the pair's key, normalised
	start, end int
}

// scanTOML finds the statements of a TOML document line by line, tracking
// strings and brackets so that lines inside multi-line values are not
// mistaken for statements. It relies on the document having parsed.
func scanTOML(lines []string) []tomlStmt {
	var stmts []tomlStmt
	depth := 0  // open [ and { of a value
	multi := "" // the open multi-line string delimiter
	var cur *tomlStmt
	for i, line := range lines {
		if cur == nil && multi == "" && depth == 0 {
			t := strings.TrimSpace(line)
			switch {
			case t == "" || strings.HasPrefix(t, "#"):
				continue
			case strings.HasPrefix(t, "["):
				name := strings.TrimPrefix(strings.TrimPrefix(t, "["), "[")
				if j := strings.Index(name, "]"); j >= 0 {
					name = name[:j]
				}
				stmts = append(stmts, tomlStmt{header: true, name: normTOMLKey(name), start: i, end: i})
				continue
			default:
				k, _, _ := strings.Cut(t, "=")
				stmts = append(stmts, tomlStmt{name: normTOMLKey(k), start: i})
				cur = &stmts[len(stmts)-1]
			}
		}
		// Update the string and bracket state with this line.
		for j := 0; j < len(line); j++ {
			if multi != "" {
				if strings.HasPrefix(line[j:], multi) {
					j += len(multi) - 1
					multi = ""
				} else if multi == `"""` && line[j] == '\\' {
					j++
				}
				continue
			}
			switch c := line[j]; {
			case c == '#':
				j = len(line)
			case strings.HasPrefix(line[j:], `"""`) || strings.HasPrefix(line[j:], "'''"):
				multi = line[j : j+3]
				j += 2
			case c == '"' || c == '\'':
				for j++; j < len(line) && line[j] != c; j++ {
					if c == '"' && line[j] == '\\' {
						j++
					}
				}
			case c == '[' || c == '{':
				depth++
			case c == ']' || c == '}':
				depth--
			}
		}
		if cur != nil && multi == "" && depth <= 0 {
			depth = 0
			cur.end = i
			cur = nil
		}
	}
	if cur != nil {
		cur.end = len(lines) - 1
	}
	return stmts
}

// normTOMLKey normalises a dotted key: no spaces around dots, simple
// quotes removed.
func normTOMLKey(k string) string {
	parts := strings.Split(k, ".")
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if len(p) >= 2 && (p[0] == '"' || p[0] == '\'') && p[len(p)-1] == p[0] {
			p = p[1 : len(p)-1]
		}
		parts[i] = p
	}
	return strings.Join(parts, ".")
}

// setTOMLKeys sets kvs among the key/value statements stmts of one
// section: a pair that exists is replaced where it is (a duplicate is
// dropped), the others are added after the section's last pair, or at
// insertAt when it has none. It returns the new lines.
func setTOMLKeys(lines []string, stmts []tomlStmt, kvs []tomlKV, insertAt int, eol string) []string {
	replace := map[int]string{} // statement start line → its new line
	drop := map[int]bool{}      // lines of replaced statements
	var add []string
	for _, kv := range kvs {
		line := kv.key + " = " + kv.value + eol
		done := false
		for _, st := range stmts {
			if st.header || st.name != kv.key {
				continue
			}
			for l := st.start; l <= st.end; l++ {
				drop[l] = true
			}
			if !done {
				replace[st.start] = line
			}
			done = true
		}
		if !done {
			add = append(add, line)
		}
	}
	if len(stmts) > 0 {
		insertAt = stmts[len(stmts)-1].end + 1
	}
	out := make([]string, 0, len(lines)+len(add))
	for i := 0; i <= len(lines); i++ {
		if i == insertAt {
			out = append(out, add...)
		}
		if i == len(lines) {
			break
		}
		if r, ok := replace[i]; ok {
			out = append(out, r)
		}
		if !drop[i] {
			out = append(out, lines[i])
		}
	}
	return out
}

// mergeCodexConfig sets the xjp provider, model_provider, model and
// web_search in a Codex config.toml, keeping its other settings, comments
// and layout.
func mergeCodexConfig(old []byte, base, model string) ([]byte, error) {
	var before map[string]any
	if err := toml.Unmarshal(old, &before); err != nil {
		return nil, fmt.Errorf("not valid TOML: %v", err)
	}
	want := map[string]string{"model_provider": "xjp", "model": model, "web_search": "disabled"}
	providerOK := func(m map[string]any) bool {
		mp, _ := m["model_providers"].(map[string]any)
		xp, _ := mp["xjp"].(map[string]any)
		return xp["name"] == "xjp" && xp["base_url"] == base+"/v1" && xp["wire_api"] == "responses" &&
			xp["env_key"] == codexKeyEnv && xp["supports_websockets"] == false
	}
	rootOK := func(m map[string]any) bool {
		for k, v := range want {
			if m[k] != v {
				return false
			}
		}
		return true
	}
	if rootOK(before) && providerOK(before) {
		return old, nil // nothing to change
	}

	lines, eol := splitLines(old)
	stmts := scanTOML(lines)
	sec := -1
	for i, st := range stmts {
		if st.header && st.name == "model_providers.xjp" {
			sec = i
			break
		}
	}
	if sec < 0 {
		if mp, ok := before["model_providers"].(map[string]any); ok && mp["xjp"] != nil {
			return nil, errors.New("model_providers.xjp is defined in a form xjp env does not edit (dotted keys or an inline table); edit it by hand or move it to a [model_providers.xjp] table")
		}
	} else {
		// The table comes after the root keys: editing it first leaves
		// their line numbers alone.
		var pairs []tomlStmt
		for _, st := range stmts[sec+1:] {
			if st.header {
				break
			}
			pairs = append(pairs, st)
		}
		lines = setTOMLKeys(lines, pairs, codexProviderKeys(base), stmts[sec].end+1, eol)
	}

	// The root keys go before the first table.
	var root []tomlStmt
	first := -1
	for _, st := range stmts {
		if st.header {
			first = st.start
			break
		}
		root = append(root, st)
	}
	insertAt := len(lines)
	if first >= 0 {
		insertAt = first
		if len(root) == 0 {
			// above the comments that introduce the first table, with a
			// blank line after the new keys
			for insertAt > 0 && strings.HasPrefix(strings.TrimSpace(lines[insertAt-1]), "#") {
				insertAt--
			}
			lines = append(lines[:insertAt], append([]string{eol}, lines[insertAt:]...)...)
		}
	}
	lines = setTOMLKeys(lines, root, codexRootKeys(model), insertAt, eol)

	if sec < 0 {
		if len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) != "" {
			lines = append(lines, eol)
		}
		lines = append(lines, "[model_providers.xjp]"+eol)
		for _, kv := range codexProviderKeys(base) {
			lines = append(lines, kv.key+" = "+kv.value+eol)
		}
	}
	updated := []byte(strings.Join(lines, ""))

	// Check the result: the values are ours, everything else is as it was.
	var after map[string]any
	if err := toml.Unmarshal(updated, &after); err != nil {
		return nil, fmt.Errorf("could not merge the settings (%v); edit the file by hand", err)
	}
	if !rootOK(after) || !providerOK(after) {
		return nil, errors.New("could not merge the settings; edit the file by hand")
	}
	strip := func(m map[string]any) map[string]any {
		for k := range want {
			delete(m, k)
		}
		if mp, ok := m["model_providers"].(map[string]any); ok {
			if xp, ok := mp["xjp"].(map[string]any); ok {
				for _, kv := range codexProviderKeys(base) {
					delete(xp, kv.key)
				}
				if len(xp) == 0 {
					delete(mp, "xjp")
				}
			}
			if len(mp) == 0 {
				delete(m, "model_providers")
			}
		}
		if len(m) == 0 {
			return nil
		}
		return m
	}
	if !reflect.DeepEqual(strip(before), strip(after)) {
		return nil, errors.New("could not merge the settings without changing others; edit the file by hand")
	}
	return updated, nil
}

// splitLines splits a text file into lines that keep their line ends, and
// returns its line end ("\r\n" when it uses them). A missing final line
// end is added.
func splitLines(b []byte) ([]string, string) {
	eol := "\n"
	if bytes.Contains(b, []byte("\r\n")) {
		eol = "\r\n"
	}
	text := string(b)
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += eol
	}
	lines := strings.SplitAfter(text, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines, eol
}

// --- ~/.aider.conf.yml ---

// mergeYAMLKeys sets top-level scalar keys of a YAML mapping, editing the
// lines so that comments and layout stay.
func mergeYAMLKeys(old []byte, kvs [][2]string) ([]byte, error) {
	var before map[string]any
	if err := yaml.Unmarshal(old, &before); err != nil {
		return nil, fmt.Errorf("not valid YAML: %v", err)
	}
	if bytes.HasPrefix(old, []byte("---")) || bytes.Contains(old, []byte("\n---")) {
		return nil, errors.New("YAML document markers (---) are not supported here; edit the file by hand")
	}
	same := true
	for _, kv := range kvs {
		same = same && before[kv[0]] == kv[1]
	}
	if same {
		return old, nil // nothing to change
	}

	lines, eol := splitLines(old)
	for _, kv := range kvs {
		val, _ := json.Marshal(kv[1]) // a JSON string is a YAML double-quoted scalar
		line := kv[0] + ": " + string(val) + eol
		found := false
		for i := 0; i < len(lines); i++ {
			k, _, ok := strings.Cut(strings.TrimRight(lines[i], "\r\n"), ":")
			if !ok || k == "" || k[0] == ' ' || k[0] == '\t' || k[0] == '#' || strings.Trim(strings.TrimSpace(k), `"'`) != kv[0] {
				continue
			}
			// The value may go on over indented lines.
			end := i + 1
			for end < len(lines) {
				t := strings.TrimRight(lines[end], "\r\n")
				if t != "" && t[0] != ' ' && t[0] != '\t' {
					break
				}
				end++
			}
			for end > i+1 && strings.TrimSpace(lines[end-1]) == "" {
				end--
			}
			var with []string
			if !found {
				with = []string{line}
			}
			lines = append(lines[:i], append(with, lines[end:]...)...)
			if found {
				i-- // a duplicate was dropped: look at the line that took its place
			}
			found = true
		}
		if !found {
			lines = append(lines, line)
		}
	}
	updated := []byte(strings.Join(lines, ""))

	// Check the result: the values are ours, everything else is as it was.
	var after map[string]any
	if err := yaml.Unmarshal(updated, &after); err != nil {
		return nil, fmt.Errorf("could not merge the settings (%v); edit the file by hand", err)
	}
	for _, kv := range kvs {
		if after[kv[0]] != kv[1] {
			return nil, fmt.Errorf("could not merge the settings (%s); edit the file by hand", kv[0])
		}
		delete(before, kv[0])
		delete(after, kv[0])
	}
	if len(before) == 0 {
		before = nil
	}
	if len(after) == 0 {
		after = nil
	}
	if !reflect.DeepEqual(before, after) {
		return nil, errors.New("could not merge the settings without changing others; edit the file by hand")
	}
	return updated, nil
}

// --- ~/.gemini/.env ---

var dotenvLine = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=`)

// mergeDotenv sets variables in a .env file: lines KEY=VALUE (optionally
// after "export"), comments and blank lines. Other lines are an error.
func mergeDotenv(old []byte, vars [][2]string) ([]byte, error) {
	lines, eol := splitLines(old)
	keys := make([]string, len(lines))
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		m := dotenvLine.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("line %d is not NAME=value: %q", i+1, t)
		}
		keys[i] = m[1]
	}
	for _, v := range vars {
		val := v[1]
		if !shellSafe.MatchString(val) {
			q, _ := json.Marshal(val)
			val = string(q)
		}
		line := v[0] + "=" + val + eol
		found := false
		for i := 0; i < len(lines); i++ {
			if keys[i] != v[0] {
				continue
			}
			if found { // a duplicate: drop it
				lines = append(lines[:i], lines[i+1:]...)
				keys = append(keys[:i], keys[i+1:]...)
				i--
				continue
			}
			if strings.TrimRight(lines[i], "\r\n") != strings.TrimRight(line, "\r\n") {
				lines[i] = line
			}
			found = true
		}
		if !found {
			lines = append(lines, line)
			keys = append(keys, v[0])
		}
	}
	updated := []byte(strings.Join(lines, ""))
	if bytes.Equal(bytes.TrimRight(updated, "\r\n"), bytes.TrimRight(old, "\r\n")) {
		return old, nil
	}
	return updated, nil
}
