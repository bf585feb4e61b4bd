package anthropic

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/rickyjim626/xjp/internal/llm"
)

// DecodeMessagesRequest decodes the body of POST /v1/messages into a neutral
// request. Errors are *llm.Error of kind caller_invalid (HTTP 400) whose
// Param is the offending field's path ("messages.1.content.0.source") and
// whose Message reads like Anthropic's own ("messages.1.role: Input should
// be 'user', 'assistant' or 'system'").
//
// The top-level system field becomes one leading llm.RoleSystem message with
// one part per block; a {"role": "system"} message inside messages (Claude
// Code sends one after the user turn) stays in place as a RoleSystem
// message. A user message holding tool_result blocks becomes a RoleTool
// message with the results, followed by a RoleUser message with the other
// blocks, if any. Members llm has no field for are kept verbatim (see the
// package documentation); req.Native.Dialect is always llm.DialectAnthropic
// so that the ingress handler can add the anthropic-version and
// anthropic-beta headers to req.Native.Headers.
//
// max_tokens is required. Zero is accepted: the current API reference
// documents max_tokens 0 as a way to pre-warm the prompt cache without
// generating; it is kept in Native.Fields for Anthropic upstreams and reads
// as "unset" (MaxTokens 0) elsewhere.
func DecodeMessagesRequest(body []byte) (*llm.Request, error) {
	return decodeRequest(body, true)
}

// DecodeCountTokensRequest decodes the body of POST
// /v1/messages/count_tokens: the same fields as a Messages request, with
// max_tokens not required (a max_tokens the client sends anyway is read and
// not forwarded).
func DecodeCountTokensRequest(body []byte) (*llm.Request, error) {
	return decodeRequest(body, false)
}

// EncodeCountTokensResponse renders the answer of count_tokens.
func EncodeCountTokensResponse(inputTokens int64) []byte {
	b := append([]byte(`{"input_tokens":`), strconv.AppendInt(nil, inputTokens, 10)...)
	return append(b, '}')
}

type members = map[string]json.RawMessage

// bad returns a 400 about the field at path.
func bad(path, format string, args ...any) *llm.Error {
	msg := fmt.Sprintf(format, args...)
	if path != "" {
		msg = path + ": " + msg
	}
	return &llm.Error{Kind: llm.KindCallerInvalid, Status: 400, Param: path, Message: msg}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func joinIndex(path string, i int) string { return path + "." + strconv.Itoa(i) }

func isNull(raw json.RawMessage) bool { return kindOf(raw) == 'n' }

func decodeObject(path string, raw json.RawMessage) (members, error) {
	if kindOf(raw) != '{' {
		return nil, bad(path, "Input should be an object")
	}
	var m members
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, bad(path, "Input should be an object")
	}
	return m, nil
}

func decodeList(path string, raw json.RawMessage) ([]json.RawMessage, error) {
	if kindOf(raw) != '[' {
		return nil, bad(path, "Input should be a valid list")
	}
	var l []json.RawMessage
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, bad(path, "Input should be a valid list")
	}
	return l, nil
}

func decodeString(path string, raw json.RawMessage) (string, error) {
	var s string
	if kindOf(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		return "", bad(path, "Input should be a valid string")
	}
	return s, nil
}

func decodeBool(path string, raw json.RawMessage) (bool, error) {
	var b bool
	if k := kindOf(raw); k != 't' && k != 'f' || json.Unmarshal(raw, &b) != nil {
		return false, bad(path, "Input should be a valid boolean")
	}
	return b, nil
}

func decodeNumber(path string, raw json.RawMessage) (float64, error) {
	var f float64
	k := kindOf(raw)
	if !(k == '-' || k >= '0' && k <= '9') || json.Unmarshal(raw, &f) != nil {
		return 0, bad(path, "Input should be a valid number")
	}
	return f, nil
}

func decodeInt(path string, raw json.RawMessage) (int64, error) {
	f, err := decodeNumber(path, raw)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, bad(path, "Input should be a valid integer")
	}
	return int64(f), nil
}

// required returns member key of m or a "Field required" error.
func required(m members, path, key string) (json.RawMessage, error) {
	v, ok := m[key]
	if !ok {
		return nil, bad(join(path, key), "Field required")
	}
	return v, nil
}

// optional returns member key of m unless it is absent or null.
func optional(m members, key string) (json.RawMessage, bool) {
	v, ok := m[key]
	if !ok || isNull(v) {
		return nil, false
	}
	return v, true
}

