package openai

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rickyjim626/xjp/internal/llm"
)

func FuzzDecodeResponsesRequest(f *testing.F) {
	f.Add(codexRequest(f))
	f.Add(withoutHostedTools(f, codexRequest(f)))
	for _, s := range []string{
		`{"model":"m","input":"hi"}`,
		`{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_image","image_url":"data:image/png;base64,AA=="}]}],"stream":true}`,
		`{"model":"m","input":[{"type":"function_call","call_id":"c","name":"f","namespace":"n","arguments":"{}"},{"type":"function_call_output","call_id":"c","output":[{"type":"input_text","text":"r"}]}],"tools":[{"type":"namespace","name":"n","tools":[{"type":"function","name":"f"}]}]}`,
		`{"model":"m","input":[{"type":"custom_tool_call","call_id":"c","name":"p","input":"x"},{"type":"custom_tool_call_output","call_id":"c","output":"ok"}],"tools":[{"type":"custom","name":"p","format":{"type":"grammar","syntax":"lark","definition":"start: /.+/"}}],"tool_choice":{"type":"custom","name":"p"}}`,
		`{"model":"m","input":[{"type":"reasoning","summary":[{"type":"summary_text","text":"s"}],"encrypted_content":"xjp1:e30"}],"max_output_tokens":16,"reasoning":{"effort":"low"},"text":{"format":{"type":"json_object"}}}`,
		`{"model":"m","input":[]}`, `[]`, `{"model":`, `null`, `{"model":"m","input":"x","previous_response_id":"r"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := DecodeResponsesRequest(body)
		if err != nil {
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != 400 || e.Kind != llm.KindCallerInvalid {
				t.Fatalf("error %v is not a 400 *llm.Error", err)
			}
			if !json.Valid(EncodeResponsesError(e)) {
				t.Fatalf("EncodeResponsesError produced invalid JSON: %s", EncodeResponsesError(e))
			}
			return
		}
		if req == nil || req.Model == "" || len(req.Messages) == 0 {
			t.Fatalf("accepted an incomplete request: %+v", req)
		}
		// Whatever was accepted encodes upstream as valid JSON (or a 400).
		out, err := EncodeChatRequestFlavor(&llm.Call{Request: req, Model: "up/model"}, FlavorGeneric)
		if err != nil {
			if e := llm.AsError(err); e.Status != 400 {
				t.Fatalf("encode error %v", err)
			}
		} else if !json.Valid(out) {
			t.Fatalf("invalid upstream JSON for %s: %s", body, out)
		}
		// The answer to it renders as valid JSON, whole and streamed, with
		// the request's parameters echoed.
		meta := ResponsesMeta{ID: "resp_f", Model: req.Model, Created: 1, Request: req}
		var evs []llm.Event
		resp := &llm.Response{Content: []llm.Part{llm.TextPart("ok")}, FinishReason: llm.FinishToolCalls}
		for i, tool := range req.Tools {
			tc := &llm.ToolCall{ID: "call_" + tool.Name, Name: tool.Name, Arguments: `{"input":"x"}`, Signature: "sig"}
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartToolCall, ToolCall: tc})
			if i > 3 {
				break
			}
		}
		evs = llm.ResponseEvents(resp)
		if b := EncodeResponsesResponse(resp, meta); !json.Valid(b) {
			t.Fatalf("invalid response JSON: %s", b)
		}
		wire := encodeResponsesStream(meta, evs)
		for _, frame := range strings.Split(strings.TrimSuffix(string(wire), "\n\n"), "\n\n") {
			_, data, ok := strings.Cut(frame, "\ndata: ")
			if !ok || !json.Valid([]byte(data)) {
				t.Fatalf("bad frame %q", frame)
			}
		}
	})
}
