package ingress_test

// Gemini 3 thought signatures through clients that know nothing of them
// (issue 4): the fake signs the first function call of each model turn and
// refuses a later request whose model turn lacks the signature ("Function
// call is missing a thought_signature"). The OpenAI and Anthropic SDKs keep
// only the tool-call id, so the signature has to survive in it; history
// from another model gets Google's documented skip value.

import (
	"slices"
	"testing"
)

func TestGemini3ThoughtSignatures(t *testing.T) {
	for _, cl := range clientKinds {
		for _, stream := range []bool{false, true} {
			name := cl.name + "/nonstream"
			if stream {
				name = cl.name + "/stream"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, harnessOptions{})
				s := cl.open(h, modelGemini3)
				tools := []toolDef{weatherTool, timeTool}
				for turn := 1; turn <= 2; turn++ {
					s.addUser("Please call get_weather and get_time for Paris.")
					r := s.send(t, sendOpts{stream: stream, tools: tools})
					if !r.ok() {
						t.Fatalf("turn %d call: HTTP %d %s: %s; upstream rejections %v", turn, r.errStatus, r.errType, r.errMessage, h.gem.rejections())
					}
					if len(r.calls) != 2 {
						t.Fatalf("turn %d: %d calls", turn, len(r.calls))
					}
					issued := h.gem.last().Answer.Signature
					if issued == "" {
						t.Fatalf("the fake did not sign")
					}
					s.addToolResults(toolResult{r.calls[0].id, "18C"}, toolResult{r.calls[1].id, "noon"})
					r2 := s.send(t, sendOpts{stream: stream, tools: tools})
					if !r2.ok() {
						t.Fatalf("turn %d results: HTTP %d %s: %s; upstream rejections %v", turn, r2.errStatus, r2.errType, r2.errMessage, h.gem.rejections())
					}
					// The model turn went back with the signature the model gave.
					up := h.gem.last()
					var sigs []string
					for _, cv := range mustList(up.JSON["contents"]) {
						content, _ := asMap(cv)
						for _, pv := range mustList(content["parts"]) {
							p, _ := asMap(pv)
							if p["functionCall"] != nil {
								sig, _ := asString(p["thoughtSignature"])
								sigs = append(sigs, sig)
							}
						}
					}
					if !slices.Contains(sigs, issued) {
						t.Errorf("turn %d: the signature %q did not come back (function call signatures sent: %q)", turn, issued, sigs)
					}
				}
				for _, r := range h.gem.rejections() {
					t.Errorf("rejected: %s", r)
				}
			})
		}
	}
}

// TestGemini3ForeignHistory: a conversation whose tool calls came from
// another provider continues on Gemini 3 with the documented skip value.
func TestGemini3ForeignHistory(t *testing.T) {
	for _, cl := range clientKinds {
		t.Run(cl.name, func(t *testing.T) {
			h := newHarness(t, harnessOptions{})
			s := cl.open(h, modelOpenAI)
			s.addUser("Please call get_weather for Paris.")
			r := s.send(t, sendOpts{tools: []toolDef{weatherTool}})
			if !r.ok() || len(r.calls) != 1 {
				t.Fatalf("first turn on openai: %+v", r)
			}
			s.addToolResults(toolResult{r.calls[0].id, "18C"})
			// Switch the model for the next turn.
			switch ss := s.(type) {
			case *openAISession:
				ss.model = modelGemini3
			case *anthropicSession:
				ss.model = modelGemini3
			}
			r2 := s.send(t, sendOpts{tools: []toolDef{weatherTool}})
			if !r2.ok() {
				t.Fatalf("HTTP %d %s: %s; upstream rejections %v", r2.errStatus, r2.errType, r2.errMessage, h.gem.rejections())
			}
			up := h.gem.last()
			found := false
			for _, cv := range mustList(up.JSON["contents"]) {
				content, _ := asMap(cv)
				for _, pv := range mustList(content["parts"]) {
					p, _ := asMap(pv)
					if p["functionCall"] != nil {
						sig, _ := asString(p["thoughtSignature"])
						found = slices.Contains(geminiSkipSignatures, sig)
					}
				}
			}
			if !found {
				t.Errorf("the foreign function call went to Gemini 3 without a skip signature: %s", up.Body)
			}
		})
	}
}
