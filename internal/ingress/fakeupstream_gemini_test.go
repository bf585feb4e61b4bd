package ingress_test

// A fake Gemini upstream in the Vertex AI express-mode shape
// (/v1/publishers/google/models/{model}:generateContent and
// :streamGenerateContent?alt=sse, key in x-goog-api-key) that also answers
// the AI Studio paths (/v1beta/models/{model}:…). It applies the Gemini
// API's request rules: roles user/model only, alternating, no empty text
// parts, one data field per part, functionResponse parts in the user turn
// right after the functionCall turn with the same count and order,
// response an object, function parameters in Google's Schema subset (no
// $schema, const, exclusiveMinimum…; no additionalProperties on AI
// Studio). Streams are alt=sse data: lines framed with \r\n\r\n, function
// calls whole, usageMetadata complete on the last chunk only.

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

const geminiCached = 3 // prompt tokens the fake reports as cached content

type fakeGemini struct {
	fakeBase
	sigs map[string]bool // thought signatures issued (Gemini 3)
}

// geminiSkipSignatures are the values Google documents for function calls
// whose signature is unknown (history from another model).
var geminiSkipSignatures = []string{"skip_thought_signature_validator", "context_engineering_is_the_way_to_go"}

func newFakeGemini(t *testing.T) *fakeGemini {
	f := &fakeGemini{fakeBase: newFakeBase("gemini"), sigs: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

var geminiStatus = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 529: "UNAVAILABLE",
}

func (f *fakeGemini) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := &upstreamRequest{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(), Body: body}
	f.add(rec)
	fail := func(status int, msg, details string) {
		rec.Status = status
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.WriteHeader(status)
		st, ok := geminiStatus[status]
		if !ok {
			st = "UNKNOWN"
		}
		d := ""
		if details != "" {
			d = `,"details":[` + details + `]`
		}
		fmt.Fprintf(w, `{"error":{"code":%d,"message":%s,"status":%q%s}}`, status, mustJSON(msg), st, d)
	}
	var model, method string
	var aiStudio bool
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/v1/publishers/google/models/"):
		model, method, _ = strings.Cut(strings.TrimPrefix(p, "/v1/publishers/google/models/"), ":")
	case strings.HasPrefix(p, "/v1beta/models/"):
		model, method, _ = strings.Cut(strings.TrimPrefix(p, "/v1beta/models/"), ":")
		aiStudio = true
	}
	if r.Method != http.MethodPost || model == "" || (method != "generateContent" && method != "streamGenerateContent") {
		rec.Reject = "unexpected " + r.Method + " " + r.URL.Path
		fail(http.StatusNotFound, "The requested URL was not found on this server.", "")
		return
	}
	stream := method == "streamGenerateContent"
	if stream && r.URL.Query().Get("alt") != "sse" {
		rec.Reject = "streamGenerateContent without alt=sse"
		fail(http.StatusBadRequest, "the fake only streams with alt=sse", "")
		return
	}
	switch key := r.Header.Get("X-Goog-Api-Key"); {
	case key == "":
		rec.Reject = "missing api key"
		fail(http.StatusForbidden, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", "")
		return
	case key != upstreamKeyGemini:
		rec.Reject = "bad api key"
		fail(http.StatusBadRequest, "API key not valid. Please pass a valid API key.",
			`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}`)
		return
	}
	m, err := readJSONBody(body)
	if err != nil {
		rec.Reject = "malformed JSON: " + err.Error()
		fail(http.StatusBadRequest, "Invalid JSON payload received. "+err.Error(), "")
		return
	}
	rec.JSON = m
	c, err := parseGeminiRequest(m, aiStudio)
	if err == nil && strings.HasPrefix(model, "gemini-3") {
		err = f.checkSignatures(m)
	}
	if err != nil {
		rec.Reject = err.Error()
		fail(http.StatusBadRequest, err.Error(), "")
		return
	}
	c.stream = stream
	rec.Convo = c
	if model == "broken-gemini" {
		fail(http.StatusInternalServerError, "fake gemini upstream: this model is broken", "")
		return
	}
	a := decide(c, "gemini", geminiCached)
	rec.Answer = &a
	if a.Fail != 0 {
		details := ""
		if a.Fail == http.StatusTooManyRequests {
			details = `{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1s"}`
		}
		fail(a.Fail, fmt.Sprintf("fake gemini upstream failure %d requested by the prompt", a.Fail), details)
		return
	}
	seq := f.nextSeq()
	rec.Status = http.StatusOK
	respID := fmt.Sprintf("fakeresp%d", seq)
	if strings.HasPrefix(model, "gemini-3") && len(a.Calls) > 0 {
		// Gemini 3 signs the first function call of a turn.
		a.Signature = base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("gem3-signature-%d\x00\xff", seq)))
		f.mu.Lock()
		f.sigs[a.Signature] = true
		f.mu.Unlock()
		rec.Answer = &a
	}
	if !stream {
		if a.Hang {
			f.hang(r)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		parts := signParts(geminiParts(a.Thinking, a.Text, a.Calls), a.Signature)
		io.WriteString(w, geminiChunk(respID, model, parts, geminiFinish(a.Finish), geminiUsage(a, true)))
		return
	}
	f.stream(w, r, respID, model, a)
}

