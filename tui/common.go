package tui

import (
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// common is what every component shares: the one Styles and the one
// KeyMap, built once by the root, and the clock.
type common struct {
	styles *styles
	keys   *keyMap
	now    func() time.Time
}

// component is a piece of the screen. Only the root model returns a
// tea.View; components render to a string of exactly their size.
type component interface {
	help.KeyMap
	// Update handles a message meant for the component (keys when it has
	// the focus) and may return a command.
	Update(msg tea.Msg) tea.Cmd
	View() string
	SetSize(width, height int)
}

// panel is a focusable component with a title bar.
type panel interface {
	component
	// Title is the panel's name; Summary a few words for its title bar
	// or its tab ("3 open").
	Title() string
	Summary() string
	// Badge is what the panel's tab says when another panel is shown in
	// its place ("" for nothing).
	Badge() string
	SetFocused(bool)
}

// cursor is a selection in a list of n rows shown h at a time.
type cursor struct {
	pos, off int
}

// clamp keeps the selection inside n rows and on screen in h lines.
func (c *cursor) clamp(n, h int) {
	c.pos = max(min(c.pos, n-1), 0)
	if h <= 0 {
		c.off = 0
		return
	}
	if c.pos < c.off {
		c.off = c.pos
	}
	if c.pos >= c.off+h {
		c.off = c.pos - h + 1
	}
	c.off = max(min(c.off, n-h), 0)
}

// move handles the navigation keys; it reports whether k was one.
func (c *cursor) move(k *keyMap, msg tea.KeyPressMsg, n, h int) bool {
	switch {
	case key.Matches(msg, k.Up):
		c.pos--
	case key.Matches(msg, k.Down):
		c.pos++
	case key.Matches(msg, k.Top):
		c.pos = 0
	case key.Matches(msg, k.Bottom):
		c.pos = n - 1
	default:
		return false
	}
	c.clamp(n, h)
	return true
}

// titleBar renders a panel's title line, w cells wide.
func titleBar(s *styles, focused bool, title, info string, w int) string {
	st := s.Title
	if focused {
		st = s.TitleFocused
	}
	t := st.Render(" " + title + " ")
	if info == "" {
		return padLine(t, w)
	}
	rest := w - cells(t)
	if rest <= 1 {
		return padLine(t, w)
	}
	return t + s.TitleInfo.Render(fit(" "+info, rest))
}

// emptyLine is the placeholder of an empty list.
func emptyLine(s *styles, msg string, w int) string {
	return s.Empty.Render(fit("  "+msg, w))
}
