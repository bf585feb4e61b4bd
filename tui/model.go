// Package tui is xjp's live terminal dashboard, a Bubble Tea v2 program.
//
// It shows the gateway as it works: a header with rates, the streams in
// flight (and those that just finished), every route's circuit breaker,
// today's spend by model and by key with a tokens-per-minute sparkline, the
// recent errors and the log. Its data comes only from a Source: events as
// they happen and a periodic status snapshot, either in-process
// (BrokerSource over the server's event broker) or from a remote server's
// admin API. It imports no gateway, store or ingress.
//
// Events enter the program in one place, a forwarding goroutine calling
// Program.Send (Run starts it). Update folds each event into the data in
// constant time and renders nothing; the screen is rendered on a 10 Hz tick
// (and on keys and resizes), so a flood of events never costs more than
// folding. Every other I/O (the snapshots) runs in tea.Cmd closures.
package tui

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"github.com/rickyjim626/xjp/internal/event"
)

// Timing of the program.
const (
	frameEvery   = 100 * time.Millisecond // repaint tick: 10 Hz
	refreshEvery = 3 * time.Second        // status snapshot (spend, breakers)
	refreshSoon  = time.Second            // snapshot after a breaker changed, at most this often
	fetchTimeout = 5 * time.Second
)

// Options configure the dashboard. The zero value works.
type Options struct {
	// Logs holds the log lines to show in the log panel; nil: no panel.
	Logs *LogBuffer
	// Now is the clock; nil means time.Now. Tests fix it.
	Now func() time.Time
	// Remote is set when attached to a remote server: q detaches instead
	// of stopping it, and the header says REMOTE.
	Remote bool
	// Title is the name in the header; "" means "xjp".
	Title string

	// Input and Output replace the terminal (tests); nil means stdin and
	// stdout.
	Input  io.Reader
	Output io.Writer
	// ColorProfile forces a colour profile (for example colorprofile.Ascii
	// for no colour); nil detects it from the terminal and environment.
	ColorProfile *colorprofile.Profile
}

// viewState is what the root model shows and where keys go.
type viewState int

const (
	stateDashboard viewState = iota // the panels; keys go to the focused one
	stateFilter                     // typing a filter in the footer
	stateHelp                       // the full key help
	stateDetails                    // one request, error or breaker in full
)

// Messages of the root model.
type (
	tickMsg     time.Time
	snapshotMsg struct {
		s   event.Snapshot
		err error
	}
)

// Model is the dashboard's root Bubble Tea model. Build it with NewModel;
// Run runs it. It is a value, as Bubble Tea wants, whose state lives behind
// pointers, so copies share it.
type Model struct {
	c    *common
	src  Source
	opts Options
	ctx  context.Context // ends snapshot fetches when Run returns
	data *dataset
	// st is the mutable part of the root itself.
	st *rootState
}

// rootState is the root model's own state.
type rootState struct {
	state  viewState
	width  int
	height int

	header   *headerBar
	streams  *streamsPanel
	breakers *breakersPanel
	spend    *spendPanel
	errs     *errorsPanel
	logs     *logsPanel // nil without Options.Logs
	panels   []panel    // in focus order
	focus    int        // index in panels
	second   int        // the panel under the streams in the narrow layout
	help     help.Model
	details  details

	filter     string // lower case; "" shows everything
	filterEdit string // the filter being typed
	paused     bool

	frames    int // ticks so far (drives the spinners)
	fetching  bool
	lastFetch time.Time // local clock
	wantFetch bool      // a breaker changed: refresh soon

	frame     string    // the rendered screen, returned by View
	footer    string    // the cached footer in the dashboard state
	footerKey footerKey // and what it was rendered for
}

