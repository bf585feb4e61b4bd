package ingress_test

// Client drivers: one conversation API over the official SDKs, so that the
// matrix scenarios are written once and run with the OpenAI Go SDK
// (openai-go/v3, Chat Completions, its ChatCompletionAccumulator for
// streams) and with the Anthropic Go SDK (anthropic-sdk-go/v2, Messages,
// Message.Accumulate for streams). Each send records what the client saw,
// in neutral terms (text, thinking, tool calls, finish, usage buckets,
// error) and in the client's own terms (raw finish reason, the stream
// details each SDK depends on).

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	ant "github.com/anthropics/anthropic-sdk-go/v2"
	antopt "github.com/anthropics/anthropic-sdk-go/v2/option"
	oai "github.com/openai/openai-go/v3"
	oaiopt "github.com/openai/openai-go/v3/option"
	oaisse "github.com/openai/openai-go/v3/packages/ssestream"
	oaishared "github.com/openai/openai-go/v3/shared"
)

// toolDef is a function tool offered to the model.
type toolDef struct {
	name     string
	desc     string
	props    map[string]any
	required []string
}

var (
	weatherTool = toolDef{name: "get_weather", desc: "Current weather for a city", props: map[string]any{
		"city": map[string]any{"type": "string", "description": "City name"},
		"unit": map[string]any{"type": "string", "enum": []any{"celsius", "fahrenheit"}},
		"days": map[string]any{"type": "array", "items": map[string]any{"type": "integer"}},
		"note": map[string]any{"type": "string"},
	}, required: []string{"city"}}
	timeTool = toolDef{name: "get_time", desc: "Current time in a timezone", props: map[string]any{
		"timezone": map[string]any{"type": "string"},
		"format":   map[string]any{"type": "object", "properties": map[string]any{"h24": map[string]any{"type": "boolean"}}},
	}, required: []string{"timezone"}}
	statusTool = toolDef{name: "get_status", desc: "System status; takes no arguments", props: map[string]any{}}
)

func (d toolDef) schema() map[string]any {
	return map[string]any{"type": "object", "properties": d.props, "required": d.required}
}

// image is an image in a user turn: base64 data or a URL.
type image struct {
	mediaType string
	data      string
	url       string
}

// toolResult answers a tool call.
type toolResult struct {
	id      string
	content string
}

type sendOpts struct {
	stream    bool
	think     bool
	maxTokens int
	tools     []toolDef
	stop      []string
}

// gotCall is a tool call as the client assembled it.
type gotCall struct {
	index int
	id    string
	name  string
	args  string
}

// clientResult is what a client saw of one request.
type clientResult struct {
	reqID string
	id    string // the response's id
	model string // the response's model

	text      string
	thinking  string
	signature string
	calls     []gotCall
	finish    string // neutral: stop, stop_sequence, length, tool_calls, other
	rawFinish string
	stopSeq   string // Anthropic's stop_sequence
	usage     neutralUsage
	// Streams.
	streamed bool
	// OpenAI: the first chunk said role assistant; a last chunk with
	// choices [] carried the usage; every tool call's first delta had
	// index, id, type function and name.
	firstRoleAssistant bool
	usageChunkLast     bool
	toolDeltasOK       bool
	toolDeltaProblems  []string
	// Anthropic: a message_delta carried usage.output_tokens.
	deltaOutputTokens int64
	sawMessageDelta   bool
	// Errors.
	err        error
	errStatus  int // HTTP status (0 for an error inside a 200 stream)
	errType    string
	errMessage string
	retryAfter string
	midStream  bool // the error came inside a 200 stream
}

func (r *clientResult) ok() bool { return r.err == nil }

// session is one conversation through one client.
type session interface {
	name() string
	setSystem(text string)
	addUser(text string, imgs ...image)
	addToolResults(rs ...toolResult)
	send(t *testing.T, o sendOpts) *clientResult
}

// ---- OpenAI ----

type openAISession struct {
	h     *harness
	c     oai.Client
	model string
	msgs  []oai.ChatCompletionMessageParamUnion
}

func newOpenAISession(h *harness, model, key string) *openAISession {
	c := oai.NewClient(oaiopt.WithBaseURL(h.url+"/v1"), oaiopt.WithAPIKey(key), oaiopt.WithMaxRetries(0),
		oaiopt.WithRequestTimeout(30*time.Second))
	return &openAISession{h: h, c: c, model: model}
}

