package ingress_test

// A fake OpenAI-compatible Chat Completions upstream (OpenAI, OpenRouter,
// DeepSeek-style servers): POST /v1/chat/completions, Bearer auth, the
// request rules of OpenAI's API reference, answers as chat.completion or
// chat.completion.chunk SSE with [DONE]. It accepts the extensions
// OpenAI-compatible servers take (top_k, reasoning, reasoning_content and
// reasoning_details on assistant messages), since xjp sends its generic
// flavor to an upstream on 127.0.0.1.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"encoding/base64"
)

const openAICached = 2 // prompt tokens the fake reports as cached

type fakeOpenAI struct {
	fakeBase
	// userLimit is the longest "user" accepted; 0: no limit.
	userLimit int
}

func newFakeOpenAI(t *testing.T, userLimit int) *fakeOpenAI {
	f := &fakeOpenAI{fakeBase: newFakeBase("openai"), userLimit: userLimit}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOpenAI) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := &upstreamRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	f.add(rec)
	fail := func(status int, typ, code, msg string) {
		rec.Status = status
		w.Header().Set("Content-Type", "application/json")
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		w.WriteHeader(status)
		c := "null"
		if code != "" {
			c = mustJSON(code)
		}
		fmt.Fprintf(w, `{"error":{"message":%s,"type":%q,"param":null,"code":%s}}`, mustJSON(msg), typ, c)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		rec.Reject = "unexpected " + r.Method + " " + r.URL.Path
		fail(http.StatusNotFound, "invalid_request_error", "unknown_url", "Unknown request URL: "+r.Method+" "+r.URL.Path)
		return
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+upstreamKeyOpenAI {
		rec.Reject = "bad authorization " + got
		fail(http.StatusUnauthorized, "invalid_request_error", "invalid_api_key", "Incorrect API key provided.")
		return
	}
	m, err := readJSONBody(body)
	if err != nil {
		rec.Reject = "malformed JSON: " + err.Error()
		fail(http.StatusBadRequest, "invalid_request_error", "", "We could not parse the JSON body of your request.")
		return
	}
	rec.JSON = m
	c, err := parseOpenAIRequest(m, f.userLimit)
	if err != nil {
		rec.Reject = err.Error()
		fail(http.StatusBadRequest, "invalid_request_error", "", err.Error())
		return
	}
	rec.Convo = c
	if m["model"] == "broken/model" {
		fail(http.StatusInternalServerError, "server_error", "", "fake openai upstream: this model is broken")
		return
	}
	a := decide(c, "openai", openAICached)
	rec.Answer = &a
	if a.Fail != 0 {
		types := map[int]string{400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error"}
		typ, ok := types[a.Fail]
		if !ok {
			typ = "server_error"
		}
		fail(a.Fail, typ, fmt.Sprintf("fake_%d", a.Fail), fmt.Sprintf("fake openai upstream failure %d requested by the prompt", a.Fail))
		return
	}
	seq := f.nextSeq()
	for i := range a.Calls {
		a.Calls[i].ID = fmt.Sprintf("call_oai%d_%d", seq, i)
	}
	rec.Status = http.StatusOK
	id := fmt.Sprintf("chatcmpl-fake%d", seq)
	model, _ := asString(m["model"])
	if !c.stream {
		if a.Hang {
			f.hang(r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, openAIResponse(id, model, a))
		return
	}
	includeUsage := false
	if so, ok := asMap(m["stream_options"]); ok {
		includeUsage, _ = so["include_usage"].(bool)
	}
	f.stream(w, r, id, model, a, includeUsage, c.lastUser().text)
}

// openAIFinishOf is the finish_reason OpenAI reports: it does not say
// that a stop sequence matched.
func openAIFinishOf(finish string) string {
	if finish == "stop_sequence" {
		return "stop"
	}
	return finish
}

func openAIUsage(a answer) string {
	return fmt.Sprintf(`{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":{"cached_tokens":%d},"completion_tokens_details":{"reasoning_tokens":%d}}`,
		a.Usage.Input+a.Usage.CacheRead, a.Usage.Output, a.Usage.Input+a.Usage.CacheRead+a.Usage.Output, a.Usage.CacheRead, a.ThoughtTokens)
}

func openAIResponse(id, model string, a answer) string {
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil}
	if a.Text != "" {
		msg["content"] = a.Text
	}
	if a.Thinking != "" {
		msg["reasoning_content"] = a.Thinking
	}
	if len(a.Calls) > 0 {
		var tcs []any
		for _, c := range a.Calls {
			tcs = append(tcs, map[string]any{"id": c.ID, "type": "function", "function": map[string]any{"name": c.Name, "arguments": c.Args}})
		}
		msg["tool_calls"] = tcs
	}
	return fmt.Sprintf(`{"id":%q,"object":"chat.completion","created":%d,"model":%q,"choices":[{"index":0,"message":%s,"logprobs":null,"finish_reason":%q}],"usage":%s,"system_fingerprint":"fp_fake"}`,
		id, time.Now().Unix(), model, mustJSON(msg), openAIFinishOf(a.Finish), openAIUsage(a))
}

func (f *fakeOpenAI) stream(w http.ResponseWriter, r *http.Request, id, model string, a answer, includeUsage bool, lastUser string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	s := newFlusher(w)
	usageNull := ""
	if includeUsage {
		usageNull = `,"usage":null`
	}
	chunk := func(delta, finish string) string {
		fr := "null"
		if finish != "" {
			fr = fmt.Sprintf("%q", finish)
		}
		return fmt.Sprintf(`data: {"id":%q,"object":"chat.completion.chunk","created":%d,"model":%q,"system_fingerprint":"fp_fake","choices":[{"index":0,"delta":%s,"logprobs":null,"finish_reason":%s}]%s}`+"\n\n",
			id, time.Now().Unix(), model, delta, fr, usageNull)
	}
	s.write(": OPENROUTER PROCESSING\n\n")
	errFrame := `data: {"error":{"message":"Provider returned error","code":502,"metadata":{"raw":"upstream overloaded","provider_name":"Fake"}}}` + "\n\n"
	if strings.Contains(lastUser, "errorframe_first") {
		s.write(errFrame) // OpenRouter: an error at the start of a 200 stream
		return
	}
	s.write(chunk(`{"role":"assistant","content":""}`, ""))
	for _, p := range textPieces(a.Thinking) {
		s.write(chunk(fmt.Sprintf(`{"reasoning_content":%s}`, mustJSON(p)), ""))
	}
	pieces := textPieces(a.Text)
	lastText := ""
	if len(a.Calls) > 0 && len(pieces) > 0 {
		// the last text piece travels with the first tool call delta
		pieces, lastText = pieces[:len(pieces)-1], pieces[len(pieces)-1]
	}
	for i, p := range pieces {
		if a.Cut && i == 3 {
			panic(http.ErrAbortHandler) // the connection drops mid-stream
		}
		if a.Hang && i == 2 {
			f.hang(r)
			return
		}
		if i == 3 && strings.Contains(lastUser, "errorframe_mid") {
			s.write(errFrame)
			return
		}
		s.write(chunk(fmt.Sprintf(`{"content":%s}`, mustJSON(p)), ""))
	}
	for i, c := range a.Calls {
		// the first delta of a call: index, id, type and name; an event
		// split across two writes
		content := `"content":null,` // as OpenAI writes a tool call's first delta
		if i == 0 && lastText != "" {
			content = fmt.Sprintf(`"content":%s,`, mustJSON(lastText))
		}
		s.split(chunk(fmt.Sprintf(`{%s"tool_calls":[{"index":%d,"id":%q,"type":"function","function":{"name":%q,"arguments":""}}]}`, content, i, c.ID, c.Name), ""))
		if c.Args == "{}" && strings.Contains(lastUser, "emptyargs") {
			continue // OpenRouter/Copilot style: no argument fragment at all
		}
		for _, frag := range argPieces(c.Args, 4) {
			s.write(chunk(fmt.Sprintf(`{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}`, i, mustJSON(frag)), ""))
		}
	}
	s.write(chunk(`{}`, openAIFinishOf(a.Finish)))
	if includeUsage {
		s.write(fmt.Sprintf(`data: {"id":%q,"object":"chat.completion.chunk","created":%d,"model":%q,"choices":[],"usage":%s}`+"\n\n",
			id, time.Now().Unix(), model, openAIUsage(a)))
	}
	s.write("data: [DONE]\n\n")
}

var openAIToolName = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// parseOpenAIRequest validates a Chat Completions body against OpenAI's
// rules and reads the conversation.
func parseOpenAIRequest(m map[string]any, userLimit int) (*convo, error) {
	if bad := unknownKeys(m, "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens",
		"temperature", "top_p", "n", "stop", "seed", "user", "tools", "tool_choice", "parallel_tool_calls",
		"response_format", "reasoning_effort", "frequency_penalty", "presence_penalty", "logprobs", "top_logprobs",
		"logit_bias", "metadata", "store", "modalities", "audio", "prediction", "service_tier", "safety_identifier",
		"prompt_cache_key", "verbosity", "web_search_options",
		// OpenRouter / compatible-server extensions
		"top_k", "reasoning", "provider", "models", "transforms", "usage"); len(bad) > 0 {
		return nil, fmt.Errorf("Unrecognized request argument supplied: %s", strings.Join(bad, ", "))
	}
	c := &convo{}
	if s, ok := asString(m["model"]); !ok || s == "" {
		return nil, fmt.Errorf("you must provide a model parameter")
	}
	stream, _ := m["stream"].(bool)
	c.stream = stream
	if _, ok := m["stream_options"]; ok && !stream {
		return nil, fmt.Errorf("The 'stream_options' parameter is only allowed when 'stream' is enabled.")
	}
	_, hasMax := m["max_tokens"]
	_, hasMaxC := m["max_completion_tokens"]
	if hasMax && hasMaxC {
		return nil, fmt.Errorf("max_tokens and max_completion_tokens cannot both be set")
	}
	for _, k := range []string{"max_tokens", "max_completion_tokens"} {
		if v, ok := m[k]; ok {
			n, ok := asInt(v)
			if !ok || n < 1 {
				return nil, fmt.Errorf("Invalid '%s': integer below minimum value. Expected a value >= 1", k)
			}
			c.maxTokens = n
		}
	}
	if v, ok := m["user"]; ok {
		// Not in OpenAI's reference, but enforced: OpenRouter refuses a user
		// longer than 128 characters (ujisati/claude-code-provider-proxy PR
		// #11: Claude Code's metadata.user_id is longer) and OpenAI one
		// longer than 64 (maximhq/bifrost PR #1000). The fake applies the
		// more lenient of the two.
		if s, _ := asString(v); userLimit > 0 && len(s) > userLimit {
			return nil, fmt.Errorf("Invalid 'user': string too long. Expected a string with maximum length %d, but got a string with length %d instead.", userLimit, len(s))
		}
	}
	if v, ok := m["n"]; ok {
		if n, ok := asInt(v); !ok || n != 1 {
			return nil, fmt.Errorf("n must be 1")
		}
	}
	if v, ok := m["stop"]; ok {
		if l, isList := asList(v); isList && len(l) > 4 {
			return nil, fmt.Errorf("Invalid 'stop': array too long. Expected an array with maximum length 4")
		}
		switch sv := v.(type) {
		case string:
			c.stops = []string{sv}
		case []any:
			for _, x := range sv {
				s, _ := asString(x)
				c.stops = append(c.stops, s)
			}
		}
	}
	if v, ok := m["reasoning_effort"]; ok {
		if s, _ := asString(v); s != "none" {
			c.think = true
		}
	}
	if rs, ok := asMap(m["reasoning"]); ok {
		if rs["enabled"] == true || rs["max_tokens"] != nil || rs["effort"] != nil {
			c.think = true
		}
	}

	// tools
	names := map[string]bool{}
	if v, ok := m["tools"]; ok {
		l, ok := asList(v)
		if !ok {
			return nil, fmt.Errorf("Invalid 'tools': expected an array")
		}
		for i, t := range l {
			tm, ok := asMap(t)
			if !ok || tm["type"] != "function" {
				return nil, fmt.Errorf("Invalid 'tools[%d]': expected an object with type 'function'", i)
			}
			if bad := unknownKeys(tm, "type", "function"); len(bad) > 0 {
				return nil, fmt.Errorf("Invalid 'tools[%d]': unknown parameter %s", i, bad[0])
			}
			fn, ok := asMap(tm["function"])
			if !ok {
				return nil, fmt.Errorf("Missing required parameter: 'tools[%d].function'", i)
			}
			if bad := unknownKeys(fn, "name", "description", "parameters", "strict"); len(bad) > 0 {
				return nil, fmt.Errorf("Invalid 'tools[%d].function': unknown parameter %s", i, bad[0])
			}
			name, _ := asString(fn["name"])
			if !openAIToolName.MatchString(name) {
				return nil, fmt.Errorf("Invalid 'tools[%d].function.name': string does not match pattern", i)
			}
			if p, ok := fn["parameters"]; ok {
				if _, ok := asMap(p); !ok {
					return nil, fmt.Errorf("Invalid 'tools[%d].function.parameters': expected an object", i)
				}
			}
			names[name] = true
			c.tools = append(c.tools, name)
		}
	}
	if v, ok := m["tool_choice"]; ok {
		switch tc := v.(type) {
		case string:
			if tc != "none" && tc != "auto" && tc != "required" {
				return nil, fmt.Errorf("Invalid 'tool_choice': %q", tc)
			}
		case map[string]any:
			fn, _ := asMap(tc["function"])
			name, _ := asString(fn["name"])
			if tc["type"] != "function" || !names[name] {
				return nil, fmt.Errorf("Invalid 'tool_choice': must name one of the tools")
			}
		default:
			return nil, fmt.Errorf("Invalid 'tool_choice'")
		}
		if len(c.tools) == 0 {
			return nil, fmt.Errorf("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.")
		}
	}
	if _, ok := m["parallel_tool_calls"]; ok && len(c.tools) == 0 {
		return nil, fmt.Errorf("Invalid value for 'parallel_tool_calls': 'parallel_tool_calls' is only allowed when 'tools' are specified.")
	}

	// messages
	msgs, ok := asList(m["messages"])
	if !ok || len(msgs) == 0 {
		return nil, fmt.Errorf("Invalid 'messages': empty array. Expected an array with minimum length 1")
	}
	var systems []string
	var pending []string // tool_call ids of the last assistant turn still unanswered
	answered := map[string]bool{}
	for i, mv := range msgs {
		msg, ok := asMap(mv)
		if !ok {
			return nil, fmt.Errorf("Invalid 'messages[%d]': expected an object", i)
		}
		role, _ := asString(msg["role"])
		if role != "tool" && len(pending) > 0 {
			return nil, fmt.Errorf("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: %s", strings.Join(pending, ", "))
		}
		switch role {
		case "system", "developer":
			if bad := unknownKeys(msg, "role", "content", "name"); len(bad) > 0 {
				return nil, fmt.Errorf("messages[%d]: Unrecognized parameter %s", i, bad[0])
			}
			text, imgs, err := openAIContent(fmt.Sprintf("messages[%d]", i), msg["content"], false)
			if err != nil {
				return nil, err
			}
			if len(imgs) > 0 || text == "" {
				return nil, fmt.Errorf("messages[%d]: a %s message needs non-empty text content", i, role)
			}
			systems = append(systems, text)
		case "user":
			if bad := unknownKeys(msg, "role", "content", "name"); len(bad) > 0 {
				return nil, fmt.Errorf("messages[%d]: Unrecognized parameter %s", i, bad[0])
			}
			text, imgs, err := openAIContent(fmt.Sprintf("messages[%d]", i), msg["content"], true)
			if err != nil {
				return nil, err
			}
			if n := len(c.turns); n > 0 && c.turns[n-1].role == "user" {
				c.turns[n-1].text = strings.TrimSpace(c.turns[n-1].text + "\n" + text)
				c.turns[n-1].images = append(c.turns[n-1].images, imgs...)
			} else {
				c.turns = append(c.turns, turn{role: "user", text: text, images: imgs})
			}
		case "assistant":
			if bad := unknownKeys(msg, "role", "content", "name", "tool_calls", "refusal", "audio", "function_call",
				"reasoning_content", "reasoning_details"); len(bad) > 0 {
				return nil, fmt.Errorf("messages[%d]: Unrecognized parameter %s", i, bad[0])
			}
			t := turn{role: "assistant"}
			if tcs, ok := msg["tool_calls"]; ok {
				l, ok := asList(tcs)
				if !ok || len(l) == 0 {
					return nil, fmt.Errorf("Invalid 'messages[%d].tool_calls': empty array", i)
				}
				for j, tcv := range l {
					tc, _ := asMap(tcv)
					id, _ := asString(tc["id"])
					fn, _ := asMap(tc["function"])
					name, _ := asString(fn["name"])
					args, isStr := asString(fn["arguments"])
					if id == "" || tc["type"] != "function" || name == "" || !isStr {
						return nil, fmt.Errorf("Invalid 'messages[%d].tool_calls[%d]': needs id, type 'function', function.name and function.arguments", i, j)
					}
					if !validJSONObject(args) {
						return nil, fmt.Errorf("Invalid 'messages[%d].tool_calls[%d].function.arguments': not a JSON object: %s", i, j, args)
					}
					t.calls = append(t.calls, fakeCall{ID: id, Name: name, Args: args})
					pending = append(pending, id)
				}
			}
			content, has := msg["content"]
			if (!has || content == nil) && len(t.calls) == 0 {
				return nil, fmt.Errorf("Invalid 'messages[%d].content': content is required when tool_calls is absent", i)
			}
			if content != nil {
				text, imgs, err := openAIContent(fmt.Sprintf("messages[%d]", i), content, false)
				if err != nil {
					return nil, err
				}
				if len(imgs) > 0 {
					return nil, fmt.Errorf("messages[%d]: assistant messages cannot carry images", i)
				}
				t.text = text
			}
			c.turns = append(c.turns, t)
		case "tool":
			if bad := unknownKeys(msg, "role", "content", "tool_call_id"); len(bad) > 0 {
				return nil, fmt.Errorf("messages[%d]: Unrecognized parameter %s", i, bad[0])
			}
			id, _ := asString(msg["tool_call_id"])
			k := -1
			for j, p := range pending {
				if p == id {
					k = j
				}
			}
			if k < 0 {
				if answered[id] {
					return nil, fmt.Errorf("messages[%d]: duplicate tool message for tool_call_id %s", i, id)
				}
				return nil, fmt.Errorf("Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls' (tool_call_id %q)", id)
			}
			pending = append(pending[:k], pending[k+1:]...)
			answered[id] = true
			text, imgs, err := openAIContent(fmt.Sprintf("messages[%d]", i), msg["content"], false)
			if err != nil {
				return nil, err
			}
			if len(imgs) > 0 {
				return nil, fmt.Errorf("messages[%d]: tool messages take text only", i)
			}
			r := fakeResult{ID: id, Content: text}
			if n := len(c.turns); n > 0 && c.turns[n-1].role == "user" && len(c.turns[n-1].results) > 0 {
				c.turns[n-1].results = append(c.turns[n-1].results, r)
			} else {
				c.turns = append(c.turns, turn{role: "user", results: []fakeResult{r}})
			}
		default:
			return nil, fmt.Errorf("Invalid value: '%s'. Supported values are: 'system', 'assistant', 'user', 'tool', and 'developer'.", role)
		}
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: %s", strings.Join(pending, ", "))
	}
	c.system = strings.Join(systems, "\n")
	return c, nil
}

// openAIContent reads message content: a string or an array of parts.
func openAIContent(path string, v any, user bool) (text string, images []string, err error) {
	switch c := v.(type) {
	case string:
		return c, nil, nil
	case []any:
		var texts []string
		for j, pv := range c {
			p, _ := asMap(pv)
			switch p["type"] {
			case "text":
				s, ok := asString(p["text"])
				if !ok {
					return "", nil, fmt.Errorf("%s.content[%d].text: expected a string", path, j)
				}
				texts = append(texts, s)
			case "image_url":
				if !user {
					return "", nil, fmt.Errorf("%s.content[%d]: image_url parts are only allowed in user messages", path, j)
				}
				iu, _ := asMap(p["image_url"])
				u, _ := asString(iu["url"])
				switch {
				case strings.HasPrefix(u, "data:"):
					mt, data, ok := splitDataURL(u)
					if !ok || !strings.HasPrefix(mt, "image/") {
						return "", nil, fmt.Errorf("%s.content[%d].image_url.url: invalid data URL", path, j)
					}
					if _, err := base64.StdEncoding.DecodeString(data); err != nil {
						return "", nil, fmt.Errorf("%s.content[%d].image_url.url: invalid base64 image data", path, j)
					}
					images = append(images, mt)
				case strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://"):
					images = append(images, "url:"+u)
				default:
					return "", nil, fmt.Errorf("%s.content[%d].image_url.url: expected a URL or a base64 data URL", path, j)
				}
			case "input_audio", "file":
				if !user {
					return "", nil, fmt.Errorf("%s.content[%d]: %s parts are only allowed in user messages", path, j, p["type"])
				}
			default:
				return "", nil, fmt.Errorf("%s.content[%d].type: invalid value %v", path, j, p["type"])
			}
		}
		return strings.Join(texts, "\n"), images, nil
	}
	return "", nil, fmt.Errorf("%s.content: expected a string or an array of content parts", path)
}

func splitDataURL(u string) (mediaType, data string, ok bool) {
	rest, ok := strings.CutPrefix(u, "data:")
	if !ok {
		return "", "", false
	}
	meta, data, ok := strings.Cut(rest, ",")
	if !ok {
		return "", "", false
	}
	mediaType, ok = strings.CutSuffix(meta, ";base64")
	return mediaType, data, ok
}

func validJSONObject(s string) bool {
	m, err := readJSONBody([]byte(s))
	return err == nil && m != nil
}
