package openai

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go/v3/packages/ssestream"
	"github.com/openai/openai-go/v3/responses"
	"github.com/tidwall/gjson"

	"github.com/rickyjim626/xjp/internal/llm"
)

func encodeResponsesStream(meta ResponsesMeta, events []llm.Event) []byte {
	enc := NewResponsesStreamEncoder(meta)
	var out []byte
	for _, ev := range events {
		out = enc.Encode(out, ev)
	}
	return enc.End(out)
}

// Events for the stream cases (the chat tests' helpers build them).
var (
	rStart = llm.Event{Type: llm.EventStart, ID: "up-1", Model: "upstream-model"}
	rUsage = llm.Event{Type: llm.EventUsage, Usage: &llm.Usage{InputTokens: 10, CacheReadTokens: 5, OutputTokens: 7, ReasoningTokens: 2}}
	rCall  = func(i int, id, name, args string) llm.Event {
		return blockEv(i, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: id, Name: name, Arguments: args}})
	}
)

var responsesStreamCases = []struct {
	name   string
	req    bool // with respRequest's tools and include
	events []llm.Event
}{
	{"text", false, []llm.Event{rStart, blockEv(0, llm.Block{Type: llm.BlockText}),
		deltaEv(llm.EventTextDelta, 0, "Hel"), deltaEv(llm.EventTextDelta, 0, "lo \"world\"\n"), stopEv(0), rUsage, evFinish(llm.FinishStop)}},
	{"two_text_blocks", false, []llm.Event{rStart,
		blockEv(0, llm.Block{Type: llm.BlockText}), deltaEv(llm.EventTextDelta, 0, "One."), stopEv(0),
		blockEv(1, llm.Block{Type: llm.BlockText}), deltaEv(llm.EventTextDelta, 1, " Two."), stopEv(1), evFinish(llm.FinishStop)}},
	{"tool_call", true, []llm.Event{rStart,
		blockEv(0, llm.Block{Type: llm.BlockText}), deltaEv(llm.EventTextDelta, 0, "Checking."), stopEv(0),
		rCall(1, "call_abc", "get_weather", ""), deltaEv(llm.EventToolArgsDelta, 1, `{"city":`), deltaEv(llm.EventToolArgsDelta, 1, `"Paris"}`), stopEv(1),
		rUsage, evFinish(llm.FinishToolCalls)}},
	{"parallel_tool_calls", true, []llm.Event{rStart,
		rCall(0, "call_1", "get_weather", ""), deltaEv(llm.EventToolArgsDelta, 0, `{"city":"Rome"}`), stopEv(0),
		rCall(1, "call_2", "mcp__docs__get_page", `{"path":"a.md"}`), stopEv(1),
		rCall(2, "call_3", "get_weather", ""), stopEv(2),
		rUsage, evFinish(llm.FinishToolCalls)}},
	{"reasoning", true, []llm.Event{rStart,
		blockEv(0, llm.Block{Type: llm.BlockThinking}), deltaEv(llm.EventThinkingDelta, 0, "Let me "), deltaEv(llm.EventThinkingDelta, 0, "think."),
		deltaEv(llm.EventSignatureDelta, 0, "EqcDsig=="), stopEv(0),
		blockEv(1, llm.Block{Type: llm.BlockRedactedThinking, Data: "redacted=="}), stopEv(1),
		blockEv(2, llm.Block{Type: llm.BlockText}), deltaEv(llm.EventTextDelta, 2, "Done."), stopEv(2),
		blockEv(3, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "call_w", Name: "get_weather", Signature: "CiUBgem"}}), stopEv(3),
		rUsage, evFinish(llm.FinishToolCalls)}},
	{"custom_tool_function_form", true, []llm.Event{rStart,
		rCall(0, "toolu_p", "apply_patch", ""), deltaEv(llm.EventToolArgsDelta, 0, `{"input":"*** Begin Patch\n`), deltaEv(llm.EventToolArgsDelta, 0, `*** End Patch\n"}`), stopEv(0),
		rUsage, evFinish(llm.FinishToolCalls)}},
	{"custom_tool_native", true, []llm.Event{rStart,
		blockEv(0, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "call_n", Name: "apply_patch", Type: "custom"}}),
		deltaEv(llm.EventToolArgsDelta, 0, "*** Begin Patch\n"), deltaEv(llm.EventToolArgsDelta, 0, "*** End Patch\n"), stopEv(0),
		evFinish(llm.FinishToolCalls)}},
	{"incomplete_length", false, []llm.Event{rStart, blockEv(0, llm.Block{Type: llm.BlockText}),
		deltaEv(llm.EventTextDelta, 0, "cut sh"), stopEv(0), evFinish(llm.FinishLength), rUsage}},
	{"content_filter", false, []llm.Event{rStart, evFinish(llm.FinishContentFilter)}},
	{"error_midstream", true, []llm.Event{rStart, blockEv(0, llm.Block{Type: llm.BlockText}), deltaEv(llm.EventTextDelta, 0, "partial"),
		{Type: llm.EventError, Err: &llm.Error{Kind: llm.KindProviderOverloaded, Status: 503, Provider: "anthropic", Message: "upstream overloaded"}},
		deltaEv(llm.EventTextDelta, 0, "ignored"), evFinish(llm.FinishStop)}},
	{"error_rate_limited", false, []llm.Event{
		{Type: llm.EventError, Err: &llm.Error{Kind: llm.KindProviderRateLimited, Status: 429, Code: "rate_limit_exceeded", Message: "slow down"}}}},
	{"no_start_no_stop", false, []llm.Event{deltaEv(llm.EventThinkingDelta, 0, "hmm"), deltaEv(llm.EventTextDelta, 1, "x"),
		deltaEv(llm.EventToolArgsDelta, 5, "dropped"), evFinish(llm.FinishStop)}},
	{"empty", false, nil},
	{"unicode", false, []llm.Event{rStart, deltaEv(llm.EventTextDelta, 0, "tab\tnul\x00 emoji 😀 ls\u2028 bad\xff <&>"), evFinish(llm.FinishStop)}},
}

