package vertex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/genai"

	"github.com/rickyjim626/xjp/internal/llm"
)

func encodeGeminiStream(sse bool, events []llm.Event) []byte {
	enc := NewGenerateContentStreamEncoder("gemini-2.5-pro", sse)
	var out []byte
	for _, ev := range events {
		out = enc.Encode(out, ev)
	}
	return enc.End(out)
}

var (
	gStart = llm.Event{Type: llm.EventStart, ID: "resp-up-1", Model: "upstream"}
	gUsage = llm.Event{Type: llm.EventUsage, Usage: &llm.Usage{InputTokens: 10, CacheReadTokens: 5, OutputTokens: 7, ReasoningTokens: 2}}
	gBlock = func(i int, b llm.Block) llm.Event { return llm.Event{Type: llm.EventBlockStart, Index: i, Block: &b} }
	gDelta = func(t llm.EventType, i int, s string) llm.Event { return llm.Event{Type: t, Index: i, Text: s} }
	gStop  = func(i int) llm.Event { return llm.Event{Type: llm.EventBlockStop, Index: i} }
	gEnd   = func(r llm.FinishReason) llm.Event { return llm.Event{Type: llm.EventFinish, Finish: r} }
)

var geminiStreamCases = []struct {
	name   string
	events []llm.Event
}{
	{"text", []llm.Event{gStart, gBlock(0, llm.Block{Type: llm.BlockText}), gDelta(llm.EventTextDelta, 0, "Hel"), gDelta(llm.EventTextDelta, 0, "lo"), gStop(0), gUsage, gEnd(llm.FinishStop)}},
	{"parallel_tool_calls", []llm.Event{gStart,
		gBlock(0, llm.Block{Type: llm.BlockText}), gDelta(llm.EventTextDelta, 0, "Checking."), gStop(0),
		gBlock(1, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "toolu_1", Name: "lookup"}}),
		gDelta(llm.EventToolArgsDelta, 1, `{"q":`), gDelta(llm.EventToolArgsDelta, 1, `"x"}`), gStop(1),
		gBlock(2, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "toolu_2", Name: "lookup", Arguments: `{"q":"y"}`}}), gStop(2),
		gUsage, gEnd(llm.FinishToolCalls)}},
	{"reasoning", []llm.Event{gStart,
		gBlock(0, llm.Block{Type: llm.BlockThinking}), gDelta(llm.EventThinkingDelta, 0, "Let me "), gDelta(llm.EventThinkingDelta, 0, "think."),
		gDelta(llm.EventSignatureDelta, 0, "YW50aHJvcGljIHNpZyBieXRlcw=="), gStop(0),
		gBlock(1, llm.Block{Type: llm.BlockRedactedThinking, Data: "opaque"}), gStop(1),
		gBlock(2, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "call_g", Name: "lookup", Signature: "Z2VtaW5pLWNhbGw="}}), gStop(2),
		gUsage, gEnd(llm.FinishToolCalls)}},
	{"max_tokens", []llm.Event{gStart, gBlock(0, llm.Block{Type: llm.BlockText}), gDelta(llm.EventTextDelta, 0, "cut"), gStop(0), gEnd(llm.FinishLength), gUsage}},
	{"unstopped_call", []llm.Event{gStart, gBlock(0, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "c", Name: "f", Type: "custom"}}),
		gDelta(llm.EventToolArgsDelta, 0, "raw input"), gEnd(llm.FinishToolCalls)}},
	{"error_midstream", []llm.Event{gStart, gBlock(0, llm.Block{Type: llm.BlockText}), gDelta(llm.EventTextDelta, 0, "partial"),
		{Type: llm.EventError, Err: &llm.Error{Kind: llm.KindProviderOverloaded, Status: 503, Provider: "anthropic", Message: "upstream overloaded"}},
		gDelta(llm.EventTextDelta, 0, "ignored")}},
	{"error_first", []llm.Event{{Type: llm.EventError, Err: &llm.Error{Kind: llm.KindProviderRateLimited, Status: 429, Message: "slow down"}}}},
	{"empty", nil},
}

func TestGenerateContentStreamEncoderGolden(t *testing.T) {
	for _, tt := range geminiStreamCases {
		for _, sse := range []bool{true, false} {
			name := tt.name + ".json"
			if sse {
				name = tt.name + ".sse"
			}
			t.Run(name, func(t *testing.T) {
				got := encodeGeminiStream(sse, tt.events)
				checkGeminiStream(t, got, sse)
				checkGolden(t, "ingress/stream_"+name, got)
			})
		}
	}
}

