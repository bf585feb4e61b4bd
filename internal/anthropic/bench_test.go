package anthropic

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

// benchStream is a recorded-shape stream of n text deltas and a tool call
// streamed in n/4 fragments.
func benchStream(n int) []byte {
	var b strings.Builder
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_b\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":1200,\"cache_read_input_tokens\":30000,\"output_tokens\":1}}}\n\n")
	b.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n")
	b.WriteString("event: ping\ndata: {\"type\": \"ping\"}\n\n")
	for i := range n {
		fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"token %d of the answer\\n\"}}\n\n", i)
	}
	b.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n")
	b.WriteString("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Bash\",\"input\":{}}}\n\n")
	for range n / 4 {
		b.WriteString("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"command\\\": \\\"ls\"}}\n\n")
	}
	b.WriteString("event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n")
	b.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":800}}\n\n")
	b.WriteString("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return []byte(b.String())
}

// BenchmarkMessagesStreamDecode decodes a 1,000-delta stream; the
// per-event cost is reported as ns/event and allocs/event.
func BenchmarkMessagesStreamDecode(b *testing.B) {
	data := benchStream(1000)
	events := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s := NewMessagesStreamDecoder(io.NopCloser(bytes.NewReader(data)), "bench")
		events = 0
		for s.Next() {
			events++
		}
		if s.Err() != nil {
			b.Fatal(s.Err())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
}

// BenchmarkMessagesStreamEncode encodes the same stream's events.
func BenchmarkMessagesStreamEncode(b *testing.B) {
	s := NewMessagesStreamDecoder(io.NopCloser(bytes.NewReader(benchStream(1000))), "bench")
	var evs []llm.Event
	for s.Next() {
		evs = append(evs, s.Event())
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		enc := NewMessagesStreamEncoder(ResponseMeta{ID: "msg_b", Model: "smart"})
		for _, ev := range evs {
			buf = enc.Encode(buf[:0], ev)
		}
		buf = enc.End(buf[:0])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(evs)), "ns/event")
}

// BenchmarkDecodeMessagesRequest decodes the recorded-shape Claude Code
// request and encodes it back for an Anthropic upstream.
func BenchmarkDecodeMessagesRequest(b *testing.B) {
	body, err := os.ReadFile("testdata/decode/claude_code.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req, err := DecodeMessagesRequest(body)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := EncodeMessagesRequest(&llm.Call{Request: req, Model: req.Model}, ""); err != nil {
			b.Fatal(err)
		}
	}
}
