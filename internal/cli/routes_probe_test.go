package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// probeUpstream is an OpenAI-compatible upstream for routes test: healthy
// answers "OK" streamed, down answers 503, slow waits before answering.
func probeUpstream(t *testing.T, behaviour string) (*httptest.Server, *atomic.Value) {
	t.Helper()
	last := &atomic.Value{} // the last request body
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		last.Store(string(b))
		switch behaviour {
		case "down":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"message":"upstream is overloaded","type":"server_error"}}`)
			return
		case "slow":
			select {
			case <-time.After(5 * time.Second):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "text/event-stream")
		chunk := func(delta, finish string) {
			fmt.Fprintf(w, `data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"x","choices":[{"index":0,"delta":%s,"finish_reason":%s}]}`+"\n\n", delta, finish)
			http.NewResponseController(w).Flush()
		}
		chunk(`{"role":"assistant","content":""}`, "null")
		time.Sleep(10 * time.Millisecond) // a measurable time to first token
		chunk(`{"content":"OK"}`, "null")
		chunk(`{}`, `"stop"`)
		io.WriteString(w, "data: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv, last
}

// probeConfig writes a config with model "mixed" routed to a healthy, a
// down and a slow upstream, and "good" routed to the healthy one.
func probeConfig(t *testing.T) (dir string, healthyLast *atomic.Value) {
	t.Helper()
	healthy, last := probeUpstream(t, "healthy")
	down, _ := probeUpstream(t, "down")
	slow, _ := probeUpstream(t, "slow")
	dir = t.TempDir()
	toml := fmt.Sprintf(`
[demo]
delay = "0s"

[providers.healthy]
kind = "openai"
base_url = "%s/v1"

[providers.down]
kind = "openai"
base_url = "%s/v1"

[providers.slow]
kind = "openai"
base_url = "%s/v1"

[[models]]
name = "mixed"
[[models.routes]]
provider = "slow"
model = "slow-model"
priority = 2
[[models.routes]]
provider = "healthy"
model = "good-model"
[[models.routes]]
provider = "down"
model = "down-model"
priority = 1

