package ingress_test

// Failover across formats: the same request is translated for each
// attempt, so a translation that changed the shared request (the Gemini
// client inlines image URLs, encoders rewrite tool ids) would leak into the
// next route's request. Each model's broken routes answer 500; the request
// the working route finally gets must equal what a direct request to that
// route produces.

import (
	"strings"
	"testing"
)

func TestFailoverAcrossFormats(t *testing.T) {
	cases := []struct {
		model, direct string
		fake          func(h *harness) fakeUpstream
		provider      string
	}{
		{modelFailoverA, modelAnthropic, func(h *harness) fakeUpstream { return h.anth }, provAnthropic},
		{modelFailoverB, modelGemini, func(h *harness) fakeUpstream { return h.gem }, provGemini},
	}
	for _, c := range cases {
		for _, cl := range clientKinds {
			for _, stream := range []bool{false, true} {
				name := c.model + "/" + cl.name
				if stream {
					name += "/stream"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					run := func(h *harness, model string) (*clientResult, *upstreamRequest) {
						s := cl.open(h, model)
						s.setSystem("You are a careful assistant.")
						s.addUser("Please call get_weather for Paris.")
						r := s.send(t, sendOpts{tools: []toolDef{weatherTool}})
						if !r.ok() || len(r.calls) != 1 {
							t.Fatalf("%s turn 1: HTTP %d %s: %s", model, r.errStatus, r.errType, r.errMessage)
						}
						s.addToolResults(toolResult{r.calls[0].id, "18C"})
						s.addUser("And what is in this picture?", image{url: h.imageURL}, image{mediaType: "image/png", data: pngPixel})
						r = s.send(t, sendOpts{stream: stream, tools: []toolDef{weatherTool}})
						return r, c.fake(h).last()
					}
					h := newHarness(t, harnessOptions{})
					r, up := run(h, c.model)
					if !r.ok() {
						t.Fatalf("HTTP %d %s: %s; rejections %v", r.errStatus, r.errType, r.errMessage, c.fake(h).rejections())
					}
					rec := h.record(t, r.reqID)
					if rec.Provider != c.provider || rec.Attempts != 7 || rec.Status != 200 {
						t.Errorf("usage record provider %q attempts %d status %d, want %q 7 200", rec.Provider, rec.Attempts, rec.Status, c.provider)
					}
					hd := newHarness(t, harnessOptions{})
					_, want := run(hd, c.direct)
					// Tool ids differ between runs (the first turn's upstream
					// minted them); compare with them normalised.
					norm := func(u *upstreamRequest) any {
						b := string(u.Body)
						for _, tr := range u.Convo.turns {
							for i, call := range tr.calls {
								if call.ID != "" {
									b = strings.ReplaceAll(b, call.ID, "ID"+string(rune('0'+i)))
								}
							}
						}
						b = strings.ReplaceAll(b, h.imageURL, "IMG")
						b = strings.ReplaceAll(b, hd.imageURL, "IMG")
						m, _ := readJSONBody([]byte(b))
						delete(m, "model")
						return toPlain(m)
					}
					if d := jsonDiff("", norm(want), norm(up)); len(d) > 0 {
						t.Errorf("after failover the %s upstream got a different request than a direct one:\n%s", c.provider, strings.Join(d, "\n"))
					}
				})
			}
		}
	}
}
