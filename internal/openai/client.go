package openai

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/sse"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// Name is the provider's configured name ("openrouter"); it labels
	// errors and logs.
	Name string
	// BaseURL includes the API version path, e.g.
	// "https://openrouter.ai/api/v1"; a trailing slash is ignored. Requests
	// go to BaseURL + "/chat/completions".
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <key>" when set. It is never
	// logged.
	APIKey string
	// Headers are sent with every request (OpenRouter attribution:
	// HTTP-Referer, X-Title). A call's own headers are set after them.
	Headers map[string]string
	// HTTPClient defaults to http.DefaultClient. It should have no overall
	// timeout: streams last as long as the model writes.
	HTTPClient *http.Client
	// Logger receives debug lines about upstream requests; nil discards.
	Logger *slog.Logger
	// Flavor selects the request extensions the upstream accepts;
	// FlavorAuto (the zero value) derives it from BaseURL with FlavorOf.
	Flavor Flavor
}

// Client calls an OpenAI-compatible Chat Completions API. It satisfies
// gateway.Provider structurally. It is safe for concurrent use.
type Client struct {
	name    string
	url     string
	apiKey  string
	headers map[string]string
	hc      *http.Client
	log     *slog.Logger
	flavor  Flavor
}

// maxErrorBody bounds how much of a non-2xx body is read.
const maxErrorBody = 1 << 20

// maxJSONBody bounds a whole JSON answer from an upstream that did not
// stream.
const maxJSONBody = 64 << 20

// NewClient returns a Client for o.
func NewClient(o ClientOptions) *Client {
	c := &Client{
		name:    o.Name,
		url:     strings.TrimRight(o.BaseURL, "/") + "/chat/completions",
		apiKey:  o.APIKey,
		headers: o.Headers,
		hc:      o.HTTPClient,
		log:     o.Logger,
		flavor:  o.Flavor,
	}
	if c.hc == nil {
		c.hc = http.DefaultClient
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.flavor == FlavorAuto {
		c.flavor = FlavorOf(o.BaseURL)
	}
	return c
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

// Stream sends call upstream and returns its answer as a stream.
//
// Failures before the first event are returned here as *llm.Error: an
// encoding refusal (400), a transport error (llm.FromTransport), a non-2xx
// status (DecodeError, with RetryAfter from the Retry-After header), and an
// error frame or an empty body before any chunk. A 2xx application/json
// answer is decoded whole and replayed as events. Cancelling ctx aborts the
// upstream request; so does closing the stream.
func (c *Client) Stream(ctx context.Context, call *llm.Call) (llm.Stream, error) {
	body, err := EncodeChatRequestFlavor(call, c.flavor)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusInternalServerError, Provider: c.name,
			Message: "cannot build upstream request: " + err.Error(), Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if call.Request.Stream {
		req.Header.Set("Accept", "text/event-stream")
	} else {
		req.Header.Set("Accept", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	for k, v := range call.Headers {
		req.Header.Set(k, v)
	}

	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		e := llm.FromTransport(ctx, c.name, err)
		c.log.DebugContext(ctx, "upstream request failed", "provider", c.name, "model", call.Model, "kind", e.Kind, "error", e.Message)
		return nil, e
	}
	c.log.DebugContext(ctx, "upstream response", "provider", c.name, "model", call.Model,
		"status", resp.StatusCode, "elapsed", time.Since(start))

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		e := DecodeError(c.name, resp.StatusCode, b)
		if ra, err := sse.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); err == nil && ra > 0 {
			e.RetryAfter = ra
		}
		return nil, e
	}

	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/json" {
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONBody))
		resp.Body.Close()
		if err != nil {
			return nil, llm.FromTransport(ctx, c.name, err)
		}
		r, err := DecodeChatResponse(b)
		if err != nil {
			e := llm.AsError(err)
			e.Provider = c.name
			return nil, e
		}
		return llm.Events(llm.ResponseEvents(r)...), nil
	}

	d := newChatStreamDecoder(ctx, resp.Body, c.name)
	if err := d.prime(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}
