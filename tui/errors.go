package tui

import (
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// errorsPanel lists the recent errors, newest first; Enter shows one in
// full.
type errorsPanel struct {
	c       *common
	w, h    int
	focused bool

	rows     []errRow
	cur      cursor
	total    int
	filtered bool
}

var _ panel = (*errorsPanel)(nil)

func newErrorsPanel(c *common) *errorsPanel { return &errorsPanel{c: c} }

func (p *errorsPanel) sync(d *dataset, filter string) {
	p.rows = d.errorRows(p.rows[:0], filter)
	p.total, p.filtered = len(d.errs), filter != ""
	p.cur.clamp(len(p.rows), p.h-1)
}

func (p *errorsPanel) Title() string { return "Errors" }

func (p *errorsPanel) Summary() string {
	if p.filtered {
		return strconv.Itoa(len(p.rows)) + " of " + strconv.Itoa(p.total)
	}
	if p.total == 0 {
		return ""
	}
	return strconv.Itoa(p.total) + " recent"
}

func (p *errorsPanel) SetFocused(f bool) { p.focused = f }

func (p *errorsPanel) SetSize(w, h int) {
	p.w, p.h = w, h
	p.cur.clamp(len(p.rows), h-1)
}

// detailsErrMsg asks the root to show an error in full.
type detailsErrMsg struct{ e errRow }

func (p *errorsPanel) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	if p.cur.move(p.c.keys, k, len(p.rows), p.h-1) {
		return nil
	}
	if key.Matches(k, p.c.keys.Details) && p.cur.pos < len(p.rows) {
		e := p.rows[p.cur.pos]
		return func() tea.Msg { return detailsErrMsg{e} }
	}
	return nil
}

func (p *errorsPanel) ShortHelp() []key.Binding {
	return []key.Binding{p.c.keys.Up, p.c.keys.Down, p.c.keys.Details}
}

func (p *errorsPanel) FullHelp() [][]key.Binding { return [][]key.Binding{p.ShortHelp()} }

// errorText is what an error row says: model, route, status and message.
func errorText(e *errRow) (model, route, status, msg string) {
	if e.reload != nil {
		return "config", e.reload.File, "", e.reload.Error
	}
	r := &e.r
	msg = r.ErrorMessage
	if msg == "" {
		msg = string(r.ErrorKind)
	}
	if r.Status > 0 {
		status = strconv.Itoa(r.Status)
	}
	return r.Model, routeLabel(r), status, msg
}

func (p *errorsPanel) View() string {
	if p.w <= 0 || p.h <= 0 {
		return ""
	}
	s := p.c.styles
	const timeW, statusW = 8, 3
	modelW := max(min(p.w/6, 24), 8)
	routeW := max(min(p.w/5, 32), 8)
	msgW := max(p.w-(timeW+statusW+modelW+routeW+4), 4)
	line := func(t, status, model, route, msg string) string {
		return fit(t, timeW) + " " + fitRight(status, statusW) + " " + fit(model, modelW) + " " + fit(route, routeW) + " " + fit(msg, msgW)
	}
	lines := make([]string, 0, p.h)
	lines = append(lines, s.ColHeader.Render(fit(line("TIME", "ST", "MODEL", "ROUTE", "MESSAGE"), p.w)))
	if len(p.rows) == 0 {
		msg := "no errors"
		if p.filtered {
			msg = "no errors match the filter"
		}
		lines = append(lines, emptyLine(s, msg, p.w))
		return block(lines, p.w, p.h)
	}
	end := min(p.cur.off+p.h-1, len(p.rows))
	for i := p.cur.off; i < end; i++ {
		e := &p.rows[i]
		model, route, status, msg := errorText(e)
		t := e.at.In(p.c.now().Location()).Format("15:04:05")
		if p.focused && i == p.cur.pos {
			lines = append(lines, s.Selected.Render(fit(line(t, status, clean(model), clean(route), clean(msg)), p.w)))
			continue
		}
		st := s.ServerErr
		if e.reload == nil {
			st = s.status(e.r.Status)
		}
		l := s.Time.Render(fit(t, timeW)) + " " + st.Render(fitRight(status, statusW)) + " " +
			fit(clean(model), modelW) + " " + fit(clean(route), routeW) + " " + s.ErrorMsg.Render(fit(clean(msg), msgW))
		lines = append(lines, l)
	}
	return block(lines, p.w, p.h)
}

func (p *errorsPanel) Badge() string {
	if p.total == 0 {
		return ""
	}
	return itoa(p.total)
}
