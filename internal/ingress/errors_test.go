package ingress_test

// Gateway-level HTTP behaviours (issue 2, and their Anthropic twins from
// issue 3): authentication and key policy, unknown models, malformed and
// oversized bodies, request ids, model lists, client disconnects, model
// ids with "/", and that secrets never reach the logs.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	ant "github.com/anthropics/anthropic-sdk-go/v2"

	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/llm"
)

// dialectCase is one client format for raw requests.
type dialectCase struct {
	name string
	path string
	body func(model string) string
	hdr  map[string]string
}

var dialectCases = []dialectCase{
	{name: "chat", path: "/v1/chat/completions", body: func(model string) string {
		return fmt.Sprintf(`{"model":%q,"messages":[{"role":"user","content":"Hello"}]}`, model)
	}},
	{name: "messages", path: "/v1/messages", hdr: map[string]string{"Anthropic-Version": "2023-06-01"}, body: func(model string) string {
		return fmt.Sprintf(`{"model":%q,"max_tokens":64,"messages":[{"role":"user","content":"Hello"}]}`, model)
	}},
}

// checkErrorBody checks an error answer in the dialect's envelope and
// returns its message.
func checkErrorBody(t *testing.T, d dialectCase, resp rawResponse, status int, typ, code string) string {
	t.Helper()
	if resp.status != status {
		t.Errorf("status %d, want %d: %s", resp.status, status, resp.body)
	}
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q", ct)
	}
	if d.name == "chat" {
		e := decodeJSON[openAIError](t, resp.body)
		if e.Error.Type != typ || e.Error.Message == "" {
			t.Errorf("openai error %s: want type %q", resp.body, typ)
		}
		if code != "" && (e.Error.Code == nil || *e.Error.Code != code) {
			t.Errorf("openai error %s: want code %q", resp.body, code)
		}
		return e.Error.Message
	}
	e := decodeJSON[anthropicError](t, resp.body)
	if e.Type != "error" || e.Error.Type != typ || e.Error.Message == "" {
		t.Errorf("anthropic error %s: want type %q", resp.body, typ)
	}
	return e.Error.Message
}

func TestAuthAndPolicy(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	type tc struct {
		name     string
		auth     func(key string) map[string]string
		key      string
		model    string
		status   int
		openai   string // type
		anth     string
		code     string // OpenAI code
		contains string
	}
	bearer := func(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + k} }
	xapi := func(k string) map[string]string { return map[string]string{"X-Api-Key": k} }
	none := func(string) map[string]string { return nil }
	cases := []tc{
		{"missing key", none, "", modelDemo, 401, "authentication_error", "authentication_error", "missing_api_key", "missing API key"},
		{"unknown key bearer", bearer, keyUnknown, modelDemo, 401, "authentication_error", "authentication_error", "invalid_api_key", "invalid API key"},
		{"unknown key x-api-key", xapi, keyUnknown, modelDemo, 401, "authentication_error", "authentication_error", "invalid_api_key", "invalid API key"},
		{"disabled key bearer", bearer, keyDisabled, modelDemo, 403, "permission_error", "permission_error", "key_disabled", "disabled"},
		{"disabled key x-api-key", xapi, keyDisabled, modelDemo, 403, "permission_error", "permission_error", "key_disabled", "disabled"},
		{"expired key bearer", bearer, keyExpired, modelDemo, 403, "permission_error", "permission_error", "key_expired", "expired"},
		{"expired key x-api-key", xapi, keyExpired, modelDemo, 403, "permission_error", "permission_error", "key_expired", "expired"},
		{"model not allowed", bearer, keyRestricted, modelOpenAI, 403, "permission_error", "permission_error", "model_not_allowed", modelOpenAI},
		{"model not allowed x-api-key", xapi, keyRestricted, modelAnthropic, 403, "permission_error", "permission_error", "model_not_allowed", modelAnthropic},
		{"unknown model", bearer, keyValid, "no-such-model", 404, "invalid_request_error", "not_found_error", "model_not_found", "no-such-model"},
		{"unknown provider prefix", xapi, keyValid, "nope/gpt-4o", 404, "invalid_request_error", "not_found_error", "model_not_found", "nope/gpt-4o"},
	}
	for _, d := range dialectCases {
		for _, c := range cases {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				hdr := c.auth(c.key)
				if hdr == nil {
					hdr = map[string]string{}
				}
				for k, v := range d.hdr {
					hdr[k] = v
				}
				id := h.newRequestID()
				hdr["X-Request-Id"] = id
				resp := h.rawPost(t, d.path, hdr, []byte(d.body(c.model)))
				typ := c.openai
				if d.name == "messages" {
					typ = c.anth
				}
				code := c.code
				if d.name == "messages" {
					code = ""
				}
				msg := checkErrorBody(t, d, resp, c.status, typ, code)
				if !strings.Contains(msg, c.contains) {
					t.Errorf("message %q does not say %q", msg, c.contains)
				}
				if n := len(h.sink.byID(id)); n != 0 {
					t.Errorf("a request refused before routing left %d usage records", n)
				}
			})
		}
	}
	// The restricted key may use its model.
	for _, d := range dialectCases {
		hdr := map[string]string{"Authorization": "Bearer " + keyRestricted}
		for k, v := range d.hdr {
			hdr[k] = v
		}
		if resp := h.rawPost(t, d.path, hdr, []byte(d.body(modelDemo))); resp.status != 200 {
			t.Errorf("%s: the restricted key may use %s: HTTP %d %s", d.name, modelDemo, resp.status, resp.body)
		}
	}
}