// hasExtras reports whether m has members other than known.
func hasExtras(m members, known ...string) bool {
	for k := range m {
		if !slices.Contains(known, k) {
			return true
		}
	}
	return false
}

// compact returns raw without insignificant whitespace, so that verbatim
// values never carry newlines into an SSE data line. Raw JSON without
// newlines (what SDKs send) is returned as it is: inside strings a newline
// is always escaped, so spaces are then the only whitespace left.
func compact(raw json.RawMessage) json.RawMessage {
	if bytes.IndexByte(raw, '\n') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		return raw
	}
	return appendCompact(make([]byte, 0, len(raw)), raw)
}

// decodeCacheControl reads an optional cache_control member.
func decodeCacheControl(m members, path string) (json.RawMessage, error) {
	v, ok := optional(m, "cache_control")
	if !ok {
		return nil, nil
	}
	if kindOf(v) != '{' {
		return nil, bad(join(path, "cache_control"), "Input should be an object")
	}
	return compact(v), nil
}

func decodeRequest(body []byte, messagesEndpoint bool) (*llm.Request, error) {
	if !json.Valid(body) {
		return nil, bad("", "request body is not valid JSON")
	}
	if kindOf(body) != '{' {
		return nil, bad("", "request body must be a JSON object")
	}
	var top members
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, bad("", "request body is not valid JSON: %v", err)
	}
	req := &llm.Request{Native: &llm.Native{Dialect: llm.DialectAnthropic}}
	native := func(k string, v json.RawMessage) {
		if req.Native.Fields == nil {
			req.Native.Fields = make(map[string]json.RawMessage)
		}
		req.Native.Fields[k] = compact(v)
	}

	// model
	v, err := required(top, "", "model")
	if err != nil {
		return nil, err
	}
	if req.Model, err = decodeString("model", v); err != nil {
		return nil, err
	}
	if req.Model == "" {
		return nil, bad("model", "String should have at least 1 character")
	}
	delete(top, "model")

	// max_tokens
	if v, ok := top["max_tokens"]; ok || messagesEndpoint {
		if !ok {
			return nil, bad("max_tokens", "Field required")
		}
		n, err := decodeInt("max_tokens", v)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, bad("max_tokens", "Input should be greater than or equal to 0")
		}
		if n > math.MaxInt32 {
			return nil, bad("max_tokens", "Input should be less than or equal to %d", math.MaxInt32)
		}
		req.MaxTokens = int(n)
		if n == 0 && messagesEndpoint {
			native("max_tokens", v) // cache pre-warming; see DecodeMessagesRequest
		}
		delete(top, "max_tokens")
	}

	// system (before messages: it leads the conversation)
	if v, ok := optional(top, "system"); ok {
		parts, err := decodeSystem(v)
		if err != nil {
			return nil, err
		}
		if len(parts) > 0 {
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleSystem, Content: parts})
		}
	}
	delete(top, "system")

	// messages
	v, err = required(top, "", "messages")
	if err != nil {
		return nil, err
	}
	if req.Messages, err = decodeMessages("messages", v, req.Messages); err != nil {
		return nil, err
	}
	delete(top, "messages")

	if v, ok := optional(top, "tools"); ok {
		if req.Tools, err = decodeTools("tools", v); err != nil {
			return nil, err
		}
	}
	delete(top, "tools")

	if v, ok := optional(top, "tool_choice"); ok {
		m, err := decodeObject("tool_choice", v)
		if err != nil {
			return nil, err
		}
		if err := decodeToolChoice(m, req); err != nil {
			return nil, err
		}
		if hasExtras(m, "type", "name", "disable_parallel_tool_use") {
			native("tool_choice", v)
		}
	}
	delete(top, "tool_choice")

	if v, ok := optional(top, "stop_sequences"); ok {
		l, err := decodeList("stop_sequences", v)
		if err != nil {
			return nil, err
		}
		for i, it := range l {
			s, err := decodeString(joinIndex("stop_sequences", i), it)
			if err != nil {
				return nil, err
			}
			req.Stop = append(req.Stop, s)
		}
	}
	delete(top, "stop_sequences")

	for _, name := range []string{"temperature", "top_p"} {
		if v, ok := optional(top, name); ok {
			f, err := decodeNumber(name, v)
			if err != nil {
				return nil, err
			}
			if f < 0 {
				return nil, bad(name, "Input should be greater than or equal to 0")
			}
			if f > 1 {
				return nil, bad(name, "Input should be less than or equal to 1")
			}
			if name == "temperature" {
				req.Temperature = &f
			} else {
				req.TopP = &f
			}
		}
		delete(top, name)
	}
	if v, ok := optional(top, "top_k"); ok {
		n, err := decodeInt("top_k", v)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, bad("top_k", "Input should be greater than or equal to 0")
		}
		k := int(n)
		req.TopK = &k
	}
	delete(top, "top_k")

	if v, ok := optional(top, "metadata"); ok {
		m, err := decodeObject("metadata", v)
		if err != nil {
			return nil, err
		}
		if u, ok := optional(m, "user_id"); ok {
			if req.User, err = decodeString("metadata.user_id", u); err != nil {
				return nil, err
			}
		}
		if hasExtras(m, "user_id") {
			native("metadata", v)
		}
	}
	delete(top, "metadata")

	if v, ok := optional(top, "thinking"); ok {
		keep, err := decodeThinking(v, req)
		if err != nil {
			return nil, err
		}
		if keep {
			native("thinking", v)
		}
	}
	delete(top, "thinking")

	if v, ok := optional(top, "output_config"); ok {
		if err := decodeOutputConfig(v, req); err != nil {
			return nil, err
		}
		native("output_config", v)
	}
	delete(top, "output_config")

	// output_format is the deprecated spelling of output_config.format; it
	// is read into ResponseFormat and leaves as output_config.format.
	if v, ok := optional(top, "output_format"); ok {
		rf, err := decodeOutputFormat("output_format", v)
		if err != nil {
			return nil, err
		}
		if rf != nil && req.ResponseFormat == nil {
			req.ResponseFormat = rf
		}
	}
	delete(top, "output_format")

	if v, ok := optional(top, "stream"); ok {
		if req.Stream, err = decodeBool("stream", v); err != nil {
			return nil, err
		}
	}
	delete(top, "stream")

	// everything else: service_tier, container, mcp_servers,
	// context_management, inference_geo, speed, cache_control, unknown…
	for k, v := range top {
		native(k, v)
	}
	return req, nil
}

