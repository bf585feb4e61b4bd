package cli

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rickyjim626/xjp/config"
)

func newCmdRoutes(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "Show the routing table of a running server, or check a config file",
	}
	cmd.AddCommand(
		newCmdRoutesList(f, nil),
		newCmdRoutesCheck(f, nil),
	)
	return cmd
}

type routesListOptions struct {
	IO         *IOStreams
	Config     func() (*config.Config, error)
	HTTPClient *http.Client

	Addr  string
	Token string
	JSON  bool
}

func newCmdRoutesList(f *Factory, runF func(*routesListOptions) error) *cobra.Command {
	opts := &routesListOptions{IO: f.IO, Config: f.Config}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List a running server's routes with breaker states and recent errors",
		Long: `List the models and routes a running server has loaded, with each route's
circuit breaker and its recent requests and errors (over the server's last
finished requests). The server and admin token are found like 'xjp tail'
finds them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return routesListRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", "", "server address host:port or URL (default: server.listen)")
	fl.StringVar(&opts.Token, "token", "", "admin token (default: admin.token, XJP_ADMIN_TOKEN or <data-dir>/admin-token)")
	fl.BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func routesListRun(ctx context.Context, opts *routesListOptions) error {
	c, err := adminClient(opts.Config, opts.Addr, opts.Token, opts.HTTPClient)
	if err != nil {
		return err
	}
	rs, err := c.Routes(ctx)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(opts.IO.Out, rs)
	}
	t := newTable(opts.IO, time.Time{}, "model", "route", "priority", "breaker", "requests", "errors", "error rate", "last error")
	for _, m := range rs.Models {
		for _, r := range m.Routes {
			rate := "-"
			if r.Recent.Requests > 0 {
				rate = strconv.FormatFloat(100*float64(r.Recent.Errors)/float64(r.Recent.Requests), 'f', 1, 64) + "%"
			}
			state := r.Breaker.State
			if state == "" {
				state = "closed"
			}
			if r.Breaker.ConsecutiveFailures > 0 && state == "closed" {
				state += fmt.Sprintf(" (%d failing)", r.Breaker.ConsecutiveFailures)
			}
			t.row(m.Name, r.Route, strconv.Itoa(r.Priority), state, strconv.Itoa(r.Recent.Requests), strconv.Itoa(r.Recent.Errors),
				rate, oneLine(r.Breaker.LastError, 60))
		}
	}
	return t.render()
}

// oneLine shortens s to one line of at most n runes.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

type routesCheckOptions struct {
	IO      *IOStreams
	Getenv  func(string) string
	DataDir string

	File string
}

func newCmdRoutesCheck(f *Factory, runF func(*routesCheckOptions) error) *cobra.Command {
	opts := &routesCheckOptions{IO: f.IO, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a config file without a server",
		Long: `Load and validate a config file the way 'xjp serve' and a reload would, without
starting anything: every error is printed with the file, the key and what is
wrong, and the exit status is 1. A good file prints its models and routes.
The environment applies as it would to the server (XJP_* overrides,
implied providers).`,
		Example: `  xjp routes check xjp.toml
  xjp routes check /etc/xjp/xjp.toml && kill -HUP $(pidof xjp)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.File = args[0]
			opts.DataDir = f.DataDir
			if runF != nil {
				return runF(opts)
			}
			return routesCheckRun(opts)
		},
	}
	return cmd
}

func routesCheckRun(opts *routesCheckOptions) error {
	cfg, err := config.Load(config.LoadOptions{File: opts.File, DataDir: opts.DataDir, Getenv: opts.Getenv})
	if err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "%s is not valid:\n%s\n", opts.File, err)
		return errSilent
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", w)
	}
	w := opts.IO.Out
	fmt.Fprintf(w, "%s is valid: %d models, %d providers\n", opts.File, len(cfg.Models), len(cfg.Providers))
	for _, m := range cfg.Models {
		var rs []string
		for _, r := range m.Routes {
			rs = append(rs, r.Provider+"/"+r.Model)
		}
		fmt.Fprintf(w, "  %s → %s\n", m.Name, strings.Join(rs, ", "))
	}
	return nil
}