func TestBadRequests(t *testing.T) {
	h := newHarness(t, harnessOptions{maxBody: 4096})
	big := strings.Repeat("x", 8000)
	type tc struct {
		name   string
		body   map[string]string // by dialect
		status int
		openai string
		anth   string
	}
	cases := []tc{
		{"malformed JSON", map[string]string{"chat": `{"model":"m-demo","messages":[`, "messages": `{"model":"m-demo","max_tokens":5,"messages":[`}, 400, "invalid_request_error", "invalid_request_error"},
		{"not an object", map[string]string{"chat": `[1,2]`, "messages": `"hi"`}, 400, "invalid_request_error", "invalid_request_error"},
		{"missing model", map[string]string{"chat": `{"messages":[{"role":"user","content":"hi"}]}`, "messages": `{"max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`}, 400, "invalid_request_error", "invalid_request_error"},
		{"missing messages", map[string]string{"chat": `{"model":"m-demo"}`, "messages": `{"model":"m-demo","max_tokens":5}`}, 400, "invalid_request_error", "invalid_request_error"},
		{"oversized body", map[string]string{
			"chat":     `{"model":"m-demo","messages":[{"role":"user","content":"` + big + `"}]}`,
			"messages": `{"model":"m-demo","max_tokens":5,"messages":[{"role":"user","content":"` + big + `"}]}`}, 413, "invalid_request_error", "request_too_large"},
	}
	for _, d := range dialectCases {
		for _, c := range cases {
			t.Run(d.name+"/"+c.name, func(t *testing.T) {
				hdr := map[string]string{"Authorization": "Bearer " + keyValid}
				for k, v := range d.hdr {
					hdr[k] = v
				}
				resp := h.rawPost(t, d.path, hdr, []byte(c.body[d.name]))
				typ := c.openai
				if d.name == "messages" {
					typ = c.anth
				}
				checkErrorBody(t, d, resp, c.status, typ, "")
			})
		}
	}
	t.Run("chat/n=2", func(t *testing.T) {
		resp := h.rawPost(t, "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + keyValid},
			[]byte(`{"model":"m-demo","n":2,"messages":[{"role":"user","content":"hi"}]}`))
		msg := checkErrorBody(t, dialectCases[0], resp, 400, "invalid_request_error", "")
		if !strings.Contains(msg, "n") {
			t.Errorf("message %q does not name n", msg)
		}
	})
	t.Run("unknown endpoint", func(t *testing.T) {
		resp := h.rawPost(t, "/v1/nope", map[string]string{"Authorization": "Bearer " + keyValid}, []byte(`{}`))
		checkErrorBody(t, dialectCases[0], resp, 404, "invalid_request_error", "")
		resp = h.rawPost(t, "/v1/messages/nope", map[string]string{"Authorization": "Bearer " + keyValid}, []byte(`{}`))
		checkErrorBody(t, dialectCases[1], resp, 404, "not_found_error", "")
	})
}

