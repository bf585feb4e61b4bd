package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/anthropic"
	"github.com/rickyjim626/xjp/internal/demo"
	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/ingress"
	"github.com/rickyjim626/xjp/internal/openai"
	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/vertex"
)

// upstreamTransport is the HTTP transport for one provider: bounded
// connect and TLS handshake, a deep idle pool for concurrent streams, and no
// overall timeout (the gateway bounds each attempt itself).
func upstreamTransport(connect time.Duration) *http.Transport {
	if connect <= 0 {
		connect = 10 * time.Second
	}
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		// A route's connect timeout, when set, replaces the default.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if t, ok := gateway.ConnectTimeout(ctx); ok {
				rd := *d
				rd.Timeout = t
				return rd.DialContext(ctx, network, addr)
			}
			return d.DialContext(ctx, network, addr)
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   connect,
		ExpectContinueTimeout: time.Second,
	}
}

// buildProviders makes a client for every configured provider. wrap, when
// not nil, wraps each provider's HTTP transport (tracing.transport: a span
// per upstream call).
func buildProviders(ctx context.Context, cfg *config.Config, getenv func(string) string, log *slog.Logger, wrap func(http.RoundTripper) http.RoundTripper) (map[string]gateway.Provider, error) {
	out := make(map[string]gateway.Provider, len(cfg.Providers))
	names := make([]string, 0, len(cfg.Providers))
	for n := range cfg.Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		p := cfg.Providers[name]
		var rt http.RoundTripper = upstreamTransport(cfg.Timeouts.Connect)
		if wrap != nil {
			rt = wrap(rt)
		}
		hc := &http.Client{Transport: rt}
		plog := log.With("provider", name)
		switch p.Kind {
		case "openai":
			out[name] = openai.NewClient(openai.ClientOptions{
				Name: name, BaseURL: p.BaseURL, APIKey: p.Key(getenv), Headers: p.Headers, HTTPClient: hc, Logger: plog,
			})
		case "anthropic":
			out[name] = anthropic.NewClient(anthropic.ClientOptions{
				Name: name, BaseURL: p.BaseURL, APIKey: p.Key(getenv), Version: p.AnthropicVersion,
				AuthHeader: p.AuthHeader, Headers: p.Headers, HTTPClient: hc, Logger: plog,
			})
		case "vertex":
			c, err := vertex.NewClient(ctx, vertex.ClientOptions{
				Name: name, API: p.API, Project: p.Project, Region: p.Region, APIKey: p.Key(getenv),
				CredentialsFile: p.CredentialsFile, BaseURL: p.BaseURL, HTTPClient: hc, Logger: plog,
				AllowPrivateMedia: p.AllowPrivateMedia,
			})
			if err != nil {
				return nil, fmt.Errorf("provider %q: %w", name, err)
			}
			out[name] = c
		case "demo":
			out[name] = demo.New(demo.Options{Name: name, Delay: cfg.Demo.Delay})
		default:
			return nil, fmt.Errorf("provider %q: unknown kind %q", name, p.Kind)
		}
	}
	return out, nil
}

// buildTable turns the configured models into the gateway's routing table.
func buildTable(cfg *config.Config, providers map[string]gateway.Provider) (*gateway.Table, error) {
	models := make([]*gateway.Model, 0, len(cfg.Models))
	for _, m := range cfg.Models {
		gm := &gateway.Model{Name: m.Name, Description: m.Description}
		if m.Price != nil {
			gm.Price = &gateway.Price{
				InputPerMTok: m.Price.InputPerMTok, OutputPerMTok: m.Price.OutputPerMTok,
				CacheReadPerMTok: m.Price.CacheReadPerMTok, CacheWritePerMTok: m.Price.CacheWritePerMTok,
			}
		}
		for i, r := range m.Routes {
			p, ok := providers[r.Provider]
			if !ok {
				return nil, fmt.Errorf("models %q route %d: unknown provider %q", m.Name, i, r.Provider)
			}
			t := cfg.Timeouts.For(r)
			gr := &gateway.Route{
				Provider: p, Model: r.Model, Priority: r.Priority, Weight: r.Weight,
				Timeouts:  gateway.Timeouts{Connect: t.Connect, FirstByte: t.FirstByte, Idle: t.Idle, Total: t.Total},
				MaxTokens: r.MaxTokens, DefaultMaxTokens: r.DefaultMaxTokens, MaxRetries: -1, Headers: r.Headers,
			}
			if r.MaxRetries != nil {
				gr.MaxRetries = *r.MaxRetries
			}
			if len(r.Body) > 0 {
				gr.Body = make(map[string]json.RawMessage, len(r.Body))
				for k, v := range r.Body {
					b, err := json.Marshal(v)
					if err != nil {
						return nil, fmt.Errorf("models %q route %d body.%s: %w", m.Name, i, k, err)
					}
					gr.Body[k] = b
				}
			}
			gm.Routes = append(gm.Routes, gr)
		}
		models = append(models, gm)
	}
	return gateway.NewTable(models, providers), nil
}

