package config

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Built-in addresses of the providers implied by the environment.
const (
	OpenRouterBaseURL = "https://openrouter.ai/api/v1"
	OpenAIBaseURL     = "https://api.openai.com/v1"
	AnthropicBaseURL  = "https://api.anthropic.com"

	// DefaultAnthropicVersion is the anthropic-version sent by kind
	// anthropic when neither the client nor the provider sets one.
	DefaultAnthropicVersion = "2023-06-01"
	// DefaultVertexRegion is the Vertex AI region when none is set.
	DefaultVertexRegion = "us-central1"
)

// xjpKeyPrefix starts every xjp API key. A client pointed at xjp (Claude
// Code, an OpenAI SDK) is often configured with ANTHROPIC_API_KEY or
// OPENAI_API_KEY holding an xjp key; such a value is not an upstream key.
const xjpKeyPrefix = "xjp_"

// addImplicit adds the providers implied by the environment and the built-in
// demo provider and model, each only when the file defines none of that
// name. The gateway's base URL variables (ANTHROPIC_BASE_URL,
// OPENAI_BASE_URL) are deliberately not read: clients pointed at xjp set
// them, and following them would loop back into xjp.
func (c *Config) addImplicit(getenv func(string) string) {
	add := func(name, from string, p Provider) {
		if _, ok := c.Providers[name]; ok {
			return
		}
		p.Name = name
		c.Providers[name] = p
		c.sources["providers."+name] = from
	}
	keyed := func(name, env, baseURL string, kind string) {
		k := getenv(env)
		switch {
		case k == "":
		case strings.HasPrefix(k, xjpKeyPrefix):
			if _, ok := c.Providers[name]; !ok {
				c.notes = append(c.notes, fmt.Sprintf("%s holds an xjp key (%s…), meant for clients of xjp, not an upstream key: the implicit %q provider is not added", env, xjpKeyPrefix, name))
			}
		default:
			add(name, env, Provider{Kind: kind, BaseURL: baseURL, APIKeyEnv: env})
		}
	}
	keyed("openrouter", "OPENROUTER_API_KEY", OpenRouterBaseURL, KindOpenAI)
	keyed("openai", "OPENAI_API_KEY", OpenAIBaseURL, KindOpenAI)
	keyed("anthropic", "ANTHROPIC_API_KEY", AnthropicBaseURL, KindAnthropic)

	if u := getenv("CLEWDR_BASE_URL"); u != "" {
		p := Provider{Kind: KindAnthropic, BaseURL: u}
		if getenv("CLEWDR_API_KEY") != "" {
			p.APIKeyEnv = "CLEWDR_API_KEY"
		}
		add("clewdr", "CLEWDR_BASE_URL", p)
	}

	key, project := getenv("VERTEX_API_KEY"), getenv("VERTEX_PROJECT")
	if key != "" || project != "" {
		p := Provider{Kind: KindVertex, API: APIVertex, Project: project, Region: getenv("VERTEX_REGION")}
		from := "VERTEX_PROJECT"
		if key != "" {
			p.APIKeyEnv = "VERTEX_API_KEY"
			if project == "" {
				from = "VERTEX_API_KEY"
			}
		}
		if f := getenv("GOOGLE_APPLICATION_CREDENTIALS"); f != "" {
			p.CredentialsFile = f
		}
		if _, ok := c.Providers["vertex"]; !ok && p.Region != "" {
			c.sources["providers.vertex.region"] = "VERTEX_REGION"
		}
		add("vertex", from, p)
	}

	if c.Demo.Enabled {
		if _, ok := c.Providers["demo"]; !ok {
			c.Providers["demo"] = Provider{Name: "demo", Kind: KindDemo}
		}
		if _, ok := c.Model("demo"); !ok {
			c.Models = append(c.Models, Model{
				Name:        "demo",
				Description: "xjp's built-in offline demo model",
				Price:       &Price{},
				Routes:      []Route{{Provider: "demo", Model: "demo"}},
			})
		}
	}
}

// normalize fills the defaults that depend on other settings and tidies
// values: lower-case enums, no trailing "/" on base URLs, the SQLite path
// under the data dir, JSON-friendly route bodies.
func (c *Config) normalize() {
	low := func(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

	c.Store.Driver = low(c.Store.Driver)
	if c.Store.Driver == "sqlite" {
		c.Store.DSN = sqlitePath(c.Store.DSN, c.DataDir, c.getenv)
	}
	c.Log.Level = low(c.Log.Level)
	if c.Log.Level == "warning" {
		c.Log.Level = "warn"
	}
	c.Log.Format = low(c.Log.Format)
	origins := c.Server.CORSOrigins[:0:0]
	for _, o := range c.Server.CORSOrigins {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, strings.TrimSuffix(o, "/"))
		}
	}
	c.Server.CORSOrigins = origins

	for name, p := range c.Providers {
		p.Name = name
		p.Kind = low(p.Kind)
		p.BaseURL = strings.TrimRight(strings.TrimSpace(p.BaseURL), "/")
		p.APIKeyEnv = strings.TrimSpace(p.APIKeyEnv)
		p.AuthHeader = low(p.AuthHeader)
		p.API = low(p.API)
		switch p.Kind {
		case KindAnthropic:
			if p.AnthropicVersion == "" {
				p.AnthropicVersion = DefaultAnthropicVersion
			}
			if p.AuthHeader == "" {
				p.AuthHeader = AuthXAPIKey
			}
		case KindVertex:
			if p.API == "" {
				p.API = APIVertex
			}
			if p.API == APIVertex && p.Region == "" {
				p.Region = DefaultVertexRegion
			}
		}
		if p.CredentialsFile != "" {
			p.CredentialsFile = expandHome(p.CredentialsFile, c.getenv)
		}
		c.Providers[name] = p
	}

	for i := range c.Models {
		for j := range c.Models[i].Routes {
			r := &c.Models[i].Routes[j]
			if r.Body != nil {
				r.Body = normalizeMap(r.Body)
			}
		}
	}
}

// sqlitePath returns the SQLite database path: <data-dir>/xjp.db when dsn is
// empty, a relative path under the data dir, "~/" expanded; "file:" URIs
// and ":memory:" as they are.
func sqlitePath(dsn, dataDir string, getenv func(string) string) string {
	dsn = strings.TrimSpace(dsn)
	switch {
	case dsn == "":
		return filepath.Join(dataDir, "xjp.db")
	case dsn == ":memory:" || strings.HasPrefix(dsn, "file:") || strings.Contains(dsn, "://"):
		return dsn
	}
	dsn = expandHome(dsn, getenv)
	if !filepath.IsAbs(dsn) {
		dsn = filepath.Join(dataDir, dsn)
	}
	return dsn
}
