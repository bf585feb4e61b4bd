// Package config is xjp's configuration: the typed Config, its defaults, Load
// (file + environment + defaults, with providers implied by the environment),
// Validate, and Watch for hot reload. It is the only package that imports
// viper.
//
// A Config comes from four layers, highest first:
//
//  1. command-line flags: the CLI sets fields on the loaded Config;
//  2. environment variables: XJP_<SECTION>_<KEY> for every scalar setting
//     (XJP_SERVER_LISTEN, XJP_RETRY_BASE_BACKOFF, …);
//  3. the config file (TOML or YAML; see Load for where it is looked for);
//  4. the defaults documented on each field.
//
// Providers and models are configured only in the file (plus the providers
// implied by well-known environment variables such as OPENROUTER_API_KEY, and
// the built-in demo provider): viper lower-cases keys and cannot apply
// environment overrides inside user-defined maps, so these parts of the file
// are decoded directly, keeping model names, header names and body keys
// exactly as written. Secrets stay out of files through api_key_env.
//
// docs/config.md is the reference for users; xjp.example.toml documents every
// key with comments.
package config

import (
	"os"
	"time"
)

// Config is the whole configuration of xjp. Load returns one that has passed
// Validate; treat it as read-only and load a new one to change it (Watch and
// SIGHUP do exactly that).
type Config struct {
	// Server is the HTTP listener.
	Server Server `mapstructure:"server"`
	// Store is where keys and usage are kept.
	Store Store `mapstructure:"store"`
	// Redis is optional shared state across replicas.
	Redis Redis `mapstructure:"redis"`
	// Limits are the rate limits and quotas given to keys that set none.
	Limits Limits `mapstructure:"limits"`
	// Retry is the retry policy of an attempt before the first byte.
	Retry Retry `mapstructure:"retry"`
	// Breaker is the per-route circuit breaker.
	Breaker Breaker `mapstructure:"breaker"`
	// Timeouts are the upstream timeouts of every route; a route may
	// override each of them (Route.Timeout, Route.ConnectTimeout, …; see
	// Timeouts.For).
	Timeouts Timeouts `mapstructure:"timeouts"`
	// Log is logging.
	Log Log `mapstructure:"log"`
	// Admin protects the /admin API.
	Admin Admin `mapstructure:"admin"`
	// Demo is the built-in offline demo provider and model.
	Demo Demo `mapstructure:"demo"`

	// Providers are the upstreams, keyed by provider name. Names are
	// lower-case identifiers ([a-z0-9][a-z0-9_-]*): routes refer to them and
	// clients may address "PROVIDER/UPSTREAM_MODEL" directly. Besides the
	// file's [providers.NAME] tables, Load adds the providers implied by the
	// environment (OPENROUTER_API_KEY → "openrouter", …) and the built-in
	// "demo", each only when the file defines no provider of that name.
	// Not overridable per key from the environment; use api_key_env.
	Providers map[string]Provider `mapstructure:"providers"`
	// Models are the logical models clients ask for, in file order. An array
	// of tables rather than a table keyed by name, so that names keep their
	// case and dots ("Claude-Sonnet-4.5"). Load appends the built-in model
	// "demo" unless the file defines a model of that name or demo.enabled
	// is false.
	Models []Model `mapstructure:"models"`

	// File is the config file that was loaded, as given or found ("" when
	// none: all defaults). Set by Load.
	File string `mapstructure:"-"`
	// DataDir is the directory for the SQLite database and the generated
	// admin token: --data-dir, else $XJP_DATA_DIR, else
	// $XDG_DATA_HOME/xjp, else ~/.local/share/xjp. Always absolute. Load
	// does not create it. Set by Load.
	DataDir string `mapstructure:"-"`

	// sources maps a key path ("server.listen", "providers.clewdr") to the
	// environment variable that set it, so that errors name it.
	sources map[string]string
	// notes are warnings found while loading (implicit providers skipped).
	notes []string
	// getenv is the lookup Load used; Warnings checks api_key_env with it.
	getenv func(string) string
}

