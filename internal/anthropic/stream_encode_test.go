package anthropic

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/packages/ssestream"

	"github.com/rickyjim626/xjp/internal/llm"
)

func textBlock(i int) llm.Event {
	return llm.Event{Type: llm.EventBlockStart, Index: i, Block: &llm.Block{Type: llm.BlockText}}
}

func toolBlock(i int, id, name, args string) llm.Event {
	return llm.Event{Type: llm.EventBlockStart, Index: i, Block: &llm.Block{Type: llm.BlockToolCall,
		ToolCall: &llm.ToolCall{ID: id, Name: name, Arguments: args}}}
}

func delta(t llm.EventType, i int, s string) llm.Event { return llm.Event{Type: t, Index: i, Text: s} }
func stop(i int) llm.Event                             { return llm.Event{Type: llm.EventBlockStop, Index: i} }
func usage(u llm.Usage) llm.Event                      { return llm.Event{Type: llm.EventUsage, Usage: &u} }
func finish(f llm.FinishReason) llm.Event              { return llm.Event{Type: llm.EventFinish, Finish: f} }

var streamEncodeCases = []struct {
	name   string
	events []llm.Event
}{
	{"text", []llm.Event{
		{Type: llm.EventStart, ID: "msg_up", Model: "claude-x", Usage: &llm.Usage{InputTokens: 25, CacheReadTokens: 3}},
		textBlock(0),
		delta(llm.EventTextDelta, 0, "Hello"),
		delta(llm.EventTextDelta, 0, ", \"world\"\n<tag> é 😀"),
		stop(0),
		usage(llm.Usage{InputTokens: 25, CacheReadTokens: 3, OutputTokens: 6}),
		finish(llm.FinishStop),
	}},
	{"thinking_signature", []llm.Event{
		{Type: llm.EventStart, Usage: &llm.Usage{InputTokens: 10}},
		{Type: llm.EventBlockStart, Index: 0, Block: &llm.Block{Type: llm.BlockThinking}},
		delta(llm.EventThinkingDelta, 0, "Let me think"),
		delta(llm.EventThinkingDelta, 0, " step by step."),
		delta(llm.EventSignatureDelta, 0, "EqQBCgIYAhIM1gbcDa9GJwZA"),
		stop(0),
		{Type: llm.EventBlockStart, Index: 1, Block: &llm.Block{Type: llm.BlockRedactedThinking, Data: "EmwKAhgB"}},
		stop(1),
		textBlock(2),
		delta(llm.EventTextDelta, 2, "42"),
		stop(2),
		usage(llm.Usage{InputTokens: 10, OutputTokens: 30, ReasoningTokens: 20}),
		finish(llm.FinishStop),
	}},
	{"tool_fragments", []llm.Event{
		{Type: llm.EventStart, Usage: &llm.Usage{InputTokens: 472}},
		textBlock(0),
		delta(llm.EventTextDelta, 0, "Checking."),
		stop(0),
		toolBlock(1, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", ""),
		delta(llm.EventToolArgsDelta, 1, ""),
		delta(llm.EventToolArgsDelta, 1, `{"locat`),
		delta(llm.EventToolArgsDelta, 1, `ion": "San Fra`),
		delta(llm.EventToolArgsDelta, 1, `ncisco, CA"}`),
		stop(1),
		usage(llm.Usage{InputTokens: 472, OutputTokens: 89}),
		finish(llm.FinishToolCalls),
	}},
	{"parallel_tools_interleaved", []llm.Event{
		{Type: llm.EventStart},
		toolBlock(0, "call_a", "get_weather", ""),
		toolBlock(1, "call_b", "get_time", ""),
		delta(llm.EventToolArgsDelta, 0, `{"city":`),
		delta(llm.EventToolArgsDelta, 1, `{"tz":"CET"}`),
		delta(llm.EventToolArgsDelta, 0, `"Paris"}`),
		finish(llm.FinishToolCalls),
	}},
	{"usage_after_finish", []llm.Event{
		{Type: llm.EventStart, ID: "chatcmpl-1", Model: "gpt-4o"},
		textBlock(0),
		delta(llm.EventTextDelta, 0, "Hi!"),
		finish(llm.FinishLength),
		usage(llm.Usage{InputTokens: 100, CacheReadTokens: 20, OutputTokens: 7}),
	}},
	{"whole_arguments", []llm.Event{
		{Type: llm.EventStart},
		toolBlock(0, "toolu_whole", "lookup", `{"q":"gemini"}`),
		stop(0),
		{Type: llm.EventFinish, Finish: llm.FinishStopSequence, StopSequence: "END"},
	}},
	{"skipped_and_orphans", []llm.Event{
		{Type: llm.EventStart},
		{Type: llm.EventBlockStart, Index: 0, Block: &llm.Block{Type: 99}},
		delta(llm.EventTextDelta, 0, "dropped with its block"),
		delta(llm.EventToolArgsDelta, 3, `{"no":"block"}`),
		delta(llm.EventTextDelta, 1, "text without a start"),
		delta(llm.EventSignatureDelta, 2, "orphan signature"),
	}},
	{"error", []llm.Event{
		{Type: llm.EventStart, Usage: &llm.Usage{InputTokens: 5}},
		textBlock(0),
		delta(llm.EventTextDelta, 0, "partial"),
		{Type: llm.EventError, Err: &llm.Error{Kind: llm.KindProviderOverloaded, Status: 529, Message: "Overloaded"}},
		delta(llm.EventTextDelta, 0, "after the error"),
	}},
}

func encodeAll(evs []llm.Event) []byte {
	enc := NewMessagesStreamEncoder(ResponseMeta{ID: "msg_01TEST", Model: "smart"})
	var b []byte
	for _, ev := range evs {
		b = enc.Encode(b, ev)
	}
	return enc.End(b)
}

func TestMessagesStreamEncoderGolden(t *testing.T) {
	for _, tc := range streamEncodeCases {
		t.Run(tc.name, func(t *testing.T) {
			out := encodeAll(tc.events)
			golden(t, "encode_stream/"+tc.name+".sse", out)
			checkWire(t, out)
		})
	}
}

// checkWire checks every event has an event: line and one JSON data line
// whose type matches, and that block indexes open and close in order.
func checkWire(t *testing.T, out []byte) {
	t.Helper()
	open := map[int]bool{}
	next := 0
	for _, chunk := range strings.Split(strings.TrimSuffix(string(out), "\n\n"), "\n\n") {
		lines := strings.Split(chunk, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			t.Fatalf("bad event framing: %q", chunk)
		}
		name := strings.TrimPrefix(lines[0], "event: ")
		var d struct {
			Type  string `json:"type"`
			Index *int   `json:"index"`
		}
		if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &d); err != nil {
			t.Fatalf("bad JSON in %q: %v", chunk, err)
		}
		if d.Type != name {
			t.Errorf("event %s carries type %s", name, d.Type)
		}
		switch name {
		case "content_block_start":
			if *d.Index != next {
				t.Errorf("block %d started, want %d", *d.Index, next)
			}
			open[*d.Index] = true
			next++
		case "content_block_delta":
			if !open[*d.Index] {
				t.Errorf("delta for closed block %d", *d.Index)
			}
		case "content_block_stop":
			if !open[*d.Index] {
				t.Errorf("stop for closed block %d", *d.Index)
			}
			delete(open, *d.Index)
		case "message_delta", "message_stop":
			if len(open) > 0 {
				t.Errorf("%s with open blocks %v", name, open)
			}
		}
	}
}