func TestRequestID(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	hdr := func(id string) map[string]string {
		m := map[string]string{"Authorization": "Bearer " + keyValid}
		if id != "" {
			m["X-Request-Id"] = id
		}
		return m
	}
	body := []byte(`{"model":"m-demo","messages":[{"role":"user","content":"hi"}]}`)
	for _, tc := range []struct {
		name, sent string
		echoed     bool
	}{
		{"echoed", "client-chosen-id-123", true},
		{"generated when absent", "", false},
		{"generated when invalid", "bad id with spaces", false},
		{"generated when too long", strings.Repeat("a", 200), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := h.rawPost(t, "/v1/chat/completions", hdr(tc.sent), body)
			got := resp.header.Get("X-Request-Id")
			switch {
			case tc.echoed && got != tc.sent:
				t.Errorf("X-Request-Id %q, want %q echoed", got, tc.sent)
			case !tc.echoed && (got == "" || got == tc.sent):
				t.Errorf("X-Request-Id %q: want a generated id", got)
			}
			if recs := h.sink.byID(got); len(recs) != 1 {
				t.Errorf("%d usage records for request id %q", len(recs), got)
			}
		})
	}
	// Errors carry it too.
	resp := h.rawPost(t, "/v1/chat/completions", map[string]string{"X-Request-Id": "err-id-1"}, body)
	if resp.status != 401 || resp.header.Get("X-Request-Id") != "err-id-1" {
		t.Errorf("401 answer: status %d X-Request-Id %q", resp.status, resp.header.Get("X-Request-Id"))
	}
}

func TestModelsList(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	var all []string
	for _, m := range h.gw.Table().Models() {
		all = append(all, m.Name)
	}
	if !slices.IsSorted(all) || !slices.Contains(all, modelDemo) {
		t.Fatalf("table models %v", all)
	}
	t.Run("openai", func(t *testing.T) {
		resp := h.rawGet(t, "/v1/models", map[string]string{"Authorization": "Bearer " + keyValid})
		var out struct {
			Object string `json:"object"`
			Data   []struct {
				ID      string `json:"id"`
				Object  string `json:"object"`
				Created int64  `json:"created"`
				OwnedBy string `json:"owned_by"`
			} `json:"data"`
		}
		json.Unmarshal(resp.body, &out)
		var ids []string
		for _, m := range out.Data {
			ids = append(ids, m.ID)
			if m.Object != "model" || m.OwnedBy == "" || m.Created == 0 {
				t.Errorf("model %+v", m)
			}
		}
		if resp.status != 200 || out.Object != "list" || strings.Join(ids, ",") != strings.Join(all, ",") {
			t.Errorf("GET /v1/models: %d %s", resp.status, resp.body)
		}
	})
	t.Run("openai sdk", func(t *testing.T) {
		s := newOpenAISession(h, "", keyValid)
		page, err := s.c.Models.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
		}
		if strings.Join(ids, ",") != strings.Join(all, ",") {
			t.Errorf("SDK models %v", ids)
		}
		m, err := s.c.Models.Get(context.Background(), "oai/openai/gpt-4o")
		if err != nil || m.ID != "oai/openai/gpt-4o" {
			t.Errorf("retrieve a provider/upstream model with a slash: %+v %v", m, err)
		}
	})
	t.Run("anthropic sdk", func(t *testing.T) {
		s := newAnthropicSession(h, "", keyValid)
		page, err := s.c.Models.List(context.Background(), ant.ModelListParams{})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range page.Data {
			ids = append(ids, m.ID)
			if m.Type != "model" || m.DisplayName == "" {
				t.Errorf("model %s", m.RawJSON())
			}
		}
		if strings.Join(ids, ",") != strings.Join(all, ",") || page.HasMore {
			t.Errorf("SDK models %v (has_more %v)", ids, page.HasMore)
		}
	})
	t.Run("restricted key", func(t *testing.T) {
		resp := h.rawGet(t, "/v1/models", map[string]string{"X-Api-Key": keyRestricted, "Anthropic-Version": "2023-06-01"})
		var out struct {
			Data []struct {
				ID   string `json:"id"`
				Type string `json:"type"`
			} `json:"data"`
			FirstID string `json:"first_id"`
			LastID  string `json:"last_id"`
		}
		json.Unmarshal(resp.body, &out)
		if len(out.Data) != 1 || out.Data[0].ID != modelDemo || out.Data[0].Type != "model" || out.FirstID != modelDemo || out.LastID != modelDemo {
			t.Errorf("restricted key lists %s", resp.body)
		}
	})
	t.Run("unauthenticated", func(t *testing.T) {
		resp := h.rawGet(t, "/v1/models", nil)
		checkErrorBody(t, dialectCases[0], resp, 401, "authentication_error", "")
	})
}

