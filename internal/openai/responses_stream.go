package openai

import (
	"strconv"
	"strings"

	"github.com/rickyjim626/xjp/internal/llm"
)

// ResponsesStreamEncoder turns llm stream events into the Responses API's
// typed server-sent events. It is a state machine without I/O: Encode
// appends the wire bytes for one event, End appends what closes a normal
// stream. It is not safe for concurrent use.
//
// Every event has an "event:" line and a JSON body whose "type" repeats it,
// with a "sequence_number" counting from 0. The order is the reference's:
//
//   - response.created, response.in_progress (before anything else);
//   - per text block: response.output_item.added (a message item; a text
//     block right after another one continues the same message as its next
//     content part), response.content_part.added, response.output_text.delta
//     …, response.output_text.done, response.content_part.done;
//   - per thinking block: output_item.added (a reasoning item), then, when
//     it has text, response.reasoning_summary_part.added,
//     response.reasoning_summary_text.delta …, .done,
//     response.reasoning_summary_part.done; redacted thinking is a reasoning
//     item without summary;
//   - per tool call: (a reasoning item carrying its Gemini thought signature
//     when the client keeps encrypted reasoning), output_item.added (a
//     function_call item with call_id and name; namespaced tools with their
//     namespace), response.function_call_arguments.delta …, .done; calls of
//     the request's custom tools are custom_tool_call items with
//     response.custom_tool_call_input.delta/.done (when the upstream
//     answered in the function form the input is unwrapped at the end of
//     the block and sent as one delta);
//   - response.output_item.done for an item when the next block starts or
//     the answer finishes (so a truncated last message is "incomplete");
//   - at End: response.completed with the whole response object and usage,
//     or response.incomplete (incomplete_details max_output_tokens or
//     content_filter).
//
// An llm.EventError becomes an "error" event followed by "response.failed"
// (status failed, error {code, message}, the output so far): the openai SDKs
// do not fail on the error event alone. Nothing follows it. A delta is only
// ever sent for an item announced with response.output_item.added; deltas of
// blocks never started are dropped, except text and thinking, whose block is
// opened implicitly.
type ResponsesStreamEncoder struct {
	meta    ResponsesMeta
	ib      *itemBuilder
	seq     int64
	started bool
	stopped bool // response.completed/incomplete/failed was written
	blocks  map[int]*streamBlock
	finish  llm.FinishReason
	usage   *llm.Usage
}

// streamBlock is the state of one llm content block.
type streamBlock struct {
	typ     llm.BlockType
	item    *outItem
	content int  // content index of a text block in its message
	summary bool // reasoning summary part opened
	wrapped bool // custom tool answered as a function: buffered until stop
	stopped bool
}

// NewResponsesStreamEncoder returns an encoder for one response.
func NewResponsesStreamEncoder(meta ResponsesMeta) *ResponsesStreamEncoder {
	return &ResponsesStreamEncoder{meta: meta, ib: newItemBuilder(meta), blocks: map[int]*streamBlock{}}
}