func (s *openAISession) name() string { return "openai" }

func (s *openAISession) setSystem(text string) {
	s.msgs = append([]oai.ChatCompletionMessageParamUnion{oai.SystemMessage(text)}, s.msgs...)
}

func (s *openAISession) addUser(text string, imgs ...image) {
	if len(imgs) == 0 {
		s.msgs = append(s.msgs, oai.UserMessage(text))
		return
	}
	var parts []oai.ChatCompletionContentPartUnionParam
	for _, im := range imgs {
		u := im.url
		if u == "" {
			u = "data:" + im.mediaType + ";base64," + im.data
		}
		parts = append(parts, oai.ImageContentPart(oai.ChatCompletionContentPartImageImageURLParam{URL: u}))
	}
	parts = append(parts, oai.TextContentPart(text))
	s.msgs = append(s.msgs, oai.UserMessage(parts))
}

func (s *openAISession) addToolResults(rs ...toolResult) {
	for _, r := range rs {
		s.msgs = append(s.msgs, oai.ToolMessage(r.content, r.id))
	}
}

func (s *openAISession) params(o sendOpts) oai.ChatCompletionNewParams {
	p := oai.ChatCompletionNewParams{Model: s.model, Messages: append([]oai.ChatCompletionMessageParamUnion(nil), s.msgs...)}
	for _, td := range o.tools {
		p.Tools = append(p.Tools, oai.ChatCompletionFunctionTool(oaishared.FunctionDefinitionParam{
			Name: td.name, Description: oai.String(td.desc), Parameters: td.schema(),
		}))
	}
	if o.maxTokens > 0 {
		p.MaxTokens = oai.Int(int64(o.maxTokens))
	}
	if len(o.stop) > 0 {
		p.Stop = oai.ChatCompletionNewParamsStopUnion{OfStringArray: o.stop}
	}
	if o.think {
		p.ReasoningEffort = oaishared.ReasoningEffortLow
	}
	if o.stream {
		p.StreamOptions = oai.ChatCompletionStreamOptionsParam{IncludeUsage: oai.Bool(true)}
	}
	return p
}

func openAIFinish(s string) string {
	switch s {
	case "stop", "length", "tool_calls", "content_filter":
		return s
	}
	return "other:" + s
}

func (s *openAISession) send(t *testing.T, o sendOpts) *clientResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &clientResult{reqID: s.h.newRequestID(), streamed: o.stream}
	var resp *http.Response
	opts := []oaiopt.RequestOption{oaiopt.WithHeader("X-Request-Id", r.reqID), oaiopt.WithResponseInto(&resp)}
	params := s.params(o)
	if !o.stream {
		comp, err := s.c.Chat.Completions.New(ctx, params, opts...)
		if err != nil {
			s.fillError(r, err)
			return r
		}
		if len(comp.Choices) != 1 {
			t.Fatalf("openai: %d choices: %s", len(comp.Choices), comp.RawJSON())
		}
		ch := comp.Choices[0]
		r.id, r.model = comp.ID, comp.Model
		r.text = ch.Message.Content
		r.thinking = extraString(ch.Message.JSON.ExtraFields["reasoning_content"].Raw())
		for i, tc := range ch.Message.ToolCalls {
			r.calls = append(r.calls, gotCall{index: i, id: tc.ID, name: tc.Function.Name, args: tc.Function.Arguments})
		}
		r.rawFinish, r.finish = ch.FinishReason, openAIFinish(ch.FinishReason)
		u := comp.Usage
		r.usage = openAIClientUsage(u)
		s.msgs = append(s.msgs, ch.Message.ToParam())
		return r
	}

	stream := s.c.Chat.Completions.NewStreaming(ctx, params, opts...)
	defer stream.Close()
	acc := oai.ChatCompletionAccumulator{}
	first := true
	seenIndex := map[int64]bool{}
	var thinking strings.Builder
	var cacheWrite int64
	r.toolDeltasOK = true
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		r.usageChunkLast = len(chunk.Choices) == 0 && chunk.JSON.Usage.Valid() && chunk.Usage.TotalTokens > 0
		if chunk.Usage.PromptTokensDetails.CacheWriteTokens > 0 {
			// the accumulator sums usage but drops this extension
			cacheWrite = chunk.Usage.PromptTokensDetails.CacheWriteTokens
		}
		if len(chunk.Choices) == 0 {
			continue
		}
		d := chunk.Choices[0].Delta
		if first {
			first = false
			r.firstRoleAssistant = d.Role == "assistant"
		}
		thinking.WriteString(extraString(d.JSON.ExtraFields["reasoning_content"].Raw()))
		for _, tc := range d.ToolCalls {
			if !seenIndex[tc.Index] {
				seenIndex[tc.Index] = true
				if tc.ID == "" || tc.Type != "function" || tc.Function.Name == "" {
					r.toolDeltasOK = false
					r.toolDeltaProblems = append(r.toolDeltaProblems, "first delta of tool call index "+strconv.Itoa(int(tc.Index))+": "+tc.RawJSON())
				}
			}
		}
	}
	if err := stream.Err(); err != nil {
		s.fillError(r, err)
		r.text = accText(acc)
		return r
	}
	if len(acc.Choices) != 1 {
		t.Fatalf("openai stream: %d choices accumulated", len(acc.Choices))
	}
	ch := acc.Choices[0]
	r.id, r.model = acc.ID, acc.Model
	r.text = ch.Message.Content
	r.thinking = thinking.String()
	for i, tc := range ch.Message.ToolCalls {
		r.calls = append(r.calls, gotCall{index: i, id: tc.ID, name: tc.Function.Name, args: tc.Function.Arguments})
	}
	r.rawFinish, r.finish = ch.FinishReason, openAIFinish(ch.FinishReason)
	u := acc.Usage
	u.PromptTokensDetails.CacheWriteTokens = cacheWrite
	r.usage = openAIClientUsage(u)
	s.msgs = append(s.msgs, ch.Message.ToParam())
	return r
}

