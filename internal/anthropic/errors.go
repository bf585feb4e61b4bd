package anthropic

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/rickyjim626/xjp/internal/llm"
)

// ErrorType returns Anthropic's error type for the HTTP status the client
// gets (platform.claude.com/docs/en/api/errors): 400 and other unlisted
// 4xx invalid_request_error, 401 authentication_error, 402 billing_error,
// 403 permission_error, 404 not_found_error, 413 request_too_large, 429
// rate_limit_error, 503 and 529 overloaded_error, 504 timeout_error, 500,
// 502 and other 5xx api_error.
//
// The current reference added billing_error (402) and timeout_error (504);
// DESIGN.md §2 still lists api_error for 504.
func ErrorType(e *llm.Error) string {
	status := http.StatusInternalServerError
	if e != nil && e.Status != 0 {
		status = e.Status
	}
	switch status {
	case http.StatusUnauthorized:
		return "authentication_error"
	case http.StatusPaymentRequired:
		return "billing_error"
	case http.StatusForbidden:
		return "permission_error"
	case http.StatusNotFound:
		return "not_found_error"
	case http.StatusRequestEntityTooLarge:
		return "request_too_large"
	case http.StatusTooManyRequests:
		return "rate_limit_error"
	case http.StatusServiceUnavailable, 529:
		return "overloaded_error"
	case http.StatusGatewayTimeout:
		return "timeout_error"
	}
	if status >= 400 && status < 500 {
		return "invalid_request_error"
	}
	return "api_error"
}

// EncodeError renders e as Anthropic's error body:
// {"type":"error","error":{"type","message"}}.
func EncodeError(e *llm.Error) []byte {
	return appendErrorBody(make([]byte, 0, 128), e)
}

func appendErrorBody(b []byte, e *llm.Error) []byte {
	msg := "internal error"
	if e != nil {
		msg = e.Message
		if msg == "" {
			msg = e.Error()
		}
	}
	b = append(b, `{"type":"error","error":{"type":`...)
	b = appendString(b, ErrorType(e))
	b = append(b, `,"message":`...)
	b = appendString(b, msg)
	return append(b, "}}"...)
}

// statusOfType is the HTTP status Anthropic pairs with each error type.
var statusOfType = map[string]int{
	"invalid_request_error": http.StatusBadRequest,
	"authentication_error":  http.StatusUnauthorized,
	"billing_error":         http.StatusPaymentRequired,
	"permission_error":      http.StatusForbidden,
	"not_found_error":       http.StatusNotFound,
	"request_too_large":     http.StatusRequestEntityTooLarge,
	"rate_limit_error":      http.StatusTooManyRequests,
	"api_error":             http.StatusInternalServerError,
	"timeout_error":         http.StatusGatewayTimeout,
	"overloaded_error":      529,
}

// errorEnvelope is Anthropic's error body.
type errorEnvelope struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
}

// maxErrorText bounds how much of a non-JSON error body is kept.
const maxErrorText = 512

// DecodeError turns an upstream error answer into an *llm.Error: the status
// is mapped with llm.FromStatus, the upstream's message is kept and its
// error type is set as UpstreamType. An overloaded_error is
// provider_overloaded whatever the status (529 is the usual one). A 2xx
// answer with no usable content (Clewdr answers 204 No Content when the
// model returned no choices) is a retryable provider_server error.
func DecodeError(provider string, status int, body []byte) *llm.Error {
	typ, msg := parseErrorBody(body)
	if status >= 200 && status < 300 {
		if typ != "" {
			e := errorFromType(provider, typ, msg)
			e.UpstreamStatus = status
			return e
		}
		m := fmt.Sprintf("upstream returned no content (HTTP %d)", status)
		if msg != "" {
			m += ": " + msg
		}
		return &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway,
			Provider: provider, UpstreamStatus: status, Message: m}
	}
	e := llm.FromStatus(provider, status, msg)
	e.UpstreamType = typ
	if typ == "overloaded_error" && e.Kind != llm.KindProviderOverloaded {
		e.Kind, e.Status = llm.KindProviderOverloaded, http.StatusServiceUnavailable
	}
	return e
}

// parseErrorBody returns the error type and message of an error body; for
// a body that is not Anthropic's envelope, the message is its (bounded)
// text.
func parseErrorBody(body []byte) (typ, msg string) {
	var env errorEnvelope
	if json.Unmarshal(body, &env) == nil && (env.Error.Type != "" || env.Error.Message != "") {
		return env.Error.Type, env.Error.Message
	}
	// OpenAI-style {"error":{"message"}} from compatible servers
	var alt struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &alt) == nil && kindOf(alt.Error) == '"' {
		var s string
		_ = json.Unmarshal(alt.Error, &s)
		return "", s
	}
	text := strings.TrimSpace(string(body))
	if len(text) > maxErrorText {
		text = text[:maxErrorText]
		for !utf8.ValidString(text) {
			text = text[:len(text)-1]
		}
		text += "…"
	}
	return "", text
}

// errorFromType maps an error reported by type alone (an event: error in a
// stream, or an error envelope in a 200 answer) to an *llm.Error, as if the
// upstream had answered with the status Anthropic pairs with that type:
// overloaded_error is provider_overloaded, rate_limit_error
// provider_rate_limited, api_error provider_server, timeout_error
// provider_timeout, authentication, permission and billing errors
// provider_auth; an unknown type is provider_server.
func errorFromType(provider, typ, msg string) *llm.Error {
	status, ok := statusOfType[typ]
	if !ok {
		status = http.StatusInternalServerError
	}
	if msg == "" {
		msg = "upstream reported " + typ
		if typ == "" {
			msg = "upstream reported an error"
		}
	}
	e := llm.FromStatus(provider, status, msg)
	e.UpstreamType = typ
	return e
}