func geminiFinish(finish string) string {
	switch finish {
	case "length":
		return "MAX_TOKENS"
	case "content_filter":
		return "SAFETY"
	}
	return "STOP"
}

func geminiUsage(a answer, final bool) string {
	prompt := a.Usage.Input + a.Usage.CacheRead
	if !final {
		return fmt.Sprintf(`{"promptTokenCount":%d,"totalTokenCount":%d,"cachedContentTokenCount":%d}`, prompt, prompt, a.Usage.CacheRead)
	}
	cand := a.Usage.Output - a.ThoughtTokens
	u := fmt.Sprintf(`{"promptTokenCount":%d,"candidatesTokenCount":%d,"totalTokenCount":%d,"cachedContentTokenCount":%d`,
		prompt, cand, prompt+a.Usage.Output, a.Usage.CacheRead)
	if a.ThoughtTokens > 0 {
		u += fmt.Sprintf(`,"thoughtsTokenCount":%d`, a.ThoughtTokens)
	}
	return u + `,"trafficType":"ON_DEMAND"}`
}

func geminiParts(thinking, text string, calls []fakeCall) []any {
	var parts []any
	if thinking != "" {
		parts = append(parts, map[string]any{"text": thinking, "thought": true})
	}
	if text != "" {
		parts = append(parts, map[string]any{"text": text})
	}
	for _, c := range calls {
		parts = append(parts, map[string]any{"functionCall": map[string]any{"name": c.Name, "args": rawJSON(c.Args)}})
	}
	return parts
}

// signParts puts sig on the first functionCall part.
func signParts(parts []any, sig string) []any {
	if sig == "" {
		return parts
	}
	for _, p := range parts {
		if pm := p.(map[string]any); pm["functionCall"] != nil {
			pm["thoughtSignature"] = sig
			break
		}
	}
	return parts
}

// checkSignatures applies Gemini 3's rule: the first functionCall part of
// every model turn carries the thoughtSignature the model gave it, or one
// of the documented skip values.
func (f *fakeGemini) checkSignatures(m map[string]any) error {
	for i, cv := range mustList(m["contents"]) {
		content, _ := asMap(cv)
		if content["role"] != "model" {
			continue
		}
		for j, pv := range mustList(content["parts"]) {
			p, _ := asMap(pv)
			if p["functionCall"] == nil {
				continue
			}
			sig, _ := asString(p["thoughtSignature"])
			f.mu.Lock()
			ok := f.sigs[sig]
			f.mu.Unlock()
			if !ok && !slices.Contains(geminiSkipSignatures, sig) {
				return fmt.Errorf("Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. (contents[%d].parts[%d], got %q)", i, j, sig)
			}
			break // only the first call of a turn is checked
		}
	}
	return nil
}

// geminiChunk renders a GenerateContentResponse; finish "" leaves the
// candidate unfinished.
func geminiChunk(respID, model string, parts []any, finish, usage string) string {
	cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
	if finish != "" {
		cand["finishReason"] = finish
	}
	return fmt.Sprintf(`{"candidates":[%s],"usageMetadata":%s,"modelVersion":%q,"createTime":"2026-11-23T10:00:00.000000Z","responseId":%q}`,
		mustJSON(cand), usage, model, respID)
}

