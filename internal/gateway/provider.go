package gateway

import (
	"context"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Provider sends calls to one upstream. The dialect clients (openai,
// anthropic, vertex) and the demo satisfy it structurally; they never import
// this package.
type Provider interface {
	// Name is the provider's configured name ("openrouter").
	Name() string
	// Stream starts a call. A failure before the first event (an HTTP error
	// status, a refused connection) is returned here as an *llm.Error; a
	// failure after it ends the Stream and comes from its Err. Cancelling
	// ctx aborts the upstream request.
	Stream(ctx context.Context, call *llm.Call) (llm.Stream, error)
}

// Redactor is an optional Provider capability: Redact removes the
// provider's secrets (its API key) from text that may reach a client or a
// log, such as an upstream error message that echoes the key back.
type Redactor interface {
	Redact(s string) string
}

// TokenCounter is an optional Provider capability: exact input token counts
// from the upstream (Anthropic's count_tokens).
type TokenCounter interface {
	CountTokens(ctx context.Context, call *llm.Call) (int64, error)
}