func TestResponsesStreamEncoderGolden(t *testing.T) {
	for _, tt := range responsesStreamCases {
		t.Run(tt.name, func(t *testing.T) {
			meta := respMeta
			if tt.req {
				meta.Request = respRequest(t)
			}
			got := encodeResponsesStream(meta, tt.events)
			checkResponsesStream(t, got)
			golden(t, "responses/stream_"+tt.name, got)
		})
	}
}

// checkResponsesStream asserts the framing and ordering rules of a
// Responses stream: event line = data type, sequence numbers 0, 1, 2…,
// created and in_progress first, items announced in output order before any
// delta and finished once, content parts added before their text, and one
// terminal event last.
func checkResponsesStream(t *testing.T, wire []byte) {
	t.Helper()
	frames := strings.Split(strings.TrimSuffix(string(wire), "\n\n"), "\n\n")
	type itemState struct {
		index int
		done  bool
		parts map[int64]bool
	}
	items := map[string]*itemState{}
	terminal := ""
	for i, frame := range frames {
		ev, data, ok := strings.Cut(frame, "\n")
		typ, ok1 := strings.CutPrefix(ev, "event: ")
		body, ok2 := strings.CutPrefix(data, "data: ")
		if !ok || !ok1 || !ok2 || strings.Contains(body, "\n") {
			t.Fatalf("bad frame %d: %q", i, frame)
		}
		if !json.Valid([]byte(body)) {
			t.Fatalf("frame %d is not JSON: %s", i, body)
		}
		v := gjson.Parse(body)
		if v.Get("type").Str != typ {
			t.Errorf("frame %d: event %s but type %s", i, typ, v.Get("type").Str)
		}
		if v.Get("error").Exists() {
			t.Errorf("frame %d has a top-level error member (the SDK would throw): %s", i, body)
		}
		if n := v.Get("sequence_number"); n.Type != gjson.Number || n.Int() != int64(i) {
			t.Errorf("frame %d: sequence_number %s", i, n.Raw)
		}
		if terminal != "" {
			t.Errorf("frame %d (%s) after %s", i, typ, terminal)
		}
		switch {
		case i == 0 && typ != "response.created", i == 1 && typ != "response.in_progress":
			t.Errorf("frame %d is %s", i, typ)
		}
		itemID := v.Get("item_id").Str
		switch typ {
		case "response.created", "response.in_progress":
			if i > 1 {
				t.Errorf("%s at frame %d", typ, i)
			}
		case "response.output_item.added":
			id := v.Get("item.id").Str
			if items[id] != nil {
				t.Errorf("item %s added twice", id)
			}
			if idx := int(v.Get("output_index").Int()); idx != len(items) {
				t.Errorf("item %s at output_index %d, want %d", id, idx, len(items))
			}
			items[id] = &itemState{index: len(items), parts: map[int64]bool{}}
		case "response.output_item.done":
			it := items[v.Get("item.id").Str]
			if it == nil || it.done || int(v.Get("output_index").Int()) != it.index {
				t.Errorf("bad output_item.done %s", body)
			} else {
				it.done = true
			}
		case "response.completed", "response.incomplete", "response.failed":
			terminal = typ
			for id, it := range items {
				if !it.done && typ != "response.failed" {
					t.Errorf("item %s never done", id)
				}
				if got := v.Get("response.output." + itoa(it.index) + ".id").Str; got != id {
					t.Errorf("final output[%d] is %s, want %s", it.index, got, id)
				}
			}
			if n := len(v.Get("response.output").Array()); n != len(items) {
				t.Errorf("final output has %d items, stream announced %d", n, len(items))
			}
		case "error":
			if !v.Get("code").Exists() || !v.Get("message").Exists() || !v.Get("param").Exists() {
				t.Errorf("error event %s", body)
			}
		default:
			it := items[itemID]
			if it == nil || it.done {
				t.Errorf("%s for an item not announced or already done: %s", typ, body)
				continue
			}
			if int(v.Get("output_index").Int()) != it.index {
				t.Errorf("%s: output_index %d, want %d", typ, v.Get("output_index").Int(), it.index)
			}
			ci := v.Get("content_index").Int()
			switch typ {
			case "response.content_part.added":
				it.parts[ci] = true
			case "response.output_text.delta", "response.output_text.done", "response.content_part.done":
				if !it.parts[ci] {
					t.Errorf("%s before content_part.added: %s", typ, body)
				}
				if typ != "response.content_part.done" && !v.Get("logprobs").IsArray() {
					t.Errorf("%s without logprobs: %s", typ, body)
				}
			}
		}
	}
	if terminal == "" {
		t.Errorf("stream without a terminal event")
	}
}