// openAIClientUsage reads OpenAI usage into disjoint buckets: prompt_tokens
// includes cached tokens and cache writes (cache_write_tokens).
func openAIClientUsage(u oai.CompletionUsage) neutralUsage {
	write := u.PromptTokensDetails.CacheWriteTokens
	return neutralUsage{Input: u.PromptTokens - u.PromptTokensDetails.CachedTokens - write, CacheRead: u.PromptTokensDetails.CachedTokens,
		CacheWrite: write, Output: u.CompletionTokens}
}

func accText(acc oai.ChatCompletionAccumulator) string {
	if len(acc.Choices) == 0 {
		return ""
	}
	return acc.Choices[0].Message.Content
}

// extraString decodes a raw JSON string field ("" when absent or null).
func extraString(raw string) string {
	var s string
	if raw == "" || json.Unmarshal([]byte(raw), &s) != nil {
		return ""
	}
	return s
}

func (s *openAISession) fillError(r *clientResult, err error) {
	r.err = err
	var apiErr *oai.Error
	var streamErr *oaisse.StreamError
	switch {
	case errors.As(err, &apiErr):
		r.errStatus, r.errType, r.errMessage = apiErr.StatusCode, apiErr.Type, apiErr.Message
		if apiErr.Response != nil {
			r.retryAfter = apiErr.Response.Header.Get("Retry-After")
		}
	case errors.As(err, &streamErr):
		r.midStream = true
		var env openAIError
		if json.Unmarshal(streamErr.Event.Data, &env) == nil {
			r.errType, r.errMessage = env.Error.Type, env.Error.Message
		}
	default:
		r.errMessage = err.Error()
	}
}

// ---- Anthropic ----

type anthropicSession struct {
	h      *harness
	c      ant.Client
	model  string
	system []ant.TextBlockParam
	msgs   []ant.MessageParam
}

func newAnthropicSession(h *harness, model, key string, opts ...antopt.RequestOption) *anthropicSession {
	o := append([]antopt.RequestOption{antopt.WithBaseURL(h.url), antopt.WithAPIKey(key), antopt.WithMaxRetries(0),
		antopt.WithRequestTimeout(30 * time.Second)}, opts...)
	return &anthropicSession{h: h, c: ant.NewClient(o...), model: model}
}

func (s *anthropicSession) name() string { return "anthropic" }

func (s *anthropicSession) setSystem(text string) {
	s.system = []ant.TextBlockParam{{Text: text}}
}

