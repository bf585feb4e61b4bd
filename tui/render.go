package tui

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
)

// Layout thresholds: below wideW×wideH the panels stack (the streams on
// top, one other panel under them, chosen with tab); at or above, they
// tile in a grid. Below minW×minH there is only a note.
const (
	wideW = 120
	wideH = 32
	minW  = 40
	minH  = 10
)

// render lays the screen out and renders it into st.frame.
func (m *Model) render() {
	r := m.st
	w, h := r.width, r.height
	if w <= 0 || h <= 0 {
		r.frame = ""
		return
	}
	if w < minW || h < minH {
		r.frame = block([]string{m.c.styles.Warn.Render(fit("terminal too small: "+itoa(w)+"×"+itoa(h), w))}, w, h)
		return
	}
	s := m.c.styles
	r.header.SetSize(w, 2)
	var b strings.Builder
	b.Grow(w * h * 2)
	b.WriteString(r.header.View())
	b.WriteByte('\n')
	bodyH := h - 3
	switch r.state {
	case stateHelp:
		b.WriteString(m.helpView(w, bodyH))
	case stateDetails:
		b.WriteString(r.details.view(s, w, bodyH))
	default:
		if w >= wideW && h >= wideH {
			b.WriteString(m.wide(w, bodyH))
		} else {
			b.WriteString(m.narrow(w, bodyH))
		}
	}
	b.WriteByte('\n')
	b.WriteString(m.footer(w))
	r.frame = b.String()
}

// box renders a panel with its title bar in w×h.
func (m *Model) box(p panel, w, h int) string {
	if h <= 0 {
		return ""
	}
	p.SetSize(w, h-1)
	title := titleBar(m.c.styles, m.st.panels[m.st.focus] == p, p.Title(), p.Summary(), w)
	if h == 1 {
		return title
	}
	return title + "\n" + p.View()
}

// beside joins two blocks of equal height with a one-cell gutter.
func beside(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var sb strings.Builder
	for i := range max(len(al), len(bl)) {
		if i > 0 {
			sb.WriteByte('\n')
		}
		if i < len(al) {
			sb.WriteString(al[i])
		}
		sb.WriteByte(' ')
		if i < len(bl) {
			sb.WriteString(bl[i])
		}
	}
	return sb.String()
}

// wide tiles the panels: streams and breakers, spend and errors, then the
// log across the bottom.
func (m *Model) wide(w, h int) string {
	r := m.st
	logH := 0
	if r.logs != nil {
		logH = max(h/5, 4)
	}
	rest := h - logH
	topH := rest * 11 / 20
	midH := rest - topH
	lw := w * 3 / 5
	mw := w / 2
	parts := []string{
		beside(m.box(r.streams, lw, topH), m.box(r.breakers, w-lw-1, topH)),
		beside(m.box(r.spend, mw, midH), m.box(r.errs, w-mw-1, midH)),
	}
	if r.logs != nil {
		parts = append(parts, m.box(r.logs, w, logH))
	}
	return strings.Join(parts, "\n")
}

// narrow stacks the streams over one other panel, chosen with tab, whose
// title bar is a row of tabs.
func (m *Model) narrow(w, h int) string {
	r := m.st
	topH := h / 2
	botH := h - topH
	second := r.panels[r.second]
	second.SetSize(w, botH-1)
	out := m.box(r.streams, w, topH) + "\n" + m.tabs(w)
	if botH > 1 {
		out += "\n" + second.View()
	}
	return out
}

// tabs is the title bar of the lower panel in the narrow layout: one tab
// per panel, the shown one highlighted, then its summary.
func (m *Model) tabs(w int) string {
	r, s := m.st, m.c.styles
	var b strings.Builder
	for i, p := range r.panels[1:] {
		i++
		label := " " + p.Title() + " "
		switch {
		case i == r.second && i == r.focus:
			b.WriteString(s.TitleFocused.Render(label))
		case i == r.second:
			b.WriteString(s.Title.Render(label))
		default:
			if badge := p.Badge(); badge != "" {
				label = " " + p.Title() + " (" + badge + ") "
			}
			b.WriteString(s.Tab.Render(label))
		}
	}
	t := b.String()
	info := r.panels[r.second].Summary()
	if rest := w - cells(t); rest > 1 {
		return t + s.TitleInfo.Render(fit(" "+info, rest))
	}
	return padLine(t, w)
}

