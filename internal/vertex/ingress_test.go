package vertex

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// geminiCLIRequest is shaped like what gemini-cli (through @google/genai)
// sends on a tool turn: a system instruction, a thought part with its
// signature, parallel functionCalls without ids (the first signed), their
// functionResponses in one user turn, parametersJsonSchema declarations
// and a Schema-typed one, a thinking config and pass-through settings.
const geminiCLIRequest = `{
  "contents": [
    {"role": "user", "parts": [{"text": "This is the Gemini CLI. Today's date is Monday."}, {"text": "Read a.txt and b.txt"}]},
    {"role": "model", "parts": [
      {"text": "I should read both files.", "thought": true, "thoughtSignature": "dGhvdWdodC1zaWctMQ=="},
      {"functionCall": {"name": "read_file", "args": {"absolute_path": "/w/a.txt"}}, "thoughtSignature": "Y2FsbC1zaWctb25l"},
      {"functionCall": {"name": "read_file", "args": {"absolute_path": "/w/b.txt"}}}
    ]},
    {"role": "user", "parts": [
      {"functionResponse": {"name": "read_file", "response": {"output": "alpha"}}},
      {"functionResponse": {"name": "read_file", "response": {"output": "beta"}}}
    ]},
    {"role": "model", "parts": [{"text": "a.txt says alpha, b.txt says beta."}, {"text": "", "thoughtSignature": "bGFzdC10ZXh0LXNpZw=="}]},
    {"role": "user", "parts": [{"text": "Now run ls"}]}
  ],
  "systemInstruction": {"role": "user", "parts": [{"text": "You are an interactive CLI agent."}]},
  "tools": [{"functionDeclarations": [
    {"name": "read_file", "description": "Reads a file.", "parametersJsonSchema": {"type": "object", "properties": {"absolute_path": {"type": "string"}}, "required": ["absolute_path"]}},
    {"name": "run_shell_command", "description": "Runs a shell command.", "parameters": {"type": "OBJECT", "properties": {"command": {"type": "STRING", "description": "The command"}, "directory": {"type": "STRING", "nullable": true}, "timeout": {"type": "INTEGER", "format": "int32", "example": 30}, "tags": {"type": "ARRAY", "items": {"type": "STRING", "enum": ["a", "b"], "format": "enum"}, "maxItems": "5"}}, "required": ["command"], "propertyOrdering": ["command", "directory"]}}
  ]}],
  "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
  "generationConfig": {"temperature": 0, "topP": 1, "topK": 64, "maxOutputTokens": 8192, "thinkingConfig": {"includeThoughts": true, "thinkingBudget": -1}, "stopSequences": ["END"], "seed": 7, "presencePenalty": 0.5},
  "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
  "cachedContent": "cachedContents/abc",
  "labels": {"Team_Name": "cli"}
}`

// snakeCased rewrites the object keys of a request to snake_case, except the
// keys inside user data (args, response, schemas' properties, labels).
func snakeCased(t *testing.T, body string) string {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	opaque := map[string]bool{"args": true, "response": true, "properties": true, "labels": true, "parametersJsonSchema": true}
	var walk func(any) any
	walk = func(x any) any {
		switch m := x.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, e := range m {
				if opaque[k] {
					if k == "properties" {
						props := map[string]any{}
						for name, ps := range e.(map[string]any) {
							props[name] = walk(ps)
						}
						out[k] = props
						continue
					}
					out[snakeCase(k)] = e
					continue
				}
				out[snakeCase(k)] = walk(e)
			}
			return out
		case []any:
			for i, e := range m {
				m[i] = walk(e)
			}
		}
		return x
	}
	b, err := json.Marshal(walk(v))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// normalized re-encodes JSON with sorted keys.
func normalized(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return ingressDump(t, v)
}

