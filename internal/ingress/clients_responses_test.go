package ingress_test

// The Responses API driver: conversations through openai-go/v3's Responses
// client (client.Responses.New and client.Responses.NewStreaming, base URL
// http://HOST/v1), as Codex CLI speaks to xjp. A send records the response
// object the client ended with (from the body, or from the stream's
// terminal event) and, for streams, checks the event protocol the SDKs and
// Codex depend on with the SDK's own event types (respStreamChecker). After
// a send that succeeded the output items are replayed verbatim into the
// next input, ids and statuses included, as Codex does with store: false.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	oai "github.com/openai/openai-go/v3"
	oaiopt "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	oaisse "github.com/openai/openai-go/v3/packages/ssestream"
	oaires "github.com/openai/openai-go/v3/responses"
)

// respCall is a function_call or custom_tool_call output item.
type respCall struct {
	kind      string // "function_call" or "custom_tool_call"
	itemID    string
	callID    string
	name      string
	namespace string
	args      string // arguments (function_call) or input (custom_tool_call)
	status    string
}

// respResult is what the Responses client saw of one request.
type respResult struct {
	reqID string
	resp  *oaires.Response // the final response object; nil on an HTTP error

	id, model        string
	status           string // completed, incomplete, failed
	incompleteReason string
	text             string
	messageIDs       []string
	calls            []respCall
	reasoning        string
	encrypted        []string // encrypted_content of reasoning items
	usage            oaires.ResponseUsage
	usageValid       bool

	// Streams.
	streamed bool
	events   []string // event types in order
	problems []string // violations of the event protocol
	terminal string   // response.completed, response.incomplete or response.failed
	// The "error" event and the failed response's error.
	errorEvent             bool
	errorCode, errorMsg    string
	failedCode, failedMsg  string
	deltaText, deltaCustom string // what the deltas carried

	// An HTTP error (or a transport error).
	err        error
	errStatus  int
	errType    string
	errCode    string
	errParam   string
	errMessage string
	retryAfter string
}

// responsesSession is one conversation through the Responses client.
type responsesSession struct {
	h            *harness
	c            oai.Client
	model        string
	instructions string
	input        []oaires.ResponseInputItemUnionParam
	seq          int
}

func newResponsesSession(h *harness, model, key string) *responsesSession {
	c := oai.NewClient(oaiopt.WithBaseURL(h.url+"/v1"), oaiopt.WithAPIKey(key), oaiopt.WithMaxRetries(0),
		oaiopt.WithRequestTimeout(30*time.Second))
	return &responsesSession{h: h, c: c, model: model}
}

// addMessage adds an input message (user, developer or system) with an id,
// as Codex sends them.
func (s *responsesSession) addMessage(role, text string, withID bool, imgs ...image) {
	var parts oaires.ResponseInputMessageContentListParam
	for _, im := range imgs {
		u := im.url
		if u == "" {
			u = "data:" + im.mediaType + ";base64," + im.data
		}
		parts = append(parts, oaires.ResponseInputContentUnionParam{OfInputImage: &oaires.ResponseInputImageParam{
			Detail: oaires.ResponseInputImageDetailAuto, ImageURL: oai.String(u),
		}})
	}
	parts = append(parts, oaires.ResponseInputContentUnionParam{OfInputText: &oaires.ResponseInputTextParam{Text: text}})
	m := oaires.ResponseInputItemMessageParam{Role: role, Content: parts, Type: "message"}
	if withID {
		s.seq++
		m.SetExtraFields(map[string]any{"id": fmt.Sprintf("msg_in_%s_%d", role, s.seq)})
	}
	s.input = append(s.input, oaires.ResponseInputItemUnionParam{OfInputMessage: &m})
}

func (s *responsesSession) addUser(text string, imgs ...image) {
	s.addMessage("user", text, false, imgs...)
}

// addDeveloper adds a developer message in input (Codex's system prompt).
func (s *responsesSession) addDeveloper(text string) { s.addMessage("developer", text, true) }

