// Package demo is xjp's built-in offline model. It answers deterministically,
// streams word by word with a configurable delay, calls tools when they are
// offered and asked for, thinks when asked to, and reports usage, so every
// client and every feature of the gateway can be tried without an account.
//
// Behaviour, in order of precedence:
//   - the last message is a tool result: it answers with a sentence quoting
//     the result;
//   - tools are offered and asked for (tool_choice required or naming a
//     tool, or the last user message names a tool or says "use a tool"): it
//     calls the tool(s) — several at once when several are named and
//     parallel calls are allowed — with arguments built from their schemas;
//   - otherwise it greets and echoes the start of the last user message.
//
// Reasoning requests get a short thinking block first. max_tokens cuts the
// answer (finish "length"); stop sequences cut it (finish "stop_sequence").
// For trying failure handling offline, a user message containing
// "xjp:fail=503" makes the call fail with that HTTP status before streaming,
// and "xjp:cut" breaks the stream after a few words.
package demo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Options configures the demo provider.
type Options struct {
	// Name is the provider name ("demo").
	Name string
	// Delay is the pause between streamed words (0: none).
	Delay time.Duration
}

// Provider is the demo model. It is safe for concurrent use.
type Provider struct {
	name  string
	delay time.Duration
}

// New returns a demo provider.
func New(o Options) *Provider {
	if o.Name == "" {
		o.Name = "demo"
	}
	return &Provider{name: o.Name, delay: o.Delay}
}

// Name returns the provider's name.
func (p *Provider) Name() string { return p.name }

var failRE = regexp.MustCompile(`xjp:fail=(\d{3})`)

// Stream answers the call.
func (p *Provider) Stream(ctx context.Context, call *llm.Call) (llm.Stream, error) {
	req := call.Request
	last := lastUserText(req)
	if m := failRE.FindStringSubmatch(last); m != nil {
		status, _ := strconv.Atoi(m[1])
		e := llm.FromStatus(p.name, status, fmt.Sprintf("demo failure %d requested by the prompt", status))
		if status == http.StatusTooManyRequests {
			e.RetryAfter = time.Second
		}
		return nil, e
	}
	if err := ctx.Err(); err != nil {
		return nil, llm.FromTransport(ctx, p.name, err)
	}
	evs := p.answer(call, last)
	return &stream{ctx: ctx, evs: evs, delay: p.delay, cut: strings.Contains(last, "xjp:cut"), i: -1}, nil
}

func (p *Provider) answer(call *llm.Call, last string) []llm.Event {
	req := call.Request
	sum := sha256.Sum256([]byte(fmt.Sprint(len(req.Messages), last, call.Model)))
	id := hex.EncodeToString(sum[:8])
	evs := []llm.Event{{Type: llm.EventStart, ID: "demo-" + id, Model: call.Model}}
	b := builder{evs: evs}

	if req.Reasoning != nil && !req.Reasoning.Disabled {
		b.block(llm.Block{Type: llm.BlockThinking}, llm.EventThinkingDelta,
			words("The user wants a demo answer. I will keep it short and deterministic."))
		b.evs = append(b.evs[:len(b.evs)-1], llm.Event{Type: llm.EventSignatureDelta, Index: b.index - 1, Text: "demo-signature-" + id},
			llm.Event{Type: llm.EventBlockStop, Index: b.index - 1})
	}

	finish := llm.FinishStop
	var stopSeq string
	if res := lastToolResults(req); len(res) > 0 {
		var parts []string
		for _, r := range res {
			parts = append(parts, fmt.Sprintf("%s returned %q", orDefault(r.Name, r.ToolCallID), truncate(r.Text(), 200)))
		}
		text := "Thanks. The tool " + strings.Join(parts, " and the tool ") + "."
		finish, stopSeq = b.text(text, call, finish)
	} else if calls := toolsToCall(req, last); len(calls) > 0 {
		for i, t := range calls {
			args := exampleArgs(t.Parameters, last)
			tc := &llm.ToolCall{ID: fmt.Sprintf("call_demo_%s_%d", id[:8], i), Name: t.Name}
			b.block(llm.Block{Type: llm.BlockToolCall, ToolCall: tc}, llm.EventToolArgsDelta, fragments(args, 8))
		}
		finish = llm.FinishToolCalls
	} else {
		text := "Hello from the xjp demo model."
		if last != "" {
			text += fmt.Sprintf(" You said: %q.", truncateWords(last, 12))
		}
		text += " Route real models in xjp.toml and every OpenAI or Anthropic client can reach them through this gateway."
		finish, stopSeq = b.text(text, call, finish)
	}

	in := estimateInput(req)
	u := llm.Usage{InputTokens: in, OutputTokens: int64(b.outTokens)}
	if req.Reasoning != nil && !req.Reasoning.Disabled {
		u.ReasoningTokens = 14
		u.OutputTokens += u.ReasoningTokens
	}
	b.evs = append(b.evs,
		llm.Event{Type: llm.EventFinish, Finish: finish, StopSequence: stopSeq},
		llm.Event{Type: llm.EventUsage, Usage: &u})
	return b.evs
}

