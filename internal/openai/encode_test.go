package openai

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	oai "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/packages/ssestream"

	"github.com/rickyjim626/xjp/internal/llm"
)

var testMeta = ResponseMeta{ID: "chatcmpl-xjp123", Model: "my-model", Created: 1750000000}

func TestEncodeChatResponseGolden(t *testing.T) {
	usage := llm.Usage{InputTokens: 100, CacheReadTokens: 50, CacheWriteTokens: 25, OutputTokens: 40, ReasoningTokens: 12}
	tests := []struct {
		name string
		resp llm.Response
	}{
		{"text", llm.Response{Content: []llm.Part{llm.TextPart("Hello "), llm.TextPart("world")}, FinishReason: llm.FinishStop, Usage: usage}},
		{"tool_calls_only", llm.Response{Content: []llm.Part{
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}},
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_2", Name: "now"}},
		}, FinishReason: llm.FinishToolCalls}},
		{"thinking", llm.Response{Content: []llm.Part{
			{Type: llm.PartThinking, Text: "Let me think.", Signature: "sig-abc"},
			{Type: llm.PartRedactedThinking, Data: "opaque=="},
			llm.TextPart("Answer."),
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "tool_x", Name: "look", Arguments: "{}", Signature: "gemini-sig"}},
		}, FinishReason: llm.FinishToolCalls, Usage: usage}},
		{"stop_sequence", llm.Response{Content: []llm.Part{llm.TextPart("a")}, FinishReason: llm.FinishStopSequence, StopSequence: "END"}},
		{"refusal", llm.Response{Content: []llm.Part{llm.TextPart("I can't help with that.")}, FinishReason: llm.FinishRefusal}},
		{"length_pause_empty", llm.Response{FinishReason: llm.FinishPause}},
		{"custom_tool", llm.Response{Content: []llm.Part{
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_p", Name: "apply_patch", Type: "custom", Arguments: "*** Begin Patch\n"}},
		}, FinishReason: llm.FinishToolCalls}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EncodeChatResponse(&tt.resp, testMeta)
			if !json.Valid(got) {
				t.Fatalf("invalid JSON: %s", got)
			}
			// The official SDK reads it.
			var cc oai.ChatCompletion
			if err := json.Unmarshal(got, &cc); err != nil {
				t.Fatalf("SDK cannot read the response: %v", err)
			}
			if cc.Object != "chat.completion" || len(cc.Choices) != 1 || cc.Choices[0].Message.Role != "assistant" {
				t.Errorf("unexpected SDK view: %+v", cc)
			}
			golden(t, "encode_response/"+tt.name, indent(t, got))
		})
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		t.Fatalf("indent %s: %v", b, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes()
}

// Stream event fixtures shared by the stream encoding tests.
var (
	evStart  = llm.Event{Type: llm.EventStart, ID: "up-1", Model: "upstream-model"}
	evUsage  = llm.Event{Type: llm.EventUsage, Usage: &llm.Usage{InputTokens: 10, CacheReadTokens: 5, OutputTokens: 7, ReasoningTokens: 2}}
	evFinish = func(r llm.FinishReason) llm.Event { return llm.Event{Type: llm.EventFinish, Finish: r} }
	blockEv  = func(i int, b llm.Block) llm.Event { return llm.Event{Type: llm.EventBlockStart, Index: i, Block: &b} }
	deltaEv  = func(t llm.EventType, i int, s string) llm.Event { return llm.Event{Type: t, Index: i, Text: s} }
	stopEv   = func(i int) llm.Event { return llm.Event{Type: llm.EventBlockStop, Index: i} }
)

