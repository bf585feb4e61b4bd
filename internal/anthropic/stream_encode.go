package anthropic

import (
	"slices"

	"github.com/rickyjim626/xjp/internal/llm"
)

// MessagesStreamEncoder turns llm events into the server-sent events of a
// streamed Messages response. It is a state machine with no I/O; the
// caller writes what Encode and End append.
//
// The output is the sequence the official SDKs parse, every event with its
// "event:" line (the SDKs ignore events without one): message_start (the
// message with empty content and the usage known at the start, output_tokens
// a placeholder of 1), then per content block content_block_start, deltas
// (text_delta, input_json_delta, thinking_delta, signature_delta) and
// content_block_stop, a ping after the first content_block_start, and at
// End message_delta (stop_reason, stop_sequence and cumulative usage) and
// message_stop.
//
// Content block indexes are the encoder's own, contiguous from 0 in order of
// content_block_start; llm blocks it cannot render are skipped without
// using an index, and blocks still open at End are closed. message_delta is
// deferred to End because OpenAI upstreams send usage after the finish
// reason; its usage carries output_tokens and, when they differ from what
// message_start said (OpenAI upstreams report input only at the end), the
// input and cache counts, which the SDKs copy over message_start's. An
// EventError becomes an "event: error" and nothing follows it.
//
// A MessagesStreamEncoder is not safe for concurrent use.
type MessagesStreamEncoder struct {
	meta ResponseMeta

	started bool // message_start written
	pinged  bool
	done    bool // End or an error was written

	next   int          // next content block index on the wire
	blocks []blockState // by llm block index

	start      llm.Usage // usage written in message_start
	usage      llm.Usage // latest snapshot
	finish     llm.FinishReason
	stopSeq    string
	haveFinish bool
	toolUse    bool // a tool_use block was written
}

type blockState struct {
	used bool // the llm index was seen
	skip bool // a block the encoder does not render
	open bool
	typ  llm.BlockType
	wire int
}

// NewMessagesStreamEncoder returns an encoder for one response.
func NewMessagesStreamEncoder(meta ResponseMeta) *MessagesStreamEncoder {
	return &MessagesStreamEncoder{meta: meta}
}

// Encode appends the wire form of ev to dst.
func (e *MessagesStreamEncoder) Encode(dst []byte, ev llm.Event) []byte {
	if e.done {
		return dst
	}
	switch ev.Type {
	case llm.EventStart:
		if e.started {
			return dst
		}
		if e.meta.ID == "" {
			e.meta.ID = messageID("", ev.ID)
		}
		if e.meta.Model == "" {
			e.meta.Model = ev.Model
		}
		if ev.Usage != nil {
			e.start, e.usage = *ev.Usage, *ev.Usage
		}
		return e.messageStart(dst)
	case llm.EventError:
		e.done = true
		return appendErrorEvent(dst, ev.Err)
	}
	dst = e.ensureStarted(dst)
	switch ev.Type {
	case llm.EventBlockStart:
		dst = e.blockStart(dst, ev.Index, ev.Block)
	case llm.EventTextDelta:
		dst = e.delta(dst, ev.Index, llm.BlockText, "text_delta", "text", ev.Text)
	case llm.EventThinkingDelta:
		dst = e.delta(dst, ev.Index, llm.BlockThinking, "thinking_delta", "thinking", ev.Text)
	case llm.EventSignatureDelta:
		dst = e.delta(dst, ev.Index, llm.BlockThinking, "signature_delta", "signature", ev.Text)
	case llm.EventToolArgsDelta:
		dst = e.delta(dst, ev.Index, llm.BlockToolCall, "input_json_delta", "partial_json", ev.Text)
	case llm.EventBlockStop:
		dst = e.blockStop(dst, ev.Index)
	case llm.EventUsage:
		if ev.Usage != nil {
			e.usage = *ev.Usage
		}
	case llm.EventFinish:
		e.finish, e.stopSeq, e.haveFinish = ev.Finish, ev.StopSequence, true
	}
	return dst
}

