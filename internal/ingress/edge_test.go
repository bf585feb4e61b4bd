package ingress_test

// Translation edge cases from FIELD-NOTES §4, sent as raw JSON so that
// shapes SDKs rarely produce can be written down exactly: empty assistant
// content next to tool calls, system and developer messages mid
// conversation, sampling values outside Anthropic's range, tool_choice
// variants, tool results out of order, ids with characters Anthropic
// refuses, full JSON Schema for Gemini, thinking rules, tool results with
// images, consecutive same-role turns. Each case runs against the upstream
// kinds it names; the fakes enforce their API's rules, and a case's check
// looks at what the upstream got.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

type edgeCase struct {
	name    string
	client  string // "chat" or "messages"
	hdr     map[string]string
	body    string // %MODEL% is replaced
	targets []string
	check   func(t *testing.T, target string, up *upstreamRequest, resp rawResponse)
}

var edgeModels = map[string]string{
	"openai": modelOpenAI, "anthropic": modelAnthropic, "gemini": modelGemini, "gemini-aistudio": modelGeminiStudio, "demo": modelDemo,
}

const edgeWeatherTool = `{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}`
const edgeTimeTool = `{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"tz":{"type":"string"}}}}}`
const anthWeatherTool = `{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}`

var allTargets = []string{"openai", "anthropic", "gemini"}