var streamEncodeCases = []struct {
	name         string
	includeUsage bool
	events       []llm.Event
}{
	{"text", false, []llm.Event{evStart, blockEv(0, llm.Block{Type: llm.BlockText}),
		deltaEv(llm.EventTextDelta, 0, "Hel"), deltaEv(llm.EventTextDelta, 0, "lo \"world\"\n"), stopEv(0), evUsage, evFinish(llm.FinishStop)}},
	{"usage_chunk", true, []llm.Event{evStart, blockEv(0, llm.Block{Type: llm.BlockText}),
		deltaEv(llm.EventTextDelta, 0, "Hi"), stopEv(0), evFinish(llm.FinishLength), evUsage}},
	{"tool_call", true, []llm.Event{evStart,
		blockEv(0, llm.Block{Type: llm.BlockText}), deltaEv(llm.EventTextDelta, 0, "Checking."), stopEv(0),
		blockEv(1, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "call_abc", Name: "get_weather"}}),
		deltaEv(llm.EventToolArgsDelta, 1, `{"city":`), deltaEv(llm.EventToolArgsDelta, 1, `"Paris"}`), stopEv(1),
		evUsage, evFinish(llm.FinishToolCalls)}},
	{"parallel_tool_calls", false, []llm.Event{evStart,
		blockEv(0, llm.Block{Type: llm.BlockThinking}), deltaEv(llm.EventThinkingDelta, 0, "two calls"), stopEv(0),
		blockEv(1, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "call_1", Name: "a"}}),
		deltaEv(llm.EventToolArgsDelta, 1, `{"x":1}`), stopEv(1),
		blockEv(2, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "call_2", Name: "b", Arguments: `{"y":2}`}}), stopEv(2),
		evFinish(llm.FinishToolCalls)}},
	{"thinking_signature", true, []llm.Event{evStart,
		blockEv(0, llm.Block{Type: llm.BlockThinking}), deltaEv(llm.EventThinkingDelta, 0, "Let me "), deltaEv(llm.EventThinkingDelta, 0, "think."),
		deltaEv(llm.EventSignatureDelta, 0, "EqcDsig=="), stopEv(0),
		blockEv(1, llm.Block{Type: llm.BlockRedactedThinking, Data: "redacted=="}), stopEv(1),
		blockEv(2, llm.Block{Type: llm.BlockText}), deltaEv(llm.EventTextDelta, 2, "Done."), stopEv(2),
		blockEv(3, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "tool_w", Name: "w", Signature: "gemsig"}}), stopEv(3),
		evUsage, evFinish(llm.FinishToolCalls)}},
	{"error_frame", true, []llm.Event{evStart, blockEv(0, llm.Block{Type: llm.BlockText}), deltaEv(llm.EventTextDelta, 0, "partial"),
		{Type: llm.EventError, Err: &llm.Error{Kind: llm.KindProviderOverloaded, Status: 503, Provider: "openrouter", Message: "upstream overloaded"}},
		deltaEv(llm.EventTextDelta, 0, "ignored"), evFinish(llm.FinishStop)}},
	{"no_start_event", false, []llm.Event{blockEv(0, llm.Block{Type: llm.BlockText}), deltaEv(llm.EventTextDelta, 0, "x"), evFinish(llm.FinishContentFilter)}},
	{"unicode", false, []llm.Event{evStart, deltaEv(llm.EventTextDelta, 0, "tab\tnul\x00 bell\x07 emoji 😀 ls\u2028ps\u2029 bad\xff <&>"), evFinish(llm.FinishStop)}},
}

func encodeStream(events []llm.Event, includeUsage bool) []byte {
	enc := NewChatStreamEncoder(testMeta, includeUsage)
	var out []byte
	for _, ev := range events {
		out = enc.Encode(out, ev)
	}
	return enc.End(out)
}

func TestChatStreamEncoderGolden(t *testing.T) {
	for _, tt := range streamEncodeCases {
		t.Run(tt.name, func(t *testing.T) {
			got := encodeStream(tt.events, tt.includeUsage)
			for _, frame := range strings.Split(strings.TrimSuffix(string(got), "\n\n"), "\n\n") {
				data, ok := strings.CutPrefix(frame, "data: ")
				if !ok || strings.Contains(data, "\n") {
					t.Fatalf("bad frame %q", frame)
				}
				if data != "[DONE]" && !json.Valid([]byte(data)) {
					t.Fatalf("frame is not JSON: %s", data)
				}
			}
			golden(t, "encode_stream/"+tt.name, got)
		})
	}
}

