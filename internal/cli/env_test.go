package cli

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pelletier/go-toml/v2"
	"go.yaml.in/yaml/v3"

	"github.com/rickyjim626/xjp/config"
)

func TestNewCmdEnv(t *testing.T) {
	tests := []struct {
		args    string
		want    envOptions // Client, Write, Key, Model, Addr
		wantErr string
	}{
		{args: "claude", want: envOptions{Client: envClaude}},
		{args: "claude-code --write --key xjp_abc", want: envOptions{Client: envClaude, Write: true, Key: "xjp_abc"}},
		{args: "codex --model claude-sonnet-4.5", want: envOptions{Client: envCodex, Model: "claude-sonnet-4.5"}},
		{args: "Aider --addr 0.0.0.0:9000", want: envOptions{Client: envAider, Addr: "0.0.0.0:9000"}},
		{args: "gemini --addr https://xjp.example.com", want: envOptions{Client: envGenAI, Addr: "https://xjp.example.com"}},
		{args: "gemini-cli", want: envOptions{Client: envGenAI}},
		{args: "", wantErr: "name one client: claude, codex, aider or genai"},
		{args: "claude codex", wantErr: "name one client"},
		{args: "cursor", wantErr: `unknown client "cursor": want claude, codex, aider or genai`},
		{args: "claude --key", wantErr: "flag needs an argument"},
		{args: "claude --key=", wantErr: "--key: empty key"},
		{args: "claude --key xjp_a\"b", wantErr: "--key: a key has no spaces, quotes or backslashes"},
		{args: "claude --model=", wantErr: "--model is empty"},
		{args: "claude --addr localhost", wantErr: `--addr: "localhost": want host:port`},
		{args: "claude --addr http://127.0.0.1:8080/v1", wantErr: "without a path such as /v1"},
		{args: "claude --addr ftp://x:21", wantErr: "want http:// or https://"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			ios, _, _, _ := TestIO()
			f := NewFactory(ios)
			var got *envOptions
			cmd := newCmdEnv(f, func(o *envOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(ios.ErrOut)
			cmd.SetErr(ios.ErrOut)
			_, err := cmd.ExecuteC()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Client != tt.want.Client || got.Write != tt.want.Write || got.Key != tt.want.Key ||
				got.Model != tt.want.Model || got.Addr != tt.want.Addr {
				t.Errorf("parsed %+v, want %+v", *got, tt.want)
			}
		})
	}
}

// envTest builds options over a config listening on listen, an
// environment env and a home directory home.
func envTest(t *testing.T, listen, home string, env map[string]string) (*envOptions, *strings.Builder, *strings.Builder) {
	t.Helper()
	stdout, stderr := &strings.Builder{}, &strings.Builder{}
	ios := &IOStreams{In: strings.NewReader(""), Out: stdout, ErrOut: stderr}
	if env == nil {
		env = map[string]string{}
	}
	if home != "" {
		env["HOME"] = home
	}
	cfg := &config.Config{Server: config.Server{Listen: listen}, Models: []config.Model{{Name: "claude-sonnet-4.5"}, {Name: "demo"}}}
	return &envOptions{
		IO:     ios,
		Config: func() (*config.Config, error) { return cfg, nil },
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return time.Date(2026, 11, 5, 14, 30, 0, 0, time.UTC) },
		GOOS:   "linux",
	}, stdout, stderr
}

