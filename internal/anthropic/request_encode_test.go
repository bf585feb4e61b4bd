package anthropic

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

// normalizeAnthropic rewrites shorthand forms of a Messages request into
// their block forms, so that two requests can be compared as values.
func normalizeAnthropic(v any) any {
	top, ok := v.(map[string]any)
	if !ok {
		return v
	}
	textBlocks := func(x any) any {
		if s, ok := x.(string); ok {
			return []any{map[string]any{"type": "text", "text": s}}
		}
		return x
	}
	if s, ok := top["system"]; ok {
		top["system"] = textBlocks(s)
	}
	msgs, _ := top["messages"].([]any)
	for _, m := range msgs {
		mm := m.(map[string]any)
		mm["content"] = textBlocks(mm["content"])
		blocks, _ := mm["content"].([]any)
		for _, b := range blocks {
			bm := b.(map[string]any)
			if bm["type"] == "tool_result" {
				if c, ok := bm["content"]; ok {
					bm["content"] = textBlocks(c)
				}
				if bm["is_error"] == false {
					delete(bm, "is_error")
				}
			}
		}
	}
	if _, ok := top["stream"]; !ok {
		top["stream"] = true
	}
	return top
}

func TestEncodeSameDialectIsFaithful(t *testing.T) {
	tests := []struct {
		file string
		diff []string // expected differences, by design
	}{
		{"claude_code", nil},
		{"simple", nil},
		{"blocks", []string{`.thinking.budget_tokens: 500 != 1024`}}, // raised to Anthropic's minimum
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			orig := readTestdata(t, "decode/"+tt.file+".json")
			req, err := DecodeMessagesRequest(orig)
			if err != nil {
				t.Fatal(err)
			}
			body, err := EncodeMessagesRequest(&llm.Call{Request: req, Model: req.Model}, Version20230601)
			if err != nil {
				t.Fatal(err)
			}
			got := diffJSON("", normalizeAnthropic(jsonValue(t, orig)), normalizeAnthropic(jsonValue(t, body)))
			if strings.Join(got, "\n") != strings.Join(tt.diff, "\n") {
				t.Errorf("differences:\n%s\nwant:\n%s\nbody: %s", strings.Join(got, "\n"), strings.Join(tt.diff, "\n"), body)
			}
		})
	}
}

func TestEncodeSameDialectVersion20261021(t *testing.T) {
	req, err := DecodeMessagesRequest(readTestdata(t, "decode/blocks.json"))
	if err != nil {
		t.Fatal(err)
	}
	req.Temperature = ptr(0.5)
	req.Messages = append(req.Messages,
		llm.Message{Role: llm.RoleAssistant, Content: []llm.Part{{Type: llm.PartFile, Media: &llm.Media{MediaType: "application/pdf", Data: "JVBERi0="}}, llm.TextPart("ok")}},
		llm.Message{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: "cited", Dialect: llm.DialectAnthropic,
			Native: json.RawMessage(`{"type":"text","text":"cited","citations":[{"type":"char_location"}]}`)}}})
	body, err := EncodeMessagesRequest(&llm.Call{Request: req, Model: "m"}, Version20261021)
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	if strings.Contains(s, `"temperature"`) {
		t.Errorf("temperature sent under 2026-10-21: %s", s)
	}
	if strings.Contains(s, `JVBERi0=`) {
		t.Errorf("document in an assistant message sent under 2026-10-21")
	}
	if strings.Contains(s, `char_location`) {
		t.Errorf("citations in a user message sent under 2026-10-21")
	}
	if !strings.Contains(s, `"Claude Shannon was born on April 30, 1916.","citations"`) {
		t.Errorf("citations in an assistant message dropped: %s", s)
	}
}