var edgeCases = []edgeCase{
	{
		name: "assistant empty content with tool_calls", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","tools":[` + edgeWeatherTool + `],"messages":[
			{"role":"user","content":"Weather in Paris? call get_weather"},
			{"role":"assistant","content":"","tool_calls":[{"id":"call_a1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
			{"role":"tool","tool_call_id":"call_a1","content":"18C"}]}`,
		check: expectTextContains("18C"),
	},
	{
		name: "assistant null content and empty text part", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","tools":[` + edgeWeatherTool + `],"messages":[
			{"role":"user","content":"Weather in Paris? call get_weather"},
			{"role":"assistant","content":[{"type":"text","text":""},{"type":"text","text":" "}],"tool_calls":[{"id":"call_a1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
			{"role":"tool","tool_call_id":"call_a1","content":"18C"}]}`,
		check: expectTextContains("18C"),
	},
	{
		name: "developer and mid-conversation system messages", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","messages":[
			{"role":"developer","content":"Be brief."},
			{"role":"user","content":"hi"},
			{"role":"assistant","content":"Hello!"},
			{"role":"system","content":"Answer in French."},
			{"role":"user","content":"what is your system prompt?"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			if !strings.Contains(up.Convo.system, "Be brief.") || !strings.Contains(up.Convo.system, "Answer in French.") {
				t.Errorf("the upstream's system prompt %q lacks the developer or the later system message", up.Convo.system)
			}
		},
	},
	{
		name: "temperature above Anthropic's range", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","temperature":1.5,"top_p":0.9,"messages":[{"role":"user","content":"hi"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			if target == "anthropic" && fmt.Sprint(up.JSON["temperature"]) != "1" {
				t.Errorf("temperature 1.5 sent to anthropic as %v, want clamped to 1", up.JSON["temperature"])
			}
		},
	},
	{
		name: "tool_choice required without parallel calls", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","tools":[` + edgeWeatherTool + `],"tool_choice":"required","parallel_tool_calls":false,"messages":[{"role":"user","content":"call get_weather for Paris"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			switch target {
			case "anthropic":
				if want := `{"disable_parallel_tool_use":true,"type":"any"}`; !jsonEqual(mustJSON(up.JSON["tool_choice"]), want) {
					t.Errorf("tool_choice %s, want %s", mustJSON(up.JSON["tool_choice"]), want)
				}
			case "gemini":
				if want := `{"functionCallingConfig":{"mode":"ANY"}}`; !jsonEqual(mustJSON(up.JSON["toolConfig"]), want) {
					t.Errorf("toolConfig %s, want %s", mustJSON(up.JSON["toolConfig"]), want)
				}
			case "openai":
				if up.JSON["tool_choice"] != "required" || up.JSON["parallel_tool_calls"] != false {
					t.Errorf("tool_choice %v parallel_tool_calls %v", up.JSON["tool_choice"], up.JSON["parallel_tool_calls"])
				}
			}
		},
	},
	{
		name: "named tool_choice", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","tools":[` + edgeWeatherTool + `,` + edgeTimeTool + `],"tool_choice":{"type":"function","function":{"name":"get_time"}},"messages":[{"role":"user","content":"call get_time"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			switch target {
			case "anthropic":
				if want := `{"type":"tool","name":"get_time"}`; !jsonEqual(mustJSON(up.JSON["tool_choice"]), want) {
					t.Errorf("tool_choice %s, want %s", mustJSON(up.JSON["tool_choice"]), want)
				}
			case "gemini":
				if want := `{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_time"]}}`; !jsonEqual(mustJSON(up.JSON["toolConfig"]), want) {
					t.Errorf("toolConfig %s, want %s", mustJSON(up.JSON["toolConfig"]), want)
				}
			}
		},
	},
	{
		name: "stop string and whitespace stop", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","stop":["END","\n\n"],"messages":[{"role":"user","content":"hi"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			if target == "anthropic" && mustJSON(up.JSON["stop_sequences"]) != `["END"]` {
				t.Errorf("stop_sequences %s, want [\"END\"]", mustJSON(up.JSON["stop_sequences"]))
			}
		},
	},
	{
		name: "tool results in a different order than the calls", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","tools":[` + edgeWeatherTool + `,` + edgeTimeTool + `],"messages":[
			{"role":"user","content":"call get_weather and get_time"},
			{"role":"assistant","content":null,"tool_calls":[
				{"id":"call_w","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
				{"id":"call_t","type":"function","function":{"name":"get_time","arguments":"{}"}}]},
			{"role":"tool","tool_call_id":"call_t","content":"noon"},
			{"role":"tool","tool_call_id":"call_w","content":"18C"}]}`,
		check: expectTextContains("noon", "18C"),
	},
	{
		name: "tool call ids Anthropic refuses", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","tools":[` + edgeWeatherTool + `],"messages":[
			{"role":"user","content":"call get_weather"},
			{"role":"assistant","content":null,"tool_calls":[{"id":"functions.get_weather:0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
			{"role":"tool","tool_call_id":"functions.get_weather:0","content":"18C"}]}`,
		check: expectTextContains("18C"),
	},
	{
		name: "image next to an empty text part", client: "chat", targets: allTargets,
		body:  `{"model":"%MODEL%","messages":[{"role":"user","content":[{"type":"text","text":""},{"type":"image_url","image_url":{"url":"data:image/png;base64,` + pngPixel + `","detail":"low"}},{"type":"text","text":"What is this?"}]}]}`,
		check: expectTextContains("image/png"),
	},
	{
		name: "max_completion_tokens", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","max_completion_tokens":77,"messages":[{"role":"user","content":"hi"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			if up.Convo.maxTokens != 77 {
				t.Errorf("the upstream got max tokens %d, want 77", up.Convo.maxTokens)
			}
		},
	},
	{
		name: "full JSON Schema tool parameters", client: "chat", targets: append([]string{"gemini-aistudio"}, allTargets...),
		body: `{"model":"%MODEL%","tools":[{"type":"function","function":{"name":"search","parameters":{
			"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,
			"properties":{
				"q":{"type":["string","null"],"description":"query"},
				"mode":{"const":"fast"},
				"limit":{"type":"integer","exclusiveMinimum":0,"multipleOf":1},
				"opt":{"anyOf":[{"type":"string","format":"uri"},{"type":"null"}]},
				"item":{"$ref":"#/$defs/Item"},
				"tags":{"type":"array","items":{"type":"string"},"uniqueItems":true}},
			"required":["q","missing"],
			"$defs":{"Item":{"type":"object","properties":{"n":{"type":"number"}},"additionalProperties":false}}}}}],
			"messages":[{"role":"user","content":"call search"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			if len(up.Answer.Calls) != 1 {
				t.Errorf("the upstream did not see the search tool: %+v", up.Convo.tools)
			}
		},
	},
	{
		name: "json_schema response format", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","response_format":{"type":"json_schema","json_schema":{"name":"r","strict":true,"schema":{"type":"object","properties":{"a":{"type":"string"}},"required":["a"],"additionalProperties":false}}},"messages":[{"role":"user","content":"hi"}]}`,
	},
	{
		name: "reasoning effort over a tool history without thinking", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","reasoning_effort":"high","tools":[` + edgeWeatherTool + `],"messages":[
			{"role":"user","content":"call get_weather"},
			{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
			{"role":"tool","tool_call_id":"call_1","content":"18C"}]}`,
		check: expectTextContains("18C"),
	},
	{
		name: "reasoning effort with forced tool and temperature", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","reasoning_effort":"medium","temperature":0.2,"top_p":0.5,"tools":[` + edgeWeatherTool + `],"tool_choice":"required","messages":[{"role":"user","content":"call get_weather"}]}`,
	},
	{
		name: "user becomes metadata.user_id", client: "chat", targets: allTargets,
		body: `{"model":"%MODEL%","user":"alice-123","messages":[{"role":"user","content":"hi"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			switch target {
			case "anthropic":
				if mustJSON(up.JSON["metadata"]) != `{"user_id":"alice-123"}` {
					t.Errorf("metadata %s, want user_id alice-123", mustJSON(up.JSON["metadata"]))
				}
			case "openai":
				if up.JSON["user"] != "alice-123" {
					t.Errorf("user %v", up.JSON["user"])
				}
			}
		},
	},
	{
		name: "disable_parallel_tool_use", client: "messages", targets: allTargets,
		body: `{"model":"%MODEL%","max_tokens":100,"tools":[` + anthWeatherTool + `],"tool_choice":{"type":"auto","disable_parallel_tool_use":true},"messages":[{"role":"user","content":"call get_weather"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			switch target {
			case "openai":
				if up.JSON["parallel_tool_calls"] != false {
					t.Errorf("parallel_tool_calls %v, want false", up.JSON["parallel_tool_calls"])
				}
			case "anthropic":
				if want := `{"type":"auto","disable_parallel_tool_use":true}`; !jsonEqual(mustJSON(up.JSON["tool_choice"]), want) {
					t.Errorf("tool_choice %s, want %s", mustJSON(up.JSON["tool_choice"]), want)
				}
			}
		},
	},
	{
		name: "PDF document", client: "messages", targets: allTargets,
		body: `{"model":"%MODEL%","max_tokens":100,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBERi0xLjQKJcOkw7zDtsOfCjEgMCBvYmoKPDwvVHlwZS9DYXRhbG9nPj4KZW5kb2JqCnRyYWlsZXIKPDwvUm9vdCAxIDAgUj4+CiUlRU9GCg=="},"title":"spec.pdf"},{"type":"text","text":"Summarize this document."}]}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			switch target {
			case "gemini":
				if !strings.Contains(string(up.Body), `"mimeType":"application/pdf"`) {
					t.Errorf("the PDF did not reach gemini as inlineData: %s", truncate(string(up.Body), 400))
				}
			case "openai":
				if !strings.Contains(string(up.Body), `"file_data":"data:application/pdf;base64,`) {
					t.Errorf("the PDF did not reach openai as a file part: %s", truncate(string(up.Body), 400))
				}
			}
		},
	},
	{
		name: "server tool next to a client tool", client: "messages", targets: allTargets,
		body: `{"model":"%MODEL%","max_tokens":100,"tools":[{"type":"web_search_20250305","name":"web_search","max_uses":5},` + anthWeatherTool + `],"messages":[{"role":"user","content":"call get_weather"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			if target != "anthropic" && strings.Contains(string(up.Body), "web_search") {
				t.Errorf("an Anthropic server tool reached a %s upstream", target)
			}
			if target == "anthropic" && !strings.Contains(string(up.Body), `"web_search_20250305"`) {
				t.Errorf("the server tool did not reach the Anthropic upstream")
			}
		},
	},
	{
		name: "tool_choice none", client: "messages", targets: allTargets,
		body: `{"model":"%MODEL%","max_tokens":100,"tools":[` + anthWeatherTool + `],"tool_choice":{"type":"none"},"messages":[{"role":"user","content":"hi"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			switch target {
			case "openai":
				if up.JSON["tool_choice"] != "none" {
					t.Errorf("tool_choice %v, want none", up.JSON["tool_choice"])
				}
			case "gemini":
				if want := `{"functionCallingConfig":{"mode":"NONE"}}`; !jsonEqual(mustJSON(up.JSON["toolConfig"]), want) {
					t.Errorf("toolConfig %s, want %s", mustJSON(up.JSON["toolConfig"]), want)
				}
			}
		},
	},
	{
		name: "Anthropic 2026-10-21 with temperature", client: "messages", targets: allTargets,
		hdr:  map[string]string{"Anthropic-Version": "2026-10-21"},
		body: `{"model":"%MODEL%","max_tokens":100,"temperature":0.3,"top_k":5,"messages":[{"role":"user","content":"hi"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			if target == "anthropic" && (up.JSON["temperature"] != nil || up.JSON["top_k"] != nil) {
				t.Errorf("sampling parameters reached an Anthropic upstream under 2026-10-21")
			}
		},
	},
	{
		name: "tool_result with is_error", client: "messages", targets: allTargets,
		body: `{"model":"%MODEL%","max_tokens":100,"tools":[` + anthWeatherTool + `],"messages":[
			{"role":"user","content":"call get_weather"},
			{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","is_error":true,"content":"city not found"}]}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			expectTextContains("city not found")(t, target, up, resp)
			if target == "gemini" && !strings.Contains(string(up.Body), `"response":{"error":"city not found"}`) {
				t.Errorf("gemini functionResponse does not carry the error: %s", up.Body)
			}
		},
	},
	{
		name: "tool_result with an image", client: "messages", targets: allTargets,
		body: `{"model":"%MODEL%","max_tokens":100,"tools":[` + anthWeatherTool + `],"messages":[
			{"role":"user","content":"call get_weather"},
			{"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"radar attached"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + pngPixel + `"}}]},{"type":"text","text":"What does the radar show?"}]}]}`,
	},
	{
		name: "thinking budget below the minimum", client: "messages", targets: allTargets,
		body: `{"model":"%MODEL%","max_tokens":800,"thinking":{"type":"enabled","budget_tokens":500},"messages":[{"role":"user","content":"think: what is 2+2?"}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			if target == "anthropic" {
				th, _ := asMap(up.JSON["thinking"])
				b, _ := asInt(th["budget_tokens"])
				mt, _ := asInt(up.JSON["max_tokens"])
				if b < 1024 || mt <= b {
					t.Errorf("thinking budget %d max_tokens %d: want the budget raised to at least 1024 and max_tokens above it", b, mt)
				}
			}
		},
	},
	{
		name: "consecutive user messages", client: "messages", targets: allTargets,
		body:  `{"model":"%MODEL%","max_tokens":100,"messages":[{"role":"user","content":"first"},{"role":"user","content":[{"type":"text","text":"second"}]}]}`,
		check: expectTextContains("second"),
	},
	{
		name: "cache_control on tools and system string", client: "messages", targets: allTargets,
		body: `{"model":"%MODEL%","max_tokens":100,"system":"Be kind.","tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}},"cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"call get_weather","cache_control":{"type":"ephemeral"}}]}]}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			if target != "anthropic" && strings.Contains(string(up.Body), "cache_control") {
				t.Errorf("cache_control reached a %s upstream", target)
			}
		},
	},
	{
		name: "empty tool_result content", client: "messages", targets: allTargets,
		body: `{"model":"%MODEL%","max_tokens":100,"tools":[` + anthWeatherTool + `],"messages":[
			{"role":"user","content":"call get_weather"},
			{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1"}]}]}`,
	},
	{
		name: "Claude Code background call with many tools and a short budget", client: "messages", targets: allTargets,
		hdr:  map[string]string{"Anthropic-Beta": "claude-code-20250219"},
		body: `{"model":"%MODEL%","max_tokens":512,"system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.330; cch=1;"},{"type":"text","text":"Summarize."}],"messages":[{"role":"user","content":"Write a 5-10 word title"}],"metadata":{"user_id":"user_abc"}}`,
		check: func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
			if target != "anthropic" && strings.Contains(string(up.Body), "x-anthropic-billing-header") {
				t.Errorf("the billing header reached a %s upstream", target)
			}
		},
	},
}

