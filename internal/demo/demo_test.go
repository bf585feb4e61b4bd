package demo

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

var weatherTool = llm.Tool{Name: "get_weather", Description: "weather", Parameters: json.RawMessage(
	`{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"unit":{"enum":["c","f"]}},"required":["city"]}`)}
var timeTool = llm.Tool{Name: "get_time", Parameters: json.RawMessage(`{"type":"object","properties":{"tz":{"type":"string"}}}`)}

func user(text string) llm.Message {
	return llm.Message{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart(text)}}
}

func TestAnswers(t *testing.T) {
	no := false
	tests := []struct {
		name       string
		req        llm.Request
		maxTokens  int
		wantText   string // substring
		wantCalls  []string
		wantArgs   string
		wantFinish llm.FinishReason
		wantThink  bool
	}{
		{name: "greeting echoes the prompt", req: llm.Request{Messages: []llm.Message{user("Hi there")}},
			wantText: `You said: "Hi there".`, wantFinish: llm.FinishStop},
		{name: "tools offered but not asked for", req: llm.Request{Messages: []llm.Message{user("Hello")}, Tools: []llm.Tool{weatherTool}},
			wantText: "Hello from the xjp demo model", wantFinish: llm.FinishStop},
		{name: "tool named in the prompt", req: llm.Request{Messages: []llm.Message{user("What does get_weather say for Paris?")}, Tools: []llm.Tool{weatherTool}},
			wantCalls: []string{"get_weather"}, wantArgs: `{"city":"Paris","days":1,"unit":"c"}`, wantFinish: llm.FinishToolCalls},
		{name: "tool asked for in words", req: llm.Request{Messages: []llm.Message{user("please use a tool")}, Tools: []llm.Tool{timeTool}},
			wantCalls: []string{"get_time"}, wantFinish: llm.FinishToolCalls},
		{name: "tool_choice required", req: llm.Request{Messages: []llm.Message{user("hm")}, Tools: []llm.Tool{timeTool}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceRequired}},
			wantCalls: []string{"get_time"}, wantFinish: llm.FinishToolCalls},
		{name: "tool_choice none wins", req: llm.Request{Messages: []llm.Message{user("get_time please")}, Tools: []llm.Tool{timeTool}, ToolChoice: &llm.ToolChoice{Mode: llm.ToolChoiceNone}},
			wantText: "Hello", wantFinish: llm.FinishStop},
		{name: "parallel calls", req: llm.Request{Messages: []llm.Message{user("get_weather in Oslo and get_time")}, Tools: []llm.Tool{weatherTool, timeTool}},
			wantCalls: []string{"get_weather", "get_time"}, wantFinish: llm.FinishToolCalls},
		{name: "parallel calls off", req: llm.Request{Messages: []llm.Message{user("get_weather and get_time")}, Tools: []llm.Tool{weatherTool, timeTool}, ParallelToolCalls: &no},
			wantCalls: []string{"get_weather"}, wantFinish: llm.FinishToolCalls},
		{name: "tool result answered", req: llm.Request{Messages: []llm.Message{user("get_time"),
			{Role: llm.RoleAssistant, Content: []llm.Part{{Type: llm.PartToolCall, ToolCall: &llm.ToolCall{ID: "c1", Name: "get_time", Arguments: "{}"}}}},
			{Role: llm.RoleTool, Content: []llm.Part{{Type: llm.PartToolResult, ToolResult: &llm.ToolResult{ToolCallID: "c1", Name: "get_time", Content: []llm.Part{llm.TextPart("12:00")}}}}}},
			Tools: []llm.Tool{timeTool}},
			wantText: `The tool get_time returned "12:00".`, wantFinish: llm.FinishStop},
		{name: "max tokens", req: llm.Request{Messages: []llm.Message{user("Hi")}}, maxTokens: 3,
			wantText: "Hello from the ", wantFinish: llm.FinishLength},
		{name: "stop sequence", req: llm.Request{Messages: []llm.Message{user("Hi")}, Stop: []string{"demo"}},
			wantText: "Hello from the xjp ", wantFinish: llm.FinishStopSequence},
		{name: "reasoning", req: llm.Request{Messages: []llm.Message{user("Hi")}, Reasoning: &llm.Reasoning{Effort: "low"}},
			wantText: "Hello", wantFinish: llm.FinishStop, wantThink: true},
	}
	p := New(Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.MaxTokens = tt.maxTokens
			s, err := p.Stream(context.Background(), &llm.Call{Request: &tt.req, Model: "demo"})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := llm.Collect(s)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(resp.Text(), tt.wantText) {
				t.Errorf("text %q does not contain %q", resp.Text(), tt.wantText)
			}
			if tt.wantFinish == llm.FinishLength && resp.Text() != tt.wantText {
				t.Errorf("text %q, want exactly %q", resp.Text(), tt.wantText)
			}
			calls := resp.ToolCalls()
			if len(calls) != len(tt.wantCalls) {
				t.Fatalf("calls %v, want %v", calls, tt.wantCalls)
			}
			for i, c := range calls {
				if c.Name != tt.wantCalls[i] || c.ID == "" || !json.Valid([]byte(c.Arguments)) {
					t.Errorf("call %d = %+v", i, c)
				}
			}
			if tt.wantArgs != "" && calls[0].Arguments != tt.wantArgs {
				t.Errorf("args %s, want %s", calls[0].Arguments, tt.wantArgs)
			}
			if resp.FinishReason != tt.wantFinish {
				t.Errorf("finish %s, want %s", resp.FinishReason, tt.wantFinish)
			}
			hasThink := len(resp.Content) > 0 && resp.Content[0].Type == llm.PartThinking && resp.Content[0].Signature != ""
			if hasThink != tt.wantThink {
				t.Errorf("thinking block = %v, want %v", hasThink, tt.wantThink)
			}
			if resp.Usage.InputTokens <= 0 || resp.Usage.OutputTokens <= 0 {
				t.Errorf("usage %+v", resp.Usage)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	p := New(Options{})
	req := &llm.Request{Messages: []llm.Message{user("same question")}}
	var prev string
	for range 3 {
		s, _ := p.Stream(context.Background(), &llm.Call{Request: req, Model: "demo"})
		resp, _ := llm.Collect(s)
		b, _ := json.Marshal(resp)
		if prev != "" && string(b) != prev {
			t.Fatalf("answers differ:\n%s\n%s", prev, b)
		}
		prev = string(b)
	}
}

func TestFailureTriggers(t *testing.T) {
	p := New(Options{})
	_, err := p.Stream(context.Background(), &llm.Call{Request: &llm.Request{Messages: []llm.Message{user("xjp:fail=503")}}})
	var e *llm.Error
	if !errors.As(err, &e) || e.Kind != llm.KindProviderOverloaded {
		t.Fatalf("fail=503: %v", err)
	}
	s, err := p.Stream(context.Background(), &llm.Call{Request: &llm.Request{Messages: []llm.Message{user("xjp:cut now")}}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := llm.Collect(s)
	if err == nil || resp.Text() == "" {
		t.Fatalf("cut: text %q err %v; want partial text then an error", resp.Text(), err)
	}
}

func TestDelayAndCancel(t *testing.T) {
	p := New(Options{Delay: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := p.Stream(ctx, &llm.Call{Request: &llm.Request{Messages: []llm.Message{user("hi")}}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	deltas := 0
	for s.Next() {
		if s.Event().Type == llm.EventTextDelta {
			deltas++
			if deltas == 3 {
				cancel()
			}
		}
	}
	if llm.AsError(s.Err()).Kind != llm.KindCallerCanceled {
		t.Errorf("err after cancel = %v", s.Err())
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("3 words took %v, want the 20ms delay between words", d)
	}
}
