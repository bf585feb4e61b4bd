package config

import (
	"strings"
	"time"
)

// A setting is one scalar key of a section, with its default. Every setting
// can be set from the environment as XJP_<SECTION>_<KEY> (envName).
type setting struct {
	key string // "server.listen"
	def any
}

// settings lists every scalar key of the sections, in documentation order.
// The defaults documented on the fields of Config are these; a test checks
// that every field of every section is listed here and documented in
// docs/config.md and xjp.example.toml.
var settings = []setting{
	{"server.listen", "127.0.0.1:8080"},
	{"server.max_body_bytes", int64(10 << 20)},
	{"server.cors_origins", []string{}},
	{"server.shutdown_grace", 30 * time.Second},

	{"store.driver", "sqlite"},
	{"store.dsn", ""},

	{"redis.url", ""},
	{"redis.prefix", "xjp:"},

	{"limits.default_rpm", 60},
	{"limits.default_burst", 10},
	{"limits.default_daily_tokens", int64(0)},
	{"limits.tenant_daily_tokens", int64(0)},

	{"retry.max_retries", 2},
	{"retry.base_backoff", 250 * time.Millisecond},
	{"retry.max_backoff", 5 * time.Second},

	{"breaker.failure_threshold", 5},
	{"breaker.open_for", 30 * time.Second},
	{"breaker.half_open_successes", 2},

	{"timeouts.connect", 10 * time.Second},
	{"timeouts.first_byte", 60 * time.Second},
	{"timeouts.idle", 60 * time.Second},
	{"timeouts.total", 10 * time.Minute},

	{"log.level", "info"},
	{"log.format", "auto"},
	{"log.bodies", false},

	{"admin.token", ""},

	{"demo.enabled", true},
	{"demo.delay", 30 * time.Millisecond},
}

// envName is the environment variable of a setting key:
// "server.max_body_bytes" → "XJP_SERVER_MAX_BODY_BYTES".
func envName(key string) string {
	return "XJP_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Environment variables read by Load besides the XJP_<SECTION>_<KEY> ones.
const (
	EnvConfig  = "XJP_CONFIG"   // the config file, when --config is not given
	EnvDataDir = "XJP_DATA_DIR" // the data dir, when --data-dir is not given
)
