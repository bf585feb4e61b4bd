package openai

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

// anthropicShaped is a request as the Anthropic codec produces it from a
// Claude Code turn: system blocks with cache_control, signed thinking,
// parallel tool_use, all tool results in one message (one with an image,
// one an error), a hosted web_search tool, a thinking budget, five stop
// sequences and Anthropic-only native fields.
func anthropicShaped() *llm.Request {
	cc := json.RawMessage(`{"type":"ephemeral"}`)
	return &llm.Request{
		Model: "claude-sonnet-4.5",
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: []llm.Part{
				{Type: llm.PartText, Text: "x-anthropic-billing-header: cc_version=2.1"},
				{Type: llm.PartText, Text: "You are Claude Code.", CacheControl: cc},
			}},
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("What's in /tmp and the weather?")}},
			{Role: llm.RoleAssistant, Content: []llm.Part{
				{Type: llm.PartThinking, Text: "Two tools needed.", Signature: "EqcDsig=="},
				{Type: llm.PartRedactedThinking, Data: "redacted-blob"},
				llm.TextPart("Checking."),
				{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "toolu_01", Name: "ls", Arguments: `{"path":"/tmp"}`}},
				{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "toolu_02", Name: "screenshot"}},
			}},
			{Role: llm.RoleTool, Content: []llm.Part{
				{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: "toolu_01", Content: []llm.Part{llm.TextPart("a.txt\nb.txt")}}},
				{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: "toolu_02", IsError: false, Content: []llm.Part{
					llm.TextPart("screen:"),
					{Type: llm.PartImage, Media: &llm.Media{MediaType: "image/png", Data: "iVBORw0KGgo="}},
				}}},
			}},
			{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: "Thanks, continue.", CacheControl: cc}}},
			{Role: llm.RoleSystem, Content: []llm.Part{llm.TextPart("<env>cwd=/home</env>")}},
		},
		Tools: []llm.Tool{
			{Name: "ls", Description: "List a directory", Parameters: json.RawMessage(`{
				"$schema": "http://json-schema.org/draft-07/schema#",
				"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"], "additionalProperties": false}`)},
			{Name: "screenshot", Parameters: json.RawMessage(`{"type":"object","properties":{}}`)},
			{Type: "web_search_20250305", Name: "web_search", Native: json.RawMessage(`{"type":"web_search_20250305","name":"web_search","max_uses":5}`)},
		},
		ToolChoice:  &llm.ToolChoice{Mode: llm.ToolChoiceAuto},
		MaxTokens:   32000,
		Temperature: ptr(1.0),
		TopK:        ptr(5),
		Stop:        []string{"a", "b", "c", "d", "e"},
		User:        "user_abc",
		Reasoning:   &llm.Reasoning{BudgetTokens: 8000},
		Stream:      true,
		Native: &llm.Native{Dialect: llm.DialectAnthropic,
			Fields:  map[string]json.RawMessage{"context_management": json.RawMessage(`{"edits":[]}`)},
			Headers: map[string]string{"Anthropic-Beta": "interleaved-thinking-2025-05-14"}},
	}
}

// geminiShaped is a request as the Gemini codec produces it: a thought
// signature on a function call, an unsigned thought, inline media.
func geminiShaped() *llm.Request {
	return &llm.Request{
		Model: "gemini-3-pro",
		Messages: []llm.Message{
			{Role: llm.RoleSystem, Content: []llm.Part{llm.TextPart("Be brief.")}},
			{Role: llm.RoleUser, Content: []llm.Part{
				llm.TextPart("Describe these."),
				{Type: llm.PartImage, Media: &llm.Media{MediaType: "image/jpeg", Data: "/9j/4AAQ"}},
				{Type: llm.PartFile, Media: &llm.Media{MediaType: "application/pdf", Data: "JVBERi0=", Name: "paper.pdf"}},
				{Type: llm.PartFile, Media: &llm.Media{MediaType: "audio/wav", Data: "UklGRg=="}},
				{Type: llm.PartImage, Media: &llm.Media{URL: "https://example.com/a.png", Detail: "low"}},
				{Type: llm.PartFile, Media: &llm.Media{MediaType: "video/mp4", URL: "gs://bucket/v.mp4"}},
			}},
			{Role: llm.RoleAssistant, Content: []llm.Part{
				{Type: llm.PartThinking, Text: "unsigned thought"},
				{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "gem_call_1", Name: "lookup", Arguments: `{"q":"x"}`, Signature: "thoughtSig=="}},
			}},
			{Role: llm.RoleTool, Content: []llm.Part{
				{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: "gem_call_1", Name: "lookup", Content: []llm.Part{llm.TextPart(`{"content":"found"}`)}}},
			}},
		},
		Tools:          []llm.Tool{{Name: "lookup", Parameters: json.RawMessage(`{"type":"object"}`)}},
		ToolChoice:     &llm.ToolChoice{Mode: llm.ToolChoiceRequired},
		TopP:           ptr(0.95),
		Seed:           ptr(int64(7)),
		ResponseFormat: &llm.ResponseFormat{Type: "json_schema", Schema: json.RawMessage(`{"type":"object"}`)},
		Reasoning:      &llm.Reasoning{Effort: "low"},
		Native:         &llm.Native{Dialect: llm.DialectGemini, Fields: map[string]json.RawMessage{"safetySettings": json.RawMessage(`[]`)}},
	}
}

