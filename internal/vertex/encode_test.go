package vertex

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

func ptr[T any](v T) *T { return &v }

func text(s string) llm.Part { return llm.TextPart(s) }

func toolCall(id, name, args string) llm.Part {
	return llm.Part{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: id, Name: name, Arguments: args}}
}

func toolResult(id, name, out string, isErr bool) llm.Part {
	return llm.Part{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: id, Name: name, IsError: isErr, Content: []llm.Part{llm.TextPart(out)}}}
}

const weatherSchema = `{"type":"object","properties":{"city":{"type":"string","description":"City name"},"unit":{"type":"string","enum":["c","f"]}},"required":["city"]}`

// claudeCodeSchema is shaped like the tool schemas Claude Code sends.
const claudeCodeSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "command": {"type": "string", "description": "The command to run"},
    "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 600000, "description": "Timeout in ms"},
    "mode": {"const": "default"},
    "cwd": {"type": ["string", "null"], "description": "Working directory"},
    "todos": {
      "type": "array",
      "items": {"$ref": "#/$defs/Todo"},
      "minItems": 1
    },
    "target": {"anyOf": [{"type": "string", "format": "uri"}, {"type": "null"}]},
    "level": {"type": "integer", "enum": [1, 2, 3]},
    "multipleOfFive": {"type": "integer", "multipleOf": 5, "examples": [10]}
  },
  "required": ["command", "ghost"],
  "$defs": {
    "Todo": {
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "content": {"type": "string", "minLength": 1},
        "status": {"type": "string", "enum": ["pending", "in_progress", "completed"]},
        "when": {"type": "string", "format": "date-time"}
      },
      "required": ["content", "status"]
    }
  }
}`

// recursiveSchema cannot be expressed in Google's Schema subset.
const recursiveSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","properties":{"tree":{"$ref":"#/$defs/Node"}},"$defs":{"Node":{"type":"object","properties":{"name":{"type":"string"},"children":{"type":"array","items":{"$ref":"#/$defs/Node"}}}}}}`

var weatherTool = llm.Tool{Name: "get_weather", Description: "Get the weather", Parameters: json.RawMessage(weatherSchema)}