[[models]]
name = "good"
[[models.routes]]
provider = "healthy"
model = "good-model"
`, healthy.URL, down.URL, slow.URL)
	if err := os.WriteFile(filepath.Join(dir, "xjp.toml"), []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, last
}

func runRoutesTest(t *testing.T, dir string, tty bool, args ...string) (ExitCode, string, string) {
	t.Helper()
	ios, _, out, errOut := TestIO()
	ios.SetStdoutTTY(tty)
	f := NewFactory(ios)
	f.Getenv = func(string) string { return "" }
	code := Run(context.Background(), f, append([]string{"--config", filepath.Join(dir, "xjp.toml"), "--data-dir", dir, "routes", "test"}, args...))
	return code, out.String(), errOut.String()
}

func TestRoutesTest(t *testing.T) {
	dir, last := probeConfig(t)

	start := time.Now()
	code, out, errOut := runRoutesTest(t, dir, false, "mixed", "--timeout", "500ms")
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v: the routes are probed at once, each for at most --timeout", d)
	}
	if code != ExitError || errOut != "2 of 3 routes of \"mixed\" failed\n" {
		t.Errorf("exit %d, stderr %q; want 1 and the count of failures", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want one TSV line per route in the order tried:\n%s", out)
	}
	want := [][]string{
		{"healthy/good-model", "0", "ok", "", "", "OK"},
		{"down/down-model", "1", "provider_overloaded (HTTP 503)", "", "-", "down: upstream is overloaded"},
		{"slow/slow-model", "2", "provider_timeout", "", "-", "no complete answer within the --timeout of 500ms"},
	}
	for i, line := range lines {
		f := strings.Split(line, "\t")
		if len(f) != 6 {
			t.Fatalf("line %q: %d fields", line, len(f))
		}
		for j, w := range want[i] {
			if w != "" && f[j] != w {
				t.Errorf("line %d field %d = %q, want %q", i, j, f[j], w)
			}
		}
		if !strings.HasSuffix(f[3], "ms") && !strings.HasSuffix(f[3], "s") {
			t.Errorf("line %d latency %q", i, f[3])
		}
	}
	if f := strings.Split(lines[0], "\t"); f[4] == "-" || f[4] == "" {
		t.Errorf("no time to first token for the healthy route: %q", lines[0])
	}
	var probe struct {
		Stream    bool `json:"stream"`
		MaxTokens int  `json:"max_tokens"`
		Messages  []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	json.Unmarshal([]byte(last.Load().(string)), &probe)
	if !probe.Stream || probe.MaxTokens != 8 || len(probe.Messages) != 1 || probe.Messages[0].Content != "Reply with OK" {
		t.Errorf("the probe request was %s", last.Load())
	}

	// JSON.
	code, out, _ = runRoutesTest(t, dir, false, "mixed", "--timeout", "300ms", "--json")
	var got routesTest
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != ExitError {
		t.Fatalf("exit %d, JSON %v:\n%s", code, err, out)
	}
	if got.Model != "mixed" || len(got.Routes) != 3 || !got.Routes[0].OK || got.Routes[0].Reply != "OK" || got.Routes[0].TTFTMS <= 0 ||
		got.Routes[1].Status != "provider_overloaded" || got.Routes[1].UpstreamStatus != 503 ||
		got.Routes[2].Status != "provider_timeout" || got.Routes[2].LatencyMS < 300 {
		t.Errorf("JSON %+v", got)
	}

	// All good: exit 0, a table on a terminal.
	code, out, errOut = runRoutesTest(t, dir, true, "good")
	if code != ExitOK || errOut != "" {
		t.Errorf("exit %d stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, "ROUTE               PRIORITY  STATUS  LATENCY  TTFT") || !strings.Contains(out, "healthy/good-model  0         ok") {
		t.Errorf("TTY table:\n%s", out)
	}

	// PROVIDER/MODEL, and the built-in demo model, work too.
	if code, out, _ := runRoutesTest(t, dir, false, "healthy/another-model"); code != ExitOK || !strings.HasPrefix(out, "healthy/another-model\t0\tok\t") {
		t.Errorf("direct route: exit %d\n%s", code, out)
	}
	if code, out, _ := runRoutesTest(t, dir, false, "demo"); code != ExitOK || !strings.HasPrefix(out, "demo/demo\t0\tok\t") {
		t.Errorf("demo: exit %d\n%s", code, out)
	}
	// An unknown model is an error naming the configured ones.
	if code, _, errOut := runRoutesTest(t, dir, false, "nope"); code != ExitError || !strings.Contains(errOut, `unknown model "nope"`) || !strings.Contains(errOut, "mixed") {
		t.Errorf("unknown model: exit %d %q", code, errOut)
	}
}

func TestNewCmdRoutesTest(t *testing.T) {
	tests := []struct {
		args    []string
		want    routesTestOptions
		wantErr string
	}{
		{args: []string{"m"}, want: routesTestOptions{Model: "m", Timeout: 30 * time.Second}},
		{args: []string{"openrouter/openai/gpt-4o", "--timeout", "5s", "--json"}, want: routesTestOptions{Model: "openrouter/openai/gpt-4o", Timeout: 5 * time.Second, JSON: true}},
		{args: []string{}, wantErr: "accepts 1 arg"},
		{args: []string{"m", "--timeout", "0s"}, wantErr: "--timeout"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ios, _, _, _ := TestIO()
			var got *routesTestOptions
			cmd := newCmdRoutesTest(NewFactory(ios), func(o *routesTestOptions) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Model != tt.want.Model || got.Timeout != tt.want.Timeout || got.JSON != tt.want.JSON {
				t.Errorf("opts = %+v, want %+v", got, tt.want)
			}
		})
	}
}