// ingressDump renders v as indented JSON without null, "" and empty
// members, so that golden files show only what is set.
func ingressDump(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(pruneEmpty(x), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func pruneEmpty(x any) any {
	switch v := x.(type) {
	case map[string]any:
		for k, e := range v {
			e = pruneEmpty(e)
			switch ev := e.(type) {
			case nil:
				delete(v, k)
			case string:
				if ev == "" {
					delete(v, k)
				} else {
					v[k] = e
				}
			case map[string]any:
				if len(ev) == 0 {
					delete(v, k)
				} else {
					v[k] = e
				}
			case []any:
				if len(ev) == 0 {
					delete(v, k)
				} else {
					v[k] = e
				}
			default:
				v[k] = e
			}
		}
	case []any:
		for i, e := range v {
			v[i] = pruneEmpty(e)
		}
	}
	return x
}

func TestDecodeGenerateContentRequestGolden(t *testing.T) {
	tests := []struct{ name, model, body string }{
		{"gemini_cli", "gemini-2.5-pro", geminiCLIRequest},
		{"media", "models/gemini-2.5-flash", `{"contents":[{"parts":[
			{"text":"Describe these."},
			{"inlineData":{"mimeType":"image/png","data":"iVBORw0KGgo="}},
			{"fileData":{"mimeType":"application/pdf","fileUri":"gs://bucket/doc.pdf"}},
			{"fileData":{"fileUri":"https://www.youtube.com/watch?v=abc"}},
			{"fileData":{"mimeType":"video/mp4","fileUri":"gs://b/v.mp4"},"videoMetadata":{"startOffset":"1s","endOffset":"5s"}},
			{"executableCode":{"language":"PYTHON","code":"print(1)"}}]}]}`},
		{"function_ids_and_errors", "gemini-3-pro-preview", `{"contents":[
			{"role":"user","parts":[{"text":"go"}]},
			{"role":"model","parts":[
				{"functionCall":{"id":"toolu_01","name":"lookup","args":{"q":"x"}},"thoughtSignature":"` + wrapSignature("anthropic-sig not base64!") + `"},
				{"functionCall":{"id":"toolu_02","name":"lookup","args":{"q":"y"}}},
				{"functionCall":{"name":"fetch"}},
				{"thought":true,"thoughtSignature":"` + wrapRedacted("RedactedBlob==") + `"}]},
			{"role":"function","parts":[
				{"functionResponse":{"id":"toolu_02","name":"lookup","response":{"error":"not found"}}},
				{"functionResponse":{"name":"fetch","response":{"status":200,"body":{"k":[1,2]}},"parts":[{"inlineData":{"mimeType":"image/jpeg","data":"/9j/4AAQ"}}]}},
				{"functionResponse":{"id":"toolu_01","name":"lookup","response":{"output":{"hits":3}}}},
				{"text":"and continue"}]}]}`},
		{"json_mode_and_hosted_tools", "gemini-2.5-flash", `{"contents":[{"role":"user","parts":[{"text":"list"}]}],
			"tools":[{"googleSearch":{}},{"codeExecution":{},"functionDeclarations":[{"name":"f"}]}],
			"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]},"retrievalConfig":{"languageCode":"en"}},
			"generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"ARRAY","items":{"type":"OBJECT","properties":{"name":{"type":"STRING"}}}},"candidateCount":1,"thinkingConfig":{"thinkingLevel":"LOW"}}}`},
		{"system_string_and_json_schema", "gemini-2.5-flash", `{"system_instruction":"Be brief.","contents":[{"role":"user","parts":[{"text":"x"}]}],
			"generation_config":{"response_mime_type":"application/json","response_json_schema":{"type":"object","properties":{"a_b":{"type":"string"}}},"thinking_config":{"thinking_budget":0}},
			"tool_config":{"function_calling_config":{"mode":"NONE"}},"x_unknown":{"k":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeGenerateContentRequest(tt.model, []byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeGenerateContentRequest: %v", err)
			}
			checkGolden(t, "ingress/decode_"+tt.name+".json", ingressDump(t, req))
		})
	}
}

// TestDecodeGenerateContentRequestSnakeCase: the REST API takes the proto
// field names too; they decode to the same request.
func TestDecodeGenerateContentRequestSnakeCase(t *testing.T) {
	camel, err := DecodeGenerateContentRequest("gemini-2.5-pro", []byte(geminiCLIRequest))
	if err != nil {
		t.Fatal(err)
	}
	body := snakeCased(t, geminiCLIRequest)
	if !strings.Contains(body, "system_instruction") || !strings.Contains(body, "function_declarations") || !strings.Contains(body, "absolute_path") {
		t.Fatalf("not snake_cased: %s", body)
	}
	snake, err := DecodeGenerateContentRequest("gemini-2.5-pro", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := normalized(t, ingressDump(t, camel)), normalized(t, ingressDump(t, snake)); !bytes.Equal(a, b) {
		t.Errorf("snake_case decodes differently\n--- camel\n%s\n--- snake\n%s", a, b)
	}
}

// TestGeminiIngressToGeminiUpstream: a Gemini client's request sent on to a
// Gemini upstream keeps ids, signatures, settings and hosted tools.
func TestGeminiIngressToGeminiUpstream(t *testing.T) {
	req, err := DecodeGenerateContentRequest("gemini-3-pro-preview", []byte(geminiCLIRequest))
	if err != nil {
		t.Fatal(err)
	}
	body, err := EncodeRequest(&llm.Call{Request: req, Model: "gemini-3-pro-preview"}, APIGemini)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "ingress/to_gemini_upstream.json", indentJSON(t, body))
	var out GenerateContentRequest
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	model := out.Contents[1]
	if model.Parts[0].FunctionCall == nil || model.Parts[0].ThoughtSignature != "Y2FsbC1zaWctb25l" || model.Parts[1].ThoughtSignature != "" {
		t.Errorf("model turn = %+v", model.Parts)
	}
	resp := out.Contents[2]
	if len(resp.Parts) != 2 || !strings.Contains(string(resp.Parts[0].FunctionResponse.Response), "alpha") ||
		!strings.Contains(string(resp.Parts[1].FunctionResponse.Response), "beta") {
		t.Errorf("responses = %+v", resp.Parts)
	}
	for _, want := range []string{`"safetySettings"`, `"cachedContent":"cachedContents/abc"`, `"presencePenalty":0.5`, `"Team_Name":"cli"`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("upstream body lacks %s", want)
		}
	}
	if bytes.Contains(body, []byte("_")) && bytes.Contains(body, []byte("presence_penalty")) {
		t.Errorf("snake_case key leaked: %s", body)
	}
}

func TestDecodeGenerateContentRequestErrors(t *testing.T) {
	user := `{"role":"user","parts":[{"text":"hi"}]}`
	with := func(extra string) string { return `{"contents":[` + user + `],` + extra + `}` }
	withContents := func(c string) string { return `{"contents":[` + c + `]}` }
	tests := []struct {
		name, model, body, param, msg string
	}{
		{"invalid json", "m", `{"contents":`, "", "invalid JSON payload received"},
		{"body array", "m", `[]`, "", "expected an object, but got an array"},
		{"empty model", "models/", `{"contents":[` + user + `]}`, "model", "model name in the url is empty"},
		{"contents missing", "m", `{}`, "contents", "contents is not specified"},
		{"contents object", "m", `{"contents":{}}`, "contents", "expected an array, but got an object"},
		{"contents empty", "m", `{"contents":[]}`, "contents", "contents must not be empty"},
		{"content not object", "m", withContents(`"hi"`), "contents[0]", "expected an object"},
		{"role unknown", "m", withContents(`{"role":"assistant","parts":[{"text":"x"}]}`), "contents[0].role", "supported values are 'user' and 'model'"},
		{"role number", "m", withContents(`{"role":1,"parts":[]}`), "contents[0].role", "expected a string"},
		{"parts missing", "m", withContents(`{"role":"user"}`), "contents[0].parts", "missing required field"},
		{"parts object", "m", withContents(`{"role":"user","parts":{}}`), "contents[0].parts", "expected an array"},
		{"part empty", "m", withContents(`{"role":"user","parts":[{}]}`), "contents[0].parts[0]", "a part needs data"},
		{"text number", "m", withContents(`{"role":"user","parts":[{"text":1}]}`), "contents[0].parts[0].text", "expected a string"},
		{"inline mime missing", "m", withContents(`{"role":"user","parts":[{"inlineData":{"data":"AA=="}}]}`), "contents[0].parts[0].inlineData.mimeType", "missing required field"},
		{"inline bad base64", "m", withContents(`{"role":"user","parts":[{"inlineData":{"mimeType":"image/png","data":"!!"}}]}`), "contents[0].parts[0].inlineData.data", "base64 decoding failed"},
		{"file uri missing", "m", withContents(`{"role":"user","parts":[{"fileData":{"mimeType":"image/png"}}]}`), "contents[0].parts[0].fileData.fileUri", "missing required field"},
		{"call in user turn", "m", withContents(`{"role":"user","parts":[{"functionCall":{"name":"f"}}]}`), "contents[0].parts[0].functionCall", "belongs in a model turn"},
		{"response in model turn", "m", withContents(`{"role":"model","parts":[{"functionResponse":{"name":"f","response":{}}}]}`), "contents[0].parts[0].functionResponse", "belongs in a user turn"},
		{"call name missing", "m", withContents(`{"role":"model","parts":[{"functionCall":{"args":{}}}]}`), "contents[0].parts[0].functionCall.name", "missing required field"},
		{"call args array", "m", withContents(`{"role":"model","parts":[{"functionCall":{"name":"f","args":[1]}}]}`), "contents[0].parts[0].functionCall.args", "expected an object, but got an array"},
		{"thought not bool", "m", withContents(`{"role":"model","parts":[{"text":"x","thought":"yes"}]}`), "contents[0].parts[0].thought", "expected a boolean"},
		{"signature number", "m", withContents(`{"role":"model","parts":[{"text":"x","thoughtSignature":5}]}`), "contents[0].parts[0].thoughtSignature", "expected a string"},
		{"orphan response", "m", withContents(user + `,{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}`), "contents[1].parts[0].functionResponse", "answers no functionCall"},
		{"response wrong name", "m", withContents(`{"role":"model","parts":[{"functionCall":{"name":"f"}}]},{"role":"user","parts":[{"functionResponse":{"name":"g","response":{}}}]}`), "contents[1].parts[0].functionResponse", `for "g" answers no functionCall`},
		{"response twice", "m", withContents(`{"role":"model","parts":[{"functionCall":{"name":"f"}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}},{"functionResponse":{"name":"f","response":{}}}]}`), "contents[1].parts[1].functionResponse", "answers no functionCall"},
		{"response not object", "m", withContents(`{"role":"model","parts":[{"functionCall":{"name":"f"}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":"ok"}}]}`), "contents[1].parts[0].functionResponse.response", "expected an object, but got a string"},
		{"response parts text", "m", withContents(`{"role":"model","parts":[{"functionCall":{"name":"f"}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{},"parts":[{"text":"x"}]}}]}`), "contents[1].parts[0].functionResponse.parts[0]", "take inlineData or fileData"},
		{"system number", "m", with(`"systemInstruction":5`), "systemInstruction", "expected a Content object"},
		{"system image", "m", with(`"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AA=="}}]}`), "systemInstruction.parts[0]", "text parts only"},
		{"tools object", "m", with(`"tools":{}`), "tools", "expected an array"},
		{"declarations object", "m", with(`"tools":[{"functionDeclarations":{}}]`), "tools[0].functionDeclarations", "expected an array"},
		{"declaration name missing", "m", with(`"tools":[{"functionDeclarations":[{"description":"x"}]}]`), "tools[0].functionDeclarations[0].name", "missing required field"},
		{"both schemas", "m", with(`"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT"},"parametersJsonSchema":{"type":"object"}}]}]`), "tools[0].functionDeclarations[0].parametersJsonSchema", "mutually exclusive"},
		{"parameters string", "m", with(`"tools":[{"functionDeclarations":[{"name":"f","parameters":"{}"}]}]`), "tools[0].functionDeclarations[0].parameters", "expected an object"},
		{"mode unknown", "m", with(`"toolConfig":{"functionCallingConfig":{"mode":"SOMETIMES"}}`), "toolConfig.functionCallingConfig.mode", "'AUTO', 'ANY', 'NONE' and 'VALIDATED'"},
		{"allowed names number", "m", with(`"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":[1]}}`), "toolConfig.functionCallingConfig.allowedFunctionNames", "array of strings"},
		{"generationConfig array", "m", with(`"generationConfig":[]`), "generationConfig", "expected an object"},
		{"candidateCount 2", "m", with(`"generationConfig":{"candidateCount":2}`), "generationConfig.candidateCount", "candidateCount > 1 is not supported by xjp"},
		{"candidate_count 3", "m", with(`"generation_config":{"candidate_count":3}`), "generationConfig.candidateCount", "candidateCount > 1"},
		{"maxOutputTokens string", "m", with(`"generationConfig":{"maxOutputTokens":"10"}`), "generationConfig.maxOutputTokens", "expected a number, but got a string"},
		{"maxOutputTokens negative", "m", with(`"generationConfig":{"maxOutputTokens":-1}`), "generationConfig.maxOutputTokens", "non-negative integer"},
		{"temperature high", "m", with(`"generationConfig":{"temperature":3}`), "generationConfig.temperature", "out of range [0, 2]"},
		{"topP high", "m", with(`"generationConfig":{"topP":1.5}`), "generationConfig.topP", "out of range [0, 1]"},
		{"stop number", "m", with(`"generationConfig":{"stopSequences":[1]}`), "generationConfig.stopSequences", "array of strings"},
		{"thinkingLevel unknown", "m", with(`"generationConfig":{"thinkingConfig":{"thinkingLevel":"ULTRA"}}`), "generationConfig.thinkingConfig.thinkingLevel", "'MINIMAL', 'LOW', 'MEDIUM' and 'HIGH'"},
		{"thinkingBudget string", "m", with(`"generationConfig":{"thinkingConfig":{"thinkingBudget":"1"}}`), "generationConfig.thinkingConfig.thinkingBudget", "expected a number"},
		{"safetySettings object", "m", with(`"safetySettings":{}`), "safetySettings", "expected an array"},
		{"cachedContent number", "m", with(`"cachedContent":1`), "cachedContent", "expected a string"},
		{"labels array", "m", with(`"labels":[]`), "labels", "expected an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeGenerateContentRequest(tt.model, []byte(tt.body))
			if err == nil {
				t.Fatalf("no error; decoded %+v", req)
			}
			var e *llm.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *llm.Error: %v", err, err)
			}
			if e.Kind != llm.KindCallerInvalid || e.Status != 400 {
				t.Errorf("kind, status = %s, %d", e.Kind, e.Status)
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
			var env ErrorBody
			if err := json.Unmarshal(EncodeGoogleError(e), &env); err != nil || env.Error.Code != 400 || env.Error.Status != "INVALID_ARGUMENT" {
				t.Errorf("EncodeGoogleError = %s", EncodeGoogleError(e))
			}
		})
	}
}

func TestDecodeCountTokensRequest(t *testing.T) {
	req, err := DecodeCountTokensRequest("models/gemini-2.5-flash", []byte(`{"contents":[{"parts":[{"text":"count me"}]}]}`))
	if err != nil || req.Model != "gemini-2.5-flash" || len(req.Messages) != 1 || req.Messages[0].Text() != "count me" {
		t.Fatalf("contents form: %+v %v", req, err)
	}
	req, err = DecodeCountTokensRequest("gemini-2.5-flash", []byte(`{"contents":[{"parts":[{"text":"ignored"}]}],
		"generate_content_request":{"model":"models/other","system_instruction":{"parts":[{"text":"sys"}]},"contents":[{"role":"user","parts":[{"text":"real"}]}],
		"tools":[{"functionDeclarations":[{"name":"f"}]}]}}`))
	if err != nil || len(req.Messages) != 2 || req.Messages[0].Role != llm.RoleSystem || req.Messages[1].Text() != "real" || len(req.Tools) != 1 {
		t.Fatalf("generateContentRequest form: %s %v", ingressDump(t, req), err)
	}
	for _, tt := range []struct{ body, param string }{
		{`{}`, "contents"},
		{`{"generateContentRequest":[]}`, "generateContentRequest"},
		{`{"generateContentRequest":{}}`, "generateContentRequest.contents"},
		{`{"contents":[{"role":"bot","parts":[]}]}`, "contents[0].role"},
	} {
		_, err := DecodeCountTokensRequest("m", []byte(tt.body))
		var e *llm.Error
		if !errors.As(err, &e) || e.Status != 400 || e.Param != tt.param {
			t.Errorf("%s: error %v, want param %s", tt.body, err, tt.param)
		}
	}
	if got := string(EncodeCountTokensResponse(1234)); got != `{"totalTokens":1234}` {
		t.Errorf("EncodeCountTokensResponse = %s", got)
	}
}

// ---- encoding ----

var ingressUsage = llm.Usage{InputTokens: 100, CacheReadTokens: 50, CacheWriteTokens: 25, OutputTokens: 40, ReasoningTokens: 12}

func TestEncodeGenerateContentResponseGolden(t *testing.T) {
	tests := []struct {
		name string
		resp llm.Response
	}{
		{"text", llm.Response{ID: "resp-1", Content: []llm.Part{llm.TextPart("Hello "), llm.TextPart("world"), llm.TextPart("")}, FinishReason: llm.FinishStop, Usage: ingressUsage}},
		{"tool_calls", llm.Response{ID: "resp-2", Content: []llm.Part{
			{Type: llm.PartThinking, Text: "Two lookups.", Signature: "YW50aHJvcGljIHNpZyBieXRlcw=="},
			{Type: llm.PartRedactedThinking, Data: "opaque"},
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "toolu_1", Name: "lookup", Arguments: `{"q": "x"}`}},
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_g", Name: "lookup", Arguments: "", Signature: "Z2VtaW5pLWNhbGw="}},
			{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "call_x", Name: "apply_patch", Type: "custom", Arguments: "*** Begin Patch", Signature: "not base64 !"}},
		}, FinishReason: llm.FinishToolCalls, Usage: ingressUsage}},
		{"max_tokens", llm.Response{ID: "resp-3", Content: []llm.Part{llm.TextPart("cut")}, FinishReason: llm.FinishLength}},
		{"safety", llm.Response{FinishReason: llm.FinishContentFilter}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EncodeGenerateContentResponse(&tt.resp, "gemini-2.5-pro")
			var r GenerateContentResponse
			if err := json.Unmarshal(got, &r); err != nil || len(r.Candidates) != 1 {
				t.Fatalf("bad response %s: %v", got, err)
			}
			checkGolden(t, "ingress/encode_"+tt.name+".json", indentJSON(t, got))
		})
	}
}

// TestGeminiIngressReplay: a model turn the encoder produced, replayed by
// the client, decodes to the same thinking, signatures and call ids.
func TestGeminiIngressReplay(t *testing.T) {
	resp := &llm.Response{Content: []llm.Part{
		{Type: llm.PartThinking, Text: "hmm", Signature: "anthropic-sig!"},
		{Type: llm.PartRedactedThinking, Data: "opaque"},
		llm.TextPart("Calling."),
		{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "toolu_1", Name: "lookup", Arguments: `{"q":"x"}`, Signature: "Z2VtaW5pLWNhbGw="}},
	}, FinishReason: llm.FinishToolCalls}
	var out GenerateContentResponse
	if err := json.Unmarshal(EncodeGenerateContentResponse(resp, "m"), &out); err != nil {
		t.Fatal(err)
	}
	turn, _ := json.Marshal(out.Candidates[0].Content)
	body := `{"contents":[{"role":"user","parts":[{"text":"go"}]},` + string(turn) +
		`,{"role":"user","parts":[{"functionResponse":{"id":"toolu_1","name":"lookup","response":{"output":"42"}}}]}]}`
	req, err := DecodeGenerateContentRequest("m", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	got := req.Messages[1].Content
	if len(got) != 4 || got[0].Signature != "anthropic-sig!" || got[0].Text != "hmm" || got[1].Type != llm.PartRedactedThinking || got[1].Data != "opaque" ||
		got[2].Text != "Calling." || got[3].ToolCall.ID != "toolu_1" || got[3].ToolCall.Signature != "Z2VtaW5pLWNhbGw=" || got[3].ToolCall.Arguments != `{"q":"x"}` {
		t.Errorf("replayed turn = %s", ingressDump(t, got))
	}
	if tr := req.Messages[2].Content[0].ToolResult; tr.ToolCallID != "toolu_1" || tr.Text() != "42" {
		t.Errorf("result = %+v", tr)
	}
}

// TestGeminiIngressStreamedReplay: a streamed answer, replayed chunk by
// chunk as the SDK accumulates it, decodes to one thinking block with its
// signature.
func TestGeminiIngressStreamedReplay(t *testing.T) {
	body := `{"contents":[{"role":"user","parts":[{"text":"go"}]},{"role":"model","parts":[
		{"text":"Let me ","thought":true},{"text":"think.","thought":true},{"thought":true,"thoughtSignature":"c2ln"},
		{"text":"Second ","thought":true},{"text":"thought.","thought":true,"thoughtSignature":"c2lnMg=="},
		{"text":"Answer."}]}]}`
	req, err := DecodeGenerateContentRequest("m", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	got := req.Messages[1].Content
	if len(got) != 3 || got[0].Text != "Let me think." || got[0].Signature != "c2ln" ||
		got[1].Text != "Second thought." || got[1].Signature != "c2lnMg==" || got[2].Text != "Answer." {
		t.Errorf("parts = %s", ingressDump(t, got))
	}
}

func TestEncodeGoogleError(t *testing.T) {
	tests := []struct {
		err    *llm.Error
		code   int
		status string
	}{
		{llm.InvalidRequest("contents", "bad"), 400, "INVALID_ARGUMENT"},
		{&llm.Error{Kind: llm.KindPolicyAuth, Status: 401, Message: "missing key"}, 401, "UNAUTHENTICATED"},
		{&llm.Error{Kind: llm.KindPolicyAuth, Status: 403, Message: "key disabled"}, 403, "PERMISSION_DENIED"},
		{&llm.Error{Kind: llm.KindCallerInvalid, Status: 404, Message: "no such model"}, 404, "NOT_FOUND"},
		{&llm.Error{Kind: llm.KindCallerInvalid, Status: 413, Message: "too large"}, 413, "INVALID_ARGUMENT"},
		{&llm.Error{Kind: llm.KindPolicyBudget, Status: 429, Message: "slow down"}, 429, "RESOURCE_EXHAUSTED"},
		{&llm.Error{Kind: llm.KindGatewayInternal, Status: 500, Message: "bug"}, 500, "INTERNAL"},
		{&llm.Error{Kind: llm.KindProviderServer, Status: 502, Provider: "anthropic", Message: "all routes failed"}, 502, "INTERNAL"},
		{&llm.Error{Kind: llm.KindGatewayNoUpstream, Status: 503, Message: "breakers open"}, 503, "UNAVAILABLE"},
		{&llm.Error{Kind: llm.KindProviderTimeout, Status: 504, Message: "timeout"}, 504, "DEADLINE_EXCEEDED"},
		{&llm.Error{Kind: llm.KindProviderOverloaded, Message: "no status"}, 503, "UNAVAILABLE"},
		{nil, 500, "INTERNAL"},
	}
	for _, tt := range tests {
		var env ErrorBody
		b := EncodeGoogleError(tt.err)
		if err := json.Unmarshal(b, &env); err != nil || env.Error == nil {
			t.Fatalf("%s: %v", b, err)
		}
		if env.Error.Code != tt.code || env.Error.Status != tt.status || env.Error.Message == "" {
			t.Errorf("EncodeGoogleError(%v) = %s", tt.err, b)
		}
	}
	b := EncodeGoogleError(&llm.Error{Kind: llm.KindPolicyBudget, Status: 429, Message: "rate limited", RetryAfter: 1500 * time.Millisecond})
	if string(b) != `{"error":{"code":429,"message":"rate limited","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}]}}` {
		t.Errorf("with retry: %s", b)
	}
}

func TestWrapSignature(t *testing.T) {
	for _, sig := range []string{"Y2FsbC1zaWctb25l", "YW50aHJvcGljIHNpZyBieXRlcw==", "not base64 !", "abc", "eHpwLXNpZzpmYWtl"} {
		got, redacted := unwrapSignature(wrapSignature(sig))
		if got != sig || redacted {
			t.Errorf("round trip of %q = %q %v", sig, got, redacted)
		}
	}
	if got := wrapSignature("Y2FsbC1zaWctb25l"); got != "Y2FsbC1zaWctb25l" {
		t.Errorf("base64 signature changed: %q", got)
	}
	if got, redacted := unwrapSignature(wrapRedacted("blob")); got != "blob" || !redacted {
		t.Errorf("redacted round trip = %q %v", got, redacted)
	}
}