func (s *anthropicSession) addUser(text string, imgs ...image) {
	var blocks []ant.ContentBlockParamUnion
	for _, im := range imgs {
		if im.url != "" {
			blocks = append(blocks, ant.NewImageBlock(ant.URLImageSourceParam{URL: im.url}))
		} else {
			blocks = append(blocks, ant.NewImageBlockBase64(im.mediaType, im.data))
		}
	}
	blocks = append(blocks, ant.NewTextBlock(text))
	s.msgs = append(s.msgs, ant.NewUserMessage(blocks...))
}

func (s *anthropicSession) addToolResults(rs ...toolResult) {
	var blocks []ant.ContentBlockParamUnion
	for _, r := range rs {
		blocks = append(blocks, ant.NewToolResultBlock(r.id, r.content, false))
	}
	s.msgs = append(s.msgs, ant.NewUserMessage(blocks...))
}

func (s *anthropicSession) params(o sendOpts) ant.MessageNewParams {
	p := ant.MessageNewParams{Model: ant.Model(s.model), MaxTokens: 1024, Messages: append([]ant.MessageParam(nil), s.msgs...), System: s.system}
	if o.maxTokens > 0 {
		p.MaxTokens = int64(o.maxTokens)
	}
	p.StopSequences = o.stop
	for _, td := range o.tools {
		p.Tools = append(p.Tools, ant.ToolUnionParam{OfTool: &ant.ToolParam{
			Name: td.name, Description: ant.String(td.desc),
			InputSchema: ant.ToolInputSchemaParam{Properties: td.props, Required: td.required},
		}})
	}
	if o.think {
		p.MaxTokens = 4096
		p.Thinking = ant.ThinkingConfigParamOfEnabled(1024)
	}
	return p
}

func anthropicFinish(s string) string {
	switch s {
	case "end_turn":
		return "stop"
	case "max_tokens":
		return "length"
	case "tool_use":
		return "tool_calls"
	case "stop_sequence":
		return "stop_sequence"
	case "refusal":
		return "content_filter"
	}
	return "other:" + s
}

func (s *anthropicSession) send(t *testing.T, o sendOpts) *clientResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &clientResult{reqID: s.h.newRequestID(), streamed: o.stream}
	opts := []antopt.RequestOption{antopt.WithHeader("X-Request-Id", r.reqID)}
	params := s.params(o)
	var msg ant.Message
	if !o.stream {
		m, err := s.c.Messages.New(ctx, params, opts...)
		if err != nil {
			s.fillError(r, err)
			return r
		}
		msg = *m
	} else {
		stream := s.c.Messages.NewStreaming(ctx, params, opts...)
		defer stream.Close()
		for stream.Next() {
			ev := stream.Current()
			if err := msg.Accumulate(ev); err != nil {
				t.Fatalf("anthropic accumulate %s: %v", ev.RawJSON(), err)
			}
			if ev.Type == "message_delta" {
				r.sawMessageDelta = true
				r.deltaOutputTokens = ev.Usage.OutputTokens
			}
		}
		if err := stream.Err(); err != nil {
			s.fillError(r, err)
			r.midStream = r.midStream || r.errStatus == http.StatusOK
			for _, b := range msg.Content {
				r.text += b.Text
			}
			return r
		}
	}
	for i, b := range msg.Content {
		switch b.Type {
		case "text":
			r.text += b.Text
		case "thinking":
			r.thinking += b.Thinking
			r.signature = b.Signature
		case "tool_use":
			r.calls = append(r.calls, gotCall{index: i, id: b.ID, name: b.Name, args: string(b.Input)})
		}
	}
	r.id, r.model, r.stopSeq = msg.ID, string(msg.Model), msg.StopSequence
	r.rawFinish, r.finish = string(msg.StopReason), anthropicFinish(string(msg.StopReason))
	r.usage = neutralUsage{Input: msg.Usage.InputTokens, CacheRead: msg.Usage.CacheReadInputTokens, CacheWrite: msg.Usage.CacheCreationInputTokens, Output: msg.Usage.OutputTokens}
	s.msgs = append(s.msgs, msg.ToParam())
	return r
}

func (s *anthropicSession) fillError(r *clientResult, err error) {
	r.err = err
	var apiErr *ant.Error
	if errors.As(err, &apiErr) {
		r.errStatus, r.errType, r.errMessage = apiErr.StatusCode, string(apiErr.Type()), apiErr.Message
		if apiErr.Response != nil {
			r.retryAfter = apiErr.Response.Header.Get("Retry-After")
		}
		return
	}
	r.errMessage = err.Error()
}
