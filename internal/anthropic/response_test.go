package anthropic

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

func sampleResponse() *llm.Response {
	return &llm.Response{
		ID:    "chatcmpl-abc",
		Model: "gpt-4o-2024-08-06",
		Content: []llm.Part{
			{Type: llm.PartThinking, Text: "Let me check the weather.", Signature: "sig=="},
			{Type: llm.PartRedactedThinking, Data: "EmwKAhgB"},
			llm.TextPart(""),
			llm.TextPart("I'll look that up.\n\"Quotes\" <b> & \u2028 done"),
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_1", Name: "get_weather", Arguments: `{"city": "Paris"}`}},
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_2", Name: "get_time", Arguments: ``}},
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_3", Name: "truncated", Arguments: `{"a":`}},
			{Type: llm.PartNative, Dialect: llm.DialectOpenAI, Native: json.RawMessage(`{"type":"audio"}`)},
		},
		FinishReason: llm.FinishToolCalls,
		Usage:        llm.Usage{InputTokens: 100, CacheReadTokens: 50, CacheWriteTokens: 10, OutputTokens: 40, ReasoningTokens: 12},
	}
}

func TestEncodeMessagesResponseGolden(t *testing.T) {
	b := EncodeMessagesResponse(sampleResponse(), ResponseMeta{ID: "msg_01TEST", Model: "smart"})
	if !json.Valid(b) {
		t.Fatalf("invalid JSON: %s", b)
	}
	golden(t, "response/tool_calls.json", indentJSON(t, b))

	stop := &llm.Response{Content: []llm.Part{llm.TextPart("Hi")}, FinishReason: llm.FinishStopSequence, StopSequence: "END"}
	golden(t, "response/stop_sequence.json", indentJSON(t, EncodeMessagesResponse(stop, ResponseMeta{ID: "msg_02", Model: "m"})))
}

func TestEncodeMessagesResponseFinish(t *testing.T) {
	for fin, want := range map[llm.FinishReason]string{
		llm.FinishStop: "end_turn", llm.FinishStopSequence: "stop_sequence", llm.FinishLength: "max_tokens",
		llm.FinishToolCalls: "tool_use", llm.FinishContentFilter: "refusal", llm.FinishRefusal: "refusal",
		llm.FinishPause: "pause_turn", "": "end_turn",
	} {
		b := EncodeMessagesResponse(&llm.Response{FinishReason: fin}, ResponseMeta{})
		var w struct {
			ID         string `json:"id"`
			StopReason string `json:"stop_reason"`
		}
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatal(err)
		}
		if w.StopReason != want || !strings.HasPrefix(w.ID, "msg_") {
			t.Errorf("%q: stop_reason %q id %q", fin, w.StopReason, w.ID)
		}
	}
}

func TestDecodeMessagesResponse(t *testing.T) {
	body := readTestdata(t, "response/upstream.json")
	resp, err := DecodeMessagesResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "response/upstream.golden", pretty(t, resp))

	// Round trip: what we decode we encode back the same.
	again := EncodeMessagesResponse(resp, ResponseMeta{})
	got := diffJSON("", jsonValue(t, body), jsonValue(t, again))
	if len(got) != 0 {
		t.Errorf("round trip differs:\n%s", strings.Join(got, "\n"))
	}

	_, err = DecodeMessagesResponse([]byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindProviderOverloaded {
		t.Errorf("error envelope: %v", err)
	}
	if _, err := DecodeMessagesResponse([]byte(`{"content":[1]}`)); err == nil {
		t.Error("malformed content accepted")
	}
}