// openaiShaped decodes an OpenAI client request: the same-dialect path.
func openaiShaped(t *testing.T) *llm.Request {
	t.Helper()
	req, err := DecodeChatRequest([]byte(`{"model":"gpt-5","messages":[
		{"role":"developer","content":"Use tools."},
		{"role":"user","content":[{"type":"text","text":"hi"},{"type":"input_audio","input_audio":{"data":"ZkxhQw==","format":"flac"}},{"type":"file","file":{"file_id":"file-1"}}]},
		{"role":"assistant","content":null,"reasoning_content":"My own reasoning.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"a","arguments":""}}]},
		{"role":"tool","tool_call_id":"call_1","content":"ok"}],
		"tools":[{"type":"function","function":{"name":"a","parameters":{"type":"object"},"strict":true}},
			{"type":"custom","custom":{"name":"apply_patch","format":{"type":"text"}}},{"type":"web_search_preview"}],
		"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"required","tools":[{"type":"function","function":{"name":"a"}}]}},
		"parallel_tool_calls":true,"max_completion_tokens":2048,"reasoning_effort":"minimal",
		"logprobs":true,"top_logprobs":2,"metadata":{"a":"b"},"service_tier":"flex","prompt_cache_key":"k1","x_vendor":{"z":1},
		"stream":true,"stream_options":{"include_usage":false}}`))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestEncodeChatRequestGolden(t *testing.T) {
	tests := []struct {
		name   string
		flavor Flavor
		call   func(t *testing.T) *llm.Call
	}{
		{"anthropic_generic", FlavorGeneric, func(*testing.T) *llm.Call {
			return &llm.Call{Request: anthropicShaped(), Model: "anthropic/claude-sonnet-4.5", MaxTokensCap: 16000}
		}},
		{"anthropic_openrouter", FlavorOpenRouter, func(*testing.T) *llm.Call {
			return &llm.Call{Request: anthropicShaped(), Model: "anthropic/claude-sonnet-4.5", MaxTokensCap: 16000,
				Body: map[string]json.RawMessage{"provider": json.RawMessage(`{"order": ["anthropic"], "allow_fallbacks": false}`)}}
		}},
		{"anthropic_openai", FlavorOpenAI, func(*testing.T) *llm.Call {
			return &llm.Call{Request: anthropicShaped(), Model: "gpt-5"}
		}},
		{"gemini_generic", FlavorGeneric, func(*testing.T) *llm.Call {
			return &llm.Call{Request: geminiShaped(), Model: "google/gemini-3-pro-preview", DefaultMaxTokens: 4096}
		}},
		{"gemini_openrouter", FlavorOpenRouter, func(*testing.T) *llm.Call {
			return &llm.Call{Request: geminiShaped(), Model: "google/gemini-3-pro-preview"}
		}},
		{"openai_passthrough", FlavorGeneric, func(t *testing.T) *llm.Call {
			return &llm.Call{Request: openaiShaped(t), Model: "openai/gpt-5", MaxTokensCap: 1000,
				Body: map[string]json.RawMessage{"service_tier": json.RawMessage(`"priority"`), "usage": json.RawMessage(`{"include":true}`)}}
		}},
		{"body_sets_limit", FlavorOpenAI, func(t *testing.T) *llm.Call {
			req := &llm.Request{Model: "m", MaxTokens: 100, Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("x")}}},
				Reasoning: &llm.Reasoning{Adaptive: true}}
			return &llm.Call{Request: req, Model: "o3", Body: map[string]json.RawMessage{"max_tokens": json.RawMessage(`50`)}}
		}},
		{"adaptive_openrouter", FlavorOpenRouter, func(t *testing.T) *llm.Call {
			req := &llm.Request{Model: "m", Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("x")}}},
				Reasoning: &llm.Reasoning{Adaptive: true}, ResponseFormat: &llm.ResponseFormat{Type: "json_object"},
				Tools:      []llm.Tool{{Type: "web_search_20250305", Name: "web_search", Native: json.RawMessage(`{"type":"web_search_20250305"}`)}},
				ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "web_search"}}
			return &llm.Call{Request: req, Model: "deepseek/deepseek-r1"}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := tt.call(t)
			before := dump(t, call.Request)
			got, err := EncodeChatRequestFlavor(call, tt.flavor)
			if err != nil {
				t.Fatal(err)
			}
			if !json.Valid(got) || strings.ContainsAny(string(got), "\n\t") {
				t.Fatalf("not compact JSON: %s", got)
			}
			if after := dump(t, call.Request); string(after) != string(before) {
				t.Error("the request was mutated")
			}
			again, _ := EncodeChatRequestFlavor(call, tt.flavor)
			if string(again) != string(got) {
				t.Error("encoding is not deterministic")
			}
			golden(t, "encode_request/"+tt.name, indent(t, got))
		})
	}
}

