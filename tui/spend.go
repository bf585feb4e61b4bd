package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// spendPanel shows today's tokens and cost by model and by key, and a
// sparkline of tokens per minute over the last hour. Models without a
// price are flagged: their cost is unknown, not zero.
type spendPanel struct {
	c       *common
	w, h    int
	focused bool

	v        spendView
	seq      uint64 // the data's spendSeq at the last sync
	minute   int64
	filter   string
	cur      cursor // over the by-model rows
	unpriced bool
}

var _ panel = (*spendPanel)(nil)

func newSpendPanel(c *common) *spendPanel { return &spendPanel{c: c, seq: ^uint64(0)} }

func (p *spendPanel) sync(d *dataset, filter string) {
	minute := d.now().Unix() / 60
	if d.spendSeq == p.seq && filter == p.filter && minute == p.minute {
		return // nothing changed: skip the aggregation
	}
	p.seq, p.filter, p.minute = d.spendSeq, filter, minute
	p.v = d.spendView(filter)
	p.unpriced = false
	for _, r := range p.v.byModel {
		if r.unpriced > 0 {
			p.unpriced = true
		}
	}
	p.cur.clamp(len(p.v.byModel), p.modelRows())
}

func (p *spendPanel) Title() string { return "Spend" }

func (p *spendPanel) Summary() string {
	t := &p.v.total
	if t.requests == 0 && t.cost == 0 {
		return ""
	}
	s := "today " + fmtCost(t.cost)
	if t.unpriced > 0 {
		s += "+?"
	}
	return s + " · " + fmtCount(t.in+t.out+t.cache) + " tokens"
}

func (p *spendPanel) SetFocused(f bool) { p.focused = f }

func (p *spendPanel) SetSize(w, h int) {
	p.w, p.h = w, h
	p.cur.clamp(len(p.v.byModel), p.modelRows())
}

func (p *spendPanel) Update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		p.cur.move(p.c.keys, k, len(p.v.byModel), p.modelRows())
	}
	return nil
}

func (p *spendPanel) ShortHelp() []key.Binding {
	return []key.Binding{p.c.keys.Up, p.c.keys.Down}
}

func (p *spendPanel) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }

// sideBySide reports whether the model and key tables fit next to each other.
func (p *spendPanel) sideBySide() bool { return p.w >= 100 }

// tableRows is how many rows the model table and the key table show.
func (p *spendPanel) tableRows() (models, keys int) {
	rest := p.h - 2 // the sparkline and the totals
	if p.unpriced {
		rest-- // the legend
	}
	if p.sideBySide() {
		return max(rest-1, 0), max(rest-1, 0)
	}
	if rest < 5 { // no room for two tables: models only
		return max(rest-1, 0), -1
	}
	wantM, wantK := max(len(p.v.byModel), 1), max(len(p.v.byKey), 1)
	if wantM+wantK+2 <= rest {
		return wantM, rest - 2 - wantM // the keys table takes what is left
	}
	keys = min(wantK, max((rest-2)/2, 1))
	return rest - 2 - keys, keys
}

// modelRows is how many by-model rows are visible.
func (p *spendPanel) modelRows() int {
	m, _ := p.tableRows()
	return m
}

// spendTable renders rows as a table w wide: name, requests, in, out,
// cache, cost.
func (p *spendPanel) spendTable(title string, rows []spendRow, c *cursor, n, w int) []string {
	s := p.c.styles
	const numW, costW = 6, 9
	nameW := max(w-(numW*4+costW+5), 6)
	line := func(name, req, in, out, cache, cost string) string {
		return fit(name, nameW) + " " + fitRight(req, numW) + " " + fitRight(in, numW) + " " +
			fitRight(out, numW) + " " + fitRight(cache, numW) + " " + fitRight(cost, costW)
	}
	lines := []string{s.ColHeader.Render(fit(line(title, "REQ", "IN", "OUT", "CACHE", "COST"), w))}
	if len(rows) == 0 {
		return append(lines, emptyLine(s, "nothing spent yet", w))
	}
	off := 0
	if c != nil {
		off = c.off
	}
	for i := off; i < min(off+n, len(rows)); i++ {
		r := &rows[i]
		cost := fmtCost(r.cost)
		costSt := s.Money
		switch {
		case r.unpriced > 0 && r.unpriced == r.requests:
			cost, costSt = "unpriced", s.Unpriced
		case r.unpriced > 0:
			cost += "?"
			costSt = s.Unpriced
		}
		text := fit(clean(r.name), nameW) + " " + fitRight(fmtCount(r.requests), numW) + " " + fitRight(fmtCount(r.in), numW) + " " +
			fitRight(fmtCount(r.out), numW) + " " + fitRight(fmtCount(r.cache), numW) + " "
		if c != nil && p.focused && i == c.pos {
			lines = append(lines, s.Selected.Render(fit(text+fitRight(cost, costW), w)))
			continue
		}
		lines = append(lines, text+costSt.Render(fitRight(cost, costW)))
	}
	return lines
}

func (p *spendPanel) View() string {
	if p.w <= 0 || p.h <= 0 {
		return ""
	}
	s := p.c.styles
	lines := make([]string, 0, p.h)

	// Sparkline of tokens per minute over the last hour.
	var peak int64
	for _, v := range p.v.perMin {
		peak = max(peak, v)
	}
	label, tail := "tok/min ", " peak "+fmtCount(peak)
	sw := min(p.w-len(label)-len(tail), sparkMins)
	spark := ""
	if sw > 0 {
		spark = s.Spark.Render(fitRight(sparkline(p.v.perMin, sw), sw))
	}
	lines = append(lines, s.Label.Render(label)+spark+s.Muted.Render(tail))

	t := &p.v.total
	total := "in " + fmtCount(t.in) + "  out " + fmtCount(t.out) + "  cache " + fmtCount(t.cache) +
		"  req " + fmtCount(t.requests)
	if t.errors > 0 {
		total += "  err " + fmtCount(t.errors)
	}
	lines = append(lines, s.Label.Render(fit(total, max(p.w-12, 0)))+s.Money.Render(fitRight(fmtCost(t.cost), min(12, p.w))))

	nm, nk := p.tableRows()
	if p.sideBySide() {
		lw := (p.w - 2) / 2
		left := p.spendTable("MODEL", p.v.byModel, &p.cur, nm, lw)
		right := p.spendTable("KEY", p.v.byKey, nil, nk, p.w-lw-2)
		for i := range max(len(left), len(right)) {
			l, r := "", ""
			if i < len(left) {
				l = left[i]
			}
			if i < len(right) {
				r = right[i]
			}
			lines = append(lines, padLine(l, lw)+"  "+r)
		}
	} else {
		lines = append(lines, p.spendTable("MODEL", p.v.byModel, &p.cur, nm, p.w)...)
		if nk >= 0 {
			for len(lines) < 2+1+nm { // the model table keeps its height
				lines = append(lines, "")
			}
			lines = append(lines, p.spendTable("KEY", p.v.byKey, nil, nk, p.w)...)
		}
	}
	if p.unpriced && p.h >= 4 {
		if len(lines) > p.h-1 {
			lines = lines[:p.h-1]
		}
		for len(lines) < p.h-1 {
			lines = append(lines, "")
		}
		lines = append(lines, s.Unpriced.Render(fit("? unpriced: no price configured, cost unknown", p.w)))
	}
	return block(lines, p.w, p.h)
}

func (p *spendPanel) Badge() string {
	if p.v.total.cost == 0 {
		return ""
	}
	return fmtCost(p.v.total.cost)
}
