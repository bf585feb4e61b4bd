package openai

import (
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/tidwall/gjson"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/sse"
)

// ChatStreamDecoder reads a Chat Completions event stream from an upstream
// and yields llm events. It implements llm.Stream.
//
// It skips SSE comments (OpenRouter's ": OPENROUTER PROCESSING"), ends at
// data: [DONE], and turns chunks into block-structured events:
//   - EventStart on the first chunk (its id and model);
//   - reasoning_details (OpenRouter), else reasoning_content or reasoning,
//     into thinking blocks with signature deltas; encrypted entries become
//     redacted thinking blocks, except Gemini ones naming a tool call id,
//     which become that call's signature;
//   - content (and refusal) into text blocks;
//   - each tool call, told apart by index (or by id when a provider omits
//     the index or reuses it), into its own tool call block: a start with id
//     and name, then argument fragments. Repeated ids and names, whole
//     arguments in one chunk and text with tool calls in one chunk are fine;
//   - block indices are sequential and every started block is stopped
//     before the next starts and before EventFinish;
//   - usage, in the finish chunk or a later one, into EventUsage with
//     disjoint buckets (prompt_tokens minus cached and cache-write tokens;
//     OpenRouter's cost as CostUSD).
//
// An "error" member (OpenRouter's mid-stream errors, HTTP 200) ends the
// stream with an *llm.Error mapped from its code; so does finish_reason
// "error". A body that ends without [DONE] and without a finish_reason
// fails with KindProviderServer "upstream stream ended early"; a malformed
// chunk fails the same way. Close may be called concurrently with Next to
// abort it.
type ChatStreamDecoder struct {
	body     io.ReadCloser
	r        *sse.Reader
	provider string
	ctx      context.Context // classifies read errors; may be nil
	newID    func() string

	closed atomic.Bool

	queue []llm.Event
	qi    int
	ev    llm.Event
	err   *llm.Error
	done  bool

	started  bool
	finished bool
	refused  bool
	next     int // next block index
	open     int // open block index or -1
	openType llm.BlockType
	// thinking block state
	thinkSigned  bool
	thinkKey     string
	summaryIndex string
	// tool calls seen, in order; cur is the one whose block is open
	calls      []upCall
	cur        int
	pendingSig map[string]string
	// last usage emitted
	usage     llm.Usage
	haveUsage bool
}

type upCall struct {
	index int64 // upstream index, -1 when absent
	id    string
	block int
}

// NewChatStreamDecoder returns a stream over an upstream's SSE body.
// provider names the upstream in errors.
func NewChatStreamDecoder(body io.ReadCloser, provider string) llm.Stream {
	return newChatStreamDecoder(context.Background(), body, provider)
}

func newChatStreamDecoder(ctx context.Context, body io.ReadCloser, provider string) *ChatStreamDecoder {
	return &ChatStreamDecoder{
		body:     body,
		r:        sse.NewReader(body),
		provider: provider,
		ctx:      ctx,
		newID:    randomCallID,
		open:     -1,
		cur:      -1,
		queue:    make([]llm.Event, 0, 8),
	}
}

func randomCallID() string {
	var b [12]byte
	for i := 0; i < len(b); i += 8 {
		v := rand.Uint64()
		for j := 0; j < 8 && i+j < len(b); j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return "call_" + hex.EncodeToString(b[:])
}

// Next advances to the next event.
func (d *ChatStreamDecoder) Next() bool {
	for {
		if d.qi < len(d.queue) {
			d.ev = d.queue[d.qi]
			d.qi++
			return true
		}
		d.queue, d.qi = d.queue[:0], 0
		if d.done {
			return false
		}
		d.step()
	}
}

// Event returns the current event.
func (d *ChatStreamDecoder) Event() llm.Event { return d.ev }

// Ready reports whether Next will return without waiting on the upstream
// (see llm.Readier).
func (d *ChatStreamDecoder) Ready() bool { return d.qi < len(d.queue) || d.done || d.r.Ready() }

// Err returns the failure that ended the stream, as an *llm.Error, or nil.
func (d *ChatStreamDecoder) Err() error {
	if d.err == nil {
		return nil
	}
	return d.err
}

// Close releases the upstream body. It may be called at any time, also
// concurrently with Next, which then returns false.
func (d *ChatStreamDecoder) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	return d.body.Close()
}

// prime reads up to the first event so that a failure before it (an error
// frame, an empty body) is returned by Client.Stream, where the gateway may
// still retry, rather than from the stream.
func (d *ChatStreamDecoder) prime() error {
	if d.Next() {
		d.qi--
		return nil
	}
	if err := d.Err(); err != nil {
		return err
	}
	return d.errorf("upstream stream ended before any event")
}

