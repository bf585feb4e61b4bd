package ingress

import (
	"net/http"
	"strings"

	"github.com/rickyjim626/xjp/internal/anthropic"
	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/openai"
	"github.com/rickyjim626/xjp/internal/vertex"
)

// meta identifies a response to the client.
type meta struct {
	ID      string
	Model   string // the model name the client asked for
	Created int64  // unix seconds
	// Request is the decoded request: some formats echo it (Responses) or
	// map tools back through it (custom tools).
	Request *llm.Request
}

// streamEncoder turns llm events into a dialect's stream bytes.
type streamEncoder interface {
	Encode(dst []byte, ev llm.Event) []byte
	End(dst []byte) []byte
}

// dialect is one client wire format: its codecs, adapted to one shape.
type dialect struct {
	name     string // endpoint label: "chat", "messages", "responses", "gemini"
	idPrefix string
	decode   func(body []byte) (*llm.Request, error)
	response func(resp *llm.Response, m meta) []byte
	stream   func(m meta) streamEncoder
	error    func(e *llm.Error) []byte
	// streamType is the Content-Type of a stream; "" is text/event-stream.
	streamType string
	// byRequest, when set, picks the dialect from the request (endpoints
	// shared by several formats, like /v1/models).
	byRequest func(r *http.Request) *dialect
}

// modelsDialect answers /v1/models errors in the client's format:
// Anthropic's for clients sending anthropic-version, else OpenAI's.
var modelsDialect = &dialect{name: "models", error: openai.EncodeError, byRequest: func(r *http.Request) *dialect {
	if anthropicClient(r) {
		return messagesDialect
	}
	return chatDialect
}}

var chatDialect = &dialect{
	name:     "chat",
	idPrefix: "chatcmpl-",
	decode:   openai.DecodeChatRequest,
	response: func(resp *llm.Response, m meta) []byte {
		return openai.EncodeChatResponse(resp, openai.ResponseMeta{ID: m.ID, Model: m.Model, Created: m.Created})
	},
	stream: func(m meta) streamEncoder {
		return openai.NewChatStreamEncoder(openai.ResponseMeta{ID: m.ID, Model: m.Model, Created: m.Created}, m.Request.IncludeUsage)
	},
	error: openai.EncodeError,
}

var responsesDialect = &dialect{
	name:     "responses",
	idPrefix: "resp_",
	decode:   openai.DecodeResponsesRequest,
	response: func(resp *llm.Response, m meta) []byte {
		return openai.EncodeResponsesResponse(resp, openai.ResponsesMeta{ID: m.ID, Model: m.Model, Created: m.Created, Request: m.Request})
	},
	stream: func(m meta) streamEncoder {
		return openai.NewResponsesStreamEncoder(openai.ResponsesMeta{ID: m.ID, Model: m.Model, Created: m.Created, Request: m.Request})
	},
	error: openai.EncodeResponsesError,
}

var messagesDialect = &dialect{
	name:     "messages",
	idPrefix: "msg_",
	decode:   anthropic.DecodeMessagesRequest,
	response: func(resp *llm.Response, m meta) []byte {
		return anthropic.EncodeMessagesResponse(resp, anthropic.ResponseMeta{ID: m.ID, Model: m.Model})
	},
	stream: func(m meta) streamEncoder {
		return anthropic.NewMessagesStreamEncoder(anthropic.ResponseMeta{ID: m.ID, Model: m.Model})
	},
	error: anthropic.EncodeError,
}

// geminiErrors is the Gemini dialect as far as errors go, for middleware
// that answers before the model and method are known.
var geminiErrors = &dialect{name: "gemini", error: vertex.EncodeGoogleError}

// geminiDialect is the Gemini format for one request: the model comes from
// the path, and streamGenerateContent streams SSE with ?alt=sse and a JSON
// array without it.
func geminiDialect(model string, stream, sse bool) *dialect {
	d := &dialect{
		name: "gemini",
		decode: func(body []byte) (*llm.Request, error) {
			req, err := vertex.DecodeGenerateContentRequest(model, body)
			if err == nil {
				req.Stream = stream
			}
			return req, err
		},
		response: func(resp *llm.Response, m meta) []byte { return vertex.EncodeGenerateContentResponse(resp, m.Model) },
		stream:   func(m meta) streamEncoder { return vertex.NewGenerateContentStreamEncoder(m.Model, sse) },
		error:    vertex.EncodeGoogleError,
	}
	if !sse {
		d.streamType = "application/json"
	}
	return d
}

// dialectFor guesses the dialect of an unknown path, for its 404.
func dialectFor(path string) *dialect {
	switch {
	case strings.HasPrefix(path, "/v1/messages"):
		return messagesDialect
	case strings.HasPrefix(path, "/v1/responses"):
		return responsesDialect
	case strings.HasPrefix(path, "/v1beta/"):
		return geminiErrors
	}
	return chatDialect
}