// Server is the HTTP listener ([server]).
type Server struct {
	// Listen is the address to listen on, host:port. Default
	// "127.0.0.1:8080" (this machine only); ":8080" or "0.0.0.0:8080"
	// listens on every interface, as a container needs. Env
	// XJP_SERVER_LISTEN; the CLI's --listen wins over both.
	Listen string `mapstructure:"listen"`
	// MaxBodyBytes is the largest request body accepted; larger ones get
	// 413. Default 10485760 (10 MiB). Env XJP_SERVER_MAX_BODY_BYTES.
	MaxBodyBytes int64 `mapstructure:"max_body_bytes"`
	// CORSOrigins are the browser origins allowed to call the API
	// ("https://app.example.com", or "*" for any). Default none: no CORS
	// headers are sent. Env XJP_SERVER_CORS_ORIGINS, a comma-separated
	// list.
	CORSOrigins []string `mapstructure:"cors_origins"`
	// ShutdownGrace is how long in-flight requests and streams may run
	// after SIGINT/SIGTERM before they are cut. Default 30s; 0 cuts at
	// once. Env XJP_SERVER_SHUTDOWN_GRACE.
	ShutdownGrace time.Duration `mapstructure:"shutdown_grace"`
}

// Store is where API keys and usage are kept ([store]).
type Store struct {
	// Driver is "sqlite" (default: embedded, one machine) or "postgres"
	// (shared by replicas). Env XJP_STORE_DRIVER.
	Driver string `mapstructure:"driver"`
	// DSN is the database to open. sqlite: a file path, default
	// <data-dir>/xjp.db; a relative path is taken relative to the data dir;
	// a "file:" URI is used as is. postgres: required, a URL
	// ("postgres://user:pass@host:5432/xjp?sslmode=require") or key=value
	// DSN; prefer setting it through the environment. Env XJP_STORE_DSN.
	DSN string `mapstructure:"dsn"`
}

// Redis is optional shared state across replicas ([redis]).
type Redis struct {
	// URL of a Redis server ("redis://host:6379/0", "rediss://…" for TLS,
	// "unix:///path"). Empty (default): rate limits and idempotency are
	// kept in process, which is right for one instance. Set it when
	// running several replicas. Env XJP_REDIS_URL.
	URL string `mapstructure:"url"`
	// Prefix is prepended to every Redis key, so that several deployments
	// can share one Redis. Default "xjp:". Env XJP_REDIS_PREFIX.
	Prefix string `mapstructure:"prefix"`
}

// Limits are the defaults for API keys that set no limits of their own
// ([limits]); a key's own rpm, burst and daily_tokens win.
type Limits struct {
	// DefaultRPM is the sustained requests per minute per key. Default 60.
	// Env XJP_LIMITS_DEFAULT_RPM.
	DefaultRPM int `mapstructure:"default_rpm"`
	// DefaultBurst is how many requests a key may send at once above the
	// sustained rate. Default 10. Env XJP_LIMITS_DEFAULT_BURST.
	DefaultBurst int `mapstructure:"default_burst"`
	// DefaultDailyTokens is the daily token quota per key (input + output).
	// Default 0: unlimited. Env XJP_LIMITS_DEFAULT_DAILY_TOKENS.
	DefaultDailyTokens int64 `mapstructure:"default_daily_tokens"`
	// TenantDailyTokens is the daily token quota shared by all keys of one
	// tenant (keys created with --tenant), on top of each key's own quota.
	// Default 0: unlimited. Env XJP_LIMITS_TENANT_DAILY_TOKENS.
	TenantDailyTokens int64 `mapstructure:"tenant_daily_tokens"`
}

// Retry is the retry policy of one route before the first byte has been sent
// to the client ([retry]). Retries happen on 429, 5xx and connection errors;
// after the retries of a route, the next route is tried. Nothing is retried
// once a byte has gone to the client.
type Retry struct {
	// MaxRetries is the number of retries on the same route after the first
	// try (0: none). Default 2. A route's max_retries overrides it. Env
	// XJP_RETRY_MAX_RETRIES.
	MaxRetries int `mapstructure:"max_retries"`
	// BaseBackoff is the wait before the first retry; it doubles on each
	// retry, with jitter, up to MaxBackoff. An upstream Retry-After is
	// honoured up to MaxBackoff. Default 250ms. Env XJP_RETRY_BASE_BACKOFF.
	BaseBackoff time.Duration `mapstructure:"base_backoff"`
	// MaxBackoff caps the wait between retries; at least BaseBackoff.
	// Default 5s. Env XJP_RETRY_MAX_BACKOFF.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
}

