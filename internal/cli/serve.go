package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/ingress"
	"github.com/rickyjim626/xjp/internal/limit"
	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/tui"
)

type serveOptions struct {
	IO     *IOStreams
	Config func() (*config.Config, error)
	Getenv func(string) string
	Now    func() time.Time

	Listen    string
	Headless  bool
	LogLevel  string
	LogFormat string

	// Ready, when set, receives the listening address (tests).
	Ready func(addr string)
	// Tracing, when set, replaces the OTLP setup from the environment
	// (tests use an in-memory exporter).
	Tracing *tracing
}

func newCmdServe(f *Factory, runF func(*serveOptions) error) *cobra.Command {
	opts := &serveOptions{IO: f.IO, Config: f.Config, Getenv: f.Getenv, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long: `Run the gateway on 127.0.0.1:8080 (server.listen, or --listen).

With no config file it serves the built-in offline 'demo' model plus any
provider whose environment variables are set (OPENROUTER_API_KEY,
ANTHROPIC_API_KEY, OPENAI_API_KEY, CLEWDR_BASE_URL, VERTEX_API_KEY or
VERTEX_PROJECT). Keys and usage live in <data-dir>/xjp.db; on the first run a
key is created and printed once.

Endpoints: POST /v1/chat/completions (OpenAI), POST /v1/responses (OpenAI
Responses, Codex CLI), POST /v1/messages and /v1/messages/count_tokens
(Anthropic), POST /v1beta/models/MODEL:generateContent,
:streamGenerateContent and :countTokens (Gemini), GET /v1/models (and
/v1beta/models), /healthz, /readyz, GET /metrics (Prometheus) and the admin
API under /admin/ (xjp tail, xjp routes list), protected by the admin token:
admin.token or XJP_ADMIN_TOKEN, else one generated into
<data-dir>/admin-token.

On a terminal a live dashboard shows streams, breakers, spend, errors and
logs (logs also go to <data-dir>/xjp.log); q or Ctrl-C stops the server.
--headless, or no terminal, logs to stderr instead.

Ctrl-C or SIGTERM stops accepting requests and lets streams in flight finish
within server.shutdown_grace; a second Ctrl-C stops at once. Providers,
routes and prices reload when the config file changes, on SIGHUP and on
POST /admin/reload; a bad file is rejected and the running config kept.

Tracing: with OTEL_EXPORTER_OTLP_ENDPOINT set, a span per request, per
upstream attempt and per upstream HTTP call goes to that OTLP/HTTP endpoint;
a client's W3C traceparent is continued and sent upstream.`,
		Example: `  xjp serve
  xjp serve --listen 0.0.0.0:8080 --config /etc/xjp/xjp.toml
  OPENROUTER_API_KEY=sk-or-... xjp serve   # then use model "openrouter/openai/gpt-4o"`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Listen != "" {
				if _, _, err := net.SplitHostPort(opts.Listen); err != nil {
					return flagErrorf(cmd, "--listen %q: want host:port, such as 127.0.0.1:8080", opts.Listen)
				}
			}
			if opts.LogLevel != "" {
				var l slog.Level
				if err := l.UnmarshalText([]byte(opts.LogLevel)); err != nil {
					return flagErrorf(cmd, "--log-level %q: want debug, info, warn or error", opts.LogLevel)
				}
			}
			switch opts.LogFormat {
			case "", "auto", "text", "json":
			default:
				return flagErrorf(cmd, "--log-format %q: want text, json or auto", opts.LogFormat)
			}
			if runF != nil {
				return runF(opts)
			}
			return serveRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Listen, "listen", "", "address to listen on (default 127.0.0.1:8080; server.listen)")
	fl.BoolVar(&opts.Headless, "headless", false, "log to stderr only, no terminal dashboard")
	fl.StringVar(&opts.LogLevel, "log-level", "", "debug, info, warn or error (default info; log.level)")
	fl.StringVar(&opts.LogFormat, "log-format", "", "text, json or auto: text on a terminal, JSON otherwise (default auto; log.format)")
	return cmd
}

