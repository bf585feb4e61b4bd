package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

func FuzzDecodeChatRequest(f *testing.F) {
	for _, s := range []string{
		`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AA=="}}]}],"stream":true,"stream_options":{"include_usage":true}}`,
		`{"model":"m","messages":[{"role":"assistant","content":null,"reasoning_details":[{"type":"reasoning.text","text":"t","index":0},{"type":"reasoning.text","signature":"s","index":0},{"type":"reasoning.encrypted","data":"d","id":"c"}],"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"required"}`,
		`{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":5,"stop":["a"],"temperature":1.5,"x":{"y":[1,2]}}`,
		`{"model":"m","messages":[]}`, `[]`, `{"model":`, `null`, `{"model":"m","messages":[{"role":"function"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeChatRequest(body)
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Kind != llm.KindCallerInvalid {
				t.Fatalf("error %v is not a 400 *llm.Error", err)
			}
			if !json.Valid(EncodeError(e)) {
				t.Fatalf("EncodeError produced invalid JSON: %s", EncodeError(e))
			}
			return
		}
		if req == nil || req.Model == "" || len(req.Messages) == 0 {
			t.Fatalf("accepted an incomplete request: %+v", req)
		}
		// Whatever was accepted encodes upstream as valid JSON (or a 400).
		for _, fl := range []Flavor{FlavorGeneric, FlavorOpenAI, FlavorOpenRouter} {
			out, err := EncodeChatRequestFlavor(&llm.Call{Request: req, Model: "up/model"}, fl)
			if err != nil {
				if e := llm.AsError(err); e.Status != 400 {
					t.Fatalf("encode error %v", err)
				}
				continue
			}
			if !json.Valid(out) {
				t.Fatalf("invalid upstream JSON for %s: %s", body, out)
			}
		}
	})
}

func FuzzChatStreamDecoder(f *testing.F) {
	files, _ := filepath.Glob("testdata/upstream/*.sse")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("data: [DONE]\n\n"))
	f.Add([]byte("data: {}\n\ndata: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":3},{\"id\":\"x\"},{}]},\"finish_reason\":\"length\"}]}\n\n"))
	f.Add([]byte("event: error\ndata: {\"error\":\"boom\"}\n\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		d := newChatStreamDecoder(t.Context(), io.NopCloser(bytes.NewReader(body)), "fuzz")
		enc := NewChatStreamEncoder(ResponseMeta{ID: "chatcmpl-f", Model: "m", Created: 1}, true)
		var wire []byte
		n := 0
		open, next := -1, 0
		for d.Next() {
			ev := d.Event()
			n++
			if n > 10*len(body)+10 {
				t.Fatalf("too many events (%d) for %d bytes", n, len(body))
			}
			switch ev.Type {
			case llm.EventBlockStart:
				if open >= 0 || ev.Index != next {
					t.Fatalf("block %d starts (open %d, next %d)", ev.Index, open, next)
				}
				open, next = ev.Index, next+1
			case llm.EventBlockStop:
				if ev.Index != open {
					t.Fatalf("stop %d, open %d", ev.Index, open)
				}
				open = -1
			case llm.EventFinish:
				if open >= 0 {
					t.Fatalf("finish with block %d open", open)
				}
			}
			wire = enc.Encode(wire, ev)
		}
		if err := d.Err(); err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Status == 0 {
				t.Fatalf("Err %v is not an *llm.Error with a status", err)
			}
			wire = enc.Encode(wire, llm.Event{Type: llm.EventError, Err: e})
		}
		wire = enc.End(wire)
		// Whatever came in, what goes out to a client is well-formed.
		for _, frame := range strings.Split(strings.TrimSuffix(string(wire), "\n\n"), "\n\n") {
			data, ok := strings.CutPrefix(frame, "data: ")
			if !ok || (data != "[DONE]" && !json.Valid([]byte(data))) {
				t.Fatalf("bad frame %q", frame)
			}
		}
	})
}