// decodeSystem reads the top-level system field: a string or text blocks.
func decodeSystem(raw json.RawMessage) ([]llm.Part, error) {
	if kindOf(raw) == '"' {
		s, err := decodeString("system", raw)
		if err != nil || s == "" {
			return nil, err
		}
		return []llm.Part{llm.TextPart(s)}, nil
	}
	l, err := decodeList("system", raw)
	if err != nil {
		return nil, bad("system", "Input should be a valid string or a list of text blocks")
	}
	parts := make([]llm.Part, 0, len(l))
	for i, it := range l {
		p := joinIndex("system", i)
		part, err := decodeBlock(p, it)
		if err != nil {
			return nil, err
		}
		if part.Type != llm.PartText {
			return nil, bad(join(p, "type"), "Input should be 'text'")
		}
		parts = append(parts, part)
	}
	return parts, nil
}

// decodeMessages reads the messages array, appending to out.
func decodeMessages(path string, raw json.RawMessage, out []llm.Message) ([]llm.Message, error) {
	items, err := decodeList(path, raw)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, bad(path, "at least one message is required")
	}
	for i, it := range items {
		p := joinIndex(path, i)
		m, err := decodeObject(p, it)
		if err != nil {
			return nil, err
		}
		rv, err := required(m, p, "role")
		if err != nil {
			return nil, err
		}
		role, err := decodeString(join(p, "role"), rv)
		if err != nil {
			return nil, err
		}
		cv, err := required(m, p, "content")
		if err != nil {
			return nil, err
		}
		parts, err := decodeContent(join(p, "content"), cv)
		if err != nil {
			return nil, err
		}
		var extras json.RawMessage
		if hasExtras(m, "role", "content") {
			var o object
			o.addExtras(it, "role", "content")
			extras = compact(o.bytes())
		}
		switch role {
		case "user":
			var results, rest []llm.Part
			for _, part := range parts {
				if part.Type == llm.PartToolResult {
					results = append(results, part)
				} else {
					rest = append(rest, part)
				}
			}
			if len(results) > 0 {
				out = append(out, llm.Message{Role: llm.RoleTool, Content: results})
			}
			if len(rest) > 0 || len(results) == 0 {
				out = append(out, llm.Message{Role: llm.RoleUser, Content: rest})
			}
			out[len(out)-1].Native = extras
		case "assistant":
			for j, part := range parts {
				if part.Type == llm.PartToolResult {
					return nil, bad(joinIndex(join(p, "content"), j), "tool_result blocks are only allowed in user messages")
				}
			}
			out = append(out, llm.Message{Role: llm.RoleAssistant, Content: parts, Native: extras})
		case "system":
			for j, part := range parts {
				if part.Type != llm.PartText {
					return nil, bad(join(joinIndex(join(p, "content"), j), "type"), "system messages may only contain text blocks")
				}
			}
			out = append(out, llm.Message{Role: llm.RoleSystem, Content: parts, Native: extras})
		default:
			return nil, bad(join(p, "role"), "Input should be 'user', 'assistant' or 'system'")
		}
	}
	return out, nil
}