// checkGeminiStream asserts the framing: SSE events "data: <json>\r\n\r\n"
// (one JSON object each), or one JSON array of them; only the last chunk
// has a finish reason or an error.
func checkGeminiStream(t *testing.T, wire []byte, sse bool) {
	t.Helper()
	var chunks []json.RawMessage
	if sse {
		if !bytes.HasSuffix(wire, []byte("\r\n\r\n")) {
			t.Fatalf("stream does not end with CRLF CRLF: %q", wire)
		}
		for _, ev := range strings.Split(strings.TrimSuffix(string(wire), "\r\n\r\n"), "\r\n\r\n") {
			data, ok := strings.CutPrefix(ev, "data: ")
			if !ok || strings.ContainsAny(data, "\r\n") || !json.Valid([]byte(data)) {
				t.Fatalf("bad event %q", ev)
			}
			chunks = append(chunks, json.RawMessage(data))
		}
	} else if err := json.Unmarshal(wire, &chunks); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, wire)
	}
	for i, c := range chunks {
		var r GenerateContentResponse
		if err := json.Unmarshal(c, &r); err != nil {
			t.Fatalf("chunk %d: %v", i, err)
		}
		last := i == len(chunks)-1
		if r.Error != nil && !last {
			t.Errorf("error in chunk %d of %d", i, len(chunks))
		}
		if r.Error == nil && (len(r.Candidates) != 1 || (r.Candidates[0].FinishReason != "") != last || (r.UsageMetadata != nil) != last) {
			t.Errorf("chunk %d: %s", i, c)
		}
	}
}

// ---- the official SDK against the codec ----

// geminiServer answers like xjp's Gemini ingress would: the request is
// decoded, the answer is events, encoded whole or as a stream.
type geminiServer struct {
	t       *testing.T
	events  []llm.Event
	gotReq  *llm.Request
	gotPath string
	status  int // answer this error status instead
}