func TestEnvPrint(t *testing.T) {
	codexTOML := `model_provider = "xjp"
model = "claude-sonnet-4.5"
web_search = "disabled"

[model_providers.xjp]
name = "xjp"
base_url = "http://127.0.0.1:8080/v1"
env_key = "XJP_API_KEY"
wire_api = "responses"
supports_websockets = false
`
	tests := []struct {
		name   string
		client string
		model  string
		tty    bool
		// non-TTY: exact stdout; TTY: lines stdout must contain
		out    string
		errHas []string
	}{
		{
			name: "claude", client: envClaude,
			out:    "export ANTHROPIC_BASE_URL=http://127.0.0.1:8080\nexport ANTHROPIC_AUTH_TOKEN=xjp_k1\n",
			errHas: []string{"Claude Code asks for its own model names"},
		},
		{
			name: "claude with model", client: envClaude, model: "claude-sonnet-4.5",
			out: "export ANTHROPIC_BASE_URL=http://127.0.0.1:8080\nexport ANTHROPIC_AUTH_TOKEN=xjp_k1\n" +
				"export ANTHROPIC_MODEL=claude-sonnet-4.5\nexport ANTHROPIC_DEFAULT_OPUS_MODEL=claude-sonnet-4.5\n" +
				"export ANTHROPIC_DEFAULT_SONNET_MODEL=claude-sonnet-4.5\nexport ANTHROPIC_DEFAULT_HAIKU_MODEL=claude-sonnet-4.5\n",
		},
		{
			name: "codex", client: envCodex,
			out:    codexTOML,
			errHas: []string{"Set the key in your shell: export XJP_API_KEY=xjp_k1", `Model "claude-sonnet-4.5" is the first model of xjp's config`},
		},
		{
			name: "aider", client: envAider, model: "openrouter/openai/gpt-4o",
			out:    "export OPENAI_API_BASE=http://127.0.0.1:8080/v1\nexport OPENAI_API_KEY=xjp_k1\n",
			errHas: []string{"Run: aider --model openai/openrouter/openai/gpt-4o"},
		},
		{
			name: "genai", client: envGenAI,
			out:    "export GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8080\nexport GEMINI_API_KEY=xjp_k1\n",
			errHas: []string{"unset GOOGLE_API_KEY", "security.auth.selectedType"},
		},
		{
			name: "claude tty", client: envClaude, tty: true,
			out: "# Claude Code → xjp at http://127.0.0.1:8080\nexport ANTHROPIC_BASE_URL=http://127.0.0.1:8080\nexport ANTHROPIC_AUTH_TOKEN=xjp_k1\n" +
				"# Then run claude. To keep these in ~/.claude/settings.json instead: xjp env claude --write\n# Claude Code asks for its own model names",
		},
		{
			name: "codex tty", client: envCodex, model: "gpt-4o", tty: true,
			out: "# Codex CLI → xjp at http://127.0.0.1:8080/v1. In ~/.codex/config.toml (or: xjp env codex --write):\n" +
				"model_provider = \"xjp\"\nmodel = \"gpt-4o\"\nweb_search = \"disabled\"\n\n[model_providers.xjp]\n" +
				"name = \"xjp\"\nbase_url = \"http://127.0.0.1:8080/v1\"\nenv_key = \"XJP_API_KEY\"\nwire_api = \"responses\"\nsupports_websockets = false\n\n" +
				"# Codex reads the key from $XJP_API_KEY; set it in the shell you run codex from:\nexport XJP_API_KEY=xjp_k1\n",
		},
		{
			name: "aider tty", client: envAider, model: "gpt-4o", tty: true,
			out: "# Aider → xjp at http://127.0.0.1:8080/v1\nexport OPENAI_API_BASE=http://127.0.0.1:8080/v1\nexport OPENAI_API_KEY=xjp_k1\n" +
				"# Then run: aider --model openai/gpt-4o   (or keep it all in ~/.aider.conf.yml: xjp env aider --write)\n",
		},
		{
			name: "genai tty", client: envGenAI, model: "gemini-2.5-pro", tty: true,
			out: "# gemini-cli and the Google Gen AI SDKs → xjp at http://127.0.0.1:8080\n" +
				"export GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8080\nexport GEMINI_API_KEY=xjp_k1\nexport GEMINI_MODEL=gemini-2.5-pro\n" +
				"# gemini-cli can load these from ~/.gemini/.env: xjp env genai --write\n# The Google SDKs prefer GOOGLE_API_KEY",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			opts, out, errOut := envTest(t, "127.0.0.1:8080", home, nil)
			opts.IO.SetStdoutTTY(tt.tty)
			opts.Client, opts.Key, opts.Model = tt.client, "xjp_k1", tt.model
			if err := envRun(opts); err != nil {
				t.Fatal(err)
			}
			if tt.tty {
				if !strings.Contains(out.String(), tt.out) {
					t.Errorf("stdout:\n%s\nwant it to contain:\n%s", out, tt.out)
				}
				if errOut.Len() != 0 {
					t.Errorf("stderr on a terminal: %q", errOut)
				}
			} else if out.String() != tt.out {
				t.Errorf("stdout:\n%s\nwant:\n%s", out, tt.out)
			}
			for _, s := range tt.errHas {
				if !strings.Contains(errOut.String(), s) {
					t.Errorf("stderr %q does not contain %q", errOut, s)
				}
			}
			if _, err := os.Stat(filepath.Join(home, ".claude")); err == nil {
				t.Error("printing wrote a file")
			}
		})
	}
}

