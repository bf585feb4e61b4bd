package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // no ./xjp.toml
	c := mustLoad(t, "", nil)
	if c.File != "" {
		t.Errorf("File = %q, want none", c.File)
	}
	golden(t, "defaults.golden", dump(c))
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("Warnings() = %q, want none", w)
	}
	// Spot checks of the documented defaults, so a golden rewrite cannot
	// silently change them.
	want := Server{Listen: "127.0.0.1:8080", MaxBodyBytes: 10 << 20, CORSOrigins: []string{}, ShutdownGrace: 30 * time.Second}
	if !reflect.DeepEqual(c.Server, want) {
		t.Errorf("Server = %+v, want %+v", c.Server, want)
	}
	if c.Store.Driver != "sqlite" || c.Store.DSN != filepath.Join(testHome, ".local/share/xjp/xjp.db") {
		t.Errorf("Store = %+v", c.Store)
	}
	if c.DataDir != filepath.Join(testHome, ".local/share/xjp") {
		t.Errorf("DataDir = %q", c.DataDir)
	}
	if p := c.Providers["demo"]; p.Kind != KindDemo || len(c.Providers) != 1 {
		t.Errorf("Providers = %+v, want only demo", c.Providers)
	}
	if m, ok := c.Model("demo"); !ok || m.Routes[0].Provider != "demo" {
		t.Errorf(`Model("demo") = %+v, %v`, m, ok)
	}
}

func TestTOMLAndYAMLLoadEqual(t *testing.T) {
	vars := map[string]string{"OPENROUTER_API_KEY": "k", "CLEWDR_API_KEY": "k"}
	ct := mustLoad(t, "testdata/full.toml", vars)
	cy := mustLoad(t, "testdata/full.yaml", vars)
	dt, dy := dump(ct), dump(cy)
	dt = strings.Replace(dt, `file = "testdata/full.toml"`, `file = "testdata/full.X"`, 1)
	dy = strings.Replace(dy, `file = "testdata/full.yaml"`, `file = "testdata/full.X"`, 1)
	if dt != dy {
		t.Errorf("TOML and YAML differ\n--- toml\n%s\n--- yaml\n%s", dt, dy)
	}
	golden(t, "full.golden", dt)
}

func TestCaseIsKept(t *testing.T) {
	for _, file := range []string{"testdata/full.toml", "testdata/full.yaml"} {
		t.Run(filepath.Ext(file), func(t *testing.T) {
			c := mustLoad(t, file, nil)
			for _, name := range []string{"Claude-Sonnet-4.5", "GPT-4o.Mini"} {
				if _, ok := c.Model(name); !ok {
					t.Errorf("model %q not found; models: %v", name, modelNames(c))
				}
			}
			if _, ok := c.Model("claude-sonnet-4.5"); ok {
				t.Errorf("lookups must be exact: claude-sonnet-4.5 found")
			}
			h := c.Providers["openrouter"].Headers
			if h["X-OpenRouter-Title"] != "xjp" || h["HTTP-Referer"] == "" {
				t.Errorf("provider headers = %v, want names as written", h)
			}
			m, _ := c.Model("Claude-Sonnet-4.5")
			r := m.Routes[0]
			if r.Headers["X-Custom-Header"] != "A.B" {
				t.Errorf("route headers = %v", r.Headers)
			}
			want := map[string]any{
				"provider":  map[string]any{"order": []any{"Anthropic", "Google-Vertex"}, "allow_fallbacks": false},
				"topK":      int64(40),
				"reasoning": map[string]any{"max_tokens": int64(2000), "Effort": "High"},
			}
			if !reflect.DeepEqual(r.Body, want) {
				t.Errorf("body = %#v\nwant %#v", r.Body, want)
			}
		})
	}
}

func modelNames(c *Config) []string {
	var n []string
	for _, m := range c.Models {
		n = append(n, m.Name)
	}
	return n
}