func (d *ChatStreamDecoder) errorf(msg string) *llm.Error {
	return &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway, Provider: d.provider, Message: msg}
}

// step reads one SSE event and queues what it means.
func (d *ChatStreamDecoder) step() {
	if d.closed.Load() {
		d.done = true
		return
	}
	if !d.r.Next() {
		d.done = true
		switch err := d.r.Err(); {
		case d.closed.Load():
		case err != nil:
			d.err = llm.FromTransport(d.ctx, d.provider, err)
		default:
			d.end(false)
		}
		return
	}
	data := bytes.TrimSpace(d.r.Event().Data)
	switch {
	case len(data) == 0:
	case string(data) == "[DONE]":
		d.done = true
		d.end(true)
	default:
		d.chunk(data)
	}
}

// end handles the end of the body: after [DONE] (done) or at EOF.
func (d *ChatStreamDecoder) end(done bool) {
	switch {
	case d.finished:
	case done && d.started:
		d.closeOpen()
		reason := llm.FinishStop
		if len(d.calls) > 0 {
			reason = llm.FinishToolCalls
		}
		d.finish(reason)
	case done:
		d.err = d.errorf("upstream returned an empty stream")
	default:
		d.err = d.errorf("upstream stream ended early")
	}
}

func (d *ChatStreamDecoder) fail(e *llm.Error) {
	d.err, d.done = e, true
}

func (d *ChatStreamDecoder) push(ev llm.Event) { d.queue = append(d.queue, ev) }

// chunk decodes one chat.completion.chunk.
func (d *ChatStreamDecoder) chunk(data []byte) {
	if !gjson.ValidBytes(data) {
		d.fail(d.errorf("upstream sent a malformed chunk: " + truncate(string(data), 200)))
		return
	}
	s := string(data)
	root := gjson.Parse(s)
	if !root.IsObject() {
		d.fail(d.errorf("upstream sent a malformed chunk: " + truncate(s, 200)))
		return
	}
	var id, model, choices, usage, errv gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "id":
			id = v
		case "model":
			model = v
		case "choices":
			choices = v
		case "usage":
			usage = v
		case "error":
			errv = v
		}
		return true
	})
	if isError(errv) {
		d.fail(streamError(d.provider, errv))
		return
	}
	if !d.started {
		d.started = true
		d.push(llm.Event{Type: llm.EventStart, ID: id.Str, Model: model.Str})
	}
	var choice gjson.Result
	choices.ForEach(func(_, c gjson.Result) bool {
		choice = c
		return false // n = 1: the first choice
	})
	var finish gjson.Result
	if choice.Exists() && !d.finished {
		d.delta(choice.Get("delta"))
		finish = choice.Get("finish_reason")
	}
	var reason llm.FinishReason
	if finish.Type == gjson.String && finish.Str != "" {
		r, ok := parseFinish(finish.Str)
		if !ok {
			d.fail(d.errorf("upstream reported finish_reason \"error\""))
			return
		}
		if r == llm.FinishStop && d.refused {
			r = llm.FinishRefusal
		}
		reason = r
		d.closeOpen()
	}
	if usage.IsObject() {
		d.pushUsage(usage)
	}
	if reason != "" {
		d.finish(reason)
	}
}

func (d *ChatStreamDecoder) finish(r llm.FinishReason) {
	d.finished = true
	d.push(llm.Event{Type: llm.EventFinish, Finish: r})
}

// delta handles choices[0].delta: reasoning, then text, then tool calls.
func (d *ChatStreamDecoder) delta(delta gjson.Result) {
	if !delta.IsObject() {
		return
	}
	var content, refusal, rc, rs, details, tcs gjson.Result
	delta.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "content":
			content = v
		case "refusal":
			refusal = v
		case "reasoning_content":
			rc = v
		case "reasoning":
			rs = v
		case "reasoning_details":
			details = v
		case "tool_calls":
			tcs = v
		}
		return true
	})
	if details.IsArray() && len(details.Raw) > 2 {
		d.details(details)
	} else if rc.Type == gjson.String && rc.Str != "" {
		d.thinking(rc.Str, "")
	} else if rs.Type == gjson.String && rs.Str != "" {
		d.thinking(rs.Str, "")
	}
	if content.Type == gjson.String && content.Str != "" {
		d.text(content.Str)
	}
	if refusal.Type == gjson.String && refusal.Str != "" {
		d.refused = true
		d.text(refusal.Str)
	}
	if tcs.IsArray() {
		tcs.ForEach(func(_, tc gjson.Result) bool {
			d.toolCall(tc)
			return true
		})
	}
}