func TestEncodeChatRequestErrors(t *testing.T) {
	native := llm.Part{Type: llm.PartNative, Dialect: llm.DialectAnthropic, Native: json.RawMessage(`{"type":"search_result","source":"x","content":[]}`)}
	tests := []struct {
		name  string
		msgs  []llm.Message
		param string
		msg   string
	}{
		{"user native", []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("a"), native}}},
			"messages[0].content[1]", `content type "search_result" cannot be sent to an OpenAI-compatible upstream`},
		{"tool result native", []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("a")}},
			{Role: llm.RoleTool, Content: []llm.Part{{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: "t", Content: []llm.Part{native}}}}}},
			"messages[1].content[0].content[0]", "search_result"},
		{"gemini native without type", []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartNative, Dialect: llm.DialectGemini, Native: json.RawMessage(`{"executableCode":{}}`)}}}},
			"messages[0].content[0]", `content type "gemini"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := EncodeChatRequest(&llm.Call{Request: &llm.Request{Model: "m", Messages: tt.msgs}, Model: "m"})
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v", err)
			}
			if e.Kind != llm.KindCallerInvalid || e.Status != 400 || e.Param != tt.param || !strings.Contains(e.Message, tt.msg) {
				t.Errorf("err = %+v", e)
			}
		})
	}
	if _, err := EncodeChatRequest(&llm.Call{}); err == nil {
		t.Error("nil request: no error")
	}
}

func TestFlavorOf(t *testing.T) {
	for url, want := range map[string]Flavor{
		"https://openrouter.ai/api/v1":  FlavorOpenRouter,
		"https://OpenRouter.ai/api/v1/": FlavorOpenRouter,
		"https://api.openai.com/v1":     FlavorOpenAI,
		"http://127.0.0.1:11434/v1":     FlavorGeneric,
		"::bad":                         FlavorGeneric,
	} {
		if got := FlavorOf(url); got != want {
			t.Errorf("FlavorOf(%q) = %s, want %s", url, got, want)
		}
	}
}

func TestUpstreamUser(t *testing.T) {
	long := `{"device_id":"` + strings.Repeat("a", 64) + `","account_uuid":"","session_id":"2f1c"}`
	tests := []struct{ in, want string }{
		{"alice", "alice"},
		{strings.Repeat("x", 64), strings.Repeat("x", 64)},
	}
	for _, tt := range tests {
		if got := upstreamUser(tt.in); got != tt.want {
			t.Errorf("upstreamUser(%q) = %q", tt.in, got)
		}
	}
	got := upstreamUser(long)
	if len(got) > maxUserLen || !strings.HasPrefix(got, "xjp-") || got != upstreamUser(long) || got == upstreamUser(long+"x") {
		t.Errorf("upstreamUser(long) = %q: want a stable, distinct hash of at most %d characters", got, maxUserLen)
	}
}

// Long tool call ids (Gemini's carry thought signatures) are shortened the
// same way for the call and its result.
func TestLongToolIDs(t *testing.T) {
	long := "call_abc__ts_" + strings.Repeat("Zm9v", 100)
	req := &llm.Request{Messages: []llm.Message{
		{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("time?")}},
		{Role: llm.RoleAssistant, Content: []llm.Part{{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: long, Name: "t", Arguments: "{}"}}}},
		{Role: llm.RoleTool, Content: []llm.Part{{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: long, Content: []llm.Part{llm.TextPart("12:00")}}}}},
	}}
	body, err := EncodeChatRequest(&llm.Call{Request: req, Model: "m"})
	if err != nil {
		t.Fatal(err)
	}
	short := upstreamToolID(long)
	if len(short) > maxToolIDLen || strings.Contains(string(body), long) ||
		!strings.Contains(string(body), `"id":"`+short+`"`) || !strings.Contains(string(body), `"tool_call_id":"`+short+`"`) {
		t.Errorf("body %s", body)
	}
	if upstreamToolID("call_1") != "call_1" {
		t.Error("short ids must stay as they are")
	}
}