// addOutputs answers function calls by call_id.
func (s *responsesSession) addOutputs(rs ...toolResult) {
	for _, r := range rs {
		s.input = append(s.input, oaires.ResponseInputItemUnionParam{OfFunctionCallOutput: &oaires.ResponseInputItemFunctionCallOutputParam{
			CallID: oai.String(r.id),
			Output: oaires.ResponseInputItemFunctionCallOutputOutputUnionParam{OfString: oai.String(r.content)},
		}})
	}
}

// addOutputList answers a function call with an output that is a list of
// content parts (one input_text part), the other form the API allows.
func (s *responsesSession) addOutputList(r toolResult) {
	s.input = append(s.input, oaires.ResponseInputItemUnionParam{OfFunctionCallOutput: &oaires.ResponseInputItemFunctionCallOutputParam{
		CallID: oai.String(r.id),
		Output: oaires.ResponseInputItemFunctionCallOutputOutputUnionParam{OfResponseFunctionCallOutputItemArray: oaires.ResponseFunctionCallOutputItemListParam{
			{OfInputText: &oaires.ResponseInputTextContentParam{Text: r.content}},
		}},
	}})
}

// addCustomOutputs answers custom tool calls by call_id.
func (s *responsesSession) addCustomOutputs(rs ...toolResult) {
	for _, r := range rs {
		s.input = append(s.input, oaires.ResponseInputItemParamOfCustomToolCallOutput(r.id, r.content))
	}
}

// replay appends a response's output items to the input, verbatim.
func (s *responsesSession) replay(t *testing.T, resp *oaires.Response) {
	t.Helper()
	for _, it := range resp.Output {
		switch it.Type {
		case "message":
			p := it.AsMessage().ToParam()
			s.input = append(s.input, oaires.ResponseInputItemUnionParam{OfOutputMessage: &p})
		case "function_call":
			p := it.AsFunctionCall().ToParam()
			s.input = append(s.input, oaires.ResponseInputItemUnionParam{OfFunctionCall: &p})
		case "custom_tool_call":
			p := it.AsCustomToolCall().ToParam()
			s.input = append(s.input, oaires.ResponseInputItemUnionParam{OfCustomToolCall: &p})
		case "reasoning":
			p := it.AsReasoning().ToParam()
			s.input = append(s.input, oaires.ResponseInputItemUnionParam{OfReasoning: &p})
		default:
			t.Fatalf("responses: unexpected output item type %q: %s", it.Type, it.RawJSON())
		}
	}
}

// functionTools are toolDefs as flat Responses function tools.
func functionTools(defs ...toolDef) []oaires.ToolUnionParam {
	var out []oaires.ToolUnionParam
	for _, d := range defs {
		out = append(out, oaires.ToolUnionParam{OfFunction: &oaires.FunctionToolParam{
			Name: d.name, Description: oai.String(d.desc), Parameters: d.schema(), Strict: oai.Bool(false),
		}})
	}
	return out
}

type respOpts struct {
	stream    bool
	maxOutput int64
	tools     []oaires.ToolUnionParam
	parallel  *bool
	// edit changes the params last (Codex fields).
	edit func(p *oaires.ResponseNewParams)
	// opts are extra request options (headers).
	opts []oaiopt.RequestOption
}

func (s *responsesSession) params(o respOpts) oaires.ResponseNewParams {
	p := oaires.ResponseNewParams{
		Model: s.model,
		Input: oaires.ResponseNewParamsInputUnion{OfInputItemList: append(oaires.ResponseInputParam(nil), s.input...)},
		Tools: o.tools,
	}
	if s.instructions != "" {
		p.Instructions = oai.String(s.instructions)
	}
	if o.maxOutput > 0 {
		p.MaxOutputTokens = oai.Int(o.maxOutput)
	}
	if o.parallel != nil {
		p.ParallelToolCalls = oai.Bool(*o.parallel)
	}
	if o.edit != nil {
		o.edit(&p)
	}
	return p
}

