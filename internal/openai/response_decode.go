package openai

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/rickyjim626/xjp/internal/llm"
)

// DecodeChatResponse decodes a whole chat.completion object, for upstreams
// that answer application/json although xjp asked for a stream. The parts
// come in the order thinking, text, tool calls; reasoning is read like
// ChatStreamDecoder reads it. A body carrying an "error" member is returned
// as an *llm.Error.
func DecodeChatResponse(body []byte) (*llm.Response, error) {
	if !gjson.ValidBytes(body) {
		return nil, &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway,
			Message: "upstream sent a malformed response: " + truncate(string(body), 200)}
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway,
			Message: "upstream sent a malformed response: " + truncate(root.Raw, 200)}
	}
	if ev := root.Get("error"); isError(ev) {
		return nil, streamError("", ev)
	}
	resp := &llm.Response{ID: root.Get("id").Str, Model: root.Get("model").Str}
	var choice gjson.Result
	root.Get("choices").ForEach(func(_, c gjson.Result) bool {
		choice = c
		return false
	})
	msg := choice.Get("message")

	var calls []llm.Part
	msg.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		call := &llm.ToolCall{ID: tc.Get("id").Str}
		var args gjson.Result
		if c := tc.Get("custom"); c.IsObject() {
			call.Type, call.Name, args = "custom", c.Get("name").Str, c.Get("input")
		} else {
			call.Name, args = tc.Get("function.name").Str, tc.Get("function.arguments")
		}
		call.Arguments = args.Str
		if args.IsObject() {
			call.Arguments = args.Raw
		}
		if call.ID == "" {
			call.ID = randomCallID()
		}
		if call.Arguments == "" && call.Type == "" {
			call.Arguments = "{}"
		}
		calls = append(calls, llm.Part{Type: llm.PartToolCall, ToolCall: call})
		return true
	})

	if rd := msg.Get("reasoning_details"); rd.IsArray() && len(rd.Raw) > 2 {
		resp.Content = reasoningParts(rd, func(id, data string) bool {
			for _, c := range calls {
				if c.ToolCall.ID == id {
					c.ToolCall.Signature = data
					return true
				}
			}
			return false
		})
	} else if rc := msg.Get("reasoning_content"); rc.Type == gjson.String && rc.Str != "" {
		resp.Content = append(resp.Content, llm.Part{Type: llm.PartThinking, Text: rc.Str})
	} else if rs := msg.Get("reasoning"); rs.Type == gjson.String && rs.Str != "" {
		resp.Content = append(resp.Content, llm.Part{Type: llm.PartThinking, Text: rs.Str})
	}
	switch c := msg.Get("content"); {
	case c.Type == gjson.String && c.Str != "":
		resp.Content = append(resp.Content, llm.TextPart(c.Str))
	case c.IsArray():
		c.ForEach(func(_, p gjson.Result) bool {
			if t := p.Get("text"); t.Type == gjson.String && t.Str != "" {
				resp.Content = append(resp.Content, llm.TextPart(t.Str))
			}
			return true
		})
	}
	refused := false
	if r := msg.Get("refusal"); r.Type == gjson.String && r.Str != "" {
		refused = true
		resp.Content = append(resp.Content, llm.TextPart(r.Str))
	}
	resp.Content = append(resp.Content, calls...)

	switch fr := choice.Get("finish_reason"); {
	case fr.Type == gjson.String && fr.Str != "":
		r, ok := parseFinish(fr.Str)
		if !ok {
			return nil, &llm.Error{Kind: llm.KindProviderServer, Status: http.StatusBadGateway,
				Message: "upstream reported finish_reason \"error\""}
		}
		resp.FinishReason = r
	case len(calls) > 0:
		resp.FinishReason = llm.FinishToolCalls
	default:
		resp.FinishReason = llm.FinishStop
	}
	if refused && resp.FinishReason == llm.FinishStop {
		resp.FinishReason = llm.FinishRefusal
	}
	if u := root.Get("usage"); u.IsObject() {
		resp.Usage = parseUsage(u)
	}
	return resp, nil
}

// maxErrorMessage bounds an upstream message kept from a plain-text body.
const maxErrorMessage = 1000

// DecodeError turns a non-2xx upstream answer into an *llm.Error through
// llm.FromStatus, keeping the upstream's message. It reads OpenAI's
// envelope {"error":{"message","type","param","code"}}, OpenRouter's
// (numeric code, metadata.raw with the provider's own message), vLLM's and
// FastAPI's flat {"message"} / {"detail"}, Ollama's {"error":"…"} and plain
// text. UpstreamType is the upstream's error type; Code its string code,
// except for credential failures (the upstream's "invalid_api_key" is not
// the client's problem).
func DecodeError(provider string, status int, body []byte) *llm.Error {
	var msg, typ, code string
	body = bytes.TrimSpace(body)
	if gjson.ValidBytes(body) {
		root := gjson.ParseBytes(body)
		if root.IsArray() { // Google-style [{"error": …}]
			root = root.Get("0")
		}
		switch ev := root.Get("error"); {
		case ev.IsObject():
			msg = ev.Get("message").Str
			typ = ev.Get("type").Str
			if typ == "" {
				typ = ev.Get("status").Str
			}
			if typ == "" {
				typ = ev.Get("metadata.error_type").Str
			}
			if c := ev.Get("code"); c.Type == gjson.String {
				code = c.Str
			}
			if raw := ev.Get("metadata.raw"); raw.Type == gjson.String && raw.Str != "" && raw.Str != msg {
				msg = joinMessage(msg, truncate(raw.Str, maxErrorMessage))
			}
		case ev.Type == gjson.String:
			msg = ev.Str
		}
		if msg == "" {
			msg = root.Get("message").Str
		}
		if msg == "" {
			if d := root.Get("detail"); d.Type == gjson.String {
				msg = d.Str
			} else if d.Exists() {
				msg = compactString(d.Raw)
			}
		}
		if typ == "" {
			typ = root.Get("type").Str
		}
		if code == "" {
			if c := root.Get("code"); c.Type == gjson.String {
				code = c.Str
			}
		}
		if msg == "" && len(body) > 0 {
			msg = truncate(compactString(string(body)), maxErrorMessage)
		}
	} else {
		msg = truncate(strings.TrimSpace(string(body)), maxErrorMessage)
	}
	e := llm.FromStatus(provider, status, msg)
	e.UpstreamType = typ
	if e.Kind != llm.KindProviderAuth {
		e.Code = code
	}
	return e
}

func joinMessage(a, b string) string {
	if a == "" {
		return b
	}
	return a + ": " + b
}

func compactString(s string) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		return s
	}
	return buf.String()
}
