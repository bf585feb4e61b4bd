package ingress_test

// The Anthropic Go SDK v1 (github.com/anthropics/anthropic-sdk-go v1.84.0)
// speaks the older face of the API: x-api-key auth and anthropic-version
// 2023-06-01, which still takes temperature. It must work against every
// upstream kind, and an Anthropic upstream must get its version.

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	antv1 "github.com/anthropics/anthropic-sdk-go"
	antv1opt "github.com/anthropics/anthropic-sdk-go/option"
)

func TestAnthropicSDKv1(t *testing.T) {
	for _, up := range upstreamKinds {
		t.Run(up.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			var got http.Header
			c := antv1.NewClient(antv1opt.WithBaseURL(h.url), antv1opt.WithAPIKey(keyValid), antv1opt.WithMaxRetries(0),
				antv1opt.WithRequestTimeout(30*time.Second),
				antv1opt.WithMiddleware(func(r *http.Request, next antv1opt.MiddlewareNext) (*http.Response, error) {
					got = r.Header.Clone()
					return next(r)
				}))
			ctx := context.Background()
			tool := antv1.ToolUnionParam{OfTool: &antv1.ToolParam{
				Name: weatherTool.name, Description: antv1.String(weatherTool.desc),
				InputSchema: antv1.ToolInputSchemaParam{Properties: weatherTool.props, Required: weatherTool.required},
			}}
			params := antv1.MessageNewParams{
				Model: antv1.Model(up.model), MaxTokens: 1024, Temperature: antv1.Float(0.5),
				System:   []antv1.TextBlockParam{{Text: "You are terse."}},
				Tools:    []antv1.ToolUnionParam{tool},
				Messages: []antv1.MessageParam{antv1.NewUserMessage(antv1.NewTextBlock("What is the weather in Paris? Please call get_weather."))},
			}
			stream := c.Messages.NewStreaming(ctx, params, antv1opt.WithHeader("X-Request-Id", h.newRequestID()))
			var msg antv1.Message
			for stream.Next() {
				if err := msg.Accumulate(stream.Current()); err != nil {
					t.Fatal(err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if got.Get("X-Api-Key") != keyValid || got.Get("Authorization") != "" || got.Get("Anthropic-Version") != "2023-06-01" {
				t.Fatalf("the v1 SDK sent x-api-key %q authorization %q version %q", got.Get("X-Api-Key"), got.Get("Authorization"), got.Get("Anthropic-Version"))
			}
			var use *antv1.ContentBlockUnion
			for i := range msg.Content {
				if msg.Content[i].Type == "tool_use" {
					use = &msg.Content[i]
				}
			}
			if msg.StopReason != "tool_use" || use == nil || use.Name != "get_weather" {
				t.Fatalf("message %s", msg.RawJSON())
			}
			var args map[string]any
			if err := json.Unmarshal(use.Input, &args); err != nil || args["city"] == nil {
				t.Errorf("tool input %s: %v", use.Input, err)
			}
			if msg.Usage.OutputTokens == 0 || msg.Usage.InputTokens == 0 {
				t.Errorf("usage %s", msg.Usage.RawJSON())
			}

			params.Messages = append(params.Messages, msg.ToParam(),
				antv1.NewUserMessage(antv1.NewToolResultBlock(use.ID, "21°C and clear", false)))
			final, err := c.Messages.New(ctx, params)
			if err != nil {
				t.Fatalf("turn 2: %v", err)
			}
			if final.StopReason != "end_turn" || len(final.Content) == 0 {
				t.Fatalf("turn 2: %s", final.RawJSON())
			}
			if up.name != "demo" {
				if text := final.Content[len(final.Content)-1].Text; text == "" || !strings.Contains(text, "21°C and clear") {
					t.Errorf("turn 2 text %q does not quote the tool result", text)
				}
			}

			f := h.fakeFor(up.model)
			if f == nil {
				return
			}
			for _, r := range f.rejections() {
				t.Errorf("the %s upstream rejected: %s", up.name, r)
			}
			last := f.last()
			switch up.name {
			case "anthropic":
				if v := last.Header.Get("Anthropic-Version"); v != "2023-06-01" {
					t.Errorf("anthropic-version upstream %q, want the client's 2023-06-01", v)
				}
				if last.JSON["temperature"] == nil {
					t.Errorf("temperature 0.5 under 2023-06-01 was dropped")
				}
			case "openai":
				if last.JSON["temperature"] == nil {
					t.Errorf("temperature was dropped on the way to the openai upstream")
				}
			case "gemini":
				gc, _ := asMap(last.JSON["generationConfig"])
				if gc["temperature"] == nil {
					t.Errorf("temperature was dropped on the way to the gemini upstream")
				}
			}
		})
	}
}
