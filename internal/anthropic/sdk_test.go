package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"

	"github.com/rickyjim626/xjp/internal/llm"
)

// sdkGateway is a stand-in for xjp's /v1/messages handler: it decodes with
// DecodeMessagesRequest, answers like a translated OpenAI upstream would
// (usage only at the end), and encodes with EncodeMessagesResponse or
// MessagesStreamEncoder, so that the official SDK checks both faces.
type sdkGateway struct {
	mu      sync.Mutex
	reqs    []*llm.Request
	headers []http.Header
}

func (g *sdkGateway) last() (*llm.Request, http.Header) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.reqs[len(g.reqs)-1], g.headers[len(g.headers)-1]
}

func (g *sdkGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, err := DecodeMessagesRequest(body)
	if err == nil && strings.Contains(llm.Message{Content: req.Messages[len(req.Messages)-1].Content}.Text(), "fail") {
		err = &llm.Error{Kind: llm.KindPolicyBudget, Status: 429, Message: "rate limit reached for key"}
	}
	if err != nil {
		e := llm.AsError(err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(e.Status)
		w.Write(EncodeError(e))
		return
	}
	g.mu.Lock()
	g.reqs, g.headers = append(g.reqs, req), append(g.headers, r.Header.Clone())
	g.mu.Unlock()

	evs := answer(req)
	meta := ResponseMeta{ID: "msg_sdk", Model: req.Model}
	if !req.Stream {
		var f llm.Folder
		for _, ev := range evs {
			f.Add(ev)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(EncodeMessagesResponse(f.Response(), meta))
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	enc := NewMessagesStreamEncoder(meta)
	for _, ev := range evs {
		w.Write(enc.Encode(nil, ev))
		w.(http.Flusher).Flush()
	}
	w.Write(enc.End(nil))
}

// answer is a tiny deterministic model: it quotes tool results, calls the
// first tool when it has one, and otherwise greets.
func answer(req *llm.Request) []llm.Event {
	evs := []llm.Event{{Type: llm.EventStart, ID: "chatcmpl-x", Model: "upstream"}}
	last := req.Messages[len(req.Messages)-1]
	switch {
	case last.Role == llm.RoleTool:
		evs = append(evs, textBlock(0), delta(llm.EventTextDelta, 0, "The tool said: "+last.Content[0].ToolResult.Text()), stop(0), finish(llm.FinishStop))
	case len(req.Tools) > 0:
		evs = append(evs, textBlock(0), delta(llm.EventTextDelta, 0, "Let me check."), stop(0),
			toolBlock(1, "call_1", req.Tools[0].Name, ""),
			delta(llm.EventToolArgsDelta, 1, `{"city":`), delta(llm.EventToolArgsDelta, 1, `"Paris"}`), stop(1),
			finish(llm.FinishToolCalls))
	default:
		evs = append(evs, textBlock(0), delta(llm.EventTextDelta, 0, "Hello"), delta(llm.EventTextDelta, 0, " there"), stop(0), finish(llm.FinishStop))
	}
	return append(evs, usage(llm.Usage{InputTokens: 21, CacheReadTokens: 4, OutputTokens: 9}))
}

func sdkClient(t *testing.T) (anthropicsdk.Client, *sdkGateway) {
	// The SDK reads these; the test's explicit options must be all it uses.
	for _, k := range []string{"ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_CUSTOM_HEADERS", "ANTHROPIC_PROFILE"} {
		t.Setenv(k, "")
	}
	g := &sdkGateway{}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	c := anthropicsdk.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("xjp-test-key"), option.WithMaxRetries(0))
	return c, g
}

var weatherTool = anthropicsdk.ToolUnionParam{OfTool: &anthropicsdk.ToolParam{
	Name:        "get_weather",
	Description: anthropicsdk.String("Current weather"),
	InputSchema: anthropicsdk.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}, Required: []string{"city"}},
}}

