package anthropic

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/sse"
)

// NewMessagesStreamDecoder returns an llm.Stream over a streamed Messages
// response body.
//
// Every event type of the Messages stream is understood: message_start
// (EventStart with the input and cache counts), content_block_start for
// text, thinking, redacted_thinking and tool_use blocks (other block types,
// such as server_tool_use and web_search_tool_result, have no llm
// counterpart and are skipped with their deltas; llm block indexes stay
// contiguous), text_delta, input_json_delta (empty fragments dropped),
// thinking_delta, signature_delta (citations_delta is dropped),
// content_block_stop, message_delta (EventFinish, then EventUsage) and
// message_stop. ping and unknown events are ignored; an event without an
// "event:" line is typed by its data's "type".
//
// Usage is merged from message_start (input, cache read, cache write) and
// message_delta (cumulative output, and input or cache counts when present:
// compatible gateways report them there) into disjoint buckets, and each
// change is emitted as an EventUsage snapshot.
//
// An "event: error" ends the stream with an *llm.Error from Err
// (overloaded_error is provider_overloaded, rate_limit_error
// provider_rate_limited, api_error provider_server…); a body that ends
// before message_stop is a provider_server error "upstream stream ended
// early"; malformed JSON is a provider_server error. Close closes the body
// and may be called concurrently with Next to abort it.
func NewMessagesStreamDecoder(body io.ReadCloser, provider string) llm.Stream {
	return newMessagesStreamDecoder(context.Background(), body, provider)
}

func newMessagesStreamDecoder(ctx context.Context, body io.ReadCloser, provider string) *messagesStreamDecoder {
	return &messagesStreamDecoder{ctx: ctx, body: body, r: sse.NewReader(body), provider: provider}
}

type messagesStreamDecoder struct {
	ctx      context.Context
	body     io.ReadCloser
	r        *sse.Reader
	provider string

	queue []llm.Event
	qi    int
	ev    llm.Event
	err   error
	done  bool
	stop  bool // message_stop seen
	// primed is true while the first event, read ahead by prime, has not
	// been returned by Next.
	primed bool

	usage llm.Usage
	index []int // Anthropic block index → llm index, -1 for skipped blocks
	next  int   // next llm block index

	buf []byte // string unescaping

	closeOnce sync.Once
	closed    atomic.Bool
}

// prime reads the first event ahead, so that a stream that fails before
// its first event fails the provider call instead (see llm.Stream). It
// returns false with Err set when there is no first event.
func (d *messagesStreamDecoder) prime() bool {
	if !d.Next() {
		return false
	}
	d.primed = true
	return true
}

// Ready reports whether Next will return without waiting on the upstream
// (see llm.Readier).
func (d *messagesStreamDecoder) Ready() bool {
	return d.primed || d.qi < len(d.queue) || d.done || d.r.Ready()
}

// Next advances to the next event; see llm.Stream.
func (d *messagesStreamDecoder) Next() bool {
	if d.primed {
		d.primed = false
		return true
	}
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
		if !d.r.Next() {
			d.done = true
			switch {
			case d.closed.Load():
			case d.r.Err() != nil:
				d.err = llm.FromTransport(d.ctx, d.provider, d.r.Err())
			case !d.stop:
				d.err = &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway,
					Provider: d.provider, Message: "upstream stream ended early"}
			}
			return false
		}
		sev := d.r.Event()
		if err := d.handle(sev.Event, sev.Data); err != nil {
			d.err, d.done = err, true
			d.queue = d.queue[:0]
			return false
		}
		if d.stop {
			d.done = true
		}
	}
}

// Event returns the current event.
func (d *messagesStreamDecoder) Event() llm.Event { return d.ev }

// Err returns the *llm.Error that ended the stream, if any.
func (d *messagesStreamDecoder) Err() error { return d.err }

// Close closes the body. It is safe to call more than once and
// concurrently with Next.
func (d *messagesStreamDecoder) Close() error {
	var err error
	d.closeOnce.Do(func() {
		d.closed.Store(true)
		err = d.body.Close()
	})
	return err
}

func (d *messagesStreamDecoder) malformed(event string, err error) *llm.Error {
	msg := "malformed upstream event"
	if event != "" {
		msg += " " + event
	}
	if err != nil {
		msg += ": " + err.Error()
	}
	return &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway,
		Provider: d.provider, Message: msg, Err: err}
}

