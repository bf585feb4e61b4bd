package openai

// This file and the other responses*.go files are the OpenAI Responses API
// face of the dialect (POST /v1/responses, what Codex CLI speaks), ingress
// side only: DecodeResponsesRequest, EncodeResponsesResponse,
// ResponsesStreamEncoder and EncodeResponsesError.
//
// Design decisions, in one place:
//
//   - No state is kept. previous_response_id, conversation, background,
//     prompt (stored templates) and item_reference input items are refused
//     with a 400 that says so: the client sends the whole conversation in
//     input, as Codex CLI does with store: false. store: true is accepted but
//     nothing is stored (the response echoes the client's store value).
//   - call_id pairs a call with its output and becomes llm.ToolCall.ID; item
//     ids (fc_…, fco_…, msg_…, rs_…) are ignored on input and minted from the
//     response id on output.
//   - Hosted tools (web_search, file_search, code_interpreter,
//     image_generation, computer use, mcp, shell, apply_patch…) run on
//     OpenAI's servers. xjp translates requests to other providers, so it
//     refuses them with a 400 naming the tool type rather than drop them.
//   - namespace tools are flattened: function and custom tools inside
//     namespace N become tools named N + "__" + name (N + name when N
//     already ends with "_", so Codex's "mcp__server__" namespaces give the
//     familiar mcp__server__tool), shortened to 64 characters with a hash
//     suffix when longer. A call of such a tool goes back to the client as a
//     function_call with the inner name and "namespace": N, and function_call
//     items with a namespace decode to the flat name.
//   - Custom (freeform) tools keep Type "custom" with their definition in
//     Tool.Native; upstreams without freeform tools get them as functions
//     (llm.Tool.AsFunction) and a call of such a function comes back to the
//     client as a custom_tool_call whose input is llm.CustomInput of the
//     arguments.
//   - Reasoning: thinking streams as reasoning summary text. When the
//     client asks for include: ["reasoning.encrypted_content"], what another
//     provider needs to continue its reasoning (an Anthropic signature, a
//     redacted thinking block, a Gemini tool-call thought signature) goes in
//     encrypted_content as "xjp1:" + base64url(JSON), and comes back intact
//     when the client replays the item. A reasoning item xjp did not mint
//     (OpenAI's own encrypted reasoning) becomes an unsigned thinking part
//     carrying the item verbatim in Part.Native (Dialect responses): other
//     upstreams drop it like any unverifiable reasoning, a Responses upstream
//     could replay it.
//   - Echo: Native.Fields keeps every top-level member except model, input
//     and stream verbatim, so the response object echoes instructions,
//     tools, tool_choice, text, reasoning, store, prompt_cache_key… exactly
//     as sent, and a same-dialect upstream could forward them.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/rickyjim626/xjp/internal/llm"
)

// ResponsesMeta is what a Responses API answer says about itself.
type ResponsesMeta struct {
	// ID is the response id ("resp_…"); item ids are derived from it.
	ID string
	// Model is the model name the client asked for.
	Model string
	// Created is the unix time in seconds.
	Created int64
	// Request is the decoded client request: the response echoes its
	// parameters, and calls of its custom and namespaced tools are mapped
	// back to the client's shapes. May be nil.
	Request *llm.Request
}

// maxToolNameLen is the longest tool name every upstream accepts (OpenAI
// and Gemini allow 64 characters).
const maxToolNameLen = 64

// namespacedName is the flat tool name of tool name inside namespace ns.
func namespacedName(ns, name string) string {
	if ns == "" {
		return name
	}
	s := ns + "__" + name
	if strings.HasSuffix(ns, "_") {
		s = ns + name
	}
	if len(s) > maxToolNameLen {
		sum := sha256.Sum256([]byte(s))
		s = s[:maxToolNameLen-9] + "_" + hex.EncodeToString(sum[:4])
	}
	return s
}

// responsesTool is how the client named one of its tools.
type responsesTool struct {
	name      string // the name inside its namespace
	namespace string
	custom    bool
}

// responsesToolIndex maps the flat tool names of a request to the client's
// names and kinds: from the verbatim tools of a Responses request (which
// knows namespaces), else from the neutral tools.
func responsesToolIndex(req *llm.Request) map[string]responsesTool {
	idx := map[string]responsesTool{}
	if req == nil {
		return idx
	}
	if raw, ok := req.NativeField(llm.DialectResponses, "tools"); ok {
		gjson.ParseBytes(raw).ForEach(func(_, t gjson.Result) bool {
			switch t.Get("type").Str {
			case "function", "custom":
				name := t.Get("name").Str
				idx[name] = responsesTool{name: name, custom: t.Get("type").Str == "custom"}
			case "namespace":
				ns := t.Get("name").Str
				t.Get("tools").ForEach(func(_, in gjson.Result) bool {
					name := in.Get("name").Str
					idx[namespacedName(ns, name)] = responsesTool{name: name, namespace: ns, custom: in.Get("type").Str == "custom"}
					return true
				})
			}
			return true
		})
		return idx
	}
	for _, t := range req.Tools {
		switch t.Type {
		case "", "function":
			idx[t.Name] = responsesTool{name: t.Name}
		case "custom":
			idx[t.Name] = responsesTool{name: t.Name, custom: true}
		}
	}
	return idx
}

// includes reports whether a Responses request asked for an include value.
func includes(req *llm.Request, what string) bool {
	if req == nil {
		return false
	}
	raw, ok := req.NativeField(llm.DialectResponses, "include")
	if !ok {
		return false
	}
	found := false
	gjson.ParseBytes(raw).ForEach(func(_, v gjson.Result) bool {
		found = v.Str == what
		return !found
	})
	return found
}

// Reasoning carried in encrypted_content.

const xjpReasoningPrefix = "xjp1:"

// xjpReasoning is the payload of an encrypted_content minted by xjp.
type xjpReasoning struct {
	// Type is "thinking", "redacted_thinking" or "tool_call_signature".
	Type      string `json:"type"`
	Thinking  string `json:"thinking,omitempty"`
	Signature string `json:"signature,omitempty"`
	Data      string `json:"data,omitempty"`
	CallID    string `json:"call_id,omitempty"`
}

func encodeXJPReasoning(r xjpReasoning) string {
	b, _ := json.Marshal(r)
	return xjpReasoningPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func decodeXJPReasoning(s string) (xjpReasoning, bool) {
	var r xjpReasoning
	rest, ok := strings.CutPrefix(s, xjpReasoningPrefix)
	if !ok {
		return r, false
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || json.Unmarshal(b, &r) != nil {
		return r, false
	}
	switch r.Type {
	case "thinking", "redacted_thinking", "tool_call_signature":
		return r, true
	}
	return r, false
}
