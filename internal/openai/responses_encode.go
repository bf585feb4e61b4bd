package openai

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/rickyjim626/xjp/internal/llm"
)

// EncodeResponsesResponse renders a whole answer as a Responses API
// response object (object "response").
//
// Output items follow the answer's parts in order: thinking and redacted
// thinking become reasoning items (thinking text as summary_text; the
// signature or redacted data in encrypted_content when the request included
// "reasoning.encrypted_content"), consecutive text parts one message item
// with one output_text part each (annotations and logprobs empty), tool
// calls function_call items with fresh item ids (fc_…) and call_id = the
// call's id, or custom_tool_call items for the request's custom tools
// (input = llm.CustomInput of the arguments when the upstream answered with
// the function form). A tool call with a Gemini thought signature is
// preceded by a reasoning item carrying it (when encrypted content was
// asked for), so that the signature comes back on the next turn.
//
// status is "completed", or "incomplete" with incomplete_details.reason
// "max_output_tokens" (FinishLength) or "content_filter" (content filter
// and refusal); the last message item is then "incomplete" too. usage has
// input_tokens (all prompt tokens, cached included),
// input_tokens_details.cached_tokens, output_tokens,
// output_tokens_details.reasoning_tokens and total_tokens. The request's
// parameters are echoed from meta.Request.
func EncodeResponsesResponse(resp *llm.Response, meta ResponsesMeta) []byte {
	if meta.ID == "" {
		meta.ID = resp.ID
	}
	if meta.Model == "" {
		meta.Model = resp.Model
	}
	ib := newItemBuilder(meta)
	for _, p := range resp.Content {
		switch p.Type {
		case llm.PartThinking:
			if p.Text == "" && p.Signature == "" {
				continue
			}
			it := ib.newItem(itemReasoning)
			it.text.WriteString(p.Text)
			it.hasText = p.Text != ""
			it.signature = p.Signature
		case llm.PartRedactedThinking:
			ib.newItem(itemReasoning).data = p.Data
		case llm.PartText:
			if p.Text == "" {
				continue
			}
			it := ib.last()
			if it == nil || it.kind != itemMessage {
				it = ib.newItem(itemMessage)
			}
			var t strings.Builder
			t.WriteString(p.Text)
			it.texts = append(it.texts, &t)
		case llm.PartToolCall:
			if p.ToolCall != nil {
				ib.toolCall(p.ToolCall, p.ToolCall.Arguments)
			}
		}
	}
	status, reason := responseStatus(resp.FinishReason)
	for _, it := range ib.items {
		it.status = "completed"
	}
	if last := ib.last(); last != nil && status == "incomplete" && last.kind == itemMessage {
		last.status = "incomplete"
	}
	u := resp.Usage
	b := make([]byte, 0, 1024)
	return appendResponseObject(b, meta, responseState{status: status, reason: reason, items: ib.items, usage: &u})
}

// responseStatus maps a finish reason to the response status and the
// incomplete_details reason.
func responseStatus(r llm.FinishReason) (status, reason string) {
	switch r {
	case llm.FinishLength:
		return "incomplete", "max_output_tokens"
	case llm.FinishContentFilter, llm.FinishRefusal:
		return "incomplete", "content_filter"
	}
	return "completed", ""
}

// ---- output items ----

type itemKind uint8

const (
	itemMessage itemKind = iota + 1
	itemReasoning
	itemFunctionCall
	itemCustomCall
)

// outItem is one output item under construction (stream) or complete.
type outItem struct {
	kind   itemKind
	id     string
	status string // in_progress, completed, incomplete
	done   bool   // output_item.done was sent (stream)

	// message: one builder per output_text part; the last one grows while
	// streaming.
	texts []*strings.Builder

	// reasoning: summary text, signature, redacted data, or a tool-call
	// signature (callID set).
	text      strings.Builder
	hasText   bool
	signature string
	data      string

	// function_call and custom_tool_call.
	callID, name, namespace string
	args                    strings.Builder
}

// itemBuilder numbers output items and knows the request's tools.
type itemBuilder struct {
	base      string // the response id without "resp_"
	tools     map[string]responsesTool
	encrypted bool // the client asked for reasoning.encrypted_content
	items     []*outItem
}

func newItemBuilder(meta ResponsesMeta) *itemBuilder {
	return &itemBuilder{
		base:      strings.TrimPrefix(meta.ID, "resp_"),
		tools:     responsesToolIndex(meta.Request),
		encrypted: includes(meta.Request, "reasoning.encrypted_content"),
	}
}

