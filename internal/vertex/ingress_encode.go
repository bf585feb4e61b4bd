package vertex

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/rickyjim626/xjp/internal/llm"
)

// EncodeGenerateContentResponse renders a whole answer as a
// GenerateContentResponse: one candidate whose content (role "model") has
// thought parts for thinking, text parts, and functionCall parts (id =
// the call's id, args an object, thoughtSignature when the call has one);
// finishReason STOP (also for tool calls, as Gemini does), MAX_TOKENS or
// SAFETY; usageMetadata with promptTokenCount (cached tokens included),
// candidatesTokenCount (output without thoughts), thoughtsTokenCount,
// cachedContentTokenCount and totalTokenCount; modelVersion (model) and
// responseId (resp.ID).
func EncodeGenerateContentResponse(resp *llm.Response, model string) []byte {
	var parts []Part
	for _, p := range resp.Content {
		if gp, ok := responsePart(p); ok {
			parts = append(parts, gp)
		}
	}
	u := resp.Usage
	out := GenerateContentResponse{
		Candidates:    []Candidate{{FinishReason: geminiFinish(resp.FinishReason)}},
		UsageMetadata: usageMetadata(u),
		ModelVersion:  model,
		ResponseID:    resp.ID,
	}
	if len(parts) > 0 {
		out.Candidates[0].Content = &Content{Role: "model", Parts: parts}
	}
	b, err := marshal(out)
	if err != nil { // unreachable: the structs always marshal
		return EncodeGoogleError(&llm.Error{Kind: llm.KindGatewayInternal, Status: 500, Message: err.Error()})
	}
	return b
}

// responsePart maps one part of an answer; ok is false for parts Gemini
// has no form for (empty text).
func responsePart(p llm.Part) (Part, bool) {
	switch p.Type {
	case llm.PartText:
		return Part{Text: p.Text}, p.Text != ""
	case llm.PartThinking:
		return Part{Text: p.Text, Thought: true, ThoughtSignature: wrapSignature(p.Signature)}, p.Text != "" || p.Signature != ""
	case llm.PartRedactedThinking:
		return Part{Thought: true, ThoughtSignature: wrapRedacted(p.Data)}, true
	case llm.PartToolCall:
		if p.ToolCall == nil {
			return Part{}, false
		}
		return functionCallPart(p.ToolCall, p.ToolCall.Arguments), true
	}
	return Part{}, false
}

func functionCallPart(tc *llm.ToolCall, args string) Part {
	var a json.RawMessage
	if tc.Type == "custom" {
		a = json.RawMessage(llm.CustomArguments(args))
	} else {
		a = argsObject(args)
	}
	return Part{
		FunctionCall:     &FunctionCall{ID: tc.ID, Name: tc.Name, Args: a},
		ThoughtSignature: wrapSignature(tc.Signature),
	}
}

func geminiFinish(r llm.FinishReason) string {
	switch r {
	case llm.FinishLength:
		return "MAX_TOKENS"
	case llm.FinishContentFilter, llm.FinishRefusal:
		return "SAFETY"
	}
	return "STOP"
}

func usageMetadata(u llm.Usage) *UsageMetadata {
	return &UsageMetadata{
		PromptTokenCount:        u.PromptTokens(),
		CandidatesTokenCount:    u.OutputTokens - u.ReasoningTokens,
		ThoughtsTokenCount:      u.ReasoningTokens,
		CachedContentTokenCount: u.CacheReadTokens,
		TotalTokenCount:         u.TotalTokens(),
	}
}

// EncodeCountTokensResponse renders a countTokens answer: {"totalTokens": n}.
func EncodeCountTokensResponse(n int64) []byte {
	return []byte(`{"totalTokens":` + strconv.FormatInt(n, 10) + `}`)
}