// Encode appends the wire bytes for ev to dst (possibly none) and returns
// the extended slice.
func (e *ResponsesStreamEncoder) Encode(dst []byte, ev llm.Event) []byte {
	if e.stopped {
		return dst
	}
	dst = e.start(dst)
	switch ev.Type {
	case llm.EventBlockStart:
		if ev.Block == nil || ev.Index < 0 || ev.Index >= maxBlockIndex || e.blocks[ev.Index] != nil {
			return dst
		}
		dst = e.blockStart(dst, ev.Index, ev.Block)
	case llm.EventTextDelta:
		if ev.Text == "" {
			return dst
		}
		b := e.implicit(&dst, ev.Index, llm.BlockText)
		if b == nil || b.typ != llm.BlockText || b.stopped {
			return dst
		}
		it := b.item
		it.texts[b.content].WriteString(ev.Text)
		dst = e.open(dst, "response.output_text.delta")
		dst = e.itemRef(dst, it)
		dst = appendIntField(dst, "content_index", int64(b.content))
		dst = appendStringField(dst, "delta", ev.Text)
		dst = append(dst, `,"logprobs":[]`...)
		dst = e.close(dst)
	case llm.EventThinkingDelta:
		if ev.Text == "" {
			return dst
		}
		b := e.implicit(&dst, ev.Index, llm.BlockThinking)
		if b == nil || b.typ != llm.BlockThinking || b.stopped {
			return dst
		}
		if !b.summary {
			b.summary = true
			b.item.hasText = true
			dst = e.open(dst, "response.reasoning_summary_part.added")
			dst = e.itemRef(dst, b.item)
			dst = append(dst, `,"part":{"type":"summary_text","text":""},"summary_index":0`...)
			dst = e.close(dst)
		}
		b.item.text.WriteString(ev.Text)
		dst = e.open(dst, "response.reasoning_summary_text.delta")
		dst = e.itemRef(dst, b.item)
		dst = append(dst, `,"summary_index":0`...)
		dst = appendStringField(dst, "delta", ev.Text)
		dst = e.close(dst)
	case llm.EventSignatureDelta:
		if b := e.blocks[ev.Index]; b != nil && b.typ == llm.BlockThinking && !b.stopped {
			b.item.signature += ev.Text
		}
	case llm.EventToolArgsDelta:
		b := e.blocks[ev.Index]
		if ev.Text == "" || b == nil || b.typ != llm.BlockToolCall || b.stopped {
			return dst
		}
		dst = e.args(dst, b, ev.Text)
	case llm.EventBlockStop:
		if b := e.blocks[ev.Index]; b != nil && !b.stopped {
			dst = e.blockStop(dst, b)
		}
	case llm.EventUsage:
		if ev.Usage != nil {
			u := *ev.Usage
			e.usage = &u
		}
	case llm.EventFinish:
		e.finish = ev.Finish
		dst = e.finishItems(dst)
	case llm.EventError:
		dst = e.fail(dst, ev.Err)
	}
	return dst
}

// End appends what ends a normal stream: response.completed, or
// response.incomplete when the answer was cut short. After a failure it
// appends nothing.
func (e *ResponsesStreamEncoder) End(dst []byte) []byte {
	if e.stopped {
		return dst
	}
	dst = e.start(dst)
	dst = e.finishItems(dst)
	e.stopped = true
	status, reason := responseStatus(e.finish)
	typ := "response.completed"
	if status == "incomplete" {
		typ = "response.incomplete"
	}
	u := llm.Usage{}
	if e.usage != nil {
		u = *e.usage
	}
	dst = e.open(dst, typ)
	dst = appendKey(dst, "response")
	dst = appendResponseObject(dst, e.meta, responseState{status: status, reason: reason, items: e.ib.items, ib: e.ib, usage: &u})
	return e.close(dst)
}

// start writes response.created and response.in_progress once.
func (e *ResponsesStreamEncoder) start(dst []byte) []byte {
	if e.started {
		return dst
	}
	e.started = true
	for _, typ := range [...]string{"response.created", "response.in_progress"} {
		dst = e.open(dst, typ)
		dst = appendKey(dst, "response")
		dst = appendResponseObject(dst, e.meta, responseState{status: "in_progress", ib: e.ib})
		dst = e.close(dst)
	}
	return dst
}

// implicit returns block i, opening it as typ when a delta arrives for a
// block that never started.
func (e *ResponsesStreamEncoder) implicit(dst *[]byte, i int, typ llm.BlockType) *streamBlock {
	if b := e.blocks[i]; b != nil {
		return b
	}
	if i < 0 || i >= maxBlockIndex {
		return nil
	}
	*dst = e.blockStart(*dst, i, &llm.Block{Type: typ})
	return e.blocks[i]
}

