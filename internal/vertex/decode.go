package vertex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/sse"
)

// Finish reasons.
//
// Gemini says STOP also when it stops to call functions, so STOP with
// functionCall parts is llm.FinishToolCalls. MAX_TOKENS is FinishLength.
// The safety family (SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT,
// SPII, IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT, MODEL_ARMOR, LANGUAGE, and
// any future value naming safety, prohibited content, recitation, a block
// or Model Armor) is FinishContentFilter. OTHER, NO_IMAGE and other unknown
// values are FinishStop. MALFORMED_FUNCTION_CALL and UNEXPECTED_TOOL_CALL
// end the stream with a retryable provider_server error: the model's output
// is unusable (a client would otherwise see a silent, empty stop) and a new
// attempt usually succeeds. The raw value is kept
// (StreamDecoder.RawFinishReason) and the Client logs it.

// finishReason maps Gemini's finishReason; ok is false for the reasons
// that are errors.
func finishReason(raw string, sawCall bool) (fr llm.FinishReason, ok bool) {
	stop := llm.FinishStop
	if sawCall {
		stop = llm.FinishToolCalls
	}
	switch raw {
	case "STOP", "FINISH_REASON_UNSPECIFIED", "OTHER", "NO_IMAGE", "":
		return stop, true
	case "MAX_TOKENS":
		return llm.FinishLength, true
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "MODEL_ARMOR", "LANGUAGE":
		return llm.FinishContentFilter, true
	case "MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL":
		return "", false
	}
	for _, w := range []string{"SAFETY", "PROHIBITED", "RECITATION", "BLOCK", "ARMOR", "JAILBREAK"} {
		if strings.Contains(raw, w) {
			return llm.FinishContentFilter, true
		}
	}
	return stop, true
}

// decodeState turns GenerateContentResponse chunks into llm events. It is
// shared by the stream decoder and DecodeResponse.
type decodeState struct {
	provider   string
	started    bool
	responseID string
	next       int // index of the next block
	open       int // index of the open block, -1 when none
	openType   llm.BlockType
	openSigned bool
	sawCall    bool
	finish     string
	finishMsg  string
	usage      *UsageMetadata
	evs        []llm.Event
}

func newDecodeState(provider string) decodeState {
	return decodeState{provider: provider, open: -1}
}

func (s *decodeState) emit(ev llm.Event) { s.evs = append(s.evs, ev) }

func (s *decodeState) closeOpen() {
	if s.open >= 0 {
		s.emit(llm.Event{Type: llm.EventBlockStop, Index: s.open})
		s.open = -1
	}
}

func (s *decodeState) openBlock(t llm.BlockType) {
	s.closeOpen()
	s.open, s.openType, s.openSigned = s.next, t, false
	s.next++
	s.emit(llm.Event{Type: llm.EventBlockStart, Index: s.open, Block: &llm.Block{Type: t}})
}

// chunk folds one response chunk in. A non-nil error ends the stream after
// the events already emitted.
func (s *decodeState) chunk(r *GenerateContentResponse) *llm.Error {
	if r.Error != nil {
		return statusError(s.provider, 0, r.Error)
	}
	if !s.started {
		s.started = true
		s.responseID = r.ResponseID
		s.emit(llm.Event{Type: llm.EventStart, ID: r.ResponseID, Model: r.ModelVersion})
	}
	if r.ResponseID != "" && s.responseID == "" {
		s.responseID = r.ResponseID
	}
	if r.UsageMetadata != nil {
		s.usage = r.UsageMetadata
	}
	if pf := r.PromptFeedback; pf != nil && pf.BlockReason != "" {
		msg := "prompt blocked: " + pf.BlockReason
		if pf.BlockReasonMessage != "" {
			msg += " (" + pf.BlockReasonMessage + ")"
		}
		return &llm.Error{Kind: llm.KindCallerInvalid, Status: 400, Code: "content_filter", Message: msg,
			Provider: s.provider, UpstreamStatus: 200, UpstreamType: pf.BlockReason}
	}
	if len(r.Candidates) == 0 {
		return nil
	}
	c := r.Candidates[0]
	if c.Content != nil {
		for _, p := range c.Content.Parts {
			s.part(p)
		}
	}
	if c.FinishReason != "" {
		s.finish, s.finishMsg = c.FinishReason, c.FinishMessage
	}
	return nil
}