// openAIToolTurn is a conversation shaped like what an OpenAI client sends
// in the middle of a tool loop.
func openAIToolTurn() *llm.Request {
	f := false
	return &llm.Request{
		Model: "smart",
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: []llm.Part{llm.TextPart("You are a weather bot.")}},
			{Role: llm.RoleDeveloper, Content: []llm.Part{llm.TextPart("Answer in French.")}},
			{Role: llm.RoleUser, Content: []llm.Part{
				llm.TextPart("What's the weather in Paris and Lyon? Here is a map."),
				{Type: llm.PartImage, Media: &llm.Media{URL: "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC", Detail: "high"}},
				{Type: llm.PartImage, Media: &llm.Media{URL: "https://example.com/map.jpg"}},
			}},
			{Role: llm.RoleAssistant, Content: []llm.Part{
				{Type: llm.PartThinking, Text: "unsigned reasoning from another provider"},
				{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_1", Name: "get_weather", Arguments: `{"city": "Paris"}`}},
				{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_2", Name: "get_weather", Arguments: ``}},
			}},
			{Role: llm.RoleTool, Content: []llm.Part{{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: "call_1", Content: []llm.Part{llm.TextPart("18°C, sunny")}}}}},
			{Role: llm.RoleTool, Content: []llm.Part{{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: "call_2", Content: []llm.Part{llm.TextPart("")}, IsError: true}}}},
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart(""), llm.TextPart("Also, is it windy?")}},
			{Role: llm.RoleAssistant, Content: []llm.Part{llm.TextPart("")}},
			{Role: llm.RoleSystem, Content: []llm.Part{llm.TextPart("Be brief.")}},
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("  ")}},
		},
		Tools: []llm.Tool{
			{Name: "get_weather", Description: "Current weather", Parameters: json.RawMessage(`{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`), Strict: ptr(true)},
			{Name: "noop"},
			{Type: "web_search_preview", Native: json.RawMessage(`{"type":"web_search_preview"}`)},
			{Type: "custom", Name: "apply_patch"},
		},
		ToolChoice:        &llm.ToolChoice{Mode: llm.ToolChoiceRequired},
		ParallelToolCalls: &f,
		Temperature:       ptr(1.5),
		TopP:              ptr(0.9),
		Stop:              []string{"END", "\n"},
		User:              "user-42",
		Reasoning:         &llm.Reasoning{Effort: "medium"},
		ResponseFormat:    &llm.ResponseFormat{Type: "json_object"},
		Native:            &llm.Native{Dialect: llm.DialectOpenAI, Fields: map[string]json.RawMessage{"logprobs": json.RawMessage("true")}},
	}
}

func TestEncodeMessagesRequestGolden(t *testing.T) {
	reasoning := &llm.Request{
		Model: "smart",
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: []llm.Part{llm.TextPart("Think, then answer.")}},
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("Prove that there are infinitely many primes."),
				{Type: llm.PartFile, Media: &llm.Media{MediaType: "application/pdf", Data: "JVBERi0xLjQK", Name: "notes.pdf"}}}},
		},
		MaxTokens:   6000,
		Temperature: ptr(0.2),
		TopK:        ptr(5),
		Reasoning:   &llm.Reasoning{Effort: "high"},
		ResponseFormat: &llm.ResponseFormat{Type: "json_schema", Name: "proof",
			Schema: json.RawMessage(`{"type":"object","properties":{"proof":{"type":"string"}},"required":["proof"],"additionalProperties":false}`)},
	}
	budget := &llm.Request{
		Model:     "smart",
		Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("hi")}}},
		MaxTokens: 512,
		Reasoning: &llm.Reasoning{BudgetTokens: 500},
	}
	tests := []struct {
		name    string
		call    *llm.Call
		version string
	}{
		{"openai_tool_turn_2023-06-01", &llm.Call{Request: openAIToolTurn(), Model: "claude-sonnet-4-5"}, Version20230601},
		{"openai_tool_turn_2026-10-21", &llm.Call{Request: openAIToolTurn(), Model: "claude-sonnet-4-5"}, Version20261021},
		{"openai_reasoning_2023-06-01", &llm.Call{Request: reasoning, Model: "claude-opus-4-5"}, Version20230601},
		{"budget_raised", &llm.Call{Request: budget, Model: "claude-haiku-4-5", Body: map[string]json.RawMessage{"service_tier": json.RawMessage(`"auto"`)}}, ""},
		{"budget_capped", &llm.Call{Request: budget, Model: "claude-haiku-4-5", MaxTokensCap: 3000}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := EncodeMessagesRequest(tt.call, tt.version)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "encode/"+tt.name+".json", indentJSON(t, body))
		})
	}
}

