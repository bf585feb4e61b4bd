package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

// codexRequest returns testdata/responses/codex_request.json: what Codex
// CLI 0.169.0 sends on a tool turn (developer messages with ids, ~9 tools
// including the apply_patch freeform tool, a namespace tool and web_search,
// function_call items echoed verbatim with their outputs).
func codexRequest(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/responses/codex_request.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withoutHostedTools drops the hosted tools from a request body, as Codex
// sends it with web_search = "disabled".
func withoutHostedTools(t testing.TB, body []byte) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	var keep []any
	for _, tool := range m["tools"].([]any) {
		switch tool.(map[string]any)["type"] {
		case "function", "custom", "namespace":
			keep = append(keep, tool)
		}
	}
	m["tools"] = keep
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDecodeResponsesRequestCodex(t *testing.T) {
	// As Codex sends it by default: web_search is a hosted tool and refused.
	_, err := DecodeResponsesRequest(codexRequest(t))
	var e *llm.Error
	if !errors.As(err, &e) || e.Status != 400 || e.Param != "tools[8].type" ||
		!strings.Contains(e.Message, "hosted tool 'web_search' is not supported by xjp") ||
		!strings.Contains(e.Message, `web_search = "disabled"`) {
		t.Fatalf("error = %#v", err)
	}

	req, err := DecodeResponsesRequest(withoutHostedTools(t, codexRequest(t)))
	if err != nil {
		t.Fatalf("DecodeResponsesRequest: %v", err)
	}
	golden(t, "responses/decode_codex", dump(t, req))
	if len(req.Tools) != 9 || req.Tools[2].Type != "custom" || req.Tools[7].Name != "mcp__docs__list_pages" {
		t.Errorf("tools = %+v", req.Tools)
	}
}

func TestDecodeResponsesRequestGolden(t *testing.T) {
	tests := []struct{ name, body string }{
		{"string_input", `{"model":"gpt-5","input":"Hello","instructions":"Be terse."}`},
		{"params", `{"model":"gpt-5","input":[{"role":"user","content":"json please"}],
			"max_output_tokens":1024,"temperature":0.5,"top_p":0.9,"parallel_tool_calls":true,
			"reasoning":{"effort":"high","summary":"detailed"},
			"text":{"format":{"type":"json_schema","name":"answer","schema":{"type":"object","properties":{"a":{"type":"string"}}},"strict":true},"verbosity":"low"},
			"tools":[{"type":"function","name":"f","description":"F.","parameters":{"type":"object"},"strict":true}],
			"tool_choice":{"type":"function","name":"f"},
			"user":"u-1","safety_identifier":"hash","service_tier":"flex","truncation":"auto","store":true,
			"metadata":{"k":"v"},"top_logprobs":2,"max_tool_calls":3,"stream":false,"x_vendor":{"y":1}}`},
		{"media_parts", `{"model":"gpt-5","input":[{"type":"message","role":"user","content":[
			{"type":"input_text","text":"What is in these?"},
			{"type":"input_image","image_url":"https://example.com/cat.png","detail":"high"},
			{"type":"input_image","image_url":"data:image/png;base64,iVBORw0KGgo=","detail":"auto"},
			{"type":"input_image","file_id":"file-img"},
			{"type":"input_file","filename":"doc.pdf","file_data":"data:application/pdf;base64,JVBERi0="},
			{"type":"input_file","filename":"notes.pdf","file_data":"JVBERi0="},
			{"type":"input_file","file_url":"https://example.com/report.pdf"},
			{"type":"input_file","file_id":"file-abc"}]}]}`},
		{"roles_and_merging", `{"model":"gpt-5","instructions":"sys","input":[
			{"role":"system","content":"also system"},
			{"role":"developer","content":[{"type":"input_text","text":"dev"}]},
			{"role":"user","content":[{"type":"input_text","text":"q"}]},
			{"role":"assistant","content":[{"type":"output_text","text":"thinking aloud","annotations":[]},{"type":"refusal","refusal":"no"}]},
			{"type":"function_call","call_id":"c1","name":"a","arguments":"{\"x\":1}"},
			{"type":"function_call","call_id":"c2","name":"b","arguments":""},
			{"type":"function_call_output","call_id":"c2","output":"two"},
			{"type":"function_call_output","call_id":"c1","output":[{"type":"input_text","text":"one"},{"type":"input_image","image_url":"https://x.test/i.png"}]},
			{"role":"user","content":""},
			{"role":"assistant","content":"done","phase":"final_answer"}]}`},
		{"reasoning_items", `{"model":"gpt-5","include":["reasoning.encrypted_content"],"input":[
			{"role":"user","content":"hi"},
			{"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"OpenAI's own"}],"encrypted_content":"gAAAAABopaque"},
			{"type":"reasoning","id":"rs_2","summary":[],"content":[{"type":"reasoning_text","text":"raw reasoning"}]},
			{"type":"reasoning","id":"rs_3","summary":[],"encrypted_content":"` + encodeXJPReasoning(xjpReasoning{Type: "redacted_thinking", Data: "RedactedBlob=="}) + `"},
			{"type":"reasoning","id":"rs_4","summary":[],"encrypted_content":"` + encodeXJPReasoning(xjpReasoning{Type: "tool_call_signature", CallID: "call_g", Signature: "CiUBgemini"}) + `"},
			{"type":"function_call","call_id":"call_g","name":"lookup","arguments":"{}"},
			{"type":"function_call_output","call_id":"call_g","output":"42"},
			{"type":"reasoning","id":"rs_5","summary":[]}]}`},
		{"tool_choices", `{"model":"gpt-5","input":"x","tools":[{"type":"custom","name":"apply_patch","format":{"type":"text"}},
			{"type":"namespace","name":"crm","description":"CRM","tools":[{"type":"function","name":"find"},{"type":"custom","name":"note"}]}],
			"tool_choice":{"type":"custom","name":"apply_patch"}}`},
		{"allowed_tools", `{"model":"gpt-5","input":"x","tools":[{"type":"function","name":"a"}],
			"tool_choice":{"type":"allowed_tools","mode":"required","tools":[{"type":"function","name":"a"}]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeResponsesRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeResponsesRequest: %v", err)
			}
			golden(t, "responses/decode_"+tt.name, dump(t, req))
		})
	}
}

func TestNamespacedName(t *testing.T) {
	tests := []struct{ ns, name, want string }{
		{"", "f", "f"},
		{"crm", "find", "crm__find"},
		{"mcp__docs__", "get_page", "mcp__docs__get_page"},
		{"ns_", "x", "ns_x"},
	}
	for _, tt := range tests {
		if got := namespacedName(tt.ns, tt.name); got != tt.want {
			t.Errorf("namespacedName(%q, %q) = %q, want %q", tt.ns, tt.name, got, tt.want)
		}
	}
	long := namespacedName(strings.Repeat("n", 40), strings.Repeat("t", 40))
	if len(long) != 64 || long != namespacedName(strings.Repeat("n", 40), strings.Repeat("t", 40)) {
		t.Errorf("long name %q (%d)", long, len(long))
	}
	if long == namespacedName(strings.Repeat("n", 40), strings.Repeat("t", 39)+"u") {
		t.Error("long names collide")
	}
}

func TestDecodeResponsesRequestErrors(t *testing.T) {
	with := func(extra string) string { return `{"model":"m","input":"hi",` + extra + `}` }
	withInput := func(items string) string { return `{"model":"m","input":[` + items + `]}` }
	tests := []struct {
		name, body, param, msg string
	}{
		{"invalid json", `{"model":`, "", "could not parse the JSON body"},
		{"body array", `[]`, "", "expected an object, but got an array"},
		{"model missing", `{"input":"hi"}`, "model", "missing required parameter: 'model'"},
		{"model number", `{"model":1,"input":"hi"}`, "model", "expected a string"},
		{"input missing", `{"model":"m"}`, "input", "missing required parameter: 'input'"},
		{"input number", `{"model":"m","input":3}`, "input", "expected a string or an array of input items, but got an integer"},
		{"input empty", `{"model":"m","input":[]}`, "input", "empty array"},
		{"previous_response_id", with(`"previous_response_id":"resp_1"`), "previous_response_id",
			"previous_response_id is not supported: xjp does not store responses; send the full conversation in input"},
		{"conversation", with(`"conversation":"conv_1"`), "conversation", "conversation is not supported: xjp does not store conversations"},
		{"background", with(`"background":true`), "background", "background mode is not supported"},
		{"background string", with(`"background":"yes"`), "background", "expected a boolean"},
		{"prompt", with(`"prompt":{"id":"pmpt_1"}`), "prompt", "prompt templates are not supported"},
		{"store string", with(`"store":"no"`), "store", "expected a boolean"},
		{"include string", with(`"include":"reasoning.encrypted_content"`), "include", "expected an array of strings"},
		{"include element", with(`"include":[1]`), "include[0]", "expected a string"},
		{"metadata array", with(`"metadata":[]`), "metadata", "expected an object"},
		{"prompt_cache_key number", with(`"prompt_cache_key":1`), "prompt_cache_key", "expected a string"},
		{"truncation unknown", with(`"truncation":"middle"`), "truncation", "'auto' and 'disabled'"},
		{"instructions array", with(`"instructions":[]`), "instructions", "expected a string"},
		{"max_output_tokens below 16", with(`"max_output_tokens":15`), "max_output_tokens",
			"invalid 'max_output_tokens': integer below minimum value. expected a value >= 16, but got 15 instead"},
		{"max_output_tokens decimal", with(`"max_output_tokens":20.5`), "max_output_tokens", "expected an integer, but got a decimal"},
		{"temperature high", with(`"temperature":2.5`), "temperature", "expected a value <= 2"},
		{"top_p high", with(`"top_p":1.1`), "top_p", "expected a value <= 1"},
		{"parallel string", with(`"parallel_tool_calls":"no"`), "parallel_tool_calls", "expected a boolean"},
		{"stream string", with(`"stream":"yes"`), "stream", "expected a boolean"},
		{"user number", with(`"user":1`), "user", "expected a string"},
		{"reasoning string", with(`"reasoning":"high"`), "reasoning", "expected an object"},
		{"reasoning effort unknown", with(`"reasoning":{"effort":"max"}`), "reasoning.effort", "supported values are: 'none', 'minimal', 'low', 'medium', 'high' and 'xhigh'"},
		{"reasoning summary unknown", with(`"reasoning":{"summary":"brief"}`), "reasoning.summary", "'auto', 'concise' and 'detailed'"},
		{"text format unknown", with(`"text":{"format":{"type":"yaml"}}`), "text.format.type", "'text', 'json_object' and 'json_schema'"},
		{"json_schema name missing", with(`"text":{"format":{"type":"json_schema","schema":{}}}`), "text.format.name", "missing required parameter"},
		{"json_schema schema missing", with(`"text":{"format":{"type":"json_schema","name":"a"}}`), "text.format.schema", "missing required parameter"},
		{"tools object", with(`"tools":{}`), "tools", "expected an array"},
		{"tool type missing", with(`"tools":[{"name":"f"}]`), "tools[0].type", "missing required parameter"},
		{"chat-shaped tool", with(`"tools":[{"type":"function","function":{"name":"f"}}]`), "tools[0].name", "not the chat completions shape"},
		{"tool name missing", with(`"tools":[{"type":"function"}]`), "tools[0].name", "missing required parameter: 'tools[0].name'"},
		{"tool name empty", with(`"tools":[{"type":"function","name":""}]`), "tools[0].name", "empty string"},
		{"tool parameters string", with(`"tools":[{"type":"function","name":"f","parameters":"{}"}]`), "tools[0].parameters", "expected an object"},
		{"tool strict string", with(`"tools":[{"type":"function","name":"f","strict":"yes"}]`), "tools[0].strict", "expected a boolean"},
		{"duplicate tool", with(`"tools":[{"type":"function","name":"f"},{"type":"custom","name":"f"}]`), "tools[1]", "the tool name 'f' is used twice"},
		{"custom format unknown", with(`"tools":[{"type":"custom","name":"c","format":{"type":"regex"}}]`), "tools[0].format.type", "'text' and 'grammar'"},
		{"web_search", with(`"tools":[{"type":"web_search"}]`), "tools[0].type", `hosted tool 'web_search' is not supported by xjp: it runs on openai's servers and cannot be translated for other providers; remove it from the request (codex cli: set web_search = "disabled" in ~/.codex/config.toml)`},
		{"file_search", with(`"tools":[{"type":"file_search","vector_store_ids":["vs"]}]`), "tools[0].type", "hosted tool 'file_search' is not supported"},
		{"code_interpreter", with(`"tools":[{"type":"code_interpreter","container":{"type":"auto"}}]`), "tools[0].type", "hosted tool 'code_interpreter'"},
		{"image_generation", with(`"tools":[{"type":"image_generation"}]`), "tools[0].type", "hosted tool 'image_generation'"},
		{"computer_use_preview", with(`"tools":[{"type":"computer_use_preview"}]`), "tools[0].type", "hosted tool 'computer_use_preview'"},
		{"namespace name missing", with(`"tools":[{"type":"namespace","tools":[]}]`), "tools[0].name", "missing required parameter"},
		{"namespace tools missing", with(`"tools":[{"type":"namespace","name":"n"}]`), "tools[0].tools", "missing required parameter"},
		{"namespace inner hosted", with(`"tools":[{"type":"namespace","name":"n","tools":[{"type":"web_search"}]}]`), "tools[0].tools[0].type", "'function' and 'custom'"},
		{"namespace duplicate", with(`"tools":[{"type":"function","name":"n__f"},{"type":"namespace","name":"n","tools":[{"type":"function","name":"f"}]}]`), "tools[1].tools[0]", "used twice"},
		{"tool_choice unknown", with(`"tool_choice":"any"`), "tool_choice", "'none', 'auto' and 'required'"},
		{"tool_choice number", with(`"tool_choice":1`), "tool_choice", "expected a string or an object"},
		{"tool_choice name missing", with(`"tool_choice":{"type":"function"}`), "tool_choice.name", "missing required parameter"},
		{"tool_choice hosted", with(`"tool_choice":{"type":"web_search_preview"}`), "tool_choice.type", "tool_choice of type 'web_search_preview' is not supported"},
		{"tool_choice allowed mode", with(`"tool_choice":{"type":"allowed_tools","mode":"none","tools":[]}`), "tool_choice.mode", "'auto' and 'required'"},
		{"item not object", withInput(`"hi"`), "input[0]", "expected an object"},
		{"item type missing", withInput(`{"content":"hi"}`), "input[0].type", "missing required parameter"},
		{"item type unknown", withInput(`{"type":"web_search_call","id":"ws_1"}`), "input[0].type", "input item type 'web_search_call' is not supported by xjp"},
		{"item_reference", withInput(`{"type":"item_reference","id":"msg_1"}`), "input[0].type", "item references are not supported"},
		{"role unknown", withInput(`{"role":"tool","content":"x"}`), "input[0].role", "'user', 'assistant', 'system' and 'developer'"},
		{"content missing", withInput(`{"role":"user"}`), "input[0].content", "missing required parameter"},
		{"content number", withInput(`{"role":"user","content":1}`), "input[0].content", "expected a string or an array of content parts"},
		{"part type unknown", withInput(`{"role":"user","content":[{"type":"text","text":"x"}]}`), "input[0].content[0].type", "'input_text', 'input_image' and 'input_file'"},
		{"user output_text", withInput(`{"role":"user","content":[{"type":"output_text","text":"x"}]}`), "input[0].content[0].type", "supported values are"},
		{"system image", withInput(`{"role":"system","content":[{"type":"input_image","image_url":"https://x/y.png"}]}`), "input[0].content[0].type", "supported values are: 'input_text'"},
		{"text missing", withInput(`{"role":"user","content":[{"type":"input_text"}]}`), "input[0].content[0].text", "missing required parameter"},
		{"image missing", withInput(`{"role":"user","content":[{"type":"input_image"}]}`), "input[0].content[0].image_url", "missing required parameter"},
		{"image scheme", withInput(`{"role":"user","content":[{"type":"input_image","image_url":"ftp://x/y.png"}]}`), "input[0].content[0].image_url", "expected an http(s) url or a base64 data url"},
		{"image detail", withInput(`{"role":"user","content":[{"type":"input_image","image_url":"https://x/y.png","detail":"max"}]}`), "input[0].content[0].detail", "'low', 'high', 'auto' and 'original'"},
		{"file empty", withInput(`{"role":"user","content":[{"type":"input_file","filename":"a.pdf"}]}`), "input[0].content[0].file_data", "missing required parameter"},
		{"file url scheme", withInput(`{"role":"user","content":[{"type":"input_file","file_url":"file:///etc/passwd"}]}`), "input[0].content[0].file_url", "expected an http(s) url"},
		{"call id missing", withInput(`{"type":"function_call","name":"f","arguments":"{}"}`), "input[0].call_id", "missing required parameter"},
		{"call name missing", withInput(`{"type":"function_call","call_id":"c","arguments":"{}"}`), "input[0].name", "missing required parameter"},
		{"call arguments object", withInput(`{"type":"function_call","call_id":"c","name":"f","arguments":{}}`), "input[0].arguments", "expected a string, but got an object"},
		{"call without output", withInput(`{"role":"user","content":"x"},{"type":"function_call","call_id":"c1","name":"f","arguments":"{}"}`), "input[1].call_id", "no tool output found for function call c1"},
		{"output without call", withInput(`{"type":"function_call_output","call_id":"c9","output":"x"}`), "input[0].call_id", "no tool call found for function call output with call_id c9"},
		{"output twice", withInput(`{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":"x"},{"type":"function_call_output","call_id":"c","output":"y"}`), "input[2].call_id", "already has an output"},
		{"call id reused", withInput(`{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call","call_id":"c","name":"g","arguments":"{}"}`), "input[1].call_id", "used by an earlier call"},
		{"output missing", withInput(`{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c"}`), "input[1].output", "missing required parameter"},
		{"output number", withInput(`{"type":"function_call","call_id":"c","name":"f","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":1}`), "input[1].output", "expected a string or an array of content parts"},
		{"custom input missing", withInput(`{"type":"custom_tool_call","call_id":"c","name":"p"}`), "input[0].input", "missing required parameter"},
		{"reasoning summary object", withInput(`{"type":"reasoning","summary":{}}`), "input[0].summary", "expected an array"},
		{"reasoning encrypted number", withInput(`{"type":"reasoning","summary":[],"encrypted_content":1}`), "input[0].encrypted_content", "expected a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeResponsesRequest([]byte(tt.body))
			if err == nil {
				t.Fatalf("no error; decoded %+v", req)
			}
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *llm.Error: %v", err, err)
			}
			if e.Kind != llm.KindCallerInvalid || e.Status != 400 {
				t.Errorf("kind, status = %s, %d; want caller_invalid, 400", e.Kind, e.Status)
			}
			if e.Param != tt.param {
				t.Errorf("param = %q, want %q", e.Param, tt.param)
			}
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q does not contain %q", e.Message, tt.msg)
			}
			if e.Message != strings.ToLower(e.Message[:1])+e.Message[1:] || strings.HasSuffix(e.Message, ".") {
				t.Errorf("message %q is not lowercase without a trailing period", e.Message)
			}
			var env struct {
				Error struct{ Message, Type string } `json:"error"`
			}
			if err := json.Unmarshal(EncodeResponsesError(e), &env); err != nil || env.Error.Type != "invalid_request_error" {
				t.Errorf("EncodeResponsesError = %s", EncodeResponsesError(e))
			}
		})
	}
}

