package tui

import (
	"strconv"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/rickyjim626/xjp/internal/event"
)

// breakersPanel shows every route's circuit breaker: its state, the
// consecutive failures, the time until the next probe when open, and the
// error rate of the breaker's current window.
type breakersPanel struct {
	c       *common
	w, h    int
	focused bool

	rows []event.BreakerStatus
	cur  cursor
	now  time.Time // server clock at the last sync
	open int
	half int
}

var _ panel = (*breakersPanel)(nil)

func newBreakersPanel(c *common) *breakersPanel { return &breakersPanel{c: c} }

func (p *breakersPanel) sync(d *dataset) {
	p.rows = d.breakerRows(p.rows[:0])
	p.now = d.serverNow()
	p.open, p.half = 0, 0
	for _, b := range p.rows {
		switch b.State {
		case "open":
			p.open++
		case "half-open":
			p.half++
		}
	}
	p.cur.clamp(len(p.rows), p.h-1)
}

func (p *breakersPanel) Title() string { return "Breakers" }

func (p *breakersPanel) Summary() string {
	if len(p.rows) == 0 {
		return ""
	}
	s := strconv.Itoa(p.open) + " open"
	if p.half > 0 {
		s += " · " + strconv.Itoa(p.half) + " half-open"
	}
	return s + " · " + strconv.Itoa(len(p.rows)-p.open-p.half) + " closed"
}

func (p *breakersPanel) SetFocused(f bool) { p.focused = f }

func (p *breakersPanel) SetSize(w, h int) {
	p.w, p.h = w, h
	p.cur.clamp(len(p.rows), h-1)
}

// detailsBreakerMsg asks the root to show a breaker's details.
type detailsBreakerMsg struct{ b event.BreakerStatus }

func (p *breakersPanel) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	if p.cur.move(p.c.keys, k, len(p.rows), p.h-1) {
		return nil
	}
	if key.Matches(k, p.c.keys.Details) && p.cur.pos < len(p.rows) {
		b := p.rows[p.cur.pos]
		return func() tea.Msg { return detailsBreakerMsg{b} }
	}
	return nil
}

func (p *breakersPanel) ShortHelp() []key.Binding {
	return []key.Binding{p.c.keys.Up, p.c.keys.Down, p.c.keys.Details}
}

func (p *breakersPanel) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }

// stateLabel is a breaker state with a glyph, so it reads without colour.
func stateLabel(state string) string {
	switch state {
	case "open":
		return "✗ open"
	case "half-open":
		return "◐ half"
	case "closed":
		return "● closed"
	}
	return "? " + state
}

// probeIn is the time until an open breaker lets a probe through.
func probeIn(b *event.BreakerStatus, now time.Time) string {
	switch {
	case b.State == "half-open":
		return "probing"
	case b.State != "open":
		return ""
	case b.NextProbe.IsZero():
		return "?"
	}
	if d := b.NextProbe.Sub(now); d > 0 {
		return "in " + fmtDur(d.Round(time.Second))
	}
	return "now"
}

func (p *breakersPanel) View() string {
	if p.w <= 0 || p.h <= 0 {
		return ""
	}
	s := p.c.styles
	const stateW, failW, probeW, rateW = 8, 5, 8, 5
	routeW := p.w - (stateW + failW + probeW + rateW + 4)
	errW := 0
	if routeW > 60 { // wide: room for the last error
		errW = routeW - 34
		routeW = 33
	}
	line := func(route, fails, probe, rate, lastErr string) string {
		l := fit(route, routeW) + " " + fitRight(fails, failW) + " " + fitRight(probe, probeW) + " " + fitRight(rate, rateW)
		if errW > 0 {
			l += "  " + fit(lastErr, errW-1)
		}
		return l
	}
	lines := make([]string, 0, p.h)
	lines = append(lines, s.ColHeader.Render(fit(fit("STATE", stateW)+" "+line("ROUTE", "FAILS", "PROBE", "ERR%", "LAST ERROR"), p.w)))
	if len(p.rows) == 0 {
		lines = append(lines, emptyLine(s, "no routes yet", p.w))
		return block(lines, p.w, p.h)
	}
	end := min(p.cur.off+p.h-1, len(p.rows))
	for i := p.cur.off; i < end; i++ {
		b := &p.rows[i]
		rate := ""
		if b.Requests > 0 {
			rate = fmtPct(float64(b.Failures) / float64(b.Requests))
		}
		fails := strconv.Itoa(b.ConsecutiveFailures)
		rest := line(clean(b.Route), fails, probeIn(b, p.now), rate, clean(b.LastError))
		st := s.Closed
		switch b.State {
		case "open":
			st = s.Open
		case "half-open":
			st = s.HalfOpen
		}
		if p.focused && i == p.cur.pos {
			lines = append(lines, s.Selected.Render(fit(fit(stateLabel(b.State), stateW)+" "+rest, p.w)))
			continue
		}
		lines = append(lines, st.Render(fit(stateLabel(b.State), stateW))+" "+fit(rest, p.w-stateW-1))
	}
	return block(lines, p.w, p.h)
}

func (p *breakersPanel) Badge() string {
	if p.open > 0 {
		return itoa(p.open) + " open"
	}
	return ""
}
