package openai

import (
	"bytes"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

const benchTokens = 1000

// benchStream is an OpenAI-shaped stream of benchTokens text chunks.
func benchStream() []byte {
	const head = `data: {"id":"chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_eb9dce56a8","choices":[{"index":0,"delta":`
	var b bytes.Buffer
	b.WriteString(head + `{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	for i := 0; i < benchTokens; i++ {
		b.WriteString(head + `{"content":" token"},"logprobs":null,"finish_reason":null}],"usage":null}` + "\n\n")
	}
	b.WriteString(head + `{},"logprobs":null,"finish_reason":"stop"}],"usage":null}` + "\n\n")
	b.WriteString(`data: {"id":"chatcmpl-B9M","object":"chat.completion.chunk","created":1741569952,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":1000,"total_tokens":1019,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// BenchmarkChatStreamDecode decodes a 1000-token upstream stream per op and
// reports the cost per token.
func BenchmarkChatStreamDecode(b *testing.B) {
	body := benchStream()
	r := bytes.NewReader(body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	for b.Loop() {
		r.Reset(body)
		d := newChatStreamDecoder(b.Context(), io.NopCloser(r), "bench")
		n := 0
		for d.Next() {
			n++
		}
		if d.Err() != nil || n < benchTokens {
			b.Fatalf("events %d, err %v", n, d.Err())
		}
	}
	runtime.ReadMemStats(&ms1)
	tokens := float64(b.N) * benchTokens
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/tokens, "ns/token")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/tokens, "allocs/token")
}

// BenchmarkChatStreamEncode encodes one text delta per op.
func BenchmarkChatStreamEncode(b *testing.B) {
	enc := NewChatStreamEncoder(ResponseMeta{ID: "chatcmpl-xjp0123456789", Model: "claude-sonnet-4.5", Created: 1750000000}, true)
	buf := make([]byte, 0, 1024)
	buf = enc.Encode(buf, llm.Event{Type: llm.EventStart})
	buf = enc.Encode(buf, llm.Event{Type: llm.EventBlockStart, Block: &llm.Block{Type: llm.BlockText}})
	ev := llm.Event{Type: llm.EventTextDelta, Text: " token \"quoted\"\n"}
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.Encode(buf[:0], ev)
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkDecodeChatRequest(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"temperature":0.2,"max_completion_tokens":4096,"messages":[{"role":"system","content":"You are a helpful coding assistant. Follow the user's instructions carefully."}`)
	for i := 0; i < 10; i++ {
		sb.WriteString(`,{"role":"user","content":"Please read the file and explain what the function does, then fix the bug in line 42."}`)
		sb.WriteString(`,{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function","function":{"name":"read_file","arguments":"{\"path\":\"/src/main.go\"}"}}]}`)
		sb.WriteString(`,{"role":"tool","tool_call_id":"call_abc123","content":"package main\n\nfunc main() {\n\tprintln(\"hello\")\n}\n"}`)
	}
	sb.WriteString(`],"tools":[`)
	for i := 0; i < 8; i++ {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"type":"function","function":{"name":"tool_` + string(rune('a'+i)) + `","description":"Does a thing with a path.","parameters":{"type":"object","properties":{"path":{"type":"string"},"recursive":{"type":"boolean"}},"required":["path"]}}}`)
	}
	sb.WriteString(`],"tool_choice":"auto","metadata":{"session":"s1"}}`)
	body := []byte(sb.String())
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeChatRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeChatRequest encodes the request of BenchmarkDecodeChatRequest upstream.
func BenchmarkEncodeChatRequest(b *testing.B) {
	req, err := DecodeChatRequest([]byte(`{"model":"m","messages":[{"role":"system","content":"Be helpful."},{"role":"user","content":"hi"},{"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"ok"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	call := &llm.Call{Request: req, Model: "openai/gpt-4o"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeChatRequest(call); err != nil {
			b.Fatal(err)
		}
	}
}