// sdkAccumulate parses SSE bytes with the official Go SDK (v2) and
// accumulates the message the way its users do.
func sdkAccumulate(t *testing.T, sse []byte) (anthropicsdk.Message, error) {
	t.Helper()
	res := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(sse))}
	stream := ssestream.NewStream[anthropicsdk.MessageStreamEventUnion](ssestream.NewDecoder(res), nil)
	var msg anthropicsdk.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatalf("accumulate: %v", err)
		}
	}
	return msg, stream.Err()
}

func TestMessagesStreamEncoderWithSDK(t *testing.T) {
	for _, tc := range streamEncodeCases {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := sdkAccumulate(t, encodeAll(tc.events))
			if tc.name == "error" {
				if err == nil || !strings.Contains(err.Error(), "overloaded_error") {
					t.Fatalf("err = %v, want overloaded_error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// Compare with what the events fold to.
			var f llm.Folder
			for _, ev := range tc.events {
				f.Add(ev)
			}
			want := f.Response()
			var wantText, gotText, wantArgs, gotArgs strings.Builder
			for _, p := range want.Content {
				switch p.Type {
				case llm.PartText:
					wantText.WriteString(p.Text)
				case llm.PartToolCall:
					wantArgs.WriteString(p.ToolCall.Arguments)
				}
			}
			for _, b := range msg.Content {
				switch b.Type {
				case "text":
					gotText.WriteString(b.Text)
				case "tool_use":
					gotArgs.Write(compact(b.Input))
				}
			}
			if tc.name != "skipped_and_orphans" && gotText.String() != wantText.String() {
				t.Errorf("text = %q, want %q", gotText.String(), wantText.String())
			}
			if string(compact(json.RawMessage(wantArgs.String()))) != gotArgs.String() && wantArgs.Len() > 0 {
				t.Errorf("tool input = %s, want %s", gotArgs.String(), wantArgs.String())
			}
			if want.Usage.OutputTokens != msg.Usage.OutputTokens || want.Usage.InputTokens != msg.Usage.InputTokens ||
				want.Usage.CacheReadTokens != msg.Usage.CacheReadInputTokens {
				t.Errorf("usage = %+v, want %+v", msg.Usage, want.Usage)
			}
			if want.FinishReason != "" && string(msg.StopReason) != stopReason(want.FinishReason) {
				t.Errorf("stop_reason = %s, want %s", msg.StopReason, stopReason(want.FinishReason))
			}
		})
	}
}