// decodeContent reads a message's content: a string or a list of blocks.
func decodeContent(path string, raw json.RawMessage) ([]llm.Part, error) {
	switch kindOf(raw) {
	case '"':
		s, err := decodeString(path, raw)
		if err != nil {
			return nil, err
		}
		return []llm.Part{llm.TextPart(s)}, nil
	case '[':
		l, err := decodeList(path, raw)
		if err != nil {
			return nil, err
		}
		parts := make([]llm.Part, 0, len(l))
		for i, it := range l {
			part, err := decodeBlock(joinIndex(path, i), it)
			if err != nil {
				return nil, err
			}
			parts = append(parts, part)
		}
		return parts, nil
	}
	return nil, bad(path, "Input should be a valid string or a list of content blocks")
}

// nativePart keeps a block llm has no type for.
func nativePart(raw json.RawMessage) llm.Part {
	return llm.Part{Type: llm.PartNative, Native: compact(raw), Dialect: llm.DialectAnthropic}
}

// withExtras keeps the whole block on a modelled part when it has members
// beyond known, so that a same-dialect encoder can add them back.
func withExtras(part llm.Part, m members, raw json.RawMessage, known ...string) llm.Part {
	if hasExtras(m, known...) {
		part.Native = compact(raw)
		part.Dialect = llm.DialectAnthropic
	}
	return part
}

// decodeBlock reads one content block.
func decodeBlock(path string, raw json.RawMessage) (llm.Part, error) {
	m, err := decodeObject(path, raw)
	if err != nil {
		return llm.Part{}, err
	}
	tv, err := required(m, path, "type")
	if err != nil {
		return llm.Part{}, err
	}
	typ, err := decodeString(join(path, "type"), tv)
	if err != nil {
		return llm.Part{}, err
	}
	cc, err := decodeCacheControl(m, path)
	if err != nil {
		return llm.Part{}, err
	}
	switch typ {
	case "text":
		v, err := required(m, path, "text")
		if err != nil {
			return llm.Part{}, err
		}
		s, err := decodeString(join(path, "text"), v)
		if err != nil {
			return llm.Part{}, err
		}
		part := llm.Part{Type: llm.PartText, Text: s, CacheControl: cc}
		return withExtras(part, m, raw, "type", "text", "cache_control"), nil

	case "image":
		v, err := required(m, path, "source")
		if err != nil {
			return llm.Part{}, err
		}
		media, err := decodeImageSource(join(path, "source"), v)
		if err != nil {
			return llm.Part{}, err
		}
		if media == nil { // Files API source
			return nativePart(raw), nil
		}
		part := llm.Part{Type: llm.PartImage, Media: media, CacheControl: cc}
		return withExtras(part, m, raw, "type", "source", "cache_control"), nil

	case "document":
		return decodeDocument(path, m, raw, cc)

	case "tool_use":
		id, err := requiredString(m, path, "id")
		if err != nil {
			return llm.Part{}, err
		}
		name, err := requiredString(m, path, "name")
		if err != nil {
			return llm.Part{}, err
		}
		v, err := required(m, path, "input")
		if err != nil {
			return llm.Part{}, err
		}
		if kindOf(v) != '{' {
			return llm.Part{}, bad(join(path, "input"), "Input should be an object")
		}
		part := llm.Part{Type: llm.PartToolCall, CacheControl: cc,
			ToolCall: &llm.ToolCall{ID: id, Name: name, Arguments: string(compact(v))}}
		return withExtras(part, m, raw, "type", "id", "name", "input", "cache_control"), nil

	case "tool_result":
		id, err := requiredString(m, path, "tool_use_id")
		if err != nil {
			return llm.Part{}, err
		}
		tr := &llm.ToolResult{ToolCallID: id}
		if v, ok := optional(m, "content"); ok {
			if tr.Content, err = decodeToolResultContent(join(path, "content"), v); err != nil {
				return llm.Part{}, err
			}
		}
		if v, ok := optional(m, "is_error"); ok {
			if tr.IsError, err = decodeBool(join(path, "is_error"), v); err != nil {
				return llm.Part{}, err
			}
		}
		part := llm.Part{Type: llm.PartToolResult, ToolResult: tr, CacheControl: cc}
		return withExtras(part, m, raw, "type", "tool_use_id", "content", "is_error", "cache_control"), nil

	case "thinking":
		text, err := requiredString(m, path, "thinking")
		if err != nil {
			return llm.Part{}, err
		}
		sig, err := requiredString(m, path, "signature")
		if err != nil {
			return llm.Part{}, err
		}
		part := llm.Part{Type: llm.PartThinking, Text: text, Signature: sig, CacheControl: cc}
		return withExtras(part, m, raw, "type", "thinking", "signature", "cache_control"), nil

	case "redacted_thinking":
		data, err := requiredString(m, path, "data")
		if err != nil {
			return llm.Part{}, err
		}
		part := llm.Part{Type: llm.PartRedactedThinking, Data: data, CacheControl: cc}
		return withExtras(part, m, raw, "type", "data", "cache_control"), nil
	}
	// server_tool_use, web_search_tool_result, search_result,
	// container_upload, and block types newer than this code.
	return nativePart(raw), nil
}

