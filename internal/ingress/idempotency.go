package ingress

// Idempotency-Key on the model endpoints (chat, messages, responses,
// gemini). A request carrying the header is recorded per API key (the
// scope is the key id) under the SHA-256 of its endpoint path and body
// bytes. While it runs, the same key answers 409; once it is done, a retry
// with the same body gets the stored answer replayed byte for byte —
// status, content type and body, a stream as the very SSE bytes the first
// client got — with Idempotent-Replayed: true, and the same key with
// another body answers 422. docs/resilience.md has the whole policy.
//
// What is stored: a complete answer the client received — 2xx, or a 4xx
// the upstream returned because of the request itself (caller_invalid) —
// of at most IdempotencyOptions.MaxBytes. Anything else releases the key
// so that a retry runs again: 5xx and upstream errors, 429 (ours or the
// upstream's), a stream that ended with an in-band error, a client that
// went away, and an answer too large to store (never truncated).
//
// A replay reaches no upstream and makes no gateway exchange: no usage
// record, nothing billed twice.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// IdemStore keeps idempotent requests and their answers; internal/cli
// adapts the store to it. Concurrent callers, in one process or on several
// replicas sharing the store, must get at most one claim per (scope, key).
type IdemStore interface {
	// Begin claims (scope, key) for a request hashing to hash, for ttl. It
	// returns nil, nil when the claim is the caller's (no record, or an
	// expired one); the record and nil when that request is done (replay
	// it); ErrIdemInFlight while it still runs; ErrIdemMismatch when the
	// key was used for a request with another hash.
	Begin(ctx context.Context, scope, key, hash string, ttl time.Duration) (*IdemRecord, error)
	// Complete stores the answer of a claimed request, to be replayed
	// until the claim expires.
	Complete(ctx context.Context, scope, key string, status int, response []byte) error
	// Release drops a claim, so that a retry runs the request again.
	Release(ctx context.Context, scope, key string) error
}

// IdemRecord is a finished idempotent request: what Complete stored.
type IdemRecord struct {
	Status   int
	Response []byte
}

// Errors of IdemStore.Begin.
var (
	ErrIdemInFlight = errors.New("idempotent request still in flight")
	ErrIdemMismatch = errors.New("idempotency key reused for a different request")
)

// IdempotencyOptions configure Idempotency-Key handling.
type IdempotencyOptions struct {
	// Store keeps the records; nil turns the feature off (the header is
	// then ignored).
	Store IdemStore
	// TTL is how long a key is remembered from its first use (default
	// 24h).
	TTL time.Duration
	// MaxBytes is the largest answer stored; a larger one releases the key
	// instead of being truncated (default 8 MiB).
	MaxBytes int
}

const (
	idemHeader       = "Idempotency-Key"
	idemReplayHeader = "Idempotent-Replayed"
	// maxIdemKeyLen is the longest Idempotency-Key accepted.
	maxIdemKeyLen = 255
	// idemStoreTimeout bounds the store write that completes or releases a
	// claim; it runs after the client's context may have ended.
	idemStoreTimeout = 5 * time.Second
)

// idemKeptHeaders are the response headers stored with an answer and
// replayed; the others (request id, rate-limit counters) belong to the
// request that carries them.
var idemKeptHeaders = []string{"Content-Type", "Cache-Control", "X-Accel-Buffering"}

func (o IdempotencyOptions) withDefaults() IdempotencyOptions {
	if o.TTL <= 0 {
		o.TTL = 24 * time.Hour
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = 8 << 20
	}
	return o
}