var itemPrefixes = [...]string{itemMessage: "msg_", itemReasoning: "rs_", itemFunctionCall: "fc_", itemCustomCall: "ctc_"}

func (ib *itemBuilder) newItem(kind itemKind) *outItem {
	n := len(ib.items)
	id := itemPrefixes[kind] + ib.base + "_" + strconv.Itoa(n)
	if ib.base == "" {
		id = itemPrefixes[kind] + strconv.Itoa(n)
	}
	it := &outItem{kind: kind, id: id, status: "in_progress"}
	ib.items = append(ib.items, it)
	return it
}

func (ib *itemBuilder) last() *outItem {
	if len(ib.items) == 0 {
		return nil
	}
	return ib.items[len(ib.items)-1]
}

// toolCall adds the items of a tool call whose arguments are args so far:
// a reasoning item carrying its thought signature (when the client keeps
// encrypted reasoning), then the call. It returns the call item and whether
// the upstream answered a custom tool in its function form (arguments to
// be unwrapped with llm.CustomInput).
func (ib *itemBuilder) toolCall(tc *llm.ToolCall, args string) (it *outItem, wrapped bool) {
	if tc.Signature != "" && ib.encrypted {
		sig := ib.newItem(itemReasoning)
		sig.callID, sig.signature = tc.ID, tc.Signature
	}
	ref, known := ib.tools[tc.Name]
	kind := itemFunctionCall
	switch {
	case tc.Type == "custom":
		kind = itemCustomCall
	case known && ref.custom:
		kind, wrapped = itemCustomCall, true
	}
	it = ib.newItem(kind)
	it.callID, it.name = tc.ID, tc.Name
	if known {
		it.name, it.namespace = ref.name, ref.namespace
	}
	if wrapped {
		args = llm.CustomInput(args)
	}
	it.args.WriteString(args)
	return it, wrapped
}

// encryptedContent is what the item carries for the next turn, "" for none.
func (ib *itemBuilder) encryptedContent(it *outItem) string {
	if !ib.encrypted || it.kind != itemReasoning {
		return ""
	}
	switch {
	case it.callID != "":
		return encodeXJPReasoning(xjpReasoning{Type: "tool_call_signature", CallID: it.callID, Signature: it.signature})
	case it.data != "":
		return encodeXJPReasoning(xjpReasoning{Type: "redacted_thinking", Data: it.data})
	case it.signature != "":
		return encodeXJPReasoning(xjpReasoning{Type: "thinking", Thinking: it.text.String(), Signature: it.signature})
	}
	return ""
}

// appendItem appends the item's JSON as it stands.
func (ib *itemBuilder) appendItem(b []byte, it *outItem) []byte {
	b = append(b, '{')
	b = appendStringField(b, "id", it.id)
	switch it.kind {
	case itemMessage:
		b = appendStringField(b, "type", "message")
		b = appendStringField(b, "status", it.status)
		b = append(b, `,"content":[`...)
		for i, t := range it.texts {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendOutputText(b, t.String())
		}
		b = append(b, ']')
		b = appendStringField(b, "role", "assistant")
	case itemReasoning:
		b = appendStringField(b, "type", "reasoning")
		b = append(b, `,"summary":[`...)
		if it.hasText {
			b = appendSummaryText(b, it.text.String())
		}
		b = append(b, ']')
		if enc := ib.encryptedContent(it); enc != "" {
			b = appendStringField(b, "encrypted_content", enc)
		}
	case itemFunctionCall:
		b = appendStringField(b, "type", "function_call")
		b = appendStringField(b, "status", it.status)
		args := it.args.String()
		if args == "" && it.status != "in_progress" {
			args = "{}"
		}
		b = appendStringField(b, "arguments", args)
		b = appendStringField(b, "call_id", it.callID)
		b = appendStringField(b, "name", it.name)
		if it.namespace != "" {
			b = appendStringField(b, "namespace", it.namespace)
		}
	case itemCustomCall:
		b = appendStringField(b, "type", "custom_tool_call")
		b = appendStringField(b, "status", it.status)
		b = appendStringField(b, "call_id", it.callID)
		b = appendStringField(b, "input", it.args.String())
		b = appendStringField(b, "name", it.name)
		if it.namespace != "" {
			b = appendStringField(b, "namespace", it.namespace)
		}
	}
	return append(b, '}')
}

func appendOutputText(b []byte, text string) []byte {
	b = append(b, `{"type":"output_text","annotations":[],"logprobs":[],"text":`...)
	b = appendString(b, text)
	return append(b, '}')
}