func (d *ChatStreamDecoder) details(details gjson.Result) {
	details.ForEach(func(_, e gjson.Result) bool {
		if !e.IsObject() {
			return true
		}
		idx := e.Get("index").Raw
		switch e.Get("type").Str {
		case "reasoning.text":
			if t := e.Get("text").Str; t != "" {
				d.thinking(t, "text:"+idx)
			}
			if sig := e.Get("signature").Str; sig != "" {
				d.signature(sig, "text:"+idx)
			}
		case "reasoning.summary":
			t := e.Get("summary").Str
			if t == "" {
				return true
			}
			if d.openType == llm.BlockThinking && d.thinkKey == "summary" && idx != d.summaryIndex {
				t = "\n\n" + t
			}
			d.summaryIndex = idx
			d.thinking(t, "summary")
		case "reasoning.encrypted":
			data := e.Get("data").Str
			if data == "" {
				return true
			}
			if id := e.Get("id").Str; id != "" && strings.HasPrefix(e.Get("format").Str, "google-gemini") {
				if d.pendingSig == nil {
					d.pendingSig = make(map[string]string)
				}
				d.pendingSig[id] = data
				return true
			}
			d.closeOpen()
			i := d.next
			d.next++
			d.push(llm.Event{Type: llm.EventBlockStart, Index: i, Block: &llm.Block{Type: llm.BlockRedactedThinking, Data: data}})
			d.push(llm.Event{Type: llm.EventBlockStop, Index: i})
		}
		return true
	})
}

// thinking appends reasoning text, opening a thinking block when none is
// open, the open one is already signed, or the text belongs to another
// reasoning entry (key).
func (d *ChatStreamDecoder) thinking(text, key string) {
	if d.openType != llm.BlockThinking || d.thinkSigned || (key != "" && d.thinkKey != "" && key != d.thinkKey) {
		d.startBlock(&llm.Block{Type: llm.BlockThinking})
		d.thinkKey = key
	} else if key != "" {
		d.thinkKey = key
	}
	d.push(llm.Event{Type: llm.EventThinkingDelta, Index: d.open, Text: text})
}

// signature closes the open thinking block's text with its signature. A
// signature with no thinking block open starts an empty one to carry it.
func (d *ChatStreamDecoder) signature(sig, key string) {
	if d.openType != llm.BlockThinking || d.thinkSigned {
		d.startBlock(&llm.Block{Type: llm.BlockThinking})
		d.thinkKey = key
	}
	d.thinkSigned = true
	d.push(llm.Event{Type: llm.EventSignatureDelta, Index: d.open, Text: sig})
}

func (d *ChatStreamDecoder) text(text string) {
	if d.openType != llm.BlockText {
		d.startBlock(&llm.Block{Type: llm.BlockText})
	}
	d.push(llm.Event{Type: llm.EventTextDelta, Index: d.open, Text: text})
}

func (d *ChatStreamDecoder) toolCall(tc gjson.Result) {
	if !tc.IsObject() {
		return
	}
	var index int64 = -1
	if v := tc.Get("index"); v.Type == gjson.Number {
		index = v.Int()
	}
	id := tc.Get("id").Str
	var name, typ string
	var args gjson.Result
	if c := tc.Get("custom"); c.IsObject() {
		typ, name, args = "custom", c.Get("name").Str, c.Get("input")
	} else {
		fn := tc.Get("function")
		name, args = fn.Get("name").Str, fn.Get("arguments")
	}
	argText := args.Str
	if args.IsObject() { // some servers send the arguments as an object
		argText = args.Raw
	}

	ci := -1
	switch {
	case index >= 0:
		for i := len(d.calls) - 1; i >= 0; i-- {
			if d.calls[i].index == index {
				ci = i
				break
			}
		}
	case id != "":
		for i := len(d.calls) - 1; i >= 0; i-- {
			if d.calls[i].id == id {
				ci = i
				break
			}
		}
	default:
		ci = d.cur
		if ci < 0 {
			ci = len(d.calls) - 1
		}
	}
	if ci >= 0 && id != "" && d.calls[ci].id != id {
		ci = -1 // a new call reusing the index
	}
	if ci < 0 {
		if id == "" {
			id = d.newID()
		}
		call := &llm.ToolCall{ID: id, Name: name, Type: typ}
		if sig, ok := d.pendingSig[id]; ok {
			call.Signature = sig
			delete(d.pendingSig, id)
		}
		d.startBlock(&llm.Block{Type: llm.BlockToolCall, ToolCall: call})
		d.calls = append(d.calls, upCall{index: index, id: id, block: d.open})
		d.cur = len(d.calls) - 1
		ci = d.cur
	}
	// Fragments for a call whose block was already stopped (a provider
	// interleaving parallel calls) still go to that call's block index:
	// dropping them would lose arguments, and folders key deltas by index.
	if argText != "" {
		d.push(llm.Event{Type: llm.EventToolArgsDelta, Index: d.calls[ci].block, Text: argText})
	}
}