// Breaker is the circuit breaker kept for each route (provider + upstream
// model) in each replica ([breaker]). An open breaker skips its route, so
// requests go straight to the fallbacks.
type Breaker struct {
	// FailureThreshold is the number of consecutive failures (429, 5xx,
	// timeouts, connection errors; never client cancels or 4xx) that opens
	// the breaker. Default 5. Env XJP_BREAKER_FAILURE_THRESHOLD.
	FailureThreshold int `mapstructure:"failure_threshold"`
	// OpenFor is how long an open breaker rejects before it lets trial
	// requests through (half-open). Default 30s. Env XJP_BREAKER_OPEN_FOR.
	OpenFor time.Duration `mapstructure:"open_for"`
	// HalfOpenSuccesses is the number of successful trial requests that
	// close the breaker again; any failure re-opens it. Default 2. Env
	// XJP_BREAKER_HALF_OPEN_SUCCESSES.
	HalfOpenSuccesses int `mapstructure:"half_open_successes"`
}

// Timeouts bound one upstream attempt ([timeouts] for every route; a route
// overrides each one). A timeout before the first byte is retried like a
// 5xx; after it, the stream ends with an error event.
type Timeouts struct {
	// Connect bounds dialing and the TLS handshake. Default 10s. Env
	// XJP_TIMEOUTS_CONNECT. Route: connect_timeout.
	Connect time.Duration `mapstructure:"connect"`
	// FirstByte bounds the wait from sending the request to the first
	// response byte (reasoning models can think for a long time). Default
	// 60s. Env XJP_TIMEOUTS_FIRST_BYTE. Route: first_byte_timeout.
	FirstByte time.Duration `mapstructure:"first_byte"`
	// Idle bounds the silence between two chunks of a streamed response.
	// Default 60s. Env XJP_TIMEOUTS_IDLE. Route: idle_timeout.
	Idle time.Duration `mapstructure:"idle"`
	// Total bounds the whole attempt, streaming included; it wins over the
	// others. Default 10m. Env XJP_TIMEOUTS_TOTAL. Route: timeout.
	Total time.Duration `mapstructure:"total"`
}

// Log is logging ([log]).
type Log struct {
	// Level is "debug", "info" (default), "warn" or "error". Env
	// XJP_LOG_LEVEL; the CLI's --log-level wins.
	Level string `mapstructure:"level"`
	// Format is "auto" (default: text on a terminal, JSON otherwise),
	// "text" or "json". Env XJP_LOG_FORMAT.
	Format string `mapstructure:"format"`
	// Bodies logs request and response bodies at debug level. Default
	// false; bodies hold prompts and answers, so turn it on only to debug.
	// Secrets are redacted either way. Env XJP_LOG_BODIES.
	Bodies bool `mapstructure:"bodies"`
}

// Admin protects the /admin API and what uses it (xjp tail, the dashboard
// attached to a remote server) ([admin]).
type Admin struct {
	// Token is the admin bearer token. Prefer the environment variable
	// XJP_ADMIN_TOKEN (from a Kubernetes Secret) to writing it in the file.
	// Empty (default): the server generates one at first start into
	// <data-dir>/admin-token (mode 0600) and reuses it.
	Token string `mapstructure:"token"`
}

// Demo is the built-in offline demo provider ([demo]).
type Demo struct {
	// Enabled adds the built-in provider "demo" (kind demo) and the model
	// "demo" routed to it. Default true; set false in production. A file
	// that defines a provider or a model named "demo" replaces the
	// built-in one. Env XJP_DEMO_ENABLED.
	Enabled bool `mapstructure:"enabled"`
	// Delay is the pause between streamed words of the demo model, so
	// streaming can be seen. Default 30ms; 0 streams at once. Env
	// XJP_DEMO_DELAY.
	Delay time.Duration `mapstructure:"delay"`
}

// Provider kinds: the wire format spoken to the upstream.
const (
	KindOpenAI    = "openai"    // OpenAI Chat Completions: OpenAI, OpenRouter, vLLM, Ollama, …
	KindAnthropic = "anthropic" // Anthropic Messages: Anthropic, Clewdr, …
	KindVertex    = "vertex"    // Gemini: Vertex AI or AI Studio
	KindDemo      = "demo"      // the built-in offline demo model
)

// Vertex APIs (Provider.API).
const (
	APIVertex = "vertex" // Vertex AI (aiplatform.googleapis.com)
	APIGemini = "gemini" // Gemini API / AI Studio (generativelanguage.googleapis.com)
)