func TestEncodeMessagesRequestRules(t *testing.T) {
	user := func(parts ...llm.Part) llm.Message { return llm.Message{Role: llm.RoleUser, Content: parts} }
	t.Run("default max_tokens", func(t *testing.T) {
		body, _ := EncodeMessagesRequest(&llm.Call{Request: &llm.Request{Messages: []llm.Message{user(llm.TextPart("a"))}}, Model: "m"}, "")
		if !strings.Contains(string(body), `"max_tokens":4096`) || strings.Contains(string(body), `"stream"`) {
			t.Errorf("body = %s, want max_tokens 4096 and no stream for a non-streaming request", body)
		}
		body, _ = EncodeMessagesRequest(&llm.Call{Request: &llm.Request{Stream: true, Messages: []llm.Message{user(llm.TextPart("a"))}}, Model: "m"}, "")
		if !strings.Contains(string(body), `"stream":true`) {
			t.Errorf("body = %s, want stream true", body)
		}
		body, _ = EncodeMessagesRequest(&llm.Call{Request: &llm.Request{Messages: []llm.Message{user(llm.TextPart("a"))}}, Model: "m", DefaultMaxTokens: 1000}, "")
		if !strings.Contains(string(body), `"max_tokens":1000`) {
			t.Errorf("body = %s", body)
		}
	})
	t.Run("temperature clamp", func(t *testing.T) {
		req := &llm.Request{Messages: []llm.Message{user(llm.TextPart("a"))}, Temperature: ptr(1.5)}
		body, _ := EncodeMessagesRequest(&llm.Call{Request: req, Model: "m"}, Version20230601)
		if !strings.Contains(string(body), `"temperature":1`) {
			t.Errorf("body = %s", body)
		}
		body, _ = EncodeMessagesRequest(&llm.Call{Request: req, Model: "m"}, Version20261021)
		if strings.Contains(string(body), `temperature`) {
			t.Errorf("body = %s", body)
		}
	})
	errTests := []struct {
		name  string
		msgs  []llm.Message
		param string
		text  string
	}{
		{"bad arguments", []llm.Message{user(llm.TextPart("a")), {Role: llm.RoleAssistant, Content: []llm.Part{
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "c", Name: "f", Arguments: `{"a":`}}}}},
			"messages.1.content.0", `tool call "f" arguments`},
		{"array arguments", []llm.Message{user(llm.TextPart("a")), {Role: llm.RoleAssistant, Content: []llm.Part{
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "c", Name: "f", Arguments: `[1]`}}}}},
			"messages.1.content.0", "not an object"},
		{"foreign native", []llm.Message{user(llm.Part{Type: llm.PartNative, Dialect: llm.DialectOpenAI, Native: json.RawMessage(`{"type":"input_audio"}`)})},
			"messages.0.content.0", "openai format"},
		{"audio file", []llm.Message{user(llm.Part{Type: llm.PartFile, Media: &llm.Media{MediaType: "audio/wav", Data: "AAAA"}})},
			"messages.0.content.0", "not audio/wav"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeMessagesRequest(&llm.Call{Request: &llm.Request{Messages: tt.msgs}, Model: "m"}, "")
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Kind != llm.KindCallerInvalid {
				t.Fatalf("err = %v, want a 400 *llm.Error", err)
			}
			if e.Param != tt.param || !strings.Contains(e.Message, tt.text) {
				t.Errorf("param %q message %q", e.Param, e.Message)
			}
		})
	}
	t.Run("thinking left out when a tool is forced", func(t *testing.T) {
		req := &llm.Request{Messages: []llm.Message{user(llm.TextPart("a"))}, Reasoning: &llm.Reasoning{Effort: "low"},
			Tools: []llm.Tool{{Name: "f"}}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "f"}}
		body, _ := EncodeMessagesRequest(&llm.Call{Request: req, Model: "m"}, "")
		if strings.Contains(string(body), `"thinking"`) || !strings.Contains(string(body), `"max_tokens":4096`) {
			t.Errorf("body = %s", body)
		}
		req.ToolChoice = nil
		body, _ = EncodeMessagesRequest(&llm.Call{Request: req, Model: "m"}, "")
		if !strings.Contains(string(body), `"thinking":{"type":"enabled","budget_tokens":2048}`) {
			t.Errorf("body = %s", body)
		}
	})
	t.Run("tool results first", func(t *testing.T) {
		req := &llm.Request{Messages: []llm.Message{
			user(llm.TextPart("q")),
			{Role: llm.RoleAssistant, Content: []llm.Part{{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "a", Name: "f", Arguments: "{}"}}}},
			user(llm.TextPart("by the way")),
			{Role: llm.RoleTool, Content: []llm.Part{{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: "a", Content: []llm.Part{llm.TextPart("r")}}}}},
		}}
		body, err := EncodeMessagesRequest(&llm.Call{Request: req, Model: "m"}, "")
		if err != nil {
			t.Fatal(err)
		}
		want := `{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"text","text":"r"}]},{"type":"text","text":"by the way"}]}`
		if !strings.Contains(string(body), want) {
			t.Errorf("body = %s", body)
		}
	})
}