// validIdemKey accepts 1 to 255 printable ASCII characters.
func validIdemKey(k string) bool {
	if k == "" || len(k) > maxIdemKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// idemHash identifies a request: its endpoint path (plus ?alt=, which
// changes the format of a Gemini stream) and its body bytes.
func idemHash(r *http.Request, body []byte) string {
	h := sha256.New()
	h.Write([]byte(r.URL.Path))
	if alt := r.URL.Query().Get("alt"); alt != "" {
		h.Write([]byte("?alt=" + alt))
	}
	h.Write([]byte{0})
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// idemClaim is a request that holds its Idempotency-Key: its answer is
// captured on the way to the client and stored or released by finish.
type idemClaim struct {
	s       *Server
	ctx     context.Context
	scope   string
	key     string
	capture *idemCapture
	done    bool // finish ran
}

// idempotent handles the Idempotency-Key of a model request before it is
// run. It returns ok false when it has answered the request itself (a
// replay, or a 400, 409 or 422 in dialect d); otherwise the request runs,
// and claim, when not nil, must be finished with its outcome.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, d *dialect, key *Key, body []byte) (claim *idemClaim, ok bool) {
	vals := r.Header.Values(idemHeader)
	if s.idem.Store == nil || len(vals) == 0 || key == nil {
		return nil, true
	}
	if len(vals) > 1 || !validIdemKey(vals[0]) {
		s.writeError(w, r, d, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusBadRequest, Code: "invalid_idempotency_key",
			Message: fmt.Sprintf("the Idempotency-Key header must be sent once, with 1 to %d printable ASCII characters", maxIdemKeyLen)})
		return nil, false
	}
	ik := vals[0]
	rec := recorderOf(w)
	if rec.ResponseWriter == nil {
		return nil, true // not behind the middleware: nothing to capture with
	}
	got, err := s.idem.Store.Begin(r.Context(), key.ID, ik, idemHash(r, body), s.idem.TTL)
	switch {
	case errors.Is(err, ErrIdemInFlight):
		s.writeError(w, r, d, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusConflict, Code: "idempotency_key_in_use",
			RetryAfter: time.Second,
			Message:    fmt.Sprintf("a request with the Idempotency-Key %q is still in progress; retry once it has finished", ik)})
		return nil, false
	case errors.Is(err, ErrIdemMismatch):
		s.writeError(w, r, d, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusUnprocessableEntity, Code: "idempotency_key_reused",
			Message: fmt.Sprintf("the Idempotency-Key %q was already used for a different request (another body or endpoint); use a new key for a new request", ik)})
		return nil, false
	case err != nil:
		if r.Context().Err() != nil {
			return nil, false // the client left
		}
		// The store is down: serve without the guarantee rather than not at all.
		s.log.WarnContext(r.Context(), "idempotency store unavailable; serving the request without Idempotency-Key", "request_id", RequestID(r.Context()), "error", err)
		return nil, true
	case got != nil:
		s.idemReplay(w, r, d, got)
		return nil, false
	}
	c := &idemClaim{s: s, ctx: r.Context(), scope: key.ID, key: ik,
		capture: &idemCapture{ResponseWriter: rec.ResponseWriter, max: s.idem.MaxBytes}}
	rec.ResponseWriter = c.capture // the recorder's writes now pass through the capture
	return c, true
}

// finish stores the request's answer or releases its key; err is what the
// exchange ended with. A nil claim does nothing.
func (c *idemClaim) finish(err error) {
	if c == nil || c.done {
		return
	}
	c.done = true
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), idemStoreTimeout)
	defer cancel()
	log, id := c.s.log, RequestID(c.ctx)
	if why := c.unstorable(err); why != "" {
		if rerr := c.s.idem.Store.Release(ctx, c.scope, c.key); rerr != nil {
			log.WarnContext(ctx, "releasing an Idempotency-Key failed", "request_id", id, "error", rerr)
			return
		}
		log.DebugContext(ctx, "Idempotency-Key released", "request_id", id, "reason", why)
		return
	}
	cw := c.capture
	h := cw.ResponseWriter.Header()
	head := idemHead{Status: cw.status, Header: map[string]string{}}
	for _, k := range idemKeptHeaders {
		if v := h.Get(k); v != "" {
			head.Header[k] = v
		}
	}
	if serr := c.s.idem.Store.Complete(ctx, c.scope, c.key, cw.status, encodeIdem(head, cw.buf.Bytes())); serr != nil {
		log.WarnContext(ctx, "storing an idempotent response failed", "request_id", id, "error", serr)
	}
}

