package vertex

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

func FuzzDecodeGenerateContentRequest(f *testing.F) {
	f.Add(geminiCLIRequest)
	for _, s := range []string{
		`{"contents":[{"parts":[{"text":"hi"}]}]}`,
		`{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"c2ln"}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"output":"x"}}}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":"OBJECT","nullable":true,"properties":{"a":{"type":"INTEGER"}}}}]}]}`,
		`{"system_instruction":{"parts":[{"text":"s"}]},"contents":[{"role":"user","parts":[{"inline_data":{"mime_type":"image/png","data":"AA=="}}]}],"generation_config":{"candidate_count":1,"response_mime_type":"application/json","response_schema":{"type":"STRING"}}}`,
		`{"contents":[]}`, `[]`, `{"contents":`, `null`, `{"contents":[{"role":"x","parts":[]}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeGenerateContentRequest("gemini-3-pro-preview", []byte(body))
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Kind != llm.KindCallerInvalid {
				t.Fatalf("error %v is not a 400 *llm.Error", err)
			}
			if !json.Valid(EncodeGoogleError(e)) {
				t.Fatalf("EncodeGoogleError produced invalid JSON: %s", EncodeGoogleError(e))
			}
			return
		}
		if req == nil || req.Model == "" || len(req.Messages) == 0 {
			t.Fatalf("accepted an incomplete request: %+v", req)
		}
		// Whatever was accepted encodes for Gemini upstreams as valid JSON
		// (or a 400).
		for _, api := range []string{APIGemini, APIVertex} {
			out, err := EncodeRequest(&llm.Call{Request: req, Model: "gemini-3-pro-preview"}, api)
			if err != nil {
				if e := llm.AsError(err); e.Status != 400 {
					t.Fatalf("encode error %v", err)
				}
				continue
			}
			if !json.Valid(out) {
				t.Fatalf("invalid upstream JSON for %s: %s", body, out)
			}
		}
		// Replaying the request's own model turns as an answer renders.
		for _, m := range req.Messages {
			if m.Role != llm.RoleAssistant {
				continue
			}
			resp := &llm.Response{Content: m.Content, FinishReason: llm.FinishToolCalls}
			if b := EncodeGenerateContentResponse(resp, "m"); !json.Valid(b) {
				t.Fatalf("invalid response JSON: %s", b)
			}
			var chunks []json.RawMessage
			if err := json.Unmarshal(encodeGeminiStream(false, llm.ResponseEvents(resp)), &chunks); err != nil {
				t.Fatalf("invalid stream array: %v", err)
			}
		}
	})
}