func (d *messagesStreamDecoder) push(ev llm.Event) { d.queue = append(d.queue, ev) }

func (d *messagesStreamDecoder) pushUsage() {
	u := d.usage
	d.push(llm.Event{Type: llm.EventUsage, Usage: &u})
}

// handle turns one SSE event into llm events on the queue.
func (d *messagesStreamDecoder) handle(name string, data []byte) error {
	if name == "ping" {
		return nil
	}
	if name == "" { // a compatible server that sends data lines only
		if len(data) == 0 {
			return nil
		}
		if !json.Valid(data) {
			return d.malformed("", nil)
		}
		name = typeOf(data)
	}
	// The events below are validated by json.Unmarshal, or, for
	// content_block_delta, by a scanner that extracts only what it needs.
	switch name {
	case "content_block_delta":
		return d.blockDelta(data)
	case "message_start":
		var w struct {
			Message wireResponse `json:"message"`
		}
		if err := json.Unmarshal(data, &w); err != nil {
			return d.malformed(name, err)
		}
		w.Message.Usage.mergeInto(&d.usage)
		u := d.usage
		d.push(llm.Event{Type: llm.EventStart, ID: w.Message.ID, Model: w.Message.Model, Usage: &u})
	case "content_block_start":
		var w struct {
			Index        *int      `json:"index"`
			ContentBlock wireBlock `json:"content_block"`
		}
		if err := json.Unmarshal(data, &w); err != nil || w.Index == nil {
			return d.malformed(name, err)
		}
		d.blockStart(*w.Index, &w.ContentBlock)
	case "content_block_stop":
		var w struct {
			Index *int `json:"index"`
		}
		if err := json.Unmarshal(data, &w); err != nil || w.Index == nil {
			return d.malformed(name, err)
		}
		if i := d.lookup(*w.Index); i >= 0 {
			d.push(llm.Event{Type: llm.EventBlockStop, Index: i})
		}
	case "message_delta":
		var w struct {
			Delta struct {
				StopReason   *string `json:"stop_reason"`
				StopSequence *string `json:"stop_sequence"`
			} `json:"delta"`
			Usage *wireUsage `json:"usage"`
		}
		if err := json.Unmarshal(data, &w); err != nil {
			return d.malformed(name, err)
		}
		if w.Delta.StopReason != nil {
			ev := llm.Event{Type: llm.EventFinish, Finish: parseStopReason(*w.Delta.StopReason)}
			if w.Delta.StopSequence != nil {
				ev.StopSequence = *w.Delta.StopSequence
			}
			d.push(ev)
		}
		if w.Usage != nil {
			w.Usage.mergeInto(&d.usage)
			d.pushUsage()
		}
	case "message_stop":
		d.stop = true
	case "error":
		typ, msg := parseErrorBody(data)
		return errorFromType(d.provider, typ, msg)
	}
	return nil
}

// blockStart opens a block, or records that the Anthropic block is skipped.
func (d *messagesStreamDecoder) blockStart(wire int, b *wireBlock) {
	if wire < 0 || wire > 1<<16 {
		return
	}
	for len(d.index) <= wire {
		d.index = append(d.index, -1)
	}
	var blk llm.Block
	switch b.Type {
	case "text":
		blk.Type = llm.BlockText
	case "thinking":
		blk.Type = llm.BlockThinking
	case "redacted_thinking":
		blk.Type, blk.Data = llm.BlockRedactedThinking, b.Data
	case "tool_use":
		blk.Type = llm.BlockToolCall
		blk.ToolCall = &llm.ToolCall{ID: b.ID, Name: b.Name}
	default:
		d.index[wire] = -1
		return
	}
	i := d.next
	d.next++
	d.index[wire] = i
	d.push(llm.Event{Type: llm.EventBlockStart, Index: i, Block: &blk})
	switch b.Type {
	case "text":
		if b.Text != "" {
			d.push(llm.Event{Type: llm.EventTextDelta, Index: i, Text: b.Text})
		}
	case "thinking":
		if b.Thinking != "" {
			d.push(llm.Event{Type: llm.EventThinkingDelta, Index: i, Text: b.Thinking})
		}
		if b.Signature != "" {
			d.push(llm.Event{Type: llm.EventSignatureDelta, Index: i, Text: b.Signature})
		}
	case "tool_use":
		// input is {} at the start of a real stream; a gateway that sends
		// the whole input up front gets it forwarded as one fragment.
		if isJSONObject(b.Input) {
			if in := compact(b.Input); string(in) != "{}" {
				d.push(llm.Event{Type: llm.EventToolArgsDelta, Index: i, Text: string(in)})
			}
		}
	}
}

