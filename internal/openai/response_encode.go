package openai

import (
	"net/http"

	"github.com/rickyjim626/xjp/internal/llm"
)

// ResponseMeta is what a response to the client says about itself.
type ResponseMeta struct {
	// ID is the completion id ("chatcmpl-…").
	ID string
	// Model is the model name the client asked for.
	Model string
	// Created is the unix time in seconds.
	Created int64
}

// EncodeChatResponse renders a whole answer as a chat.completion object.
//
// The message content is the concatenated text (null when the answer is
// only tool calls), refusal is always null, and finish_reason maps
// stop_sequence and pause_turn to "stop" and refusal to "content_filter".
// Thinking is exposed as reasoning_content (what DeepSeek- and
// OpenRouter-style clients read) and as OpenRouter-style reasoning_details
// entries, so that signatures, redacted blocks and Gemini tool-call
// signatures survive when the client sends the message back.
func EncodeChatResponse(resp *llm.Response, meta ResponseMeta) []byte {
	if meta.ID == "" {
		meta.ID = resp.ID
	}
	if meta.Model == "" {
		meta.Model = resp.Model
	}
	b := make([]byte, 0, 512)
	b = append(b, '{')
	b = appendStringField(b, "id", meta.ID)
	b = appendStringField(b, "object", "chat.completion")
	b = appendIntField(b, "created", meta.Created)
	b = appendStringField(b, "model", meta.Model)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)

	var text []byte
	var thinking []byte
	hasText, hasThinking, calls := false, false, 0
	for _, p := range resp.Content {
		switch p.Type {
		case llm.PartText:
			text = append(text, p.Text...)
			hasText = true
		case llm.PartThinking:
			thinking = append(thinking, p.Text...)
			hasThinking = true
		case llm.PartToolCall:
			calls++
		}
	}
	switch {
	case hasText:
		b = appendString(b, string(text))
	case calls > 0:
		b = append(b, "null"...)
	default:
		b = append(b, `""`...)
	}
	b = append(b, `,"refusal":null`...)
	if hasThinking {
		b = appendStringField(b, "reasoning_content", string(thinking))
	}
	b = appendReasoningDetails(b, resp.Content)
	if calls > 0 {
		b = append(b, `,"tool_calls":[`...)
		n := 0
		for _, p := range resp.Content {
			if p.Type != llm.PartToolCall {
				continue
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			b = appendToolCall(b, p.ToolCall)
		}
		b = append(b, ']')
	}
	b = append(b, `},"logprobs":null`...)
	b = appendStringField(b, "finish_reason", finishString(resp.FinishReason))
	b = append(b, "}]"...)
	b = appendKey(b, "usage")
	b = appendUsage(b, resp.Usage)
	return append(b, '}')
}

// appendReasoningDetails appends ,"reasoning_details":[…] for the thinking,
// redacted thinking and tool-call signatures among parts; nothing when there
// are none.
func appendReasoningDetails(b []byte, parts []llm.Part) []byte {
	n := 0
	for _, p := range parts {
		switch {
		case p.Type == llm.PartThinking, p.Type == llm.PartRedactedThinking,
			p.Type == llm.PartToolCall && p.ToolCall.Signature != "":
		default:
			continue
		}
		if n == 0 {
			b = append(b, `,"reasoning_details":[`...)
		} else {
			b = append(b, ',')
		}
		switch p.Type {
		case llm.PartThinking:
			b = append(b, `{"type":"reasoning.text"`...)
			b = appendStringField(b, "text", p.Text)
			if p.Signature != "" {
				b = appendStringField(b, "signature", p.Signature)
			}
		case llm.PartRedactedThinking:
			b = append(b, `{"type":"reasoning.encrypted"`...)
			b = appendStringField(b, "data", p.Data)
		default:
			b = append(b, `{"type":"reasoning.encrypted"`...)
			b = appendStringField(b, "data", p.ToolCall.Signature)
			b = appendStringField(b, "id", p.ToolCall.ID)
			b = appendStringField(b, "format", geminiReasoningFormat)
		}
		b = appendIntField(b, "index", int64(n))
		b = append(b, '}')
		n++
	}
	if n > 0 {
		b = append(b, ']')
	}
	return b
}