// TestChatStreamEncoderSDK feeds the encoder's output to the official
// openai-go stream decoder and accumulator.
func TestChatStreamEncoderSDK(t *testing.T) {
	events := []llm.Event{evStart,
		blockEv(0, llm.Block{Type: llm.BlockThinking}), deltaEv(llm.EventThinkingDelta, 0, "hmm"), deltaEv(llm.EventSignatureDelta, 0, "sig"), stopEv(0),
		blockEv(1, llm.Block{Type: llm.BlockText}), deltaEv(llm.EventTextDelta, 1, "Calling "), deltaEv(llm.EventTextDelta, 1, "tools."), stopEv(1),
		blockEv(2, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "call_1", Name: "a"}}),
		deltaEv(llm.EventToolArgsDelta, 2, `{"x":`), deltaEv(llm.EventToolArgsDelta, 2, `1}`), stopEv(2),
		blockEv(3, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "call_2", Name: "b"}}),
		deltaEv(llm.EventToolArgsDelta, 3, `{}`), stopEv(3),
		evUsage, evFinish(llm.FinishToolCalls)}
	wire := encodeStream(events, true)
	res := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(wire))}
	stream := ssestream.NewStream[oai.ChatCompletionChunk](ssestream.NewDecoder(res), nil)
	var acc oai.ChatCompletionAccumulator
	chunks := 0
	for stream.Next() {
		chunks++
		if !acc.AddChunk(stream.Current()) {
			t.Fatalf("accumulator refused chunk %d: %s", chunks, stream.Current().RawJSON())
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("SDK stream error: %v", err)
	}
	if len(acc.Choices) != 1 {
		t.Fatalf("choices = %d", len(acc.Choices))
	}
	msg := acc.Choices[0].Message
	if msg.Content != "Calling tools." {
		t.Errorf("content = %q", msg.Content)
	}
	if len(msg.ToolCalls) != 2 || msg.ToolCalls[0].ID != "call_1" || msg.ToolCalls[0].Function.Arguments != `{"x":1}` ||
		msg.ToolCalls[1].Function.Name != "b" || msg.ToolCalls[1].Function.Arguments != "{}" {
		t.Errorf("tool calls = %+v", msg.ToolCalls)
	}
	if acc.Choices[0].FinishReason != "tool_calls" {
		t.Errorf("finish = %q", acc.Choices[0].FinishReason)
	}
	if acc.Usage.PromptTokens != 15 || acc.Usage.CompletionTokens != 7 || acc.Usage.TotalTokens != 22 ||
		acc.Usage.PromptTokensDetails.CachedTokens != 5 || acc.Usage.CompletionTokensDetails.ReasoningTokens != 2 {
		t.Errorf("usage = %+v", acc.Usage)
	}

	// The SDK throws on an error frame.
	wire = encodeStream(streamEncodeCases[5].events, true)
	res = &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(wire))}
	stream = ssestream.NewStream[oai.ChatCompletionChunk](ssestream.NewDecoder(res), nil)
	for stream.Next() {
	}
	if err := stream.Err(); err == nil || !strings.Contains(err.Error(), "upstream overloaded") {
		t.Errorf("SDK error = %v, want the error frame", err)
	}
}

// TestChatStreamEncoderRoundTrip decodes the encoder's output with the
// upstream decoder: an OpenAI-speaking xjp in front of another one loses
// nothing.
func TestChatStreamEncoderRoundTrip(t *testing.T) {
	for _, tt := range streamEncodeCases {
		if tt.name == "error_frame" || tt.name == "no_start_event" || tt.name == "unicode" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			wire := encodeStream(tt.events, true)
			var want llm.Folder
			for _, ev := range tt.events {
				want.Add(ev)
			}
			got, err := llm.Collect(NewChatStreamDecoder(io.NopCloser(bytes.NewReader(wire)), "rt"))
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			w := want.Response()
			w.ID, w.Model = testMeta.ID, testMeta.Model
			if g, w := dump(t, got), dump(t, w); !bytes.Equal(g, w) {
				t.Errorf("round trip differs\n--- got\n%s\n--- want\n%s", g, w)
			}
		})
	}
}

