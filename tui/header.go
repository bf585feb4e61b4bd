package tui

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
)

// headerBar is the two lines at the top: who and where (version, listen
// address, uptime) and how it goes (requests/s, in flight, error rate,
// tokens/s, today's cost), with badges for a paused view or a remote
// gateway and the latest notice.
type headerBar struct {
	c      *common
	w      int
	info   headerInfo
	title  string
	remote bool
	paused bool
}

var _ component = (*headerBar)(nil)

func newHeaderBar(c *common, title string, remote bool) *headerBar {
	return &headerBar{c: c, title: title, remote: remote}
}

func (h *headerBar) sync(d *dataset, paused bool) {
	h.info, h.paused = d.headerInfo(), paused
}

func (h *headerBar) SetSize(w, _ int) { h.w = w }

func (h *headerBar) Update(tea.Msg) tea.Cmd { return nil }

func (h *headerBar) ShortHelp() []key.Binding { return nil }

func (h *headerBar) FullHelp() [][]key.Binding { return nil }

func (h *headerBar) View() string {
	if h.w <= 0 {
		return ""
	}
	s := h.c.styles
	i := &h.info
	kv := func(label, value string) string {
		return s.HeaderLabel.Render(label+" ") + s.HeaderValue.Render(value)
	}
	sep := s.HeaderLabel.Render(" · ")

	left := s.AppName.Render(h.title)
	if i.version != "" {
		left += " " + s.HeaderLabel.Render(i.version)
	}
	if i.listen != "" {
		left += sep + s.HeaderValue.Render(clean(i.listen))
	}
	if i.uptime > 0 {
		left += sep + kv("up", fmtDur(i.uptime))
	}
	right := ""
	switch {
	case i.srcErr != "":
		right = s.Warn.Render("⚠ " + i.srcErr)
	case i.notice != "" && i.noticeOK:
		right = s.Notice.Render("✓ " + i.notice)
	case i.notice != "":
		right = s.Warn.Render("⚠ " + i.notice)
	}
	if h.remote {
		right += " " + s.Remote.Render("REMOTE")
	}
	if h.paused {
		right += " " + s.Paused.Render("PAUSED")
	}
	line1 := spread(left, right, h.w)

	errs := kv("errors", fmtPct(i.errRate))
	if i.errRate >= 0.05 {
		errs = s.HeaderLabel.Render("errors ") + s.ServerErr.Render(fmtPct(i.errRate))
	}
	stats := kv("req/s", fmtRate(i.reqRate)) + sep + kv("in flight", itoa(i.inflight)) + sep +
		errs + sep + kv("tok/s", fmtRate(i.tokRate))
	if h.w >= 72 {
		stats += sep + kv("today", fmtCost(i.costToday))
	}
	if i.dropped > 0 {
		stats += sep + s.Warn.Render("dropped "+fmtCount(i.dropped))
	}
	return line1 + "\n" + padLine(stats, h.w)
}

// spread puts left and right on one line w wide, truncating left first.
func spread(left, right string, w int) string {
	rw := cells(right)
	if rw >= w {
		return padLine(right, w)
	}
	left = padLine(left, w-rw)
	return left + right
}