type builder struct {
	evs       []llm.Event
	index     int
	outTokens int
}

// block appends a whole block: start, one delta per piece, stop.
func (b *builder) block(blk llm.Block, delta llm.EventType, pieces []string) {
	i := b.index
	b.index++
	b.evs = append(b.evs, llm.Event{Type: llm.EventBlockStart, Index: i, Block: &blk})
	for _, p := range pieces {
		b.evs = append(b.evs, llm.Event{Type: delta, Index: i, Text: p})
		b.outTokens++
	}
	b.evs = append(b.evs, llm.Event{Type: llm.EventBlockStop, Index: i})
}

// text appends a text block honouring max tokens and stop sequences.
func (b *builder) text(text string, call *llm.Call, finish llm.FinishReason) (llm.FinishReason, string) {
	var stopSeq string
	for _, s := range call.Request.Stop {
		if s == "" {
			continue
		}
		if i := strings.Index(text, s); i >= 0 {
			text, finish, stopSeq = text[:i], llm.FinishStopSequence, s
		}
	}
	ws := words(text)
	if n := call.MaxTokens(); n > 0 && len(ws) > n {
		ws, finish, stopSeq = ws[:n], llm.FinishLength, ""
	}
	if len(ws) > 0 {
		b.block(llm.Block{Type: llm.BlockText}, llm.EventTextDelta, ws)
	}
	return finish, stopSeq
}