func (s *responsesSession) send(t *testing.T, o respOpts) *respResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := &respResult{reqID: s.h.newRequestID(), streamed: o.stream}
	opts := append([]oaiopt.RequestOption{oaiopt.WithHeader("X-Request-Id", r.reqID)}, o.opts...)
	params := s.params(o)
	if !o.stream {
		resp, err := s.c.Responses.New(ctx, params, opts...)
		if err != nil {
			r.fillError(err)
			return r
		}
		r.fromResponse(resp)
		if resp.Status == "completed" || resp.Status == "incomplete" {
			s.replay(t, resp)
		}
		return r
	}
	stream := s.c.Responses.NewStreaming(ctx, params, opts...)
	defer stream.Close()
	ck := newRespStreamChecker()
	for stream.Next() {
		ck.add(stream.Current())
	}
	if err := stream.Err(); err != nil {
		r.fillError(err)
	} else {
		ck.finish()
	}
	r.events, r.problems, r.terminal = ck.types, ck.problems, ck.terminal
	r.errorEvent, r.errorCode, r.errorMsg = ck.errorEvent, ck.errorCode, ck.errorMsg
	r.deltaText, r.deltaCustom = ck.deltaText.String(), ck.deltaCustom.String()
	if ck.final != nil {
		r.fromResponse(ck.final)
		if ck.final.Status == "failed" {
			r.failedCode, r.failedMsg = string(ck.final.Error.Code), ck.final.Error.Message
		}
		if r.err == nil && (ck.final.Status == "completed" || ck.final.Status == "incomplete") {
			s.replay(t, ck.final)
		}
	}
	return r
}

// fromResponse reads a response object.
func (r *respResult) fromResponse(resp *oaires.Response) {
	r.resp = resp
	r.id, r.model, r.status = resp.ID, string(resp.Model), string(resp.Status)
	r.incompleteReason = string(resp.IncompleteDetails.Reason)
	r.text, r.reasoning, r.calls, r.messageIDs, r.encrypted = "", "", nil, nil, nil
	for _, it := range resp.Output {
		switch it.Type {
		case "message":
			m := it.AsMessage()
			r.messageIDs = append(r.messageIDs, m.ID)
			for _, c := range m.Content {
				if c.Type == "output_text" {
					r.text += c.Text
				}
			}
		case "function_call":
			fc := it.AsFunctionCall()
			r.calls = append(r.calls, respCall{kind: "function_call", itemID: fc.ID, callID: fc.CallID, name: fc.Name,
				namespace: fc.Namespace, args: fc.Arguments, status: string(fc.Status)})
		case "custom_tool_call":
			cc := it.AsCustomToolCall()
			r.calls = append(r.calls, respCall{kind: "custom_tool_call", itemID: cc.ID, callID: cc.CallID, name: cc.Name,
				namespace: cc.Namespace, args: cc.Input, status: extraString(cc.JSON.ExtraFields["status"].Raw())})
		case "reasoning":
			rs := it.AsReasoning()
			for _, s := range rs.Summary {
				r.reasoning += s.Text
			}
			r.encrypted = append(r.encrypted, rs.EncryptedContent)
		}
	}
	r.usage, r.usageValid = resp.Usage, resp.JSON.Usage.Valid()
}

func (r *respResult) fillError(err error) {
	r.err = err
	var apiErr *oai.Error
	var streamErr *oaisse.StreamError
	switch {
	case errors.As(err, &apiErr):
		r.errStatus, r.errType, r.errCode, r.errParam, r.errMessage = apiErr.StatusCode, apiErr.Type, apiErr.Code, apiErr.Param, apiErr.Message
		if apiErr.Response != nil {
			r.retryAfter = apiErr.Response.Header.Get("Retry-After")
		}
	case errors.As(err, &streamErr):
		r.errMessage = streamErr.Error()
	default:
		r.errMessage = err.Error()
	}
}

// ---- the stream protocol ----