func (d *messagesStreamDecoder) lookup(wire int) int {
	if wire < 0 || wire >= len(d.index) {
		return -1
	}
	return d.index[wire]
}

// blockDelta handles content_block_delta without reflection: it is the
// event that arrives once per token.
func (d *messagesStreamDecoder) blockDelta(data []byte) error {
	index := -1
	var delta []byte
	ok := eachMember(data, func(key, val []byte) {
		switch string(key) {
		case "index":
			index = parseIndex(val)
		case "delta":
			delta = val
		}
	})
	if !ok || index < 0 || delta == nil {
		return d.malformed("content_block_delta", nil)
	}
	var typ, text []byte
	ok = eachMember(delta, func(key, val []byte) {
		switch string(key) {
		case "type":
			typ = val
		case "text", "partial_json", "thinking", "signature":
			text = val
		}
	})
	if !ok || typ == nil {
		return d.malformed("content_block_delta", nil)
	}
	i := d.lookup(index)
	if i < 0 || text == nil {
		return nil
	}
	var et llm.EventType
	switch string(typ) {
	case `"text_delta"`:
		et = llm.EventTextDelta
	case `"input_json_delta"`:
		et = llm.EventToolArgsDelta
	case `"thinking_delta"`:
		et = llm.EventThinkingDelta
	case `"signature_delta"`:
		et = llm.EventSignatureDelta
	default: // citations_delta and newer delta types
		return nil
	}
	s, ok := d.unquote(text)
	if !ok {
		return d.malformed("content_block_delta", nil)
	}
	if s == "" {
		return nil
	}
	d.push(llm.Event{Type: et, Index: i, Text: s})
	return nil
}

// typeOf returns the "type" member of an object, for events that came
// without an "event:" line.
func typeOf(data []byte) string {
	var t []byte
	eachMember(data, func(key, val []byte) {
		if string(key) == "type" {
			t = val
		}
	})
	if len(t) < 2 || t[0] != '"' {
		return ""
	}
	return string(t[1 : len(t)-1])
}

// parseIndex reads a small non-negative integer; -1 when it is not one.
func parseIndex(b []byte) int {
	if len(b) == 0 || len(b) > 6 {
		return -1
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// eachMember calls fn with the raw key (without quotes) and raw value of
// every member of the JSON object b, which must be valid JSON. It returns
// false when b is not an object.
func eachMember(b []byte, fn func(key, val []byte)) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		if b[i] == '}' {
			return true
		}
		if b[i] == ',' {
			i++
			continue
		}
		if b[i] != '"' {
			return false
		}
		end := skipString(b, i)
		if end < 0 {
			return false
		}
		key := b[i+1 : end-1]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		vend := skipValue(b, i)
		if vend < 0 {
			return false
		}
		fn(key, b[i:vend])
		i = vend
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"').
func skipString(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipString(b, j)
				if j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}

// unquote decodes a raw JSON string value. Strings without escapes cost
// one allocation (the result).
func (d *messagesStreamDecoder) unquote(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	s := raw[1 : len(raw)-1]
	esc := false
	for _, c := range s {
		if c == '\\' {
			esc = true
			break
		}
	}
	if !esc {
		return string(s), true
	}
	buf, ok := unescape(d.buf[:0], s)
	d.buf = buf
	return string(buf), ok
}

// unescape appends the decoded form of the body of a JSON string.
func unescape(dst, s []byte) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(s) {
			return dst, false
		}
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(s[i+1:])
			if !ok {
				return dst, false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if i+2 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					if v, ok := hex4(s[i+3:]); ok {
						r2 = v
					}
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, false
		}
	}
	return dst, true
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}