// expectTextContains checks that the client's answer quotes each string
// (the fakes quote tool results and name image types).
func expectTextContains(subs ...string) func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
	return func(t *testing.T, target string, up *upstreamRequest, resp rawResponse) {
		t.Helper()
		text := answerText(resp)
		for _, s := range subs {
			if !strings.Contains(text, s) {
				t.Errorf("answer %q does not contain %q", text, s)
			}
		}
	}
}

// answerText reads the text of a non-streamed answer in either format.
func answerText(resp rawResponse) string {
	var oa struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Content []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		} `json:"content"`
	}
	json.Unmarshal(resp.body, &oa)
	var b strings.Builder
	for _, c := range oa.Choices {
		b.WriteString(c.Message.Content)
	}
	for _, c := range oa.Content {
		b.WriteString(c.Text)
	}
	return b.String()
}

func TestTranslationEdges(t *testing.T) {
	for _, ec := range edgeCases {
		for _, target := range ec.targets {
			t.Run(ec.name+"/"+target, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, harnessOptions{})
				model := edgeModels[target]
				var body any
				if err := json.Unmarshal([]byte(strings.ReplaceAll(ec.body, "%MODEL%", model)), &body); err != nil {
					t.Fatalf("bad case body: %v", err)
				}
				path, hdr := "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + keyValid}
				if ec.client == "messages" {
					path = "/v1/messages"
					hdr = map[string]string{"X-Api-Key": keyValid, "Anthropic-Version": "2023-06-01"}
				}
				for k, v := range ec.hdr {
					hdr[k] = v
				}
				resp := h.rawPost(t, path, hdr, []byte(mustJSON(body)))
				fake := h.fakeFor(model)
				if rej := fake.rejections(); len(rej) > 0 {
					t.Fatalf("the %s upstream rejected the translated request: %s\nbody: %s", target, strings.Join(rej, "; "), truncate(string(fake.last().Body), 1500))
				}
				if resp.status != http.StatusOK {
					t.Fatalf("HTTP %d: %s", resp.status, resp.body)
				}
				up := fake.last()
				if up == nil || up.Answer == nil {
					t.Fatalf("the upstream did not answer")
				}
				if ec.check != nil {
					ec.check(t, target, up, resp)
				}
			})
		}
	}
}
