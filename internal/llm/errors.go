package llm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"
)

// Kind is the fault domain of an error. The vocabulary is closed: it drives
// the HTTP status a client sees, whether the gateway retries, whether a
// breaker counts the failure, and the kind label of metrics.
type Kind string

const (
	KindCallerInvalid  Kind = "caller_invalid"  // the request is wrong (400, 404, 413, 422)
	KindCallerCanceled Kind = "caller_canceled" // the client went away (499)
	KindPolicyAuth     Kind = "policy_auth"     // missing/unknown/disabled key or model out of scope (401, 403)
	KindPolicyBudget   Kind = "policy_budget"   // gateway rate limit or quota (429)

	KindProviderAuth        Kind = "provider_auth"         // the upstream refused our credentials or billing (401, 402, 403)
	KindProviderRateLimited Kind = "provider_rate_limited" // upstream 429
	KindProviderOverloaded  Kind = "provider_overloaded"   // upstream 503, 529
	KindProviderTimeout     Kind = "provider_timeout"      // upstream 504 or a timeout of ours
	KindProviderServer      Kind = "provider_server"       // upstream 5xx, broken or malformed stream
	KindProviderConnect     Kind = "provider_connect"      // connection refused or reset before a response

	KindGatewayNoUpstream Kind = "gateway_no_upstream" // no route could take the request (breakers open)
	KindGatewayInternal   Kind = "gateway_internal"    // a bug or failure inside xjp
	KindOther             Kind = "other"
)

// Retryable reports whether another attempt (same or next route) may succeed.
func (k Kind) Retryable() bool {
	switch k {
	case KindProviderRateLimited, KindProviderOverloaded, KindProviderTimeout,
		KindProviderServer, KindProviderConnect:
		return true
	}
	return false
}

// UpstreamFault reports whether the error counts against the upstream's
// health (breakers, error rates). Client mistakes and cancels do not.
func (k Kind) UpstreamFault() bool {
	return k.Retryable() || k == KindProviderAuth
}

// Error is xjp's error value: a Kind, the HTTP status to answer the client
// with, and the cause. Codecs render it in the client's format.
type Error struct {
	Kind Kind
	// Status is the HTTP status the client gets.
	Status int
	// Code is a machine-readable code for the client ("model_not_found",
	// "invalid_api_key", "insufficient_quota", "rate_limit_exceeded").
	Code string
	// Param names the offending request field, when known.
	Param string
	// Message is what the client reads. Lowercase, no trailing period.
	Message string
	// RetryAfter is how long the client (or the retry loop) should wait; 0
	// when unknown.
	RetryAfter time.Duration
	// Provider and UpstreamStatus say where an upstream error came from.
	Provider       string
	UpstreamStatus int
	// UpstreamType is the upstream's own error type ("overloaded_error").
	UpstreamType string
	// Err is the underlying cause, if any.
	Err error
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	if msg == "" {
		msg = string(e.Kind)
	}
	if e.Provider != "" {
		return e.Provider + ": " + msg
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error of the given kind and status.
func Errorf(kind Kind, status int, format string, args ...any) *Error {
	return &Error{Kind: kind, Status: status, Message: fmt.Sprintf(format, args...)}
}

// InvalidRequest is a 400 about one request field.
func InvalidRequest(param, format string, args ...any) *Error {
	return &Error{Kind: KindCallerInvalid, Status: http.StatusBadRequest, Param: param, Message: fmt.Sprintf(format, args...)}
}

// FromStatus maps an upstream HTTP status to an *Error. message is the
// upstream's own message, kept for the client.
func FromStatus(provider string, status int, message string) *Error {
	e := &Error{Provider: provider, UpstreamStatus: status, Message: message}
	switch {
	case status == http.StatusUnauthorized, status == http.StatusForbidden, status == http.StatusPaymentRequired:
		e.Kind, e.Status = KindProviderAuth, http.StatusBadGateway
		e.Message = fmt.Sprintf("upstream refused the gateway's credentials (HTTP %d): %s", status, message)
	case status == http.StatusRequestTimeout, status == http.StatusGatewayTimeout:
		e.Kind, e.Status = KindProviderTimeout, http.StatusGatewayTimeout
	case status == http.StatusTooManyRequests:
		e.Kind, e.Status = KindProviderRateLimited, http.StatusTooManyRequests
	case status == http.StatusServiceUnavailable, status == 529:
		e.Kind, e.Status = KindProviderOverloaded, http.StatusServiceUnavailable
	case status >= 500:
		e.Kind, e.Status = KindProviderServer, http.StatusBadGateway
	case status >= 400:
		e.Kind, e.Status = KindCallerInvalid, status
	default:
		e.Kind, e.Status = KindProviderServer, http.StatusBadGateway
		e.Message = fmt.Sprintf("unexpected upstream status %d: %s", status, message)
	}
	if e.Message == "" {
		e.Message = fmt.Sprintf("upstream returned HTTP %d", status)
	}
	return e
}

// FromTransport classifies an error from sending a request upstream or
// reading its body. ctx is the request's context: when it is done because
// the client left, the error is a cancel, not an upstream fault.
func FromTransport(ctx context.Context, provider string, err error) *Error {
	var le *Error
	if errors.As(err, &le) {
		return le
	}
	e := &Error{Provider: provider, Err: err}
	switch {
	case ctx != nil && errors.Is(ctx.Err(), context.Canceled):
		e.Kind, e.Status, e.Message = KindCallerCanceled, 499, "client closed the request"
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		e.Kind, e.Status, e.Message = KindProviderTimeout, http.StatusGatewayTimeout, "upstream timed out: "+err.Error()
	case errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || isDialError(err):
		e.Kind, e.Status, e.Message = KindProviderConnect, http.StatusBadGateway, "cannot reach upstream: "+err.Error()
	default:
		e.Kind, e.Status, e.Message = KindProviderServer, http.StatusBadGateway, "upstream connection failed: "+err.Error()
	}
	return e
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isDialError(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// AsError returns err as an *Error, wrapping foreign errors as internal ones.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Kind: KindCallerCanceled, Status: 499, Message: "client closed the request", Err: err}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Kind: KindProviderTimeout, Status: http.StatusGatewayTimeout, Message: "request timed out", Err: err}
	}
	return &Error{Kind: KindGatewayInternal, Status: http.StatusInternalServerError, Message: err.Error(), Err: err}
}

// StatusOf returns the HTTP status for err.
func StatusOf(err error) int {
	if e := AsError(err); e != nil && e.Status != 0 {
		return e.Status
	}
	return http.StatusInternalServerError
}