// server is everything serve runs, built from one config.
type server struct {
	cfg     *config.Config
	getenv  func(string) string
	log     *slog.Logger
	secrets *secrets // masked in logs; provider keys change on reload
	token   string   // the admin token
	store   *store.Store
	usage   *store.UsageWriter
	events  *event.Broker
	gw      *gateway.Gateway
	keys    *ingress.KeyCache
	limiter *limit.Limiter
	redis   *redis.Client // nil without redis.url
	status  *statusTracker
	tracing *tracing // nil: off
	http    *http.Server

	reloadMu sync.Mutex // serialises reloads (file watch, SIGHUP, admin API)

	limitsMu sync.RWMutex // guards limits
	limits   config.Limits
}

func serveRun(ctx context.Context, opts *serveOptions) error {
	cfg, err := opts.Config()
	if err != nil {
		return err
	}
	if opts.Listen != "" {
		cfg.Server.Listen = opts.Listen
	}
	if opts.LogLevel != "" {
		cfg.Log.Level = opts.LogLevel
	}
	if opts.LogFormat != "" {
		cfg.Log.Format = opts.LogFormat
	}
	sec := &secrets{}
	sec.set(configSecrets(cfg, opts.Getenv, "")...)

	// On a terminal the dashboard runs and logs go to a log panel and to
	// <data-dir>/xjp.log, never over the screen; --headless or no terminal:
	// logs on stderr.
	dash := !opts.Headless && opts.IO.IsInteractive() && opts.IO.IsStderrTTY()
	logOut, logTTY := opts.IO.ErrOut, opts.IO.IsStderrTTY()
	var logs *tui.LogBuffer
	var logPath string
	if dash {
		f, path, err := openLogFile(cfg.DataDir)
		if err != nil {
			return err
		}
		defer f.Close()
		bf := newBufferedWriter(f, logFlushEvery)
		defer bf.Close()
		logs, logPath = tui.NewLogBuffer(1000), path
		logOut, logTTY = io.MultiWriter(bf, logs), true
	} else if !logTTY {
		// Logs to a pipe or file (Kubernetes, systemd): one write syscall
		// per request line is a measurable cost under load, so lines are
		// buffered and flushed every logFlushEvery and at exit.
		bf := newBufferedWriter(logOut, logFlushEvery)
		defer bf.Close()
		logOut = bf
	}
	log := newLogger(logOut, logTTY, cfg.Log, sec)
	for _, w := range cfg.Warnings() {
		log.Warn(w)
	}

	tr := opts.Tracing
	if tr == nil {
		if tr, err = setupTracing(ctx, opts.Getenv, log); err != nil {
			return err
		}
	}
	s, err := newServer(ctx, cfg, opts.Getenv, log, withSecrets(sec), withTracing(tr))
	if err != nil {
		tr.close(context.Background())
		return err
	}
	defer s.store.Close()

	created, err := s.firstKey(ctx, opts.IO)
	if err != nil {
		return err
	}
	if created && dash && !waitForEnter(ctx, opts.IO, "Press Enter to open the dashboard (Ctrl-C quits). ") {
		return nil
	}

	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("cannot listen on %s: the address is in use (another xjp running? choose one with --listen)", cfg.Server.Listen)
		}
		return fmt.Errorf("cannot listen on %s: %w", cfg.Server.Listen, err)
	}
	addr := ln.Addr().String()

	s.status.setListen(addr)

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { s.keys.Run(bg) })
	wg.Go(func() { s.limiter.Run(bg) })
	// SIGHUP reloads the config of a headless server. With the dashboard it
	// means what it means to any terminal program — the terminal went away —
	// and the server shuts down, rather than living on without a screen.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP) // before Ready: a SIGHUP from then on is handled
	hangup := make(chan struct{})
	if dash {
		go func() {
			select {
			case <-hup:
				close(hangup)
			case <-bg.Done():
			}
			signal.Stop(hup)
		}()
	} else {
		wg.Go(func() { s.reloadOnHangup(bg, hup) })
	}
	wg.Go(func() { s.watchConfig(bg) })
	wg.Go(func() { idemStore{s.store}.purgeLoop(bg, idemPurgeEvery, log) })

	serveErr := make(chan error, 1)
	go func() { serveErr <- s.http.Serve(ln) }()
	if !dash {
		s.banner(opts.IO, addr)
	}
	log.Info("xjp listening", "addr", "http://"+addr, "version", Version, "models", len(s.gw.Table().Models()), "store", cfg.Store.Driver,
		"tracing", s.tracing != nil)
	if opts.Ready != nil {
		opts.Ready(addr)
	}

	// The dashboard runs until the user quits it (q, Ctrl-C) or a signal
	// ends ctx; either way the gateway then shuts down gracefully.
	uiCtx, stopUI := context.WithCancel(ctx)
	defer stopUI()
	uiDone := make(chan error, 1)
	if dash {
		go func() {
			uiDone <- tui.Run(uiCtx, localSource{s.status}, tui.Options{Logs: logs})
		}()
	}

	select {
	case err := <-serveErr:
		stopUI()
		if dash {
			<-uiDone
		}
		stopBG()
		wg.Wait()
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	case <-hangup:
		log.Info("terminal hung up (SIGHUP): shutting down")
	case err := <-uiDone:
		if err != nil {
			log.Error("dashboard failed", "error", err)
		}
		dash = false // the terminal is ours again
	}
	if dash {
		stopUI()
		<-uiDone
	}
	if logPath != "" {
		fmt.Fprintf(opts.IO.ErrOut, "xjp: stopping; logs are in %s\n", logPath)
	}
	s.shutdown(cfg.Server.ShutdownGrace)
	stopBG()
	wg.Wait()
	flushCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.usage.Close(flushCtx); err != nil {
		log.Error("flushing usage records failed", "error", err, "dropped", s.usage.Dropped())
	}
	if s.redis != nil {
		s.redis.Close()
	}
	if err := s.tracing.close(flushCtx); err != nil {
		log.Warn("flushing trace spans failed", "error", err)
	}
	log.Info("xjp stopped")
	return nil
}

