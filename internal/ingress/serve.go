package ingress

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rickyjim626/xjp/internal/anthropic"
	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/sse"
)

// maxCoalesce bounds the bytes of a burst written at once.
const maxCoalesce = 32 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// sessionID is the client's session, when it names one: Claude Code sends
// X-Claude-Code-Session-Id, Codex CLI session-id. Requests of one session
// stick to one route among weighted ones (prompt caches stay warm).
func sessionID(r *http.Request) string {
	if v := r.Header.Get("X-Claude-Code-Session-Id"); v != "" {
		return v
	}
	return r.Header.Get("Session-Id")
}

// budget is the key's token budget, if a limiter is set.
func (s *Server) budget(key *Key) gateway.Budget {
	if s.limiter == nil {
		return nil
	}
	return s.limiter.Budget(key)
}

// modelNotAllowed is the 403 for a model outside a key's scope.
func modelNotAllowed(key *Key, model string) *llm.Error {
	return &llm.Error{Kind: llm.KindPolicyAuth, Status: http.StatusForbidden, Code: "model_not_allowed", Param: "model",
		Message: fmt.Sprintf("the API key %q may not use the model %q", key.Name, model)}
}

// readBody reads the whole request body (the upstream call starts only
// once it is complete: handing a live body on caused cut streams under load
// in a peer gateway) and maps an oversized body to a 413.
func (s *Server) readBody(r *http.Request) ([]byte, *llm.Error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusRequestEntityTooLarge, Code: "request_too_large",
				Message: fmt.Sprintf("request body exceeds the limit of %d bytes (server.max_body_bytes)", mbe.Limit)}
		}
		return nil, &llm.Error{Kind: llm.KindCallerCanceled, Status: 499, Message: "reading the request body failed: " + err.Error()}
	}
	return body, nil
}

// serveModel is the handler of every model endpoint: decode, resolve,
// check scope and limits, run the gateway, encode.
func (s *Server) serveModel(d *dialect) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := recorderOf(w)
		body, lerr := s.readBody(r)
		if lerr != nil {
			s.writeError(w, r, d, lerr)
			return
		}
		if s.bodies {
			s.log.DebugContext(r.Context(), "request body", "request_id", RequestID(r.Context()), "body", string(body))
		}
		req, err := d.decode(body)
		if err != nil {
			s.writeError(w, r, d, err)
			return
		}
		if d == messagesDialect {
			nativeHeaders(req, r)
		}
		rec.model = req.Model
		key := KeyFrom(r.Context())
		m, err := s.gw.Resolve(req.Model)
		if err != nil {
			s.writeError(w, r, d, err)
			return
		}
		if !key.Allows(m.Name) {
			s.writeError(w, r, d, modelNotAllowed(key, m.Name))
			return
		}
		idem, ok := s.idempotent(w, r, d, key, body)
		if !ok {
			return // replayed, or refused (Idempotency-Key: 400, 409, 422)
		}
		defer idem.abandon() // a panic must not leave the key in flight

		x := s.gw.Begin(gateway.Info{
			ID: RequestID(r.Context()), KeyID: key.ID, KeyName: key.Name, Tenant: key.Tenant,
			Endpoint: d.name, Model: req.Model, Stream: req.Stream, Budget: s.budget(key), Affinity: sessionID(r),
		})
		status, err := s.exchange(w, r, d, x, m, req, key)
		idem.finish(err) // store the answer for replays, or release the key
		if req.Stream && rec.status == http.StatusOK {
			x.AddStreamBytes(rec.bytes) // xjp_stream_bytes_total
		}
		if rec.body != nil { // log.bodies
			s.log.DebugContext(r.Context(), "response body", "request_id", RequestID(r.Context()), "body", rec.body.String())
		}
		u := x.End(status, err)
		rec.usage, rec.errKind, rec.outcome = u.Usage, u.ErrorKind, u.Status
		if u.Provider != "" {
			rec.provider, rec.route = u.Provider, u.Provider+"/"+u.UpstreamModel
		}
	}
}