func (s *decodeState) part(p Part) {
	switch {
	case p.FunctionCall != nil:
		s.closeOpen()
		idx := s.next
		s.next++
		fc := p.FunctionCall
		tc := &llm.ToolCall{
			ID:        MintToolCallID(seedFor(s.responseID, idx), fc.ID, p.ThoughtSignature),
			Name:      fc.Name,
			Signature: p.ThoughtSignature,
		}
		args := bytes.TrimSpace(fc.Args)
		if len(args) == 0 || bytes.Equal(args, []byte("null")) {
			args = []byte("{}")
		} else {
			var buf bytes.Buffer
			if json.Compact(&buf, args) == nil {
				args = buf.Bytes()
			}
		}
		s.emit(llm.Event{Type: llm.EventBlockStart, Index: idx, Block: &llm.Block{Type: llm.BlockToolCall, ToolCall: tc}})
		s.emit(llm.Event{Type: llm.EventToolArgsDelta, Index: idx, Text: string(args)})
		s.emit(llm.Event{Type: llm.EventBlockStop, Index: idx})
		s.sawCall = true
	case p.Thought:
		if p.Text != "" && (s.open < 0 || s.openType != llm.BlockThinking || s.openSigned) {
			s.openBlock(llm.BlockThinking)
		}
		if p.Text != "" {
			s.emit(llm.Event{Type: llm.EventThinkingDelta, Index: s.open, Text: p.Text})
		}
		if p.ThoughtSignature != "" {
			if s.open < 0 || s.openType != llm.BlockThinking || s.openSigned {
				s.openBlock(llm.BlockThinking) // a signature-only thought part
			}
			s.emit(llm.Event{Type: llm.EventSignatureDelta, Index: s.open, Text: p.ThoughtSignature})
			s.openSigned = true
		}
	case p.Text != "":
		if s.open < 0 || s.openType != llm.BlockText {
			s.openBlock(llm.BlockText)
		}
		s.emit(llm.Event{Type: llm.EventTextDelta, Index: s.open, Text: p.Text})
		// A signature on a text part (Gemini 3 puts one on the last part of
		// an answer without function calls) is optional to replay and has no
		// neutral home: it is dropped.
	}
	// inlineData output (images), executableCode and codeExecutionResult have
	// no neutral block type and are skipped.
}

// end finishes the stream at a clean EOF.
func (s *decodeState) end() *llm.Error {
	if s.finish == "" {
		return &llm.Error{Kind: llm.KindProviderServer, Status: 502, Provider: s.provider,
			Message: "upstream stream ended early: no finish reason"}
	}
	s.closeOpen()
	fr, ok := finishReason(s.finish, s.sawCall)
	if !ok {
		msg := "gemini ended with " + s.finish
		if s.finishMsg != "" {
			msg += ": " + s.finishMsg
		}
		return &llm.Error{Kind: llm.KindProviderServer, Status: 502, Provider: s.provider, UpstreamType: s.finish, Message: msg}
	}
	if u := s.usage; u != nil {
		in := u.PromptTokenCount - u.CachedContentTokenCount + u.ToolUsePromptTokenCount
		s.emit(llm.Event{Type: llm.EventUsage, Usage: &llm.Usage{
			InputTokens:     max(in, 0),
			CacheReadTokens: u.CachedContentTokenCount,
			OutputTokens:    u.CandidatesTokenCount + u.ThoughtsTokenCount,
			ReasoningTokens: u.ThoughtsTokenCount,
		}})
	}
	s.emit(llm.Event{Type: llm.EventFinish, Finish: fr})
	return nil
}

func (s *decodeState) take() []llm.Event {
	evs := s.evs
	s.evs = nil
	return evs
}