// serverOption adds to what newServer builds.
type serverOption func(*server)

// withSecrets masks the config's secrets in log, whose ReplaceAttr is
// sec.replaceAttr (newLogger).
func withSecrets(sec *secrets) serverOption { return func(s *server) { s.secrets = sec } }

// withTracing makes spans with tr (nil: off, the default).
func withTracing(tr *tracing) serverOption { return func(s *server) { s.tracing = tr } }

func newServer(ctx context.Context, cfg *config.Config, getenv func(string) string, log *slog.Logger, opts ...serverOption) (*server, error) {
	s := &server{cfg: cfg, getenv: getenv, log: log, secrets: &secrets{}, events: event.NewBroker(), limits: cfg.Limits}
	for _, o := range opts {
		o(s)
	}
	sec, tr := s.secrets, s.tracing
	token, generated, err := adminToken(cfg)
	if err != nil {
		return nil, fmt.Errorf("the admin token: %w", err)
	}
	s.token = token
	sec.set(configSecrets(cfg, getenv, token)...)
	if generated {
		log.Info("generated the admin token for xjp tail and the admin API", "file", filepath.Join(cfg.DataDir, adminTokenFile))
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s.store = st
	providers, err := buildProviders(ctx, cfg, getenv, log, tr.transport)
	if err != nil {
		st.Close()
		return nil, err
	}
	table, err := buildTable(cfg, providers)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.usage = store.NewUsageWriter(st, store.WriterOptions{Logger: log})
	reg := newMetricsRegistry(s.usage)
	s.gw = gateway.New(gateway.Options{
		Table: table,
		Retry: gateway.Retry{MaxRetries: cfg.Retry.MaxRetries, BaseBackoff: cfg.Retry.BaseBackoff, MaxBackoff: cfg.Retry.MaxBackoff},
		Breaker: gateway.BreakerSettings{
			FailureThreshold: cfg.Breaker.FailureThreshold, OpenFor: cfg.Breaker.OpenFor, HalfOpenSuccesses: cfg.Breaker.HalfOpenSuccesses,
		},
		Usage:          s.usage,
		Events:         s.events,
		EstimateInput:  llm.CountRequestTokens,
		Logger:         log,
		Metrics:        reg,
		TracerProvider: tr.tracerProvider(),
	})
	s.keys = ingress.NewKeyCache(ingress.KeyCacheOptions{
		Lookup: keyLookup(st, s.currentLimits),
		Touch:  st.TouchKeys,
		Logger: log,
	})
	if s.limiter, s.redis, err = newLimiter(cfg, st, log); err != nil {
		st.Close()
		return nil, err
	}
	s.status = newStatusTracker(statusOptions{
		Version: Version, Started: time.Now(), Gateway: s.gw, Events: s.events, Spend: storeSpend(st), Logger: log,
	})
	as := adminStore{st}
	stopStreams := make(chan struct{}) // closed at shutdown: followers of /admin/events let go
	handler := ingress.New(ingress.Options{
		Gateway:      s.gw,
		Keys:         s.keys,
		Limiter:      limiterAdapter{l: s.limiter, limits: s.currentLimits},
		Logger:       log,
		MaxBodyBytes: cfg.Server.MaxBodyBytes,
		CORSOrigins:  cfg.Server.CORSOrigins,
		Ready:        st.Ping,
		CountTokens:  llm.CountRequestTokens,
		Metrics:      promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}),
		Admin: ingress.NewAdmin(ingress.AdminOptions{
			Token: token, Keys: as, Usage: as, Audit: as, KeyCache: s.keys,
			Gateway: s.gw, Events: s.events, Status: s.status.Snapshot, Reload: s.reload, Stop: stopStreams, Logger: log,
		}),
		TracerProvider: tr.tracerProvider(),
		Propagator:     tr.propagator(),
		LogBodies:      cfg.Log.Bodies,
		Idempotency:    ingress.IdempotencyOptions{Store: idemStore{st}},
	})
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	s.http.RegisterOnShutdown(func() { close(stopStreams) })
	return s, nil
}