func TestEnvOverrides(t *testing.T) {
	// Every setting, from the environment, over the file (env-file.toml
	// sets server.listen).
	tests := []struct {
		env, val, want string
	}{
		{"XJP_SERVER_LISTEN", ":9999", `server.listen = ":9999"`},
		{"XJP_SERVER_MAX_BODY_BYTES", "2048", `server.max_body_bytes = 2048`},
		{"XJP_SERVER_CORS_ORIGINS", "https://a.example, https://b.example/,", `server.cors_origins[0] = "https://a.example"` + "\n" + `server.cors_origins[1] = "https://b.example"`},
		{"XJP_SERVER_SHUTDOWN_GRACE", "1m30s", `server.shutdown_grace = 1m30s`},
		{"XJP_STORE_DRIVER", "sqlite", `store.driver = "sqlite"`},
		{"XJP_STORE_DSN", "/var/lib/xjp/x.db", `store.dsn = "/var/lib/xjp/x.db"`},
		{"XJP_REDIS_URL", "rediss://:pw@redis:6380/2", `redis.url = "rediss://:pw@redis:6380/2"`},
		{"XJP_REDIS_PREFIX", "p:", `redis.prefix = "p:"`},
		{"XJP_LIMITS_DEFAULT_RPM", "120", `limits.default_rpm = 120`},
		{"XJP_LIMITS_DEFAULT_BURST", "7", `limits.default_burst = 7`},
		{"XJP_LIMITS_DEFAULT_DAILY_TOKENS", "5000000", `limits.default_daily_tokens = 5000000`},
		{"XJP_LIMITS_TENANT_DAILY_TOKENS", "9000000", `limits.tenant_daily_tokens = 9000000`},
		{"XJP_RETRY_MAX_RETRIES", "0", `retry.max_retries = 0`},
		{"XJP_RETRY_BASE_BACKOFF", "100ms", `retry.base_backoff = 100ms`},
		{"XJP_RETRY_MAX_BACKOFF", "10s", `retry.max_backoff = 10s`},
		{"XJP_BREAKER_FAILURE_THRESHOLD", "9", `breaker.failure_threshold = 9`},
		{"XJP_BREAKER_OPEN_FOR", "2m", `breaker.open_for = 2m0s`},
		{"XJP_BREAKER_HALF_OPEN_SUCCESSES", "4", `breaker.half_open_successes = 4`},
		{"XJP_TIMEOUTS_CONNECT", "1s", `timeouts.connect = 1s`},
		{"XJP_TIMEOUTS_FIRST_BYTE", "2m", `timeouts.first_byte = 2m0s`},
		{"XJP_TIMEOUTS_IDLE", "15s", `timeouts.idle = 15s`},
		{"XJP_TIMEOUTS_TOTAL", "1h", `timeouts.total = 1h0m0s`},
		{"XJP_LOG_LEVEL", "DEBUG", `log.level = "debug"`},
		{"XJP_LOG_FORMAT", "json", `log.format = "json"`},
		{"XJP_LOG_BODIES", "true", `log.bodies = true`},
		{"XJP_ADMIN_TOKEN", "admin-token-from-env-0123", `admin.token = "admin-token-from-env-0123"`},
		{"XJP_DEMO_ENABLED", "false", `demo.enabled = false`},
		{"XJP_DEMO_DELAY", "0", `demo.delay = 0s`},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.env] = true
		t.Run(tt.env, func(t *testing.T) {
			c := mustLoad(t, "testdata/env-file.toml", map[string]string{tt.env: tt.val})
			key := strings.SplitN(tt.want, " ", 2)[0]
			key, _, _ = strings.Cut(key, "[")
			if got := lines(dump(c), key); got != tt.want {
				t.Errorf("%s=%q: got\n%s\nwant\n%s", tt.env, tt.val, got, tt.want)
			}
		})
	}
	for _, s := range settings {
		if !covered[envName(s.key)] {
			t.Errorf("no env override test for %s (%s)", s.key, envName(s.key))
		}
	}

	t.Run("empty means unset", func(t *testing.T) {
		c := mustLoad(t, "", map[string]string{"XJP_SERVER_LISTEN": ""})
		if c.Server.Listen != "127.0.0.1:8080" {
			t.Errorf("listen = %q", c.Server.Listen)
		}
	})
	t.Run("data dir", func(t *testing.T) {
		for _, tt := range []struct {
			flag string
			vars map[string]string
			want string
		}{
			{"", nil, filepath.Join(testHome, ".local/share/xjp")},
			{"", map[string]string{"XDG_DATA_HOME": "/xdg/data"}, "/xdg/data/xjp"},
			{"", map[string]string{"XDG_DATA_HOME": "relative/ignored"}, filepath.Join(testHome, ".local/share/xjp")},
			{"", map[string]string{"XJP_DATA_DIR": "/srv/xjp", "XDG_DATA_HOME": "/xdg/data"}, "/srv/xjp"},
			{"/flag/dir", map[string]string{"XJP_DATA_DIR": "/srv/xjp"}, "/flag/dir"},
			{"~/x", nil, filepath.Join(testHome, "x")},
		} {
			c, err := Load(LoadOptions{File: "testdata/env-file.toml", DataDir: tt.flag, Getenv: env(tt.vars)})
			if err != nil {
				t.Fatal(err)
			}
			if c.DataDir != tt.want || c.Store.DSN != filepath.Join(tt.want, "xjp.db") {
				t.Errorf("flag %q env %v: DataDir %q, DSN %q; want %q", tt.flag, tt.vars, c.DataDir, c.Store.DSN, tt.want)
			}
		}
	})
	t.Run("relative sqlite path is under the data dir", func(t *testing.T) {
		c := mustLoad(t, "", map[string]string{"XJP_STORE_DSN": "sub/my.db", "XJP_DATA_DIR": "/d"})
		if c.Store.DSN != "/d/sub/my.db" {
			t.Errorf("DSN = %q", c.Store.DSN)
		}
	})
}

