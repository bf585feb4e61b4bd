package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Error is one problem in a configuration. Validate and Load return several,
// joined with errors.Join; errors.As finds the first.
type Error struct {
	// Source is where the value came from: the config file, or the
	// environment variable that set it ("XJP_SERVER_LISTEN",
	// "CLEWDR_BASE_URL"); "" for defaults and values set by the program.
	Source string
	// Key is the key path: "server.listen", "providers.clewdr.base_url",
	// "models[1].routes[0].provider" (indexes count from 0).
	Key string
	// Problem says what is wrong.
	Problem string
}

// Error formats the problem as "SOURCE: KEY: PROBLEM".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// where returns what set the key at path p: the environment variable that
// set it or one of its parents, else the file ("" when none).
func (c *Config) where(p string) string {
	for q := p; q != ""; q = parentPath(q) {
		if s, ok := c.sources[q]; ok {
			return s
		}
	}
	return c.File
}

func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func (c *Config) problem(p, format string, args ...any) *Error {
	return &Error{Source: c.where(p), Key: p, Problem: fmt.Sprintf(format, args...)}
}

// checker collects problems.
type checker struct {
	c    *Config
	errs []error
}

func (k *checker) add(p, format string, args ...any) {
	k.errs = append(k.errs, k.c.problem(p, format, args...))
}

var (
	providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	envVarName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	regionName   = regexp.MustCompile(`^[a-z0-9-]+$`)
	headerName   = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
)

// reservedBody are the body fields a route cannot override: the gateway
// sets them and the stream depends on them.
var reservedBody = []string{"contents", "messages", "model", "stream", "stream_options"}

// Validate checks the whole configuration and returns every problem at once
// (errors.Join of *Error), or nil. Each names the file or environment
// variable, the key and what is wrong, for example
//
//	xjp.toml: models[1].routes[0].provider: unknown provider "clewd" (known: demo, openrouter)
//
// Load calls it; call it again after changing fields (flags). Things that
// are suspicious but workable are Warnings, not errors.
func (c *Config) Validate() error {
	k := &checker{c: c}
	c.checkSections(k)
	c.checkProviders(k)
	c.checkModels(k)
	return errors.Join(k.errs...)
}