type sdkResult struct {
	types    []string
	text     string
	items    []responses.ResponseOutputItemUnion
	final    responses.Response
	terminal string
	errEvent *responses.ResponseErrorEvent
}

// sdkStream decodes a stream with the official SDK's SSE decoder and event
// types, and feeds every event to its ResponseAccumulator.
func sdkStream(t *testing.T, wire []byte) sdkResult {
	t.Helper()
	res := &http.Response{Header: http.Header{"Content-Type": {"text/event-stream"}}, Body: io.NopCloser(bytes.NewReader(wire))}
	stream := ssestream.NewStream[responses.ResponseStreamEventUnion](ssestream.NewDecoder(res), nil)
	var acc responses.ResponseAccumulator
	var r sdkResult
	var text strings.Builder
	for stream.Next() {
		ev := stream.Current()
		r.types = append(r.types, ev.Type)
		var wsEv responses.ResponsesServerEventUnion
		if err := json.Unmarshal([]byte(ev.RawJSON()), &wsEv); err != nil {
			t.Fatalf("server event union: %v", err)
		}
		if err := acc.AddEvent(wsEv); err != nil && ev.Type != "error" {
			t.Fatalf("accumulator refused %s: %v\n%s", ev.Type, err, ev.RawJSON())
		}
		switch ev.Type {
		case "response.output_text.delta":
			text.WriteString(ev.AsResponseOutputTextDelta().Delta)
		case "response.output_item.done":
			r.items = append(r.items, ev.AsResponseOutputItemDone().Item)
		case "response.completed":
			r.final, r.terminal = ev.AsResponseCompleted().Response, ev.Type
		case "response.incomplete":
			r.final, r.terminal = ev.AsResponseIncomplete().Response, ev.Type
		case "response.failed":
			r.final, r.terminal = ev.AsResponseFailed().Response, ev.Type
		case "error":
			e := ev.AsError()
			r.errEvent = &e
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("SDK stream error: %v", err)
	}
	r.text = text.String()
	if r.errEvent == nil {
		snap := acc.Snapshot()
		if snap.TerminalEvent != r.terminal || snap.OutputText() != r.text {
			t.Errorf("accumulator snapshot: terminal %q text %q; stream: %q %q", snap.TerminalEvent, snap.OutputText(), r.terminal, r.text)
		}
		rec, err := acc.ReconstructedResponse()
		if err != nil {
			t.Fatalf("ReconstructedResponse: %v", err)
		}
		if rec.ID != r.final.ID || len(rec.Output) != len(r.final.Output) {
			t.Errorf("reconstructed %s with %d items, final %s with %d", rec.ID, len(rec.Output), r.final.ID, len(r.final.Output))
		}
	}
	return r
}

func sdkResponse(t *testing.T, body []byte) responses.Response {
	t.Helper()
	var r responses.Response
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("SDK cannot read the response: %v\n%s", err, body)
	}
	return r
}