// TestSlashModelIDs: upstream model ids with "/" (OpenRouter's
// "openai/gpt-4o") survive routing, and "provider/upstream_model" reaches a
// provider directly.
func TestSlashModelIDs(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	cases := []struct {
		model    string
		fake     fakeUpstream
		provider string
		upstream string
	}{
		{modelOpenAI, h.oai, provOpenAI, "openai/gpt-4o"},
		{"oai/openai/gpt-4o", h.oai, provOpenAI, "openai/gpt-4o"},
		{"oai/meta-llama/llama-3.3-70b-instruct:free", h.oai, provOpenAI, "meta-llama/llama-3.3-70b-instruct:free"},
		{"anth/claude-opus-4-1", h.anth, provAnthropic, "claude-opus-4-1"},
		{"gem/gemini-2.5-pro", h.gem, provGemini, "gemini-2.5-pro"},
		{"demo/anything/with/slashes", nil, provDemo, "anything/with/slashes"},
	}
	for _, c := range cases {
		for _, cl := range clientKinds {
			t.Run(cl.name+"/"+c.model, func(t *testing.T) {
				s := cl.open(h, c.model)
				s.addUser("Hello, who are you?")
				r := s.send(t, sendOpts{stream: true})
				if !r.ok() {
					t.Fatalf("HTTP %d %s: %s", r.errStatus, r.errType, r.errMessage)
				}
				rec := h.record(t, r.reqID)
				if rec.Model != c.model || rec.Provider != c.provider || rec.UpstreamModel != c.upstream {
					t.Errorf("usage record model %q provider %q upstream %q", rec.Model, rec.Provider, rec.UpstreamModel)
				}
				if c.fake == nil {
					return
				}
				up := c.fake.last()
				switch c.fake {
				case h.gem:
					if !strings.Contains(up.Path, "/models/"+c.upstream+":") {
						t.Errorf("gemini path %q", up.Path)
					}
				default:
					if up.JSON["model"] != c.upstream {
						t.Errorf("upstream model %v, want %q", up.JSON["model"], c.upstream)
					}
				}
			})
		}
	}
}

// TestClientDisconnect: a client that goes away mid-stream cancels the
// upstream request, and the request is recorded as 499. (The demo provider
// is left out: with no delay its stream is over before a client can
// leave.)
func TestClientDisconnect(t *testing.T) {
	for _, d := range dialectCases {
		for _, up := range upstreamKinds[:3] {
			t.Run(d.name+"/"+up.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, harnessOptions{})
				fake := h.fakeFor(up.model)
				var body string
				if d.name == "chat" {
					body = fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":"Tell me a long story please hangstream"}]}`, up.model)
				} else {
					body = fmt.Sprintf(`{"model":%q,"max_tokens":256,"stream":true,"messages":[{"role":"user","content":"Tell me a long story please hangstream"}]}`, up.model)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.url+d.path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+keyValid)
				req.Header.Set("Content-Type", "application/json")
				for k, v := range d.hdr {
					req.Header.Set(k, v)
				}
				id := h.newRequestID()
				req.Header.Set("X-Request-Id", id)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				// Read until the first text arrives, then leave.
				br := bufio.NewReader(resp.Body)
				deadline := time.Now().Add(5 * time.Second)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						t.Fatalf("stream ended before any text: %v", err)
					}
					if strings.Contains(line, `"content":"`) && !strings.Contains(line, `"content":""`) || strings.Contains(line, "text_delta") {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("no text within 5s")
					}
				}
				cancel()
				resp.Body.Close()
				select {
				case <-fake.canceled():
				case <-time.After(3 * time.Second):
					t.Fatalf("the %s upstream request was not canceled within 3s of the client leaving", up.name)
				}
				rec := h.record(t, id)
				if rec.Status != 499 || rec.ErrorKind != llm.KindCallerCanceled {
					t.Errorf("usage record status %d kind %q, want 499 %q", rec.Status, rec.ErrorKind, llm.KindCallerCanceled)
				}
				if rec.Usage.OutputTokens == 0 {
					t.Errorf("the text streamed before the client left was not billed: %+v", rec.Usage)
				}
			})
		}
	}
}