// respStreamChecker follows a Responses stream event by event, as the SDKs
// and Codex do, and notes every violation of the protocol: sequence_number
// counting from 0 without gaps; response.created then response.in_progress
// first; every delta for an item announced by response.output_item.added
// (and for text, a content part announced by response.content_part.added)
// and not yet done; every .done repeating what the deltas built; every
// announced item done before the terminal event; exactly one terminal event
// (response.completed, response.incomplete or response.failed, the last
// event, response.failed right after an "error" event) whose output matches
// the items that were streamed, and usage on completed and incomplete.
type respStreamChecker struct {
	types    []string
	problems []string
	next     int64
	id       string
	items    map[string]*streamedItem
	order    []string // item ids by output_index
	terminal string
	final    *oaires.Response

	errorEvent          bool
	errorCode, errorMsg string
	deltaText           strings.Builder
	deltaCustom         strings.Builder
}

type streamedItem struct {
	index     int64
	typ       string
	done      bool
	parts     map[int64]*strings.Builder // message content by content_index
	partOpen  map[int64]bool
	partDone  map[int64]bool
	args      strings.Builder // function_call arguments / custom_tool_call input
	argsDone  bool
	summary   strings.Builder
	doneItem  oaires.ResponseOutputItemUnion
	addedItem oaires.ResponseOutputItemUnion
}

func newRespStreamChecker() *respStreamChecker {
	return &respStreamChecker{items: map[string]*streamedItem{}}
}

func (c *respStreamChecker) bad(format string, a ...any) {
	c.problems = append(c.problems, fmt.Sprintf("event %d (%s): ", len(c.types)-1, c.types[len(c.types)-1])+fmt.Sprintf(format, a...))
}

// live returns the announced, not yet done item of a delta event.
func (c *respStreamChecker) live(id string, index int64, typ string) *streamedItem {
	it := c.items[id]
	switch {
	case it == nil:
		c.bad("item %q was never announced with response.output_item.added", id)
		return nil
	case it.done:
		c.bad("item %q is already done", id)
		return nil
	case it.index != index:
		c.bad("item %q has output_index %d, announced with %d", id, index, it.index)
	case typ != "" && it.typ != typ:
		c.bad("item %q is a %s, not a %s", id, it.typ, typ)
		return nil
	}
	return it
}

