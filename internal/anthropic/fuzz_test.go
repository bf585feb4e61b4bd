package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

// FuzzDecodeMessagesRequest checks that the decoder never panics, that it
// fails only with a 400 *llm.Error, and that what it accepts encodes back
// into valid JSON.
func FuzzDecodeMessagesRequest(f *testing.F) {
	for _, name := range []string{"claude_code", "simple", "blocks"} {
		b, err := os.ReadFile(filepath.Join("testdata", "decode", name+".json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"x","content":[{"type":"text","text":"a"}]}]}]}`))
	f.Add([]byte(`{"model":"m","max_tokens":0,"messages":[{"role":"system","content":[],"output_config":{"effort":"low"}}]}`))
	f.Add([]byte(`{"model":"m","max_tokens":1e3,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"b","input":{"\u00e9":[1,{"x":null}]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeMessagesRequest(body)
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("error %v is not a 400 *llm.Error", err)
			}
			return
		}
		out, err := EncodeMessagesRequest(&llm.Call{Request: req, Model: req.Model}, "")
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("encode error %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("encoded invalid JSON: %s", out)
		}
		if _, err := DecodeCountTokensRequest(body); err != nil {
			t.Fatalf("count_tokens refused what messages accepted: %v", err)
		}
	})
}

// FuzzMessagesStreamDecoder checks that the stream decoder never panics,
// always ends, and ends with an *llm.Error or after message_stop; and that
// re-encoding what it produced gives well-formed SSE.
func FuzzMessagesStreamDecoder(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "stream", "*.sse"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("event: content_block_delta\ndata: {\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"\\ud800\"}}\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewMessagesStreamDecoder(io.NopCloser(bytes.NewReader(data)), "fuzz")
		enc := NewMessagesStreamEncoder(ResponseMeta{ID: "msg_f", Model: "m"})
		var out []byte
		n := 0
		for s.Next() {
			ev := s.Event()
			out = enc.Encode(out, ev)
			if n++; n > 1<<20 {
				t.Fatal("stream does not end")
			}
		}
		if err := s.Err(); err != nil {
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *llm.Error", err)
			}
			out = enc.Encode(out, llm.Event{Type: llm.EventError, Err: e})
		} else {
			out = enc.End(out)
		}
		for _, chunk := range bytes.Split(bytes.TrimSuffix(out, []byte("\n\n")), []byte("\n\n")) {
			lines := bytes.Split(chunk, []byte("\n"))
			if len(lines) != 2 || !json.Valid(bytes.TrimPrefix(lines[1], []byte("data: "))) {
				t.Fatalf("bad SSE event %q", chunk)
			}
		}
		s.Close()
	})
}
