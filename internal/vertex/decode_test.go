package vertex

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

func TestStreamDecoderGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/stream/*.sse")
	if err != nil || len(files) == 0 {
		t.Fatalf("no stream fixtures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sse")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got := dumpEvents(NewStreamDecoder(io.NopCloser(bytes.NewReader(raw)), "vertex-test"))
			checkGolden(t, "stream/"+name+".golden", []byte(got))

			// Real servers split events across reads.
			split := dumpEvents(NewStreamDecoder(io.NopCloser(iotest.OneByteReader(bytes.NewReader(raw))), "vertex-test"))
			if split != got {
				t.Errorf("one byte at a time:\n%s\nwhole:\n%s", split, got)
			}
		})
	}
}

func TestStreamDecoderFinishAndUsage(t *testing.T) {
	cases := []struct {
		file   string
		finish llm.FinishReason
		raw    string
		usage  llm.Usage
	}{
		{"text", llm.FinishStop, "STOP", llm.Usage{InputTokens: 12, OutputTokens: 4}},
		{"tool_call", llm.FinishToolCalls, "STOP", llm.Usage{InputTokens: 40, OutputTokens: 30, ReasoningTokens: 21}},
		{"safety", llm.FinishContentFilter, "SAFETY", llm.Usage{InputTokens: 10, OutputTokens: 4}},
		{"max_tokens", llm.FinishLength, "MAX_TOKENS", llm.Usage{InputTokens: 7, OutputTokens: 3}},
		{"usage_cache", llm.FinishStop, "STOP", llm.Usage{InputTokens: 230, CacheReadTokens: 800, OutputTokens: 250, ReasoningTokens: 200}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			raw, _ := os.ReadFile("testdata/stream/" + tc.file + ".sse")
			d := NewStreamDecoder(io.NopCloser(bytes.NewReader(raw)), "p").(*StreamDecoder)
			resp, err := llm.Collect(d)
			if err != nil {
				t.Fatal(err)
			}
			if resp.FinishReason != tc.finish || d.RawFinishReason() != tc.raw {
				t.Errorf("finish = %s (raw %s), want %s (raw %s)", resp.FinishReason, d.RawFinishReason(), tc.finish, tc.raw)
			}
			if resp.Usage != tc.usage {
				t.Errorf("usage = %+v, want %+v", resp.Usage, tc.usage)
			}
		})
	}
}

func TestStreamDecoderErrors(t *testing.T) {
	cases := []struct {
		file string
		kind llm.Kind
		msg  string
	}{
		{"truncated", llm.KindProviderServer, "ended early"},
		{"error_in_stream", llm.KindProviderOverloaded, "overloaded"},
		{"prompt_blocked", llm.KindCallerInvalid, "prompt blocked: PROHIBITED_CONTENT"},
		{"malformed_call", llm.KindProviderServer, "MALFORMED_FUNCTION_CALL"},
		{"bad_json", llm.KindProviderServer, "malformed upstream event"},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			raw, _ := os.ReadFile("testdata/stream/" + tc.file + ".sse")
			_, err := llm.Collect(NewStreamDecoder(io.NopCloser(bytes.NewReader(raw)), "p"))
			var le *llm.Error
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want *llm.Error", err)
			}
			if le.Kind != tc.kind || !strings.Contains(le.Message, tc.msg) {
				t.Errorf("err = %s %q, want %s containing %q", le.Kind, le.Message, tc.kind, tc.msg)
			}
		})
	}
}

// TestThoughtSignatureRoundTrip decodes a Gemini 3 tool call, lets an
// OpenAI-style client keep only the id, and encodes the next turn: the
// functionCall part must carry the original signature.
func TestThoughtSignatureRoundTrip(t *testing.T) {
	raw, _ := os.ReadFile("testdata/stream/parallel_calls.sse")
	resp, err := llm.Collect(NewStreamDecoder(io.NopCloser(bytes.NewReader(raw)), "p"))
	if err != nil {
		t.Fatal(err)
	}
	calls := resp.ToolCalls()
	if len(calls) != 3 {
		t.Fatalf("got %d calls", len(calls))
	}
	const sig = "CiwBcsjafP/+/QABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fICEiIyQlJic="
	if calls[0].Signature != sig || calls[1].Signature != "" {
		t.Fatalf("signatures = %q, %q", calls[0].Signature, calls[1].Signature)
	}
	if _, s, ok := ParseToolCallID(calls[0].ID); !ok || s != sig {
		t.Fatalf("id %q does not carry the signature", calls[0].ID)
	}
	seen := map[string]bool{}
	for _, c := range calls {
		if seen[c.ID] {
			t.Errorf("duplicate id %q", c.ID)
		}
		seen[c.ID] = true
		for _, r := range c.ID {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
				t.Fatalf("id %q has %q, outside ^[a-zA-Z0-9_-]+$", c.ID, r)
			}
		}
	}

	// The client echoes ids, names and arguments only.
	var assistant []llm.Part
	var results []llm.Message
	for _, c := range calls {
		assistant = append(assistant, toolCall(c.ID, c.Name, c.Arguments))
		results = append(results, llm.Message{Role: llm.RoleTool, Content: []llm.Part{toolResult(c.ID, "", "ok", false)}})
	}
	msgs := append([]llm.Message{
		{Role: llm.RoleUser, Content: []llm.Part{text("Weather?")}},
		{Role: llm.RoleAssistant, Content: append([]llm.Part{text(resp.Text())}, assistant...)},
	}, results...)
	body, err := EncodeRequest(&llm.Call{Model: "gemini-3-flash-preview", Request: &llm.Request{Messages: msgs}}, APIGemini)
	if err != nil {
		t.Fatal(err)
	}
	var req GenerateContentRequest
	if err := json.Unmarshal(body, &req); err != nil {
		t.Fatal(err)
	}
	model := req.Contents[1]
	if len(model.Parts) != 4 || model.Parts[1].FunctionCall == nil {
		t.Fatalf("model turn = %+v", model)
	}
	if got := model.Parts[1].ThoughtSignature; got != sig {
		t.Errorf("first call signature = %q, want %q", got, sig)
	}
	if model.Parts[2].ThoughtSignature != "" || model.Parts[3].ThoughtSignature != "" {
		t.Errorf("later parallel calls got signatures: %+v", model.Parts[2:])
	}
	if n := len(req.Contents[2].Parts); n != 3 {
		t.Errorf("function responses = %d, want 3 in one user turn", n)
	}
}

func TestToolCallIDGrammar(t *testing.T) {
	sigs := []string{"", "CiwBcsjafFirst==", "AAEC/+8=", "not canonical base64", "c2tpcA"}
	for _, gid := range []string{"", "fc-7f3a", "x__ts_y"} {
		for _, sig := range sigs {
			id := MintToolCallID("seed", gid, sig)
			g, s, ok := ParseToolCallID(id)
			if (gid != "" || sig != "") != ok || g != gid || s != sig {
				t.Errorf("MintToolCallID(%q, %q) = %q → (%q, %q, %v)", gid, sig, id, g, s, ok)
			}
		}
	}
	if MintToolCallID("a", "", "") == MintToolCallID("b", "", "") {
		t.Error("different seeds gave the same id")
	}
	if r1, r2 := MintToolCallID("", "", ""), MintToolCallID("", "", ""); r1 == r2 {
		t.Error("random ids repeat")
	}
	if _, _, ok := ParseToolCallID("call_abc123"); ok {
		t.Error("an OpenAI id parsed as a minted one")
	}
	long := strings.Repeat("QUJD", MaxToolCallIDLen)
	if id := MintToolCallID("s", "", long); len(id) > MaxToolCallIDLen {
		t.Errorf("id length %d over the limit", len(id))
	}
}

func TestDecodeResponse(t *testing.T) {
	single := `{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"},{"functionCall":{"name":"f","args":{"a":1}}}]},"finishReason":"STOP"}],
		"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5},"modelVersion":"gemini-2.5-flash","responseId":"r1"}`
	resp, err := DecodeResponse([]byte(single))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID != "r1" || resp.Model != "gemini-2.5-flash" || resp.Text() != "Hi" || resp.FinishReason != llm.FinishToolCalls {
		t.Errorf("resp = %+v", resp)
	}
	if tc := resp.ToolCalls(); len(tc) != 1 || tc[0].Name != "f" || tc[0].Arguments != `{"a":1}` {
		t.Errorf("tool calls = %+v", tc)
	}

	array := `[{"candidates":[{"content":{"role":"model","parts":[{"text":"A"}]}}],"responseId":"r2"},
		{"candidates":[{"content":{"role":"model","parts":[{"text":"B"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":2}}]`
	resp, err = DecodeResponse([]byte(array))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Text() != "AB" || resp.Usage.OutputTokens != 2 {
		t.Errorf("resp = %+v", resp)
	}

	_, err = DecodeResponse([]byte(`[{"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED"}}]`))
	if e := llm.AsError(err); e == nil || e.Kind != llm.KindProviderRateLimited {
		t.Errorf("array error = %v", err)
	}
	if _, err := DecodeResponse([]byte(`{"candidates":[`)); err == nil {
		t.Error("truncated json decoded")
	}
}

// blockingBody blocks reads until closed.
type blockingBody struct {
	once sync.Once
	done chan struct{}
	data io.Reader
}

func (b *blockingBody) Read(p []byte) (int, error) {
	if n, err := b.data.Read(p); n > 0 || err != io.EOF {
		return n, err
	}
	<-b.done
	return 0, errors.New("read on closed body")
}

func (b *blockingBody) Close() error {
	b.once.Do(func() { close(b.done) })
	return nil
}

func TestStreamDecoderCloseWhileReading(t *testing.T) {
	body := &blockingBody{done: make(chan struct{}), data: strings.NewReader(
		`data: {"candidates":[{"content":{"parts":[{"text":"hi"}]}}],"responseId":"r"}` + "\n\n")}
	d := NewStreamDecoder(body, "p")
	got := make(chan int, 1)
	go func() {
		n := 0
		for d.Next() {
			n++
		}
		got <- n
	}()
	time.Sleep(20 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n != 3 { // start, block start, delta
			t.Errorf("events before close = %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return after Close")
	}
	if err := d.Err(); err != nil {
		t.Errorf("Err after Close = %v, want nil", err)
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestFinishReasonMapping(t *testing.T) {
	cases := []struct {
		raw     string
		sawCall bool
		want    llm.FinishReason
		ok      bool
	}{
		{"STOP", false, llm.FinishStop, true},
		{"STOP", true, llm.FinishToolCalls, true},
		{"MAX_TOKENS", true, llm.FinishLength, true},
		{"SAFETY", false, llm.FinishContentFilter, true},
		{"RECITATION", false, llm.FinishContentFilter, true},
		{"BLOCKLIST", false, llm.FinishContentFilter, true},
		{"PROHIBITED_CONTENT", false, llm.FinishContentFilter, true},
		{"SPII", false, llm.FinishContentFilter, true},
		{"IMAGE_SAFETY", false, llm.FinishContentFilter, true},
		{"IMAGE_PROHIBITED_CONTENT", false, llm.FinishContentFilter, true},
		{"MODEL_ARMOR", false, llm.FinishContentFilter, true},
		{"LANGUAGE", false, llm.FinishContentFilter, true},
		{"IMAGE_RECITATION_FUTURE", false, llm.FinishContentFilter, true},
		{"OTHER", false, llm.FinishStop, true},
		{"NO_IMAGE", false, llm.FinishStop, true},
		{"SOMETHING_NEW", true, llm.FinishToolCalls, true},
		{"MALFORMED_FUNCTION_CALL", false, "", false},
		{"UNEXPECTED_TOOL_CALL", true, "", false},
	}
	for _, tc := range cases {
		if got, ok := finishReason(tc.raw, tc.sawCall); got != tc.want || ok != tc.ok {
			t.Errorf("finishReason(%s, %v) = %s, %v; want %s, %v", tc.raw, tc.sawCall, got, ok, tc.want, tc.ok)
		}
	}
}