func (e *ResponsesStreamEncoder) blockStart(dst []byte, i int, blk *llm.Block) []byte {
	b := &streamBlock{typ: blk.Type}
	switch blk.Type {
	case llm.BlockText:
		// A text block right after a finished one continues its message.
		if last := e.ib.last(); last != nil && last.kind == itemMessage && !last.done && e.allStopped() {
			b.item, b.content = last, len(last.texts)
		} else {
			dst = e.flush(dst, "completed")
			b.item = e.ib.newItem(itemMessage)
			dst = e.itemAdded(dst, b.item)
		}
		b.item.texts = append(b.item.texts, new(strings.Builder))
		dst = e.open(dst, "response.content_part.added")
		dst = e.itemRef(dst, b.item)
		dst = appendIntField(dst, "content_index", int64(b.content))
		dst = append(dst, `,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}`...)
		dst = e.close(dst)
	case llm.BlockThinking, llm.BlockRedactedThinking:
		dst = e.flush(dst, "completed")
		b.item = e.ib.newItem(itemReasoning)
		b.item.data = blk.Data
		dst = e.itemAdded(dst, b.item)
	case llm.BlockToolCall:
		if blk.ToolCall == nil {
			return dst
		}
		dst = e.flush(dst, "completed")
		n := len(e.ib.items)
		b.item, b.wrapped = e.ib.toolCall(blk.ToolCall, "")
		for _, it := range e.ib.items[n : len(e.ib.items)-1] { // the signature carrier
			it.status = "completed"
			dst = e.itemAdded(dst, it)
			dst = e.itemDone(dst, it)
		}
		dst = e.itemAdded(dst, b.item)
		if blk.ToolCall.Arguments != "" {
			dst = e.args(dst, b, blk.ToolCall.Arguments)
		}
	default:
		return dst
	}
	e.blocks[i] = b
	return dst
}

// args appends an argument fragment of a tool call block.
func (e *ResponsesStreamEncoder) args(dst []byte, b *streamBlock, frag string) []byte {
	b.item.args.WriteString(frag)
	if b.wrapped {
		return dst // unwrapped when the block stops
	}
	typ := "response.function_call_arguments.delta"
	if b.item.kind == itemCustomCall {
		typ = "response.custom_tool_call_input.delta"
	}
	dst = e.open(dst, typ)
	dst = e.itemRef(dst, b.item)
	dst = appendStringField(dst, "delta", frag)
	return e.close(dst)
}

func (e *ResponsesStreamEncoder) blockStop(dst []byte, b *streamBlock) []byte {
	b.stopped = true
	it := b.item
	switch b.typ {
	case llm.BlockText:
		text := it.texts[b.content].String()
		dst = e.open(dst, "response.output_text.done")
		dst = e.itemRef(dst, it)
		dst = appendIntField(dst, "content_index", int64(b.content))
		dst = appendStringField(dst, "text", text)
		dst = append(dst, `,"logprobs":[]`...)
		dst = e.close(dst)
		dst = e.open(dst, "response.content_part.done")
		dst = e.itemRef(dst, it)
		dst = appendIntField(dst, "content_index", int64(b.content))
		dst = appendKey(dst, "part")
		dst = appendOutputText(dst, text)
		dst = e.close(dst)
	case llm.BlockThinking, llm.BlockRedactedThinking:
		if b.summary {
			text := it.text.String()
			dst = e.open(dst, "response.reasoning_summary_text.done")
			dst = e.itemRef(dst, it)
			dst = append(dst, `,"summary_index":0`...)
			dst = appendStringField(dst, "text", text)
			dst = e.close(dst)
			dst = e.open(dst, "response.reasoning_summary_part.done")
			dst = e.itemRef(dst, it)
			dst = append(dst, `,"part":`...)
			dst = appendSummaryText(dst, text)
			dst = append(dst, `,"summary_index":0`...)
			dst = e.close(dst)
		}
	case llm.BlockToolCall:
		if b.wrapped {
			input := llm.CustomInput(it.args.String())
			it.args.Reset()
			it.args.WriteString(input)
			if input != "" {
				dst = e.open(dst, "response.custom_tool_call_input.delta")
				dst = e.itemRef(dst, it)
				dst = appendStringField(dst, "delta", input)
				dst = e.close(dst)
			}
		}
		if it.kind == itemCustomCall {
			dst = e.open(dst, "response.custom_tool_call_input.done")
			dst = e.itemRef(dst, it)
			dst = appendStringField(dst, "input", it.args.String())
		} else {
			args := it.args.String()
			if args == "" {
				args = "{}"
				it.args.WriteString(args)
			}
			dst = e.open(dst, "response.function_call_arguments.done")
			dst = e.itemRef(dst, it)
			dst = appendStringField(dst, "name", it.name) // newer references require it
			dst = appendStringField(dst, "arguments", args)
		}
		dst = e.close(dst)
	}
	return dst
}

func (e *ResponsesStreamEncoder) allStopped() bool {
	for _, b := range e.blocks {
		if !b.stopped {
			return false
		}
	}
	return true
}