// TestResponsesStreamEncoderSDK decodes the encoder's output with the
// official openai-go SSE decoder, its Responses event types and its
// ResponseAccumulator.
func TestResponsesStreamEncoderSDK(t *testing.T) {
	byName := map[string][]llm.Event{}
	for _, c := range responsesStreamCases {
		byName[c.name] = c.events
	}
	meta := respMeta
	meta.Request = respRequest(t)

	r := sdkStream(t, encodeResponsesStream(meta, byName["reasoning"]))
	if r.terminal != "response.completed" || r.text != "Done." {
		t.Errorf("terminal %q text %q", r.terminal, r.text)
	}
	u := r.final.Usage
	if u.InputTokens != 15 || u.InputTokensDetails.CachedTokens != 5 || u.OutputTokens != 7 ||
		u.OutputTokensDetails.ReasoningTokens != 2 || u.TotalTokens != 22 {
		t.Errorf("usage = %+v", u)
	}
	var kinds []string
	for _, it := range r.final.Output {
		kinds = append(kinds, it.Type)
	}
	if got := strings.Join(kinds, ","); got != "reasoning,reasoning,message,reasoning,function_call" {
		t.Errorf("output kinds = %s", got)
	}
	if s := r.final.Output[0].Summary; len(s) != 1 || s[0].Text != "Let me think." || r.final.Output[0].EncryptedContent == "" {
		t.Errorf("reasoning item = %+v", r.final.Output[0])
	}
	if fc := r.final.Output[4]; fc.CallID != "call_w" || fc.Name != "get_weather" || fc.Arguments.OfString != "{}" {
		t.Errorf("function call = %+v", fc)
	}

	r = sdkStream(t, encodeResponsesStream(meta, byName["parallel_tool_calls"]))
	if len(r.items) != 3 || r.items[1].Name != "get_page" || r.items[1].Namespace != "mcp__docs__" ||
		r.items[1].Arguments.OfString != `{"path":"a.md"}` || r.items[0].Arguments.OfString != `{"city":"Rome"}` {
		t.Errorf("items = %+v", r.items)
	}

	r = sdkStream(t, encodeResponsesStream(meta, byName["custom_tool_native"]))
	if len(r.items) != 1 || r.items[0].Type != "custom_tool_call" || r.items[0].Input != "*** Begin Patch\n*** End Patch\n" {
		t.Errorf("items = %+v", r.items)
	}

	r = sdkStream(t, encodeResponsesStream(respMeta, byName["incomplete_length"]))
	if r.terminal != "response.incomplete" || r.final.Status != "incomplete" || r.final.IncompleteDetails.Reason != "max_output_tokens" ||
		r.final.Output[0].Status != "incomplete" || r.final.Usage.OutputTokens != 7 {
		t.Errorf("incomplete: %+v", r.final)
	}

	// A failure is an error event (which the SDK yields without failing)
	// and response.failed, which clients act on.
	r = sdkStream(t, encodeResponsesStream(meta, byName["error_midstream"]))
	if r.errEvent == nil || r.errEvent.Code != "server_error" || !strings.Contains(r.errEvent.Message, "upstream overloaded") {
		t.Errorf("error event = %+v", r.errEvent)
	}
	if r.terminal != "response.failed" || r.final.Status != "failed" || r.final.Error.Code != "server_error" ||
		!strings.Contains(r.final.Error.Message, "upstream overloaded") || r.final.Output[0].Status != "incomplete" {
		t.Errorf("failed response = %+v", r.final)
	}
	if got := strings.Join(r.types[len(r.types)-2:], ","); got != "error,response.failed" {
		t.Errorf("last events = %s", got)
	}
}

// TestResponsesStreamMatchesResponse: the completed response of a stream is
// the response EncodeResponsesResponse makes of the folded stream.
func TestResponsesStreamMatchesResponse(t *testing.T) {
	for _, tt := range responsesStreamCases {
		if strings.HasPrefix(tt.name, "error") || tt.name == "no_start_no_stop" || tt.name == "unicode" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			meta := respMeta
			if tt.req {
				meta.Request = respRequest(t)
			}
			wire := encodeResponsesStream(meta, tt.events)
			frames := strings.Split(strings.TrimSuffix(string(wire), "\n\n"), "\n\n")
			_, last, _ := strings.Cut(frames[len(frames)-1], "\ndata: ")
			streamed := gjson.Get(last, "response").Raw
			var f llm.Folder
			for _, ev := range tt.events {
				f.Add(ev)
			}
			whole := EncodeResponsesResponse(f.Response(), meta)
			if g, w := indent(t, []byte(streamed)), indent(t, whole); !bytes.Equal(g, w) {
				t.Errorf("stream and whole response differ\n--- stream\n%s\n--- whole\n%s", g, w)
			}
		})
	}
}

func TestResponsesStreamEncoderAllocs(t *testing.T) {
	enc := NewResponsesStreamEncoder(respMeta)
	buf := make([]byte, 0, 8192)
	buf = enc.Encode(buf, rStart)
	buf = enc.Encode(buf, blockEv(0, llm.Block{Type: llm.BlockText}))
	_ = buf
	ev := deltaEv(llm.EventTextDelta, 0, "token ")
	allocs := testing.AllocsPerRun(1000, func() {
		buf = enc.Encode(buf[:0], ev)
	})
	if allocs > 1 { // the text kept for output_text.done grows amortized
		t.Errorf("Encode allocates %.1f times per text delta", allocs)
	}
}