func TestChatStreamEncoderAllocs(t *testing.T) {
	enc := NewChatStreamEncoder(testMeta, true)
	buf := make([]byte, 0, 4096)
	buf = enc.Encode(buf, evStart)
	buf = enc.Encode(buf, blockEv(0, llm.Block{Type: llm.BlockText}))
	ev := deltaEv(llm.EventTextDelta, 0, "token ")
	allocs := testing.AllocsPerRun(1000, func() {
		buf = enc.Encode(buf[:0], ev)
	})
	if allocs != 0 {
		t.Errorf("Encode allocates %.1f times per text delta", allocs)
	}
}

func TestEncodeError(t *testing.T) {
	tests := []struct {
		err        *llm.Error
		typ, param string
		code       any
	}{
		{llm.InvalidRequest("messages[0].content", "bad content"), "invalid_request_error", "messages[0].content", nil},
		{&llm.Error{Kind: llm.KindCallerInvalid, Status: 404, Message: "the model 'x' does not exist"}, "invalid_request_error", "", "model_not_found"},
		{&llm.Error{Kind: llm.KindCallerInvalid, Status: 413, Message: "request body too large"}, "invalid_request_error", "", nil},
		{&llm.Error{Kind: llm.KindPolicyAuth, Status: 401, Code: "invalid_api_key", Message: "invalid api key"}, "authentication_error", "", "invalid_api_key"},
		{&llm.Error{Kind: llm.KindPolicyAuth, Status: 403, Message: "key disabled"}, "permission_error", "", nil},
		{&llm.Error{Kind: llm.KindPolicyBudget, Status: 429, Code: "rate_limit_exceeded", Message: "slow down"}, "rate_limit_error", "", "rate_limit_exceeded"},
		{&llm.Error{Kind: llm.KindPolicyBudget, Status: 429, Code: "insufficient_quota", Message: "quota"}, "insufficient_quota", "", "insufficient_quota"},
		{&llm.Error{Kind: llm.KindProviderServer, Status: 502, Provider: "openrouter", Message: "all routes failed"}, "api_error", "", nil},
		{&llm.Error{Kind: llm.KindGatewayNoUpstream, Status: 503, Message: "no upstream"}, "api_error", "", nil},
		{&llm.Error{Kind: llm.KindProviderTimeout, Status: 504, Message: "timeout"}, "api_error", "", nil},
		{&llm.Error{Kind: llm.KindPolicyBudget, Message: "no status"}, "rate_limit_error", "", nil},
		{nil, "api_error", "", nil},
	}
	for _, tt := range tests {
		b := EncodeError(tt.err)
		var env struct {
			Error struct {
				Message string  `json:"message"`
				Type    string  `json:"type"`
				Param   *string `json:"param"`
				Code    any     `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &env); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if env.Error.Type != tt.typ || env.Error.Code != tt.code || env.Error.Message == "" {
			t.Errorf("EncodeError(%v) = %s; want type %s code %v", tt.err, b, tt.typ, tt.code)
		}
		if p := env.Error.Param; (p == nil) != (tt.param == "") || p != nil && *p != tt.param {
			t.Errorf("EncodeError(%v) = %s; want param %q", tt.err, b, tt.param)
		}
		if tt.err != nil && ErrorType(tt.err) != tt.typ {
			t.Errorf("ErrorType(%v) = %s", tt.err, ErrorType(tt.err))
		}
	}
	if got := string(EncodeError(&llm.Error{Status: 502, Provider: "or", Message: "boom"})); got != `{"error":{"message":"or: boom","type":"api_error","param":null,"code":null}}` {
		t.Errorf("EncodeError = %s", got)
	}
}
