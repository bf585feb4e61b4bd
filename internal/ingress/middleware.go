package ingress

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/rickyjim626/xjp/internal/llm"
)

type ctxKey int

const requestIDKey ctxKey = iota

// RequestID returns the request's id ("" outside a request).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// newRequestID returns a random request id.
func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// randomID returns 24 random base62 characters for response ids.
func randomID() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [24]byte
	rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}

// validRequestID accepts a client's X-Request-Id when it is short and plain.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// recorder wraps the ResponseWriter to learn the status and carry the
// fields of the request's log line. Handlers find it with recorderOf.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64

	// Log fields the handler fills in. outcome, when set, is the request's
	// real result when it differs from the status sent (a stream that
	// failed or was abandoned after its 200).
	outcome   int
	keyPrefix string
	model     string
	provider  string
	route     string
	usage     llm.Usage
	errKind   llm.Kind

	// body, when not nil (log.bodies), keeps the start of the response for
	// the debug log.
	body *bytes.Buffer
}

// maxLoggedBody bounds a response body kept for the debug log.
const maxLoggedBody = 64 << 10

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	if r.body != nil && r.body.Len() < maxLoggedBody {
		r.body.Write(b[:min(n, maxLoggedBody-r.body.Len())])
	}
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and SetWriteDeadline.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func recorderOf(w http.ResponseWriter) *recorder {
	rec, _ := w.(*recorder)
	if rec == nil {
		return &recorder{} // a sink, so handlers need no nil checks
	}
	return rec
}

// chain wraps h in the middleware every endpoint gets: request id, panic
// recovery, the request log line, CORS, the body limit and (when auth is
// true) API-key authentication. Errors are written in dialect d.
func (s *Server) chain(d *dialect, auth bool, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		id := r.Header.Get("X-Request-Id")
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey, id))
		rec := &recorder{ResponseWriter: w}
		if s.bodies && auth {
			rec.body = &bytes.Buffer{}
		}
		var span trace.Span // API requests get a span when tracing is on
		if s.tracer != nil && auth {
			r, span = s.startSpan(r, id)
		}

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic serving request", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if rec.status == 0 {
					s.writeError(rec, r, d, &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusInternalServerError,
						Message: "internal error (request " + id + ")"})
				}
			}
			status := s.logRequest(r, rec, id, start)
			if span != nil {
				endSpan(span, rec, status)
			}
		}()

		if s.cors != nil && s.handleCORS(rec, r) {
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(rec, r.Body, s.maxBody)
		}
		if auth {
			key, err := s.authenticate(r)
			if err != nil {
				s.writeError(rec, r, d, err)
				return
			}
			rec.keyPrefix = key.Prefix
			r = r.WithContext(withKey(r.Context(), key))
		}
		h.ServeHTTP(rec, r)
	})
}

// logRequest writes the request's log line and returns the request's
// outcome status.
func (s *Server) logRequest(r *http.Request, rec *recorder, id string, start time.Time) int {
	status := rec.status
	if rec.outcome != 0 {
		status = rec.outcome
	}
	if status == 0 {
		status = 499
	}
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
		return status
	}
	attrs := []slog.Attr{
		slog.String("request_id", id),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", status),
		slog.Float64("latency_ms", float64(s.now().Sub(start).Microseconds())/1000),
	}
	if rec.keyPrefix != "" {
		attrs = append(attrs, slog.String("key", rec.keyPrefix))
	}
	if rec.model != "" {
		attrs = append(attrs, slog.String("model", rec.model))
	}
	if rec.provider != "" {
		attrs = append(attrs, slog.String("provider", rec.provider))
	}
	if rec.route != "" {
		attrs = append(attrs, slog.String("route", rec.route))
	}
	if u := rec.usage; !u.IsZero() {
		attrs = append(attrs, slog.Int64("input_tokens", u.PromptTokens()), slog.Int64("output_tokens", u.OutputTokens))
	}
	if rec.errKind != "" {
		attrs = append(attrs, slog.String("error_kind", string(rec.errKind)))
	}
	lvl := slog.LevelInfo
	if status >= 500 {
		lvl = slog.LevelWarn
	}
	s.log.LogAttrs(r.Context(), lvl, "request", attrs...)
	return status
}

// handleCORS sets CORS headers for allowed origins and answers preflights.
// It reports whether the request was fully handled.
func (s *Server) handleCORS(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || !(s.cors["*"] || s.cors[origin]) {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, X-Ratelimit-Limit-Requests, X-Ratelimit-Remaining-Requests, X-Ratelimit-Reset-Requests")
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key, X-Goog-Api-Key, Anthropic-Version, Anthropic-Beta, Anthropic-Dangerous-Direct-Browser-Access, Idempotency-Key, X-Request-Id, X-Stainless-Os, X-Stainless-Lang, X-Stainless-Package-Version, X-Stainless-Runtime, X-Stainless-Runtime-Version, X-Stainless-Arch, X-Stainless-Retry-Count, X-Stainless-Timeout")
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	return false
}

// bearer extracts the API key from Authorization: Bearer or x-api-key, and
// on the Gemini paths (/v1beta/) also from x-goog-api-key or ?key=, as
// Google's SDKs send it.
func bearer(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/v1beta/") {
		if v := r.Header.Get("X-Goog-Api-Key"); v != "" {
			return strings.TrimSpace(v)
		}
		if v := r.URL.Query().Get("key"); v != "" {
			return v
		}
	}
	if v := r.Header.Get("Authorization"); v != "" {
		if scheme, tok, ok := strings.Cut(v, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
	}
	if v := r.Header.Get("X-Api-Key"); v != "" {
		return strings.TrimSpace(v)
	}
	return ""
}