var encodeCases = []struct {
	name  string
	model string
	call  func() *llm.Call
}{
	{"openai_system_multiturn", "gemini-2.5-flash", func() *llm.Call {
		return &llm.Call{Request: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleSystem, Content: []llm.Part{text("You are terse.")}},
				{Role: llm.RoleUser, Content: []llm.Part{text("Hi")}},
				{Role: llm.RoleAssistant, Content: []llm.Part{text("Hello.")}},
				{Role: llm.RoleDeveloper, Content: []llm.Part{text("Answer in French.")}},
				{Role: llm.RoleUser, Content: []llm.Part{text("How are you?")}},
			},
			MaxTokens: 256, Temperature: ptr(0.2), TopP: ptr(0.9), TopK: ptr(40),
			Stop: []string{"END"}, Seed: ptr(int64(1)<<40 + 7),
		}, DefaultMaxTokens: 4096}
	}},
	{"anthropic_tool_roundtrip", "gemini-2.5-pro", func() *llm.Call {
		return &llm.Call{Request: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleSystem, Content: []llm.Part{text("x-anthropic-billing-header: cc_version=1"), text("You are Claude Code.")}},
				{Role: llm.RoleUser, Content: []llm.Part{text("What's the weather in Paris?")}},
				{Role: llm.RoleAssistant, Content: []llm.Part{
					{Type: llm.PartThinking, Text: "I should call the tool.", Signature: "anthropic-sig"},
					text("Let me check."),
					toolCall("toolu_01", "get_weather", `{"city": "Paris"}`),
				}},
				{Role: llm.RoleUser, Content: []llm.Part{
					toolResult("toolu_01", "", "18°C and sunny", false),
					text("Thanks, and tomorrow?"),
				}},
			},
			Tools:      []llm.Tool{weatherTool},
			ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceAuto},
			MaxTokens:  32000,
		}}
	}},
	{"openai_parallel_calls", "gemini-2.5-flash", func() *llm.Call {
		return &llm.Call{Request: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: []llm.Part{text("Weather in Paris and Rome?")}},
				{Role: llm.RoleAssistant, Content: []llm.Part{
					text(""),
					toolCall("call_a", "get_weather", `{"city":"Paris"}`),
					toolCall("call_b", "get_weather", `{"city":"Rome"}`),
				}},
				// OpenAI sends one tool message per result, here in the
				// opposite order of the calls.
				{Role: llm.RoleTool, Content: []llm.Part{toolResult("call_b", "", "25°C", false)}},
				{Role: llm.RoleTool, Content: []llm.Part{toolResult("call_a", "", "city not found", true)}},
			},
			Tools:      []llm.Tool{weatherTool, {Type: "web_search_20250305", Name: "web_search", Native: json.RawMessage(`{"type":"web_search_20250305","name":"web_search"}`)}},
			ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceRequired},
		}}
	}},
	{"multimodal", "gemini-2.5-flash", func() *llm.Call {
		return &llm.Call{Request: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: []llm.Part{
					text("Describe these."),
					{Type: llm.PartImage, Media: &llm.Media{MediaType: "image/png", Data: "iVBORw0KGgo="}},
					{Type: llm.PartImage, Media: &llm.Media{URL: "data:image/jpeg;base64,/9j/4AAQSkZJRg=="}},
					{Type: llm.PartImage, Media: &llm.Media{Data: "R0lGODlhAQABAAAAACw="}},
					{Type: llm.PartImage, Media: &llm.Media{URL: "gs://bucket/cat.png"}},
					{Type: llm.PartFile, Media: &llm.Media{URL: "gs://bucket/clip.mov"}},
					{Type: llm.PartFile, Media: &llm.Media{URL: "https://www.youtube.com/watch?v=9hE5-98ZeCg"}},
					{Type: llm.PartFile, Media: &llm.Media{MediaType: "application/pdf", Data: "JVBERi0xLjQK", Name: "a.pdf"}},
					{Type: llm.PartFile, Media: &llm.Media{MediaType: "video/mp4", URL: "gs://bucket/video"}},
				}},
			},
		}}
	}},
	{"json_mode", "gemini-2.5-flash", func() *llm.Call {
		return &llm.Call{Request: &llm.Request{
			Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{text("List two colors.")}}},
			ResponseFormat: &llm.ResponseFormat{Type: "json_schema", Name: "colors", Schema: json.RawMessage(
				`{"type":"object","properties":{"colors":{"type":"array","items":{"type":"string"}}},"required":["colors"],"additionalProperties":false}`)},
		}}
	}},
	{"thinking_budget", "gemini-2.5-flash", func() *llm.Call {
		return &llm.Call{Request: &llm.Request{
			Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{text("Think.")}}},
			Reasoning: &llm.Reasoning{BudgetTokens: 100000},
			MaxTokens: 64000,
		}, MaxTokensCap: 65536}
	}},
	{"thinking_effort_gemini3", "gemini-3-pro-preview", func() *llm.Call {
		return &llm.Call{Request: &llm.Request{
			Messages:  []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{text("Think.")}}},
			Reasoning: &llm.Reasoning{Effort: "medium"},
		}}
	}},
	{"schema_cleaning", "gemini-2.5-pro", func() *llm.Call {
		return &llm.Call{Request: &llm.Request{
			Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{text("Run ls")}}},
			Tools: []llm.Tool{
				{Name: "Bash", Description: "Run a command", Parameters: json.RawMessage(claudeCodeSchema)},
				{Name: "ExitPlanMode", Description: "No arguments", Parameters: json.RawMessage(`{"type":"object","properties":{},"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}`)},
				{Name: "Walk", Description: "Recursive", Parameters: json.RawMessage(recursiveSchema)},
				{Type: "custom", Name: "apply_patch", Description: "freeform"},
			},
			ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "Bash"},
		}}
	}},
	{"merge_and_empty", "gemini-2.5-flash", func() *llm.Call {
		return &llm.Call{Request: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: []llm.Part{text("one")}},
				{Role: llm.RoleUser, Content: []llm.Part{text(""), text("two")}},
				{Role: llm.RoleAssistant, Content: []llm.Part{text("")}},
				{Role: llm.RoleAssistant, Content: []llm.Part{text("three")}},
				{Role: llm.RoleAssistant, Content: []llm.Part{{Type: llm.PartRedactedThinking, Data: "xx"}, text("four")}},
				{Role: llm.RoleUser, Content: []llm.Part{text("five")}},
			},
		}}
	}},
	{"gemini3_signatures", "gemini-3-pro-preview", func() *llm.Call {
		own := MintToolCallID("resp-1#0", "", "c2lnbmF0dXJlLW9uZQ==")
		return &llm.Call{Request: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: []llm.Part{text("Weather in Paris and Rome?")}},
				// A turn from another provider: no signatures anywhere.
				{Role: llm.RoleAssistant, Content: []llm.Part{
					toolCall("toolu_x", "get_weather", `{"city":"Paris"}`),
					toolCall("toolu_y", "get_weather", `{"city":"Rome"}`),
				}},
				{Role: llm.RoleUser, Content: []llm.Part{toolResult("toolu_x", "", "18", false), toolResult("toolu_y", "", "25", false)}},
				// Gemini's own turn, replayed by a client that kept only the id.
				{Role: llm.RoleAssistant, Content: []llm.Part{toolCall(own, "get_weather", `{"city":"Oslo"}`)}},
				{Role: llm.RoleTool, Content: []llm.Part{toolResult(own, "", "3", false)}},
				// A signature kept in ToolCall.Signature, and an invalid one.
				{Role: llm.RoleAssistant, Content: []llm.Part{
					{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_k", Name: "get_weather", Arguments: `{"city":"Nice"}`, Signature: "a2VwdA=="}},
				}},
				{Role: llm.RoleTool, Content: []llm.Part{toolResult("call_k", "", "20", false)}},
				{Role: llm.RoleAssistant, Content: []llm.Part{
					{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_bad", Name: "get_weather", Arguments: `not json`, Signature: "not base64!"}},
				}},
				{Role: llm.RoleTool, Content: []llm.Part{toolResult("call_bad", "", "?", false)}},
			},
			Tools: []llm.Tool{weatherTool},
		}}
	}},
	{"gemini_id_roundtrip", "gemini-2.5-flash", func() *llm.Call {
		id := MintToolCallID("resp-9#1", "fc-123", "")
		return &llm.Call{Request: &llm.Request{
			Messages: []llm.Message{
				{Role: llm.RoleUser, Content: []llm.Part{text("go")}},
				{Role: llm.RoleAssistant, Content: []llm.Part{toolCall(id, "get_weather", `{"city":"Lima"}`)}},
				{Role: llm.RoleUser, Content: []llm.Part{
					toolResult(id, "", "ok", false),
					{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: "unknown", Name: "lookup", Content: []llm.Part{
						text("see image"),
						{Type: llm.PartImage, Media: &llm.Media{MediaType: "image/png", Data: "iVBORw0KGgo="}},
					}}},
				}},
			},
		}}
	}},
	{"native_and_body", "gemini-2.5-flash", func() *llm.Call {
		return &llm.Call{
			Request: &llm.Request{
				Temperature: ptr(0.5),
				Messages: []llm.Message{
					{Role: llm.RoleUser, Content: []llm.Part{
						text("hi"),
						{Type: llm.PartNative, Dialect: llm.DialectGemini, Native: json.RawMessage(`{"text":"native part","thought":false}`)},
					}},
				},
				Tools: []llm.Tool{{Type: "google_search", Native: json.RawMessage(`{"googleSearch":{}}`)}},
				Native: &llm.Native{Dialect: llm.DialectGemini, Fields: map[string]json.RawMessage{
					"safetySettings":   json.RawMessage(`[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]`),
					"cachedContent":    json.RawMessage(`"cachedContents/abc"`),
					"contents":         json.RawMessage(`[]`),
					"generationConfig": json.RawMessage(`{"responseModalities":["TEXT"],"temperature":2}`),
				}},
			},
			Body: map[string]json.RawMessage{"labels": json.RawMessage(`{"team":"xjp"}`)},
		}
	}},
}

