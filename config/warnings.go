package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
)

// Warnings returns what is suspicious but does not stop xjp, in key order,
// each formatted like a validation error ("SOURCE: KEY: PROBLEM"):
// api_key_env naming a variable that is unset, secrets written in the file,
// unpriced models, base URLs that look wrong for their kind, settings that
// have no effect, and implicit providers that were skipped. The CLI prints
// them at start and xjp routes check lists them.
func (c *Config) Warnings() []string {
	getenv := c.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var out []string
	warn := func(p, format string, args ...any) {
		out = append(out, c.problem(p, format, args...).Error())
	}
	fromFile := func(p string) bool { return c.File != "" && c.where(p) == c.File }

	out = append(out, c.notes...)

	if c.Admin.Token != "" {
		if fromFile("admin.token") {
			warn("admin.token", "a secret in the config file; prefer the environment variable XJP_ADMIN_TOKEN")
		}
		if len(c.Admin.Token) < 16 {
			warn("admin.token", "shorter than 16 characters: easy to guess")
		}
	}
	if c.Store.Driver == "postgres" && fromFile("store.dsn") && dsnHasPassword(c.Store.DSN) {
		warn("store.dsn", "holds a password in the config file; prefer the environment variable XJP_STORE_DSN")
	}
	if fromFile("redis.url") && dsnHasPassword(c.Redis.URL) {
		warn("redis.url", "holds a password in the config file; prefer the environment variable XJP_REDIS_URL")
	}
	if t := c.Timeouts; t.FirstByte > t.Total {
		warn("timeouts.first_byte", "%v is longer than timeouts.total %v, which cuts it short", t.FirstByte, t.Total)
	}

	for _, name := range c.providerNames() {
		p := c.Providers[name]
		at := func(key string) string { return "providers." + name + "." + key }
		if p.APIKey != "" && fromFile(at("api_key")) {
			warn(at("api_key"), "a secret in the config file; prefer api_key_env")
		}
		if p.APIKey == "" && p.APIKeyEnv != "" && getenv(p.APIKeyEnv) == "" {
			warn(at("api_key_env"), "the environment variable %s is not set: requests to %q will be sent without a key", p.APIKeyEnv, name)
		}
		if u, err := url.Parse(p.BaseURL); err == nil && p.BaseURL != "" {
			path := strings.TrimSuffix(u.Path, "/")
			switch {
			case p.Kind == KindOpenAI && path == "":
				warn(at("base_url"), "has no path: OpenAI-compatible APIs are usually under /v1 (the client appends /chat/completions)")
			case p.Kind == KindAnthropic && strings.HasSuffix(path, "/v1"):
				warn(at("base_url"), "ends in /v1, but the client appends /v1/messages: drop the /v1")
			}
		}
		if p.Kind == KindVertex && p.API == APIGemini && (p.Project != "" || p.Region != "") {
			warn("providers."+name, `project and region are not used with api "gemini"`)
		}
	}

	for i, m := range c.Models {
		at := fmt.Sprintf("models[%d]", i)
		if m.Price == nil {
			warn(at+".price", "model %q has no price: its cost is recorded as unknown", m.Name)
		}
		for j, r := range m.Routes {
			t := c.Timeouts.For(r)
			if (r.FirstByteTimeout > 0 || r.Timeout > 0) && t.FirstByte > t.Total {
				warn(fmt.Sprintf("%s.routes[%d]", at, j), "first-byte timeout %v is longer than the total timeout %v, which cuts it short", t.FirstByte, t.Total)
			}
		}
	}
	return out
}

// dsnHasPassword reports whether a URL-style DSN carries a password.
func dsnHasPassword(dsn string) bool {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		_, ok := u.User.Password()
		return ok
	}
	return strings.Contains(dsn, "password=")
}
