package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/spf13/cobra"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/ingress"
	"github.com/rickyjim626/xjp/tui"
)

type tailOptions struct {
	IO     *IOStreams
	Config func() (*config.Config, error)
	// HTTPClient talks to the server (nil: a default client).
	HTTPClient *http.Client

	Addr   string
	Token  string
	Model  string
	Key    string
	Status string
	Errors bool
	JSON   bool
	// Dash attaches the terminal dashboard to the server instead.
	Dash bool

	// Location is the time zone of the times shown on a terminal (nil:
	// local).
	Location *time.Location
	// MinBackoff is the first wait before reconnecting (tests shorten it).
	MinBackoff time.Duration
	// onConnect, when set, is called each time tail follows the server
	// (tests).
	onConnect func()
}

var statusFilterRE = regexp.MustCompile(`^[1-5]([0-9][0-9]|xx)$`)

func newCmdTail(f *Factory, runF func(*tailOptions) error) *cobra.Command {
	opts := &tailOptions{IO: f.IO, Config: f.Config}
	cmd := &cobra.Command{
		Use:   "tail",
		Short: "Follow a running server's requests, one line each",
		Long: `Follow the requests a running xjp server finishes, one line each: time,
status, model → provider/upstream model, key, latency, time to first token,
tokens in/out and cost. Failed requests end with the error.

The server is server.listen of the config (or --addr), reached through its
admin API with the admin token: --token, else admin.token / XJP_ADMIN_TOKEN,
else <data-dir>/admin-token, which the server writes at its first start.

When the server restarts, tail reconnects with backoff (a notice goes to
stderr) and shows the requests that finished meanwhile. Ctrl-C stops it.

--dash shows the server's live dashboard instead — streams, breakers,
spend, errors — as 'xjp serve' does on its own terminal, so a team can
watch a shared gateway; q detaches and leaves the server running.`,
		Example: `  xjp tail
  xjp tail --errors
  xjp tail --model claude-sonnet-4.5 --status 5xx
  xjp tail --json | jq .latency_ms
  xjp tail --addr gateway.internal:8080 --token "$XJP_ADMIN_TOKEN"
  xjp tail --dash --addr gateway.internal:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Status != "" && !statusFilterRE.MatchString(opts.Status) {
				return flagErrorf(cmd, "--status %q: want a status such as 429 or a class such as 5xx", opts.Status)
			}
			if opts.Dash && (opts.JSON || opts.Model != "" || opts.Key != "" || opts.Status != "" || opts.Errors) {
				return flagErrorf(cmd, "--dash shows everything: --json and the filters do not apply (filter with / in the dashboard)")
			}
			if runF != nil {
				return runF(opts)
			}
			return tailRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Addr, "addr", "", "server address host:port or URL (default: server.listen)")
	fl.StringVar(&opts.Token, "token", "", "admin token (default: admin.token, XJP_ADMIN_TOKEN or <data-dir>/admin-token)")
	fl.StringVar(&opts.Model, "model", "", "only requests for this model")
	fl.StringVar(&opts.Key, "key", "", "only requests with this API key (name or id)")
	fl.StringVar(&opts.Status, "status", "", "only requests with this status (429) or class (5xx)")
	fl.BoolVar(&opts.Errors, "errors", false, "only failed requests (status 400 and above)")
	fl.BoolVar(&opts.JSON, "json", false, "one JSON object per line")
	fl.BoolVar(&opts.Dash, "dash", false, "show the server's live dashboard (needs a terminal)")
	return cmd
}

// adminClient connects to the running server: addr and token when given,
// else from the config (server.listen; admin.token, XJP_ADMIN_TOKEN or
// the admin-token file in the data directory).
func adminClient(cfgFn func() (*config.Config, error), addr, token string, hc *http.Client) (*ingress.AdminClient, error) {
	if addr == "" || token == "" {
		cfg, err := cfgFn()
		if err != nil {
			return nil, err
		}
		if addr == "" {
			addr = dialAddr(cfg.Server.Listen)
		}
		if token == "" {
			token = cfg.Admin.Token
		}
		if token == "" {
			t, err := readAdminToken(cfg.DataDir)
			if err != nil {
				return nil, fmt.Errorf("no admin token: pass --token or set XJP_ADMIN_TOKEN, or run this where the server keeps its data (%v)", err)
			}
			token = t
		}
	}
	return ingress.NewAdminClient(addr, token, hc), nil
}

// dialAddr turns a listen address into one to connect to: an unspecified
// host (":8080", "0.0.0.0:8080") is this machine.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

func tailRun(ctx context.Context, opts *tailOptions) error {
	c, err := adminClient(opts.Config, opts.Addr, opts.Token, opts.HTTPClient)
	if err != nil {
		return err
	}
	if opts.Dash {
		if !opts.IO.IsInteractive() {
			return errors.New("--dash needs a terminal; without one, xjp tail prints lines")
		}
		// Fail fast on a wrong address or token instead of an empty screen.
		if _, err := c.Snapshot(ctx); err != nil {
			return fmt.Errorf("cannot reach %s: %w", c.BaseURL(), err)
		}
		return tui.Run(ctx, c, tui.Options{Remote: true, Title: "xjp @ " + c.BaseURL()})
	}
	c.Kinds = []event.Kind{event.RequestFinished}
	c.MinBackoff = opts.MinBackoff
	c.Notify = func(msg string) { fmt.Fprintf(opts.IO.ErrOut, "xjp tail: %s\n", msg) }
	if opts.onConnect != nil {
		c.OnSnapshot = func(event.Snapshot) { opts.onConnect() }
	}
	if opts.IO.IsStderrTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "following %s (Ctrl-C to stop)\n", c.BaseURL())
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p := newTailPrinter(opts)
	err = c.Subscribe(ctx, func(ev event.Event) {
		if ev.Kind != event.RequestFinished || ev.Request == nil || !opts.match(ev.Request) {
			return
		}
		if err := p.print(ev); err != nil {
			cancel(err) // stdout closed (xjp tail | head)
		}
	})
	// nil on Ctrl-C, and when the reader of stdout went away: neither is
	// an error.
	return err
}

// match applies the filters.
func (o *tailOptions) match(r *event.Request) bool {
	if o.Model != "" && r.Model != o.Model {
		return false
	}
	if o.Key != "" && r.KeyName != o.Key && r.KeyID != o.Key {
		return false
	}
	if o.Errors && r.Status < 400 {
		return false
	}
	if o.Status != "" {
		s := strconv.Itoa(r.Status)
		if strings.HasSuffix(o.Status, "xx") {
			return len(s) == 3 && s[0] == o.Status[0]
		}
		return s == o.Status
	}
	return true
}

// tailRecord is one line of `xjp tail --json`.
type tailRecord struct {
	Time          time.Time `json:"time"`
	RequestID     string    `json:"request_id"`
	Status        int       `json:"status"`
	Endpoint      string    `json:"endpoint"`
	Model         string    `json:"model"`
	Provider      string    `json:"provider,omitempty"`
	UpstreamModel string    `json:"upstream_model,omitempty"`
	Key           string    `json:"key,omitempty"`
	KeyID         string    `json:"key_id,omitempty"`
	Tenant        string    `json:"tenant,omitempty"`
	Stream        bool      `json:"stream"`
	LatencyMS     float64   `json:"latency_ms"`
	TTFTMS        float64   `json:"ttft_ms,omitempty"`
	InputTokens   int64     `json:"input_tokens"`
	OutputTokens  int64     `json:"output_tokens"`
	Estimated     bool      `json:"estimated,omitempty"`
	CostUSD       *float64  `json:"cost_usd"`
	Attempts      int       `json:"attempts,omitempty"`
	ErrorKind     string    `json:"error_kind,omitempty"`
	Error         string    `json:"error,omitempty"`
}

func newTailRecord(ev event.Event) tailRecord {
	r := ev.Request
	return tailRecord{
		Time: ev.Time, RequestID: r.ID, Status: r.Status, Endpoint: r.Endpoint, Model: r.Model,
		Provider: r.Provider, UpstreamModel: r.UpstreamModel, Key: r.KeyName, KeyID: r.KeyID, Tenant: r.Tenant,
		Stream: r.Stream, LatencyMS: ms(r.Latency), TTFTMS: ms(r.TTFT),
		InputTokens: r.Usage.PromptTokens(), OutputTokens: r.Usage.OutputTokens, Estimated: r.Usage.Estimated,
		CostUSD: r.CostUSD, Attempts: r.Attempts, ErrorKind: string(r.ErrorKind), Error: r.ErrorMessage,
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// tailStyles colour a line on a terminal; built once.
type tailStyles struct {
	ok, warn, bad, model, dim lipgloss.Style
}

func newTailStyles() tailStyles {
	return tailStyles{
		ok:    lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		warn:  lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		bad:   lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		model: lipgloss.NewStyle().Bold(true),
		dim:   lipgloss.NewStyle().Faint(true),
	}
}

// tailPrinter writes the lines; print may be called from one goroutine at
// a time only, but it locks anyway (cheap, and safe for future callers).
type tailPrinter struct {
	mu     sync.Mutex
	w      io.Writer
	json   bool
	tty    bool
	loc    *time.Location
	styles tailStyles
}

func newTailPrinter(o *tailOptions) *tailPrinter {
	p := &tailPrinter{w: o.IO.Out, json: o.JSON, tty: o.IO.IsStdoutTTY(), loc: o.Location}
	if p.loc == nil {
		p.loc = time.Local
	}
	if p.tty {
		p.styles = newTailStyles()
	}
	return p
}

func (p *tailPrinter) print(ev event.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		b, err := json.Marshal(newTailRecord(ev))
		if err != nil {
			return err
		}
		_, err = p.w.Write(append(b, '\n'))
		return err
	}
	_, err := io.WriteString(p.w, p.line(ev)+"\n")
	return err
}

// line renders a finished request:
//
//	15:04:05  200  demo → demo/demo  laptop  1.24s  ttft 35ms  in 12  out 34  $0.000123
//
// with RFC 3339 UTC times and no colour when stdout is not a terminal.
func (p *tailPrinter) line(ev event.Event) string {
	r := ev.Request
	st := p.styles
	paint := func(s lipgloss.Style, v string) string {
		if !p.tty {
			return v
		}
		return s.Render(v)
	}
	when := ev.Time.UTC().Format(time.RFC3339)
	if p.tty {
		when = ev.Time.In(p.loc).Format("15:04:05")
	}
	status := "---"
	if r.Status != 0 {
		status = strconv.Itoa(r.Status)
	}
	switch {
	case r.Status == 0 || r.Status >= 500:
		status = paint(st.bad, status)
	case r.Status >= 400:
		status = paint(st.warn, status)
	default:
		status = paint(st.ok, status)
	}
	route := "-"
	if r.Provider != "" {
		route = r.Provider + "/" + r.UpstreamModel
	}
	key := r.KeyName
	if key == "" {
		key = r.KeyID
	}
	if key == "" {
		key = "-"
	}
	ttft := "-"
	if r.TTFT > 0 {
		ttft = fmtLatency(r.TTFT)
	}
	approx := ""
	if r.Usage.Estimated {
		approx = "~"
	}
	cost := "$-"
	if r.CostUSD != nil {
		cost = fmt.Sprintf("$%.6f", *r.CostUSD)
	}
	parts := []string{
		paint(st.dim, when), status,
		paint(st.model, r.Model) + " → " + route,
		key, fmtLatency(r.Latency), paint(st.dim, "ttft") + " " + ttft,
		fmt.Sprintf("%s %s%d", paint(st.dim, "in"), approx, r.Usage.PromptTokens()),
		fmt.Sprintf("%s %s%d", paint(st.dim, "out"), approx, r.Usage.OutputTokens),
		cost,
	}
	if r.ErrorKind != "" || r.ErrorMessage != "" {
		msg := string(r.ErrorKind)
		if r.ErrorMessage != "" {
			msg += ": " + r.ErrorMessage
		}
		parts = append(parts, paint(st.bad, msg))
	}
	return strings.Join(parts, "  ")
}

// fmtLatency shows a duration in ms below a second, in seconds above.
func fmtLatency(d time.Duration) string {
	if d < time.Second {
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
}