// startBlock stops the open block and starts b as the next one.
func (d *ChatStreamDecoder) startBlock(b *llm.Block) {
	d.closeOpen()
	d.open = d.next
	d.openType = b.Type
	d.next++
	d.push(llm.Event{Type: llm.EventBlockStart, Index: d.open, Block: b})
}

func (d *ChatStreamDecoder) closeOpen() {
	if d.open < 0 {
		return
	}
	d.push(llm.Event{Type: llm.EventBlockStop, Index: d.open})
	d.open, d.openType, d.cur = -1, 0, -1
	d.thinkSigned, d.thinkKey, d.summaryIndex = false, "", ""
}

func (d *ChatStreamDecoder) pushUsage(v gjson.Result) {
	u := parseUsage(v)
	if d.haveUsage && sameUsage(u, d.usage) {
		return
	}
	d.usage, d.haveUsage = u, true
	d.push(llm.Event{Type: llm.EventUsage, Usage: &u})
}

// parseUsage reads an OpenAI usage object into disjoint buckets.
func parseUsage(v gjson.Result) llm.Usage {
	var u llm.Usage
	var prompt, cached, written int64
	v.ForEach(func(k, f gjson.Result) bool {
		switch k.Str {
		case "prompt_tokens":
			prompt = f.Int()
		case "completion_tokens":
			u.OutputTokens = f.Int()
		case "prompt_tokens_details":
			if c := f.Get("cached_tokens"); c.Exists() {
				cached = c.Int()
			}
			written = f.Get("cache_write_tokens").Int()
		case "prompt_cache_hit_tokens": // DeepSeek
			if cached == 0 {
				cached = f.Int()
			}
		case "completion_tokens_details":
			u.ReasoningTokens = f.Get("reasoning_tokens").Int()
		case "cost": // OpenRouter
			if f.Type == gjson.Number {
				c := f.Num
				u.CostUSD = &c
			}
		}
		return true
	})
	u.CacheReadTokens, u.CacheWriteTokens = cached, written
	u.InputTokens = max(prompt-cached-written, 0)
	return u
}

func sameUsage(a, b llm.Usage) bool {
	if (a.CostUSD == nil) != (b.CostUSD == nil) || a.CostUSD != nil && *a.CostUSD != *b.CostUSD {
		return false
	}
	a.CostUSD, b.CostUSD = nil, nil
	return a == b
}

func isError(v gjson.Result) bool {
	switch {
	case v.Type == gjson.String:
		return v.Str != ""
	case v.IsObject():
		return len(v.Raw) > 2 && strings.TrimSpace(v.Raw[1:len(v.Raw)-1]) != ""
	}
	return false
}

// streamError maps an error object sent in a 200 stream (OpenRouter:
// {"code": 502 or "server_error", "message", "metadata": {"error_type"}})
// to an *llm.Error: numeric codes are HTTP statuses, string codes and types
// are classified by name.
func streamError(provider string, v gjson.Result) *llm.Error {
	msg := v.Str
	var code gjson.Result
	var typ string
	if v.IsObject() {
		msg = v.Get("message").Str
		code = v.Get("code")
		typ = v.Get("type").Str
		if typ == "" {
			typ = v.Get("metadata.error_type").Str
		}
		if raw := v.Get("metadata.raw"); raw.Type == gjson.String && raw.Str != "" && raw.Str != msg {
			msg = joinMessage(msg, truncate(raw.Str, maxErrorMessage))
		}
	}
	if msg == "" {
		msg = "upstream stream failed"
	}
	var e *llm.Error
	if code.Type == gjson.Number {
		e = llm.FromStatus(provider, int(code.Int()), msg)
	} else {
		e = llm.FromStatus(provider, statusForCode(code.Str+" "+typ), msg)
		e.Code = code.Str
	}
	e.UpstreamType = typ
	return e
}

// statusForCode guesses the HTTP status an error code or type stands for.
func statusForCode(s string) int {
	s = strings.ToLower(s)
	switch {
	case strings.Contains(s, "insufficient_quota"), strings.Contains(s, "rate_limit"):
		return http.StatusTooManyRequests
	case strings.Contains(s, "overloaded"), strings.Contains(s, "unavailable"), strings.Contains(s, "capacity"):
		return http.StatusServiceUnavailable
	case strings.Contains(s, "timeout"):
		return http.StatusGatewayTimeout
	case strings.Contains(s, "auth"), strings.Contains(s, "api_key"), strings.Contains(s, "permission"):
		return http.StatusUnauthorized
	case strings.Contains(s, "context_length"), strings.Contains(s, "invalid_request"), strings.Contains(s, "bad_request"):
		return http.StatusBadRequest
	}
	return http.StatusBadGateway
}