// TestSecretsNotLogged: neither client keys nor upstream keys appear in the
// logs, whatever happened to the request.
func TestSecretsNotLogged(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, key := range []string{keyValid, keyUnknown, keyDisabled, keyExpired, keyRestricted} {
		for _, d := range dialectCases {
			for _, model := range []string{modelDemo, modelOpenAI, modelAnthropic, modelGemini, "no-such"} {
				for _, auth := range []string{"Authorization", "X-Api-Key"} {
					v := key
					if auth == "Authorization" {
						v = "Bearer " + key
					}
					hdr := map[string]string{auth: v}
					for k, v := range d.hdr {
						hdr[k] = v
					}
					h.rawPost(t, d.path, hdr, []byte(d.body(model)))
				}
			}
		}
	}
	s := newOpenAISession(h, modelOpenAI, keyValid)
	s.addUser("fail401 please")
	s.send(t, sendOpts{})
	logs := h.logs.String()
	if !strings.Contains(logs, "request") {
		t.Fatalf("no request logs captured")
	}
	for _, secret := range []string{keyValid, keyUnknown, keyDisabled, keyExpired, keyRestricted, upstreamKeyOpenAI, upstreamKeyAnthropic, upstreamKeyGemini} {
		if strings.Contains(logs, secret) {
			t.Errorf("a secret appears in the logs: %s…", secret[:8])
		}
	}
}

// TestBreakerDefaultThreshold: gateway.BreakerSettings documents
// FailureThreshold "(default 5)"; with the zero value a single failed
// request must therefore not open the route's breaker.
func TestBreakerDefaultThreshold(t *testing.T) {
	retry := gateway.Retry{MaxRetries: 0}
	h := newHarness(t, harnessOptions{breaker: gateway.BreakerSettings{OpenFor: time.Minute}, retry: &retry})
	s := newOpenAISession(h, modelOpenAI, keyValid)
	s.addUser("fail500 please")
	if r := s.send(t, sendOpts{}); r.errStatus != 502 {
		t.Fatalf("first request: HTTP %d %s", r.errStatus, r.errMessage)
	}
	s2 := newOpenAISession(h, modelOpenAI, keyValid)
	s2.addUser("Hello again")
	r := s2.send(t, sendOpts{})
	if !r.ok() {
		t.Errorf("BUG: after one upstream failure the next request is refused (HTTP %d %s: %s): the breaker opened at the first failure, not at the documented default of 5",
			r.errStatus, r.errType, r.errMessage)
	}
}

// TestPassthroughFields: fields the OpenAI codec does not model reach an
// OpenAI-compatible upstream from an OpenAI client (issue 2), and never
// leak to other dialects.
func TestPassthroughFields(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	extra := `"provider":{"order":["fireworks"],"allow_fallbacks":false},"transforms":["middle-out"],"prediction":{"type":"content","content":"x"}`
	resp := h.rawPost(t, "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + keyValid},
		[]byte(`{"model":"m-openai","messages":[{"role":"user","content":"hi"}],`+extra+`}`))
	if resp.status != 200 {
		t.Fatalf("HTTP %d %s", resp.status, resp.body)
	}
	up := h.oai.last()
	for _, k := range []string{"provider", "transforms", "prediction"} {
		if _, ok := up.JSON[k]; !ok {
			t.Errorf("%s was dropped on the way to the OpenAI-compatible upstream: %s", k, up.Body)
		}
	}
	for _, m := range []string{modelAnthropic, modelGemini} {
		resp := h.rawPost(t, "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + keyValid},
			[]byte(`{"model":"`+m+`","messages":[{"role":"user","content":"hi"}],`+extra+`}`))
		if resp.status != 200 {
			t.Errorf("%s: HTTP %d %s", m, resp.status, resp.body)
		}
	}
	for _, f := range []fakeUpstream{h.anth, h.gem} {
		for _, r := range f.rejections() {
			t.Errorf("%s rejected: %s", f.kind(), r)
		}
	}
}