func TestImplicitProviders(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want string // dump lines of providers other than demo
	}{
		{"openrouter", map[string]string{"OPENROUTER_API_KEY": "sk-or-1"}, `
providers["openrouter"].name = "openrouter"
providers["openrouter"].kind = "openai"
providers["openrouter"].base_url = "https://openrouter.ai/api/v1"
providers["openrouter"].api_key = ""
providers["openrouter"].api_key_env = "OPENROUTER_API_KEY"
providers["openrouter"].headers = {}`},
		{"openai", map[string]string{"OPENAI_API_KEY": "sk-1"}, `
providers["openai"].kind = "openai"
providers["openai"].base_url = "https://api.openai.com/v1"
providers["openai"].api_key_env = "OPENAI_API_KEY"`},
		{"anthropic", map[string]string{"ANTHROPIC_API_KEY": "sk-ant-1"}, `
providers["anthropic"].kind = "anthropic"
providers["anthropic"].base_url = "https://api.anthropic.com"
providers["anthropic"].api_key_env = "ANTHROPIC_API_KEY"
providers["anthropic"].anthropic_version = "2023-06-01"
providers["anthropic"].auth_header = "x-api-key"`},
		{"clewdr", map[string]string{"CLEWDR_BASE_URL": "http://127.0.0.1:8484/", "CLEWDR_API_KEY": "pw"}, `
providers["clewdr"].kind = "anthropic"
providers["clewdr"].base_url = "http://127.0.0.1:8484"
providers["clewdr"].api_key_env = "CLEWDR_API_KEY"
providers["clewdr"].anthropic_version = "2023-06-01"
providers["clewdr"].auth_header = "x-api-key"`},
		{"clewdr without key", map[string]string{"CLEWDR_BASE_URL": "http://clewdr:8484"}, `
providers["clewdr"].base_url = "http://clewdr:8484"
providers["clewdr"].api_key_env = ""`},
		{"vertex project", map[string]string{"VERTEX_PROJECT": "proj", "GOOGLE_APPLICATION_CREDENTIALS": "/sa.json"}, `
providers["vertex"].kind = "vertex"
providers["vertex"].api_key_env = ""
providers["vertex"].project = "proj"
providers["vertex"].region = "us-central1"
providers["vertex"].credentials_file = "/sa.json"
providers["vertex"].api = "vertex"`},
		{"vertex key and region", map[string]string{"VERTEX_API_KEY": "AIza", "VERTEX_REGION": "europe-west4"}, `
providers["vertex"].kind = "vertex"
providers["vertex"].api_key_env = "VERTEX_API_KEY"
providers["vertex"].project = ""
providers["vertex"].region = "europe-west4"
providers["vertex"].api = "vertex"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, "", tt.vars)
			d := dump(c)
			for _, want := range strings.Split(strings.TrimSpace(tt.want), "\n") {
				if !strings.Contains(d, want+"\n") {
					t.Errorf("missing %s\nproviders:\n%s", want, lines(d, "providers"))
				}
			}
			if len(c.Providers) != 2 {
				t.Errorf("providers: %v, want demo and one more", c.providerNames())
			}
			if w := c.Warnings(); len(w) != 0 {
				t.Errorf("warnings: %q", w)
			}
		})
	}

	t.Run("all at once, demo disabled", func(t *testing.T) {
		c := mustLoad(t, "", map[string]string{
			"OPENROUTER_API_KEY": "a", "OPENAI_API_KEY": "b", "ANTHROPIC_API_KEY": "c",
			"CLEWDR_BASE_URL": "http://x:1", "VERTEX_PROJECT": "p", "XJP_DEMO_ENABLED": "false",
		})
		if got, want := c.providerNames(), []string{"anthropic", "clewdr", "openai", "openrouter", "vertex"}; !slices.Equal(got, want) {
			t.Errorf("providers = %v, want %v", got, want)
		}
		if len(c.Models) != 0 {
			t.Errorf("models = %v, want none", modelNames(c))
		}
	})

	t.Run("the file wins", func(t *testing.T) {
		c := mustLoad(t, "testdata/full.toml", map[string]string{
			"OPENROUTER_API_KEY": "a", "CLEWDR_BASE_URL": "http://elsewhere:1", "VERTEX_PROJECT": "other",
		})
		if got := c.Providers["clewdr"].BaseURL; got != "http://127.0.0.1:8484" {
			t.Errorf("clewdr base_url = %q, want the file's", got)
		}
		if got := c.Providers["vertex"].Project; got != "my-project" {
			t.Errorf("vertex project = %q, want the file's", got)
		}
		if got := c.Providers["openrouter"].Headers["X-OpenRouter-Title"]; got != "xjp" {
			t.Errorf("openrouter is not the file's: headers %v", c.Providers["openrouter"].Headers)
		}
	})

	t.Run("a file model named demo replaces the built-in one", func(t *testing.T) {
		dir := t.TempDir()
		f := filepath.Join(dir, "xjp.toml")
		write(t, f, "[[models]]\nname = \"demo\"\ndescription = \"mine\"\n[[models.routes]]\nprovider = \"demo\"\nmodel = \"demo\"\n")
		c := mustLoad(t, f, nil)
		if len(c.Models) != 1 || c.Models[0].Description != "mine" {
			t.Errorf("models = %+v", c.Models)
		}
	})

	t.Run("an xjp key is not an upstream key", func(t *testing.T) {
		c := mustLoad(t, "", map[string]string{"ANTHROPIC_API_KEY": "xjp_abcdef", "OPENAI_API_KEY": "xjp_123"})
		if _, ok := c.Providers["anthropic"]; ok {
			t.Error("anthropic provider added from an xjp key")
		}
		golden(t, "xjp-key-warnings.golden", strings.Join(c.Warnings(), "\n")+"\n")
	})
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestSearchOrder(t *testing.T) {
	cwd := t.TempDir()
	cfgHome := t.TempDir()
	t.Chdir(cwd)
	vars := map[string]string{"XDG_CONFIG_HOME": cfgHome}
	if err := os.MkdirAll(filepath.Join(cfgHome, "xjp"), 0o755); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		create string // relative to cwd, or "$CFG/…"
		want   string
	}{
		{"", ""},
		{"$CFG/xjp.yml", "$CFG/xjp.yml"},
		{"$CFG/xjp.yaml", "$CFG/xjp.yaml"},
		{"$CFG/xjp.toml", "$CFG/xjp.toml"},
		{"xjp.yml", "xjp.yml"},
		{"xjp.yaml", "xjp.yaml"},
		{"xjp.toml", "xjp.toml"},
	}
	for _, s := range steps {
		if s.create != "" {
			write(t, strings.Replace(s.create, "$CFG", filepath.Join(cfgHome, "xjp"), 1), "")
		}
		c := mustLoad(t, "", vars)
		if want := strings.Replace(s.want, "$CFG", filepath.Join(cfgHome, "xjp"), 1); c.File != want {
			t.Errorf("after creating %q: File = %q, want %q", s.create, c.File, want)
		}
	}
	// ~/.config when XDG_CONFIG_HOME is unset.
	home := t.TempDir()
	t.Chdir(t.TempDir())
	if err := os.MkdirAll(filepath.Join(home, ".config", "xjp"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(home, ".config", "xjp", "xjp.toml"), "")
	c := mustLoad(t, "", map[string]string{"HOME": home})
	if want := filepath.Join(home, ".config", "xjp", "xjp.toml"); c.File != want {
		t.Errorf("File = %q, want %q", c.File, want)
	}
	// XJP_CONFIG wins over the search; --config wins over XJP_CONFIG.
	write(t, "xjp.toml", "")
	write(t, "other.toml", "")
	if c := mustLoad(t, "", map[string]string{"HOME": home, "XJP_CONFIG": "other.toml"}); c.File != "other.toml" {
		t.Errorf("XJP_CONFIG: File = %q", c.File)
	}
	if c := mustLoad(t, "xjp.toml", map[string]string{"XJP_CONFIG": "other.toml"}); c.File != "xjp.toml" {
		t.Errorf("--config: File = %q", c.File)
	}
}

func TestMissingFile(t *testing.T) {
	for _, tt := range []struct {
		file string
		vars map[string]string
		want string
	}{
		{"testdata/nope.toml", nil, "config file testdata/nope.toml does not exist"},
		{"", map[string]string{"XJP_CONFIG": "/etc/xjp/nope.yaml"}, "config file /etc/xjp/nope.yaml (from XJP_CONFIG) does not exist"},
		{"testdata", nil, "config file testdata is a directory"},
	} {
		_, err := Load(LoadOptions{File: tt.file, Getenv: env(tt.vars)})
		if err == nil || err.Error() != tt.want {
			t.Errorf("Load(%q): %v, want %q", tt.file, err, tt.want)
		}
		if tt.file != "testdata" && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Load(%q): %v is not fs.ErrNotExist", tt.file, err)
		}
	}
}

func TestExamplesLoad(t *testing.T) {
	files, _ := filepath.Glob("examples/*.toml")
	files = append(files, "xjp.example.toml")
	if len(files) < 5 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		t.Run(f, func(t *testing.T) {
			c := mustLoad(t, f, nil)
			if len(c.Models) == 0 || len(c.Providers) == 0 {
				t.Errorf("no models or providers")
			}
			// Only warnings about keys not set in this test's environment.
			for _, w := range c.Warnings() {
				if !strings.Contains(w, "is not set") {
					t.Errorf("warning: %s", w)
				}
			}
		})
	}
}

// TestExampleDocumentsEverything checks that xjp.example.toml sets every
// setting and that docs/config.md names every key and environment variable.
func TestExampleDocumentsEverything(t *testing.T) {
	data, err := os.ReadFile("xjp.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := parse("xjp.example.toml", data)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := os.ReadFile("../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		section, key, _ := strings.Cut(s.key, ".")
		if m, _ := raw[section].(map[string]any); m == nil || m[key] == nil {
			t.Errorf("xjp.example.toml does not set %s", s.key)
		}
		if !strings.Contains(string(docs), "`"+envName(s.key)+"`") {
			t.Errorf("docs/config.md does not mention `%s`", envName(s.key))
		}
		if !strings.Contains(string(docs), "`"+key+"`") {
			t.Errorf("docs/config.md does not mention `%s`", key)
		}
	}
	for _, typ := range []reflect.Type{reflect.TypeOf(Provider{}), reflect.TypeOf(Model{}), reflect.TypeOf(Route{}), reflect.TypeOf(Price{})} {
		for i := range typ.NumField() {
			tag := typ.Field(i).Tag.Get("mapstructure")
			if tag == "-" {
				continue
			}
			if !strings.Contains(string(docs), "`"+tag+"`") {
				t.Errorf("docs/config.md does not mention %s key `%s`", typ.Name(), tag)
			}
			if !strings.Contains(string(data), tag) {
				t.Errorf("xjp.example.toml does not mention %s key %s", typ.Name(), tag)
			}
		}
	}
}

// TestSettingsCoverSections checks that the settings table lists exactly the
// fields of the sections of Config.
func TestSettingsCoverSections(t *testing.T) {
	var fields []string
	ct := reflect.TypeOf(Config{})
	for i := range ct.NumField() {
		f := ct.Field(i)
		if f.Type.Kind() != reflect.Struct || f.Tag.Get("mapstructure") == "" {
			continue
		}
		for j := range f.Type.NumField() {
			fields = append(fields, f.Tag.Get("mapstructure")+"."+f.Type.Field(j).Tag.Get("mapstructure"))
		}
	}
	var keys []string
	for _, s := range settings {
		keys = append(keys, s.key)
	}
	slices.Sort(fields)
	slices.Sort(keys)
	if !slices.Equal(fields, keys) {
		t.Errorf("settings %v\nfields   %v", keys, fields)
	}
}

func TestTimeoutsFor(t *testing.T) {
	def := Timeouts{Connect: 10 * time.Second, FirstByte: time.Minute, Idle: time.Minute, Total: 10 * time.Minute}
	tests := []struct {
		r    Route
		want Timeouts
	}{
		{Route{}, def},
		{Route{Timeout: 2 * time.Minute}, Timeouts{10 * time.Second, time.Minute, time.Minute, 2 * time.Minute}},
		{Route{ConnectTimeout: time.Second, FirstByteTimeout: 90 * time.Second, IdleTimeout: 5 * time.Second},
			Timeouts{time.Second, 90 * time.Second, 5 * time.Second, 10 * time.Minute}},
	}
	for _, tt := range tests {
		if got := def.For(tt.r); got != tt.want {
			t.Errorf("For(%+v) = %+v, want %+v", tt.r, got, tt.want)
		}
	}
}

func TestProviderKey(t *testing.T) {
	getenv := env(map[string]string{"K": "from-env"})
	tests := []struct {
		p    Provider
		want string
	}{
		{Provider{}, ""},
		{Provider{APIKeyEnv: "K"}, "from-env"},
		{Provider{APIKeyEnv: "UNSET"}, ""},
		{Provider{APIKey: "inline", APIKeyEnv: "K"}, "inline"},
	}
	for _, tt := range tests {
		if got := tt.p.Key(getenv); got != tt.want {
			t.Errorf("%+v.Key() = %q, want %q", tt.p, got, tt.want)
		}
	}
	t.Setenv("XJP_TEST_PROVIDER_KEY", "os")
	if got := (Provider{APIKeyEnv: "XJP_TEST_PROVIDER_KEY"}).Key(nil); got != "os" {
		t.Errorf("Key(nil) = %q, want os.Getenv's", got)
	}
}

func TestLoadHasNoSideEffects(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	c, err := Load(LoadOptions{DataDir: data, Getenv: env(nil), File: "testdata/env-file.toml"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load created the data dir: %v", err)
	}
	if c.DataDir != data {
		t.Errorf("DataDir = %q", c.DataDir)
	}
}
