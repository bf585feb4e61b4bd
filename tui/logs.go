package tui

import (
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// logKeep is how many lines the log panel copies from the buffer.
const logKeep = 500

// logsPanel shows the gateway's log lines, newest at the bottom. It follows
// new lines unless scrolled up.
type logsPanel struct {
	c       *common
	w, h    int
	focused bool

	buf   *LogBuffer
	seq   uint64
	lines []string
	back  int // lines scrolled up from the bottom; 0 follows
}

var _ panel = (*logsPanel)(nil)

func newLogsPanel(c *common, buf *LogBuffer) *logsPanel {
	return &logsPanel{c: c, buf: buf, seq: ^uint64(0)}
}

// sync copies the buffer's lines when new ones arrived.
func (p *logsPanel) sync() {
	seq := p.buf.Seq()
	if seq == p.seq {
		return
	}
	if p.back > 0 && p.seq != ^uint64(0) { // keep the view still while scrolled up
		p.back += int(seq - p.seq)
	}
	p.seq = seq
	p.lines = p.buf.Lines(logKeep)
	p.clamp()
}

func (p *logsPanel) clamp() { p.back = max(min(p.back, len(p.lines)-p.h), 0) }

func (p *logsPanel) Title() string { return "Logs" }

func (p *logsPanel) Summary() string {
	if p.back > 0 {
		return strconv.Itoa(p.back) + " lines up · G follows"
	}
	return ""
}

func (p *logsPanel) SetFocused(f bool) { p.focused = f }

func (p *logsPanel) SetSize(w, h int) {
	p.w, p.h = w, h
	p.clamp()
}

func (p *logsPanel) Update(msg tea.Msg) tea.Cmd {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(k, p.c.keys.Up):
		p.back++
	case key.Matches(k, p.c.keys.Down):
		p.back--
	case key.Matches(k, p.c.keys.Top):
		p.back = len(p.lines)
	case key.Matches(k, p.c.keys.Bottom):
		p.back = 0
	}
	p.clamp()
	return nil
}

func (p *logsPanel) ShortHelp() []key.Binding {
	return []key.Binding{p.c.keys.Up, p.c.keys.Down, p.c.keys.Bottom}
}

func (p *logsPanel) FullHelp() [][]key.Binding {
	return [][]key.Binding{{p.c.keys.Up, p.c.keys.Down, p.c.keys.Top, p.c.keys.Bottom}}
}

func (p *logsPanel) View() string {
	if p.w <= 0 || p.h <= 0 {
		return ""
	}
	s := p.c.styles
	if len(p.lines) == 0 {
		return block([]string{emptyLine(s, "no log lines yet", p.w)}, p.w, p.h)
	}
	end := len(p.lines) - p.back
	start := max(end-p.h, 0)
	lines := make([]string, 0, p.h)
	for _, l := range p.lines[start:end] {
		text := fit(clean(l), p.w)
		switch {
		case strings.Contains(l, "level=ERROR") || strings.Contains(l, " ERROR "):
			text = s.LogError.Render(text)
		case strings.Contains(l, "level=WARN") || strings.Contains(l, " WARN "):
			text = s.LogWarn.Render(text)
		}
		lines = append(lines, text)
	}
	return block(lines, p.w, p.h)
}

func (p *logsPanel) Badge() string { return "" }
