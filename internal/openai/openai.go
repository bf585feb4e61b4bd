// Package openai is the OpenAI Chat Completions dialect of xjp, in both
// directions.
//
// Ingress face (a client speaks OpenAI to xjp): DecodeChatRequest turns a
// request body into an llm.Request; EncodeChatResponse, ChatStreamEncoder and
// EncodeError render answers, streams and errors on the wire.
//
// Upstream face (xjp calls an OpenAI-compatible API: OpenRouter, OpenAI,
// vLLM, Ollama…): EncodeChatRequest builds the request body,
// ChatStreamDecoder turns the server-sent events into llm events,
// DecodeChatResponse and DecodeError read plain JSON answers, and Client ties
// them to HTTP. Client satisfies gateway.Provider structurally.
//
// The codecs are pure: they do no I/O, read no context and never import
// net/http (Client aside). Everything that runs once per streamed token
// appends JSON by hand and decodes with gjson to stay allocation-light.
//
// Reasoning ("thinking") travels the way OpenRouter and DeepSeek-style
// clients expect it: text in reasoning_content (reasoning on OpenRouter), and
// OpenRouter's reasoning_details entries ({type: "reasoning.text", text,
// signature} and {type: "reasoning.encrypted", data}) so that signatures and
// redacted blocks survive a round trip through an OpenAI-speaking client.
package openai

import (
	"net/url"
	"strings"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Flavor selects the request extensions one OpenAI-compatible upstream
// accepts. The wire format is the same; what differs is how strictly the
// server treats fields it does not know and which extensions it offers.
type Flavor uint8

const (
	// FlavorAuto lets Client pick the flavor from its base URL (see
	// FlavorOf). EncodeChatRequestFlavor treats it as FlavorGeneric.
	FlavorAuto Flavor = iota
	// FlavorGeneric is any OpenAI-compatible server (vLLM, Ollama, DeepSeek,
	// a proxy): max_tokens; reasoning budgets become reasoning_effort;
	// signed thinking goes back as reasoning_details and reasoning_content.
	FlavorGeneric
	// FlavorOpenAI is api.openai.com: max_completion_tokens (its reasoning
	// models refuse max_tokens); no top_k; no reasoning fields on messages
	// (OpenAI rejects unknown message properties and its reasoning is not
	// replayable through Chat Completions).
	FlavorOpenAI
	// FlavorOpenRouter is openrouter.ai: reasoning budgets go in its
	// reasoning object (reasoning.max_tokens), every thinking block goes
	// back as reasoning_details with the format of the model family, and
	// Anthropic cache_control is kept on content parts.
	FlavorOpenRouter
)

// String returns the flavor's name.
func (f Flavor) String() string {
	switch f {
	case FlavorGeneric:
		return "generic"
	case FlavorOpenAI:
		return "openai"
	case FlavorOpenRouter:
		return "openrouter"
	}
	return "auto"
}

// FlavorOf returns the flavor for an upstream base URL: FlavorOpenRouter for
// openrouter.ai, FlavorOpenAI for api.openai.com, FlavorGeneric otherwise.
func FlavorOf(baseURL string) Flavor {
	u, err := url.Parse(baseURL)
	if err != nil {
		return FlavorGeneric
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "openrouter.ai" || strings.HasSuffix(host, ".openrouter.ai"):
		return FlavorOpenRouter
	case host == "api.openai.com":
		return FlavorOpenAI
	}
	return FlavorGeneric
}

// finishString maps a neutral finish reason to OpenAI's finish_reason.
func finishString(r llm.FinishReason) string {
	switch r {
	case llm.FinishLength:
		return "length"
	case llm.FinishToolCalls:
		return "tool_calls"
	case llm.FinishContentFilter, llm.FinishRefusal:
		return "content_filter"
	}
	// stop, stop_sequence, pause_turn and unknown values.
	return "stop"
}

// parseFinish maps an upstream finish_reason to a neutral one. ok is false
// for OpenRouter's "error", which is not a finish but a failure.
func parseFinish(s string) (r llm.FinishReason, ok bool) {
	switch s {
	case "stop", "end_turn", "eos", "stop_sequence", "STOP":
		return llm.FinishStop, true
	case "length", "max_tokens", "MAX_TOKENS":
		return llm.FinishLength, true
	case "tool_calls", "function_call", "tool_use":
		return llm.FinishToolCalls, true
	case "content_filter", "SAFETY":
		return llm.FinishContentFilter, true
	case "error":
		return "", false
	}
	return llm.FinishStop, true
}

// reasoningFormat guesses OpenRouter's reasoning_details format from an
// upstream model id: signatures and encrypted reasoning are bound to the
// model family that produced them, and OpenRouter routes them by format.
func reasoningFormat(model string) string {
	vendor, _, ok := strings.Cut(model, "/")
	if !ok {
		return ""
	}
	switch vendor {
	case "anthropic":
		return "anthropic-claude-v1"
	case "google":
		return "google-gemini-v1"
	case "openai":
		return "openai-responses-v1"
	case "x-ai":
		return "xai-responses-v1"
	}
	return ""
}

const geminiReasoningFormat = "google-gemini-v1"