// abandon releases the key of a claim that was never finished (the
// handler panicked). A nil or finished claim does nothing.
func (c *idemClaim) abandon() {
	if c == nil || c.done {
		return
	}
	c.finish(errIdemAbandoned)
}

// errIdemAbandoned is the outcome of a request whose handler panicked.
var errIdemAbandoned = &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusInternalServerError, Message: "the request was abandoned"}

// unstorable says why the answer must not be replayed ("" when it may).
func (c *idemClaim) unstorable(err error) string {
	cw := c.capture
	switch {
	case cw.status == 0:
		return "nothing was sent"
	case cw.over:
		return fmt.Sprintf("the response exceeds the %d bytes kept for replays", cw.max)
	case err == nil && cw.status >= 200 && cw.status < 300:
		return ""
	case err == nil:
		return fmt.Sprintf("status %d", cw.status)
	}
	e := llm.AsError(err)
	if e.Kind == llm.KindCallerInvalid && e.Status == cw.status && cw.status >= 400 && cw.status < 500 {
		return "" // the upstream refused the request itself: it would again
	}
	return fmt.Sprintf("status %d, %s", cw.status, e.Kind)
}

// idemReplay answers with a stored response.
func (s *Server) idemReplay(w http.ResponseWriter, r *http.Request, d *dialect, rec *IdemRecord) {
	head, body, err := decodeIdem(rec.Response)
	if err != nil {
		s.writeError(w, r, d, &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusInternalServerError,
			Message: "the stored response of this Idempotency-Key cannot be read; use a new key"})
		s.log.ErrorContext(r.Context(), "unreadable idempotency record", "request_id", RequestID(r.Context()), "error", err)
		return
	}
	h := w.Header()
	for k, v := range head.Header {
		h.Set(k, v)
	}
	h.Set(idemReplayHeader, "true")
	if h.Get("Access-Control-Allow-Origin") != "" {
		h.Add("Access-Control-Expose-Headers", idemReplayHeader)
	}
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(s.now().Add(s.wtime))
	w.WriteHeader(head.Status)
	w.Write(body)
	rc.Flush()
	s.log.DebugContext(r.Context(), "idempotent response replayed", "request_id", RequestID(r.Context()),
		"status", head.Status, "bytes", len(body))
}

// idemCapture sits under the request's recorder and keeps a copy of what
// goes to the client, up to max bytes.
type idemCapture struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
	max    int
	over   bool // more than max bytes were written: nothing is kept
}

func (c *idemCapture) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *idemCapture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	n, err := c.ResponseWriter.Write(b)
	if !c.over {
		if c.buf.Len()+n > c.max {
			c.over = true
			c.buf = bytes.Buffer{}
		} else {
			c.buf.Write(b[:n])
		}
	}
	return n, err
}

// Unwrap lets http.ResponseController reach Flush and SetWriteDeadline.
func (c *idemCapture) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// idemHead is the first line of a stored response: its status and the
// headers to replay. The body follows after a newline.
type idemHead struct {
	V      int               `json:"v"`
	Status int               `json:"status"`
	Header map[string]string `json:"header,omitempty"`
}

// idemFormat is the version of the stored record.
const idemFormat = 1

func encodeIdem(head idemHead, body []byte) []byte {
	head.V = idemFormat
	b, _ := json.Marshal(head) // plain struct: cannot fail, and holds no newline
	out := make([]byte, 0, len(b)+1+len(body))
	out = append(out, b...)
	out = append(out, '\n')
	return append(out, body...)
}

func decodeIdem(b []byte) (idemHead, []byte, error) {
	var head idemHead
	line, body, ok := bytes.Cut(b, []byte{'\n'})
	if !ok {
		return head, nil, errors.New("no header line")
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return head, nil, fmt.Errorf("header line: %w", err)
	}
	if head.V != idemFormat || head.Status < 200 || head.Status > 599 {
		return head, nil, fmt.Errorf("unknown record version %d or status %d", head.V, head.Status)
	}
	return head, body, nil
}