// EncodeGoogleError renders an error in Google's shape: {"error": {"code":
// <HTTP status>, "message", "status": <google.rpc.Code name>}}, with a
// google.rpc.RetryInfo detail when the error says when to retry (clients
// such as gemini-cli read it on 429).
func EncodeGoogleError(e *llm.Error) []byte {
	b, _ := marshal(ErrorBody{Error: googleStatus(e)})
	return b
}

func googleStatus(e *llm.Error) *Status {
	if e == nil {
		e = &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusInternalServerError, Message: "internal error"}
	}
	code := e.Status
	if code == 0 {
		code = kindStatus(e.Kind)
	}
	st := &Status{Code: code, Message: e.Error(), Status: statusCodes[code]}
	if st.Status == "" {
		switch {
		case code >= 500:
			st.Status = "INTERNAL"
		case code >= 400:
			st.Status = "FAILED_PRECONDITION"
		default:
			st.Status = "UNKNOWN"
		}
	}
	if e.RetryAfter > 0 {
		d, _ := marshal(map[string]string{
			"@type":      "type.googleapis.com/google.rpc.RetryInfo",
			"retryDelay": strconv.FormatFloat(e.RetryAfter.Seconds(), 'f', -1, 64) + "s",
		})
		st.Details = append(st.Details, d)
	}
	return st
}

// GenerateContentStreamEncoder turns llm stream events into a
// streamGenerateContent answer. It is a state machine without I/O: Encode
// appends the wire bytes for one event, End appends what closes a normal
// stream. It is not safe for concurrent use.
//
// Each chunk is a GenerateContentResponse with one candidate holding the
// new parts (role "model"), modelVersion and responseId (the upstream's
// id from the start event). Text and thought text stream as they come; a
// thinking signature is a thought part of its own; a tool call is sent
// whole, as one functionCall part, when its block stops (Gemini never
// streams arguments). The last chunk, written by End, has no content and
// carries finishReason and usageMetadata.
//
// With sse (?alt=sse) every chunk is "data: <json>\r\n\r\n", the framing
// Google uses. Without it the answer is one JSON array written
// incrementally: "[" before the first chunk, ",\r\n" between chunks, "]" at
// the end. An llm.EventError is a chunk {"error": {code, message, status}}
// (the SDKs raise it), and ends the array; nothing follows it.
type GenerateContentStreamEncoder struct {
	model   string
	sse     bool
	id      string
	chunks  int
	stopped bool
	finish  llm.FinishReason
	usage   llm.Usage
	calls   map[int]*pendingCall
}

type pendingCall struct {
	tc   llm.ToolCall
	args strings.Builder
}

// NewGenerateContentStreamEncoder returns an encoder for one answer. model
// is reported as modelVersion; sse selects the ?alt=sse framing.
func NewGenerateContentStreamEncoder(model string, sse bool) *GenerateContentStreamEncoder {
	return &GenerateContentStreamEncoder{model: model, sse: sse, calls: map[int]*pendingCall{}}
}

