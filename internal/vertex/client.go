package vertex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/sse"
)

// CloudPlatformScope is the OAuth2 scope Vertex AI needs.
const CloudPlatformScope = "https://www.googleapis.com/auth/cloud-platform"

// Defaults.
const (
	DefaultRegion             = "us-central1"
	DefaultMaxMediaBytes      = 20 << 20
	DefaultTokenRefreshMargin = 5 * time.Minute
	maxErrorBody              = 1 << 20
)

// ClientOptions configures a Client. Authentication is chosen from what is
// set, in this order: APIKey (header x-goog-api-key), TokenSource,
// CredentialsFile, then Application Default Credentials
// (GOOGLE_APPLICATION_CREDENTIALS, gcloud's file, the metadata server).
type ClientOptions struct {
	// Name is the provider's configured name, used in errors and logs.
	Name string
	// API is "vertex" (default: Vertex AI) or "gemini" (AI Studio,
	// generativelanguage.googleapis.com/v1beta, API key only).
	API string
	// Project and Region locate Vertex AI models. Region defaults to
	// "us-central1"; "global" uses https://aiplatform.googleapis.com. With
	// an APIKey and no Project, Vertex is used in express mode
	// (https://aiplatform.googleapis.com/v1/publishers/google/models/…).
	// With OAuth credentials Project defaults to the credentials' project.
	Project, Region string
	// APIKey is a Vertex express-mode / Vertex API key, or an AI Studio key.
	APIKey string
	// CredentialsFile is a service-account (or other Google credentials)
	// JSON file, used with scope cloud-platform.
	CredentialsFile string
	// BaseURL overrides scheme and host (and may add a path prefix) of every
	// endpoint, for tests and proxies.
	BaseURL string
	// TokenSource supplies OAuth2 tokens directly (tests, custom auth).
	TokenSource oauth2.TokenSource
	// TokenRefreshMargin is how long before expiry a cached token is
	// refreshed; default 5 minutes.
	TokenRefreshMargin time.Duration
	// HTTPClient sends upstream requests and fetches media; default a
	// client without a timeout (streams are long; ctx bounds them).
	HTTPClient *http.Client
	// MaxMediaBytes caps media fetched from http(s) URLs; default 20 MiB.
	MaxMediaBytes int64
	// AllowPrivateMedia lets media URLs point at loopback, private,
	// link-local and other non-public addresses. Off by default: a client
	// could otherwise make the gateway fetch internal services or cloud
	// metadata (SSRF). Tests and trusted single-user setups turn it on.
	AllowPrivateMedia bool
	// Logger gets debug lines per request (never keys or tokens).
	Logger *slog.Logger
}

// Client sends calls to Gemini on Vertex AI or AI Studio. It satisfies
// gateway.Provider structurally and is safe for concurrent use.
type Client struct {
	name     string
	api      string
	project  string
	region   string
	base     string // scheme://host[/prefix], no trailing slash
	express  bool
	apiKey   string
	ts       oauth2.TokenSource
	hc       *http.Client
	media    *http.Client // fetches media URLs, public addresses only
	maxMedia int64
	log      *slog.Logger
}

// NewClient builds a Client. ctx is used for credential discovery and, with
// its cancellation removed, for token refreshes later.
func NewClient(ctx context.Context, o ClientOptions) (*Client, error) {
	c := &Client{
		name:     o.Name,
		api:      strings.ToLower(strings.TrimSpace(o.API)),
		project:  o.Project,
		region:   o.Region,
		apiKey:   o.APIKey,
		hc:       o.HTTPClient,
		maxMedia: o.MaxMediaBytes,
		log:      o.Logger,
	}
	if c.name == "" {
		c.name = "vertex"
	}
	if c.api == "" {
		c.api = APIVertex
	}
	if c.api != APIVertex && c.api != APIGemini {
		return nil, fmt.Errorf("provider %q: api must be %q or %q, not %q", c.name, APIVertex, APIGemini, o.API)
	}
	if c.region == "" {
		c.region = DefaultRegion
	}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.maxMedia <= 0 {
		c.maxMedia = DefaultMaxMediaBytes
	}
	c.media = mediaClient(o.HTTPClient, o.AllowPrivateMedia)
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	margin := o.TokenRefreshMargin
	if margin <= 0 {
		margin = DefaultTokenRefreshMargin
	}
	tokenCtx := context.WithoutCancel(ctx)
	if o.HTTPClient != nil {
		tokenCtx = context.WithValue(tokenCtx, oauth2.HTTPClient, o.HTTPClient)
	}

	switch {
	case c.apiKey != "":
		c.express = c.api == APIVertex && c.project == ""
	case c.api == APIGemini:
		return nil, fmt.Errorf("provider %q: the gemini api (AI Studio) needs an api key: set api_key_env (e.g. VERTEX_API_KEY or GEMINI_API_KEY)", c.name)
	case o.TokenSource != nil:
		c.ts = oauth2.ReuseTokenSourceWithExpiry(nil, o.TokenSource, margin)
	case o.CredentialsFile != "":
		b, err := os.ReadFile(o.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("provider %q: read credentials_file: %w", c.name, err)
		}
		ts, project, err := tokenSourceFromJSON(tokenCtx, b, margin)
		if err != nil {
			return nil, fmt.Errorf("provider %q: credentials_file %s: %w", c.name, o.CredentialsFile, err)
		}
		c.ts = ts
		if c.project == "" {
			c.project = project
		}
	default:
		creds, err := google.FindDefaultCredentialsWithParams(tokenCtx, google.CredentialsParams{
			Scopes:            []string{CloudPlatformScope},
			EarlyTokenRefresh: margin, // applies to metadata-server tokens
		})
		if err != nil {
			return nil, fmt.Errorf("provider %q has no credentials: set VERTEX_API_KEY (api_key_env), credentials_file, or GOOGLE_APPLICATION_CREDENTIALS for application default credentials (%v)", c.name, err)
		}
		c.ts = oauth2.ReuseTokenSourceWithExpiry(nil, creds.TokenSource, margin)
		if len(creds.JSON) > 0 {
			if ts, _, err := tokenSourceFromJSON(tokenCtx, creds.JSON, margin); err == nil {
				c.ts = ts
			}
		}
		if c.project == "" {
			c.project = creds.ProjectID
		}
	}
	if c.api == APIVertex && !c.express && c.project == "" {
		return nil, fmt.Errorf("provider %q: vertex needs a project: set project (VERTEX_PROJECT)", c.name)
	}
	if o.BaseURL != "" {
		u, err := url.Parse(o.BaseURL)
		if err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("provider %q: base_url %q is not an absolute url", c.name, o.BaseURL)
		}
		c.base = strings.TrimRight(o.BaseURL, "/")
	}
	return c, nil
}