func TestEnvAddressAndKey(t *testing.T) {
	tests := []struct {
		name, listen, addr string
		env                map[string]string
		goos               string
		want               string
		errHas             string
	}{
		{name: "listen on every interface", listen: "0.0.0.0:9000", want: "export ANTHROPIC_BASE_URL=http://127.0.0.1:9000\n"},
		{name: "listen on every IPv6 interface", listen: "[::]:8080", want: "export ANTHROPIC_BASE_URL=http://127.0.0.1:8080\n"},
		{name: "listen on a port only", listen: ":8080", want: "export ANTHROPIC_BASE_URL=http://127.0.0.1:8080\n"},
		{name: "listen on a host", listen: "10.1.2.3:8080", want: "export ANTHROPIC_BASE_URL=http://10.1.2.3:8080\n"},
		{name: "addr wins", listen: "0.0.0.0:9000", addr: "gw.internal:8443", want: "export ANTHROPIC_BASE_URL=http://gw.internal:8443\n"},
		{name: "addr URL", listen: "x", addr: "https://xjp.example.com/", want: "export ANTHROPIC_BASE_URL=https://xjp.example.com\n"},
		{
			name: "key from XJP_API_KEY", listen: "127.0.0.1:8080", env: map[string]string{"XJP_API_KEY": "xjp_fromenv"},
			want: "export ANTHROPIC_BASE_URL=http://127.0.0.1:8080\nexport ANTHROPIC_AUTH_TOKEN=xjp_fromenv\n",
		},
		{
			name: "no key", listen: "127.0.0.1:8080",
			want:   "export ANTHROPIC_AUTH_TOKEN=REPLACE_WITH_YOUR_XJP_KEY\n",
			errHas: "create a key with 'xjp keys create --name claude' and pass it with --key or set XJP_API_KEY",
		},
		{
			name: "not an xjp key", listen: "127.0.0.1:8080", env: map[string]string{"XJP_API_KEY": "sk-ant-123"},
			want: "export ANTHROPIC_AUTH_TOKEN=sk-ant-123\n", errHas: "does not start with xjp_",
		},
		{
			name: "PowerShell", listen: "127.0.0.1:8080", goos: "windows", env: map[string]string{"XJP_API_KEY": "xjp_k"},
			want: "$env:ANTHROPIC_BASE_URL = 'http://127.0.0.1:8080'\n$env:ANTHROPIC_AUTH_TOKEN = 'xjp_k'\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, out, errOut := envTest(t, tt.listen, t.TempDir(), tt.env)
			opts.Client, opts.Addr = envClaude, tt.addr
			if tt.goos != "" {
				opts.GOOS = tt.goos
			}
			if err := envRun(opts); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), tt.want) {
				t.Errorf("stdout %q does not contain %q", out, tt.want)
			}
			if !strings.Contains(errOut.String(), tt.errHas) {
				t.Errorf("stderr %q does not contain %q", errOut, tt.errHas)
			}
		})
	}

	// A config that does not load is an error that says how to do without.
	opts, _, _ := envTest(t, "", t.TempDir(), nil)
	opts.Client = envCodex
	opts.Config = func() (*config.Config, error) { return nil, errors.New("xjp.toml:3:1: bad") }
	if err := envRun(opts); err == nil || !strings.Contains(err.Error(), "--addr") {
		t.Errorf("bad config: %v", err)
	}
	opts.Addr = "127.0.0.1:8080"
	if err := envRun(opts); err == nil || !strings.Contains(err.Error(), "--model") {
		t.Errorf("bad config, no model: %v", err)
	}
	opts.Model = "m"
	if err := envRun(opts); err != nil {
		t.Errorf("--addr and --model need no config: %v", err)
	}
}