// footer is the key help, or the filter being typed.
func (m *Model) footer(w int) string {
	r, s, k := m.st, m.c.styles, m.c.keys
	switch r.state {
	case stateFilter:
		line := s.FilterLabel.Render("/") + s.FilterText.Render(r.filterEdit) + s.FilterLabel.Render("█") +
			s.Muted.Render("  filter by model or key · enter keep · esc clear")
		return padLine(line, w)
	case stateHelp:
		return padLine(s.Muted.Render(" ? or esc: back · "+k.Quit.Help().Key+": "+k.Quit.Help().Desc), w)
	case stateDetails:
		return padLine(s.Muted.Render(" esc or enter: back · "+k.Quit.Help().Key+": "+k.Quit.Help().Desc), w)
	}
	fk := footerKey{w: w, focus: r.focus, filter: r.filter}
	if fk == r.footerKey && r.footer != "" {
		return r.footer
	}
	prefix := ""
	if r.filter != "" {
		prefix = s.FilterLabel.Render("/"+clean(r.filter)) + s.Muted.Render(" (esc clears) ")
	}
	room := max(w-cells(prefix)-1, 0)
	r.help.SetWidth(0) // we trim ourselves: help keeps an item it cannot fit an ellipsis after
	// Drop the least needed keys until the line fits; help and quit stay.
	bindings := m.ShortHelp()
	help := r.help.ShortHelpView(bindings)
	for _, drop := range [][]key.Binding{{k.Up, k.Down}, {k.Pause}, {k.Filter}, {k.Details, k.NextPanel, k.Bottom}} {
		if cells(help) <= room {
			break
		}
		bindings = slices.DeleteFunc(bindings, func(b key.Binding) bool {
			return slices.ContainsFunc(drop, func(d key.Binding) bool { return slices.Equal(d.Keys(), b.Keys()) })
		})
		help = r.help.ShortHelpView(bindings)
	}
	r.footerKey, r.footer = fk, padLine(prefix+" "+help, w)
	return r.footer
}

// footerKey is what the cached footer depends on.
type footerKey struct {
	w, focus int
	filter   string
}

// ShortHelp is the focused panel's keys, then the global ones.
func (m Model) ShortHelp() []key.Binding {
	r, k := m.st, m.c.keys
	return append(r.panels[r.focus].ShortHelp(), k.NextPanel, k.Filter, k.Pause, k.Help, k.Quit)
}

// FullHelp is every key, in groups.
func (m Model) FullHelp() [][]key.Binding {
	k := m.c.keys
	return [][]key.Binding{
		{k.NextPanel, k.PrevPanel, k.Up, k.Down, k.Top, k.Bottom},
		{k.Details, k.Back, k.Filter, k.Pause},
		{k.Help, k.Quit},
	}
}

// helpView is the full help with a legend of the colours and glyphs.
func (m *Model) helpView(w, h int) string {
	s := m.c.styles
	r := m.st
	r.help.SetWidth(w - 2)
	lines := []string{s.BoxTitle.Render(" Keys"), ""}
	for _, l := range strings.Split(r.help.FullHelpView(m.FullHelp()), "\n") {
		lines = append(lines, " "+l)
	}
	lines = append(lines, "", s.BoxTitle.Render(" Legend"), "",
		" "+s.Spinner.Render("⠋")+" in flight   "+s.OK.Render("✓ 2xx")+"   "+s.ClientErr.Render("✗ 4xx")+"   "+
			s.ServerErr.Render("✗ 5xx")+"   "+s.Canceled.Render("- 499 client went away"),
		" "+s.Closed.Render(stateLabel("closed"))+"   "+s.HalfOpen.Render(stateLabel("half-open"))+"   "+s.Open.Render(stateLabel("open"))+
			s.Muted.Render("   breaker states"),
		" "+s.Unpriced.Render("?")+s.Muted.Render(" unpriced: the model has no price, its cost is unknown"),
		" "+s.Muted.Render("p freezes the panels (the header stays live); / matches model, route or key"),
	)
	return block(lines, w, h)
}