// exchange admits, opens and serves one request; it returns the status the
// client got and the error, if any, for the usage record.
func (s *Server) exchange(w http.ResponseWriter, r *http.Request, d *dialect, x *gateway.Exchange, m *gateway.Model, req *llm.Request, key *Key) (int, error) {
	if s.limiter != nil {
		hdr, err := s.limiter.Admit(r.Context(), key, m.Name)
		for k, v := range hdr {
			w.Header()[k] = v
		}
		if err != nil {
			s.writeError(w, r, d, err)
			return 0, err
		}
	}
	stream, err := x.Open(r.Context(), m, req)
	if err != nil {
		s.writeError(w, r, d, err)
		return 0, err
	}
	mt := meta{ID: d.idPrefix + randomID(), Model: req.Model, Created: s.now().Unix(), Request: req}
	if req.Stream {
		return s.writeStream(w, d, mt, stream)
	}
	resp, err := llm.Collect(stream)
	if err != nil {
		s.writeError(w, r, d, err)
		return 0, err
	}
	w.Header().Set("Content-Type", "application/json")
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(s.now().Add(s.wtime))
	if _, err := w.Write(d.response(resp, mt)); err != nil {
		return 499, &llm.Error{Kind: llm.KindCallerCanceled, Status: 499, Message: "client went away", Err: err}
	}
	return http.StatusOK, nil
}

// writeStream relays the stream as SSE. After the first byte nothing is
// retried: an upstream failure becomes an error event in the client's
// format.
func (s *Server) writeStream(w http.ResponseWriter, d *dialect, mt meta, stream llm.Stream) (int, error) {
	defer stream.Close()
	sse.SetHeaders(w.Header())
	if d.streamType != "" {
		w.Header().Set("Content-Type", d.streamType)
	}
	w.WriteHeader(http.StatusOK)
	sw := sse.NewWriter(w)
	enc := d.stream(mt)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:0]
	defer func() { *bp = buf[:0] }()

	write := func() error {
		if len(buf) == 0 {
			return nil
		}
		sw.SetWriteDeadline(s.now().Add(s.wtime))
		if err := sw.WriteRaw(buf); err != nil {
			return &llm.Error{Kind: llm.KindCallerCanceled, Status: 499, Message: "client went away", Err: err}
		}
		return nil
	}
	for stream.Next() {
		buf = enc.Encode(buf, stream.Event())
		// A burst the upstream already delivered goes out in one write and
		// one flush; nothing waits: the first event not yet at hand flushes.
		if len(buf) < maxCoalesce && llm.Ready(stream) {
			continue
		}
		if err := write(); err != nil {
			return 499, err
		}
		buf = buf[:0]
	}
	if err := stream.Err(); err != nil {
		e := llm.AsError(err)
		if e.Kind == llm.KindCallerCanceled {
			return 499, e
		}
		buf = enc.Encode(buf, llm.Event{Type: llm.EventError, Err: e})
		write()
		return e.Status, e
	}
	buf = enc.End(buf)
	if err := write(); err != nil {
		return 499, err
	}
	return http.StatusOK, nil
}

// writeError answers with err in the dialect's error format.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, d *dialect, err error) {
	if d.byRequest != nil {
		d = d.byRequest(r)
	}
	e := llm.AsError(err)
	rec := recorderOf(w)
	rec.errKind = e.Kind
	if e.Kind == llm.KindCallerCanceled {
		return // nobody is listening
	}
	status := e.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(status)
	w.Write(d.error(e))
}

// nativeHeaders keeps the Anthropic headers a same-dialect upstream needs.
func nativeHeaders(req *llm.Request, r *http.Request) {
	v, beta := r.Header.Get("Anthropic-Version"), r.Header.Values("Anthropic-Beta")
	if v == "" && len(beta) == 0 {
		return
	}
	if req.Native == nil {
		req.Native = &llm.Native{Dialect: llm.DialectAnthropic}
	}
	if req.Native.Headers == nil {
		req.Native.Headers = make(map[string]string, 2)
	}
	if v != "" {
		req.Native.Headers["Anthropic-Version"] = v
	}
	if len(beta) > 0 {
		joined := beta[0]
		for _, b := range beta[1:] {
			joined += "," + b
		}
		req.Native.Headers["Anthropic-Beta"] = joined
	}
}