func (c *respStreamChecker) add(ev oaires.ResponseStreamEventUnion) {
	c.types = append(c.types, ev.Type)
	n := int64(len(c.types) - 1)
	if ev.SequenceNumber != c.next || !ev.JSON.SequenceNumber.Valid() {
		c.bad("sequence_number %d (valid %v), want %d", ev.SequenceNumber, ev.JSON.SequenceNumber.Valid(), c.next)
	}
	c.next = ev.SequenceNumber + 1
	if c.terminal != "" {
		c.bad("an event after the terminal %s", c.terminal)
	}
	switch {
	case n == 0 && ev.Type != "response.created":
		c.bad("the first event must be response.created")
	case n == 1 && ev.Type != "response.in_progress":
		c.bad("the second event must be response.in_progress")
	}
	if c.errorEvent && ev.Type != "response.failed" {
		c.bad("an error event must be followed by response.failed")
	}
	switch ev.Type {
	case "response.created", "response.in_progress":
		resp := ev.Response
		if resp.Status != "in_progress" || !strings.HasPrefix(resp.ID, "resp_") {
			c.bad("response status %q id %q", resp.Status, resp.ID)
		}
		if c.id == "" {
			c.id = resp.ID
		} else if resp.ID != c.id {
			c.bad("response id %q changed from %q", resp.ID, c.id)
		}
	case "response.output_item.added":
		e := ev.AsResponseOutputItemAdded()
		id := e.Item.ID
		if id == "" || c.items[id] != nil {
			c.bad("item id %q empty or announced twice", id)
			return
		}
		if e.OutputIndex != int64(len(c.order)) {
			c.bad("output_index %d, want %d", e.OutputIndex, len(c.order))
		}
		it := &streamedItem{index: e.OutputIndex, typ: e.Item.Type, parts: map[int64]*strings.Builder{},
			partOpen: map[int64]bool{}, partDone: map[int64]bool{}, addedItem: e.Item}
		c.items[id] = it
		c.order = append(c.order, id)
		switch it.typ {
		case "function_call", "custom_tool_call":
			if e.Item.CallID == "" || e.Item.Name == "" {
				c.bad("a %s announced without call_id or name: %s", it.typ, e.Item.RawJSON())
			}
		}
	case "response.content_part.added":
		e := ev.AsResponseContentPartAdded()
		if it := c.live(e.ItemID, e.OutputIndex, "message"); it != nil {
			if it.partOpen[e.ContentIndex] || it.partDone[e.ContentIndex] {
				c.bad("content part %d of %q announced twice", e.ContentIndex, e.ItemID)
			}
			if e.ContentIndex != int64(len(it.parts)) {
				c.bad("content_index %d, want %d", e.ContentIndex, len(it.parts))
			}
			it.partOpen[e.ContentIndex] = true
			it.parts[e.ContentIndex] = &strings.Builder{}
		}
	case "response.output_text.delta":
		e := ev.AsResponseOutputTextDelta()
		if it := c.live(e.ItemID, e.OutputIndex, "message"); it != nil {
			if !it.partOpen[e.ContentIndex] {
				c.bad("a text delta for content part %d of %q, which is not open", e.ContentIndex, e.ItemID)
				return
			}
			it.parts[e.ContentIndex].WriteString(e.Delta)
			c.deltaText.WriteString(e.Delta)
		}
	case "response.output_text.done":
		e := ev.AsResponseOutputTextDone()
		if it := c.live(e.ItemID, e.OutputIndex, "message"); it != nil {
			if p := it.parts[e.ContentIndex]; p == nil || p.String() != e.Text {
				c.bad("output_text.done text %q does not repeat the deltas", e.Text)
			}
		}
	case "response.content_part.done":
		e := ev.AsResponseContentPartDone()
		if it := c.live(e.ItemID, e.OutputIndex, "message"); it != nil {
			if !it.partOpen[e.ContentIndex] {
				c.bad("content part %d of %q is not open", e.ContentIndex, e.ItemID)
				return
			}
			if p := it.parts[e.ContentIndex]; p.String() != e.Part.Text {
				c.bad("content_part.done text %q, the deltas built %q", e.Part.Text, p.String())
			}
			it.partOpen[e.ContentIndex], it.partDone[e.ContentIndex] = false, true
		}
	case "response.function_call_arguments.delta":
		e := ev.AsResponseFunctionCallArgumentsDelta()
		if it := c.live(e.ItemID, e.OutputIndex, "function_call"); it != nil {
			if it.argsDone {
				c.bad("arguments delta after arguments done")
			}
			it.args.WriteString(e.Delta)
		}
	case "response.function_call_arguments.done":
		e := ev.AsResponseFunctionCallArgumentsDone()
		if it := c.live(e.ItemID, e.OutputIndex, "function_call"); it != nil {
			if got := it.args.String(); got != e.Arguments && !(got == "" && e.Arguments == "{}") {
				c.bad("arguments.done %q does not repeat the deltas %q", e.Arguments, got)
			}
			if !validJSONObject(e.Arguments) {
				c.bad("arguments %q are not a JSON object", e.Arguments)
			}
			it.argsDone = true
		}
	case "response.custom_tool_call_input.delta":
		e := ev.AsResponseCustomToolCallInputDelta()
		if it := c.live(e.ItemID, e.OutputIndex, "custom_tool_call"); it != nil {
			it.args.WriteString(e.Delta)
			c.deltaCustom.WriteString(e.Delta)
		}
	case "response.custom_tool_call_input.done":
		e := ev.AsResponseCustomToolCallInputDone()
		if it := c.live(e.ItemID, e.OutputIndex, "custom_tool_call"); it != nil {
			if it.args.String() != e.Input {
				c.bad("custom_tool_call_input.done %q does not repeat the deltas %q", e.Input, it.args.String())
			}
			it.argsDone = true
		}
	case "response.reasoning_summary_part.added", "response.reasoning_summary_part.done", "response.reasoning_summary_text.done":
		c.live(ev.ItemID, ev.OutputIndex, "reasoning")
	case "response.reasoning_summary_text.delta":
		if it := c.live(ev.ItemID, ev.OutputIndex, "reasoning"); it != nil {
			it.summary.WriteString(ev.Delta)
		}
	case "response.output_item.done":
		e := ev.AsResponseOutputItemDone()
		it := c.live(e.Item.ID, e.OutputIndex, e.Item.Type)
		if it == nil {
			return
		}
		it.done, it.doneItem = true, e.Item
		switch it.typ {
		case "message":
			for k, open := range it.partOpen {
				if open {
					c.bad("message %q done with content part %d still open", e.Item.ID, k)
				}
			}
			m := e.Item.AsMessage()
			if len(m.Content) != len(it.parts) {
				c.bad("message %q done with %d parts, %d were streamed", e.Item.ID, len(m.Content), len(it.parts))
			}
			for k, p := range m.Content {
				if b := it.parts[int64(k)]; b == nil || b.String() != p.Text {
					c.bad("message %q part %d done as %q, the deltas built something else", e.Item.ID, k, p.Text)
				}
			}
		case "function_call":
			if !it.argsDone {
				c.bad("function_call %q done without response.function_call_arguments.done", e.Item.ID)
			}
			if got := e.Item.AsFunctionCall().Arguments; got != it.args.String() && !(it.args.Len() == 0 && got == "{}") {
				c.bad("function_call %q done with arguments %q, the deltas built %q", e.Item.ID, got, it.args.String())
			}
		case "custom_tool_call":
			if !it.argsDone {
				c.bad("custom_tool_call %q done without response.custom_tool_call_input.done", e.Item.ID)
			}
			if e.Item.Input != it.args.String() {
				c.bad("custom_tool_call %q done with input %q, the deltas built %q", e.Item.ID, e.Item.Input, it.args.String())
			}
		}
	case "error":
		e := ev.AsError()
		c.errorEvent, c.errorCode, c.errorMsg = true, e.Code, e.Message
	case "response.completed", "response.incomplete", "response.failed":
		c.terminal = ev.Type
		resp := ev.Response
		c.final = &resp
		want := map[string]string{"response.completed": "completed", "response.incomplete": "incomplete", "response.failed": "failed"}[ev.Type]
		if string(resp.Status) != want {
			c.bad("status %q, want %q", resp.Status, want)
		}
		if resp.ID != c.id {
			c.bad("terminal response id %q, the stream's is %q", resp.ID, c.id)
		}
		if ev.Type == "response.failed" {
			if !c.errorEvent {
				c.bad("response.failed without a preceding error event")
			}
			if resp.Error.Code == "" || resp.Error.Message == "" {
				c.bad("response.failed without error code and message: %s", resp.JSON.Error.Raw())
			}
		} else {
			if !resp.JSON.Usage.Valid() || resp.Usage.TotalTokens == 0 {
				c.bad("%s without usage: %s", ev.Type, resp.JSON.Usage.Raw())
			}
			for _, id := range c.order {
				if !c.items[id].done {
					c.bad("item %q never got response.output_item.done", id)
				}
			}
		}
		if len(resp.Output) != len(c.order) {
			c.bad("the terminal response has %d output items, %d were streamed", len(resp.Output), len(c.order))
			return
		}
		for i, o := range resp.Output {
			it := c.items[c.order[i]]
			if o.ID != c.order[i] || o.Type != it.typ {
				c.bad("output[%d] is %s %q, the stream announced %s %q", i, o.Type, o.ID, it.typ, c.order[i])
				continue
			}
			if it.done && !jsonEqual(o.RawJSON(), it.doneItem.RawJSON()) {
				c.bad("output[%d] %s differs from its output_item.done %s", i, o.RawJSON(), it.doneItem.RawJSON())
			}
		}
	default:
		c.bad("unexpected event type")
	}
}

