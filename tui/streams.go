package tui

import (
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
)

// streamsPanel lists the requests in flight, one row each, and the last few
// that finished, coloured by status, for a few seconds.
type streamsPanel struct {
	c       *common
	w, h    int
	focused bool

	rows     []streamRow
	cur      cursor
	selID    string // the selection follows its request as rows move
	frame    int    // spinner frame
	inflight int
	done     int
	filtered bool
}

var _ panel = (*streamsPanel)(nil)

func newStreamsPanel(c *common) *streamsPanel { return &streamsPanel{c: c} }

// sync takes fresh rows from the data.
func (p *streamsPanel) sync(d *dataset, filter string, frame int) {
	p.rows = d.streamRows(p.rows[:0], filter)
	p.frame, p.filtered = frame, filter != ""
	p.inflight, p.done = 0, 0
	for i := range p.rows {
		if p.rows[i].done {
			p.done++
		} else {
			p.inflight++
		}
	}
	p.follow()
}

// follow moves the cursor to the selected request's new position.
func (p *streamsPanel) follow() {
	if p.selID != "" && (p.cur.pos >= len(p.rows) || p.rows[p.cur.pos].id != p.selID) {
		for i := range p.rows {
			if p.rows[i].id == p.selID {
				p.cur.pos = i
				break
			}
		}
	}
	p.cur.clamp(len(p.rows), p.h-1)
	p.remember()
}

func (p *streamsPanel) remember() {
	if p.cur.pos < len(p.rows) {
		p.selID = p.rows[p.cur.pos].id
	}
}

func (p *streamsPanel) Title() string { return "Streams" }

func (p *streamsPanel) Summary() string {
	s := strconv.Itoa(p.inflight) + " in flight"
	if p.done > 0 {
		s += " · " + strconv.Itoa(p.done) + " done"
	}
	if p.filtered {
		s += " · filtered"
	}
	if vis := p.h - 1; vis > 0 && len(p.rows) > vis {
		s += " · " + strconv.Itoa(p.cur.off+1) + "-" + strconv.Itoa(min(p.cur.off+vis, len(p.rows))) + " of " + strconv.Itoa(len(p.rows))
	}
	return s
}

func (p *streamsPanel) SetFocused(f bool) { p.focused = f }

func (p *streamsPanel) SetSize(w, h int) {
	p.w, p.h = w, h
	p.cur.clamp(len(p.rows), h-1)
}

// detailsReqMsg asks the root to show the details of a request by id.
type detailsReqMsg struct{ id string }

func (p *streamsPanel) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	if p.cur.move(p.c.keys, k, len(p.rows), p.h-1) {
		p.remember()
		return nil
	}
	if key.Matches(k, p.c.keys.Details) && p.cur.pos < len(p.rows) {
		id := p.rows[p.cur.pos].id
		return func() tea.Msg { return detailsReqMsg{id} }
	}
	return nil
}

func (p *streamsPanel) ShortHelp() []key.Binding {
	return []key.Binding{p.c.keys.Up, p.c.keys.Down, p.c.keys.Details}
}

func (p *streamsPanel) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.c.keys.Up, p.c.keys.Down, p.c.keys.Top, p.c.keys.Bottom, p.c.keys.Details}}
}

// streamCols are the column widths for a panel width; 0 hides a column.
type streamCols struct{ key, route, elapsed, ttft, tokens, tps, status int }

func streamColumns(w int) streamCols {
	c := streamCols{key: max(min(w/8, 16), 6), elapsed: 7, ttft: 6, tokens: 7, tps: 6, status: 3}
	if w < 72 {
		c.ttft = 0
	}
	if w < 60 {
		c.tps = 0
	}
	fixed := 2 + c.key + 1 + c.elapsed + 1 + c.tokens + 1 + c.status
	if c.ttft > 0 {
		fixed += c.ttft + 1
	}
	if c.tps > 0 {
		fixed += c.tps + 1
	}
	c.route = max(w-fixed-1, 8)
	return c
}

// line lays out the cells after the two-cell glyph column.
func (c streamCols) line(key, route, elapsed, ttft, tokens, tps, status string) string {
	s := fit(key, c.key) + " " + fit(route, c.route) + " " + fitRight(elapsed, c.elapsed)
	if c.ttft > 0 {
		s += " " + fitRight(ttft, c.ttft)
	}
	s += " " + fitRight(tokens, c.tokens)
	if c.tps > 0 {
		s += " " + fitRight(tps, c.tps)
	}
	return s + " " + fitRight(status, c.status)
}

func (p *streamsPanel) View() string {
	if p.w <= 0 || p.h <= 0 {
		return ""
	}
	s := p.c.styles
	cols := streamColumns(p.w)
	lines := make([]string, 0, p.h)
	lines = append(lines, s.ColHeader.Render(fit("  "+cols.line("KEY", "MODEL → ROUTE", "ELAPSED", "TTFT", "TOKENS", "TOK/S", "ST"), p.w)))
	if len(p.rows) == 0 {
		msg := "no requests in flight"
		if p.filtered {
			msg = "no requests match the filter"
		}
		lines = append(lines, emptyLine(s, msg, p.w))
		return block(lines, p.w, p.h)
	}
	end := min(p.cur.off+p.h-1, len(p.rows))
	for i := p.cur.off; i < end; i++ {
		r := &p.rows[i]
		route := modelRoute(r, cols.route)
		ttft, tps, status := "", "", ""
		if r.ttft > 0 {
			ttft = fmtDur(r.ttft)
		}
		if r.tps > 0 {
			tps = fmtRate(r.tps)
		}
		glyph := spinner.MiniDot.Frames[(p.frame+i)%len(spinner.MiniDot.Frames)]
		if r.done {
			status = strconv.Itoa(r.status)
			glyph = "✓"
			switch {
			case r.status == 499:
				glyph = "-"
			case r.failed:
				glyph = "✗"
			}
		}
		text := fit(cols.line(clean(r.key), clean(route), fmtDur(r.elapsed.Round(100*time.Millisecond)), ttft, fmtCount(r.tokens), tps, status), p.w-2)
		switch {
		case p.focused && i == p.cur.pos:
			lines = append(lines, s.Selected.Render(glyph+" "+text))
		case r.done:
			lines = append(lines, s.status(r.status).Render(glyph+" "+text))
		default:
			lines = append(lines, s.Spinner.Render(glyph)+" "+text)
		}
	}
	return block(lines, p.w, p.h)
}

func (p *streamsPanel) Badge() string { return itoa(p.inflight) }

// modelRoute is "model → provider/upstream" in w cells. When that is too
// long and the upstream model just repeats the model's name, the upstream
// part is left out ("model → provider"), before truncating.
func modelRoute(r *streamRow, w int) string {
	if r.route == "" {
		return r.model
	}
	s := r.model + " → " + r.route
	if cells(s) <= w {
		return s
	}
	provider, upstream, _ := strings.Cut(r.route, "/")
	if upstream == r.model || strings.HasSuffix(upstream, "/"+r.model) {
		return r.model + " → " + provider
	}
	return s
}