// Existing files, merged: what --write must produce from them.
const (
	claudeBefore = `{
    "permissions": {"allow": ["Bash(ls:*)"]},
    "env": {"FOO": "bar", "ANTHROPIC_BASE_URL": "https://old.example.com"},
    "model": "opus"
}
`
	claudeAfter = `{
  "permissions": {
    "allow": [
      "Bash(ls:*)"
    ]
  },
  "env": {
    "FOO": "bar",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:8080",
    "ANTHROPIC_AUTH_TOKEN": "xjp_k1",
    "ANTHROPIC_MODEL": "claude-sonnet-4.5",
    "ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-sonnet-4.5",
    "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4.5",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-sonnet-4.5"
  },
  "model": "opus"
}
`
	codexBefore = `# my codex config
approval_policy = "on-request"
model = "gpt-5"   # the old model

# MCP
[mcp_servers.docs]
command = "npx"
args = [
  "-y",
  "[not a table]",
]
description = """
[model_providers.xjp]
model = "inside a string"
"""

[model_providers.xjp]
name = "old"
request_max_retries = 0
base_url = "http://old.example.com/v1"

[profiles.fast]
model = "gpt-5-mini"
`
	codexAfter = `# my codex config
approval_policy = "on-request"
model = "claude-sonnet-4.5"
model_provider = "xjp"
web_search = "disabled"

# MCP
[mcp_servers.docs]
command = "npx"
args = [
  "-y",
  "[not a table]",
]
description = """
[model_providers.xjp]
model = "inside a string"
"""

[model_providers.xjp]
name = "xjp"
request_max_retries = 0
base_url = "http://127.0.0.1:8080/v1"
env_key = "XJP_API_KEY"
wire_api = "responses"
supports_websockets = false

[profiles.fast]
model = "gpt-5-mini"
`
	aiderBefore = `# aider settings
dark-mode: true
model: gpt-4
read:
  - CONVENTIONS.md
`
	aiderAfter = `# aider settings
dark-mode: true
model: "openai/claude-sonnet-4.5"
read:
  - CONVENTIONS.md
openai-api-base: "http://127.0.0.1:8080/v1"
openai-api-key: "xjp_k1"
`
	genaiBefore = `# gemini-cli
DEBUG=false
export GEMINI_API_KEY=AIza-old
`
	genaiAfter = `# gemini-cli
DEBUG=false
GEMINI_API_KEY=xjp_k1
GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8080
GEMINI_MODEL=claude-sonnet-4.5
`
)