// Anthropic authentication headers (Provider.AuthHeader).
const (
	AuthXAPIKey = "x-api-key" // x-api-key: KEY
	AuthBearer  = "bearer"    // Authorization: Bearer KEY
)

// Provider is one upstream ([providers.NAME]).
type Provider struct {
	// Name is the provider's name, the key of its table. Set by Load.
	Name string `mapstructure:"-"`
	// Kind is the wire format: "openai", "anthropic", "vertex" or "demo".
	// Required.
	Kind string `mapstructure:"kind"`
	// BaseURL is the upstream's address. Required for kinds openai and
	// anthropic. openai: include the version prefix, the client appends
	// "/chat/completions" ("https://openrouter.ai/api/v1",
	// "http://localhost:11434/v1"). anthropic: the root, the client appends
	// "/v1/messages" ("https://api.anthropic.com",
	// "http://127.0.0.1:8484"). vertex: optional, replaces the Google
	// endpoint (proxies, tests). A trailing "/" is removed.
	BaseURL string `mapstructure:"base_url"`
	// APIKey is the upstream key written in the file. Discouraged: files
	// get committed and shared; use APIKeyEnv. Wins over APIKeyEnv.
	APIKey string `mapstructure:"api_key"`
	// APIKeyEnv names the environment variable holding the key
	// ("OPENROUTER_API_KEY"), not the key; Key looks it up. A variable
	// that is unset gives a warning, not an error. Neither key set: no
	// auth header is sent (local vLLM, Ollama).
	APIKeyEnv string `mapstructure:"api_key_env"`
	// Headers are extra request headers sent on every request to this
	// provider, names kept as written (OpenRouter attribution:
	// "HTTP-Referer", "X-OpenRouter-Title"). A route's headers win.
	Headers map[string]string `mapstructure:"headers"`

	// AnthropicVersion is the anthropic-version header for kind anthropic
	// when the client sent none. Default "2023-06-01".
	AnthropicVersion string `mapstructure:"anthropic_version"`
	// AuthHeader is how kind anthropic sends the key: "x-api-key"
	// (default) or "bearer" (Authorization: Bearer).
	AuthHeader string `mapstructure:"auth_header"`

	// Project is the Google Cloud project (kind vertex, api "vertex").
	// Required unless an API key is set (Vertex AI express mode).
	Project string `mapstructure:"project"`
	// Region is the Vertex AI location ("us-central1", "europe-west4",
	// "global"). Default "us-central1" for api "vertex".
	Region string `mapstructure:"region"`
	// CredentialsFile is a service-account JSON file for kind vertex
	// ("~/" is expanded). Vertex credentials are, first found: the API key
	// (APIKey, APIKeyEnv; Vertex AI express mode), this file, Application
	// Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, the
	// metadata server).
	CredentialsFile string `mapstructure:"credentials_file"`
	// API selects the Google API for kind vertex: "vertex" (default,
	// Vertex AI) or "gemini" (the Gemini API of AI Studio, needs an API
	// key; project and region are not used).
	API string `mapstructure:"api"`
	// AllowPrivateMedia lets kind vertex fetch image and file URLs that
	// resolve to loopback, private or link-local addresses (it fetches
	// http(s) media to inline it). Default false: a client could otherwise
	// make the gateway read internal services or cloud metadata.
	AllowPrivateMedia bool `mapstructure:"allow_private_media"`
}

