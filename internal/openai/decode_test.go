package openai

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

func testDecoder(r io.Reader) *ChatStreamDecoder {
	d := newChatStreamDecoder(context.Background(), io.NopCloser(r), "up")
	n := 0
	d.newID = func() string { n++; return "call_minted_" + strconv.Itoa(n) }
	return d
}

// TestChatStreamDecoderGolden decodes recorded-shape upstream streams in
// testdata/upstream, read whole and one byte at a time (an event split
// across reads must not matter).
func TestChatStreamDecoderGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/upstream/*.sse")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".sse")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			got := drain(testDecoder(bytes.NewReader(raw)))
			golden(t, "decode_stream/"+name, []byte(got))
			if split := drain(testDecoder(iotest.OneByteReader(bytes.NewReader(raw)))); split != got {
				t.Errorf("one byte at a time differs:\n%s\nwhole:\n%s", split, got)
			}
			// The event sequence obeys the block protocol.
			checkProtocol(t, testDecoder(bytes.NewReader(raw)))
		})
	}
}

// checkProtocol asserts sequential block indices, one open block at a time,
// deltas only to the open block, every block stopped before finish.
func checkProtocol(t *testing.T, s llm.Stream) {
	t.Helper()
	open, next, finished := -1, 0, false
	for s.Next() {
		ev := s.Event()
		switch ev.Type {
		case llm.EventBlockStart:
			if open >= 0 {
				t.Errorf("block %d starts while %d is open", ev.Index, open)
			}
			if ev.Index != next {
				t.Errorf("block index %d, want %d", ev.Index, next)
			}
			open, next = ev.Index, next+1
		case llm.EventTextDelta, llm.EventThinkingDelta, llm.EventSignatureDelta, llm.EventToolArgsDelta:
			if ev.Index != open {
				t.Errorf("%s to block %d while %d is open", ev.Type, ev.Index, open)
			}
		case llm.EventBlockStop:
			if ev.Index != open {
				t.Errorf("stop of %d while %d is open", ev.Index, open)
			}
			open = -1
		case llm.EventFinish:
			if open >= 0 {
				t.Errorf("finish with block %d open", open)
			}
			finished = true
		default:
			if finished && ev.Type != llm.EventUsage {
				t.Errorf("%s after finish", ev.Type)
			}
		}
	}
}

func TestChatStreamDecoderCloseDuringNext(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte("data: {\"id\":\"x\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"))
		// then nothing: the upstream hangs
	}()
	d := newChatStreamDecoder(context.Background(), pr, "up")
	if !d.Next() || d.Event().Type != llm.EventStart {
		t.Fatalf("first event = %v", d.Event())
	}
	d.Next() // block start
	d.Next() // text delta
	done := make(chan bool)
	go func() {
		ok := d.Next() // blocks reading
		done <- ok
	}()
	time.Sleep(20 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case ok := <-done:
		if ok {
			t.Errorf("Next returned true after Close")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Next did not return after Close")
	}
	if err := d.Err(); err != nil {
		t.Errorf("Err after Close = %v, want nil", err)
	}
	if d.Next() {
		t.Error("Next after Close")
	}
	if err := d.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestChatStreamDecoderReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader("data: {\"id\":\"x\",\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n"),
		iotest.ErrReader(errors.New("connection reset by peer")))
	s := testDecoder(r)
	for s.Next() {
	}
	e := llm.AsError(s.Err())
	if e == nil || e.Kind != llm.KindProviderServer || e.Provider != "up" {
		t.Fatalf("Err = %#v", e)
	}
}

func TestDecodeChatResponseGolden(t *testing.T) {
	tests := []struct{ name, body string }{
		{"openai_text", `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12,"prompt_tokens_details":{"cached_tokens":4}}}`},
		{"openai_tools", `{"id":"chatcmpl-2","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"id":"call_2","type":"function","function":{"name":"g","arguments":""}},{"id":"call_3","type":"custom","custom":{"name":"apply_patch","input":"*** Begin"}}]},"finish_reason":"tool_calls"}]}`},
		{"openrouter_reasoning", `{"id":"gen-1","model":"anthropic/claude-sonnet-4","choices":[{"index":0,"message":{"role":"assistant","content":"Sunny.","reasoning":"Think.","reasoning_details":[{"type":"reasoning.text","text":"Think.","signature":"sig","format":"anthropic-claude-v1","index":0},{"type":"reasoning.encrypted","data":"blob","index":1}]},"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":20,"cost":0.01,"prompt_tokens_details":{"cached_tokens":30,"cache_write_tokens":20},"completion_tokens_details":{"reasoning_tokens":5}}}`},
		{"ollama_no_finish", `{"id":"chatcmpl-3","model":"llama3","choices":[{"index":0,"message":{"role":"assistant","content":[{"type":"text","text":"Hi"}],"reasoning_content":"hmm"}}]}`},
		{"refusal", `{"id":"chatcmpl-4","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"No."},"finish_reason":"stop"}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := DecodeChatResponse([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "decode_response/"+tt.name, dump(t, resp))
		})
	}
	for _, body := range []string{`not json`, `[1]`, `{"error":{"message":"boom","code":500}}`, `{"choices":[{"message":{},"finish_reason":"error"}]}`} {
		if _, err := DecodeChatResponse([]byte(body)); err == nil {
			t.Errorf("DecodeChatResponse(%s): no error", body)
		} else if e := llm.AsError(err); !e.Kind.Retryable() {
			t.Errorf("DecodeChatResponse(%s): kind %s is not retryable", body, e.Kind)
		}
	}
}

func TestDecodeError(t *testing.T) {
	tests := []struct {
		status         int
		body           string
		kind           llm.Kind
		clientStatus   int
		msg, typ, code string
		noMsg          string
	}{
		{400, `{"error":{"message":"Invalid 'messages[1].content': string too long.","type":"invalid_request_error","param":"messages[1].content","code":"string_above_max_length"}}`,
			llm.KindCallerInvalid, 400, "string too long", "invalid_request_error", "string_above_max_length", ""},
		{401, `{"error":{"message":"Incorrect API key provided: sk-abc.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			llm.KindProviderAuth, 502, "refused the gateway's credentials (HTTP 401): Incorrect API key", "invalid_request_error", "", ""},
		{402, `{"error":{"code":402,"message":"Insufficient credits"}}`, llm.KindProviderAuth, 502, "Insufficient credits", "", "", ""},
		{429, `{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}`,
			llm.KindProviderRateLimited, 429, "exceeded your current quota", "insufficient_quota", "insufficient_quota", ""},
		{429, `{"error":{"code":429,"message":"Provider returned error","metadata":{"raw":"anthropic/claude: rate limited upstream","provider_name":"Anthropic"}}}`,
			llm.KindProviderRateLimited, 429, "Provider returned error: anthropic/claude: rate limited upstream", "", "", ""},
		{500, `{"object":"error","message":"CUDA out of memory","type":"InternalServerError","param":null,"code":500}`,
			llm.KindProviderServer, 502, "CUDA out of memory", "InternalServerError", "", ""},
		{503, `{"error":{"code":503,"message":"No instances available","metadata":{"error_type":"provider_unavailable"}}}`,
			llm.KindProviderOverloaded, 503, "No instances available", "provider_unavailable", "", ""},
		{404, `{"error":"model \"llama9\" not found, try pulling it first"}`, llm.KindCallerInvalid, 404, "not found, try pulling", "", "", ""},
		{422, `{"detail":[{"loc":["body","messages"],"msg":"field required","type":"value_error.missing"}]}`, llm.KindCallerInvalid, 422, "field required", "", "", ""},
		{502, "<html><body>502 Bad Gateway</body></html>\n", llm.KindProviderServer, 502, "<html><body>502 Bad Gateway", "", "", ""},
		{504, ``, llm.KindProviderTimeout, 504, "upstream returned HTTP 504", "", "", ""},
		{400, `[{"error":{"code":400,"message":"API key not valid.","status":"INVALID_ARGUMENT"}}]`, llm.KindCallerInvalid, 400, "API key not valid", "INVALID_ARGUMENT", "", ""},
	}
	for _, tt := range tests {
		e := DecodeError("up", tt.status, []byte(tt.body))
		if e.Kind != tt.kind || e.Status != tt.clientStatus || e.Provider != "up" || e.UpstreamStatus != tt.status {
			t.Errorf("DecodeError(%d, %s) = kind %s status %d provider %q upstream %d", tt.status, tt.body, e.Kind, e.Status, e.Provider, e.UpstreamStatus)
		}
		if !strings.Contains(e.Message, tt.msg) {
			t.Errorf("DecodeError(%d, %s).Message = %q, want %q", tt.status, tt.body, e.Message, tt.msg)
		}
		if e.UpstreamType != tt.typ || e.Code != tt.code {
			t.Errorf("DecodeError(%d, %s) type, code = %q, %q; want %q, %q", tt.status, tt.body, e.UpstreamType, e.Code, tt.typ, tt.code)
		}
	}
	long := strings.Repeat("x", 5000)
	if e := DecodeError("up", 500, []byte(long)); len(e.Message) > maxErrorMessage+10 {
		t.Errorf("plain-text message not truncated: %d bytes", len(e.Message))
	}
}
