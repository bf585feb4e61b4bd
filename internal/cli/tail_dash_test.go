package cli

import (
	"strings"
	"testing"
)

func TestTailDashFlags(t *testing.T) {
	tests := []struct {
		args    string
		wantErr string
	}{
		{"--dash", ""},
		{"--dash --json", "--dash shows everything"},
		{"--dash --errors", "--dash shows everything"},
		{"--dash --model m", "--dash shows everything"},
	}
	for _, tt := range tests {
		ios, _, _, _ := TestIO()
		var got *tailOptions
		cmd := newCmdTail(NewFactory(ios), func(o *tailOptions) error { got = o; return nil })
		cmd.SetArgs(strings.Fields(tt.args))
		cmd.SetOut(ios.Out)
		cmd.SetErr(ios.ErrOut)
		err := cmd.Execute()
		if tt.wantErr == "" {
			if err != nil || got == nil || !got.Dash {
				t.Errorf("%s: err %v, opts %+v", tt.args, err, got)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err %v, want %q", tt.args, err, tt.wantErr)
		}
	}
	// Without a terminal --dash refuses, rather than scribbling escapes.
	ios, _, _, _ := TestIO()
	err := tailRun(t.Context(), &tailOptions{IO: ios, Dash: true, Addr: "127.0.0.1:1", Token: "x"})
	if err == nil || !strings.Contains(err.Error(), "needs a terminal") {
		t.Errorf("no terminal: err %v", err)
	}
}