// Key returns the provider's API key: APIKey when set, else the value of the
// environment variable APIKeyEnv looked up with getenv (os.Getenv when nil),
// else "".
func (p Provider) Key(getenv func(string) string) string {
	if p.APIKey != "" {
		return p.APIKey
	}
	if p.APIKeyEnv == "" {
		return ""
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	return getenv(p.APIKeyEnv)
}

// Model is a logical model that clients ask for ([[models]]).
type Model struct {
	// Name is what clients send as "model". Required, unique, no spaces;
	// case and dots are kept ("claude-sonnet-4.5"). Lookups are exact.
	Name string `mapstructure:"name"`
	// Description is shown by GET /v1/models consumers and xjp routes list.
	Description string `mapstructure:"description"`
	// Price is the cost per million tokens, used to record the cost of
	// every request. nil: unpriced, costs are recorded as unknown (NULL,
	// not 0) and reports flag the model (a warning at load).
	Price *Price `mapstructure:"price"`
	// Routes are the upstreams serving this model, at least one. They are
	// tried in order of Priority (lower first), then file order: the first
	// is the primary, the rest are fallbacks. Among routes of equal
	// priority that all have a Weight, the first attempt is spread by
	// weight.
	Routes []Route `mapstructure:"routes"`
}

// Price is a model's price in US dollars per million tokens. All default to 0
// and must not be negative.
type Price struct {
	// InputPerMTok is the price of prompt tokens not read from a cache.
	InputPerMTok float64 `mapstructure:"input_per_mtok"`
	// OutputPerMTok is the price of completion tokens, reasoning included.
	OutputPerMTok float64 `mapstructure:"output_per_mtok"`
	// CacheReadPerMTok is the price of prompt tokens read from a cache.
	CacheReadPerMTok float64 `mapstructure:"cache_read_per_mtok"`
	// CacheWritePerMTok is the price of prompt tokens written to a cache.
	CacheWritePerMTok float64 `mapstructure:"cache_write_per_mtok"`
}

// Route is one way to serve a model: a provider and the upstream model id
// ([[models.routes]]).
type Route struct {
	// Provider is the name of a provider. Required; must exist.
	Provider string `mapstructure:"provider"`
	// Model is the upstream model id, sent as is
	// ("anthropic/claude-sonnet-4.5"). Required.
	Model string `mapstructure:"model"`
	// Weight spreads first attempts among routes of equal Priority that
	// all have a weight > 0, in proportion. Default 0: not weighted (file
	// order). Must not be negative.
	Weight int `mapstructure:"weight"`
	// Priority orders routes: lower first; equal priorities keep file
	// order. Default 0.
	Priority int `mapstructure:"priority"`

	// Timeout is the total timeout of an attempt on this route; 0 (default)
	// uses [timeouts] total.
	Timeout time.Duration `mapstructure:"timeout"`
	// ConnectTimeout overrides [timeouts] connect (0: use it).
	ConnectTimeout time.Duration `mapstructure:"connect_timeout"`
	// FirstByteTimeout overrides [timeouts] first_byte (0: use it).
	FirstByteTimeout time.Duration `mapstructure:"first_byte_timeout"`
	// IdleTimeout overrides [timeouts] idle (0: use it).
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`

	// MaxTokens clamps the client's max tokens to what the upstream accepts
	// (0, default: no clamp). Claude Code asks for 32000 or more, which
	// many OpenAI-compatible upstreams reject.
	MaxTokens int `mapstructure:"max_tokens"`
	// DefaultMaxTokens is sent when the client set no max tokens and the
	// upstream needs one (Anthropic requires it). 0: the dialect's own
	// default. At most MaxTokens when both are set.
	DefaultMaxTokens int `mapstructure:"default_max_tokens"`
	// MaxRetries overrides [retry] max_retries for this route (nil: use
	// it; 0: no retries, go straight to the next route).
	MaxRetries *int `mapstructure:"max_retries"`
	// Headers are extra request headers for this route; they win over the
	// provider's headers. Names are kept as written.
	Headers map[string]string `mapstructure:"headers"`
	// Body holds extra top-level fields merged into the upstream request
	// body, winning over what the gateway produced: OpenRouter provider
	// routing ({provider = {order = ["anthropic"], allow_fallbacks =
	// false}}), reasoning switches, vendor options. Keys are kept as
	// written; "model", "messages", "contents", "stream" and
	// "stream_options" cannot be set.
	Body map[string]any `mapstructure:"body"`
}

// For returns the timeouts of an attempt on route r: t with each of r's
// non-zero overrides applied (r.Timeout replaces Total).
func (t Timeouts) For(r Route) Timeouts {
	if r.ConnectTimeout > 0 {
		t.Connect = r.ConnectTimeout
	}
	if r.FirstByteTimeout > 0 {
		t.FirstByte = r.FirstByteTimeout
	}
	if r.IdleTimeout > 0 {
		t.Idle = r.IdleTimeout
	}
	if r.Timeout > 0 {
		t.Total = r.Timeout
	}
	return t
}

// Model returns the logical model named name (an exact, case-sensitive
// match). It does not resolve "PROVIDER/UPSTREAM_MODEL" names; the gateway
// does.
func (c *Config) Model(name string) (*Model, bool) {
	for i := range c.Models {
		if c.Models[i].Name == name {
			return &c.Models[i], true
		}
	}
	return nil, false
}