func TestDecodeResponsesRequestLimits(t *testing.T) {
	req, err := DecodeResponsesRequest([]byte(`{"model":"m","input":"x","max_output_tokens":99999999999999999999,"previous_response_id":null,"background":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.MaxTokens != 1<<31-1 {
		t.Errorf("MaxTokens = %d", req.MaxTokens)
	}
	req, err = DecodeResponsesRequest([]byte(`{"model":"m","input":"x","max_output_tokens":16}`))
	if err != nil || req.MaxTokens != 16 {
		t.Errorf("max_output_tokens 16: %v %v", req, err)
	}
}

// ---- response encoding ----

var respMeta = ResponsesMeta{ID: "resp_xjp1", Model: "my-model", Created: 1750000000}

// respRequest is a Responses request with a function, a custom and a
// namespaced tool, asking for encrypted reasoning.
func respRequest(t testing.TB) *llm.Request {
	t.Helper()
	req, err := DecodeResponsesRequest([]byte(`{"model":"my-model","input":"go","instructions":"Be brief.",
		"tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},
			{"type":"custom","name":"apply_patch","description":"Edit files.","format":{"type":"grammar","syntax":"lark","definition":"start: /.+/"}},
			{"type":"namespace","name":"mcp__docs__","description":"Docs","tools":[{"type":"function","name":"get_page"}]}],
		"tool_choice":"auto","parallel_tool_calls":true,"reasoning":{"effort":"medium","summary":"auto"},
		"include":["reasoning.encrypted_content"],"store":false,"prompt_cache_key":"pck","max_output_tokens":2048,"stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestEncodeResponsesResponseGolden(t *testing.T) {
	usage := llm.Usage{InputTokens: 100, CacheReadTokens: 50, CacheWriteTokens: 25, OutputTokens: 40, ReasoningTokens: 12}
	req := respRequest(t)
	tests := []struct {
		name string
		resp llm.Response
		req  *llm.Request
	}{
		{"text", llm.Response{Content: []llm.Part{llm.TextPart("Hello "), llm.TextPart("world")}, FinishReason: llm.FinishStop, Usage: usage}, nil},
		{"tool_calls", llm.Response{Content: []llm.Part{
			{Type: llm.PartThinking, Text: "Two lookups.", Signature: "EqcDsig=="},
			llm.TextPart("Checking."),
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "toolu_1", Name: "get_weather", Arguments: `{"city":"Paris"}`}},
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_g1", Name: "mcp__docs__get_page", Signature: "CiUBgem"}},
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "toolu_2", Name: "apply_patch", Arguments: `{"input":"*** Begin Patch\n*** End Patch\n"}`}},
		}, FinishReason: llm.FinishToolCalls, Usage: usage}, req},
		{"redacted_and_native_custom", llm.Response{Content: []llm.Part{
			{Type: llm.PartRedactedThinking, Data: "opaque=="},
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_c", Name: "apply_patch", Type: "custom", Arguments: "raw patch"}},
		}, FinishReason: llm.FinishToolCalls}, req},
		{"incomplete_length", llm.Response{Content: []llm.Part{llm.TextPart("cut sh")}, FinishReason: llm.FinishLength, Usage: usage}, req},
		{"content_filter", llm.Response{FinishReason: llm.FinishContentFilter}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			meta := respMeta
			meta.Request = tt.req
			got := EncodeResponsesResponse(&tt.resp, meta)
			r := sdkResponse(t, got)
			if r.Object != "response" || r.ID != "resp_xjp1" {
				t.Errorf("SDK view: %+v", r)
			}
			golden(t, "responses/encode_"+tt.name, indent(t, got))
		})
	}
}

