package ingress

import (
	"strings"

	"github.com/rickyjim626/xjp/internal/anthropic"
	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/openai"
)

// meta identifies a response to the client.
type meta struct {
	ID      string
	Model   string // the model name the client asked for
	Created int64  // unix seconds
}

// streamEncoder turns llm events into a dialect's SSE bytes.
type streamEncoder interface {
	Encode(dst []byte, ev llm.Event) []byte
	End(dst []byte) []byte
}

// dialect is one client wire format: its codecs, adapted to one shape.
type dialect struct {
	name     string // endpoint label: "chat", "messages"
	idPrefix string
	decode   func(body []byte) (*llm.Request, error)
	response func(resp *llm.Response, m meta) []byte
	stream   func(m meta, req *llm.Request) streamEncoder
	error    func(e *llm.Error) []byte
}

var chatDialect = &dialect{
	name:     "chat",
	idPrefix: "chatcmpl-",
	decode:   openai.DecodeChatRequest,
	response: func(resp *llm.Response, m meta) []byte {
		return openai.EncodeChatResponse(resp, openai.ResponseMeta{ID: m.ID, Model: m.Model, Created: m.Created})
	},
	stream: func(m meta, req *llm.Request) streamEncoder {
		return openai.NewChatStreamEncoder(openai.ResponseMeta{ID: m.ID, Model: m.Model, Created: m.Created}, req.IncludeUsage)
	},
	error: openai.EncodeError,
}

var messagesDialect = &dialect{
	name:     "messages",
	idPrefix: "msg_",
	decode:   anthropic.DecodeMessagesRequest,
	response: func(resp *llm.Response, m meta) []byte {
		return anthropic.EncodeMessagesResponse(resp, anthropic.ResponseMeta{ID: m.ID, Model: m.Model})
	},
	stream: func(m meta, req *llm.Request) streamEncoder {
		return anthropic.NewMessagesStreamEncoder(anthropic.ResponseMeta{ID: m.ID, Model: m.Model})
	},
	error: anthropic.EncodeError,
}

// dialectFor guesses the dialect of an unknown path, for its 404.
func dialectFor(path string) *dialect {
	if strings.HasPrefix(path, "/v1/messages") {
		return messagesDialect
	}
	return chatDialect
}
