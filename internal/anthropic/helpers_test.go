package anthropic

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
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
		t.Fatalf("%v (run: go test ./internal/anthropic -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update after checking):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pretty renders v as indented JSON with zero values pruned, for golden
// files of neutral values.
func pretty(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	x = prune(x)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(x); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// prune drops null, "", false, 0, and empty arrays and objects.
func prune(x any) any {
	switch v := x.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range v {
			if e = prune(e); e != nil {
				out[k] = e
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			if p := prune(e); p != nil {
				out = append(out, p)
			} else {
				out = append(out, map[string]any{})
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case string:
		if v == "" {
			return nil
		}
	case bool:
		if !v {
			return nil
		}
	case float64:
		if v == 0 {
			return nil
		}
	case nil:
		return nil
	}
	return x
}

// indentJSON re-indents a JSON document for a golden file.
func indentJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// jsonValue decodes b into a generic value.
func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	return v
}

// diffJSON lists the paths where a and b differ.
func diffJSON(path string, a, b any) []string {
	if reflect.DeepEqual(a, b) {
		return nil
	}
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		var keys []string
		seen := map[string]bool{}
		for k := range am {
			keys, seen[k] = append(keys, k), true
		}
		for k := range bm {
			if !seen[k] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			out = append(out, diffJSON(path+"."+k, am[k], bm[k])...)
		}
		return out
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		var out []string
		for i := range al {
			out = append(out, diffJSON(fmt.Sprintf("%s[%d]", path, i), al[i], bl[i])...)
		}
		return out
	}
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return []string{fmt.Sprintf("%s: %s != %s", path, ja, jb)}
}

// dumpEvents renders a stream's events one per line, then its error.
func dumpEvents(s llm.Stream) []byte {
	var b strings.Builder
	for s.Next() {
		b.WriteString(eventLine(s.Event()))
		b.WriteByte('\n')
	}
	if err := s.Err(); err != nil {
		e := llm.AsError(err)
		fmt.Fprintf(&b, "err: kind=%s status=%d upstream_type=%s message=%q\n", e.Kind, e.Status, e.UpstreamType, e.Message)
	} else {
		b.WriteString("end\n")
	}
	return []byte(b.String())
}

func eventLine(ev llm.Event) string {
	switch ev.Type {
	case llm.EventStart:
		return fmt.Sprintf("start id=%s model=%s usage=%s", ev.ID, ev.Model, usageString(ev.Usage))
	case llm.EventBlockStart:
		b := ev.Block
		switch b.Type {
		case llm.BlockText:
			return fmt.Sprintf("block_start %d text", ev.Index)
		case llm.BlockThinking:
			return fmt.Sprintf("block_start %d thinking", ev.Index)
		case llm.BlockRedactedThinking:
			return fmt.Sprintf("block_start %d redacted_thinking data=%q", ev.Index, b.Data)
		case llm.BlockToolCall:
			return fmt.Sprintf("block_start %d tool_call id=%s name=%s args=%q", ev.Index, b.ToolCall.ID, b.ToolCall.Name, b.ToolCall.Arguments)
		}
		return fmt.Sprintf("block_start %d ?", ev.Index)
	case llm.EventUsage:
		return "usage " + usageString(ev.Usage)
	case llm.EventFinish:
		return fmt.Sprintf("finish %s stop_sequence=%q", ev.Finish, ev.StopSequence)
	case llm.EventBlockStop:
		return fmt.Sprintf("block_stop %d", ev.Index)
	case llm.EventError:
		return fmt.Sprintf("error %v", ev.Err)
	}
	return fmt.Sprintf("%s %d %q", ev.Type, ev.Index, ev.Text)
}

func usageString(u *llm.Usage) string {
	if u == nil {
		return "nil"
	}
	return fmt.Sprintf("{in=%d cache_read=%d cache_write=%d out=%d reasoning=%d}",
		u.InputTokens, u.CacheReadTokens, u.CacheWriteTokens, u.OutputTokens, u.ReasoningTokens)
}

func ptr[T any](v T) *T { return &v }
