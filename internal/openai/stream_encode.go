package openai

import (
	"strconv"

	"github.com/rickyjim626/xjp/internal/llm"
)

// ChatStreamEncoder turns llm stream events into Chat Completions
// server-sent events (chat.completion.chunk objects). It is a state machine
// without I/O: Encode appends the wire bytes for one event, End appends what
// closes a normal stream. It is not safe for concurrent use.
//
// Rules, following what the OpenAI SDKs check:
//   - the first chunk carries delta {role: "assistant", content: ""};
//   - text deltas are delta.content; thinking deltas are
//     delta.reasoning_content plus an OpenRouter-style reasoning_details
//     entry, and signatures arrive as reasoning_details entries;
//   - a tool call starts with one delta carrying index, id, type "function",
//     function.name and arguments ""; argument fragments follow for the same
//     index; the index counts tool calls (0, 1, 2…) whatever the llm block
//     index;
//   - EventFinish is a chunk with an empty delta and the finish_reason;
//   - EventError is a data: {"error":{…}} frame and nothing follows it;
//   - with includeUsage every chunk has "usage": null and End adds the
//     usage chunk (choices: []) before data: [DONE].
type ChatStreamEncoder struct {
	head         []byte // `data: {"id":…,"model":…,"choices":[`
	includeUsage bool
	started      bool
	stopped      bool // an error frame or End was written
	usage        llm.Usage
	blocks       []encBlock // by llm block index
	tools        int        // tool calls started
	reasonings   int        // thinking and redacted blocks started
}

type encBlock struct {
	typ  llm.BlockType
	ord  int  // tool call or reasoning ordinal
	args bool // a tool call sent argument bytes
	done bool // stopped
}

// maxBlockIndex bounds the block table against absurd indices.
const maxBlockIndex = 1 << 16

// NewChatStreamEncoder returns an encoder for one response. includeUsage is
// the client's stream_options.include_usage.
func NewChatStreamEncoder(meta ResponseMeta, includeUsage bool) *ChatStreamEncoder {
	h := make([]byte, 0, 96+len(meta.ID)+len(meta.Model))
	h = append(h, "data: {"...)
	h = appendStringField(h, "id", meta.ID)
	h = appendStringField(h, "object", "chat.completion.chunk")
	h = appendIntField(h, "created", meta.Created)
	h = appendStringField(h, "model", meta.Model)
	h = append(h, `,"choices":[`...)
	return &ChatStreamEncoder{head: h, includeUsage: includeUsage}
}

// Encode appends the wire bytes for ev to dst (possibly none) and returns
// the extended slice.
func (e *ChatStreamEncoder) Encode(dst []byte, ev llm.Event) []byte {
	if e.stopped {
		return dst
	}
	if ev.Type == llm.EventError {
		e.stopped = true
		dst = append(dst, "data: "...)
		dst = appendError(dst, ev.Err)
		return append(dst, "\n\n"...)
	}
	if !e.started && ev.Type != llm.EventUsage {
		dst = e.startChunk(dst)
	}
	switch ev.Type {
	case llm.EventBlockStart:
		if ev.Index < 0 || ev.Index >= maxBlockIndex || ev.Block == nil {
			return dst
		}
		for len(e.blocks) <= ev.Index {
			e.blocks = append(e.blocks, encBlock{})
		}
		blk := encBlock{typ: ev.Block.Type}
		switch ev.Block.Type {
		case llm.BlockThinking:
			blk.ord = e.reasonings
			e.reasonings++
		case llm.BlockRedactedThinking:
			blk.ord = e.reasonings
			e.reasonings++
			dst = e.open(dst)
			dst = append(dst, `"reasoning_details":[{"type":"reasoning.encrypted"`...)
			dst = appendStringField(dst, "data", ev.Block.Data)
			dst = appendIntField(dst, "index", int64(blk.ord))
			dst = append(dst, "}]}"...)
			dst = e.close(dst, "")
		case llm.BlockToolCall:
			blk.ord = e.tools
			e.tools++
			if tc := ev.Block.ToolCall; tc != nil {
				dst = e.open(dst)
				if tc.Signature != "" {
					dst = append(dst, `"reasoning_details":[{"type":"reasoning.encrypted"`...)
					dst = appendStringField(dst, "data", tc.Signature)
					dst = appendStringField(dst, "id", tc.ID)
					dst = appendStringField(dst, "format", geminiReasoningFormat)
					dst = appendIntField(dst, "index", int64(e.reasonings))
					dst = append(dst, "}],"...)
					e.reasonings++
				}
				dst = append(dst, `"tool_calls":[{"index":`...)
				dst = strconv.AppendInt(dst, int64(blk.ord), 10)
				dst = appendStringField(dst, "id", tc.ID)
				dst = append(dst, `,"type":"function","function":{`...)
				dst = appendStringField(dst, "name", tc.Name)
				dst = appendStringField(dst, "arguments", tc.Arguments)
				dst = append(dst, "}}]}"...)
				dst = e.close(dst, "")
				blk.args = tc.Arguments != ""
			}
		}
		e.blocks[ev.Index] = blk
	case llm.EventTextDelta:
		if ev.Text == "" {
			return dst
		}
		dst = e.open(dst)
		dst = append(dst, `"content":`...)
		dst = appendString(dst, ev.Text)
		dst = append(dst, '}')
		dst = e.close(dst, "")
	case llm.EventThinkingDelta:
		if ev.Text == "" {
			return dst
		}
		dst = e.open(dst)
		dst = append(dst, `"reasoning_content":`...)
		dst = appendString(dst, ev.Text)
		dst = append(dst, `,"reasoning_details":[{"type":"reasoning.text","text":`...)
		dst = appendString(dst, ev.Text)
		dst = append(dst, `,"index":`...)
		dst = strconv.AppendInt(dst, int64(e.block(ev.Index).ord), 10)
		dst = append(dst, "}]}"...)
		dst = e.close(dst, "")
	case llm.EventSignatureDelta:
		if ev.Text == "" {
			return dst
		}
		dst = e.open(dst)
		dst = append(dst, `"reasoning_details":[{"type":"reasoning.text","signature":`...)
		dst = appendString(dst, ev.Text)
		dst = append(dst, `,"index":`...)
		dst = strconv.AppendInt(dst, int64(e.block(ev.Index).ord), 10)
		dst = append(dst, "}]}"...)
		dst = e.close(dst, "")
	case llm.EventToolArgsDelta:
		if ev.Text == "" {
			return dst
		}
		if ev.Index >= 0 && ev.Index < len(e.blocks) {
			e.blocks[ev.Index].args = true
		}
		dst = e.open(dst)
		dst = append(dst, `"tool_calls":[{"index":`...)
		dst = strconv.AppendInt(dst, int64(e.block(ev.Index).ord), 10)
		dst = append(dst, `,"function":{"arguments":`...)
		dst = appendString(dst, ev.Text)
		dst = append(dst, "}}]}"...)
		dst = e.close(dst, "")
	case llm.EventUsage:
		if ev.Usage != nil {
			e.usage = *ev.Usage
		}
	case llm.EventBlockStop:
		dst = e.stopBlock(dst, ev.Index)
	case llm.EventFinish:
		for i := range e.blocks {
			dst = e.stopBlock(dst, i)
		}
		dst = e.open(dst)
		dst = append(dst, '}')
		dst = e.close(dst, finishString(ev.Finish))
	}
	return dst
}