func TestEnvWrite(t *testing.T) {
	tests := []struct {
		client        string
		file          string // under HOME
		before, after string
		// created is the file written when none existed
		created string
	}{
		{client: envClaude, file: ".claude/settings.json", before: claudeBefore, after: claudeAfter, created: `{
  "env": {
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:8080",
    "ANTHROPIC_AUTH_TOKEN": "xjp_k1",
    "ANTHROPIC_MODEL": "claude-sonnet-4.5",
    "ANTHROPIC_DEFAULT_OPUS_MODEL": "claude-sonnet-4.5",
    "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4.5",
    "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-sonnet-4.5"
  }
}
`},
		{client: envCodex, file: ".codex/config.toml", before: codexBefore, after: codexAfter, created: `model_provider = "xjp"
model = "claude-sonnet-4.5"
web_search = "disabled"

[model_providers.xjp]
name = "xjp"
base_url = "http://127.0.0.1:8080/v1"
env_key = "XJP_API_KEY"
wire_api = "responses"
supports_websockets = false
`},
		{client: envAider, file: ".aider.conf.yml", before: aiderBefore, after: aiderAfter, created: `openai-api-base: "http://127.0.0.1:8080/v1"
openai-api-key: "xjp_k1"
model: "openai/claude-sonnet-4.5"
`},
		{client: envGenAI, file: ".gemini/.env", before: genaiBefore, after: genaiAfter, created: `GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:8080
GEMINI_API_KEY=xjp_k1
GEMINI_MODEL=claude-sonnet-4.5
`},
	}
	for _, tt := range tests {
		t.Run(tt.client, func(t *testing.T) {
			for _, tty := range []bool{false, true} {
				home := t.TempDir()
				path := filepath.Join(home, filepath.FromSlash(tt.file))
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, []byte(tt.before), 0o644); err != nil {
					t.Fatal(err)
				}
				opts, out, errOut := envTest(t, "0.0.0.0:8080", home, nil)
				opts.IO.SetStdoutTTY(tty)
				opts.Client, opts.Write, opts.Key, opts.Model = tt.client, true, "xjp_k1", "claude-sonnet-4.5"
				if err := envRun(opts); err != nil {
					t.Fatal(err)
				}
				got, _ := os.ReadFile(path)
				if string(got) != tt.after {
					t.Errorf("merged file:\n%s\nwant:\n%s", got, tt.after)
				}
				backup := path + ".bak-20261105-143000"
				if b, err := os.ReadFile(backup); err != nil || string(b) != tt.before {
					t.Errorf("backup: %q, %v", b, err)
				}
				if st, _ := os.Stat(path); runtime.GOOS != "windows" && st.Mode().Perm() != 0o644 {
					t.Errorf("mode %v, want the file's own 0644", st.Mode().Perm())
				}
				if tty {
					for _, s := range []string{"Updated ~/" + tt.file, "other settings kept", "The previous file is in ~/" + tt.file + ".bak-20261105-143000"} {
						if !strings.Contains(out.String(), filepath.FromSlash(s)) {
							t.Errorf("TTY stdout %q does not contain %q", out, s)
						}
					}
				} else {
					if out.String() != path+"\n" {
						t.Errorf("stdout %q, want the path", out)
					}
					if !strings.Contains(errOut.String(), "Backed up the previous file to "+backup) {
						t.Errorf("stderr %q", errOut)
					}
				}

				// Again: nothing to change, no second backup.
				opts, out, _ = envTest(t, "0.0.0.0:8080", home, nil)
				opts.IO.SetStdoutTTY(true)
				opts.Client, opts.Write, opts.Key, opts.Model = tt.client, true, "xjp_k1", "claude-sonnet-4.5"
				opts.Now = func() time.Time { return time.Date(2026, 11, 6, 0, 0, 0, 0, time.UTC) }
				if err := envRun(opts); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(out.String(), "nothing to change") {
					t.Errorf("second run: %q", out)
				}
				if m, _ := filepath.Glob(path + ".bak-*"); len(m) != 1 {
					t.Errorf("backups after a second run: %v", m)
				}
			}

			// No file yet: created, private, no backup.
			home := t.TempDir()
			path := filepath.Join(home, filepath.FromSlash(tt.file))
			opts, out, _ := envTest(t, "127.0.0.1:8080", home, nil)
			opts.IO.SetStdoutTTY(true)
			opts.Client, opts.Write, opts.Key, opts.Model = tt.client, true, "xjp_k1", "claude-sonnet-4.5"
			if err := envRun(opts); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.created {
				t.Errorf("created file:\n%s\nwant:\n%s", got, tt.created)
			}
			if st, err := os.Stat(path); err != nil || (runtime.GOOS != "windows" && st.Mode().Perm() != 0o600) {
				t.Errorf("created file: %v %v", st, err)
			}
			if m, _ := filepath.Glob(path + ".bak-*"); len(m) != 0 {
				t.Errorf("backup of nothing: %v", m)
			}
			if !strings.Contains(out.String(), "Created ~/"+filepath.FromSlash(tt.file)) {
				t.Errorf("stdout %q", out)
			}
		})
	}
}

