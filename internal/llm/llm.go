// Package llm holds the neutral request, response and stream types that sit
// between every ingress format and every upstream provider. N client formats
// and M upstream formats each need one codec to and from these types, not
// N×M translators.
//
// The stream vocabulary is block-structured like Anthropic's Messages stream:
// a message starts, content blocks (text, thinking, tool calls) start, receive
// deltas and stop, usage is reported, and the message finishes with a reason.
// Every wire format maps onto it without loss.
//
// This package imports nothing of xjp's.
package llm

import (
	"encoding/json"
	"strings"
)

// Role is the author of a message.
type Role string

const (
	RoleSystem    Role = "system"
	RoleDeveloper Role = "developer" // OpenAI's newer name for system; treated as system elsewhere
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
	RoleTool      Role = "tool" // carries PartToolResult parts answering the previous assistant turn
)

// Dialect names a wire format.
type Dialect string

const (
	DialectOpenAI    Dialect = "openai"    // Chat Completions
	DialectResponses Dialect = "responses" // OpenAI Responses API
	DialectAnthropic Dialect = "anthropic" // Messages
	DialectGemini    Dialect = "gemini"    // generateContent (Vertex AI and AI Studio)
)

// Request is one model call in neutral form. Ingress codecs build it; after
// routing it is never mutated: each attempt works on a Clone.
type Request struct {
	// Model is the model name the client asked for (a logical model or
	// "provider/upstream_model"). The router resolves it; providers receive
	// the upstream model separately.
	Model string

	// Messages in order. System and developer messages may appear anywhere;
	// codecs of formats with a top-level system field (Anthropic, Gemini)
	// hoist them.
	Messages []Message

	Tools      []Tool
	ToolChoice *ToolChoice
	// ParallelToolCalls is nil when the client did not say.
	ParallelToolCalls *bool

	// MaxTokens is the output token limit; 0 means the client set none.
	MaxTokens   int
	Temperature *float64
	TopP        *float64
	TopK        *int
	Stop        []string
	Seed        *int64
	// User is an end-user identifier (OpenAI user, Anthropic metadata.user_id).
	User           string
	ResponseFormat *ResponseFormat
	Reasoning      *Reasoning

	// Stream is whether the client wants a stream. Providers always return an
	// llm.Stream; a non-streaming answer is the stream folded.
	Stream bool
	// IncludeUsage is whether an OpenAI client asked for the usage chunk
	// (stream_options.include_usage).
	IncludeUsage bool

	// Native carries what the client's format said that has no neutral field.
	// A provider speaking the same dialect forwards it; others ignore it.
	Native *Native
}

// Native is the part of a client request that only a same-dialect upstream
// understands: unknown top-level body fields and dialect headers.
type Native struct {
	Dialect Dialect
	// Fields are top-level JSON members the codec did not model, verbatim.
	Fields map[string]json.RawMessage
	// Headers are dialect headers worth forwarding (anthropic-version,
	// anthropic-beta), canonical names.
	Headers map[string]string
}

// Field returns a native field when the request came in the given dialect.
func (r *Request) NativeField(d Dialect, name string) (json.RawMessage, bool) {
	if r.Native == nil || r.Native.Dialect != d {
		return nil, false
	}
	v, ok := r.Native.Fields[name]
	return v, ok
}

// NativeHeader returns a header the client sent in the given dialect.
func (r *Request) NativeHeader(d Dialect, name string) string {
	if r.Native == nil || r.Native.Dialect != d {
		return ""
	}
	return r.Native.Headers[name]
}

// Clone returns a copy whose slices and pointers can be changed without
// touching r. Parts are copied one level deep; raw JSON is shared (read-only).
func (r *Request) Clone() *Request {
	c := *r
	c.Messages = make([]Message, len(r.Messages))
	for i, m := range r.Messages {
		m.Content = append([]Part(nil), m.Content...)
		c.Messages[i] = m
	}
	c.Tools = append([]Tool(nil), r.Tools...)
	c.Stop = append([]string(nil), r.Stop...)
	if r.ToolChoice != nil {
		tc := *r.ToolChoice
		c.ToolChoice = &tc
	}
	if r.Reasoning != nil {
		rs := *r.Reasoning
		c.Reasoning = &rs
	}
	return &c
}

