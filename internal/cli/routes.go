package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/llm"
)

func newCmdRoutes(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "Show the routing table of a running server, probe a model's routes, or check a config file",
	}
	cmd.AddCommand(
		newCmdRoutesList(f, nil),
		newCmdRoutesTest(f, nil),
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

type routesTestOptions struct {
	IO     *IOStreams
	Config func() (*config.Config, error)
	Getenv func(string) string

	Model   string
	Timeout time.Duration
	JSON    bool
}

func newCmdRoutesTest(f *Factory, runF func(*routesTestOptions) error) *cobra.Command {
	opts := &routesTestOptions{IO: f.IO, Config: f.Config, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "test MODEL",
		Short: "Probe each route of a model now and print its status and latency",
		Long: `Send a tiny request ("Reply with OK", at most 8 output tokens, streamed) to
every route of MODEL at once, straight to each upstream: no retries, no
failover, no circuit breaker, so each line says whether that upstream can
answer right now. It needs no running server: the providers are built from
the config file (and environment) the way 'xjp serve' builds them. MODEL is a
configured model or PROVIDER/UPSTREAM_MODEL.

Per route it prints the status (ok, or the error kind with the upstream's
HTTP status), the latency of the whole answer, the time to the first token
and the reply or the error message. The exit status is 1 when any route
failed. Each probe costs a few tokens on that upstream.`,
		Example: `  xjp routes test claude-sonnet-4.5
  xjp routes test openrouter/openai/gpt-4o --timeout 10s
  xjp routes test demo --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Model = args[0]
			if opts.Timeout <= 0 {
				return flagErrorf(cmd, "--timeout %v: want a positive duration, such as 30s", opts.Timeout)
			}
			if runF != nil {
				return runF(opts)
			}
			return routesTestRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&opts.Timeout, "timeout", 30*time.Second, "give up on a route after this long")
	fl.BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

// routeProbe is the outcome of probing one route.
type routeProbe struct {
	Route         string `json:"route"`
	Provider      string `json:"provider"`
	UpstreamModel string `json:"upstream_model"`
	Priority      int    `json:"priority"`
	Weight        int    `json:"weight,omitempty"`
	OK            bool   `json:"ok"`
	// Status is "ok" or the error kind (provider_overloaded, …).
	Status         string  `json:"status"`
	UpstreamStatus int     `json:"upstream_status,omitempty"`
	Error          string  `json:"error,omitempty"`
	Reply          string  `json:"reply,omitempty"`
	LatencyMS      float64 `json:"latency_ms"`
	// TTFTMS is the time to the first token; 0 when none came.
	TTFTMS float64 `json:"ttft_ms"`
}

// routesTest is the JSON answer of routes test.
type routesTest struct {
	Model  string       `json:"model"`
	Routes []routeProbe `json:"routes"`
}

func routesTestRun(ctx context.Context, opts *routesTestOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	routes, err := probeRoutes(ctx, cfg, opts.Getenv, opts.Model)
	if err != nil {
		return err
	}
	out := routesTest{Model: opts.Model, Routes: make([]routeProbe, len(routes))}
	var wg sync.WaitGroup
	for i, r := range routes {
		wg.Go(func() { out.Routes[i] = probeRoute(ctx, r, opts.Timeout) })
	}
	wg.Wait()
	failed := 0
	for _, p := range out.Routes {
		if !p.OK {
			failed++
		}
	}
	if opts.JSON {
		if err := writeJSON(opts.IO.Out, out); err != nil {
			return err
		}
	} else {
		t := newTable(opts.IO, time.Time{}, "route", "priority", "status", "latency", "ttft", "reply or error")
		for _, p := range out.Routes {
			status, detail := p.Status, oneLine(p.Reply, 60)
			if !p.OK {
				detail = oneLine(p.Error, 100)
				if p.UpstreamStatus != 0 {
					status += fmt.Sprintf(" (HTTP %d)", p.UpstreamStatus)
				}
			}
			ttft := "-"
			if p.TTFTMS > 0 {
				ttft = msString(p.TTFTMS)
			}
			t.row(p.Route, strconv.Itoa(p.Priority), status, msString(p.LatencyMS), ttft, detail)
		}
		if err := t.render(); err != nil {
			return err
		}
	}
	if failed > 0 {
		fmt.Fprintf(opts.IO.ErrOut, "%d of %d routes of %q failed\n", failed, len(out.Routes), opts.Model)
		return errSilent
	}
	return nil
}

// msString renders milliseconds as "0.4ms", "152ms" or "2.4s".
func msString(ms float64) string {
	switch {
	case ms >= 1000:
		return strconv.FormatFloat(ms/1000, 'f', 1, 64) + "s"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
}

// probeRoutes builds the routes of model from cfg, in the order the
// gateway tries them (priority, then listed order), with only the
// providers they use: a provider that cannot be built (Vertex without
// credentials) spoils only the models that route to it.
func probeRoutes(ctx context.Context, cfg *config.Config, getenv func(string) string, model string) ([]*gateway.Route, error) {
	var m *config.Model
	for i := range cfg.Models {
		if cfg.Models[i].Name == model {
			m = &cfg.Models[i]
			break
		}
	}
	if m == nil {
		prov, upstream, ok := strings.Cut(model, "/")
		if _, known := cfg.Providers[prov]; !ok || upstream == "" || !known {
			names := make([]string, 0, len(cfg.Models))
			for _, cm := range cfg.Models {
				names = append(names, cm.Name)
			}
			return nil, fmt.Errorf("unknown model %q: configured models are %s (or use PROVIDER/UPSTREAM_MODEL)", model, strings.Join(names, ", "))
		}
		m = &config.Model{Name: model, Routes: []config.Route{{Provider: prov, Model: upstream}}}
	}
	sub := *cfg
	sub.Models = []config.Model{*m}
	sub.Providers = map[string]config.Provider{}
	for _, r := range m.Routes {
		sub.Providers[r.Provider] = cfg.Providers[r.Provider]
	}
	providers, err := buildProviders(ctx, &sub, getenv, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, err
	}
	table, err := buildTable(&sub, providers)
	if err != nil {
		return nil, err
	}
	routes := slices.Clone(table.Models()[0].Routes)
	slices.SortStableFunc(routes, func(a, b *gateway.Route) int { return a.Priority - b.Priority })
	return routes, nil
}

// probeRoute sends the probe request straight to r's upstream and waits
// for the whole answer, at most timeout.
func probeRoute(ctx context.Context, r *gateway.Route, timeout time.Duration) routeProbe {
	p := routeProbe{Route: r.Name(), Provider: r.Provider.Name(), UpstreamModel: r.Model, Priority: r.Priority, Weight: r.Weight}
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req := &llm.Request{Model: r.Name(), Stream: true, MaxTokens: 8,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{llm.TextPart("Reply with OK")}}}}
	call := &llm.Call{Request: req, Model: r.Model, MaxTokensCap: r.MaxTokens, DefaultMaxTokens: r.DefaultMaxTokens, Body: r.Body, Headers: r.Headers}
	since := func() float64 { return float64(time.Since(start).Microseconds()) / 1000 }
	fail := func(err error) routeProbe {
		p.LatencyMS = since()
		e := llm.AsError(err)
		p.Status, p.UpstreamStatus, p.Error = string(e.Kind), e.UpstreamStatus, e.Error()
		if ctx.Err() == nil && errors.Is(pctx.Err(), context.DeadlineExceeded) {
			p.Status, p.Error = string(llm.KindProviderTimeout), fmt.Sprintf("no complete answer within the --timeout of %v", timeout)
		}
		return p
	}
	s, err := r.Provider.Stream(pctx, call)
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	var reply strings.Builder
	for s.Next() {
		switch ev := s.Event(); ev.Type {
		case llm.EventTextDelta, llm.EventThinkingDelta, llm.EventToolArgsDelta:
			if p.TTFTMS == 0 {
				p.TTFTMS = since()
			}
			if ev.Type == llm.EventTextDelta {
				reply.WriteString(ev.Text)
			}
		}
	}
	if err := s.Err(); err != nil {
		return fail(err)
	}
	p.LatencyMS = since()
	p.OK, p.Status, p.Reply = true, "ok", strings.TrimSpace(reply.String())
	return p
}
