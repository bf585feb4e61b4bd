package openai

import (
	"errors"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

func TestDecodeChatRequestGolden(t *testing.T) {
	tests := []struct{ name, body string }{
		{"minimal", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`},
		{"roles", `{"model":"openrouter/anthropic/claude-sonnet-4.5","messages":[
			{"role":"system","content":"You are terse."},
			{"role":"developer","content":[{"type":"text","text":"Answer in French."},{"type":"text","text":"Be kind."}]},
			{"role":"user","name":"ann","content":"Bonjour"},
			{"role":"assistant","content":"Salut"},
			{"role":"user","content":""}]}`},
		{"all_params", `{"model":"gpt-4o","messages":[{"role":"user","content":"weather?"}],
			"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather by city","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}}],
			"tool_choice":{"type":"function","function":{"name":"get_weather"}},
			"parallel_tool_calls":false,
			"response_format":{"type":"json_schema","json_schema":{"name":"answer","schema":{"type":"object"},"strict":true}},
			"max_completion_tokens":1024,"temperature":0.2,"top_p":0.9,"top_k":40,"stop":["\n\n","END"],"n":1,"seed":42,
			"user":"user-123","reasoning_effort":"high","stream":true,"stream_options":{"include_usage":true}}`},
		{"tool_round_trip", `{"model":"gpt-4o","messages":[
			{"role":"user","content":"weather in Paris and Rome?"},
			{"role":"assistant","content":null,"tool_calls":[
				{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
				{"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
			{"role":"tool","tool_call_id":"call_1","content":"18C"},
			{"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"21C"}]},
			{"role":"assistant","content":"Paris 18C, Rome 21C."}]}`},
		{"media_parts", `{"model":"gpt-4o","messages":[{"role":"user","content":[
			{"type":"text","text":"What is in these?","cache_control":{"type":"ephemeral"}},
			{"type":"image_url","image_url":{"url":"https://example.com/cat.png","detail":"high"}},
			{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
			{"type":"image_url","image_url":"https://example.com/dog.jpg"},
			{"type":"input_audio","input_audio":{"data":"UklGRg==","format":"wav"}},
			{"type":"input_audio","input_audio":{"data":"SUQz","format":"mp3"}},
			{"type":"input_audio","input_audio":{"data":"ZkxhQw==","format":"flac"}},
			{"type":"file","file":{"filename":"doc.pdf","file_data":"data:application/pdf;base64,JVBERi0="}},
			{"type":"file","file":{"file_id":"file-abc123"}},
			{"type":"video_url","video_url":{"url":"https://example.com/v.mp4"}}]}]}`},
		{"passthrough_fields", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],
			"logprobs":true,"top_logprobs":3,"frequency_penalty":0.5,"presence_penalty":-0.5,"logit_bias":{"50256":-100},
			"metadata":{"k":"v"},"store":false,"service_tier":"flex","prediction":{"type":"content","content":"x"},
			"modalities":["text"],"audio":null,"web_search_options":{},"verbosity":"low",
			"provider":{"order":["anthropic"],"allow_fallbacks":false},"reasoning":{"max_tokens":2000},"x_vendor":[1,2]}`},
		{"reasoning_history", `{"model":"anthropic/claude-sonnet-4","messages":[
			{"role":"user","content":"weather?"},
			{"role":"assistant","content":null,
				"reasoning_details":[
					{"type":"reasoning.text","text":"The user asks","format":"anthropic-claude-v1","index":0},
					{"type":"reasoning.text","text":" for weather.","format":"anthropic-claude-v1","index":0},
					{"type":"reasoning.text","signature":"EqcDCkgIsig==","format":"anthropic-claude-v1","index":0},
					{"type":"reasoning.encrypted","data":"RedactedBlob==","index":1},
					{"type":"reasoning.encrypted","data":"CiUBjz1rGeminiSig","id":"tool_weather_1","format":"google-gemini-v1","index":2}],
				"tool_calls":[{"id":"tool_weather_1","type":"function","function":{"name":"weather","arguments":"{\"location\":\"Florence\"}"}}]},
			{"role":"tool","tool_call_id":"tool_weather_1","content":"40C"},
			{"role":"assistant","reasoning_content":"Hot, say so.","content":"It is 40C."},
			{"role":"user","content":"thanks"},
			{"role":"assistant","reasoning":"Polite reply.","content":"You're welcome."}]}`},
		{"tool_choice_custom_and_hosted", `{"model":"gpt-5","messages":[{"role":"user","content":"patch it"}],
			"tools":[{"type":"custom","custom":{"name":"apply_patch","description":"Apply a patch","format":{"type":"grammar","grammar":{"syntax":"lark","definition":"start: /.+/"}}}},
				{"type":"web_search_preview","search_context_size":"low"}],
			"tool_choice":{"type":"custom","custom":{"name":"apply_patch"}}}`},
		{"tool_choice_allowed_tools", `{"model":"gpt-5","messages":[{"role":"user","content":"go"}],
			"tools":[{"type":"function","function":{"name":"a"}},{"type":"function","function":{"name":"b"}}],
			"tool_choice":{"type":"allowed_tools","allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"a"}}]}}}`},
		{"legacy_limits_and_nulls", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],
			"max_tokens":256,"stop":"STOP","temperature":null,"top_p":null,"tools":null,"tool_choice":"none",
			"response_format":{"type":"json_object"},"reasoning_effort":"none","stream":false,"user":null}`},
		{"assistant_variants", `{"model":"gpt-4o","messages":[
			{"role":"user","content":"a"},
			{"role":"assistant","content":[{"type":"text","text":"part one "},{"type":"refusal","refusal":"I can't."}]},
			{"role":"user","content":"b"},
			{"role":"assistant","content":null},
			{"role":"user","content":"c"},
			{"role":"assistant","content":"","tool_calls":[{"id":"call_9","type":"custom","custom":{"name":"apply_patch","input":"*** Begin Patch"}}]},
			{"role":"tool","tool_call_id":"call_9","content":null}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeChatRequest([]byte(tt.body))
			if err != nil {
				t.Fatalf("DecodeChatRequest: %v", err)
			}
			golden(t, "decode_request/"+tt.name, dump(t, req))
		})
	}
}

func TestDecodeChatRequestErrors(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	withMsgs := func(extra string) string { return `{"model":"m",` + msgs + `,` + extra + `}` }
	withMsg := func(msg string) string { return `{"model":"m","messages":[` + msg + `]}` }
	tests := []struct {
		name, body, param, msg string
	}{
		{"invalid json", `{"model":`, "", "could not parse the JSON body"},
		{"body not object", `[1,2]`, "", "expected an object, but got an array"},
		{"model missing", `{` + msgs + `}`, "model", "missing required parameter: 'model'"},
		{"model number", `{"model":4,` + msgs + `}`, "model", "expected a string, but got an integer"},
		{"model empty", `{"model":" ",` + msgs + `}`, "model", "non-empty"},
		{"messages missing", `{"model":"m"}`, "messages", "missing required parameter: 'messages'"},
		{"messages object", `{"model":"m","messages":{}}`, "messages", "expected an array, but got an object"},
		{"messages empty", `{"model":"m","messages":[]}`, "messages", "empty array"},
		{"message not object", withMsg(`"hi"`), "messages[0]", "expected an object, but got a string"},
		{"role missing", withMsg(`{"content":"hi"}`), "messages[0].role", "missing required parameter"},
		{"role number", withMsg(`{"role":1,"content":"hi"}`), "messages[0].role", "expected a string"},
		{"role unknown", withMsg(`{"role":"robot","content":"hi"}`), "messages[0].role", "supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'"},
		{"role function", withMsg(`{"role":"function","name":"f","content":"1"}`), "messages[0].role", "legacy 'function' role is not supported"},
		{"name number", withMsg(`{"role":"user","name":3,"content":"hi"}`), "messages[0].name", "expected a string"},
		{"user content missing", withMsg(`{"role":"user"}`), "messages[0].content", "missing required parameter"},
		{"user content null", withMsg(`{"role":"user","content":null}`), "messages[0].content", "missing required parameter"},
		{"content number", withMsg(`{"role":"user","content":5}`), "messages[0].content", "expected a string or an array of content parts, but got an integer"},
		{"content object", withMsg(`{"role":"user","content":{"type":"text"}}`), "messages[0].content", "but got an object"},
		{"part not object", withMsg(`{"role":"user","content":["hi"]}`), "messages[0].content[0]", "expected an object"},
		{"part type missing", withMsg(`{"role":"user","content":[{"text":"hi"}]}`), "messages[0].content[0].type", "missing required parameter"},
		{"part type number", withMsg(`{"role":"user","content":[{"type":1}]}`), "messages[0].content[0].type", "expected a string"},
		{"text missing", withMsg(`{"role":"user","content":[{"type":"text"}]}`), "messages[0].content[0].text", "missing required parameter"},
		{"text number", withMsg(`{"role":"user","content":[{"type":"text","text":1}]}`), "messages[0].content[0].text", "expected a string"},
		{"system image", withMsg(`{"role":"system","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}`), "messages[0].content[0].type", "supported values are: 'text'"},
		{"assistant image", withMsg(`{"role":"assistant","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}`), "messages[0].content[0].type", "'text' and 'refusal'"},
		{"image_url missing", withMsg(`{"role":"user","content":[{"type":"image_url"}]}`), "messages[0].content[0].image_url", "missing required parameter"},
		{"image url missing", withMsg(`{"role":"user","content":[{"type":"image_url","image_url":{}}]}`), "messages[0].content[0].image_url.url", "missing required parameter"},
		{"image url number", withMsg(`{"role":"user","content":[{"type":"image_url","image_url":{"url":7}}]}`), "messages[0].content[0].image_url.url", "expected a string"},
		{"image url scheme", withMsg(`{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x/y.png"}}]}`), "messages[0].content[0].image_url.url", "expected an http(s) url or a base64 data url"},
		{"image data url not base64", withMsg(`{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png,abc"}}]}`), "messages[0].content[0].image_url.url", "must be base64"},
		{"image detail number", withMsg(`{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png","detail":1}}]}`), "messages[0].content[0].image_url.detail", "expected a string"},
		{"audio missing", withMsg(`{"role":"user","content":[{"type":"input_audio"}]}`), "messages[0].content[0].input_audio", "missing required parameter"},
		{"audio data missing", withMsg(`{"role":"user","content":[{"type":"input_audio","input_audio":{"format":"wav"}}]}`), "messages[0].content[0].input_audio.data", "missing required parameter"},
		{"audio format missing", withMsg(`{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"AA=="}}]}`), "messages[0].content[0].input_audio.format", "missing required parameter"},
		{"file missing", withMsg(`{"role":"user","content":[{"type":"file"}]}`), "messages[0].content[0].file", "missing required parameter"},
		{"file empty", withMsg(`{"role":"user","content":[{"type":"file","file":{"filename":"a.pdf"}}]}`), "messages[0].content[0].file.file_data", "missing required parameter"},
		{"file data number", withMsg(`{"role":"user","content":[{"type":"file","file":{"file_data":1}}]}`), "messages[0].content[0].file.file_data", "expected a string"},
		{"tool call id missing", withMsg(`{"role":"tool","content":"x"}`), "messages[0].tool_call_id", "missing required parameter: 'messages[0].tool_call_id'"},
		{"tool call id number", withMsg(`{"role":"tool","tool_call_id":1,"content":"x"}`), "messages[0].tool_call_id", "expected a string"},
		{"tool content image", withMsg(`{"role":"tool","tool_call_id":"c","content":[{"type":"image_url","image_url":{"url":"https://x"}}]}`), "messages[0].content[0].type", "supported values are: 'text'"},
		{"tool_calls object", withMsg(`{"role":"assistant","tool_calls":{}}`), "messages[0].tool_calls", "expected an array"},
		{"tool call not object", withMsg(`{"role":"assistant","tool_calls":["x"]}`), "messages[0].tool_calls[0]", "expected an object"},
		{"tool call id absent", withMsg(`{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{}"}}]}`), "messages[0].tool_calls[0].id", "missing required parameter"},
		{"tool call function missing", withMsg(`{"role":"assistant","tool_calls":[{"id":"c","type":"function"}]}`), "messages[0].tool_calls[0].function", "missing required parameter"},
		{"tool call name missing", withMsg(`{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"arguments":"{}"}}]}`), "messages[0].tool_calls[0].function.name", "missing required parameter"},
		{"tool call arguments object", withMsg(`{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":{}}}]}`), "messages[0].tool_calls[0].function.arguments", "expected a string, but got an object"},
		{"tool call type unknown", withMsg(`{"role":"assistant","tool_calls":[{"id":"c","type":"magic"}]}`), "messages[0].tool_calls[0].type", "supported values are: 'function' and 'custom'"},
		{"assistant function_call", withMsg(`{"role":"assistant","function_call":{"name":"f","arguments":"{}"}}`), "messages[0].function_call", "use 'tool_calls'"},
		{"reasoning_content number", withMsg(`{"role":"assistant","content":"x","reasoning_content":1}`), "messages[0].reasoning_content", "expected a string"},
		{"reasoning_details object", withMsg(`{"role":"assistant","content":"x","reasoning_details":{}}`), "messages[0].reasoning_details", "expected an array"},
		{"tools object", withMsgs(`"tools":{}`), "tools", "expected an array"},
		{"tool not object", withMsgs(`"tools":[1]`), "tools[0]", "expected an object"},
		{"tool type missing", withMsgs(`"tools":[{"function":{"name":"f"}}]`), "tools[0].type", "missing required parameter"},
		{"tool function missing", withMsgs(`"tools":[{"type":"function"}]`), "tools[0].function", "missing required parameter"},
		{"tool name missing", withMsgs(`"tools":[{"type":"function","function":{}}]`), "tools[0].function.name", "missing required parameter"},
		{"tool name empty", withMsgs(`"tools":[{"type":"function","function":{"name":""}}]`), "tools[0].function.name", "empty string"},
		{"tool description number", withMsgs(`"tools":[{"type":"function","function":{"name":"f","description":1}}]`), "tools[0].function.description", "expected a string"},
		{"tool parameters string", withMsgs(`"tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}]`), "tools[0].function.parameters", "expected an object, but got a string"},
		{"tool strict string", withMsgs(`"tools":[{"type":"function","function":{"name":"f","strict":"yes"}}]`), "tools[0].function.strict", "expected a boolean"},
		{"custom tool name missing", withMsgs(`"tools":[{"type":"custom","custom":{}}]`), "tools[0].custom.name", "missing required parameter"},
		{"tool_choice bad string", withMsgs(`"tool_choice":"sometimes"`), "tool_choice", "supported values are: 'none', 'auto' and 'required'"},
		{"tool_choice number", withMsgs(`"tool_choice":1`), "tool_choice", "expected a string or an object"},
		{"tool_choice type missing", withMsgs(`"tool_choice":{"function":{"name":"f"}}`), "tool_choice.type", "missing required parameter"},
		{"tool_choice name missing", withMsgs(`"tool_choice":{"type":"function","function":{}}`), "tool_choice.function.name", "missing required parameter"},
		{"tool_choice type unknown", withMsgs(`"tool_choice":{"type":"tool"}`), "tool_choice.type", "supported values are"},
		{"parallel string", withMsgs(`"parallel_tool_calls":"true"`), "parallel_tool_calls", "expected a boolean, but got a string"},
		{"response_format string", withMsgs(`"response_format":"json"`), "response_format", "expected an object"},
		{"response_format type missing", withMsgs(`"response_format":{}`), "response_format.type", "missing required parameter"},
		{"response_format type unknown", withMsgs(`"response_format":{"type":"yaml"}`), "response_format.type", "'text', 'json_object' and 'json_schema'"},
		{"json_schema missing", withMsgs(`"response_format":{"type":"json_schema"}`), "response_format.json_schema", "missing required parameter"},
		{"json_schema name missing", withMsgs(`"response_format":{"type":"json_schema","json_schema":{"schema":{}}}`), "response_format.json_schema.name", "missing required parameter"},
		{"json_schema schema string", withMsgs(`"response_format":{"type":"json_schema","json_schema":{"name":"a","schema":"{}"}}`), "response_format.json_schema.schema", "expected an object"},
		{"json_schema strict string", withMsgs(`"response_format":{"type":"json_schema","json_schema":{"name":"a","strict":1}}`), "response_format.json_schema.strict", "expected a boolean"},
		{"max_tokens zero", withMsgs(`"max_tokens":0`), "max_tokens", "integer below minimum value. expected a value >= 1, but got 0"},
		{"max_tokens negative", withMsgs(`"max_tokens":-5`), "max_tokens", "below minimum"},
		{"max_tokens decimal", withMsgs(`"max_tokens":1.5`), "max_tokens", "expected an integer, but got a decimal"},
		{"max_tokens string", withMsgs(`"max_tokens":"10"`), "max_tokens", "expected an integer, but got a string"},
		{"max_completion_tokens zero", withMsgs(`"max_completion_tokens":0`), "max_completion_tokens", "below minimum"},
		{"temperature high", withMsgs(`"temperature":3`), "temperature", "decimal above maximum value. expected a value <= 2, but got 3"},
		{"temperature negative", withMsgs(`"temperature":-0.1`), "temperature", "below minimum"},
		{"temperature string", withMsgs(`"temperature":"hot"`), "temperature", "expected a number"},
		{"top_p high", withMsgs(`"top_p":1.5`), "top_p", "expected a value <= 1"},
		{"top_k zero", withMsgs(`"top_k":0`), "top_k", "below minimum"},
		{"stop too many", withMsgs(`"stop":["a","b","c","d","e"]`), "stop", "array too long. expected an array with maximum length 4, but got an array with length 5"},
		{"stop number", withMsgs(`"stop":1`), "stop", "expected a string or an array of strings"},
		{"stop element number", withMsgs(`"stop":["a",1]`), "stop[1]", "expected a string"},
		{"n two", withMsgs(`"n":2`), "n", "n > 1 is not supported by xjp"},
		{"n zero", withMsgs(`"n":0`), "n", "below minimum"},
		{"n string", withMsgs(`"n":"1"`), "n", "expected an integer"},
		{"seed decimal", withMsgs(`"seed":1.5`), "seed", "expected an integer"},
		{"user number", withMsgs(`"user":5`), "user", "expected a string"},
		{"reasoning_effort unknown", withMsgs(`"reasoning_effort":"extreme"`), "reasoning_effort", "'none', 'minimal', 'low', 'medium', 'high', 'xhigh' and 'max'"},
		{"reasoning_effort number", withMsgs(`"reasoning_effort":2`), "reasoning_effort", "expected a string"},
		{"stream string", withMsgs(`"stream":"yes"`), "stream", "expected a boolean"},
		{"stream_options without stream", withMsgs(`"stream_options":{"include_usage":true}`), "stream_options", "only allowed when 'stream' is enabled"},
		{"stream_options false stream", withMsgs(`"stream":false,"stream_options":{"include_usage":true}`), "stream_options", "only allowed when 'stream' is enabled"},
		{"stream_options not object", withMsgs(`"stream":true,"stream_options":true`), "stream_options", "expected an object"},
		{"include_usage string", withMsgs(`"stream":true,"stream_options":{"include_usage":"yes"}`), "stream_options.include_usage", "expected a boolean"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := DecodeChatRequest([]byte(tt.body))
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
			if got := ErrorType(e); got != "invalid_request_error" {
				t.Errorf("ErrorType = %q", got)
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
		})
	}
}

func TestDecodeChatRequestLimits(t *testing.T) {
	req, err := DecodeChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":99999999999999999999,"seed":-99999999999999999999}`))
	if err != nil {
		t.Fatal(err)
	}
	if req.MaxTokens != 1<<31-1 || req.Seed == nil || *req.Seed != -1<<63 {
		t.Errorf("MaxTokens %d, Seed %v", req.MaxTokens, req.Seed)
	}
	req, err = DecodeChatRequest([]byte(`{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":10,"max_completion_tokens":20}`))
	if err != nil {
		t.Fatal(err)
	}
	if raw, ok := req.NativeField(llm.DialectOpenAI, "max_completion_tokens"); req.MaxTokens != 20 || !ok || string(raw) != "20" {
		t.Errorf("MaxTokens %d, native %s %v", req.MaxTokens, raw, ok)
	}
}