// finishItems stops open blocks and sends the pending output_item.done
// events, with status incomplete when the answer was cut short.
func (e *ResponsesStreamEncoder) finishItems(dst []byte) []byte {
	for i := 0; i < len(e.ib.items); i++ { // block order = item order
		for _, b := range e.blocksOf(e.ib.items[i]) {
			dst = e.blockStop(dst, b)
		}
	}
	status := "completed"
	if s, _ := responseStatus(e.finish); s == "incomplete" {
		status = "incomplete"
	}
	return e.flush(dst, status)
}

// blocksOf returns the open blocks of an item, in content order.
func (e *ResponsesStreamEncoder) blocksOf(it *outItem) []*streamBlock {
	var out []*streamBlock
	for _, b := range e.blocks {
		if b.item == it && !b.stopped {
			out = append(out, b)
		}
	}
	for a := 1; a < len(out); a++ {
		for c := a; c > 0 && out[c].content < out[c-1].content; c-- {
			out[c], out[c-1] = out[c-1], out[c]
		}
	}
	return out
}

// flush sends output_item.done for every announced item whose blocks have
// all stopped.
func (e *ResponsesStreamEncoder) flush(dst []byte, status string) []byte {
	for _, it := range e.ib.items {
		if it.done || len(e.blocksOf(it)) > 0 {
			continue
		}
		it.status = status
		if it.kind == itemReasoning {
			it.status = "completed"
		}
		dst = e.itemDone(dst, it)
	}
	return dst
}

// fail writes the error event and response.failed.
func (e *ResponsesStreamEncoder) fail(dst []byte, err *llm.Error) []byte {
	e.stopped = true
	if err == nil {
		err = &llm.Error{Kind: llm.KindProviderServer, Status: 502, Message: "upstream stream failed"}
	}
	code := err.Code
	if code == "" {
		code = responseErrorCode(err)
	}
	dst = e.open(dst, "error")
	dst = appendStringField(dst, "code", code)
	dst = appendStringField(dst, "message", err.Error())
	dst = appendKey(dst, "param")
	if err.Param != "" {
		dst = appendString(dst, err.Param)
	} else {
		dst = append(dst, "null"...)
	}
	dst = e.close(dst)
	for _, it := range e.ib.items {
		if !it.done {
			it.status = "incomplete"
		}
	}
	var u *llm.Usage
	if e.usage != nil {
		u = e.usage
	}
	dst = e.open(dst, "response.failed")
	dst = appendKey(dst, "response")
	dst = appendResponseObject(dst, e.meta, responseState{status: "failed", err: err, items: e.ib.items, ib: e.ib, usage: u})
	return e.close(dst)
}

func (e *ResponsesStreamEncoder) itemAdded(dst []byte, it *outItem) []byte {
	dst = e.open(dst, "response.output_item.added")
	dst = appendIntField(dst, "output_index", int64(e.index(it)))
	dst = appendKey(dst, "item")
	dst = e.ib.appendItem(dst, it)
	return e.close(dst)
}

func (e *ResponsesStreamEncoder) itemDone(dst []byte, it *outItem) []byte {
	it.done = true
	dst = e.open(dst, "response.output_item.done")
	dst = appendIntField(dst, "output_index", int64(e.index(it)))
	dst = appendKey(dst, "item")
	dst = e.ib.appendItem(dst, it)
	return e.close(dst)
}

// itemRef appends the item_id and output_index members.
func (e *ResponsesStreamEncoder) itemRef(dst []byte, it *outItem) []byte {
	dst = appendStringField(dst, "item_id", it.id)
	return appendIntField(dst, "output_index", int64(e.index(it)))
}

func (e *ResponsesStreamEncoder) index(it *outItem) int {
	for i := len(e.ib.items) - 1; i >= 0; i-- {
		if e.ib.items[i] == it {
			return i
		}
	}
	return -1
}

// open appends the event line and the start of its JSON body.
func (e *ResponsesStreamEncoder) open(dst []byte, typ string) []byte {
	dst = append(dst, "event: "...)
	dst = append(dst, typ...)
	dst = append(dst, "\ndata: {\"type\":"...)
	return appendString(dst, typ)
}

// close appends the sequence number and ends the event.
func (e *ResponsesStreamEncoder) close(dst []byte) []byte {
	dst = append(dst, `,"sequence_number":`...)
	dst = strconv.AppendInt(dst, e.seq, 10)
	e.seq++
	return append(dst, "}\n\n"...)
}