// ---- custom tool round trip across upstream kinds ----

// TestCustomToolRoundTripChat follows Codex's apply_patch through a Chat
// Completions upstream: the freeform tool goes up as a function, the
// model's function call comes back to the client as a custom_tool_call with
// the raw patch, and the replayed call goes up again as a function call.
func TestCustomToolRoundTripChat(t *testing.T) {
	const patch = "*** Begin Patch\n*** Update File: README.md\n@@\n-# Projcet\n+# Project\n*** End Patch\n"
	req, err := DecodeResponsesRequest(withoutHostedTools(t, codexRequest(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, fl := range []Flavor{FlavorGeneric, FlavorOpenAI, FlavorOpenRouter} {
		body, err := EncodeChatRequestFlavor(&llm.Call{Request: req, Model: "up"}, fl)
		if err != nil {
			t.Fatal(err)
		}
		tool := findTool(t, body, "apply_patch")
		if tool.Type != "function" || !strings.Contains(tool.Function.Description, "start: begin_patch hunk+ end_patch") ||
			!strings.Contains(string(tool.Function.Parameters), `"input"`) {
			t.Errorf("%s: apply_patch went up as %+v", fl, tool)
		}
		// The replayed custom call goes up as a call of that function.
		var msgs struct {
			Messages []struct {
				ToolCalls []struct {
					ID       string
					Type     string
					Function struct{ Name, Arguments string }
				} `json:"tool_calls"`
			}
		}
		if err := json.Unmarshal(body, &msgs); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, m := range msgs.Messages {
			for _, tc := range m.ToolCalls {
				if tc.ID == "toolu_01B" {
					found = true
					if tc.Type != "function" || tc.Function.Name != "apply_patch" || llm.CustomInput(tc.Function.Arguments) != patch {
						t.Errorf("%s: replayed call = %+v", fl, tc)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s: replayed apply_patch call missing: %s", fl, body)
		}
	}
	if body, _ := EncodeChatRequestFlavor(&llm.Call{Request: req, Model: "up"}, FlavorGeneric); true {
		golden(t, "responses/codex_to_chat_request", indent(t, body))
	}

	// The model answers with the function form; the client gets its custom
	// tool call back, in a stream and in a whole response.
	up := []llm.Event{{Type: llm.EventStart, ID: "up", Model: "up"},
		{Type: llm.EventBlockStart, Index: 0, Block: &llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "call_up", Name: "apply_patch"}}},
		{Type: llm.EventToolArgsDelta, Index: 0, Text: `{"input":"*** Begin Patch\n*** Update File: README.md\n@@\n-# Projcet`},
		{Type: llm.EventToolArgsDelta, Index: 0, Text: `\n+# Project\n*** End Patch\n"}`},
		{Type: llm.EventBlockStop, Index: 0},
		{Type: llm.EventUsage, Usage: &llm.Usage{InputTokens: 10, OutputTokens: 5}},
		{Type: llm.EventFinish, Finish: llm.FinishToolCalls}}
	meta := respMeta
	meta.Request = req
	wire := encodeResponsesStream(meta, up)
	checkResponsesStream(t, wire)
	items := sdkStream(t, wire).items
	if len(items) != 1 || items[0].Type != "custom_tool_call" || items[0].Input != patch || items[0].CallID != "call_up" || items[0].Name != "apply_patch" {
		t.Errorf("streamed items = %+v", items)
	}
	var f llm.Folder
	for _, ev := range up {
		f.Add(ev)
	}
	r := sdkResponse(t, EncodeResponsesResponse(f.Response(), meta))
	if len(r.Output) != 1 || r.Output[0].Type != "custom_tool_call" || r.Output[0].Input != patch {
		t.Errorf("response output = %+v", r.Output)
	}

	// Codex replays that item: it decodes to a custom call again.
	next := []byte(`{"model":"m","input":[{"type":"custom_tool_call","id":"ctc_xjp1_0","status":"completed","call_id":"call_up","name":"apply_patch","input":` +
		string(mustJSON(patch)) + `},{"type":"custom_tool_call_output","call_id":"call_up","output":"Success"}],` +
		`"tools":[{"type":"custom","name":"apply_patch"}]}`)
	req2, err := DecodeResponsesRequest(next)
	if err != nil {
		t.Fatal(err)
	}
	tc := req2.Messages[0].Content[0].ToolCall
	if tc.Type != "custom" || tc.Arguments != patch || tc.ID != "call_up" {
		t.Errorf("replayed call = %+v", tc)
	}
}

type chatTool struct {
	Type     string
	Function struct {
		Name, Description string
		Parameters        json.RawMessage
	}
}

func findTool(t *testing.T, body []byte, name string) chatTool {
	t.Helper()
	var b struct{ Tools []chatTool }
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	for _, tool := range b.Tools {
		if tool.Function.Name == name {
			return tool
		}
	}
	t.Fatalf("no tool %s in %s", name, body)
	return chatTool{}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestResponsesReasoningRoundTrip: what the encoder puts in
// encrypted_content comes back as the same parts when the client replays
// the output items.
func TestResponsesReasoningRoundTrip(t *testing.T) {
	req := respRequest(t)
	resp := &llm.Response{Content: []llm.Part{
		{Type: llm.PartThinking, Text: "Let me think.", Signature: "EqcDsig=="},
		{Type: llm.PartRedactedThinking, Data: "opaque=="},
		{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_1", Name: "get_weather", Arguments: `{"city":"Rome"}`, Signature: "CiUBgem"}},
	}, FinishReason: llm.FinishToolCalls}
	meta := respMeta
	meta.Request = req
	var out struct{ Output []json.RawMessage }
	if err := json.Unmarshal(EncodeResponsesResponse(resp, meta), &out); err != nil {
		t.Fatal(err)
	}
	input := []byte(`{"model":"m","input":[{"role":"user","content":"go"}`)
	for _, it := range out.Output {
		input = append(input, ',')
		input = append(input, it...)
	}
	input = append(input, `,{"type":"function_call_output","call_id":"call_1","output":"sunny"}]}`...)
	next, err := DecodeResponsesRequest(input)
	if err != nil {
		t.Fatal(err)
	}
	got := next.Messages[1].Content
	if len(got) != 3 || got[0].Type != llm.PartThinking || got[0].Text != "Let me think." || got[0].Signature != "EqcDsig==" ||
		got[1].Type != llm.PartRedactedThinking || got[1].Data != "opaque==" ||
		got[2].ToolCall == nil || got[2].ToolCall.Signature != "CiUBgem" || got[2].ToolCall.Arguments != `{"city":"Rome"}` {
		t.Errorf("replayed parts = %s", dump(t, got))
	}

	// Without include, nothing is carried.
	meta.Request, _ = DecodeResponsesRequest([]byte(`{"model":"m","input":"x"}`))
	if b := EncodeResponsesResponse(resp, meta); bytes.Contains(b, []byte("encrypted_content")) {
		t.Errorf("encrypted_content without include: %s", b)
	}
}

func TestEncodeResponsesError(t *testing.T) {
	got := string(EncodeResponsesError(llm.InvalidRequest("input[2].call_id", "no tool call found")))
	if got != `{"error":{"message":"no tool call found","type":"invalid_request_error","param":"input[2].call_id","code":null}}` {
		t.Errorf("EncodeResponsesError = %s", got)
	}
}
