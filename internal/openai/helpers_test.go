package openai

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/<name>.golden, or rewrites the file
// with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", filepath.FromSlash(name)+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/openai -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// dump renders v as indented JSON without null, "" and empty members, so
// that golden files show only what is set.
func dump(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(prune(x), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}

func prune(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			e = prune(e)
			if empty(e) {
				delete(v, k)
			} else {
				v[k] = e
			}
		}
		return v
	case []any:
		for i, e := range v {
			v[i] = prune(e)
		}
		return v
	}
	return x
}

func empty(x any) bool {
	switch v := x.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case map[string]any:
		return len(v) == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// eventLine renders one stream event on one line.
func eventLine(ev llm.Event) string {
	m := map[string]any{"type": ev.Type.String()}
	switch ev.Type {
	case llm.EventStart:
		m["id"], m["model"] = ev.ID, ev.Model
	case llm.EventBlockStart:
		m["index"] = ev.Index
		b := map[string]any{"type": blockName(ev.Block.Type)}
		if ev.Block.Data != "" {
			b["data"] = ev.Block.Data
		}
		if tc := ev.Block.ToolCall; tc != nil {
			b["id"], b["name"] = tc.ID, tc.Name
			if tc.Type != "" {
				b["tool_type"] = tc.Type
			}
			if tc.Arguments != "" {
				b["arguments"] = tc.Arguments
			}
			if tc.Signature != "" {
				b["signature"] = tc.Signature
			}
		}
		m["block"] = b
	case llm.EventTextDelta, llm.EventThinkingDelta, llm.EventSignatureDelta, llm.EventToolArgsDelta:
		m["index"], m["text"] = ev.Index, ev.Text
	case llm.EventBlockStop:
		m["index"] = ev.Index
	case llm.EventUsage:
		m["usage"] = ev.Usage
	case llm.EventFinish:
		m["finish"] = ev.Finish
	case llm.EventError:
		m["error"] = ev.Err.Error()
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func blockName(t llm.BlockType) string {
	switch t {
	case llm.BlockText:
		return "text"
	case llm.BlockThinking:
		return "thinking"
	case llm.BlockRedactedThinking:
		return "redacted_thinking"
	case llm.BlockToolCall:
		return "tool_call"
	}
	return "unknown"
}

// drain reads a stream to its end and renders its events and final error.
func drain(s llm.Stream) string {
	var b strings.Builder
	for s.Next() {
		b.WriteString(eventLine(s.Event()))
		b.WriteByte('\n')
	}
	if err := s.Err(); err != nil {
		e := llm.AsError(err)
		b.WriteString("error: kind=" + string(e.Kind) + " status=" + itoa(e.Status))
		if e.Code != "" {
			b.WriteString(" code=" + e.Code)
		}
		if e.UpstreamType != "" {
			b.WriteString(" upstream_type=" + e.UpstreamType)
		}
		b.WriteString(" message=" + e.Error() + "\n")
	} else {
		b.WriteString("end\n")
	}
	return b.String()
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func ptr[T any](v T) *T { return &v }