func requiredString(m members, path, key string) (string, error) {
	v, err := required(m, path, key)
	if err != nil {
		return "", err
	}
	return decodeString(join(path, key), v)
}

var imageMediaTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp"}

// decodeImageSource reads an image source. It returns nil media for a Files
// API source (file_id), which llm cannot hold.
func decodeImageSource(path string, raw json.RawMessage) (*llm.Media, error) {
	m, err := decodeObject(path, raw)
	if err != nil {
		return nil, err
	}
	typ, err := requiredString(m, path, "type")
	if err != nil {
		return nil, err
	}
	switch typ {
	case "base64":
		mt, err := requiredString(m, path, "media_type")
		if err != nil {
			return nil, err
		}
		if !slices.Contains(imageMediaTypes, mt) {
			return nil, bad(join(path, "media_type"), "Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
		}
		data, err := requiredString(m, path, "data")
		if err != nil {
			return nil, err
		}
		return &llm.Media{MediaType: mt, Data: data}, nil
	case "url":
		u, err := requiredString(m, path, "url")
		if err != nil {
			return nil, err
		}
		return &llm.Media{URL: u}, nil
	case "file":
		if _, err := requiredString(m, path, "file_id"); err != nil {
			return nil, err
		}
		return nil, nil
	}
	return nil, bad(join(path, "type"), "Input tag '%s' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'", typ)
}

// decodeDocument reads a document block: a PDF (base64 or URL) or plain
// text becomes llm.PartFile; a document with citations or context, or with
// a content or Files API source, stays native.
func decodeDocument(path string, m members, raw json.RawMessage, cc json.RawMessage) (llm.Part, error) {
	v, err := required(m, path, "source")
	if err != nil {
		return llm.Part{}, err
	}
	sp := join(path, "source")
	src, err := decodeObject(sp, v)
	if err != nil {
		return llm.Part{}, err
	}
	typ, err := requiredString(src, sp, "type")
	if err != nil {
		return llm.Part{}, err
	}
	var media *llm.Media
	switch typ {
	case "base64":
		data, err := requiredString(src, sp, "data")
		if err != nil {
			return llm.Part{}, err
		}
		mt := "application/pdf"
		if v, ok := optional(src, "media_type"); ok {
			if mt, err = decodeString(join(sp, "media_type"), v); err != nil {
				return llm.Part{}, err
			}
			if mt != "application/pdf" {
				return llm.Part{}, bad(join(sp, "media_type"), "Input should be 'application/pdf'")
			}
		}
		media = &llm.Media{MediaType: mt, Data: data}
	case "url":
		u, err := requiredString(src, sp, "url")
		if err != nil {
			return llm.Part{}, err
		}
		media = &llm.Media{MediaType: "application/pdf", URL: u}
	case "text":
		data, err := requiredString(src, sp, "data")
		if err != nil {
			return llm.Part{}, err
		}
		media = &llm.Media{MediaType: "text/plain", Data: base64.StdEncoding.EncodeToString([]byte(data))}
	case "content", "file":
		return nativePart(raw), nil
	default:
		return llm.Part{}, bad(join(sp, "type"), "Input tag '%s' found using 'type' does not match any of the expected tags: 'base64', 'text', 'content', 'url', 'file'", typ)
	}
	if hasExtras(m, "type", "source", "title", "cache_control") || hasExtras(src, "type", "data", "media_type", "url") {
		return nativePart(raw), nil
	}
	if v, ok := optional(m, "title"); ok {
		if media.Name, err = decodeString(join(path, "title"), v); err != nil {
			return llm.Part{}, err
		}
	}
	return llm.Part{Type: llm.PartFile, Media: media, CacheControl: cc}, nil
}

// decodeToolResultContent reads a tool_result's content: a string or a list
// of text, image, document, search_result… blocks.
func decodeToolResultContent(path string, raw json.RawMessage) ([]llm.Part, error) {
	parts, err := decodeContent(path, raw)
	if err != nil {
		return nil, err
	}
	for i, part := range parts {
		switch part.Type {
		case llm.PartText, llm.PartImage, llm.PartFile, llm.PartNative:
		default:
			return nil, bad(joinIndex(path, i), "a tool_result may only contain text, image, document and search_result blocks")
		}
	}
	return parts, nil
}

// decodeTools reads the tools array. Custom tools (no type, or "custom")
// become function tools; server tools keep their definition verbatim.
func decodeTools(path string, raw json.RawMessage) ([]llm.Tool, error) {
	l, err := decodeList(path, raw)
	if err != nil {
		return nil, err
	}
	tools := make([]llm.Tool, 0, len(l))
	for i, it := range l {
		p := joinIndex(path, i)
		m, err := decodeObject(p, it)
		if err != nil {
			return nil, err
		}
		typ := ""
		if v, ok := optional(m, "type"); ok {
			if typ, err = decodeString(join(p, "type"), v); err != nil {
				return nil, err
			}
		}
		if typ != "" && typ != "custom" { // server tool
			t := llm.Tool{Type: typ, Native: compact(it)}
			if v, ok := optional(m, "name"); ok {
				if t.Name, err = decodeString(join(p, "name"), v); err != nil {
					return nil, err
				}
			}
			if t.CacheControl, err = decodeCacheControl(m, p); err != nil {
				return nil, err
			}
			tools = append(tools, t)
			continue
		}
		var t llm.Tool
		if t.Name, err = requiredString(m, p, "name"); err != nil {
			return nil, err
		}
		if t.Name == "" {
			return nil, bad(join(p, "name"), "String should have at least 1 character")
		}
		v, err := required(m, p, "input_schema")
		if err != nil {
			return nil, err
		}
		if kindOf(v) != '{' {
			return nil, bad(join(p, "input_schema"), "Input should be an object")
		}
		t.Parameters = compact(v)
		if v, ok := optional(m, "description"); ok {
			if t.Description, err = decodeString(join(p, "description"), v); err != nil {
				return nil, err
			}
		}
		if v, ok := optional(m, "strict"); ok {
			b, err := decodeBool(join(p, "strict"), v)
			if err != nil {
				return nil, err
			}
			t.Strict = &b
		}
		if t.CacheControl, err = decodeCacheControl(m, p); err != nil {
			return nil, err
		}
		if hasExtras(m, "name", "description", "input_schema", "strict", "cache_control") {
			t.Native = compact(it) // type "custom", defer_loading, input_examples…
		}
		tools = append(tools, t)
	}
	return tools, nil
}

func decodeToolChoice(m members, req *llm.Request) error {
	typ, err := requiredString(m, "tool_choice", "type")
	if err != nil {
		return err
	}
	tc := &llm.ToolChoice{}
	switch typ {
	case "auto":
		tc.Mode = llm.ToolChoiceAuto
	case "any":
		tc.Mode = llm.ToolChoiceRequired
	case "none":
		tc.Mode = llm.ToolChoiceNone
	case "tool":
		tc.Mode = llm.ToolChoiceTool
		if tc.Name, err = requiredString(m, "tool_choice", "name"); err != nil {
			return err
		}
	default:
		return bad("tool_choice.type", "Input tag '%s' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'", typ)
	}
	req.ToolChoice = tc
	if v, ok := optional(m, "disable_parallel_tool_use"); ok {
		off, err := decodeBool("tool_choice.disable_parallel_tool_use", v)
		if err != nil {
			return err
		}
		parallel := !off
		req.ParallelToolCalls = &parallel
	}
	return nil
}

// decodeThinking reads the thinking field into req.Reasoning. keep is true
// when the object has members llm cannot hold (display, a newer type) and
// must travel verbatim in Native.Fields.
func decodeThinking(raw json.RawMessage, req *llm.Request) (keep bool, err error) {
	m, err := decodeObject("thinking", raw)
	if err != nil {
		return false, err
	}
	typ, err := requiredString(m, "thinking", "type")
	if err != nil {
		return false, err
	}
	r := reasoningOf(req)
	switch typ {
	case "enabled":
		v, err := required(m, "thinking", "budget_tokens")
		if err != nil {
			return false, err
		}
		n, err := decodeInt("thinking.budget_tokens", v)
		if err != nil {
			return false, err
		}
		if n < 1 {
			// Anthropic's own minimum is 1024; smaller budgets (Claude Code's
			// MAX_THINKING_TOKENS) are accepted and raised upstream.
			return false, bad("thinking.budget_tokens", "Input should be greater than or equal to 1")
		}
		if n > math.MaxInt32 {
			return false, bad("thinking.budget_tokens", "Input should be less than or equal to %d", math.MaxInt32)
		}
		r.BudgetTokens = int(n)
		return hasExtras(m, "type", "budget_tokens"), nil
	case "disabled":
		r.Disabled = true
		return hasExtras(m, "type"), nil
	case "adaptive":
		r.Adaptive = true
		return hasExtras(m, "type"), nil
	}
	// A thinking type newer than this code (between_tools…): verbatim only.
	// (thinking is decoded before output_config, so no effort is lost.)
	req.Reasoning = nil
	return true, nil
}

func reasoningOf(req *llm.Request) *llm.Reasoning {
	if req.Reasoning == nil {
		req.Reasoning = &llm.Reasoning{}
	}
	return req.Reasoning
}

// decodeOutputConfig reads output_config: effort becomes Reasoning.Effort
// (for upstreams of other dialects) and format becomes ResponseFormat. The
// whole object also travels verbatim in Native.Fields.
func decodeOutputConfig(raw json.RawMessage, req *llm.Request) error {
	m, err := decodeObject("output_config", raw)
	if err != nil {
		return err
	}
	if v, ok := optional(m, "effort"); ok {
		e, err := decodeString("output_config.effort", v)
		if err != nil {
			return err
		}
		if eff := effortFromAnthropic(e); eff != "" {
			reasoningOf(req).Effort = eff
		}
	}
	if v, ok := optional(m, "format"); ok {
		rf, err := decodeOutputFormat("output_config.format", v)
		if err != nil {
			return err
		}
		req.ResponseFormat = rf
	}
	return nil
}

// effortFromAnthropic maps output_config.effort to OpenAI's reasoning effort
// vocabulary: low, medium and high are the same words; xhigh and max have
// no OpenAI counterpart everywhere and read as high.
func effortFromAnthropic(e string) string {
	switch e {
	case "low", "medium", "high":
		return e
	case "xhigh", "max":
		return "high"
	}
	return ""
}

// decodeOutputFormat reads {type: "json_schema", schema}.
func decodeOutputFormat(path string, raw json.RawMessage) (*llm.ResponseFormat, error) {
	m, err := decodeObject(path, raw)
	if err != nil {
		return nil, err
	}
	typ, err := requiredString(m, path, "type")
	if err != nil {
		return nil, err
	}
	if typ != "json_schema" {
		return nil, bad(join(path, "type"), "Input tag '%s' found using 'type' does not match any of the expected tags: 'json_schema'", typ)
	}
	v, err := required(m, path, "schema")
	if err != nil {
		return nil, err
	}
	if kindOf(v) != '{' {
		return nil, bad(join(path, "schema"), "Input should be an object")
	}
	return &llm.ResponseFormat{Type: "json_schema", Schema: compact(v)}, nil
}