// Message is one turn of the conversation.
type Message struct {
	Role    Role
	Content []Part
	// Name is OpenAI's optional participant name.
	Name string
	// Native holds message-level members the client's codec did not model
	// (an Anthropic system message's output_config), verbatim as one JSON
	// object in the request's Native.Dialect. Same-dialect encoders merge
	// them back; others ignore them.
	Native json.RawMessage
}

// Text returns the concatenated text parts of the message.
func (m Message) Text() string {
	var b strings.Builder
	for _, p := range m.Content {
		if p.Type == PartText {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// PartType is the kind of a content part.
type PartType string

const (
	PartText             PartType = "text"
	PartImage            PartType = "image"
	PartFile             PartType = "file" // documents (PDF), audio, video
	PartThinking         PartType = "thinking"
	PartRedactedThinking PartType = "redacted_thinking"
	PartToolCall         PartType = "tool_call"
	PartToolResult       PartType = "tool_result"
	// PartNative is content only its own dialect understands (an OpenAI
	// input_audio part, an Anthropic search_result block): Native holds it
	// verbatim. Same-dialect upstreams get it as is; other encoders refuse
	// the request with a clear 400 rather than drop it.
	PartNative PartType = "native"
)

// Part is one piece of message content. Exactly the fields of its Type are set.
type Part struct {
	Type PartType

	// Text is the text of PartText and PartThinking.
	Text string
	// Signature is the thinking block's signature (PartThinking), replayed
	// verbatim on the next turn.
	Signature string
	// Data is the opaque payload of PartRedactedThinking.
	Data string

	// Media is set for PartImage and PartFile.
	Media *Media
	// ToolCall is set for PartToolCall (assistant turns).
	ToolCall *ToolCall
	// ToolResult is set for PartToolResult (tool turns).
	ToolResult *ToolResult

	// CacheControl is Anthropic's cache_control, verbatim; forwarded only to
	// Anthropic upstreams.
	CacheControl json.RawMessage

	// Native and Dialect hold a PartNative part verbatim.
	Native  json.RawMessage
	Dialect Dialect
}

// TextPart returns a text part.
func TextPart(s string) Part { return Part{Type: PartText, Text: s} }

// Media is an image or file, inline (base64) or by URL.
type Media struct {
	// MediaType is the MIME type ("image/png", "application/pdf"); may be
	// empty for URLs whose type is unknown.
	MediaType string
	// Data is base64 without any "data:" prefix. Empty when URL is set.
	Data string
	// URL is an http(s), gs:// or other URI. Empty when Data is set.
	URL string
	// Detail is OpenAI's image detail ("auto", "low", "high").
	Detail string
	// Name is a file name when the format carries one.
	Name string
}

// DataURL returns the media as a data: URL, or URL when it is not inline.
func (m *Media) DataURL() string {
	if m.Data == "" {
		return m.URL
	}
	return "data:" + m.MediaType + ";base64," + m.Data
}

// ParseDataURL splits "data:image/png;base64,AAAA" into media type and base64
// data. ok is false when s is not a base64 data URL.
func ParseDataURL(s string) (mediaType, data string, ok bool) {
	rest, found := strings.CutPrefix(s, "data:")
	if !found {
		return "", "", false
	}
	meta, data, found := strings.Cut(rest, ",")
	if !found {
		return "", "", false
	}
	meta, isBase64 := strings.CutSuffix(meta, ";base64")
	if !isBase64 {
		return "", "", false
	}
	if i := strings.IndexByte(meta, ';'); i >= 0 { // drop parameters such as charset
		meta = meta[:i]
	}
	return meta, data, true
}

// ToolCall is an assistant's request to call a tool.
type ToolCall struct {
	// ID pairs the call with its result. Formats without ids (Gemini) get
	// minted ones.
	ID   string
	Name string
	// Arguments is the JSON text of the arguments object ("{}" when empty).
	Arguments string
	// Type is "function" (default, empty) or "custom" (Responses API freeform
	// tools, whose Arguments is the raw input text).
	Type string
	// Signature is Gemini's thoughtSignature on the functionCall part. It is
	// opaque, bound to the model that produced it, and echoed back verbatim
	// to Gemini upstreams; other formats carry it where they can and drop it
	// otherwise.
	Signature string
}

// ToolResult is the answer to a ToolCall.
type ToolResult struct {
	ToolCallID string
	// Name is the function name when the format carries it (Gemini needs it).
	Name string
	// Content is text and images.
	Content []Part
	IsError bool
}

// Text returns the concatenated text of the result.
func (t *ToolResult) Text() string {
	var b strings.Builder
	for _, p := range t.Content {
		if p.Type == PartText {
			b.WriteString(p.Text)
		}
	}
	return b.String()
}

// Tool is a function the model may call.
type Tool struct {
	// Type is "" or "function" for function tools, "custom" for Responses
	// freeform tools. Other values are hosted tools that only a same-dialect
	// upstream understands; their definition is in Native.
	Type        string
	Name        string
	Description string
	// Parameters is the JSON Schema of the arguments, verbatim.
	Parameters json.RawMessage
	Strict     *bool
	// Native is the tool's definition verbatim in the client's dialect, kept
	// for hosted/server tools (Anthropic web_search, custom grammar formats).
	Native       json.RawMessage
	CacheControl json.RawMessage
}

// ToolChoiceMode says whether and which tools the model must call.
type ToolChoiceMode string

const (
	ToolChoiceAuto     ToolChoiceMode = "auto"
	ToolChoiceNone     ToolChoiceMode = "none"
	ToolChoiceRequired ToolChoiceMode = "required" // Anthropic "any"
	ToolChoiceTool     ToolChoiceMode = "tool"     // a named tool
)

// ToolChoice constrains tool use.
type ToolChoice struct {
	Mode ToolChoiceMode
	// Name is the tool for ToolChoiceTool.
	Name string
}

// ResponseFormat asks for JSON output.
type ResponseFormat struct {
	// Type is "text", "json_object" or "json_schema".
	Type   string
	Name   string
	Schema json.RawMessage
	Strict *bool
}

// Reasoning configures extended thinking / reasoning effort.
type Reasoning struct {
	// Effort is "minimal", "low", "medium", "high" (OpenAI reasoning_effort),
	// empty when a budget is given instead.
	Effort string
	// BudgetTokens is Anthropic's thinking.budget_tokens (0 = unset).
	BudgetTokens int
	// Disabled is true when the client turned thinking off explicitly.
	Disabled bool
	// Adaptive is Anthropic's thinking {type: "adaptive"}.
	Adaptive bool
}

// FinishReason is why the model stopped.
type FinishReason string

const (
	FinishStop          FinishReason = "stop"           // natural end
	FinishStopSequence  FinishReason = "stop_sequence"  // a stop sequence matched
	FinishLength        FinishReason = "length"         // max tokens reached
	FinishToolCalls     FinishReason = "tool_calls"     // the model wants tool results
	FinishContentFilter FinishReason = "content_filter" // safety systems stopped it
	FinishRefusal       FinishReason = "refusal"        // the model refused
	FinishPause         FinishReason = "pause_turn"     // Anthropic: long turn paused
)

// Usage is token accounting in disjoint buckets: InputTokens excludes cached
// and cache-written tokens; ReasoningTokens is a subset of OutputTokens.
type Usage struct {
	InputTokens      int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	OutputTokens     int64
	ReasoningTokens  int64
	// CostUSD is a cost the upstream reported (OpenRouter usage.cost); nil
	// when it reported none.
	CostUSD *float64
	// Estimated is true when the counts were made locally because the
	// upstream reported none.
	Estimated bool
}

// PromptTokens is all input: uncached, cache read and cache write.
func (u Usage) PromptTokens() int64 { return u.InputTokens + u.CacheReadTokens + u.CacheWriteTokens }

// TotalTokens is all input plus output.
func (u Usage) TotalTokens() int64 { return u.PromptTokens() + u.OutputTokens }

// IsZero reports whether no tokens were counted.
func (u Usage) IsZero() bool { return u.TotalTokens() == 0 && u.CostUSD == nil }

// Response is a whole, non-streamed answer: a Stream folded by Collect.
type Response struct {
	ID    string
	Model string
	// Content holds the assistant's parts in order: thinking, text, tool calls.
	Content      []Part
	FinishReason FinishReason
	// StopSequence is the sequence that matched (Anthropic upstreams only).
	StopSequence string
	Usage        Usage
}

// Text returns the concatenated text of the response.
func (r *Response) Text() string {
	return Message{Content: r.Content}.Text()
}

// ToolCalls returns the response's tool calls in order.
func (r *Response) ToolCalls() []*ToolCall {
	var out []*ToolCall
	for _, p := range r.Content {
		if p.Type == PartToolCall {
			out = append(out, p.ToolCall)
		}
	}
	return out
}