// finish checks the end of a stream that closed normally.
func (c *respStreamChecker) finish() {
	if c.terminal == "" {
		c.types = append(c.types, "(end)")
		c.bad("the stream closed without response.completed, response.incomplete or response.failed")
	}
}

// ---- tool fixtures ----

// customTool is a custom (freeform) tool given as raw JSON.
func customTool(raw string) oaires.ToolUnionParam {
	ct := param.Override[oaires.CustomToolParam](json.RawMessage(raw))
	return oaires.ToolUnionParam{OfCustom: &ct}
}

// namespaceTool is a namespace tool given as raw JSON.
func namespaceTool(raw string) oaires.ToolUnionParam {
	nt := param.Override[oaires.NamespaceToolParam](json.RawMessage(raw))
	return oaires.ToolUnionParam{OfNamespace: &nt}
}

// TestRespStreamChecker: the checker notices the protocol violations it is
// there for (so that a clean matrix means a clean stream).
func TestRespStreamChecker(t *testing.T) {
	const resp = `{"id":"resp_1","object":"response","status":%q,"model":"m","output":%s,"usage":%s}`
	usage := `{"input_tokens":3,"input_tokens_details":{"cached_tokens":0},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":5}`
	msg := `{"id":"msg_1","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi","annotations":[]}]}`
	created := fmt.Sprintf(`{"type":"response.created","sequence_number":0,"response":`+resp+`}`, "in_progress", "[]", "null")
	inProgress := fmt.Sprintf(`{"type":"response.in_progress","sequence_number":1,"response":`+resp+`}`, "in_progress", "[]", "null")
	added := `{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}}`
	part := `{"type":"response.content_part.added","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}`
	delta := `{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}`
	textDone := `{"type":"response.output_text.done","sequence_number":5,"item_id":"msg_1","output_index":0,"content_index":0,"text":"Hi"}`
	partDone := `{"type":"response.content_part.done","sequence_number":6,"item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"Hi","annotations":[]}}`
	itemDone := `{"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":` + msg + `}`
	completed := fmt.Sprintf(`{"type":"response.completed","sequence_number":8,"response":`+resp+`}`, "completed", "["+msg+"]", usage)
	good := []string{created, inProgress, added, part, delta, textDone, partDone, itemDone, completed}

	run := func(events []string, finish bool) []string {
		ck := newRespStreamChecker()
		for _, e := range events {
			var ev oaires.ResponseStreamEventUnion
			if err := json.Unmarshal([]byte(e), &ev); err != nil {
				t.Fatalf("%s: %v", e, err)
			}
			ck.add(ev)
		}
		if finish {
			ck.finish()
		}
		return ck.problems
	}
	if p := run(good, true); len(p) > 0 {
		t.Fatalf("a valid stream has problems: %q", p)
	}
	renumber := func(events []string) []string {
		out := make([]string, len(events))
		for i, e := range events {
			var m map[string]any
			json.Unmarshal([]byte(e), &m)
			m["sequence_number"] = i
			b, _ := json.Marshal(m)
			out[i] = string(b)
		}
		return out
	}
	bad := map[string][]string{
		"delta before output_item.added": renumber([]string{created, inProgress, part, delta, textDone, partDone, itemDone, completed}),
		"sequence gap":                   {created, inProgress, added, part, delta, textDone, partDone, itemDone, strings.Replace(completed, `"sequence_number":8`, `"sequence_number":9`, 1)},
		"no terminal event":              {created, inProgress, added, part, delta, textDone, partDone, itemDone},
		"done text differs":              {created, inProgress, added, part, delta, strings.Replace(textDone, `"text":"Hi"`, `"text":"Ho"`, 1), partDone, itemDone, completed},
		"item never done":                renumber([]string{created, inProgress, added, part, delta, textDone, partDone, completed}),
		"error without response.failed":  renumber([]string{created, inProgress, `{"type":"error","code":"server_error","message":"boom"}`, completed}),
		"created not first":              renumber([]string{inProgress, created, completed}),
	}
	for name, events := range bad {
		if p := run(events, true); len(p) == 0 {
			t.Errorf("%s: not noticed", name)
		}
	}
}
