package llm

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestToolAsFunction(t *testing.T) {
	const grammar = "start: begin_patch hunk+ end_patch\nbegin_patch: \"*** Begin Patch\" LF"
	tests := []struct {
		name     string
		tool     Tool
		wantDesc string
	}{
		{"responses grammar", Tool{Type: "custom", Name: "apply_patch", Description: "Apply a patch.",
			Native: json.RawMessage(`{"type":"custom","name":"apply_patch","format":{"type":"grammar","syntax":"lark","definition":` + quote(grammar) + `}}`)},
			"Apply a patch.\n\nPass the tool's raw input as the single string parameter \"input\". The input must be valid according to this lark grammar:\n" + grammar},
		{"chat grammar", Tool{Type: "custom", Name: "sql", Native: json.RawMessage(`{"type":"custom","custom":{"name":"sql","format":{"type":"grammar","grammar":{"syntax":"regex","definition":"^SELECT .*$"}}}}`)},
			"Pass the tool's raw input as the single string parameter \"input\". The input must be valid according to this regex grammar:\n^SELECT .*$"},
		{"text format", Tool{Type: "custom", Name: "note", Description: "  Write a note. ", Native: json.RawMessage(`{"type":"custom","name":"note","format":{"type":"text"}}`)},
			"Write a note.\n\nPass the tool's raw input as the single string parameter \"input\"."},
		{"no native", Tool{Type: "custom", Name: "x"}, "Pass the tool's raw input as the single string parameter \"input\"."},
		{"bad native", Tool{Type: "custom", Name: "x", Native: json.RawMessage(`[1]`)}, "Pass the tool's raw input as the single string parameter \"input\"."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.tool.AsFunction()
			if f.Type != "function" || f.Name != tt.tool.Name || f.Native != nil || f.Strict != nil {
				t.Errorf("AsFunction = %+v", f)
			}
			if f.Description != tt.wantDesc {
				t.Errorf("description = %q\nwant %q", f.Description, tt.wantDesc)
			}
			var schema struct {
				Type       string
				Properties map[string]struct{ Type string }
				Required   []string
			}
			if err := json.Unmarshal(f.Parameters, &schema); err != nil || schema.Type != "object" ||
				schema.Properties["input"].Type != "string" || len(schema.Required) != 1 || schema.Required[0] != "input" {
				t.Errorf("parameters = %s (%v)", f.Parameters, err)
			}
		})
	}
	fn := Tool{Type: "function", Name: "f", Parameters: json.RawMessage(`{}`)}
	if got := fn.AsFunction(); got.Name != "f" || string(got.Parameters) != "{}" {
		t.Errorf("function tool changed: %+v", got)
	}
}

func TestCustomInputRoundTrip(t *testing.T) {
	for _, in := range []string{"", "*** Begin Patch\n*** Add File: a.txt\n+hi \"there\"\n*** End Patch\n", `{"looks":"like json"}`, "tab\there\u2028"} {
		args := CustomArguments(in)
		if !json.Valid([]byte(args)) {
			t.Fatalf("CustomArguments(%q) = %s is not JSON", in, args)
		}
		if got := CustomInput(args); got != in {
			t.Errorf("CustomInput(CustomArguments(%q)) = %q", in, got)
		}
	}
}

func TestCustomInputTolerance(t *testing.T) {
	tests := []struct{ args, want string }{
		{`{"input":"patch"}`, "patch"},
		{`  {"input":"patch","extra":1}  `, "patch"},
		{`{"patch":"only member"}`, "only member"},
		{`{"a":"x","b":"y"}`, `{"a":"x","b":"y"}`},
		{`{"input":5}`, `{"input":5}`},
		{`{}`, ""},
		{`"a JSON string"`, "a JSON string"},
		{"*** Begin Patch\nraw text", "*** Begin Patch\nraw text"},
		{`{"input":"trunc`, `{"input":"trunc`},
		{"", ""},
	}
	for _, tt := range tests {
		if got := CustomInput(tt.args); got != tt.want {
			t.Errorf("CustomInput(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestToolCallAsFunction(t *testing.T) {
	tc := ToolCall{ID: "call_1", Name: "apply_patch", Type: "custom", Arguments: "*** Begin Patch", Signature: "sig"}
	f := tc.AsFunction()
	if f.Type != "" || f.ID != "call_1" || f.Name != "apply_patch" || f.Signature != "sig" || f.Arguments != `{"input":"*** Begin Patch"}` {
		t.Errorf("AsFunction = %+v", f)
	}
	if tc.Arguments != "*** Begin Patch" {
		t.Error("AsFunction changed its receiver")
	}
	plain := ToolCall{ID: "c", Name: "f", Arguments: `{"x":1}`}
	if plain.AsFunction() != plain {
		t.Error("function call changed")
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return strings.TrimSpace(string(b))
}
