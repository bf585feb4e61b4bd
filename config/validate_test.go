package config

import (
	"errors"
	"strings"
	"testing"
)

// TestBadConfigs loads each bad configuration and compares the error with
// testdata/errors/NAME.golden.
func TestBadConfigs(t *testing.T) {
	tests := []struct {
		name string
		file string
		env  map[string]string
	}{
		{"syntax-toml", "testdata/errors/syntax.toml", nil},
		{"syntax-yaml", "testdata/errors/syntax.yaml", nil},
		{"types-toml", "testdata/errors/types.toml", nil},
		{"types-yaml", "testdata/errors/types.yaml", nil},
		{"unknown-keys", "testdata/errors/unknown-keys.toml", nil},
		{"sections", "testdata/errors/sections.toml", nil},
		{"store", "testdata/errors/store.toml", nil},
		{"sqlite-with-postgres-url", "testdata/errors/sqlite-with-postgres-url.toml", nil},
		{"providers", "testdata/errors/providers.toml", nil},
		{"models", "testdata/errors/models.toml", map[string]string{"OPENROUTER_API_KEY": "x"}},
		{"demo-disabled", "testdata/errors/demo-disabled.toml", nil},
		{"extension", "testdata/errors/config.json", nil},
		{"env-values", "testdata/env-file.toml", map[string]string{
			"XJP_SERVER_LISTEN":       "nope",
			"XJP_LOG_LEVEL":           "loud",
			"XJP_SERVER_CORS_ORIGINS": "https://ok.example,ftp://bad.example",
			"XJP_STORE_DRIVER":        "postgres",
			"XJP_STORE_DSN":           "/var/lib/xjp/xjp.db",
		}},
		{"env-types", "", map[string]string{
			"XJP_LIMITS_DEFAULT_RPM": "abc",
			"XJP_RETRY_BASE_BACKOFF": "5",
			"XJP_DEMO_ENABLED":       "maybe",
		}},
		{"env-providers", "", map[string]string{
			"CLEWDR_BASE_URL": "127.0.0.1:8484",
			"VERTEX_PROJECT":  "p",
			"VERTEX_REGION":   "Europe West",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(LoadOptions{File: tt.file, Getenv: env(tt.env)})
			if err == nil {
				t.Fatal("Load succeeded, want errors")
			}
			golden(t, "errors/"+tt.name+".golden", err.Error()+"\n")
		})
	}
}

func TestErrorsNeverShowSecrets(t *testing.T) {
	for _, file := range []string{"testdata/errors/providers.toml", "testdata/errors/sections.toml", "testdata/errors/sqlite-with-postgres-url.toml"} {
		_, err := Load(LoadOptions{File: file, Getenv: env(nil)})
		if err == nil {
			t.Fatalf("%s: no error", file)
		}
		for _, secret := range []string{"sk-or-v1-0123456789abcdef", "hunter2", "secret", "user:pass"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("%s: error shows %q:\n%v", file, secret, err)
			}
		}
	}
}

func TestErrorType(t *testing.T) {
	_, err := Load(LoadOptions{File: "testdata/errors/models.toml", Getenv: env(nil)})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("%v is not an *Error", err)
	}
	if e.Source != "testdata/errors/models.toml" || e.Key != "models[1].routes[0].provider" ||
		e.Problem != `unknown provider "clewd" (known: demo, openrouter)` {
		t.Errorf("first error = %#v", e)
	}
}

func TestValidateAfterChanges(t *testing.T) {
	c := mustLoad(t, "", nil)
	c.Server.Listen = "bad"
	err := c.Validate()
	if err == nil || err.Error() != `server.listen: "bad" is not host:port (such as "127.0.0.1:8080" or ":8080")` {
		t.Errorf("Validate() = %v", err)
	}
}

func TestWarnings(t *testing.T) {
	c := mustLoad(t, "testdata/warnings.toml", map[string]string{"SET_KEY": "x"})
	golden(t, "warnings.golden", strings.Join(c.Warnings(), "\n")+"\n")
}
