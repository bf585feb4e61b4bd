package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/rickyjim626/xjp/internal/cli"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"xjp": func() { os.Exit(int(cli.Main())) },
	})
}

// TestScripts runs the end-to-end scripts in testdata/script: the real
// binary (this test binary re-executed as "xjp") against real requests.
//
// Extra commands: freeport NAME sets $NAME to a free local port;
// waithttp URL waits until the URL answers; http METHOD URL [KEY [BODY]]
// sends a request (BODY is a file name or an inline string) and writes
// "STATUS\n" plus the body to stdout; secret FILE NAME sets $NAME to the
// first xjp_ key in FILE.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "../../testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("XDG_CONFIG_HOME", env.WorkDir+"/.config")
			env.Setenv("XDG_DATA_HOME", env.WorkDir+"/.local/share")
			for _, v := range []string{"OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "CLEWDR_BASE_URL", "VERTEX_API_KEY", "VERTEX_PROJECT"} {
				env.Setenv(v, "")
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				ts.Check(err)
				port := l.Addr().(*net.TCPAddr).Port
				l.Close()
				ts.Setenv(args[0], strconv.Itoa(port))
			},
			"waithttp": func(ts *testscript.TestScript, neg bool, args []string) {
				deadline := time.Now().Add(20 * time.Second)
				for time.Now().Before(deadline) {
					if resp, err := http.Get(args[0]); err == nil {
						resp.Body.Close()
						return
					}
					time.Sleep(50 * time.Millisecond)
				}
				ts.Fatalf("%s did not answer within 20s", args[0])
			},
			"http": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) < 2 {
					ts.Fatalf("usage: http METHOD URL [KEY [BODY]]")
				}
				var body io.Reader
				if len(args) > 3 {
					b := args[3]
					if data, err := os.ReadFile(ts.MkAbs(b)); err == nil {
						b = string(data)
					}
					body = strings.NewReader(b)
				}
				req, err := http.NewRequest(args[0], args[1], body)
				ts.Check(err)
				if len(args) > 2 && args[2] != "-" {
					req.Header.Set("Authorization", "Bearer "+args[2])
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				ts.Check(err)
				defer resp.Body.Close()
				data, err := io.ReadAll(resp.Body)
				ts.Check(err)
				fmt.Fprintf(ts.Stdout(), "%d\n%s", resp.StatusCode, data)
			},
			"secret": func(ts *testscript.TestScript, neg bool, args []string) {
				data := ts.ReadFile(args[0])
				i := strings.Index(data, "xjp_")
				if i < 0 {
					ts.Fatalf("no xjp_ key in %s", args[0])
				}
				j := i
				for j < len(data) && !bytes.ContainsRune([]byte(" \n\t\r"), rune(data[j])) {
					j++
				}
				ts.Setenv(args[1], data[i:j])
			},
		},
	})
}