func (c *Config) checkSections(k *checker) {
	s := c.Server
	if msg := checkListen(s.Listen); msg != "" {
		k.add("server.listen", "%s", msg)
	}
	if s.MaxBodyBytes <= 0 {
		k.add("server.max_body_bytes", "must be positive, got %d", s.MaxBodyBytes)
	}
	for i, o := range s.CORSOrigins {
		if msg := checkOrigin(o); msg != "" {
			k.add(fmt.Sprintf("server.cors_origins[%d]", i), "%s", msg)
		}
	}
	if s.ShutdownGrace < 0 {
		k.add("server.shutdown_grace", "must not be negative, got %v", s.ShutdownGrace)
	}

	switch c.Store.Driver {
	case "sqlite":
		if strings.HasPrefix(c.Store.DSN, "postgres://") || strings.HasPrefix(c.Store.DSN, "postgresql://") {
			k.add("store.dsn", `is a postgres URL but store.driver is "sqlite"; set driver = "postgres"`)
		}
	case "postgres":
		if c.Store.DSN == "" {
			k.add("store.dsn", `required when store.driver is "postgres" (a URL such as "postgres://user:pass@host:5432/xjp"; XJP_STORE_DSN keeps the password out of the file)`)
		} else if strings.Contains(c.Store.DSN, "://") {
			if u, err := url.Parse(c.Store.DSN); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
				k.add("store.dsn", `not a postgres URL (want "postgres://…" or "postgresql://…", or a key=value DSN)`)
			}
		} else if !strings.Contains(c.Store.DSN, "=") {
			k.add("store.dsn", `not a postgres DSN (want a URL such as "postgres://user:pass@host:5432/xjp", or key=value pairs such as "host=db dbname=xjp")`)
		}
	default:
		k.add("store.driver", `unknown driver %q (want "sqlite" or "postgres")`, c.Store.Driver)
	}

	if c.Redis.URL != "" {
		if msg := checkRedisURL(c.Redis.URL); msg != "" {
			k.add("redis.url", "%s", msg)
		}
	}

	l := c.Limits
	if l.DefaultRPM <= 0 {
		k.add("limits.default_rpm", "must be positive, got %d", l.DefaultRPM)
	}
	if l.DefaultBurst <= 0 {
		k.add("limits.default_burst", "must be positive, got %d", l.DefaultBurst)
	}
	if l.DefaultDailyTokens < 0 {
		k.add("limits.default_daily_tokens", "must not be negative (0 means unlimited), got %d", l.DefaultDailyTokens)
	}
	if l.TenantDailyTokens < 0 {
		k.add("limits.tenant_daily_tokens", "must not be negative (0 means unlimited), got %d", l.TenantDailyTokens)
	}

	r := c.Retry
	if r.MaxRetries < 0 {
		k.add("retry.max_retries", "must not be negative, got %d", r.MaxRetries)
	}
	if r.BaseBackoff <= 0 {
		k.add("retry.base_backoff", "must be positive, got %v", r.BaseBackoff)
	}
	if r.MaxBackoff <= 0 {
		k.add("retry.max_backoff", "must be positive, got %v", r.MaxBackoff)
	} else if r.BaseBackoff > 0 && r.MaxBackoff < r.BaseBackoff {
		k.add("retry.max_backoff", "%v is less than base_backoff %v", r.MaxBackoff, r.BaseBackoff)
	}

	b := c.Breaker
	if b.FailureThreshold <= 0 {
		k.add("breaker.failure_threshold", "must be positive, got %d", b.FailureThreshold)
	}
	if b.OpenFor <= 0 {
		k.add("breaker.open_for", "must be positive, got %v", b.OpenFor)
	}
	if b.HalfOpenSuccesses <= 0 {
		k.add("breaker.half_open_successes", "must be positive, got %d", b.HalfOpenSuccesses)
	}

	t := c.Timeouts
	for _, d := range []struct {
		key string
		v   any
		ok  bool
	}{
		{"timeouts.connect", t.Connect, t.Connect > 0},
		{"timeouts.first_byte", t.FirstByte, t.FirstByte > 0},
		{"timeouts.idle", t.Idle, t.Idle > 0},
		{"timeouts.total", t.Total, t.Total > 0},
	} {
		if !d.ok {
			k.add(d.key, "must be positive, got %v", d.v)
		}
	}

	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		k.add("log.level", `unknown level %q (want "debug", "info", "warn" or "error")`, c.Log.Level)
	}
	if !slices.Contains([]string{"auto", "text", "json"}, c.Log.Format) {
		k.add("log.format", `unknown format %q (want "auto", "text" or "json")`, c.Log.Format)
	}

	if strings.TrimSpace(c.Admin.Token) != c.Admin.Token {
		k.add("admin.token", "has leading or trailing spaces")
	}
	if c.Demo.Delay < 0 {
		k.add("demo.delay", "must not be negative, got %v", c.Demo.Delay)
	}
}

func checkListen(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Sprintf("%q is not host:port (such as \"127.0.0.1:8080\" or \":8080\")", addr)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Sprintf("%q: bad host %q", addr, host)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Sprintf("%q: port %q is not a number from 0 to 65535", addr, port)
	}
	return ""
}

func checkOrigin(o string) string {
	if o == "*" {
		return ""
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an origin (want \"*\" or scheme://host[:port], such as \"https://app.example.com\")", o)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Sprintf("%q is not an origin: no path, query or user allowed (want \"%s://%s\")", o, u.Scheme, u.Host)
	}
	return ""
}

// checkRedisURL never prints the URL: it may hold a password.
func checkRedisURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return `not a valid URL (want "redis://host:6379/0", "rediss://…" or "unix:///path")`
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Hostname() == "" {
			return "has no host"
		}
		if db := strings.TrimPrefix(u.Path, "/"); db != "" {
			if n, err := strconv.Atoi(db); err != nil || n < 0 {
				return fmt.Sprintf("database %q is not a number", db)
			}
		}
	case "unix":
		if u.Path == "" {
			return "has no socket path"
		}
	default:
		return fmt.Sprintf(`unknown scheme %q (want "redis", "rediss" or "unix")`, u.Scheme)
	}
	return ""
}