func TestSDKNonStream(t *testing.T) {
	c, g := sdkClient(t)
	msg, err := c.Messages.New(context.Background(), anthropicsdk.MessageNewParams{
		Model:     "smart",
		MaxTokens: 1024,
		System:    []anthropicsdk.TextBlockParam{{Text: "Be nice."}},
		Messages:  []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Hi"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "Hello there" || msg.StopReason != "end_turn" || msg.ID != "msg_sdk" {
		t.Errorf("msg = %s", msg.RawJSON())
	}
	if msg.Usage.InputTokens != 21 || msg.Usage.CacheReadInputTokens != 4 || msg.Usage.OutputTokens != 9 {
		t.Errorf("usage = %s", msg.Usage.RawJSON())
	}
	req, h := g.last()
	if h.Get("Anthropic-Version") != Version20261021 || h.Get("Authorization") != "Bearer xjp-test-key" {
		t.Errorf("SDK headers: version %q auth %q", h.Get("Anthropic-Version"), h.Get("Authorization"))
	}
	if req.Messages[0].Role != llm.RoleSystem || req.MaxTokens != 1024 || req.Stream {
		t.Errorf("decoded %+v", req)
	}
}

func TestSDKStreamToolRoundTrip(t *testing.T) {
	c, g := sdkClient(t)
	ctx := context.Background()
	params := anthropicsdk.MessageNewParams{
		Model:     "smart",
		MaxTokens: 1024,
		Tools:     []anthropicsdk.ToolUnionParam{weatherTool},
		Messages:  []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Weather in Paris?"))},
	}
	stream := c.Messages.NewStreaming(ctx, params)
	var msg anthropicsdk.Message
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 2 || msg.Content[1].Type != "tool_use" || msg.StopReason != "tool_use" {
		t.Fatalf("msg = %s", msg.RawJSON())
	}
	var input map[string]string
	if err := json.Unmarshal(msg.Content[1].Input, &input); err != nil || input["city"] != "Paris" {
		t.Errorf("tool input = %s (%v)", msg.Content[1].Input, err)
	}
	if msg.Usage.InputTokens != 21 || msg.Usage.OutputTokens != 9 || msg.Usage.CacheReadInputTokens != 4 {
		t.Errorf("usage (copied from message_delta) = %s", msg.Usage.RawJSON())
	}
	req, _ := g.last()
	if !req.Stream || len(req.Tools) != 1 || req.Tools[0].Name != "get_weather" {
		t.Errorf("decoded %+v", req)
	}

	// Second turn: the tool result goes back.
	toolUse := msg.Content[1]
	params.Messages = append(params.Messages,
		anthropicsdk.NewAssistantMessage(anthropicsdk.NewTextBlock(msg.Content[0].Text), anthropicsdk.NewToolUseBlock(toolUse.ID, toolUse.Input, toolUse.Name)),
		anthropicsdk.NewUserMessage(anthropicsdk.NewToolResultBlock(toolUse.ID, "18°C and sunny", false)))
	stream = c.Messages.NewStreaming(ctx, params)
	msg = anthropicsdk.Message{}
	for stream.Next() {
		if err := msg.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(msg.Content) != 1 || msg.Content[0].Text != "The tool said: 18°C and sunny" {
		t.Errorf("msg = %s", msg.RawJSON())
	}
	req, _ = g.last()
	tr := req.Messages[len(req.Messages)-1]
	if tr.Role != llm.RoleTool || tr.Content[0].ToolResult.ToolCallID != "call_1" {
		t.Errorf("tool result decoded as %+v", tr)
	}
	if call := req.Messages[1].Content[1].ToolCall; call == nil || call.ID != "call_1" || call.Arguments != `{"city":"Paris"}` {
		t.Errorf("tool call decoded as %+v", req.Messages[1].Content)
	}
}

func TestSDKImage(t *testing.T) {
	c, g := sdkClient(t)
	const png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
	_, err := c.Messages.New(context.Background(), anthropicsdk.MessageNewParams{
		Model:     "smart",
		MaxTokens: 100,
		Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(
			anthropicsdk.NewImageBlockBase64("image/png", png), anthropicsdk.NewTextBlock("What is this?"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := g.last()
	p := req.Messages[0].Content[0]
	if p.Type != llm.PartImage || p.Media.MediaType != "image/png" || p.Media.Data != png {
		t.Errorf("image decoded as %+v", p)
	}
}

func TestSDKError(t *testing.T) {
	c, _ := sdkClient(t)
	_, err := c.Messages.New(context.Background(), anthropicsdk.MessageNewParams{
		Model: "smart", MaxTokens: 10,
		Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("please fail"))},
	})
	var apiErr *anthropicsdk.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Type() != "rate_limit_error" || apiErr.Message != "rate limit reached for key" {
		t.Fatalf("err = %v", err)
	}
}