// TestModelRetrieveAnthropic: the Anthropic SDK's models.retrieve
// (GET /v1/models/{id} with anthropic-version) gets Anthropic's model
// object, and its 404 in Anthropic's error format, as models.list does.
func TestModelRetrieveAnthropic(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	s := newAnthropicSession(h, "", keyValid)
	m, err := s.c.Models.Get(context.Background(), modelDemo, ant.ModelGetParams{})
	if err != nil {
		t.Fatalf("models.retrieve: %v", err)
	}
	if m.ID != modelDemo || m.Type != "model" || m.DisplayName == "" {
		t.Errorf("BUG: GET /v1/models/%s with anthropic-version answers %s; want Anthropic's {type: model, id, display_name, created_at}", modelDemo, m.RawJSON())
	}
	_, err = s.c.Models.Get(context.Background(), "no-such-model", ant.ModelGetParams{})
	var apiErr *ant.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Type() != "not_found_error" {
		raw := ""
		if apiErr != nil {
			raw = apiErr.RawJSON()
		}
		t.Errorf("BUG: unknown model through the Anthropic SDK: %v (body %s); want 404 not_found_error in Anthropic's envelope", err, raw)
	}
}

// TestNonStreamDisconnect: a client that gives up on a non-streamed
// request cancels the upstream call, recorded as 499.
func TestNonStreamDisconnect(t *testing.T) {
	for _, d := range dialectCases {
		for _, up := range upstreamKinds[:3] {
			t.Run(d.name+"/"+up.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, harnessOptions{})
				fake := h.fakeFor(up.model)
				body := strings.Replace(d.body(up.model), "Hello", "Tell me a story hangstream", 1)
				ctx, cancel := context.WithCancel(context.Background())
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.url+d.path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+keyValid)
				for k, v := range d.hdr {
					req.Header.Set(k, v)
				}
				id := h.newRequestID()
				req.Header.Set("X-Request-Id", id)
				done := make(chan error, 1)
				go func() {
					resp, err := http.DefaultClient.Do(req)
					if err == nil {
						resp.Body.Close()
					}
					done <- err
				}()
				waitFor(t, 5*time.Second, "the upstream request", func() bool { return len(fake.requests()) == 1 })
				cancel()
				if err := <-done; err == nil {
					t.Fatalf("the request completed although it was canceled")
				}
				select {
				case <-fake.canceled():
				case <-time.After(3 * time.Second):
					t.Fatalf("the %s upstream request was not canceled within 3s", up.name)
				}
				rec := h.record(t, id)
				if rec.Status != 499 || rec.ErrorKind != llm.KindCallerCanceled {
					t.Errorf("usage record status %d kind %q, want 499 %q", rec.Status, rec.ErrorKind, llm.KindCallerCanceled)
				}
			})
		}
	}
}

// TestGeminiMediaFetch: media by http(s) URL is fetched for Gemini; a URL
// that cannot be fetched, is too large or is not an image is the client's
// 400, never an upstream call.
func TestGeminiMediaFetch(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	cases := []struct {
		path, code, contains string
	}{
		{"/missing.png", "", "HTTP 404"},
		{"/big.png", "media_too_large", "limit"},
		{"/page.html", "", "text/html"},
	}
	for _, c := range cases {
		for _, cl := range clientKinds {
			t.Run(cl.name+c.path, func(t *testing.T) {
				s := cl.open(h, modelGemini)
				s.addUser("What is this?", image{url: h.imageBase + c.path})
				r := s.send(t, sendOpts{})
				if r.errStatus != 400 || r.errType != "invalid_request_error" || !strings.Contains(r.errMessage, c.contains) {
					t.Errorf("HTTP %d %s %q; want 400 invalid_request_error mentioning %q", r.errStatus, r.errType, r.errMessage, c.contains)
				}
				for _, up := range h.gem.requests() {
					if strings.Contains(string(up.Body), c.path) {
						t.Errorf("the media URL reached gemini")
					}
				}
				if rec := h.record(t, r.reqID); rec.Status != 400 || rec.Attempts != 1 {
					t.Errorf("usage record status %d attempts %d", rec.Status, rec.Attempts)
				}
			})
		}
	}
}