// tokenSourceFromJSON builds a cached token source from credentials JSON.
// A service account goes through its JWT config so that the refresh margin
// applies (the token source of google.Credentials refreshes only 10 s before
// expiry, whatever is wrapped around it); other credential types use
// google.CredentialsFromJSONWithType with their declared type.
func tokenSourceFromJSON(ctx context.Context, b []byte, margin time.Duration) (oauth2.TokenSource, string, error) {
	var f struct {
		Type      string `json:"type"`
		ProjectID string `json:"project_id"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, "", fmt.Errorf("not a credentials json file: %w", err)
	}
	if f.Type == string(google.ServiceAccount) {
		cfg, err := google.JWTConfigFromJSON(b, CloudPlatformScope)
		if err != nil {
			return nil, "", err
		}
		return oauth2.ReuseTokenSourceWithExpiry(nil, cfg.TokenSource(ctx), margin), f.ProjectID, nil
	}
	creds, err := google.CredentialsFromJSONWithType(ctx, b, google.CredentialsType(f.Type), CloudPlatformScope)
	if err != nil {
		return nil, "", err
	}
	return oauth2.ReuseTokenSourceWithExpiry(nil, creds.TokenSource, margin), creds.ProjectID, nil
}

// Redact removes the provider's API key from s (upstream error messages
// sometimes echo it); see gateway.Redactor.
func (c *Client) Redact(s string) string {
	if c.apiKey == "" || len(c.apiKey) < 8 {
		return s
	}
	return strings.ReplaceAll(s, c.apiKey, "[REDACTED]")
}

// Name returns the provider's configured name.
func (c *Client) Name() string { return c.name }

// URL returns the streamGenerateContent URL for model (with ?alt=sse).
func (c *Client) URL(model string) string { return c.url(model, true) }

// url returns the streamGenerateContent (?alt=sse) or generateContent URL.
func (c *Client) url(model string, stream bool) string {
	m := NormalizeModel(model)
	method := ":streamGenerateContent?alt=sse"
	if !stream {
		method = ":generateContent"
	}
	if c.api == APIGemini {
		return c.host("https://generativelanguage.googleapis.com") + "/v1beta/models/" + url.PathEscape(m) + method
	}
	if strings.HasPrefix(m, "projects/") {
		return c.host(c.regionalHost()) + "/v1/" + escapePath(m) + method
	}
	if c.express {
		return c.host("https://aiplatform.googleapis.com") + "/v1/publishers/google/models/" + url.PathEscape(m) + method
	}
	return c.host(c.regionalHost()) + "/v1/projects/" + url.PathEscape(c.project) + "/locations/" + url.PathEscape(c.region) +
		"/publishers/google/models/" + url.PathEscape(m) + method
}

func (c *Client) regionalHost() string {
	if c.region == "global" {
		return "https://aiplatform.googleapis.com"
	}
	return "https://" + c.region + "-aiplatform.googleapis.com"
}

func (c *Client) host(def string) string {
	if c.base != "" {
		return c.base
	}
	return def
}

func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// maxResponseBody bounds a non-streamed answer (inline images can be big).
const maxResponseBody = 64 << 20

// Stream sends call to streamGenerateContent?alt=sse, or to generateContent
// when the client does not stream. Media given by http(s)
// URL (other than YouTube) is fetched first and inlined. A failure before
// the first event (an HTTP error status, a refused connection, an error or
// blocked prompt, anything before the first content event) is returned here.
func (c *Client) Stream(ctx context.Context, call *llm.Call) (llm.Stream, error) {
	if call == nil || call.Request == nil || NormalizeModel(call.Model) == "" {
		return nil, &llm.Error{Kind: llm.KindGatewayInternal, Status: 500, Provider: c.name, Message: "no upstream model for the gemini call"}
	}
	call, err := c.inlineMedia(ctx, call)
	if err != nil {
		return nil, err
	}
	body, err := EncodeRequest(call, c.api)
	if err != nil {
		return nil, err
	}
	u := c.url(call.Model, call.Request.Stream)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindGatewayInternal, Status: 500, Provider: c.name, Message: "build upstream request: " + err.Error(), Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range call.Headers {
		req.Header.Set(k, v)
	}
	if c.apiKey != "" {
		req.Header.Set("x-goog-api-key", c.apiKey)
	} else {
		tok, err := c.ts.Token()
		if err != nil {
			if ctx.Err() != nil {
				return nil, llm.FromTransport(ctx, c.name, ctx.Err())
			}
			return nil, &llm.Error{Kind: llm.KindProviderAuth, Status: 502, Provider: c.name,
				Message: "cannot get a google access token: " + err.Error(), Err: err}
		}
		tok.SetAuthHeader(req)
	}
	c.log.DebugContext(ctx, "gemini request", "provider", c.name, "url", u, "bytes", len(body))

	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, llm.FromTransport(ctx, c.name, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		if rerr != nil && len(b) == 0 {
			return nil, llm.FromTransport(ctx, c.name, rerr)
		}
		e := DecodeError(c.name, resp.StatusCode, b)
		if e.RetryAfter == 0 {
			if d, err := sse.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); err == nil {
				e.RetryAfter = d
			}
		}
		c.log.DebugContext(ctx, "gemini error", "provider", c.name, "status", resp.StatusCode, "kind", e.Kind)
		return nil, e
	}

	if !call.Request.Stream {
		// A non-streaming client gets a non-streaming upstream call: one
		// GenerateContentResponse, cheaper to relay than a folded stream.
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
		if err != nil {
			return nil, llm.FromTransport(ctx, c.name, err)
		}
		r, err := DecodeResponse(b)
		if err != nil {
			e := llm.AsError(err)
			e.Provider = c.name
			return nil, e
		}
		return llm.Events(llm.ResponseEvents(r)...), nil
	}

	s := &stream{ctx: ctx, dec: NewStreamDecoder(resp.Body, c.name).(*StreamDecoder), log: c.log, name: c.name}
	// Read up to the first content event now, so that a stream that fails
	// before any content (an in-band error, a blocked prompt, an empty or
	// truncated body) is an error of the call: the gateway may still retry or
	// fail over, since nothing has reached the client.
	for s.dec.Next() {
		ev := s.dec.Event()
		s.primed = append(s.primed, ev)
		if ev.Type != llm.EventStart {
			return s, nil
		}
	}
	err = s.Err()
	s.Close()
	if err == nil {
		err = &llm.Error{Kind: llm.KindProviderServer, Status: 502, Provider: c.name, Message: "upstream stream ended early: no events"}
	}
	return nil, err
}

// stream wraps the decoder: it replays the primed first event, classifies
// read failures against the request's context, and logs the raw finish.
type stream struct {
	ctx    context.Context
	dec    *StreamDecoder
	log    *slog.Logger
	name   string
	primed []llm.Event
	cur    llm.Event
	logged bool
}

func (s *stream) Next() bool {
	if len(s.primed) > 0 {
		s.cur, s.primed = s.primed[0], s.primed[1:]
		return true
	}
	ok := s.dec.Next()
	if ok {
		s.cur = s.dec.Event()
	}
	if !ok && !s.logged {
		s.logged = true
		s.log.DebugContext(s.ctx, "gemini stream end", "provider", s.name,
			"finish", describeFinish(s.dec.RawFinishReason(), s.dec.FinishMessage()), "err", s.dec.Err())
	}
	return ok
}

func (s *stream) Event() llm.Event { return s.cur }

// Ready reports whether Next will return without waiting on the upstream.
func (s *stream) Ready() bool { return len(s.primed) > 0 || s.dec.Ready() }

func (s *stream) Err() error {
	err := s.dec.Err()
	if err == nil {
		return nil
	}
	if s.ctx.Err() != nil {
		var le *llm.Error
		if errors.As(err, &le) && le.Err != nil {
			return llm.FromTransport(s.ctx, s.name, le.Err)
		}
	}
	return err
}

func (s *stream) Close() error { return s.dec.Close() }

// RawFinishReason returns Gemini's finishReason for the stream.
func (s *stream) RawFinishReason() string { return s.dec.RawFinishReason() }