func (f *fakeGemini) stream(w http.ResponseWriter, r *http.Request, respID, model string, a answer) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	s := newFlusher(w)
	var chunks [][]any
	if a.Thinking != "" {
		chunks = append(chunks, geminiParts(a.Thinking, "", nil))
	}
	ws := textPieces(a.Text)
	for i := 0; i < len(ws); i += 3 {
		chunks = append(chunks, geminiParts("", strings.Join(ws[i:min(i+3, len(ws))], ""), nil))
	}
	if len(a.Calls) > 0 {
		// whole calls, one chunk, with the last text piece
		if n := len(chunks); n > 0 && a.Thinking == "" || n > 1 {
			chunks[n-1] = append(chunks[n-1], geminiParts("", "", a.Calls)...)
		} else {
			chunks = append(chunks, geminiParts("", "", a.Calls))
		}
	}
	for i, parts := range chunks {
		parts = signParts(parts, a.Signature)
		if a.Cut && i == 2 {
			panic(http.ErrAbortHandler)
		}
		if a.Hang && i == 1 {
			f.hang(r)
			return
		}
		final := i == len(chunks)-1
		finish := ""
		if final {
			finish = geminiFinish(a.Finish)
		}
		ev := "data: " + geminiChunk(respID, model, parts, finish, geminiUsage(a, final)) + "\r\n\r\n"
		if i == 0 {
			s.split(ev)
		} else {
			s.write(ev)
		}
	}
}

// parseGeminiRequest validates a GenerateContentRequest and reads the
// conversation.
func parseGeminiRequest(m map[string]any, aiStudio bool) (*convo, error) {
	allowed := []string{"contents", "systemInstruction", "tools", "toolConfig", "generationConfig", "safetySettings", "cachedContent"}
	if !aiStudio {
		allowed = append(allowed, "labels")
	}
	if bad := unknownKeys(m, allowed...); len(bad) > 0 {
		return nil, fmt.Errorf("Invalid JSON payload received. Unknown name %q: Cannot find field.", bad[0])
	}
	c := &convo{}
	if v, ok := m["systemInstruction"]; ok {
		si, isMap := asMap(v)
		if !isMap {
			return nil, fmt.Errorf("Invalid JSON payload received. Unknown name \"systemInstruction\": Proto field is not repeating, cannot start list.")
		}
		text, _, _, err := geminiPartsOf("systemInstruction", si, "system")
		if err != nil {
			return nil, err
		}
		c.system = text
	}

	names := map[string]bool{}
	if v, ok := m["tools"]; ok {
		l, _ := asList(v)
		for i, tv := range l {
			t, _ := asMap(tv)
			decls, ok := t["functionDeclarations"]
			if !ok {
				continue // a hosted tool
			}
			dl, _ := asList(decls)
			for j, dv := range dl {
				d, _ := asMap(dv)
				path := fmt.Sprintf("tools[%d].function_declarations[%d]", i, j)
				if bad := unknownKeys(d, "name", "description", "parameters", "parametersJsonSchema", "response", "responseJsonSchema", "behavior"); len(bad) > 0 {
					return nil, fmt.Errorf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", bad[0], path)
				}
				name, _ := asString(d["name"])
				if name == "" {
					return nil, fmt.Errorf("%s.name: function name is required", path)
				}
				_, hasP := d["parameters"]
				_, hasJ := d["parametersJsonSchema"]
				if hasP && hasJ {
					return nil, fmt.Errorf("%s: parameters and parametersJsonSchema are mutually exclusive", path)
				}
				if hasP {
					if err := checkGeminiSchema(path+".parameters", d["parameters"], aiStudio); err != nil {
						return nil, err
					}
				}
				if hasJ {
					if js, _ := asMap(d["parametersJsonSchema"]); js != nil && js["$schema"] != nil {
						return nil, fmt.Errorf("%s.parametersJsonSchema: $schema is not supported", path)
					}
				}
				names[name] = true
				c.tools = append(c.tools, name)
			}
		}
	}
	if v, ok := m["toolConfig"]; ok {
		tc, _ := asMap(v)
		fcc, _ := asMap(tc["functionCallingConfig"])
		if mode, ok := fcc["mode"]; ok && !slices.Contains([]any{"AUTO", "ANY", "NONE", "VALIDATED"}, mode) {
			return nil, fmt.Errorf("toolConfig.functionCallingConfig.mode: invalid value %v", mode)
		}
	}
	if v, ok := m["generationConfig"]; ok {
		gc, _ := asMap(v)
		if bad := unknownKeys(gc, "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences",
			"presencePenalty", "frequencyPenalty", "seed", "responseMimeType", "responseSchema", "responseJsonSchema",
			"responseModalities", "thinkingConfig", "mediaResolution", "responseLogprobs", "logprobs", "speechConfig"); len(bad) > 0 {
			return nil, fmt.Errorf("Invalid JSON payload received. Unknown name %q at 'generation_config': Cannot find field.", bad[0])
		}
		for _, sv := range mustList(gc["stopSequences"]) {
			s, _ := asString(sv)
			c.stops = append(c.stops, s)
		}
		if v, ok := gc["maxOutputTokens"]; ok {
			n, ok := asInt(v)
			if !ok || n < 1 {
				return nil, fmt.Errorf("generation_config.max_output_tokens must be positive")
			}
			c.maxTokens = n
		}
		if tc, ok := asMap(gc["thinkingConfig"]); ok {
			if tc["thinkingBudget"] != nil && tc["thinkingLevel"] != nil {
				return nil, fmt.Errorf("thinking_budget and thinking_level cannot both be set")
			}
			c.think = tc["includeThoughts"] == true
		}
	}

	contents, ok := asList(m["contents"])
	if !ok || len(contents) == 0 {
		return nil, fmt.Errorf("* GenerateContentRequest.contents: contents is not specified")
	}
	var prevCalls []fakeCall // function calls of the previous model turn
	for i, cv := range contents {
		content, _ := asMap(cv)
		path := fmt.Sprintf("contents[%d]", i)
		if bad := unknownKeys(content, "role", "parts"); len(bad) > 0 {
			return nil, fmt.Errorf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", bad[0], path)
		}
		role, _ := asString(content["role"])
		if role != "user" && role != "model" {
			return nil, fmt.Errorf("Please use a valid role: user, model. (%s.role = %q)", path, role)
		}
		if i == 0 && role != "user" {
			return nil, fmt.Errorf("Please ensure that multiturn requests start with a user turn.")
		}
		if i > 0 && c.turns[len(c.turns)-1].role == map[string]string{"user": "user", "model": "assistant"}[role] {
			return nil, fmt.Errorf("Please ensure that multiturn requests alternate between user and model.")
		}
		text, imgs, fcs, err := geminiPartsOf(path, content, role)
		if err != nil {
			return nil, err
		}
		t := turn{text: text, images: imgs}
		if role == "model" {
			t.role = "assistant"
			t.calls = fcs.calls
			prevCalls = fcs.calls
		} else {
			t.role = "user"
			if len(fcs.results) > 0 || len(prevCalls) > 0 {
				if len(fcs.results) != len(prevCalls) {
					return nil, fmt.Errorf("Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn. (%s: %d responses for %d calls)", path, len(fcs.results), len(prevCalls))
				}
				for k, r := range fcs.results {
					if r.Name != prevCalls[k].Name {
						return nil, fmt.Errorf("%s: function response %d is for %q but function call %d is %q", path, k, r.Name, k, prevCalls[k].Name)
					}
				}
			}
			t.results = fcs.results
			prevCalls = nil
		}
		c.turns = append(c.turns, t)
	}
	return c, nil
}