func (c *Config) providerNames() []string {
	names := make([]string, 0, len(c.Providers))
	for n := range c.Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (c *Config) checkProviders(k *checker) {
	for _, name := range c.providerNames() {
		p := c.Providers[name]
		at := func(key string) string { return "providers." + name + "." + key }
		if !providerName.MatchString(name) {
			k.add("providers."+name, "provider names are lower-case letters, digits, '-' and '_', starting with a letter or digit")
		}
		switch p.Kind {
		case KindOpenAI, KindAnthropic:
			if p.BaseURL == "" {
				k.add(at("base_url"), "required for kind %q", p.Kind)
			} else if msg := checkHTTPURL(p.BaseURL); msg != "" {
				k.add(at("base_url"), "%s", msg)
			}
		case KindVertex:
			if p.BaseURL != "" {
				if msg := checkHTTPURL(p.BaseURL); msg != "" {
					k.add(at("base_url"), "%s", msg)
				}
			}
			hasKey := p.APIKey != "" || p.APIKeyEnv != ""
			switch p.API {
			case APIVertex:
				if p.Project == "" && !hasKey {
					k.add("providers."+name, `kind "vertex" needs project (with credentials_file or Application Default Credentials) or an API key (api_key_env)`)
				}
				if !regionName.MatchString(p.Region) {
					k.add(at("region"), "%q is not a region (such as \"us-central1\" or \"global\")", p.Region)
				}
			case APIGemini:
				if !hasKey {
					k.add("providers."+name, `api "gemini" needs an API key (api_key_env)`)
				}
			default:
				k.add(at("api"), `unknown api %q (want "vertex" or "gemini")`, p.API)
			}
		case KindDemo:
			if p.BaseURL != "" || p.APIKey != "" || p.APIKeyEnv != "" || len(p.Headers) > 0 {
				k.add("providers."+name, `kind "demo" takes no base_url, key or headers`)
			}
		case "":
			k.add(at("kind"), `required ("openai", "anthropic", "vertex" or "demo")`)
		default:
			k.add(at("kind"), `unknown kind %q (want "openai", "anthropic", "vertex" or "demo")`, p.Kind)
		}

		if p.Kind != KindAnthropic {
			if p.AnthropicVersion != "" {
				k.add(at("anthropic_version"), `only for kind "anthropic"`)
			}
			if p.AuthHeader != "" {
				k.add(at("auth_header"), `only for kind "anthropic"`)
			}
		} else {
			if p.AuthHeader != AuthXAPIKey && p.AuthHeader != AuthBearer {
				k.add(at("auth_header"), `unknown auth header %q (want "x-api-key" or "bearer")`, p.AuthHeader)
			}
			if strings.ContainsAny(p.AnthropicVersion, " \r\n") {
				k.add(at("anthropic_version"), "%q is not a version such as \"2023-06-01\"", p.AnthropicVersion)
			}
		}
		if p.Kind != KindVertex {
			for _, f := range [][2]string{{"project", p.Project}, {"region", p.Region}, {"credentials_file", p.CredentialsFile}, {"api", p.API}} {
				if f[1] != "" {
					k.add(at(f[0]), `only for kind "vertex"`)
				}
			}
			if p.AllowPrivateMedia {
				k.add(at("allow_private_media"), `only for kind "vertex"`)
			}
		}

		if strings.HasPrefix(p.APIKey, "${") || (strings.HasPrefix(p.APIKey, "$") && envVarName.MatchString(p.APIKey[1:])) {
			k.add(at("api_key"), "%q is not expanded: xjp does not substitute variables in files; set api_key_env = %q instead", p.APIKey, strings.Trim(p.APIKey, "${}"))
		}
		if p.APIKeyEnv != "" && !envVarName.MatchString(p.APIKeyEnv) {
			if v := strings.Trim(p.APIKeyEnv, "${}"); envVarName.MatchString(v) {
				k.add(at("api_key_env"), "names the variable: write %q, without $ or braces", v)
			} else {
				// Never print it: it may be the key itself.
				k.add(at("api_key_env"), "is not an environment variable name (letters, digits and '_'); it holds the name of the variable with the key, not the key")
			}
		}
		checkHeaders(k, at("headers"), p.Headers)
	}
}

func checkHTTPURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an http(s) URL", s)
	}
	if u.User != nil {
		return "must not hold credentials; use api_key_env"
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("%q: no query or fragment allowed", u.Redacted())
	}
	return ""
}