func TestEncodeForeignIDsAndPrefill(t *testing.T) {
	req := &llm.Request{Messages: []llm.Message{
		{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("q")}},
		{Role: llm.RoleAssistant, Content: []llm.Part{{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "functions.get_weather:0", Name: "get_weather", Arguments: "{}"}}}},
		{Role: llm.RoleTool, Content: []llm.Part{{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: "functions.get_weather:0", Content: []llm.Part{llm.TextPart("r")}}}}},
		{Role: llm.RoleAssistant, Content: []llm.Part{{Type: llm.PartText, Text: "The answer is \n", CacheControl: json.RawMessage(`{"type":"ephemeral"}`)}}},
	}}
	body, err := EncodeMessagesRequest(&llm.Call{Request: req, Model: "m"}, "")
	if err != nil {
		t.Fatal(err)
	}
	s := string(body)
	if strings.Count(s, `"functions_get_weather_0"`) != 2 {
		t.Errorf("tool ids not sanitized consistently: %s", s)
	}
	if !strings.Contains(s, `{"type":"text","text":"The answer is","cache_control":{"type":"ephemeral"}}`) {
		t.Errorf("prefill whitespace not trimmed: %s", s)
	}
	// The same request from an Anthropic client is sent as it is.
	req.Native = &llm.Native{Dialect: llm.DialectAnthropic}
	body, _ = EncodeMessagesRequest(&llm.Call{Request: req, Model: "m"}, "")
	if !strings.Contains(string(body), `"functions.get_weather:0"`) || !strings.Contains(string(body), `"The answer is \n"`) {
		t.Errorf("same-dialect request changed: %s", body)
	}
}

func TestEncodeCountTokensRequest(t *testing.T) {
	req, err := DecodeMessagesRequest(readTestdata(t, "decode/simple.json"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := encodeCountTokensRequest(&llm.Call{Request: req, Model: "m"}, "")
	if err != nil {
		t.Fatal(err)
	}
	v := jsonValue(t, body).(map[string]any)
	for _, k := range []string{"max_tokens", "stream", "metadata", "stop_sequences", "temperature", "top_p", "top_k", "service_tier", "inference_geo"} {
		if _, ok := v[k]; ok {
			t.Errorf("count_tokens body has %s: %s", k, body)
		}
	}
	for _, k := range []string{"model", "messages", "system", "tools", "tool_choice", "unknown_future_field"} {
		if _, ok := v[k]; !ok {
			t.Errorf("count_tokens body lacks %s: %s", k, body)
		}
	}
}
