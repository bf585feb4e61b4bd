package anthropic

import (
	"errors"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

func TestDecodeMessagesRequestGolden(t *testing.T) {
	for _, name := range []string{"claude_code", "simple", "blocks"} {
		t.Run(name, func(t *testing.T) {
			req, err := DecodeMessagesRequest(readTestdata(t, "decode/"+name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "decode/"+name+".golden", pretty(t, req))
		})
	}
}

func TestDecodeClaudeCodeShape(t *testing.T) {
	req, err := DecodeMessagesRequest(readTestdata(t, "decode/claude_code.json"))
	if err != nil {
		t.Fatal(err)
	}
	roles := []llm.Role{}
	for _, m := range req.Messages {
		roles = append(roles, m.Role)
	}
	want := []llm.Role{llm.RoleSystem, llm.RoleUser, llm.RoleSystem, llm.RoleAssistant, llm.RoleTool, llm.RoleUser, llm.RoleSystem}
	if !equalRoles(roles, want) {
		t.Fatalf("roles = %v, want %v", roles, want)
	}
	sys := req.Messages[0]
	if len(sys.Content) != 3 || !strings.HasPrefix(sys.Content[0].Text, "x-anthropic-billing-header:") ||
		sys.Content[0].CacheControl != nil || string(sys.Content[1].CacheControl) != `{"type":"ephemeral"}` {
		t.Errorf("system blocks not kept: %+v", sys.Content)
	}
	if len(req.Tools) != 20 {
		t.Errorf("tools = %d, want 20", len(req.Tools))
	}
	if !strings.Contains(string(req.Tools[18].Native), `"defer_loading":true`) {
		t.Errorf("defer_loading not kept in Tool.Native: %s", req.Tools[18].Native)
	}
	if req.Reasoning == nil || !req.Reasoning.Adaptive || req.Reasoning.Effort != "high" {
		t.Errorf("reasoning = %+v", req.Reasoning)
	}
	if req.MaxTokens != 32000 || !req.Stream || !strings.HasPrefix(req.User, `{"device_id"`) {
		t.Errorf("max_tokens %d stream %v user %q", req.MaxTokens, req.Stream, req.User)
	}
	for _, k := range []string{"thinking", "output_config", "context_management"} {
		if _, ok := req.NativeField(llm.DialectAnthropic, k); !ok {
			t.Errorf("native field %s missing", k)
		}
	}
	if last := req.Messages[len(req.Messages)-1]; string(last.Native) != `{"output_config":{"effort":"medium"}}` {
		t.Errorf("message-level output_config = %s", last.Native)
	}
}

func equalRoles(a, b []llm.Role) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestDecodeCountTokensRequest(t *testing.T) {
	req, err := DecodeCountTokensRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.MaxTokens != 0 || len(req.Messages) != 1 {
		t.Errorf("req = %+v", req)
	}
	if _, err := DecodeMessagesRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`)); err == nil {
		t.Error("messages request without max_tokens accepted")
	}
	if got := string(EncodeCountTokensResponse(1234)); got != `{"input_tokens":1234}` {
		t.Errorf("EncodeCountTokensResponse = %s", got)
	}
}

func TestDecodeMaxTokensZero(t *testing.T) {
	req, err := DecodeMessagesRequest([]byte(`{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := req.NativeField(llm.DialectAnthropic, "max_tokens"); !ok || string(v) != "0" {
		t.Errorf("max_tokens 0 not kept: %s", v)
	}
	body, err := EncodeMessagesRequest(&llm.Call{Request: req, Model: "m"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"max_tokens":0`) {
		t.Errorf("max_tokens 0 not forwarded: %s", body)
	}
}

func TestDecodeMessagesRequestBadInput(t *testing.T) {
	const ok = `"model":"m","max_tokens":10`
	msg := func(content string) string {
		return `{` + ok + `,"messages":[{"role":"user","content":` + content + `}]}`
	}
	tests := []struct {
		name, body, param, substr string
	}{
		{"not json", `{"model":`, "", "not valid JSON"},
		{"not object", `[1,2]`, "", "must be a JSON object"},
		{"model missing", `{"max_tokens":1,"messages":[]}`, "model", "Field required"},
		{"model not string", `{"model":5,"max_tokens":1,"messages":[]}`, "model", "valid string"},
		{"model empty", `{"model":"","max_tokens":1,"messages":[]}`, "model", "at least 1 character"},
		{"max_tokens missing", `{"model":"m","messages":[]}`, "max_tokens", "Field required"},
		{"max_tokens string", `{"model":"m","max_tokens":"10","messages":[]}`, "max_tokens", "valid integer"},
		{"max_tokens fraction", `{"model":"m","max_tokens":1.5,"messages":[]}`, "max_tokens", "valid integer"},
		{"max_tokens negative", `{"model":"m","max_tokens":-1,"messages":[]}`, "max_tokens", "greater than or equal to 0"},
		{"messages missing", `{` + ok + `}`, "messages", "Field required"},
		{"messages not list", `{` + ok + `,"messages":{}}`, "messages", "valid list"},
		{"messages empty", `{` + ok + `,"messages":[]}`, "messages", "at least one message"},
		{"message not object", `{` + ok + `,"messages":["hi"]}`, "messages.0", "an object"},
		{"role missing", `{` + ok + `,"messages":[{"content":"hi"}]}`, "messages.0.role", "Field required"},
		{"role bad", `{` + ok + `,"messages":[{"role":"tool","content":"hi"}]}`, "messages.0.role", "'user', 'assistant' or 'system'"},
		{"content missing", `{` + ok + `,"messages":[{"role":"user"}]}`, "messages.0.content", "Field required"},
		{"content number", msg(`5`), "messages.0.content", "string or a list"},
		{"block not object", msg(`["hi"]`), "messages.0.content.0", "an object"},
		{"block type missing", msg(`[{"text":"hi"}]`), "messages.0.content.0.type", "Field required"},
		{"text missing", msg(`[{"type":"text"}]`), "messages.0.content.0.text", "Field required"},
		{"text not string", msg(`[{"type":"text","text":1}]`), "messages.0.content.0.text", "valid string"},
		{"cache_control not object", msg(`[{"type":"text","text":"a","cache_control":"x"}]`), "messages.0.content.0.cache_control", "an object"},
		{"image source missing", msg(`[{"type":"image"}]`), "messages.0.content.0.source", "Field required"},
		{"image source type bad", msg(`[{"type":"image","source":{"type":"raw"}}]`), "messages.0.content.0.source.type", "expected tags"},
		{"image media type bad", msg(`[{"type":"image","source":{"type":"base64","media_type":"image/bmp","data":"AA=="}}]`), "messages.0.content.0.source.media_type", "'image/jpeg'"},
		{"image data missing", msg(`[{"type":"image","source":{"type":"base64","media_type":"image/png"}}]`), "messages.0.content.0.source.data", "Field required"},
		{"image url missing", msg(`[{"type":"image","source":{"type":"url"}}]`), "messages.0.content.0.source.url", "Field required"},
		{"document source bad", msg(`[{"type":"document","source":{"type":"zip"}}]`), "messages.0.content.0.source.type", "expected tags"},
		{"document pdf media type", msg(`[{"type":"document","source":{"type":"base64","media_type":"image/png","data":"AA"}}]`), "messages.0.content.0.source.media_type", "application/pdf"},
		{"tool_use id missing", `{` + ok + `,"messages":[{"role":"assistant","content":[{"type":"tool_use","name":"f","input":{}}]}]}`, "messages.0.content.0.id", "Field required"},
		{"tool_use input not object", `{` + ok + `,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":"x"}]}]}`, "messages.0.content.0.input", "an object"},
		{"tool_result id missing", msg(`[{"type":"tool_result","content":"x"}]`), "messages.0.content.0.tool_use_id", "Field required"},
		{"tool_result content bad", msg(`[{"type":"tool_result","tool_use_id":"t","content":5}]`), "messages.0.content.0.content", "string or a list"},
		{"tool_result is_error bad", msg(`[{"type":"tool_result","tool_use_id":"t","is_error":"yes"}]`), "messages.0.content.0.is_error", "valid boolean"},
		{"tool_result in assistant", `{` + ok + `,"messages":[{"role":"assistant","content":[{"type":"tool_result","tool_use_id":"t"}]}]}`, "messages.0.content.0", "only allowed in user messages"},
		{"thinking signature missing", `{` + ok + `,"messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"x"}]}]}`, "messages.0.content.0.signature", "Field required"},
		{"redacted data missing", `{` + ok + `,"messages":[{"role":"assistant","content":[{"type":"redacted_thinking"}]}]}`, "messages.0.content.0.data", "Field required"},
		{"system message image", `{` + ok + `,"messages":[{"role":"user","content":"a"},{"role":"system","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]}`, "messages.1.content.0.type", "only contain text"},
		{"system number", `{` + ok + `,"system":5,"messages":[{"role":"user","content":"a"}]}`, "system", "string or a list of text blocks"},
		{"system block not text", `{` + ok + `,"system":[{"type":"image","source":{"type":"url","url":"u"}}],"messages":[{"role":"user","content":"a"}]}`, "system.0.type", "'text'"},
		{"tools not list", `{` + ok + `,"tools":{},"messages":[{"role":"user","content":"a"}]}`, "tools", "valid list"},
		{"tool name missing", `{` + ok + `,"tools":[{"input_schema":{}}],"messages":[{"role":"user","content":"a"}]}`, "tools.0.name", "Field required"},
		{"tool schema missing", `{` + ok + `,"tools":[{"name":"f"}],"messages":[{"role":"user","content":"a"}]}`, "tools.0.input_schema", "Field required"},
		{"tool schema not object", `{` + ok + `,"tools":[{"name":"f","input_schema":[]}],"messages":[{"role":"user","content":"a"}]}`, "tools.0.input_schema", "an object"},
		{"tool function shape", `{` + ok + `,"tools":[{"type":"function","function":{"name":"f"}}],"messages":[{"role":"user","content":"a"}]}`, "", ""},
		{"tool_choice string", `{` + ok + `,"tool_choice":"auto","messages":[{"role":"user","content":"a"}]}`, "tool_choice", "an object"},
		{"tool_choice type bad", `{` + ok + `,"tool_choice":{"type":"required"},"messages":[{"role":"user","content":"a"}]}`, "tool_choice.type", "expected tags"},
		{"tool_choice name missing", `{` + ok + `,"tool_choice":{"type":"tool"},"messages":[{"role":"user","content":"a"}]}`, "tool_choice.name", "Field required"},
		{"tool_choice parallel bad", `{` + ok + `,"tool_choice":{"type":"auto","disable_parallel_tool_use":1},"messages":[{"role":"user","content":"a"}]}`, "tool_choice.disable_parallel_tool_use", "valid boolean"},
		{"stop_sequences string", `{` + ok + `,"stop_sequences":"x","messages":[{"role":"user","content":"a"}]}`, "stop_sequences", "valid list"},
		{"stop_sequences item", `{` + ok + `,"stop_sequences":["a",1],"messages":[{"role":"user","content":"a"}]}`, "stop_sequences.1", "valid string"},
		{"temperature string", `{` + ok + `,"temperature":"hot","messages":[{"role":"user","content":"a"}]}`, "temperature", "valid number"},
		{"temperature high", `{` + ok + `,"temperature":1.5,"messages":[{"role":"user","content":"a"}]}`, "temperature", "less than or equal to 1"},
		{"top_p negative", `{` + ok + `,"top_p":-0.1,"messages":[{"role":"user","content":"a"}]}`, "top_p", "greater than or equal to 0"},
		{"top_k fraction", `{` + ok + `,"top_k":2.5,"messages":[{"role":"user","content":"a"}]}`, "top_k", "valid integer"},
		{"metadata not object", `{` + ok + `,"metadata":"u","messages":[{"role":"user","content":"a"}]}`, "metadata", "an object"},
		{"user_id not string", `{` + ok + `,"metadata":{"user_id":7},"messages":[{"role":"user","content":"a"}]}`, "metadata.user_id", "valid string"},
		{"thinking not object", `{` + ok + `,"thinking":true,"messages":[{"role":"user","content":"a"}]}`, "thinking", "an object"},
		{"thinking type missing", `{` + ok + `,"thinking":{},"messages":[{"role":"user","content":"a"}]}`, "thinking.type", "Field required"},
		{"thinking budget missing", `{` + ok + `,"thinking":{"type":"enabled"},"messages":[{"role":"user","content":"a"}]}`, "thinking.budget_tokens", "Field required"},
		{"thinking budget zero", `{` + ok + `,"thinking":{"type":"enabled","budget_tokens":0},"messages":[{"role":"user","content":"a"}]}`, "thinking.budget_tokens", "greater than or equal to 1"},
		{"output_config not object", `{` + ok + `,"output_config":1,"messages":[{"role":"user","content":"a"}]}`, "output_config", "an object"},
		{"output_config effort bad", `{` + ok + `,"output_config":{"effort":3},"messages":[{"role":"user","content":"a"}]}`, "output_config.effort", "valid string"},
		{"output format type bad", `{` + ok + `,"output_config":{"format":{"type":"json_object"}},"messages":[{"role":"user","content":"a"}]}`, "output_config.format.type", "expected tags"},
		{"output format schema missing", `{` + ok + `,"output_config":{"format":{"type":"json_schema"}},"messages":[{"role":"user","content":"a"}]}`, "output_config.format.schema", "Field required"},
		{"stream not bool", `{` + ok + `,"stream":"yes","messages":[{"role":"user","content":"a"}]}`, "stream", "valid boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeMessagesRequest([]byte(tt.body))
			if tt.substr == "" { // accepted
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *llm.Error", err)
			}
			if e.Status != 400 || e.Kind != llm.KindCallerInvalid || ErrorType(e) != "invalid_request_error" {
				t.Errorf("status %d kind %s type %s", e.Status, e.Kind, ErrorType(e))
			}
			if e.Param != tt.param {
				t.Errorf("param = %q, want %q", e.Param, tt.param)
			}
			if !strings.Contains(e.Message, tt.substr) {
				t.Errorf("message = %q, want it to contain %q", e.Message, tt.substr)
			}
			if tt.param != "" && !strings.HasPrefix(e.Message, tt.param+": ") {
				t.Errorf("message %q does not start with the param", e.Message)
			}
		})
	}
}