func appendSummaryText(b []byte, text string) []byte {
	b = append(b, `{"type":"summary_text","text":`...)
	b = appendString(b, text)
	return append(b, '}')
}

// ---- the response object ----

type responseState struct {
	status string // in_progress, completed, incomplete, failed
	reason string // incomplete_details.reason
	err    *llm.Error
	items  []*outItem
	ib     *itemBuilder // renders items; nil: a fresh one
	usage  *llm.Usage   // nil: null
}

// appendResponseObject appends the response object: its state, and the
// request's parameters echoed (verbatim from a Responses request, else from
// the neutral request, else OpenAI's defaults).
func appendResponseObject(b []byte, meta ResponsesMeta, st responseState) []byte {
	req := meta.Request
	if req == nil {
		req = &llm.Request{}
	}
	native := func(k string) (gjson.Result, bool) {
		raw, ok := req.NativeField(llm.DialectResponses, k)
		if !ok {
			return gjson.Result{}, false
		}
		v := gjson.ParseBytes(raw)
		return v, v.Exists()
	}
	echo := func(b []byte, k, fallback string) []byte {
		b = appendKey(b, k)
		if v, ok := native(k); ok {
			return appendRaw(b, []byte(v.Raw))
		}
		return append(b, fallback...)
	}
	ib := st.ib
	if ib == nil {
		ib = newItemBuilder(meta)
	}

	b = append(b, '{')
	b = appendStringField(b, "id", meta.ID)
	b = appendStringField(b, "object", "response")
	b = appendIntField(b, "created_at", meta.Created)
	b = appendStringField(b, "status", st.status)
	b = append(b, `,"background":false,"error":`...)
	if st.err != nil {
		b = append(b, `{"code":`...)
		b = appendString(b, responseErrorCode(st.err))
		b = appendStringField(b, "message", st.err.Error())
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"incomplete_details":`...)
	if st.reason != "" {
		b = append(b, `{"reason":`...)
		b = appendString(b, st.reason)
		b = append(b, '}')
	} else {
		b = append(b, "null"...)
	}
	b = echo(b, "instructions", "null")
	b = appendKey(b, "max_output_tokens")
	if req.MaxTokens > 0 {
		b = strconv.AppendInt(b, int64(req.MaxTokens), 10)
	} else {
		b = append(b, "null"...)
	}
	b = echo(b, "max_tool_calls", "null")
	b = appendStringField(b, "model", meta.Model)
	b = append(b, `,"output":[`...)
	for i, it := range st.items {
		if i > 0 {
			b = append(b, ',')
		}
		b = ib.appendItem(b, it)
	}
	b = append(b, ']')
	b = appendBoolField(b, "parallel_tool_calls", req.ParallelToolCalls == nil || *req.ParallelToolCalls)
	b = append(b, `,"previous_response_id":null`...)
	b = echo(b, "prompt_cache_key", "null")
	b = appendKey(b, "reasoning")
	if v, ok := native("reasoning"); ok {
		b = appendRaw(b, []byte(v.Raw))
	} else {
		b = append(b, `{"effort":`...)
		if req.Reasoning != nil && req.Reasoning.Effort != "" {
			b = appendString(b, req.Reasoning.Effort)
		} else {
			b = append(b, "null"...)
		}
		b = append(b, `,"summary":null}`...)
	}
	b = echo(b, "safety_identifier", "null")
	b = echo(b, "service_tier", `"default"`)
	b = echo(b, "store", "false")
	b = appendKey(b, "temperature")
	b = appendFloat(b, floatOr(req.Temperature, 1))
	b = appendKey(b, "text")
	if v, ok := native("text"); ok {
		b = appendRaw(b, []byte(v.Raw))
	} else {
		b = append(b, `{"format":`...)
		b = appendTextFormat(b, req.ResponseFormat)
		b = append(b, '}')
	}
	b = appendKey(b, "tool_choice")
	if v, ok := native("tool_choice"); ok {
		b = appendRaw(b, []byte(v.Raw))
	} else {
		b = appendToolChoiceEcho(b, req.ToolChoice)
	}
	b = appendKey(b, "tools")
	if v, ok := native("tools"); ok {
		b = appendRaw(b, []byte(v.Raw))
	} else {
		b = appendToolsEcho(b, req.Tools)
	}
	b = echo(b, "top_logprobs", "0")
	b = appendKey(b, "top_p")
	b = appendFloat(b, floatOr(req.TopP, 1))
	b = echo(b, "truncation", `"disabled"`)
	b = appendKey(b, "usage")
	if st.usage != nil {
		b = appendResponsesUsage(b, *st.usage)
	} else {
		b = append(b, "null"...)
	}
	b = appendKey(b, "user")
	if req.User != "" {
		b = appendString(b, req.User)
	} else {
		b = append(b, "null"...)
	}
	b = echo(b, "metadata", "{}")
	return append(b, '}')
}

func floatOr(f *float64, def float64) float64 {
	if f == nil {
		return def
	}
	return *f
}

func appendTextFormat(b []byte, rf *llm.ResponseFormat) []byte {
	if rf == nil {
		return append(b, `{"type":"text"}`...)
	}
	switch rf.Type {
	case "json_object":
		return append(b, `{"type":"json_object"}`...)
	case "json_schema":
		b = append(b, `{"type":"json_schema"`...)
		name := rf.Name
		if name == "" {
			name = "response"
		}
		b = appendStringField(b, "name", name)
		b = appendKey(b, "schema")
		b = appendRaw(b, rf.Schema)
		if rf.Strict != nil {
			b = appendBoolField(b, "strict", *rf.Strict)
		}
		return append(b, '}')
	}
	return append(b, `{"type":"text"}`...)
}

func appendToolChoiceEcho(b []byte, tc *llm.ToolChoice) []byte {
	if tc == nil {
		return append(b, `"auto"`...)
	}
	switch tc.Mode {
	case llm.ToolChoiceNone, llm.ToolChoiceRequired:
		return appendString(b, string(tc.Mode))
	case llm.ToolChoiceTool:
		b = append(b, `{"type":"function"`...)
		b = appendStringField(b, "name", tc.Name)
		return append(b, '}')
	}
	return append(b, `"auto"`...)
}

// appendToolsEcho renders neutral tools in the Responses shape (a request
// that did not come in the Responses dialect).
func appendToolsEcho(b []byte, tools []llm.Tool) []byte {
	b = append(b, '[')
	n := 0
	for _, t := range tools {
		switch t.Type {
		case "", "function":
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":"function"`...)
			b = appendStringField(b, "name", t.Name)
			b = appendStringField(b, "description", t.Description)
			b = appendKey(b, "parameters")
			if len(t.Parameters) > 0 {
				b = appendRaw(b, t.Parameters)
			} else {
				b = append(b, "null"...)
			}
			b = appendBoolField(b, "strict", t.Strict != nil && *t.Strict)
			b = append(b, '}')
		case "custom":
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":"custom"`...)
			b = appendStringField(b, "name", t.Name)
			b = appendStringField(b, "description", t.Description)
			if f := gjson.GetBytes(t.Native, "format"); f.IsObject() {
				b = appendKey(b, "format")
				b = appendRaw(b, []byte(f.Raw))
			} else if f := gjson.GetBytes(t.Native, "custom.format"); f.IsObject() {
				b = appendKey(b, "format")
				b = appendRaw(b, []byte(f.Raw))
			}
			b = append(b, '}')
		default:
			continue
		}
		n++
	}
	return append(b, ']')
}

// appendResponsesUsage appends a Responses usage object: input_tokens
// counts uncached, cache read and cache write tokens.
func appendResponsesUsage(b []byte, u llm.Usage) []byte {
	b = append(b, '{')
	b = appendIntField(b, "input_tokens", u.PromptTokens())
	b = append(b, `,"input_tokens_details":{`...)
	b = appendIntField(b, "cached_tokens", u.CacheReadTokens)
	b = append(b, '}')
	b = appendIntField(b, "output_tokens", u.OutputTokens)
	b = append(b, `,"output_tokens_details":{`...)
	b = appendIntField(b, "reasoning_tokens", u.ReasoningTokens)
	b = append(b, '}')
	b = appendIntField(b, "total_tokens", u.TotalTokens())
	return append(b, '}')
}

// responseErrorCode is the code of a failed response's error: one of the
// Responses API's values for what xjp can fail with.
func responseErrorCode(e *llm.Error) string {
	switch s := errorStatus(e); {
	case s == http.StatusTooManyRequests:
		return "rate_limit_exceeded"
	case s >= 400 && s < 500:
		return "invalid_prompt"
	}
	return "server_error"
}

// EncodeResponsesError renders an error as the Responses API's error body,
// the same envelope as Chat Completions: {"error":{"message","type","param",
// "code"}}.
func EncodeResponsesError(e *llm.Error) []byte {
	return EncodeError(e)
}