// keyLookup adapts the store's key verification to the ingress, filling
// in the server's default limits.
func keyLookup(st *store.Store, limits func() config.Limits) ingress.KeyLookup {
	return func(ctx context.Context, secret string) (*ingress.Key, error) {
		k, err := st.VerifyKey(ctx, secret)
		if errors.Is(err, store.ErrKeyNotFound) {
			return nil, ingress.ErrUnknownKey
		}
		if err != nil {
			return nil, err
		}
		l := limits()
		ik := &ingress.Key{
			ID: k.ID, Name: k.Name, Prefix: k.Prefix, Tenant: k.Tenant, Allows: k.Allows,
			RPM: l.DefaultRPM, Burst: l.DefaultBurst, DailyTokens: l.DefaultDailyTokens, Enabled: k.Enabled,
		}
		if k.RPM != nil {
			ik.RPM = *k.RPM
		}
		if k.Burst != nil {
			ik.Burst = *k.Burst
		}
		if k.DailyTokens != nil {
			ik.DailyTokens = *k.DailyTokens
		}
		if k.ExpiresAt != nil {
			ik.ExpiresAt = *k.ExpiresAt
		}
		return ik, nil
	}
}

// newLogger builds the server's logger: text on a terminal, JSON otherwise
// (log.format), with secrets redacted from every attribute (redactAttr) and
// the values in sec masked wherever they appear (sec may be nil).
func newLogger(w io.Writer, tty bool, c config.Log, sec *secrets) *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.Level)); err != nil {
		lvl = slog.LevelInfo
	}
	ho := &slog.HandlerOptions{Level: lvl, ReplaceAttr: sec.replaceAttr}
	format := c.Format
	if format == "" || format == "auto" {
		format = "json"
		if tty {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, ho))
	}
	return slog.New(slog.NewJSONHandler(w, ho))
}

// secrets are exact values the logger masks wherever they appear: the
// provider keys and the admin token, which an upstream error message may
// echo in any shape. A config reload replaces them. The zero value and nil
// mask nothing beyond redactAttr.
type secrets struct {
	v atomic.Pointer[[]string]
}

// minSecretLen keeps short values (a test key "x") from masking prose.
const minSecretLen = 8

// set replaces the values to mask.
func (s *secrets) set(values ...string) {
	var keep []string
	for _, v := range values {
		if len(v) >= minSecretLen && !slices.Contains(keep, v) {
			keep = append(keep, v)
		}
	}
	s.v.Store(&keep)
}

// configSecrets returns the secrets of a config: provider keys and the
// admin token.
func configSecrets(cfg *config.Config, getenv func(string) string, adminToken string) []string {
	out := []string{adminToken, cfg.Admin.Token}
	for _, p := range cfg.Providers {
		out = append(out, p.Key(getenv))
	}
	return out
}

// replaceAttr is the handler's ReplaceAttr: redactAttr, then the known
// secrets masked.
func (s *secrets) replaceAttr(groups []string, a slog.Attr) slog.Attr {
	a = redactAttr(groups, a)
	if s == nil || a.Value.Kind() != slog.KindString {
		return a
	}
	if p := s.v.Load(); p != nil {
		v := a.Value.String()
		masked := false
		for _, sec := range *p {
			if strings.Contains(v, sec) {
				v, masked = strings.ReplaceAll(v, sec, "[REDACTED]"), true
			}
		}
		if masked {
			return slog.String(a.Key, v)
		}
	}
	return a
}

// redactAttr hides secrets in log attributes: anything named like a
// credential, and any value that looks like an xjp key, a bearer token or
// a ?key= parameter. Errors and Stringers are logged as their text, so
// they are redacted too.
func redactAttr(groups []string, a slog.Attr) slog.Attr {
	switch strings.ToLower(a.Key) {
	case "authorization", "x-api-key", "x-goog-api-key", "api_key", "apikey", "api-key", "key_secret",
		"secret", "token", "password", "access_token", "proxy-authorization":
		return slog.String(a.Key, "[REDACTED]")
	}
	if a.Value.Kind() == slog.KindAny {
		switch v := a.Value.Any().(type) {
		case error:
			a = slog.String(a.Key, v.Error())
		case fmt.Stringer:
			a = slog.String(a.Key, v.String())
		}
	}
	if a.Value.Kind() == slog.KindString {
		if s := a.Value.String(); strings.Contains(s, "xjp_") || strings.Contains(s, "Bearer ") || strings.Contains(s, "key=") {
			return slog.String(a.Key, redactString(s))
		}
	}
	return a
}

// redactString masks xjp secrets, bearer tokens and ?key= query values in s.
func redactString(s string) string {
	var b strings.Builder
	for {
		i, n := nextSecret(s)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString("[REDACTED]")
		s = s[i+n:]
	}
}

// nextSecret finds the next secret in s: the start and length of the part
// to mask (the token after "Bearer " or "key=", or a whole xjp_ key).
func nextSecret(s string) (int, int) {
	best, blen := -1, 0
	for _, prefix := range []string{"xjp_", "Bearer ", "key="} {
		for off := 0; off < len(s); {
			i := strings.Index(s[off:], prefix)
			if i < 0 {
				break
			}
			i += off
			j := i + len(prefix)
			for j < len(s) && isTokenByte(s[j]) {
				j++
			}
			start := i + len(prefix) // the token after the prefix
			if prefix == "xjp_" {
				if j-i < 12 { // "xjp_" in prose, not a key
					off = j
					continue
				}
				start = i
			}
			if best < 0 || start < best {
				best, blen = start, j-start
			}
			break
		}
	}
	return best, blen
}

func isTokenByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '~' || c == '+' || c == '/' || c == '='
}
