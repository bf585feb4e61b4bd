package vertex

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// checkGolden compares got with testdata/<name>, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
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
		t.Fatalf("%v (run go test ./internal/vertex -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the golden file:\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

func indentJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("invalid json %s: %v", b, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// dumpEvents renders a stream as one line per event, then its error.
func dumpEvents(s llm.Stream) string {
	var b strings.Builder
	for s.Next() {
		b.WriteString(formatEvent(s.Event()))
		b.WriteByte('\n')
	}
	if err := s.Err(); err != nil {
		e := llm.AsError(err)
		fmt.Fprintf(&b, "err kind=%s status=%d upstream=%q msg=%q\n", e.Kind, e.Status, e.UpstreamType, e.Message)
	}
	return b.String()
}

func formatEvent(ev llm.Event) string {
	switch ev.Type {
	case llm.EventStart:
		return fmt.Sprintf("start id=%q model=%q", ev.ID, ev.Model)
	case llm.EventBlockStart:
		switch ev.Block.Type {
		case llm.BlockText:
			return fmt.Sprintf("block_start %d text", ev.Index)
		case llm.BlockThinking:
			return fmt.Sprintf("block_start %d thinking", ev.Index)
		case llm.BlockToolCall:
			tc := ev.Block.ToolCall
			return fmt.Sprintf("block_start %d tool_call id=%q name=%q sig=%q", ev.Index, tc.ID, tc.Name, tc.Signature)
		}
		return fmt.Sprintf("block_start %d %d", ev.Index, ev.Block.Type)
	case llm.EventTextDelta, llm.EventThinkingDelta, llm.EventSignatureDelta, llm.EventToolArgsDelta:
		return fmt.Sprintf("%s %d %q", ev.Type, ev.Index, ev.Text)
	case llm.EventBlockStop:
		return fmt.Sprintf("block_stop %d", ev.Index)
	case llm.EventUsage:
		u := ev.Usage
		return fmt.Sprintf("usage in=%d cache_read=%d cache_write=%d out=%d reasoning=%d", u.InputTokens, u.CacheReadTokens, u.CacheWriteTokens, u.OutputTokens, u.ReasoningTokens)
	case llm.EventFinish:
		return fmt.Sprintf("finish %s", ev.Finish)
	}
	return ev.Type.String()
}