// StreamDecoder reads a streamGenerateContent?alt=sse body: each SSE event
// is one GenerateContentResponse (events may be framed with \r\n\r\n and
// split across reads). Gemini sends no [DONE]: a clean EOF after a
// finishReason ends the stream; an EOF before one is an error.
type StreamDecoder struct {
	body io.ReadCloser
	r    *sse.Reader
	st   decodeState

	queue   []llm.Event
	cur     llm.Event
	pending *llm.Error
	err     error
	done    bool

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// NewStreamDecoder returns an llm.Stream over body (a *StreamDecoder).
// provider names the upstream in errors.
func NewStreamDecoder(body io.ReadCloser, provider string) llm.Stream {
	return &StreamDecoder{body: body, r: sse.NewReader(body), st: newDecodeState(provider)}
}

// Ready reports whether Next will return without waiting on the upstream
// (see llm.Readier).
func (d *StreamDecoder) Ready() bool {
	return len(d.queue) > 0 || d.pending != nil || d.done || d.r.Ready()
}

// Next advances to the next event.
func (d *StreamDecoder) Next() bool {
	for len(d.queue) == 0 {
		if d.pending != nil {
			d.err, d.pending = d.pending, nil
			return false
		}
		if d.done || d.closed.Load() {
			d.done = true
			return false
		}
		d.read()
	}
	d.cur = d.queue[0]
	d.queue = d.queue[1:]
	return true
}

// read consumes one SSE event (or the end of the body) into the queue.
func (d *StreamDecoder) read() {
	if !d.r.Next() {
		d.done = true
		if err := d.r.Err(); err != nil {
			if d.closed.Load() {
				return // closed by the caller: not an upstream failure
			}
			if errors.Is(err, sse.ErrTooLarge) {
				d.pending = &llm.Error{Kind: llm.KindProviderServer, Status: 502, Provider: d.st.provider, Message: "upstream event too large", Err: err}
				return
			}
			d.pending = readError(d.st.provider, err)
			return
		}
		d.pending = d.st.end()
		d.queue = append(d.queue, d.st.take()...)
		return
	}
	data := bytes.TrimSpace(d.r.Event().Data)
	if len(data) == 0 || bytes.Equal(data, []byte("[DONE]")) {
		return
	}
	var resp GenerateContentResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		d.done = true
		d.pending = &llm.Error{Kind: llm.KindProviderServer, Status: 502, Provider: d.st.provider,
			Message: fmt.Sprintf("malformed upstream event: %v", err), Err: err}
		return
	}
	if err := d.st.chunk(&resp); err != nil {
		d.done = true
		d.pending = err
	}
	d.queue = append(d.queue, d.st.take()...)
}

// Event returns the current event.
func (d *StreamDecoder) Event() llm.Event { return d.cur }

// Err returns the error that ended the stream, as an *llm.Error, or nil.
func (d *StreamDecoder) Err() error {
	if d.err == nil {
		return nil
	}
	return d.err
}

// Close closes the body. It is safe to call more than once and concurrently
// with Next, which then returns false without an error.
func (d *StreamDecoder) Close() error {
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		d.closeErr = d.body.Close()
	})
	return d.closeErr
}

// RawFinishReason returns Gemini's own finishReason ("STOP", "SAFETY", …)
// once seen, "" before.
func (d *StreamDecoder) RawFinishReason() string { return d.st.finish }

// FinishMessage returns Gemini's finishMessage, if any.
func (d *StreamDecoder) FinishMessage() string { return d.st.finishMsg }

// DecodeResponse decodes a non-streamed GenerateContentResponse, or the JSON
// array a stream produces without alt=sse, into a Response.
func DecodeResponse(body []byte) (*llm.Response, error) {
	body = bytes.TrimSpace(body)
	var chunks []json.RawMessage
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &chunks); err != nil {
			return nil, &llm.Error{Kind: llm.KindProviderServer, Status: 502, Message: "malformed upstream response: " + err.Error(), Err: err}
		}
	} else {
		chunks = []json.RawMessage{body}
	}
	st := newDecodeState("")
	var f llm.Folder
	for _, raw := range chunks {
		var resp GenerateContentResponse
		if err := json.Unmarshal(raw, &resp); err != nil {
			return nil, &llm.Error{Kind: llm.KindProviderServer, Status: 502, Message: "malformed upstream response: " + err.Error(), Err: err}
		}
		err := st.chunk(&resp)
		for _, ev := range st.take() {
			f.Add(ev)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := st.end(); err != nil {
		return nil, err
	}
	for _, ev := range st.take() {
		f.Add(ev)
	}
	return f.Response(), nil
}

// readError classifies a failure reading the body. The Client re-classifies
// it against the request's context (a client that left is a cancel).
func readError(provider string, err error) *llm.Error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &llm.Error{Kind: llm.KindProviderTimeout, Status: 504, Provider: provider, Message: "upstream timed out: " + err.Error(), Err: err}
	}
	return &llm.Error{Kind: llm.KindProviderServer, Status: 502, Provider: provider, Message: "upstream connection failed: " + err.Error(), Err: err}
}

// describeFinish is used in logs: the raw reason and message.
func describeFinish(raw, msg string) string {
	if msg == "" {
		return raw
	}
	return raw + ": " + strings.TrimSpace(msg)
}