func (s *geminiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.gotPath = r.URL.Path + "?" + r.URL.RawQuery
	if r.Header.Get("x-goog-api-key") != "test-key" {
		s.t.Errorf("key header = %q", r.Header.Get("x-goog-api-key"))
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1beta/models/")
	model, method, _ := strings.Cut(path, ":")
	if s.status != 0 {
		w.WriteHeader(s.status)
		w.Write(EncodeGoogleError(&llm.Error{Kind: llm.KindPolicyBudget, Status: s.status, Message: "quota exceeded for key"}))
		return
	}
	var err error
	if method == "countTokens" {
		s.gotReq, err = DecodeCountTokensRequest(model, body)
	} else {
		s.gotReq, err = DecodeGenerateContentRequest(model, body)
	}
	if err != nil {
		e := llm.AsError(err)
		w.WriteHeader(e.Status)
		w.Write(EncodeGoogleError(e))
		return
	}
	switch method {
	case "countTokens":
		w.Write(EncodeCountTokensResponse(int64(len(s.gotReq.Messages) * 10)))
	case "generateContent":
		var f llm.Folder
		for _, ev := range s.events {
			f.Add(ev)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(EncodeGenerateContentResponse(f.Response(), model))
	case "streamGenerateContent":
		sse := r.URL.Query().Get("alt") == "sse"
		w.Header().Set("Content-Type", "text/event-stream")
		enc := NewGenerateContentStreamEncoder(model, sse)
		for _, ev := range s.events {
			w.Write(enc.Encode(nil, ev))
			w.(http.Flusher).Flush()
		}
		w.Write(enc.End(nil))
	default:
		w.WriteHeader(404)
	}
}

func genaiClient(t *testing.T, h http.Handler) *genai.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := genai.NewClient(context.Background(), &genai.ClientConfig{
		Backend: genai.BackendGeminiAPI, APIKey: "test-key",
		HTTPOptions: genai.HTTPOptions{BaseURL: srv.URL},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// genaiTurn is a tool-turn conversation built with the SDK's own types.
func genaiTurn() ([]*genai.Content, *genai.GenerateContentConfig) {
	temp := float32(0.2)
	budget := int32(1024)
	contents := []*genai.Content{
		genai.NewContentFromText("Weather in Paris?", genai.RoleUser),
		{Role: genai.RoleModel, Parts: []*genai.Part{
			{Text: "Need the tool.", Thought: true, ThoughtSignature: []byte("thought-sig")},
			{FunctionCall: &genai.FunctionCall{Name: "get_weather", Args: map[string]any{"city": "Paris"}}, ThoughtSignature: []byte("call-sig")},
		}},
		{Role: genai.RoleUser, Parts: []*genai.Part{genai.NewPartFromFunctionResponse("get_weather", map[string]any{"output": "18C"})}},
		genai.NewContentFromText("And Rome?", genai.RoleUser),
	}
	cfg := &genai.GenerateContentConfig{
		SystemInstruction: genai.NewContentFromText("Be brief.", genai.RoleUser),
		Temperature:       &temp,
		MaxOutputTokens:   512,
		ThinkingConfig:    &genai.ThinkingConfig{IncludeThoughts: true, ThinkingBudget: &budget},
		Tools: []*genai.Tool{{FunctionDeclarations: []*genai.FunctionDeclaration{{
			Name: "get_weather", Description: "Weather by city",
			Parameters: &genai.Schema{Type: genai.TypeObject, Properties: map[string]*genai.Schema{"city": {Type: genai.TypeString}}, Required: []string{"city"}},
		}}}},
	}
	return contents, cfg
}

func TestGenaiSDK(t *testing.T) {
	events := geminiStreamCases[2].events // reasoning, redacted, signed call
	events = append([]llm.Event{}, events...)
	events = append(events[:len(events)-2],
		gBlock(3, llm.Block{Type: llm.BlockText}), gDelta(llm.EventTextDelta, 3, "Calling."), gStop(3),
		gBlock(4, llm.Block{Type: llm.BlockToolCall, ToolCall: &llm.ToolCall{ID: "toolu_9", Name: "get_weather"}}),
		gDelta(llm.EventToolArgsDelta, 4, `{"city":"Rome"}`), gStop(4),
		gUsage, gEnd(llm.FinishToolCalls))
	srv := &geminiServer{t: t, events: events}
	client := genaiClient(t, srv)
	ctx := context.Background()
	contents, cfg := genaiTurn()

	check := func(parts []*genai.Part, usage *genai.GenerateContentResponseUsageMetadata) {
		t.Helper()
		var thoughts, text strings.Builder
		var calls []*genai.FunctionCall
		var sigs []string
		for _, p := range parts {
			switch {
			case p.FunctionCall != nil:
				calls = append(calls, p.FunctionCall)
				sigs = append(sigs, string(p.ThoughtSignature))
			case p.Thought:
				thoughts.WriteString(p.Text)
			default:
				text.WriteString(p.Text)
			}
		}
		if thoughts.String() != "Let me think." || text.String() != "Calling." {
			t.Errorf("thoughts %q text %q", thoughts.String(), text.String())
		}
		if len(calls) != 2 || calls[0].ID != "call_g" || calls[0].Name != "lookup" || calls[1].ID != "toolu_9" || calls[1].Args["city"] != "Rome" {
			t.Errorf("calls = %+v", calls)
		}
		if len(sigs) != 2 || sigs[0] == "" || sigs[1] != "" {
			t.Errorf("call signatures = %q", sigs)
		}
		if usage == nil || usage.PromptTokenCount != 15 || usage.CandidatesTokenCount != 5 || usage.ThoughtsTokenCount != 2 ||
			usage.CachedContentTokenCount != 5 || usage.TotalTokenCount != 22 {
			t.Errorf("usage = %+v", usage)
		}
	}

	resp, err := client.Models.GenerateContent(ctx, "gemini-2.5-pro", contents, cfg)
	if err != nil {
		t.Fatalf("GenerateContent: %v", err)
	}
	if srv.gotPath != "/v1beta/models/gemini-2.5-pro:generateContent?" {
		t.Errorf("path = %s", srv.gotPath)
	}
	checkGenaiRequest(t, srv.gotReq)
	if resp.Candidates[0].FinishReason != genai.FinishReasonStop {
		t.Errorf("finish = %s", resp.Candidates[0].FinishReason)
	}
	check(resp.Candidates[0].Content.Parts, resp.UsageMetadata)

	var parts []*genai.Part
	var usage *genai.GenerateContentResponseUsageMetadata
	var finish genai.FinishReason
	for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-2.5-pro", contents, cfg) {
		if err != nil {
			t.Fatalf("stream: %v", err)
		}
		if c := chunk.Candidates[0]; c.Content != nil {
			parts = append(parts, c.Content.Parts...)
		}
		if chunk.Candidates[0].FinishReason != "" {
			finish, usage = chunk.Candidates[0].FinishReason, chunk.UsageMetadata
		}
		if chunk.ResponseID != "resp-up-1" || chunk.ModelVersion != "gemini-2.5-pro" {
			t.Errorf("chunk ids %q %q", chunk.ResponseID, chunk.ModelVersion)
		}
	}
	if srv.gotPath != "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse" {
		t.Errorf("path = %s", srv.gotPath)
	}
	checkGenaiRequest(t, srv.gotReq)
	if finish != genai.FinishReasonStop {
		t.Errorf("stream finish = %q", finish)
	}
	check(parts, usage)

	n, err := client.Models.CountTokens(ctx, "gemini-2.5-pro", contents, nil)
	if err != nil || n.TotalTokens != 40 { // 4 messages: user, model, tool, user
		t.Errorf("CountTokens = %+v, %v", n, err)
	}
}

// checkGenaiRequest: what the SDK sent decoded into the conversation built.
func checkGenaiRequest(t *testing.T, req *llm.Request) {
	t.Helper()
	if req == nil || req.Model != "gemini-2.5-pro" || len(req.Messages) != 5 {
		t.Fatalf("request = %+v", req)
	}
	m := req.Messages
	if m[0].Role != llm.RoleSystem || m[0].Text() != "Be brief." || m[1].Text() != "Weather in Paris?" {
		t.Errorf("messages = %+v", m)
	}
	think, call := m[2].Content[0], m[2].Content[1].ToolCall
	if think.Type != llm.PartThinking || think.Signature == "" || call == nil || call.Name != "get_weather" || call.Arguments != `{"city":"Paris"}` || call.ID == "" {
		t.Errorf("model turn = %+v", m[2].Content)
	}
	if sig, _ := unwrapSignature(call.Signature); sig != "Y2FsbC1zaWc=" {
		t.Errorf("call signature = %q", call.Signature)
	}
	tr := m[3].Content[0].ToolResult
	if m[3].Role != llm.RoleTool || tr.ToolCallID != call.ID || tr.Text() != "18C" {
		t.Errorf("tool result = %+v", tr)
	}
	if req.Temperature == nil || *req.Temperature < 0.19 || req.MaxTokens != 512 || req.Reasoning == nil || req.Reasoning.BudgetTokens != 1024 {
		t.Errorf("settings: temp %v max %d reasoning %+v", req.Temperature, req.MaxTokens, req.Reasoning)
	}
	if len(req.Tools) != 1 || !strings.Contains(string(req.Tools[0].Parameters), `"type":"object"`) || !strings.Contains(string(req.Tools[0].Parameters), `"type":"string"`) {
		t.Errorf("tools = %+v", req.Tools)
	}
}

// TestGenaiSDKErrors: errors reach the SDK as APIError, before the answer
// and in the middle of a stream.
func TestGenaiSDKErrors(t *testing.T) {
	ctx := context.Background()
	client := genaiClient(t, &geminiServer{t: t, status: 429})
	_, err := client.Models.GenerateContent(ctx, "gemini-2.5-pro", genai.Text("hi"), nil)
	var apiErr genai.APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 429 || apiErr.Status != "RESOURCE_EXHAUSTED" || !strings.Contains(apiErr.Message, "quota exceeded") {
		t.Errorf("error = %#v", err)
	}

	client = genaiClient(t, &geminiServer{t: t, events: geminiStreamCases[5].events})
	var text strings.Builder
	var streamErr error
	for chunk, err := range client.Models.GenerateContentStream(ctx, "gemini-2.5-pro", genai.Text("hi"), nil) {
		if err != nil {
			streamErr = err
			break
		}
		text.WriteString(chunk.Text())
	}
	if text.String() != "partial" || !errors.As(streamErr, &apiErr) || apiErr.Code != 503 || apiErr.Status != "UNAVAILABLE" {
		t.Errorf("text %q, error %#v", text.String(), streamErr)
	}

	// A request the decoder refuses is a 400 the SDK reports.
	client = genaiClient(t, &geminiServer{t: t})
	n := int32(2)
	_, err = client.Models.GenerateContent(ctx, "gemini-2.5-pro", genai.Text("hi"), &genai.GenerateContentConfig{CandidateCount: n})
	if !errors.As(err, &apiErr) || apiErr.Code != 400 || apiErr.Status != "INVALID_ARGUMENT" || !strings.Contains(apiErr.Message, "candidateCount") {
		t.Errorf("error = %#v", err)
	}
}