// End appends what ends a normal stream: the usage chunk when the client
// asked for it, then data: [DONE]. After an error frame it appends nothing.
func (e *ChatStreamEncoder) End(dst []byte) []byte {
	if e.stopped {
		return dst
	}
	if !e.started {
		dst = e.startChunk(dst)
	}
	e.stopped = true
	if e.includeUsage {
		dst = append(dst, e.head...)
		dst = append(dst, `],"usage":`...)
		dst = appendUsage(dst, e.usage)
		dst = append(dst, "}\n\n"...)
	}
	return append(dst, "data: [DONE]\n\n"...)
}

// stopBlock ends block i. A tool call that streamed no argument bytes (an
// Anthropic tool_use with empty input sends only an empty partial_json)
// gets "{}", so that the arguments a client accumulates are valid JSON.
func (e *ChatStreamEncoder) stopBlock(dst []byte, i int) []byte {
	if i < 0 || i >= len(e.blocks) || e.blocks[i].done {
		return dst
	}
	b := &e.blocks[i]
	b.done = true
	if b.typ != llm.BlockToolCall || b.args {
		return dst
	}
	dst = e.open(dst)
	dst = append(dst, `"tool_calls":[{"index":`...)
	dst = strconv.AppendInt(dst, int64(b.ord), 10)
	dst = append(dst, `,"function":{"arguments":"{}"}}]}`...)
	return e.close(dst, "")
}

func (e *ChatStreamEncoder) block(i int) encBlock {
	if i < 0 || i >= len(e.blocks) {
		return encBlock{}
	}
	return e.blocks[i]
}

func (e *ChatStreamEncoder) startChunk(dst []byte) []byte {
	e.started = true
	dst = e.open(dst)
	dst = append(dst, `"role":"assistant","content":"","refusal":null}`...)
	return e.close(dst, "")
}

// open appends the chunk head up to and including the delta's "{".
func (e *ChatStreamEncoder) open(dst []byte) []byte {
	dst = append(dst, e.head...)
	return append(dst, `{"index":0,"delta":{`...)
}

// close appends what follows the delta: logprobs, finish_reason (null when
// empty), usage null when asked for, and the event terminator.
func (e *ChatStreamEncoder) close(dst []byte, finish string) []byte {
	dst = append(dst, `,"logprobs":null,"finish_reason":`...)
	if finish == "" {
		dst = append(dst, "null"...)
	} else {
		dst = appendString(dst, finish)
	}
	dst = append(dst, "}]"...)
	if e.includeUsage {
		dst = append(dst, `,"usage":null`...)
	}
	return append(dst, "}\n\n"...)
}