func (s *server) currentLimits() config.Limits {
	s.limitsMu.RLock()
	defer s.limitsMu.RUnlock()
	return s.limits
}

// firstKey creates and prints a key when the store has none, so a first
// run needs no setup. It reports whether it created one.
func (s *server) firstKey(ctx context.Context, ios *IOStreams) (bool, error) {
	n, err := s.store.CountKeys(ctx)
	if err != nil || n > 0 {
		return false, err
	}
	k, secret, err := s.store.CreateKey(ctx, store.NewKey{Name: "default"})
	if err != nil {
		return false, fmt.Errorf("creating the first API key: %w", err)
	}
	fmt.Fprintf(ios.Out, "\nCreated your first API key %q (%s). It is shown only once — store it now:\n\n    %s\n\n", k.Name, k.ID, secret)
	fmt.Fprintf(ios.Out, "Create more with 'xjp keys create --name NAME'.\n\n")
	return true, nil
}

// waitForEnter prompts and waits for a line on stdin, so a first key is not
// hidden by the dashboard before it was copied. It returns false when ctx
// ends first (Ctrl-C).
func waitForEnter(ctx context.Context, ios *IOStreams, prompt string) bool {
	fmt.Fprint(ios.Out, prompt)
	line := make(chan struct{}, 1)
	go func() {
		bufio.NewReader(ios.In).ReadString('\n')
		line <- struct{}{}
	}()
	select {
	case <-line:
		return true
	case <-ctx.Done():
		fmt.Fprintln(ios.Out)
		return false
	}
}

// openLogFile opens <data-dir>/xjp.log for appending (the dashboard's log
// destination).
func openLogFile(dataDir string) (*os.File, string, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("creating the data directory: %w", err)
	}
	path := filepath.Join(dataDir, "xjp.log")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("opening the log file: %w", err)
	}
	return f, path, nil
}

func (s *server) banner(ios *IOStreams, addr string) {
	var names []string
	for _, m := range s.gw.Table().Models() {
		names = append(names, m.Name)
	}
	var provs []string
	for n := range s.gw.Table().Providers() {
		provs = append(provs, n)
	}
	sort.Strings(provs)
	w := ios.Out
	fmt.Fprintf(w, "xjp %s listening on http://%s\n", Version, addr)
	fmt.Fprintf(w, "  OpenAI base URL:     http://%s/v1\n", addr)
	fmt.Fprintf(w, "  Anthropic base URL:  http://%s\n", addr)
	fmt.Fprintf(w, "  models:    %s\n", strings.Join(names, ", "))
	fmt.Fprintf(w, "  providers: %s (also addressable as PROVIDER/MODEL)\n", strings.Join(provs, ", "))
	data := s.cfg.Store.DSN
	if s.cfg.Store.Driver == "sqlite" && data == "" {
		data = s.cfg.DataDir + "/xjp.db"
	}
	if s.cfg.Store.Driver == "postgres" {
		data = "postgres"
	}
	fmt.Fprintf(w, "  store:     %s\n", data)
	if s.cfg.File != "" {
		fmt.Fprintf(w, "  config:    %s\n", s.cfg.File)
	} else {
		fmt.Fprintf(w, "  config:    none (defaults; see config/xjp.example.toml)\n")
	}
	fmt.Fprintln(w)
}

