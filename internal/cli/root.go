// Package cli is xjp's composition root: the cobra command tree, the
// factory that builds config, store and gateway on demand, and the output
// helpers (tables on a terminal, TSV or JSON otherwise). One file per verb.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// ExitCode is the process exit status.
type ExitCode int

const (
	ExitOK     ExitCode = 0
	ExitError  ExitCode = 1
	ExitUsage  ExitCode = 2
	ExitCancel ExitCode = 130
)

// Main runs the command line and returns the exit code.
func Main() ExitCode {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, NewFactory(System()), os.Args[1:])
}

// Run executes args against f.
func Run(ctx context.Context, f *Factory, args []string) ExitCode {
	root := NewRootCmd(f)
	root.SetArgs(args)
	root.SetIn(f.IO.In)
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var fe *flagError
	switch {
	case errors.Is(err, errSilent):
		return ExitError
	case errors.As(err, &fe):
		fmt.Fprintf(f.IO.ErrOut, "error: %s\n", fe.err)
		fmt.Fprintf(f.IO.ErrOut, "Run '%s --help' for usage.\n", fe.cmd)
		return ExitUsage
	case errors.Is(err, context.Canceled):
		return ExitCancel
	case strings.HasPrefix(err.Error(), "unknown command"):
		fmt.Fprintf(f.IO.ErrOut, "error: %s\n", err)
		fmt.Fprintln(f.IO.ErrOut, "Run 'xjp --help' for the commands.")
		return ExitUsage
	}
	fmt.Fprintf(f.IO.ErrOut, "error: %s\n", err)
	return ExitError
}

// errSilent ends a command with a failure whose message was printed already.
var errSilent = errors.New("silent")

// flagError is bad command-line input: printed with a pointer to --help.
type flagError struct {
	cmd string
	err error
}

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

func flagErrorf(cmd *cobra.Command, format string, args ...any) error {
	return &flagError{cmd: cmd.CommandPath(), err: fmt.Errorf(format, args...)}
}

// usageErrors makes argument mistakes (a missing or extra argument, an
// unknown command) usage errors like bad flags: exit 2 and a pointer to
// --help, rather than a plain failure.
func usageErrors(cmd *cobra.Command) {
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return &flagError{cmd: c.CommandPath(), err: err}
			}
			return nil
		}
	}
	for _, sub := range cmd.Commands() {
		usageErrors(sub)
	}
}

// NewRootCmd builds the command tree.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "xjp",
		Short: "A local-first AI gateway for OpenAI, Anthropic and Gemini clients",
		Long: `xjp is an AI gateway in one binary. It serves the OpenAI Chat Completions and
Responses APIs, the Anthropic Messages API and the Gemini API on 127.0.0.1:8080,
routes each model to OpenRouter or any OpenAI-compatible API, Anthropic or
Clewdr, and Vertex AI / Gemini, translates between the formats (streaming, tool
calls, images, thinking), retries and fails over, enforces per-key limits, and
records every token and dollar per API key.

Start it with 'xjp serve': with no config it serves the offline 'demo' model and
prints a first API key. Point your SDK or agent at http://127.0.0.1:8080.`,
		Example: `  xjp serve                       # start the gateway (prints a key on first run)
  xjp keys create --name laptop   # another API key
  xjp keys list
  curl -N http://127.0.0.1:8080/v1/chat/completions \
    -H "Authorization: Bearer $XJP_KEY" -H "Content-Type: application/json" \
    -d '{"model":"demo","stream":true,"messages":[{"role":"user","content":"Hi"}]}'`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &flagError{cmd: cmd.CommandPath(), err: err}
	})
	pf := root.PersistentFlags()
	pf.StringVar(&f.ConfigFile, "config", "", "config file (default: ./xjp.toml, then $XDG_CONFIG_HOME/xjp/xjp.toml)")
	pf.StringVar(&f.DataDir, "data-dir", "", "data directory for the SQLite store and admin token (default: $XDG_DATA_HOME/xjp)")

	defer usageErrors(root)
	root.AddCommand(
		newCmdServe(f, nil),
		newCmdKeys(f),
		newCmdRoutes(f),
		newCmdTail(f, nil),
		newCmdUsage(f, nil),
		newCmdEnv(f, nil),
		newCmdVersion(f),
	)
	return root
}
