package llm

import (
	"encoding/json"
	"strings"
)

// Custom (freeform) tools.
//
// The OpenAI Responses API (and OpenAI's own Chat Completions) has "custom"
// tools whose input is free text rather than a JSON object, optionally
// constrained by a grammar: Codex CLI's apply_patch takes the raw patch.
// Anthropic, Gemini and OpenAI-compatible servers have no such tools, so an
// upstream encoder for them sends a custom tool as a function taking one
// string parameter named "input" (Tool.AsFunction), and a custom call from
// the history as a call of that function (ToolCall.AsFunction). The model
// then answers with a function call whose arguments are {"input": "…"};
// the client's codec maps it back to a custom call with CustomInput, looking
// the name up among the request's custom tools.

// CustomInputParam is the one parameter of a custom tool sent as a function.
const CustomInputParam = "input"

// customInputSchema is the parameters schema of a custom tool sent as a
// function.
const customInputSchema = `{"type":"object","properties":{"input":{"type":"string","description":"The tool's raw input as one string, exactly as the tool description specifies (for example the whole patch text), not JSON-encoded any further"}},"required":["input"],"additionalProperties":false}`

// AsFunction returns a custom tool as the equivalent function tool: one
// required string parameter "input", and a description extended with the
// input format the custom tool declared (a grammar's syntax and definition,
// read from Native in the Responses shape {"format": …} or the Chat
// Completions shape {"custom": {"format": …}}). Any other tool is returned
// unchanged.
func (t Tool) AsFunction() Tool {
	if t.Type != "custom" {
		return t
	}
	var b strings.Builder
	b.WriteString(strings.TrimSpace(t.Description))
	if b.Len() > 0 {
		b.WriteString("\n\n")
	}
	b.WriteString("Pass the tool's raw input as the single string parameter \"input\".")
	if syntax, definition := customFormat(t.Native); definition != "" {
		if syntax == "" {
			syntax = "grammar"
		}
		b.WriteString(" The input must be valid according to this ")
		b.WriteString(syntax)
		b.WriteString(" grammar:\n")
		b.WriteString(definition)
	}
	return Tool{
		Type:         "function",
		Name:         t.Name,
		Description:  b.String(),
		Parameters:   json.RawMessage(customInputSchema),
		CacheControl: t.CacheControl,
	}
}

// customFormat reads a custom tool's grammar from its native definition:
// {"format": {"type": "grammar", "syntax": "lark", "definition": "…"}} (the
// Responses API; older payloads nest it as {"grammar": {"syntax",
// "definition"}}), or the same under "custom" (Chat Completions). A text
// format or none yields empty strings.
func customFormat(native json.RawMessage) (syntax, definition string) {
	if len(native) == 0 {
		return "", ""
	}
	var def struct {
		Format *customToolFormat `json:"format"`
		Custom *struct {
			Format *customToolFormat `json:"format"`
		} `json:"custom"`
	}
	if json.Unmarshal(native, &def) != nil {
		return "", ""
	}
	f := def.Format
	if f == nil && def.Custom != nil {
		f = def.Custom.Format
	}
	if f == nil || f.Type != "grammar" {
		return "", ""
	}
	if f.Grammar != nil {
		return f.Grammar.Syntax, f.Grammar.Definition
	}
	return f.Syntax, f.Definition
}

type customToolFormat struct {
	Type       string `json:"type"`
	Syntax     string `json:"syntax"`
	Definition string `json:"definition"`
	Grammar    *struct {
		Syntax     string `json:"syntax"`
		Definition string `json:"definition"`
	} `json:"grammar"`
}

// AsFunction returns a custom tool call as a call of the function its tool
// becomes under Tool.AsFunction: Type "function" (empty) and the raw input
// wrapped as {"input": "…"}. Any other call is returned unchanged.
func (tc ToolCall) AsFunction() ToolCall {
	if tc.Type != "custom" {
		return tc
	}
	tc.Type = ""
	tc.Arguments = CustomArguments(tc.Arguments)
	return tc
}

// CustomArguments wraps a custom tool's raw input as the JSON arguments of
// its function form: {"input": "<input>"}.
func CustomArguments(input string) string {
	b, err := json.Marshal(map[string]string{CustomInputParam: input})
	if err != nil { // unreachable: a string always marshals
		return `{"input":""}`
	}
	return string(b)
}

// CustomInput extracts a custom tool's raw input from the arguments of its
// function form. It tolerates what models actually send: {"input": "…"};
// an object whose only member is another string; a bare JSON string; or
// raw text that is not JSON at all, returned as it is.
func CustomInput(arguments string) string {
	s := strings.TrimSpace(arguments)
	if s == "" {
		return ""
	}
	switch s[0] {
	case '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal([]byte(s), &obj) != nil {
			return arguments
		}
		raw, ok := obj[CustomInputParam]
		if !ok && len(obj) == 1 {
			for _, v := range obj {
				raw = v
			}
		}
		var in string
		if json.Unmarshal(raw, &in) == nil {
			return in
		}
		if len(obj) == 0 {
			return ""
		}
		return arguments
	case '"':
		var in string
		if json.Unmarshal([]byte(s), &in) == nil {
			return in
		}
	}
	return arguments
}