// countTokens serves /v1/messages/count_tokens: exact from an upstream
// that counts (Anthropic), else a local count with a real tokenizer.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) {
	d := messagesDialect
	body, lerr := s.readBody(r)
	if lerr != nil {
		s.writeError(w, r, d, lerr)
		return
	}
	req, err := anthropic.DecodeCountTokensRequest(body)
	if err != nil {
		s.writeError(w, r, d, err)
		return
	}
	nativeHeaders(req, r)
	recorderOf(w).model = req.Model
	m, err := s.gw.Resolve(req.Model)
	if err != nil {
		s.writeError(w, r, d, err)
		return
	}
	if key := KeyFrom(r.Context()); !key.Allows(m.Name) {
		s.writeError(w, r, d, modelNotAllowed(key, m.Name))
		return
	}
	n, err := s.countInput(r, m, req)
	if err != nil {
		s.writeError(w, r, d, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(anthropic.EncodeCountTokensResponse(n))
}

// countInput counts a request's input tokens: exactly, from the first route
// whose upstream counts (Anthropic), else locally with a real tokenizer —
// never a made-up zero.
func (s *Server) countInput(r *http.Request, m *gateway.Model, req *llm.Request) (int64, error) {
	for _, rt := range m.Routes {
		tc, ok := rt.Provider.(gateway.TokenCounter)
		if !ok {
			continue
		}
		n, err := tc.CountTokens(r.Context(), &llm.Call{Request: req, Model: rt.Model, Headers: rt.Headers})
		if err == nil {
			return n, nil
		}
		if e := llm.AsError(err); e.Kind == llm.KindCallerInvalid && e.Code != "count_tokens_unsupported" {
			return 0, e
		}
		s.log.Debug("upstream count_tokens failed; counting locally", "route", rt.Name(), "error", err)
	}
	if s.count == nil {
		return 0, &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusNotImplemented, Message: "token counting is not available"}
	}
	return s.count(req), nil
}

// models lists the logical models: OpenAI's list format, or Anthropic's
// when the client sends anthropic-version.
func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	key := KeyFrom(r.Context())
	var ms []*gateway.Model
	for _, m := range s.gw.Table().Models() {
		if key.Allows(m.Name) {
			ms = append(ms, m)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if anthropicClient(r) {
		out := struct {
			Data    []anthropicModel `json:"data"`
			HasMore bool             `json:"has_more"`
			FirstID *string          `json:"first_id"`
			LastID  *string          `json:"last_id"`
		}{Data: []anthropicModel{}}
		for _, m := range ms {
			out.Data = append(out.Data, newAnthropicModel(m))
		}
		if n := len(out.Data); n > 0 {
			out.FirstID, out.LastID = &out.Data[0].ID, &out.Data[n-1].ID
		}
		writeJSON(w, out)
		return
	}
	out := struct {
		Object string      `json:"object"`
		Data   []modelInfo `json:"data"`
	}{Object: "list", Data: []modelInfo{}}
	for _, m := range ms {
		out.Data = append(out.Data, newModelInfo(m))
	}
	writeJSON(w, out)
}

// anthropicClient reports whether a request comes from an Anthropic
// client: they send anthropic-version on every call.
func anthropicClient(r *http.Request) bool { return r.Header.Get("Anthropic-Version") != "" }

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

func newModelInfo(m *gateway.Model) modelInfo {
	owner := "xjp"
	if len(m.Routes) > 0 {
		owner = m.Routes[0].Provider.Name()
	}
	return modelInfo{ID: m.Name, Object: "model", Created: 1735689600, OwnedBy: owner}
}

type anthropicModel struct {
	Type        string `json:"type"`
	ID          string `json:"id"`
	DisplayName string `json:"display_name"`
	CreatedAt   string `json:"created_at"`
}

func newAnthropicModel(m *gateway.Model) anthropicModel {
	return anthropicModel{Type: "model", ID: m.Name, DisplayName: m.Name, CreatedAt: "2025-01-01T00:00:00Z"}
}

// model retrieves one model, in the client's format.
func (s *Server) model(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("model")
	m, err := s.gw.Resolve(name)
	if err != nil || !KeyFrom(r.Context()).Allows(m.Name) {
		s.writeError(w, r, modelsDialect, &llm.Error{Kind: llm.KindCallerInvalid, Status: http.StatusNotFound, Code: "model_not_found",
			Message: fmt.Sprintf("the model %q does not exist", name)})
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if anthropicClient(r) {
		writeJSON(w, newAnthropicModel(m))
		return
	}
	writeJSON(w, newModelInfo(m))
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
