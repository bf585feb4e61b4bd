package vertex

import (
	"encoding/json"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

// TestEncodeRequestCustomTool: a Responses freeform tool (Codex's
// apply_patch) goes to Gemini as a function taking one string, its calls in
// the history as calls of that function, and the model's call comes back in
// a form llm.CustomInput unwraps.
func TestEncodeRequestCustomTool(t *testing.T) {
	const raw = `{"looks":"like JSON but is the raw input"}`
	req := &llm.Request{
		Messages: []llm.Message{
			{Role: llm.RoleUser, Content: []llm.Part{text("patch it")}},
			{Role: llm.RoleAssistant, Content: []llm.Part{{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_1", Name: "apply_patch", Type: "custom", Arguments: raw}}}},
			{Role: llm.RoleTool, Content: []llm.Part{toolResult("call_1", "apply_patch", "Success", false)}},
		},
		Tools: []llm.Tool{{Type: "custom", Name: "apply_patch", Description: "Edit files.",
			Native: json.RawMessage(`{"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":"start: /.+/"}}`)}},
		ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceTool, Name: "apply_patch"},
		Native:     &llm.Native{Dialect: llm.DialectResponses},
	}
	body, err := EncodeRequest(&llm.Call{Request: req, Model: "gemini-2.5-pro"}, APIGemini)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "encode/custom_tool.gemini.json", indentJSON(t, body))
	var out GenerateContentRequest
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	var args struct{ Input string }
	if err := json.Unmarshal(out.Contents[1].Parts[0].FunctionCall.Args, &args); err != nil || args.Input != raw {
		t.Errorf("replayed call args = %s", out.Contents[1].Parts[0].FunctionCall.Args)
	}

	resp, err := DecodeResponse([]byte(`{"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"apply_patch","args":{"input":"*** Begin Patch\n*** End Patch\n"}}}]},"finishReason":"STOP"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if tc := resp.ToolCalls(); len(tc) != 1 || llm.CustomInput(tc[0].Arguments) != "*** Begin Patch\n*** End Patch\n" {
		t.Errorf("calls = %+v", tc)
	}
}