func TestEnvWriteBadInput(t *testing.T) {
	tests := []struct {
		client, file, content string
		key                   string
		errHas                string
	}{
		{client: envClaude, file: ".claude/settings.json", content: `{"env": {"A": "b"},}`, errHas: "not valid JSON"},
		{client: envClaude, file: ".claude/settings.json", content: `["not", "an", "object"]`, errHas: "not a JSON object"},
		{client: envClaude, file: ".claude/settings.json", content: `{"env": "ANTHROPIC_BASE_URL=x"}`, errHas: `"env": not a JSON object`},
		{client: envCodex, file: ".codex/config.toml", content: "model = \"a\"\nmodel = \"b\"\n", errHas: "not valid TOML"},
		{client: envCodex, file: ".codex/config.toml", content: "[model_providers]\nxjp = { name = \"x\", base_url = \"http://x/v1\" }\n", errHas: "does not edit (dotted keys or an inline table)"},
		{client: envAider, file: ".aider.conf.yml", content: "model: [unclosed\n", errHas: "not valid YAML"},
		{client: envAider, file: ".aider.conf.yml", content: "- a list\n", errHas: "not valid YAML"},
		{client: envGenAI, file: ".gemini/.env", content: "GEMINI_API_KEY=x\nthis is not a variable\n", errHas: `line 2 is not NAME=value: "this is not a variable"`},
		{client: envClaude, file: ".claude/settings.json", content: "{}", key: "-", errHas: "--write puts the key in the file, and no key was given"},
		{client: envAider, file: ".aider.conf.yml", content: "", key: "-", errHas: "xjp keys create --name aider"},
	}
	for _, tt := range tests {
		t.Run(tt.client+" "+tt.errHas, func(t *testing.T) {
			home := t.TempDir()
			path := filepath.Join(home, filepath.FromSlash(tt.file))
			os.MkdirAll(filepath.Dir(path), 0o755)
			os.WriteFile(path, []byte(tt.content), 0o644)
			opts, out, _ := envTest(t, "127.0.0.1:8080", home, nil)
			opts.Client, opts.Write, opts.Key, opts.Model = tt.client, true, "xjp_k1", "m"
			if tt.key == "-" {
				opts.Key = ""
			}
			err := envRun(opts)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Fatalf("error %v, want %q", err, tt.errHas)
			}
			if tt.key != "-" && (!strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "nothing was written")) {
				t.Errorf("error %q should name the file and say nothing was written", err)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.content {
				t.Errorf("file changed: %q", got)
			}
			if m, _ := filepath.Glob(path + "*"); len(m) != 1 {
				t.Errorf("files next to it: %v", m)
			}
			if out.Len() != 0 {
				t.Errorf("stdout %q", out)
			}
		})
	}

	// Codex needs no key in its file: --write works without one.
	home := t.TempDir()
	opts, _, errOut := envTest(t, "127.0.0.1:8080", home, nil)
	opts.Client, opts.Write, opts.Model = envCodex, true, "m"
	if err := envRun(opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "export XJP_API_KEY=REPLACE_WITH_YOUR_XJP_KEY") || !strings.Contains(errOut.String(), "xjp keys create") {
		t.Errorf("stderr %q", errOut)
	}
}

func TestEnvWriteFollowsSymlinksAndHomes(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	home, dotfiles := t.TempDir(), t.TempDir()
	real := filepath.Join(dotfiles, "settings.json")
	os.WriteFile(real, []byte(`{"theme": "dark"}`), 0o600)
	os.MkdirAll(filepath.Join(home, ".claude"), 0o700)
	link := filepath.Join(home, ".claude", "settings.json")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	opts, _, _ := envTest(t, "127.0.0.1:8080", home, nil)
	opts.Client, opts.Write, opts.Key = envClaude, true, "xjp_k1"
	if err := envRun(opts); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(real); !strings.Contains(string(b), `"theme": "dark"`) || !strings.Contains(string(b), "xjp_k1") {
		t.Errorf("target: %s", b)
	}
	if _, err := os.Stat(real + ".bak-20261105-143000"); err != nil {
		t.Errorf("backup next to the target: %v", err)
	}

	// CODEX_HOME, CLAUDE_CONFIG_DIR and GEMINI_CLI_HOME move the files.
	other := t.TempDir()
	for client, want := range map[string]string{
		envCodex:  filepath.Join(other, "codex", "config.toml"),
		envClaude: filepath.Join(other, "claude", "settings.json"),
		envGenAI:  filepath.Join(other, "gemini", ".gemini", ".env"),
	} {
		opts, out, _ := envTest(t, "127.0.0.1:8080", home, map[string]string{
			"CODEX_HOME": filepath.Join(other, "codex"), "CLAUDE_CONFIG_DIR": filepath.Join(other, "claude"), "GEMINI_CLI_HOME": filepath.Join(other, "gemini"),
		})
		opts.Client, opts.Write, opts.Key, opts.Model = client, true, "xjp_k1", "m"
		if err := envRun(opts); err != nil {
			t.Fatal(err)
		}
		if out.String() != want+"\n" {
			t.Errorf("%s wrote %q, want %s", client, out, want)
		}
	}
}