func checkHeaders(k *checker, at string, h map[string]string) {
	names := make([]string, 0, len(h))
	for n := range h {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !headerName.MatchString(n) {
			k.add(at, "%q is not a valid header name", n)
		}
		if strings.ContainsAny(h[n], "\r\n\x00") {
			k.add(at+"."+n, "value must not contain line breaks")
		}
	}
}

func (c *Config) checkModels(k *checker) {
	seen := map[string]int{}
	for i, m := range c.Models {
		at := fmt.Sprintf("models[%d]", i)
		switch {
		case m.Name == "":
			k.add(at+".name", "required")
		case strings.IndexFunc(m.Name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			k.add(at+".name", "%q contains spaces", m.Name)
		default:
			if j, dup := seen[m.Name]; dup {
				k.add(at+".name", "duplicate model %q (also models[%d])", m.Name, j)
			} else {
				seen[m.Name] = i
			}
		}
		if p := m.Price; p != nil {
			for _, f := range []struct {
				key string
				v   float64
			}{
				{"input_per_mtok", p.InputPerMTok},
				{"output_per_mtok", p.OutputPerMTok},
				{"cache_read_per_mtok", p.CacheReadPerMTok},
				{"cache_write_per_mtok", p.CacheWritePerMTok},
			} {
				if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
					k.add(at+".price."+f.key, "must be a non-negative number, got %v", f.v)
				}
			}
		}
		if len(m.Routes) == 0 {
			k.add(at+".routes", "model %q has no routes", m.Name)
		}
		for j, r := range m.Routes {
			c.checkRoute(k, fmt.Sprintf("%s.routes[%d]", at, j), r)
		}
	}
}

func (c *Config) checkRoute(k *checker, at string, r Route) {
	switch {
	case r.Provider == "":
		k.add(at+".provider", "required")
	default:
		if _, ok := c.Providers[r.Provider]; !ok {
			known := "no providers are configured"
			if len(c.Providers) > 0 {
				known = "known: " + strings.Join(c.providerNames(), ", ")
			}
			if r.Provider == "demo" && !c.Demo.Enabled {
				known += "; demo.enabled is false"
			}
			k.add(at+".provider", "unknown provider %q (%s)", r.Provider, known)
		}
	}
	if strings.TrimSpace(r.Model) == "" {
		k.add(at+".model", "required (the upstream model id)")
	}
	if r.Weight < 0 {
		k.add(at+".weight", "must not be negative, got %d", r.Weight)
	}
	for _, d := range []struct {
		key string
		v   any
		bad bool
	}{
		{"timeout", r.Timeout, r.Timeout < 0},
		{"connect_timeout", r.ConnectTimeout, r.ConnectTimeout < 0},
		{"first_byte_timeout", r.FirstByteTimeout, r.FirstByteTimeout < 0},
		{"idle_timeout", r.IdleTimeout, r.IdleTimeout < 0},
		{"max_tokens", r.MaxTokens, r.MaxTokens < 0},
		{"default_max_tokens", r.DefaultMaxTokens, r.DefaultMaxTokens < 0},
	} {
		if d.bad {
			k.add(at+"."+d.key, "must not be negative (0 means the default), got %v", d.v)
		}
	}
	if r.MaxTokens > 0 && r.DefaultMaxTokens > r.MaxTokens {
		k.add(at+".default_max_tokens", "%d is more than max_tokens %d", r.DefaultMaxTokens, r.MaxTokens)
	}
	if r.MaxRetries != nil && *r.MaxRetries < 0 {
		k.add(at+".max_retries", "must not be negative, got %d", *r.MaxRetries)
	}
	checkHeaders(k, at+".headers", r.Headers)
	keys := make([]string, 0, len(r.Body))
	for key := range r.Body {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		switch {
		case key == "":
			k.add(at+".body", "empty field name")
		case slices.Contains(reservedBody, key):
			k.add(at+".body."+key, "cannot be set: the gateway sets %q", key)
		default:
			if _, err := json.Marshal(r.Body[key]); err != nil {
				k.add(at+".body."+key, "cannot be sent as JSON: %v", err)
			}
		}
	}
}