// words splits text into tokens that keep their trailing space.
func words(s string) []string {
	var out []string
	for len(s) > 0 {
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

func fragments(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func lastUserText(req *llm.Request) string {
	for i := len(req.Messages) - 1; i >= 0; i-- {
		if m := req.Messages[i]; m.Role == llm.RoleUser {
			return strings.TrimSpace(m.Text())
		}
	}
	return ""
}

// lastToolResults returns the results when the conversation ends with them.
func lastToolResults(req *llm.Request) []*llm.ToolResult {
	var out []*llm.ToolResult
	for i := len(req.Messages) - 1; i >= 0; i-- {
		m := req.Messages[i]
		if m.Role != llm.RoleTool {
			break
		}
		for j := len(m.Content) - 1; j >= 0; j-- {
			if p := m.Content[j]; p.Type == llm.PartToolResult {
				out = append([]*llm.ToolResult{p.ToolResult}, out...)
			}
		}
	}
	return out
}

var askRE = regexp.MustCompile(`(?i)\b(use|call|run|invoke) (a|the|your|some) (tool|function)s?\b`)

// toolsToCall picks the tools the user asked for.
func toolsToCall(req *llm.Request, last string) []llm.Tool {
	var fns []llm.Tool
	for _, t := range req.Tools {
		if t.Type == "" || t.Type == "function" {
			fns = append(fns, t)
		}
	}
	if len(fns) == 0 || (req.ToolChoice != nil && req.ToolChoice.Mode == llm.ToolChoiceNone) {
		return nil
	}
	if tc := req.ToolChoice; tc != nil && tc.Mode == llm.ToolChoiceTool {
		for _, t := range fns {
			if t.Name == tc.Name {
				return []llm.Tool{t}
			}
		}
	}
	lower := strings.ToLower(last)
	var named []llm.Tool
	for _, t := range fns {
		n := strings.ToLower(t.Name)
		if strings.Contains(lower, n) || strings.Contains(lower, strings.ReplaceAll(n, "_", " ")) {
			named = append(named, t)
		}
	}
	switch {
	case len(named) > 1 && (req.ParallelToolCalls == nil || *req.ParallelToolCalls):
		return named
	case len(named) > 0:
		return named[:1]
	case req.ToolChoice != nil && req.ToolChoice.Mode == llm.ToolChoiceRequired, askRE.MatchString(last):
		return fns[:1]
	}
	return nil
}

// exampleArgs builds deterministic arguments from a JSON schema.
func exampleArgs(schema json.RawMessage, userText string) string {
	var s struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	_ = json.Unmarshal(schema, &s)
	names := make([]string, 0, len(s.Properties))
	for n := range s.Properties {
		names = append(names, n)
	}
	sort.Strings(names)
	args := make(map[string]any, len(names))
	for _, n := range names {
		args[n] = exampleValue(s.Properties[n], userText)
	}
	b, _ := json.Marshal(args)
	return string(b)
}

func exampleValue(schema json.RawMessage, userText string) any {
	var s struct {
		Type any   `json:"type"`
		Enum []any `json:"enum"`
	}
	_ = json.Unmarshal(schema, &s)
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	typ, _ := s.Type.(string)
	if ts, ok := s.Type.([]any); ok && len(ts) > 0 {
		typ, _ = ts[0].(string)
	}
	switch typ {
	case "integer", "number":
		return 1
	case "boolean":
		return true
	case "array":
		return []any{}
	case "object":
		return map[string]any{}
	}
	if w := lastCapitalized(userText); w != "" {
		return w
	}
	return "demo"
}

// lastCapitalized returns the last capitalised word of s ("Paris" in "what
// is the weather in Paris?"), a plausible string argument.
func lastCapitalized(s string) string {
	fields := strings.FieldsFunc(s, func(r rune) bool {
		return !(r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	for i := len(fields) - 1; i > 0; i-- { // skip the first word: capitalised by grammar
		if f := fields[i]; f[0] >= 'A' && f[0] <= 'Z' {
			return f
		}
	}
	return ""
}

// estimateInput counts input tokens the way the demo counts output: about
// four characters a token.
func estimateInput(req *llm.Request) int64 {
	n := 0
	for _, m := range req.Messages {
		n += 4 // per-message overhead
		for _, p := range m.Content {
			n += len(p.Text) / 4
			if p.ToolCall != nil {
				n += (len(p.ToolCall.Name) + len(p.ToolCall.Arguments)) / 4
			}
			if p.ToolResult != nil {
				n += len(p.ToolResult.Text()) / 4
			}
			if p.Media != nil {
				n += 85
			}
		}
	}
	for _, t := range req.Tools {
		n += (len(t.Name) + len(t.Description) + len(t.Parameters)) / 4
	}
	return int64(max(n, 1))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func truncateWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) <= n {
		return strings.Join(f, " ")
	}
	return strings.Join(f[:n], " ") + " …"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// stream replays precomputed events with a delay between content deltas.
type stream struct {
	ctx   context.Context
	evs   []llm.Event
	delay time.Duration
	cut   bool
	i     int
	sent  int
	err   error
	timer *time.Timer
}

func (s *stream) Next() bool {
	if s.err != nil || s.i+1 >= len(s.evs) {
		return false
	}
	ev := s.evs[s.i+1]
	if isDelta(ev.Type) {
		if s.cut && s.sent >= 3 {
			s.err = &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway, Provider: "demo", Message: "demo stream cut by the prompt (xjp:cut)"}
			return false
		}
		if s.delay > 0 && s.sent > 0 {
			if s.timer == nil {
				s.timer = time.NewTimer(s.delay)
			} else {
				s.timer.Reset(s.delay)
			}
			select {
			case <-s.ctx.Done():
				s.err = llm.FromTransport(s.ctx, "demo", s.ctx.Err())
				return false
			case <-s.timer.C:
			}
		}
		s.sent++
	}
	if err := s.ctx.Err(); err != nil {
		s.err = llm.FromTransport(s.ctx, "demo", err)
		return false
	}
	s.i++
	return true
}

func isDelta(t llm.EventType) bool {
	return t == llm.EventTextDelta || t == llm.EventThinkingDelta || t == llm.EventToolArgsDelta
}

func (s *stream) Event() llm.Event { return s.evs[s.i] }

// Ready reports whether the next event comes without a pause.
func (s *stream) Ready() bool  { return s.delay == 0 }
func (s *stream) Err() error   { return s.err }
func (s *stream) Close() error { return nil }
