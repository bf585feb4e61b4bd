package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/sse"
)

// ClientOptions configures a Client.
type ClientOptions struct {
	// Name is the provider's configured name ("anthropic", "clewdr"); it
	// appears in errors and logs.
	Name string
	// BaseURL is the upstream host plus an optional path prefix:
	// https://api.anthropic.com, http://127.0.0.1:8484, or
	// http://127.0.0.1:8484/code for Clewdr's Claude Code endpoint. A
	// trailing "/" and a trailing "/v1" are ignored; the client appends
	// /v1/messages and /v1/messages/count_tokens.
	BaseURL string
	// APIKey is sent in the header AuthHeader names. It is never logged.
	APIKey string
	// Version is the anthropic-version sent when the client request did
	// not come in this dialect with its own; default "2023-06-01".
	Version string
	// AuthHeader is "x-api-key" (default) or "bearer" (Authorization:
	// Bearer <key>).
	AuthHeader string
	// Headers are extra headers sent with every request, after the
	// client's own and before the route's (llm.Call.Headers).
	Headers map[string]string
	// HTTPClient sends the requests; default http.DefaultClient. Leave its
	// Timeout at 0: streams last as long as the model writes, and the
	// request's context bounds them.
	HTTPClient *http.Client
	// Logger receives debug lines about upstream calls; default discards.
	Logger *slog.Logger
}

// Client calls an Anthropic Messages upstream. It satisfies
// gateway.Provider and gateway.TokenCounter structurally and is safe for
// concurrent use.
type Client struct {
	name    string
	base    string
	key     string
	version string
	bearer  bool
	headers map[string]string
	http    *http.Client
	log     *slog.Logger
}

// NewClient returns a Client for o.
func NewClient(o ClientOptions) *Client {
	base := strings.TrimRight(o.BaseURL, "/")
	base = strings.TrimSuffix(base, "/v1")
	c := &Client{
		name:    o.Name,
		base:    base,
		key:     o.APIKey,
		version: o.Version,
		bearer:  strings.EqualFold(o.AuthHeader, "bearer") || strings.EqualFold(o.AuthHeader, "authorization"),
		headers: o.Headers,
		http:    o.HTTPClient,
		log:     o.Logger,
	}
	if c.name == "" {
		c.name = "anthropic"
	}
	if c.version == "" {
		c.version = DefaultVersion
	}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c
}

// Redact removes the provider's API key from s (upstream error messages
// sometimes echo it); see gateway.Redactor.
func (c *Client) Redact(s string) string {
	if c.key == "" || len(c.key) < 8 {
		return s
	}
	return strings.ReplaceAll(s, c.key, "[REDACTED]")
}

// Name returns the provider's configured name.
func (c *Client) Name() string { return c.name }

// versionFor returns the anthropic-version to send: the client's when it
// spoke this dialect and sent one, else the configured one.
func (c *Client) versionFor(req *llm.Request) string {
	if v := req.NativeHeader(llm.DialectAnthropic, "Anthropic-Version"); v != "" {
		return v
	}
	return c.version
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// maxJSONBody bounds a non-streamed answer.
const maxJSONBody = 64 << 20

// Stream sends the call to /v1/messages and returns its event stream. An
// error status is returned as an *llm.Error (DecodeError, with RetryAfter
// from the retry-after header); a transport failure as llm.FromTransport's;
// so is a stream that fails before its first event (an "event: error"
// right after the 200, an empty body): the first event is read before
// Stream returns. A JSON answer (an upstream that does not stream) is
// replayed as events. Cancelling ctx aborts the upstream request.
func (c *Client) Stream(ctx context.Context, call *llm.Call) (llm.Stream, error) {
	version := c.versionFor(call.Request)
	body, err := EncodeMessagesRequest(call, version)
	if err != nil {
		return nil, err
	}
	resp, err := c.post(ctx, "/v1/messages", body, version, call)
	if err != nil {
		return nil, err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "application/json" {
		defer resp.Body.Close()
		data, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONBody))
		if err != nil {
			return nil, llm.FromTransport(ctx, c.name, err)
		}
		r, err := DecodeMessagesResponse(data)
		if err != nil {
			e := llm.AsError(err)
			if e.Provider == "" {
				e.Provider = c.name
			}
			return nil, e
		}
		return llm.Events(llm.ResponseEvents(r)...), nil
	}
	d := newMessagesStreamDecoder(ctx, resp.Body, c.name)
	if !d.prime() {
		d.Close()
		return nil, d.Err()
	}
	return d, nil
}

// CountTokens asks /v1/messages/count_tokens for the call's input tokens.
// An upstream without the endpoint (404 or 405, as Clewdr's claude.ai face)
// gives an *llm.Error with Code "count_tokens_unsupported", so that the
// caller can count locally instead.
func (c *Client) CountTokens(ctx context.Context, call *llm.Call) (int64, error) {
	version := c.versionFor(call.Request)
	body, err := encodeCountTokensRequest(call, version)
	if err != nil {
		return 0, err
	}
	resp, err := c.post(ctx, "/v1/messages/count_tokens", body, version, call)
	if err != nil {
		var e *llm.Error
		if errors.As(err, &e) && (e.UpstreamStatus == http.StatusNotFound || e.UpstreamStatus == http.StatusMethodNotAllowed) {
			return 0, &llm.Error{Kind: llm.KindOther, Status: http.StatusNotFound, Code: "count_tokens_unsupported",
				Provider: c.name, UpstreamStatus: e.UpstreamStatus, UpstreamType: e.UpstreamType,
				Message: "upstream does not support count_tokens", Err: e}
		}
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return 0, llm.FromTransport(ctx, c.name, err)
	}
	var w struct {
		InputTokens *int64 `json:"input_tokens"`
	}
	if json.Unmarshal(data, &w) != nil || w.InputTokens == nil {
		return 0, &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway, Provider: c.name,
			UpstreamStatus: resp.StatusCode, Message: "malformed count_tokens answer from upstream"}
	}
	return *w.InputTokens, nil
}

// post sends body and returns a 2xx response with content; anything else
// is an *llm.Error. The headers are the official SDKs' (Accept:
// application/json also for streams).
func (c *Client) post(ctx context.Context, path string, body []byte, version string, call *llm.Call) (*http.Response, error) {
	url := c.base + path
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusInternalServerError,
			Provider: c.name, Message: "cannot build upstream request: " + err.Error(), Err: err}
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("Anthropic-Version", version)
	if beta := call.Request.NativeHeader(llm.DialectAnthropic, "Anthropic-Beta"); beta != "" {
		h.Set("Anthropic-Beta", beta)
	}
	if c.key != "" {
		if c.bearer {
			h.Set("Authorization", "Bearer "+c.key)
		} else {
			h.Set("X-Api-Key", c.key)
		}
	}
	for k, v := range c.headers {
		h.Set(k, v)
	}
	for k, v := range call.Headers {
		h.Set(k, v)
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.DebugContext(ctx, "anthropic upstream request failed", "provider", c.name, "url", url, "err", err)
		return nil, llm.FromTransport(ctx, c.name, err)
	}
	c.log.DebugContext(ctx, "anthropic upstream response", "provider", c.name, "url", url,
		"model", call.Model, "status", resp.StatusCode, "version", version, "elapsed", time.Since(start))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 && resp.StatusCode != http.StatusNoContent {
		return resp, nil
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
	e := DecodeError(c.name, resp.StatusCode, data)
	if d, err := sse.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); err == nil && d > 0 {
		e.RetryAfter = d
	}
	return nil, e
}
