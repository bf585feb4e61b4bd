// Package anthropic is the Anthropic Messages dialect of xjp, in both
// directions.
//
// Ingress face (a client speaks Messages to xjp, e.g. Claude Code or the
// official SDKs): DecodeMessagesRequest and DecodeCountTokensRequest turn a
// request body into an llm.Request; EncodeMessagesResponse,
// MessagesStreamEncoder, EncodeCountTokensResponse and EncodeError render
// answers, streams and errors on the wire.
//
// Upstream face (xjp calls the Anthropic API or an Anthropic-compatible
// server such as a self-hosted Clewdr): EncodeMessagesRequest builds the
// request body, NewMessagesStreamDecoder turns the server-sent events into
// llm events, DecodeMessagesResponse and DecodeError read plain JSON answers,
// and Client ties them to HTTP. Client satisfies gateway.Provider and
// gateway.TokenCounter structurally.
//
// The codecs are pure: they do no I/O and read no context (Client aside).
// Everything that runs once per streamed token appends JSON by hand or scans
// it without reflection, to stay allocation-light.
//
// # Lossless same-dialect round trips
//
// What llm has no field for is kept verbatim so that a request that arrives
// in this dialect leaves for an Anthropic upstream as the client wrote it:
// unknown top-level members go to llm.Native.Fields; content blocks llm has
// no type for (server_tool_use, web_search_tool_result, search_result,
// container_upload, documents with citations…) become llm.PartNative; hosted
// tools keep their definition in llm.Tool.Native; message-level members
// (a system message's output_config) go to llm.Message.Native. Blocks that
// llm does model but that carry extra members (a text block's citations, a
// tool_use block's caller) keep the whole block in Part.Native with
// Part.Dialect = llm.DialectAnthropic; the upstream encoder writes the
// modelled fields from the Part and adds the extra members back, so edits
// the gateway makes to the modelled fields still take effect. Other dialects
// ignore Part.Native on non-native parts.
//
// # API versions
//
// Version 2023-06-01 is the default. Version 2026-10-21 (sent by the v2 Go
// SDK, Python SDK 2.x and TypeScript SDK 1.x) rejects temperature, top_p and
// top_k with a 400 even at their defaults, rejects document blocks placed
// directly in assistant messages, and rejects non-empty citations on text
// blocks in user messages; the upstream encoder leaves all of those out when
// it writes for 2026-10-21 or later (platform.claude.com, "Migrating to API
// version 2026-10-21").
package anthropic

import (
	"encoding/json"
	"math/rand/v2"

	"github.com/rickyjim626/xjp/internal/llm"
)

// API versions this package knows about.
const (
	// Version20230601 is the long-standing anthropic-version and the default.
	Version20230601 = "2023-06-01"
	// Version20261021 removed the sampling parameters and tightened message
	// content rules.
	Version20261021 = "2026-10-21"
	// DefaultVersion is the anthropic-version sent when nobody chose one.
	DefaultVersion = Version20230601
)

// DefaultMaxTokens is the max_tokens sent upstream when neither the client
// nor the route set one: Anthropic requires the field, OpenAI clients
// usually omit it.
const DefaultMaxTokens = 4096

// MinThinkingBudget is the smallest thinking.budget_tokens Anthropic
// accepts.
const MinThinkingBudget = 1024

// versionAtLeast reports whether the API version v (default when empty) is
// min or later. Versions are dates (YYYY-MM-DD) and compare as strings.
func versionAtLeast(v, min string) bool {
	if v == "" {
		v = DefaultVersion
	}
	return v >= min
}

// ResponseMeta identifies a response to the client.
type ResponseMeta struct {
	// ID is the message id ("msg_…"); one is minted when empty.
	ID string
	// Model is the model name the client asked for.
	Model string
}

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newID returns prefix followed by 24 random base-62 characters, the shape
// of Anthropic's message and tool use ids.
func newID(prefix string) string {
	b := make([]byte, len(prefix)+24)
	copy(b, prefix)
	for i := len(prefix); i < len(b); i++ {
		b[i] = idAlphabet[rand.IntN(len(idAlphabet))]
	}
	return string(b)
}

// stopReason maps a neutral finish reason to Anthropic's stop_reason.
func stopReason(r llm.FinishReason) string {
	switch r {
	case llm.FinishStopSequence:
		return "stop_sequence"
	case llm.FinishLength:
		return "max_tokens"
	case llm.FinishToolCalls:
		return "tool_use"
	case llm.FinishContentFilter, llm.FinishRefusal:
		return "refusal"
	case llm.FinishPause:
		return "pause_turn"
	}
	return "end_turn"
}

// parseStopReason maps Anthropic's stop_reason to a neutral finish reason.
// model_context_window_exceeded (the context window filled up while the
// model wrote) is reported as a length stop.
func parseStopReason(s string) llm.FinishReason {
	switch s {
	case "end_turn":
		return llm.FinishStop
	case "stop_sequence":
		return llm.FinishStopSequence
	case "max_tokens", "model_context_window_exceeded":
		return llm.FinishLength
	case "tool_use":
		return llm.FinishToolCalls
	case "refusal":
		return llm.FinishRefusal
	case "pause_turn":
		return llm.FinishPause
	}
	return llm.FinishStop
}

// wireUsage is Anthropic's usage object. Pointers tell absent from zero:
// message_delta carries only what it knows.
type wireUsage struct {
	InputTokens              *int64 `json:"input_tokens"`
	CacheCreationInputTokens *int64 `json:"cache_creation_input_tokens"`
	CacheReadInputTokens     *int64 `json:"cache_read_input_tokens"`
	OutputTokens             *int64 `json:"output_tokens"`
	OutputTokensDetails      *struct {
		ThinkingTokens *int64 `json:"thinking_tokens"`
	} `json:"output_tokens_details"`
}

// mergeInto overwrites the buckets of u that w reports. Anthropic counts
// are cumulative totals, so a later report replaces an earlier one; its
// input_tokens already exclude cache reads and writes.
func (w *wireUsage) mergeInto(u *llm.Usage) {
	if w == nil {
		return
	}
	if w.InputTokens != nil {
		u.InputTokens = *w.InputTokens
	}
	if w.CacheCreationInputTokens != nil {
		u.CacheWriteTokens = *w.CacheCreationInputTokens
	}
	if w.CacheReadInputTokens != nil {
		u.CacheReadTokens = *w.CacheReadInputTokens
	}
	if w.OutputTokens != nil {
		u.OutputTokens = *w.OutputTokens
	}
	if d := w.OutputTokensDetails; d != nil && d.ThinkingTokens != nil {
		u.ReasoningTokens = *d.ThinkingTokens
	}
}

// isJSONObject reports whether raw (trimmed) is a JSON object.
func isJSONObject(raw json.RawMessage) bool {
	k := kindOf(raw)
	return k == '{'
}

// kindOf returns the first significant byte of a JSON value: '{', '[', '"',
// 't', 'f', 'n', or a digit or '-' for numbers; 0 for empty input.
func kindOf(raw []byte) byte {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		}
		return c
	}
	return 0
}
