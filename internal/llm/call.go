package llm

import "encoding/json"

// Call is one attempt against one upstream: the request (a clone the
// attempt owns) and what the route says about sending it.
type Call struct {
	Request *Request
	// Model is the upstream model id (may contain "/": "openai/gpt-4o").
	Model string
	// MaxTokensCap clamps the request's max tokens (0: no clamp).
	MaxTokensCap int
	// DefaultMaxTokens is used when the client set none and the upstream
	// needs a value (Anthropic requires max_tokens).
	DefaultMaxTokens int
	// Body holds extra top-level fields merged into the upstream request
	// body, verbatim (OpenRouter "provider" routing, vendor switches). They
	// win over fields of the same name the codec produced.
	Body map[string]json.RawMessage
	// Headers are extra request headers for this route.
	Headers map[string]string
}

// MaxTokens returns the max tokens to send: the request's, defaulted and
// clamped per the route. 0 means send none.
func (c *Call) MaxTokens() int {
	n := c.Request.MaxTokens
	if n == 0 {
		n = c.DefaultMaxTokens
	}
	if c.MaxTokensCap > 0 && n > c.MaxTokensCap {
		n = c.MaxTokensCap
	}
	return n
}