// appendToolCall appends a message tool call object.
func appendToolCall(b []byte, tc *llm.ToolCall) []byte {
	args := tc.Arguments
	b = append(b, '{')
	b = appendStringField(b, "id", tc.ID)
	if tc.Type == "custom" {
		b = append(b, `,"type":"custom","custom":{`...)
		b = appendStringField(b, "name", tc.Name)
		b = appendStringField(b, "input", args)
		return append(b, "}}"...)
	}
	if args == "" {
		args = "{}"
	}
	b = append(b, `,"type":"function","function":{`...)
	b = appendStringField(b, "name", tc.Name)
	b = appendStringField(b, "arguments", args)
	return append(b, "}}"...)
}

// appendUsage appends a usage object: prompt_tokens counts uncached, cache
// read and cache write tokens; cache_write_tokens (OpenRouter's extension)
// appears only when non-zero.
func appendUsage(b []byte, u llm.Usage) []byte {
	b = append(b, '{')
	b = appendIntField(b, "prompt_tokens", u.PromptTokens())
	b = appendIntField(b, "completion_tokens", u.OutputTokens)
	b = appendIntField(b, "total_tokens", u.TotalTokens())
	b = append(b, `,"prompt_tokens_details":{`...)
	b = appendIntField(b, "cached_tokens", u.CacheReadTokens)
	if u.CacheWriteTokens > 0 {
		b = appendIntField(b, "cache_write_tokens", u.CacheWriteTokens)
	}
	b = append(b, `},"completion_tokens_details":{`...)
	b = appendIntField(b, "reasoning_tokens", u.ReasoningTokens)
	return append(b, "}}"...)
}

// EncodeError renders an error as OpenAI's envelope:
// {"error":{"message","type","param","code"}}. The type follows the HTTP
// status (see ErrorType); param and code are null when unknown, except that
// a 404 without a code gets "model_not_found" (the only 404 xjp answers).
func EncodeError(e *llm.Error) []byte {
	return appendError(make([]byte, 0, 160), e)
}

func appendError(b []byte, e *llm.Error) []byte {
	if e == nil {
		e = &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusInternalServerError, Message: "internal error"}
	}
	code := e.Code
	if code == "" && errorStatus(e) == http.StatusNotFound {
		code = "model_not_found"
	}
	b = append(b, `{"error":{`...)
	b = appendStringField(b, "message", e.Error())
	b = appendStringField(b, "type", ErrorType(e))
	b = appendKey(b, "param")
	if e.Param == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, e.Param)
	}
	b = appendKey(b, "code")
	if code == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, code)
	}
	return append(b, "}}"...)
}

// ErrorType returns OpenAI's error type for e from its HTTP status:
// invalid_request_error (400, 404, 413 and other 4xx), authentication_error
// (401), permission_error (403), rate_limit_error or insufficient_quota
// (429, by e.Code), api_error (5xx).
func ErrorType(e *llm.Error) string {
	switch s := errorStatus(e); {
	case s == http.StatusUnauthorized:
		return "authentication_error"
	case s == http.StatusForbidden:
		return "permission_error"
	case s == http.StatusTooManyRequests:
		if e.Code == "insufficient_quota" {
			return "insufficient_quota"
		}
		return "rate_limit_error"
	case s >= 400 && s < 500:
		return "invalid_request_error"
	}
	return "api_error"
}

// errorStatus is e's HTTP status, or the one its kind implies.
func errorStatus(e *llm.Error) int {
	if e == nil {
		return http.StatusInternalServerError
	}
	if e.Status != 0 {
		return e.Status
	}
	switch e.Kind {
	case llm.KindCallerInvalid:
		return http.StatusBadRequest
	case llm.KindCallerCanceled:
		return 499
	case llm.KindPolicyAuth:
		return http.StatusUnauthorized
	case llm.KindPolicyBudget, llm.KindProviderRateLimited:
		return http.StatusTooManyRequests
	case llm.KindProviderOverloaded, llm.KindGatewayNoUpstream:
		return http.StatusServiceUnavailable
	case llm.KindProviderTimeout:
		return http.StatusGatewayTimeout
	case llm.KindProviderAuth, llm.KindProviderServer, llm.KindProviderConnect:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}
