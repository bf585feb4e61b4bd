package vertex

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

func addStreamSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/stream/*.sse")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"f\",\"args\":[1]},\"thoughtSignature\":\"!!\"}]},\"finishReason\":\"STOP\"}]}\r\n\r\n"))
	f.Add([]byte("data: [DONE]\n\n"))
	f.Add([]byte("data: {\"error\":{}}\n\n"))
}

// FuzzStreamDecoder checks that no input makes the decoder panic, that a
// stream ends either with a finish event or an error, and that every block
// it opens it also closes when it finishes cleanly.
func FuzzStreamDecoder(f *testing.F) {
	addStreamSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := NewStreamDecoder(io.NopCloser(bytes.NewReader(data)), "fuzz")
		open := map[int]bool{}
		finished := false
		for s.Next() {
			ev := s.Event()
			switch ev.Type {
			case llm.EventBlockStart:
				if open[ev.Index] {
					t.Fatalf("block %d started twice", ev.Index)
				}
				open[ev.Index] = true
			case llm.EventBlockStop:
				if !open[ev.Index] {
					t.Fatalf("block %d stopped but not open", ev.Index)
				}
				delete(open, ev.Index)
			case llm.EventFinish:
				finished = true
			}
		}
		err := s.Err()
		if err == nil && (!finished || len(open) > 0) {
			t.Fatalf("clean end without finish or with open blocks %v", open)
		}
		if err != nil && llm.AsError(err).Kind == "" {
			t.Fatalf("error without kind: %v", err)
		}
		_ = s.Close()
	})
}

// FuzzDecodeResponse checks that DecodeResponse never panics and returns
// either a response or an *llm.Error.
func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"candidates":[{"content":{"parts":[{"text":"hi"}]},"finishReason":"STOP"}]}`))
	f.Add([]byte(`[{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f"}}]}}]},{"candidates":[{"finishReason":"MAX_TOKENS"}]}]`))
	f.Add([]byte(`[{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED"}}]`))
	f.Add([]byte(`{"promptFeedback":{"blockReason":"SAFETY"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		resp, err := DecodeResponse(data)
		if err == nil && resp == nil {
			t.Fatal("nil response without error")
		}
		if err != nil && llm.AsError(err).Kind == "" {
			t.Fatalf("error without kind: %v", err)
		}
	})
}

// FuzzToolCallID checks that every minted id parses back and stays within
// Anthropic's tool_use id character set.
func FuzzToolCallID(f *testing.F) {
	f.Add("seed", "fc-1", "CiwBcsjafP8=")
	f.Add("", "", "not base64")
	f.Fuzz(func(t *testing.T, seed, gid, sig string) {
		id := MintToolCallID(seed, gid, sig)
		for _, r := range id {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				t.Fatalf("id %q has %q", id, r)
			}
		}
		if len(id) > MaxToolCallIDLen {
			t.Fatalf("id too long: %d", len(id))
		}
		g, s, _ := ParseToolCallID(id)
		if g != gid {
			t.Fatalf("gemini id %q → %q", gid, g)
		}
		if s != sig && s != "" {
			t.Fatalf("signature %q → %q", sig, s)
		}
	})
}