// Encode appends the wire bytes for ev to dst (possibly none) and returns
// the extended slice.
func (e *GenerateContentStreamEncoder) Encode(dst []byte, ev llm.Event) []byte {
	if e.stopped {
		return dst
	}
	switch ev.Type {
	case llm.EventStart:
		if e.id == "" {
			e.id = ev.ID
		}
	case llm.EventBlockStart:
		if ev.Block == nil {
			return dst
		}
		switch ev.Block.Type {
		case llm.BlockToolCall:
			if ev.Block.ToolCall != nil && e.calls[ev.Index] == nil {
				pc := &pendingCall{tc: *ev.Block.ToolCall}
				pc.args.WriteString(ev.Block.ToolCall.Arguments)
				e.calls[ev.Index] = pc
			}
		case llm.BlockRedactedThinking:
			return e.chunk(dst, Part{Thought: true, ThoughtSignature: wrapRedacted(ev.Block.Data)})
		}
	case llm.EventTextDelta:
		if ev.Text != "" {
			return e.chunk(dst, Part{Text: ev.Text})
		}
	case llm.EventThinkingDelta:
		if ev.Text != "" {
			return e.chunk(dst, Part{Text: ev.Text, Thought: true})
		}
	case llm.EventSignatureDelta:
		if ev.Text != "" {
			return e.chunk(dst, Part{Thought: true, ThoughtSignature: wrapSignature(ev.Text)})
		}
	case llm.EventToolArgsDelta:
		if pc := e.calls[ev.Index]; pc != nil {
			pc.args.WriteString(ev.Text)
		}
	case llm.EventBlockStop:
		if pc := e.calls[ev.Index]; pc != nil {
			delete(e.calls, ev.Index)
			return e.chunk(dst, functionCallPart(&pc.tc, pc.args.String()))
		}
	case llm.EventUsage:
		if ev.Usage != nil {
			e.usage = *ev.Usage
		}
	case llm.EventFinish:
		e.finish = ev.Finish
	case llm.EventError:
		e.stopped = true
		body, _ := marshal(ErrorBody{Error: googleStatus(ev.Err)})
		dst = e.frame(dst, body)
		if !e.sse {
			dst = append(dst, ']')
		}
		return dst
	}
	return dst
}

// End appends what ends a normal stream: calls whose block never stopped,
// the last chunk with finishReason and usageMetadata, and "]" without sse.
// After an error it appends nothing.
func (e *GenerateContentStreamEncoder) End(dst []byte) []byte {
	if e.stopped {
		return dst
	}
	for len(e.calls) > 0 {
		first := -1
		for i := range e.calls {
			if first < 0 || i < first {
				first = i
			}
		}
		pc := e.calls[first]
		delete(e.calls, first)
		dst = e.chunk(dst, functionCallPart(&pc.tc, pc.args.String()))
	}
	e.stopped = true
	body, _ := marshal(GenerateContentResponse{
		Candidates:    []Candidate{{FinishReason: geminiFinish(e.finish)}},
		UsageMetadata: usageMetadata(e.usage),
		ModelVersion:  e.model,
		ResponseID:    e.id,
	})
	dst = e.frame(dst, body)
	if !e.sse {
		dst = append(dst, ']')
	}
	return dst
}

// chunk appends a chunk carrying one part.
func (e *GenerateContentStreamEncoder) chunk(dst []byte, p Part) []byte {
	body, err := marshal(GenerateContentResponse{
		Candidates:   []Candidate{{Content: &Content{Role: "model", Parts: []Part{p}}}},
		ModelVersion: e.model,
		ResponseID:   e.id,
	})
	if err != nil {
		panic(fmt.Sprintf("vertex: marshal chunk: %v", err)) // unreachable: plain structs
	}
	return e.frame(dst, body)
}

func (e *GenerateContentStreamEncoder) frame(dst, body []byte) []byte {
	if e.sse {
		dst = append(dst, "data: "...)
		dst = append(dst, body...)
		return append(dst, "\r\n\r\n"...)
	}
	if e.chunks == 0 {
		dst = append(dst, '[')
	} else {
		dst = append(dst, ",\r\n"...)
	}
	e.chunks++
	return append(dst, body...)
}

// kindStatus is the HTTP status an error of kind k answers with when it
// names none.
func kindStatus(k llm.Kind) int {
	switch k {
	case llm.KindCallerInvalid:
		return http.StatusBadRequest
	case llm.KindCallerCanceled:
		return 499
	case llm.KindPolicyAuth:
		return http.StatusUnauthorized
	case llm.KindPolicyBudget, llm.KindProviderRateLimited:
		return http.StatusTooManyRequests
	case llm.KindProviderOverloaded, llm.KindGatewayNoUpstream:
		return http.StatusServiceUnavailable
	case llm.KindProviderTimeout:
		return http.StatusGatewayTimeout
	case llm.KindProviderAuth, llm.KindProviderServer, llm.KindProviderConnect:
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}