// NewModel returns the root model for src. Run calls it; tests use it
// directly.
func NewModel(src Source, o Options) Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Title == "" {
		o.Title = "xjp"
	}
	c := &common{styles: newStyles(true), keys: newKeyMap(o.Remote), now: o.Now}
	r := &rootState{fetching: true, help: help.New()}
	r.help.Styles = c.styles.Help
	r.header = newHeaderBar(c, o.Title, o.Remote)
	r.streams = newStreamsPanel(c)
	r.breakers = newBreakersPanel(c)
	r.spend = newSpendPanel(c)
	r.errs = newErrorsPanel(c)
	r.panels = []panel{r.streams, r.breakers, r.spend, r.errs}
	if o.Logs != nil {
		r.logs = newLogsPanel(c, o.Logs)
		r.panels = append(r.panels, r.logs)
	}
	r.second = 1
	r.streams.SetFocused(true)
	m := Model{c: c, src: src, opts: o, ctx: context.Background(), data: newDataset(o.Now), st: r}
	m.sync()
	return m
}

// Init asks for the terminal's background, the first snapshot and the
// first tick.
func (m Model) Init() tea.Cmd {
	return tea.Batch(tea.RequestBackgroundColor, m.fetch(), tick())
}

func tick() tea.Cmd {
	return tea.Tick(frameEvery, func(t time.Time) tea.Msg { return tickMsg(t) })
}

// fetch gets a snapshot in a command.
func (m Model) fetch() tea.Cmd {
	src, ctx := m.src, m.ctx
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
		defer cancel()
		s, err := src.Snapshot(ctx)
		return snapshotMsg{s, err}
	}
}

// Update folds events, handles keys and repaints on the tick.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	r := m.st
	switch msg := msg.(type) {
	case eventMsg:
		// The hot path: fold and return. No rendering here.
		ev := event.Event(msg)
		m.data.fold(ev)
		if ev.Kind == event.BreakerChanged {
			r.wantFetch = true // learn the probe time and failure counts
		}
		return m, nil

	case tickMsg:
		r.frames++
		m.data.prune()
		var cmd tea.Cmd
		now := m.data.now()
		if !r.fetching && (now.Sub(r.lastFetch) >= refreshEvery || r.wantFetch && now.Sub(r.lastFetch) >= refreshSoon) {
			r.fetching, r.wantFetch = true, false
			cmd = m.fetch()
		}
		if !r.paused {
			m.sync()
		} else {
			r.header.sync(m.data, true)
		}
		m.render()
		return m, tea.Batch(tick(), cmd)

	case snapshotMsg:
		r.fetching, r.lastFetch = false, m.data.now()
		if msg.err != nil {
			if !errors.Is(msg.err, context.Canceled) {
				m.data.sourceFailed(msg.err)
			}
			return m, nil
		}
		m.data.applySnapshot(msg.s)
		return m, nil

	case sourceErrMsg:
		m.data.sourceFailed(msg.err)
		return m, nil

	case tea.WindowSizeMsg:
		r.width, r.height = msg.Width, msg.Height
		m.render()
		return m, nil

	case tea.BackgroundColorMsg:
		*m.c.styles = *newStyles(msg.IsDark())
		r.help.Styles = m.c.styles.Help
		r.footer = ""
		m.render()
		return m, nil

	case detailsReqMsg:
		if req, ok := m.data.lookup(msg.id); ok {
			r.details = requestDetails(&req, m.data.now().Location())
			r.state = stateDetails
			m.render()
		}
		return m, nil

	case detailsErrMsg:
		if msg.e.reload != nil {
			r.details = reloadDetails(msg.e.reload, msg.e.at, m.data.now().Location())
		} else {
			r.details = requestDetails(&msg.e.r, m.data.now().Location())
		}
		r.state = stateDetails
		m.render()
		return m, nil

	case detailsBreakerMsg:
		r.details = breakerDetails(&msg.b, m.data.serverNow(), m.data.now().Location())
		r.state = stateDetails
		m.render()
		return m, nil

	case tea.KeyPressMsg:
		cmd := m.key(msg)
		m.render()
		return m, cmd
	}
	return m, nil
}

