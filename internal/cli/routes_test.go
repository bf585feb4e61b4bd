package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/ingress"
)

func TestRoutesList(t *testing.T) {
	s := startObs(t, obsOptions{toml: demoConfig})
	s.post(t, "/v1/chat/completions", chatBody("hi", false))
	s.post(t, "/v1/chat/completions", chatBody("xjp:fail=503", false))
	cfgFn := func() (*config.Config, error) {
		cfg := *s.cfg
		cfg.Server.Listen = s.addr
		return &cfg, nil
	}
	obsWait(t, 5*time.Second, "the finished requests", func() bool {
		c, _ := adminClient(cfgFn, "", "", nil)
		snap, err := c.Snapshot(context.Background())
		return err == nil && len(snap.Recent) == 2
	})

	run := func(tty, asJSON bool) string {
		ios, _, out, _ := TestIO()
		ios.SetStdoutTTY(tty)
		if err := routesListRun(context.Background(), &routesListOptions{IO: ios, Config: cfgFn, JSON: asJSON}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	// The 503 was retried three times: the breaker (threshold 5) counts three failures.
	if got, want := run(false, false), "demo\tdemo/demo\t0\tclosed (3 failing)\t2\t1\t50.0%\tdemo: demo failure 503 requested by the prompt\n"; got != want {
		t.Errorf("non-TTY:\n got %q\nwant %q", got, want)
	}
	tty := run(true, false)
	if !strings.HasPrefix(tty, "MODEL  ROUTE      PRIORITY  BREAKER") || !strings.Contains(tty, "50.0%") {
		t.Errorf("TTY:\n%s", tty)
	}
	var rs ingress.AdminRoutes
	if err := json.Unmarshal([]byte(run(false, true)), &rs); err != nil || rs.Models[0].Routes[0].Recent.Errors != 1 {
		t.Errorf("JSON: %+v %v", rs, err)
	}

	// A wrong token is a clear error.
	ios, _, _, _ := TestIO()
	err := routesListRun(context.Background(), &routesListOptions{IO: ios, Config: cfgFn, Token: "wrong"})
	if err == nil || !strings.Contains(err.Error(), "admin token was refused") {
		t.Errorf("wrong token: %v", err)
	}
}

func TestRoutesCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte(`
[providers.local]
kind = "openai"
base_url = "http://127.0.0.1:11434/v1"

[[models]]
name = "llama"
[[models.routes]]
provider = "local"
model = "llama3"
`), 0o600)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(`
[[models]]
name = "llama"
[[models.routes]]
provider = "nope"
model = "llama3"
`), 0o600)

	ios, _, out, errOut := TestIO()
	f := NewFactory(ios)
	f.Getenv = func(string) string { return "" }
	f.DataDir = dir
	if code := Run(context.Background(), f, []string{"routes", "check", good}); code != ExitOK {
		t.Fatalf("good file: exit %d, stderr %s", code, errOut)
	}
	want := good + " is valid: 2 models, 2 providers\n  llama → local/llama3\n  demo → demo/demo\n"
	if out.String() != want {
		t.Errorf("good file:\n got %q\nwant %q", out.String(), want)
	}

	ios, _, out, errOut = TestIO()
	f = NewFactory(ios)
	f.Getenv = func(string) string { return "" }
	if code := Run(context.Background(), f, []string{"routes", "check", bad}); code != ExitError {
		t.Fatalf("bad file: exit %d", code)
	}
	if e := errOut.String(); !strings.Contains(e, bad+" is not valid:") || !strings.Contains(e, `"nope"`) || out.Len() != 0 {
		t.Errorf("bad file: stdout %q stderr %q", out, e)
	}
	ios, _, _, errOut = TestIO()
	f = NewFactory(ios)
	if code := Run(context.Background(), f, []string{"routes", "check", filepath.Join(dir, "missing.toml")}); code != ExitError {
		t.Errorf("missing file: exit %d %s", code, errOut)
	}
}