// End appends what ends a normal stream: content_block_stop for blocks
// still open, message_delta and message_stop. It appends nothing after an
// error or a previous End.
func (e *MessagesStreamEncoder) End(dst []byte) []byte {
	if e.done {
		return dst
	}
	dst = e.ensureStarted(dst)
	var open []int
	for i := range e.blocks {
		if e.blocks[i].open {
			open = append(open, i)
		}
	}
	slices.SortFunc(open, func(a, b int) int { return e.blocks[a].wire - e.blocks[b].wire })
	for _, i := range open {
		dst = e.blockStop(dst, i)
	}
	e.done = true

	reason := "end_turn"
	switch {
	case e.haveFinish:
		reason = stopReason(e.finish)
	case e.toolUse:
		reason = "tool_use"
	}
	dst = append(dst, "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"...)
	dst = appendString(dst, reason)
	dst = append(dst, `,"stop_sequence":`...)
	if e.haveFinish && e.finish == llm.FinishStopSequence && e.stopSeq != "" {
		dst = appendString(dst, e.stopSeq)
	} else {
		dst = append(dst, "null"...)
	}
	u := e.usage
	dst = append(dst, `},"usage":{"output_tokens":`...)
	dst = appendInt(dst, u.OutputTokens)
	if u.InputTokens != e.start.InputTokens && u.InputTokens > 0 {
		dst = append(dst, `,"input_tokens":`...)
		dst = appendInt(dst, u.InputTokens)
	}
	if u.CacheWriteTokens != e.start.CacheWriteTokens && u.CacheWriteTokens > 0 {
		dst = append(dst, `,"cache_creation_input_tokens":`...)
		dst = appendInt(dst, u.CacheWriteTokens)
	}
	if u.CacheReadTokens != e.start.CacheReadTokens && u.CacheReadTokens > 0 {
		dst = append(dst, `,"cache_read_input_tokens":`...)
		dst = appendInt(dst, u.CacheReadTokens)
	}
	if u.ReasoningTokens > 0 {
		dst = append(dst, `,"output_tokens_details":{"thinking_tokens":`...)
		dst = appendInt(dst, u.ReasoningTokens)
		dst = append(dst, '}')
	}
	dst = append(dst, "}}\n\n"...)
	return append(dst, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"...)
}

func (e *MessagesStreamEncoder) ensureStarted(dst []byte) []byte {
	if e.started {
		return dst
	}
	if e.meta.ID == "" {
		e.meta.ID = newID("msg_")
	}
	return e.messageStart(dst)
}

func (e *MessagesStreamEncoder) messageStart(dst []byte) []byte {
	e.started = true
	if e.meta.ID == "" {
		e.meta.ID = newID("msg_")
	}
	u := e.start
	if u.OutputTokens == 0 {
		u.OutputTokens = 1 // placeholder: the real count comes in message_delta
	}
	u.ReasoningTokens = 0
	dst = append(dst, "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":"...)
	dst = appendString(dst, e.meta.ID)
	dst = append(dst, `,"type":"message","role":"assistant","model":`...)
	dst = appendString(dst, e.meta.Model)
	dst = append(dst, `,"content":[],"stop_reason":null,"stop_sequence":null,"usage":`...)
	dst = appendUsage(dst, u)
	return append(dst, "}}\n\n"...)
}

// state returns the state of llm block i, growing the table.
func (e *MessagesStreamEncoder) state(i int) *blockState {
	if i < 0 || i > 1<<16 {
		return nil
	}
	if i >= len(e.blocks) {
		e.blocks = append(e.blocks, make([]blockState, i+1-len(e.blocks))...)
	}
	return &e.blocks[i]
}

func (e *MessagesStreamEncoder) blockStart(dst []byte, i int, b *llm.Block) []byte {
	s := e.state(i)
	if s == nil {
		return dst
	}
	if s.open {
		dst = e.blockStop(dst, i)
	}
	s.used = true
	if b == nil {
		s.skip = true
		return dst
	}
	switch b.Type {
	case llm.BlockText, llm.BlockThinking, llm.BlockRedactedThinking:
	case llm.BlockToolCall:
		if b.ToolCall == nil {
			s.skip = true
			return dst
		}
	default:
		s.skip = true
		return dst
	}
	*s = blockState{used: true, open: true, typ: b.Type, wire: e.next}
	e.next++
	dst = append(dst, "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":"...)
	dst = appendInt(dst, int64(s.wire))
	dst = append(dst, `,"content_block":`...)
	switch b.Type {
	case llm.BlockText:
		dst = append(dst, `{"type":"text","text":""}`...)
	case llm.BlockThinking:
		dst = append(dst, `{"type":"thinking","thinking":"","signature":""}`...)
	case llm.BlockRedactedThinking:
		dst = append(dst, `{"type":"redacted_thinking","data":`...)
		dst = appendString(dst, b.Data)
		dst = append(dst, '}')
	case llm.BlockToolCall:
		id := b.ToolCall.ID
		if id == "" {
			id = newID("toolu_")
		}
		e.toolUse = true
		dst = append(dst, `{"type":"tool_use","id":`...)
		dst = appendString(dst, id)
		dst = append(dst, `,"name":`...)
		dst = appendString(dst, b.ToolCall.Name)
		dst = append(dst, `,"input":{}}`...)
	}
	dst = append(dst, "}\n\n"...)
	if !e.pinged {
		e.pinged = true
		dst = append(dst, "event: ping\ndata: {\"type\":\"ping\"}\n\n"...)
	}
	if b.Type == llm.BlockToolCall && b.ToolCall.Arguments != "" {
		dst = e.appendDelta(dst, s.wire, "input_json_delta", "partial_json", b.ToolCall.Arguments)
	}
	return dst
}

func (e *MessagesStreamEncoder) delta(dst []byte, i int, typ llm.BlockType, deltaType, field, text string) []byte {
	if text == "" {
		return dst
	}
	s := e.state(i)
	if s == nil || s.skip {
		return dst
	}
	if !s.open || s.typ != typ {
		// A delta without its block start: text and thinking can be opened
		// here; a tool call cannot (its id and name are unknown).
		if typ != llm.BlockText && !(typ == llm.BlockThinking && deltaType == "thinking_delta") {
			return dst
		}
		dst = e.blockStart(dst, i, &llm.Block{Type: typ})
	}
	return e.appendDelta(dst, s.wire, deltaType, field, text)
}

func (e *MessagesStreamEncoder) appendDelta(dst []byte, wire int, deltaType, field, text string) []byte {
	dst = append(dst, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"...)
	dst = appendInt(dst, int64(wire))
	dst = append(dst, `,"delta":{"type":"`...)
	dst = append(dst, deltaType...)
	dst = append(dst, `","`...)
	dst = append(dst, field...)
	dst = append(dst, `":`...)
	dst = appendString(dst, text)
	return append(dst, "}}\n\n"...)
}

func (e *MessagesStreamEncoder) blockStop(dst []byte, i int) []byte {
	s := e.state(i)
	if s == nil || !s.open {
		return dst
	}
	s.open = false
	dst = append(dst, "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":"...)
	dst = appendInt(dst, int64(s.wire))
	return append(dst, "}\n\n"...)
}

// appendErrorEvent appends an "event: error" for err.
func appendErrorEvent(dst []byte, err *llm.Error) []byte {
	if err == nil {
		err = &llm.Error{Kind: llm.KindProviderServer, Status: 502, Message: "stream failed"}
	}
	dst = append(dst, "event: error\ndata: "...)
	dst = appendErrorBody(dst, err)
	return append(dst, "\n\n"...)
}
