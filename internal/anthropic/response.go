package anthropic

import (
	"encoding/json"
	"strings"

	"github.com/rickyjim626/xjp/internal/llm"
)

// EncodeMessagesResponse renders a whole answer as a Messages response:
// {id, type: "message", role: "assistant", model, content, stop_reason,
// stop_sequence, usage}. Empty text blocks are left out; tool call
// arguments become the input object ({} when they are empty or not a JSON
// object, as arguments cut off by a length stop can be); content of other
// dialects is left out.
func EncodeMessagesResponse(resp *llm.Response, meta ResponseMeta) []byte {
	b := make([]byte, 0, 256+responseSize(resp))
	b = append(b, `{"id":`...)
	b = appendString(b, messageID(meta.ID, resp.ID))
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	model := meta.Model
	if model == "" {
		model = resp.Model
	}
	b = appendString(b, model)
	b = append(b, `,"content":[`...)
	n := 0
	for _, p := range resp.Content {
		blk := responseBlock(p)
		if blk == nil {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, blk...)
		n++
	}
	b = append(b, `],"stop_reason":`...)
	reason := stopReason(resp.FinishReason)
	if resp.FinishReason == "" && len(resp.ToolCalls()) > 0 {
		reason = "tool_use"
	}
	b = appendString(b, reason)
	b = append(b, `,"stop_sequence":`...)
	if resp.StopSequence != "" {
		b = appendString(b, resp.StopSequence)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"usage":`...)
	b = appendUsage(b, resp.Usage)
	return append(b, '}')
}

func responseSize(resp *llm.Response) int {
	n := 0
	for _, p := range resp.Content {
		n += len(p.Text) + len(p.Signature) + len(p.Data) + len(p.Native)
		if p.ToolCall != nil {
			n += len(p.ToolCall.Arguments) + 64
		}
	}
	return n
}

// messageID returns the id to show the client: the caller's, else the
// upstream's when it has Anthropic's shape, else a new one.
func messageID(metaID, upstreamID string) string {
	if metaID != "" {
		return metaID
	}
	if strings.HasPrefix(upstreamID, "msg_") {
		return upstreamID
	}
	return newID("msg_")
}

// responseBlock renders one part of an answer, or nil to leave it out.
func responseBlock(p llm.Part) []byte {
	var o object
	var known []string
	switch p.Type {
	case llm.PartText:
		if p.Text == "" {
			return nil
		}
		o.setString("type", "text")
		o.setString("text", p.Text)
		known = []string{"type", "text"}
	case llm.PartThinking:
		o.setString("type", "thinking")
		o.setString("thinking", p.Text)
		o.setString("signature", p.Signature)
		known = []string{"type", "thinking", "signature"}
	case llm.PartRedactedThinking:
		o.setString("type", "redacted_thinking")
		o.setString("data", p.Data)
		known = []string{"type", "data"}
	case llm.PartToolCall:
		if p.ToolCall == nil {
			return nil
		}
		tc := p.ToolCall
		id := tc.ID
		if id == "" {
			id = newID("toolu_")
		}
		input, err := toolInput(tc.Arguments)
		if err != nil {
			input = json.RawMessage("{}")
		}
		o.setString("type", "tool_use")
		o.setString("id", id)
		o.setString("name", tc.Name)
		o.set("input", input)
		known = []string{"type", "id", "name", "input"}
	case llm.PartNative:
		if p.Dialect == llm.DialectAnthropic && len(p.Native) > 0 {
			return compact(p.Native)
		}
		return nil
	default:
		return nil
	}
	if p.Dialect == llm.DialectAnthropic && len(p.Native) > 0 {
		o.addExtras(p.Native, known...)
	}
	return o.bytes()
}

// appendUsage renders usage with Anthropic's buckets: input_tokens
// excludes cache reads and writes, as llm.Usage.InputTokens does.
func appendUsage(b []byte, u llm.Usage) []byte {
	b = append(b, `{"input_tokens":`...)
	b = appendInt(b, u.InputTokens)
	b = append(b, `,"cache_creation_input_tokens":`...)
	b = appendInt(b, u.CacheWriteTokens)
	b = append(b, `,"cache_read_input_tokens":`...)
	b = appendInt(b, u.CacheReadTokens)
	b = append(b, `,"output_tokens":`...)
	b = appendInt(b, u.OutputTokens)
	if u.ReasoningTokens > 0 {
		b = append(b, `,"output_tokens_details":{"thinking_tokens":`...)
		b = appendInt(b, u.ReasoningTokens)
		b = append(b, '}')
	}
	return append(b, '}')
}

// wireBlock is a response content block.
type wireBlock struct {
	Type      string          `json:"type"`
	Text      string          `json:"text"`
	Thinking  string          `json:"thinking"`
	Signature string          `json:"signature"`
	Data      string          `json:"data"`
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Input     json.RawMessage `json:"input"`
}

// wireResponse is a Messages response (also the message of message_start).
type wireResponse struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Model        string            `json:"model"`
	Content      []json.RawMessage `json:"content"`
	StopReason   *string           `json:"stop_reason"`
	StopSequence *string           `json:"stop_sequence"`
	Usage        *wireUsage        `json:"usage"`
}

// DecodeMessagesResponse reads a non-streamed Messages response (an
// upstream that answered with JSON). Blocks llm has no type for are kept
// as llm.PartNative; an error envelope is returned as an *llm.Error.
func DecodeMessagesResponse(body []byte) (*llm.Response, error) {
	var w wireResponse
	if err := json.Unmarshal(body, &w); err != nil {
		return nil, &llm.Error{Kind: llm.KindProviderServer, Status: 502,
			Message: "malformed upstream response: " + err.Error(), Err: err}
	}
	if w.Type == "error" {
		return nil, DecodeError("", 200, body)
	}
	resp := &llm.Response{ID: w.ID, Model: w.Model}
	for _, raw := range w.Content {
		var blk wireBlock
		if err := json.Unmarshal(raw, &blk); err != nil {
			return nil, &llm.Error{Kind: llm.KindProviderServer, Status: 502,
				Message: "malformed upstream content block: " + err.Error(), Err: err}
		}
		switch blk.Type {
		case "text":
			p := llm.Part{Type: llm.PartText, Text: blk.Text}
			if hasCitations(raw) {
				p.Native, p.Dialect = compact(raw), llm.DialectAnthropic
			}
			resp.Content = append(resp.Content, p)
		case "thinking":
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartThinking, Text: blk.Thinking, Signature: blk.Signature})
		case "redacted_thinking":
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartRedactedThinking, Data: blk.Data})
		case "tool_use":
			args := "{}"
			if isJSONObject(blk.Input) {
				args = string(compact(blk.Input))
			}
			resp.Content = append(resp.Content, llm.Part{Type: llm.PartToolCall,
				ToolCall: &llm.ToolCall{ID: blk.ID, Name: blk.Name, Arguments: args}})
		default:
			resp.Content = append(resp.Content, nativePart(raw))
		}
	}
	if w.StopReason != nil {
		resp.FinishReason = parseStopReason(*w.StopReason)
	}
	if w.StopSequence != nil {
		resp.StopSequence = *w.StopSequence
	}
	w.Usage.mergeInto(&resp.Usage)
	return resp, nil
}

// hasCitations reports whether a text block carries a non-empty citations
// list.
func hasCitations(raw json.RawMessage) bool {
	var c struct {
		Citations []json.RawMessage `json:"citations"`
	}
	return json.Unmarshal(raw, &c) == nil && len(c.Citations) > 0
}