type geminiCallsResults struct {
	calls   []fakeCall
	results []fakeResult
}

// geminiPartsOf validates the parts of a Content.
func geminiPartsOf(path string, content map[string]any, role string) (string, []string, geminiCallsResults, error) {
	var out geminiCallsResults
	parts, ok := asList(content["parts"])
	if !ok || len(parts) == 0 {
		return "", nil, out, fmt.Errorf("%s.parts: must not be empty", path)
	}
	var texts, imgs []string
	for j, pv := range parts {
		p, _ := asMap(pv)
		pp := fmt.Sprintf("%s.parts[%d]", path, j)
		if bad := unknownKeys(p, "text", "thought", "thoughtSignature", "inlineData", "fileData", "functionCall",
			"functionResponse", "executableCode", "codeExecutionResult", "videoMetadata", "mediaResolution"); len(bad) > 0 {
			return "", nil, out, fmt.Errorf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", bad[0], pp)
		}
		n := 0
		for _, k := range []string{"text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode", "codeExecutionResult"} {
			if _, ok := p[k]; ok {
				n++
			}
		}
		if n != 1 {
			return "", nil, out, fmt.Errorf("%s: a part must have exactly one data field (has %d)", pp, n)
		}
		switch {
		case p["text"] != nil:
			s, _ := asString(p["text"])
			if s == "" {
				return "", nil, out, fmt.Errorf("Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again. (%s)", pp)
			}
			if p["thought"] != true {
				texts = append(texts, s)
			}
		case p["inlineData"] != nil:
			if role == "system" {
				return "", nil, out, fmt.Errorf("%s: systemInstruction takes text only", pp)
			}
			d, _ := asMap(p["inlineData"])
			mt, _ := asString(d["mimeType"])
			data, _ := asString(d["data"])
			if mt == "" || strings.HasPrefix(data, "data:") {
				return "", nil, out, fmt.Errorf("%s.inlineData: mimeType required and data must be plain base64", pp)
			}
			if _, err := base64.StdEncoding.DecodeString(data); err != nil {
				return "", nil, out, fmt.Errorf("%s.inlineData.data: Invalid value (bytes): invalid base64", pp)
			}
			imgs = append(imgs, mt)
		case p["fileData"] != nil:
			d, _ := asMap(p["fileData"])
			u, _ := asString(d["fileUri"])
			if u == "" {
				return "", nil, out, fmt.Errorf("%s.fileData.fileUri: required", pp)
			}
			imgs = append(imgs, "url:"+u)
		case p["functionCall"] != nil:
			if role != "model" {
				return "", nil, out, fmt.Errorf("%s: functionCall parts are only allowed in model turns", pp)
			}
			fc, _ := asMap(p["functionCall"])
			name, _ := asString(fc["name"])
			args := fc["args"]
			if args == nil {
				args = map[string]any{}
			}
			if _, ok := asMap(args); !ok || name == "" {
				return "", nil, out, fmt.Errorf("%s.functionCall: name required and args must be an object", pp)
			}
			id, _ := asString(fc["id"])
			out.calls = append(out.calls, fakeCall{ID: id, Name: name, Args: mustJSON(args)})
		case p["functionResponse"] != nil:
			if role != "user" {
				return "", nil, out, fmt.Errorf("%s: functionResponse parts are only allowed in user turns", pp)
			}
			fr, _ := asMap(p["functionResponse"])
			name, _ := asString(fr["name"])
			resp, ok := asMap(fr["response"])
			if !ok || name == "" {
				return "", nil, out, fmt.Errorf("%s.functionResponse: name required and response must be an object (Proto field is not repeating / Starting an object on a scalar field)", pp)
			}
			content := ""
			if s, ok := asString(resp["output"]); ok {
				content = s
			} else if s, ok := asString(resp["error"]); ok {
				content = s
			} else {
				content = mustJSON(resp)
			}
			out.results = append(out.results, fakeResult{Name: name, Content: content})
		}
	}
	return strings.Join(texts, "\n"), imgs, out, nil
}