// TestStreamWithoutIncludeUsage: an OpenAI client that did not ask for
// usage gets no usage chunk, but the gateway still meters the request
// with the upstream's counts (it asks upstream for them itself).
func TestStreamWithoutIncludeUsage(t *testing.T) {
	for _, up := range upstreamKinds {
		t.Run(up.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			id := h.newRequestID()
			resp := h.rawPost(t, "/v1/chat/completions", map[string]string{"Authorization": "Bearer " + keyValid, "X-Request-Id": id},
				[]byte(fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":"Hello there"}]}`, up.model)))
			if resp.status != 200 {
				t.Fatalf("HTTP %d %s", resp.status, resp.body)
			}
			evs := parseSSE(string(resp.body))
			if len(evs) < 3 || evs[len(evs)-1].data != "[DONE]" {
				t.Fatalf("stream does not end with [DONE]: %s", resp.body)
			}
			for _, ev := range evs[:len(evs)-1] {
				var chunk struct {
					Usage   json.RawMessage `json:"usage"`
					Choices []any           `json:"choices"`
				}
				json.Unmarshal([]byte(ev.data), &chunk)
				if len(chunk.Usage) > 0 && string(chunk.Usage) != "null" || len(chunk.Choices) == 0 {
					t.Errorf("a usage chunk the client did not ask for: %s", ev.data)
				}
			}
			rec := h.record(t, id)
			if rec.Usage.OutputTokens == 0 || rec.Usage.PromptTokens() == 0 {
				t.Errorf("usage record %+v", rec.Usage)
			}
			if f := h.fakeFor(up.model); f != nil {
				a := f.last().Answer
				if rec.Usage.Estimated || rec.Usage.InputTokens != a.Usage.Input || rec.Usage.OutputTokens != a.Usage.Output {
					t.Errorf("usage record %+v, the upstream reported %+v", rec.Usage, a.Usage)
				}
			}
		})
	}
}

// TestOpenAIErrorFrames: OpenRouter reports failures as data: {"error":…}
// frames inside a 200 stream. One before any content is a failed attempt
// (retried, then an HTTP error to the client); one after content reaches
// the client as its format's in-stream error.
func TestOpenAIErrorFrames(t *testing.T) {
	for _, cl := range clientKinds {
		t.Run(cl.name+"/first", func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			s := cl.open(h, modelOpenAI)
			s.addUser("Hello errorframe_first")
			r := s.send(t, sendOpts{stream: true})
			if r.ok() || r.midStream || r.errStatus != 502 || r.errType != "api_error" {
				t.Fatalf("want HTTP 502 api_error before any byte, got ok=%v midstream=%v HTTP %d %s: %s", r.ok(), r.midStream, r.errStatus, r.errType, r.errMessage)
			}
			if !strings.Contains(r.errMessage, "upstream overloaded") && !strings.Contains(r.errMessage, "Provider returned error") {
				t.Errorf("message %q lost the upstream's", r.errMessage)
			}
			if rec := h.record(t, r.reqID); rec.Status != 502 || rec.Attempts != 3 {
				t.Errorf("usage record status %d attempts %d, want 502 3", rec.Status, rec.Attempts)
			}
		})
		t.Run(cl.name+"/mid", func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			s := cl.open(h, modelOpenAI)
			s.addUser("Tell me a long story errorframe_mid")
			r := s.send(t, sendOpts{stream: true})
			if r.ok() || !r.midStream {
				t.Fatalf("want an in-stream error, got ok=%v HTTP %d %s: %s", r.ok(), r.errStatus, r.errType, r.errMessage)
			}
			if r.errType != "api_error" || r.text == "" {
				t.Errorf("error type %q text %q", r.errType, r.text)
			}
			if rec := h.record(t, r.reqID); rec.Status != 502 || rec.Attempts != 1 || rec.Usage.OutputTokens == 0 {
				t.Errorf("usage record status %d attempts %d usage %+v", rec.Status, rec.Attempts, rec.Usage)
			}
		})
	}
}

// TestGeminiBadKey: Google answers a bad API key with 400
// INVALID_ARGUMENT (API_KEY_INVALID). That is the gateway's credential
// failing, not the client's request: the client must not get a 400.
func TestGeminiBadKey(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, cl := range clientKinds {
		t.Run(cl.name, func(t *testing.T) {
			s := cl.open(h, modelGeminiBadKey)
			s.addUser("Hello")
			r := s.send(t, sendOpts{})
			if r.errStatus != 502 || r.errType != "api_error" {
				t.Errorf("HTTP %d %s: %s; want 502 api_error", r.errStatus, r.errType, r.errMessage)
			}
			if rec := h.record(t, r.reqID); rec.ErrorKind != llm.KindProviderAuth || rec.Attempts != 1 {
				t.Errorf("usage record kind %q attempts %d, want %q 1", rec.ErrorKind, rec.Attempts, llm.KindProviderAuth)
			}
		})
	}
}