func TestEncodeRequestGolden(t *testing.T) {
	for _, tc := range encodeCases {
		for _, api := range []string{APIVertex, APIGemini} {
			t.Run(tc.name+"/"+api, func(t *testing.T) {
				call := tc.call()
				call.Model = tc.model
				body, err := EncodeRequest(call, api)
				if err != nil {
					t.Fatalf("EncodeRequest: %v", err)
				}
				checkGolden(t, "encode/"+tc.name+"."+api+".json", indentJSON(t, body))
			})
		}
	}
}

func TestEncodeRequestErrors(t *testing.T) {
	cases := []struct {
		name string
		req  *llm.Request
		want string
	}{
		{"only system", &llm.Request{Messages: []llm.Message{{Role: llm.RoleSystem, Content: []llm.Part{text("s")}}}}, "no user or assistant content"},
		{"orphan tool result", &llm.Request{Messages: []llm.Message{{Role: llm.RoleTool, Content: []llm.Part{toolResult("call_zz", "", "x", false)}}}}, "needs the function name"},
		{"foreign native part", &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartNative, Dialect: llm.DialectOpenAI, Native: json.RawMessage(`{}`)}}}}}, "openai-only content part"},
		{"unknown media type", &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartImage, Media: &llm.Media{URL: "gs://b/noext"}}}}}}, "cannot tell the media type"},
		{"bad schema", &llm.Request{Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{text("x")}}}, Tools: []llm.Tool{{Name: "t", Parameters: json.RawMessage(`{`)}}}, "tool \"t\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EncodeRequest(&llm.Call{Request: tc.req, Model: "gemini-2.5-flash"}, APIVertex)
			var le *llm.Error
			if !errors.As(err, &le) || le.Kind != llm.KindCallerInvalid || le.Status != 400 {
				t.Fatalf("err = %#v, want a caller_invalid 400", err)
			}
			if !strings.Contains(le.Message, tc.want) {
				t.Errorf("message %q does not mention %q", le.Message, tc.want)
			}
		})
	}
}