// key handles a key press according to the state.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	r, k := m.st, m.c.keys
	if msg.String() == "ctrl+c" {
		return tea.Quit
	}
	switch r.state {
	case stateFilter:
		switch msg.String() {
		case "esc":
			r.filterEdit, r.state = "", stateDashboard
		case "enter":
			r.state = stateDashboard
		case "backspace":
			if rs := []rune(r.filterEdit); len(rs) > 0 {
				r.filterEdit = string(rs[:len(rs)-1])
			}
		case "ctrl+u":
			r.filterEdit = ""
		default:
			if msg.Text != "" {
				r.filterEdit += msg.Text
			}
		}
		m.setFilter(r.filterEdit)
		return nil

	case stateHelp:
		switch {
		case key.Matches(msg, k.Quit):
			return tea.Quit
		case key.Matches(msg, k.Help, k.Back):
			r.state = stateDashboard
		}
		return nil

	case stateDetails:
		switch {
		case key.Matches(msg, k.Quit):
			return tea.Quit
		case key.Matches(msg, k.Back, k.Details), msg.String() == "backspace":
			r.state = stateDashboard
		}
		return nil
	}

	switch {
	case key.Matches(msg, k.Quit):
		return tea.Quit
	case key.Matches(msg, k.NextPanel):
		m.setFocus((r.focus + 1) % len(r.panels))
	case key.Matches(msg, k.PrevPanel):
		m.setFocus((r.focus + len(r.panels) - 1) % len(r.panels))
	case key.Matches(msg, k.Filter):
		r.state, r.filterEdit = stateFilter, r.filter
	case key.Matches(msg, k.Pause):
		r.paused = !r.paused
		if !r.paused {
			m.sync()
		}
		r.header.sync(m.data, r.paused)
	case key.Matches(msg, k.Help):
		r.state = stateHelp
	case key.Matches(msg, k.Back) && r.filter != "":
		m.setFilter("")
	default:
		return r.panels[r.focus].Update(msg)
	}
	return nil
}

func (m *Model) setFocus(i int) {
	r := m.st
	r.panels[r.focus].SetFocused(false)
	r.focus = i
	r.panels[i].SetFocused(true)
	if i != 0 {
		r.second = i
	}
}

func (m *Model) setFilter(f string) {
	f = strings.ToLower(strings.TrimSpace(f))
	if f == m.st.filter {
		return
	}
	m.st.filter = f
	m.sync() // filtering applies at once, paused or not
}

// sync refreshes every panel from the data.
func (m *Model) sync() {
	r := m.st
	r.header.sync(m.data, r.paused)
	r.streams.sync(m.data, r.filter, r.frames)
	r.breakers.sync(m.data)
	r.spend.sync(m.data, r.filter)
	r.errs.sync(m.data, r.filter)
	if r.logs != nil {
		r.logs.sync()
	}
}

// View returns the screen rendered at the last tick, key or resize.
func (m Model) View() tea.View {
	v := tea.NewView(m.st.frame)
	v.AltScreen = true
	v.WindowTitle = m.opts.Title
	return v
}

// Run runs the dashboard on the terminal until the user quits (q or
// Ctrl-C) or ctx ends, then restores the terminal and returns; the caller
// then stops the gateway (or, attached to a remote one, just exits). It
// starts the one goroutine that forwards the source's events into the
// program and waits for it before returning.
func Run(ctx context.Context, src Source, o Options) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := NewModel(src, o)
	m.ctx = runCtx
	opts := []tea.ProgramOption{tea.WithContext(runCtx)}
	if o.Input != nil {
		opts = append(opts, tea.WithInput(o.Input))
	}
	if o.Output != nil {
		opts = append(opts, tea.WithOutput(o.Output))
	}
	if o.ColorProfile != nil {
		opts = append(opts, tea.WithColorProfile(*o.ColorProfile))
	}
	p := tea.NewProgram(m, opts...)

	var wg sync.WaitGroup
	wg.Go(func() { forward(runCtx, src, p) })
	_, err := p.Run()
	cancel()
	wg.Wait()
	switch {
	case errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil:
		return nil // ctx ended: a normal way out
	case errors.Is(err, tea.ErrInterrupted):
		return nil // SIGINT: the same as ctrl+c
	}
	return err
}