// TestEmptyToolArguments: some OpenAI-compatible upstreams (OpenRouter's
// Anthropic models, Copilot) stream a call without arguments as arguments
// "" and no fragment. Clients must still get a JSON object.
func TestEmptyToolArguments(t *testing.T) {
	for _, cl := range clientKinds {
		t.Run(cl.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			s := cl.open(h, modelOpenAI)
			s.addUser("Is everything fine? Please call get_status. emptyargs")
			r := s.send(t, sendOpts{stream: true, tools: []toolDef{statusTool}})
			if !r.ok() || len(r.calls) != 1 {
				t.Fatalf("HTTP %d %s: %s; calls %+v", r.errStatus, r.errType, r.errMessage, r.calls)
			}
			if !validJSONObject(r.calls[0].args) {
				t.Errorf("BUG: the %s client got arguments %q for a call without arguments; want {}", cl.name, r.calls[0].args)
			}
		})
	}
}

// TestMaxTokensCap: a route's max tokens clamp what a client asks for
// (Claude Code asks 32000, more than many OpenAI-compatible models take),
// and a thinking budget is fitted below the clamp for Anthropic.
func TestMaxTokensCap(t *testing.T) {
	h := newHarness(t, harnessOptions{openAIUserLimit: -1})
	req := claudeCodeRequest(t, modelOpenAICapped)
	resp := h.rawPost(t, "/v1/messages?beta=true", claudeCodeHeaders("x-api-key"), []byte(mustJSON(req)))
	if resp.status != 200 {
		t.Fatalf("HTTP %d %s; rejections %v", resp.status, resp.body, h.oai.rejections())
	}
	if got := h.oai.last().Convo.maxTokens; got != 4096 {
		t.Errorf("Claude Code's max_tokens 32000 reached the capped route as %d, want 4096", got)
	}

	s := newOpenAISession(h, modelAnthropicCapped, keyValid)
	s.addUser("Please think hard about this.")
	p := s.params(sendOpts{})
	p.ReasoningEffort = "high"
	r, err := s.c.Chat.Completions.New(context.Background(), p)
	if err != nil {
		t.Fatalf("%v; rejections %v", err, h.anth.rejections())
	}
	up := h.anth.last()
	mt, _ := asInt(up.JSON["max_tokens"])
	th, _ := asMap(up.JSON["thinking"])
	b, _ := asInt(th["budget_tokens"])
	if mt > 8000 || th["type"] != "enabled" || b < 1024 || b >= mt {
		t.Errorf("max_tokens %d thinking %s: want max_tokens <= 8000 and a budget in [1024, max_tokens)", mt, mustJSON(th))
	}
	if r.Choices[0].Message.Content == "" {
		t.Errorf("empty answer")
	}
}

// TestConcurrentMixed: streams of both formats to every upstream at once
// through one gateway; each gets its own answer and one usage record.
func TestConcurrentMixed(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	type job struct {
		cl    clientKind
		model string
		n     int
	}
	var jobs []job
	for i := 0; i < 4; i++ {
		for _, cl := range clientKinds {
			for _, up := range upstreamKinds {
				jobs = append(jobs, job{cl, up.model, i})
			}
		}
	}
	errs := make(chan string, len(jobs))
	ids := make(chan string, len(jobs))
	for _, j := range jobs {
		go func() {
			s := j.cl.open(h, j.model)
			word := fmt.Sprintf("marker%d%s%s", j.n, j.cl.name, strings.TrimPrefix(j.model, "m-"))
			s.addUser("Please echo " + word)
			r := s.send(t, sendOpts{stream: j.n%2 == 0})
			switch {
			case !r.ok():
				errs <- fmt.Sprintf("%s → %s: HTTP %d %s", j.cl.name, j.model, r.errStatus, r.errMessage)
			case !strings.Contains(r.text, word):
				errs <- fmt.Sprintf("%s → %s: answer %q is not for %s", j.cl.name, j.model, r.text, word)
			default:
				errs <- ""
			}
			ids <- r.reqID
		}()
	}
	for range jobs {
		if e := <-errs; e != "" {
			t.Error(e)
		}
		h.record(t, <-ids)
	}
}