// shutdown stops accepting requests and waits up to grace for streams in
// flight; a second signal, or the end of grace, closes what is left.
func (s *server) shutdown(grace time.Duration) {
	if grace <= 0 {
		grace = 30 * time.Second
	}
	s.log.Info("shutting down: letting requests in flight finish", "inflight", s.gw.InflightCount(), "grace", grace)
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)
	go func() {
		select {
		case <-sig:
			s.log.Warn("second signal: closing connections now")
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("grace period over: closing the remaining connections", "inflight", s.gw.InflightCount())
		s.http.Close()
	}
}

// reloadOnHangup reloads providers, routes and prices on each signal on
// hup (SIGHUP). A bad config is rejected and the running one kept.
func (s *server) reloadOnHangup(ctx context.Context, hup chan os.Signal) {
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			s.reload(ctx)
		}
	}
}

// watchConfig reloads when the config file changes (config.Watch), until
// ctx ends. Without a config file there is nothing to watch.
func (s *server) watchConfig(ctx context.Context) {
	o := config.LoadOptions{File: s.cfg.File, DataDir: s.cfg.DataDir, Getenv: s.getenv}
	err := config.Watch(ctx, o,
		func(cfg *config.Config) { s.apply(ctx, cfg) },
		func(err error) { s.rejected(err) })
	switch {
	case errors.Is(err, config.ErrNoFile):
	case err != nil:
		s.log.Warn("not watching the config file; reload it with SIGHUP", "file", s.cfg.File, "error", err)
	}
}

// reload reloads the config file now (SIGHUP, POST /admin/reload). It
// returns why a bad file was rejected.
func (s *server) reload(ctx context.Context) error {
	cfg, err := config.Load(config.LoadOptions{File: s.cfg.File, DataDir: s.cfg.DataDir, Getenv: s.getenv})
	if err != nil {
		s.rejected(err)
		return err
	}
	return s.apply(ctx, cfg)
}

// apply switches to a loaded config's providers, routes, prices and
// limits. Requests in flight finish on the routing table they started
// with (gateway.SetTable); breakers carry over by route.
func (s *server) apply(ctx context.Context, cfg *config.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	providers, err := buildProviders(ctx, cfg, s.getenv, s.log, s.tracing.transport)
	var t *gateway.Table
	if err == nil {
		t, err = buildTable(cfg, providers)
	}
	if err != nil {
		s.rejected(err)
		return err
	}
	s.secrets.set(configSecrets(cfg, s.getenv, s.token)...)
	s.gw.SetTable(t)
	s.limitsMu.Lock()
	s.limits = cfg.Limits
	s.limitsMu.Unlock()
	s.log.Info("config reloaded", "file", s.cfg.File, "models", len(t.Models()))
	s.events.PublishMustDeliver(event.Event{Kind: event.ConfigReloaded, Reload: &event.Reload{File: s.cfg.File, OK: true}})
	return nil
}

// rejected reports a config that could not be loaded: the running one is
// kept.
func (s *server) rejected(err error) {
	s.log.Error("config reload rejected; keeping the running config", "file", s.cfg.File, "error", err)
	s.events.PublishMustDeliver(event.Event{Kind: event.ConfigReloaded, Reload: &event.Reload{File: s.cfg.File, OK: false, Error: err.Error()}})
}

// logFlushEvery bounds how long a log line waits in the buffer.
const logFlushEvery = 200 * time.Millisecond

// bufferedWriter batches writes to w, flushing every interval, when the
// buffer fills, and on Close. It is safe for concurrent use.
type bufferedWriter struct {
	mu   sync.Mutex // guards b
	b    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newBufferedWriter(w io.Writer, every time.Duration) *bufferedWriter {
	bw := &bufferedWriter{b: bufio.NewWriterSize(w, 32<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(bw.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-bw.stop:
				return
			case <-t.C:
				bw.Flush()
			}
		}
	}()
	return bw
}

func (bw *bufferedWriter) Write(p []byte) (int, error) {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	return bw.b.Write(p)
}

// Flush writes what is buffered.
func (bw *bufferedWriter) Flush() error {
	bw.mu.Lock()
	defer bw.mu.Unlock()
	return bw.b.Flush()
}

// Close stops the flusher and flushes.
func (bw *bufferedWriter) Close() error {
	select {
	case <-bw.stop:
	default:
		close(bw.stop)
		<-bw.done
	}
	return bw.Flush()
}