// The merged files must read back as the clients read them.
func TestEnvWriteParses(t *testing.T) {
	var codex struct {
		ModelProvider  string `toml:"model_provider"`
		Model          string `toml:"model"`
		WebSearch      string `toml:"web_search"`
		ModelProviders map[string]struct {
			Name               string `toml:"name"`
			BaseURL            string `toml:"base_url"`
			EnvKey             string `toml:"env_key"`
			WireAPI            string `toml:"wire_api"`
			SupportsWebsockets *bool  `toml:"supports_websockets"`
			RequestMaxRetries  *int   `toml:"request_max_retries"`
		} `toml:"model_providers"`
		MCPServers map[string]map[string]any `toml:"mcp_servers"`
	}
	if err := toml.Unmarshal([]byte(codexAfter), &codex); err != nil {
		t.Fatal(err)
	}
	x := codex.ModelProviders["xjp"]
	if codex.ModelProvider != "xjp" || codex.WebSearch != "disabled" || x.BaseURL != "http://127.0.0.1:8080/v1" ||
		x.WireAPI != "responses" || x.SupportsWebsockets == nil || *x.SupportsWebsockets || x.RequestMaxRetries == nil ||
		codex.MCPServers["docs"]["command"] != "npx" {
		t.Errorf("codex config reads as %+v", codex)
	}
	var aider map[string]any
	if err := yaml.Unmarshal([]byte(aiderAfter), &aider); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(aider["read"], []any{"CONVENTIONS.md"}) || aider["openai-api-key"] != "xjp_k1" {
		t.Errorf("aider config reads as %v", aider)
	}
}

func TestScanTOML(t *testing.T) {
	doc := "a = 1\nb = [\n  [1, 2],\n]\nc = '''\n[x]\n'''\n# [y]\n[t] # table\nd = { e = \"]\" }\n[[arr]]\nf = \"\"\"\\\"\"\"\"\n"
	lines, _ := splitLines([]byte(doc))
	var got []string
	for _, st := range scanTOML(lines) {
		kind := "key"
		if st.header {
			kind = "table"
		}
		got = append(got, kind+" "+st.name+" "+strings.Repeat("|", st.end-st.start+1))
	}
	want := []string{"key a |", "key b |||", "key c |||", "table t |", "key d |", "table arr |", "key f |"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("statements %q\nwant %q", got, want)
	}
}

func TestEnvCommand(t *testing.T) {
	// Through the command tree, with the config's address.
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "xjp.toml")
	os.WriteFile(cfgFile, []byte("[server]\nlisten = \"0.0.0.0:9090\"\n"), 0o600)
	ios, _, out, errOut := TestIO()
	f := NewFactory(ios)
	env := map[string]string{"HOME": dir, "XJP_API_KEY": "xjp_cmd"}
	f.Getenv = func(k string) string { return env[k] }
	code := Run(context.Background(), f, []string{"--config", cfgFile, "--data-dir", dir, "env", "aider", "--model", "demo"})
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if want := "export OPENAI_API_BASE=http://127.0.0.1:9090/v1\nexport OPENAI_API_KEY=xjp_cmd\n"; out.String() != want {
		t.Errorf("stdout %q, want %q", out, want)
	}

	ios, _, _, errOut = TestIO()
	f = NewFactory(ios)
	if code := Run(context.Background(), f, []string{"env", "vim"}); code != ExitUsage || !strings.Contains(errOut.String(), `unknown client "vim"`) {
		t.Errorf("unknown client: exit %d, %q", code, errOut)
	}
}