func TestThinkingConfig(t *testing.T) {
	cases := []struct {
		model string
		r     llm.Reasoning
		want  string
	}{
		{"gemini-2.0-flash", llm.Reasoning{BudgetTokens: 2048}, `null`},
		{"gemini-2.5-flash", llm.Reasoning{BudgetTokens: 2048}, `{"includeThoughts":true,"thinkingBudget":2048}`},
		{"gemini-2.5-pro", llm.Reasoning{BudgetTokens: 50}, `{"includeThoughts":true,"thinkingBudget":128}`},
		{"gemini-2.5-flash-lite", llm.Reasoning{Effort: "minimal"}, `{"includeThoughts":true,"thinkingBudget":512}`},
		{"gemini-2.5-pro", llm.Reasoning{Effort: "high"}, `{"includeThoughts":true,"thinkingBudget":32768}`},
		{"gemini-2.5-flash", llm.Reasoning{Effort: "medium"}, `{"includeThoughts":true,"thinkingBudget":8192}`},
		{"gemini-2.5-flash", llm.Reasoning{Adaptive: true}, `{"includeThoughts":true,"thinkingBudget":-1}`},
		{"gemini-2.5-flash", llm.Reasoning{Disabled: true}, `{"thinkingBudget":0}`},
		{"gemini-2.5-pro", llm.Reasoning{Disabled: true}, `{"thinkingBudget":128}`},
		{"gemini-3-flash-preview", llm.Reasoning{Effort: "minimal"}, `{"includeThoughts":true,"thinkingLevel":"MINIMAL"}`},
		{"gemini-3-flash-preview", llm.Reasoning{Effort: "medium"}, `{"includeThoughts":true,"thinkingLevel":"MEDIUM"}`},
		{"gemini-3-pro-preview", llm.Reasoning{Effort: "minimal"}, `{"includeThoughts":true,"thinkingLevel":"LOW"}`},
		{"gemini-3.1-pro-preview", llm.Reasoning{Effort: "xhigh"}, `{"includeThoughts":true,"thinkingLevel":"HIGH"}`},
		{"gemini-3-pro-preview", llm.Reasoning{Disabled: true}, `{"thinkingLevel":"LOW"}`},
		{"gemini-3-flash-preview", llm.Reasoning{Effort: "none"}, `{"thinkingLevel":"MINIMAL"}`},
		{"gemini-3-flash-preview", llm.Reasoning{Adaptive: true}, `{"includeThoughts":true}`},
		{"gemini-3-pro-preview", llm.Reasoning{BudgetTokens: 4096}, `{"includeThoughts":true,"thinkingBudget":4096}`},
		{"gemini-flash-latest", llm.Reasoning{Effort: "low"}, `{"includeThoughts":true,"thinkingLevel":"LOW"}`},
	}
	for _, tc := range cases {
		t.Run(tc.model+"/"+tc.want, func(t *testing.T) {
			got, _ := json.Marshal(thinkingConfig(&tc.r, tc.model, modelGeneration(tc.model)))
			if string(got) != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNormalizeModel(t *testing.T) {
	cases := map[string]string{
		"gemini-2.5-pro":                        "gemini-2.5-pro",
		"models/gemini-2.5-pro":                 "gemini-2.5-pro",
		"publishers/google/models/gemini-3-pro": "gemini-3-pro",
		"projects/p/locations/l/publishers/google/models/gemini-2.5-flash": "gemini-2.5-flash",
		"projects/p/locations/l/endpoints/123":                             "projects/p/locations/l/endpoints/123",
	}
	for in, want := range cases {
		if got := NormalizeModel(in); got != want {
			t.Errorf("NormalizeModel(%q) = %q, want %q", in, got, want)
		}
	}
}