// geminiSchemaKeys are the Schema fields Google documents.
var geminiSchemaKeys = []string{"type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems",
	"properties", "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example",
	"anyOf", "propertyOrdering", "default", "items", "minimum", "maximum"}

var geminiTypes = []string{"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}

// checkGeminiSchema rejects what Google's Schema subset does not have.
func checkGeminiSchema(path string, v any, aiStudio bool) error {
	s, ok := asMap(v)
	if !ok {
		return fmt.Errorf("Invalid JSON payload received. '%s' must be an object", path)
	}
	allowed := geminiSchemaKeys
	if !aiStudio {
		allowed = append(slices.Clone(allowed), "additionalProperties")
	}
	if bad := unknownKeys(s, allowed...); len(bad) > 0 {
		return fmt.Errorf("Invalid JSON payload received. Unknown name %q at '%s': Cannot find field.", bad[0], path)
	}
	if t, ok := s["type"]; ok {
		ts, isStr := asString(t)
		if !isStr || !slices.Contains(geminiTypes, strings.ToUpper(ts)) {
			return fmt.Errorf("Invalid value at '%s.type': %v", path, t)
		}
		if strings.ToUpper(ts) == "OBJECT" {
			if props, ok := asMap(s["properties"]); ok && len(props) == 0 && s["required"] != nil {
				return fmt.Errorf("%s.properties: should be non-empty for OBJECT type", path)
			}
		}
	}
	if f, ok := s["format"]; ok && aiStudio && f != "enum" && f != "date-time" {
		return fmt.Errorf("Invalid value at '%s.format': only 'enum' and 'date-time' are supported for STRING type, got %v", path, f)
	}
	if e, ok := s["enum"]; ok {
		l, _ := asList(e)
		for _, x := range l {
			if _, isStr := x.(string); !isStr {
				return fmt.Errorf("Invalid value at '%s.enum': enum values must be strings", path)
			}
		}
	}
	if props, ok := asMap(s["properties"]); ok {
		for k, pv := range props {
			if err := checkGeminiSchema(path+".properties["+k+"]", pv, aiStudio); err != nil {
				return err
			}
		}
	}
	if it, ok := s["items"]; ok {
		if err := checkGeminiSchema(path+".items", it, aiStudio); err != nil {
			return err
		}
	}
	if ao, ok := asList(s["anyOf"]); ok {
		for k, x := range ao {
			if err := checkGeminiSchema(fmt.Sprintf("%s.anyOf[%d]", path, k), x, aiStudio); err != nil {
				return err
			}
		}
	}
	if ap, ok := asMap(s["additionalProperties"]); ok {
		if err := checkGeminiSchema(path+".additionalProperties", ap, aiStudio); err != nil {
			return err
		}
	}
	return nil
}
