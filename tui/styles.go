package tui

import (
	"charm.land/bubbles/v2/help"
	"charm.land/lipgloss/v2"
)

// styles is the dashboard's one set of styles. It is built once, when the
// program starts and again if the terminal reports a light background, and
// reached through common; View functions only use it, never build styles.
// Colours are plain lipgloss colours: on terminals without colour support
// Bubble Tea's renderer downsamples or drops them, so every state also has
// a glyph or a word that tells it apart.
type styles struct {
	// Header.
	AppName     lipgloss.Style
	HeaderLabel lipgloss.Style
	HeaderValue lipgloss.Style
	Paused      lipgloss.Style // the PAUSED badge
	Remote      lipgloss.Style // the REMOTE badge
	Notice      lipgloss.Style // transient notices (reload ok)
	Warn        lipgloss.Style // warnings (source errors, drops, rejected reload)

	// Panels.
	Title        lipgloss.Style // a panel's title bar
	TitleFocused lipgloss.Style // the focused panel's title bar
	TitleInfo    lipgloss.Style // the summary after a title
	Tab          lipgloss.Style // a tab of a panel not shown, in the narrow layout
	ColHeader    lipgloss.Style // table column headers
	Selected     lipgloss.Style // the cursor row of the focused panel
	Muted        lipgloss.Style
	Empty        lipgloss.Style // "no streams" and similar

	// Requests.
	Spinner   lipgloss.Style
	OK        lipgloss.Style // 2xx
	ClientErr lipgloss.Style // 4xx
	ServerErr lipgloss.Style // 5xx
	Canceled  lipgloss.Style // 499

	// Breakers.
	Closed   lipgloss.Style
	HalfOpen lipgloss.Style
	Open     lipgloss.Style

	// Spend.
	Spark    lipgloss.Style
	Money    lipgloss.Style
	Unpriced lipgloss.Style

	// Errors and logs.
	Time     lipgloss.Style
	ErrorMsg lipgloss.Style
	LogWarn  lipgloss.Style
	LogError lipgloss.Style

	// Overlays and footer.
	Box         lipgloss.Style // details and help box
	BoxTitle    lipgloss.Style
	Label       lipgloss.Style
	FilterLabel lipgloss.Style
	FilterText  lipgloss.Style
	Help        help.Styles
}

// newStyles builds the styles for a dark or a light background.
func newStyles(dark bool) *styles {
	ld := lipgloss.LightDark(dark)
	var (
		fg      = ld(lipgloss.Color("#1f2328"), lipgloss.Color("#e6edf3"))
		muted   = ld(lipgloss.Color("#6e7781"), lipgloss.Color("#8b949e"))
		faint   = ld(lipgloss.Color("#8c959f"), lipgloss.Color("#6e7681"))
		accent  = ld(lipgloss.Color("#8250df"), lipgloss.Color("#b392f0"))
		barBg   = ld(lipgloss.Color("#eaeef2"), lipgloss.Color("#21262d"))
		selBg   = ld(lipgloss.Color("#ddf4ff"), lipgloss.Color("#1f3a5f"))
		green   = ld(lipgloss.Color("#1a7f37"), lipgloss.Color("#3fb950"))
		yellow  = ld(lipgloss.Color("#9a6700"), lipgloss.Color("#d29922"))
		red     = ld(lipgloss.Color("#cf222e"), lipgloss.Color("#f85149"))
		blue    = ld(lipgloss.Color("#0969da"), lipgloss.Color("#58a6ff"))
		cyan    = ld(lipgloss.Color("#1b7c83"), lipgloss.Color("#39c5cf"))
		onColor = ld(lipgloss.Color("#ffffff"), lipgloss.Color("#0d1117"))
	)
	s := &styles{}
	s.AppName = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.HeaderLabel = lipgloss.NewStyle().Foreground(muted)
	s.HeaderValue = lipgloss.NewStyle().Foreground(fg).Bold(true)
	s.Paused = lipgloss.NewStyle().Bold(true).Foreground(onColor).Background(yellow).Padding(0, 1)
	s.Remote = lipgloss.NewStyle().Bold(true).Foreground(onColor).Background(blue).Padding(0, 1)
	s.Notice = lipgloss.NewStyle().Foreground(green)
	s.Warn = lipgloss.NewStyle().Foreground(yellow).Bold(true)

	s.Title = lipgloss.NewStyle().Bold(true).Foreground(fg).Background(barBg)
	s.TitleFocused = lipgloss.NewStyle().Bold(true).Foreground(onColor).Background(accent)
	s.TitleInfo = lipgloss.NewStyle().Foreground(muted).Background(barBg)
	s.Tab = lipgloss.NewStyle().Foreground(muted).Background(barBg)
	s.ColHeader = lipgloss.NewStyle().Foreground(muted).Bold(true)
	s.Selected = lipgloss.NewStyle().Background(selBg).Bold(true)
	s.Muted = lipgloss.NewStyle().Foreground(muted)
	s.Empty = lipgloss.NewStyle().Foreground(faint).Italic(true)

	s.Spinner = lipgloss.NewStyle().Foreground(cyan)
	s.OK = lipgloss.NewStyle().Foreground(green)
	s.ClientErr = lipgloss.NewStyle().Foreground(yellow)
	s.ServerErr = lipgloss.NewStyle().Foreground(red)
	s.Canceled = lipgloss.NewStyle().Foreground(faint)

	s.Closed = lipgloss.NewStyle().Foreground(green)
	s.HalfOpen = lipgloss.NewStyle().Foreground(yellow).Bold(true)
	s.Open = lipgloss.NewStyle().Foreground(onColor).Background(red).Bold(true)

	s.Spark = lipgloss.NewStyle().Foreground(cyan)
	s.Money = lipgloss.NewStyle().Foreground(green)
	s.Unpriced = lipgloss.NewStyle().Foreground(yellow)

	s.Time = lipgloss.NewStyle().Foreground(muted)
	s.ErrorMsg = lipgloss.NewStyle().Foreground(red)
	s.LogWarn = lipgloss.NewStyle().Foreground(yellow)
	s.LogError = lipgloss.NewStyle().Foreground(red)

	s.Box = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(accent).Padding(0, 1)
	s.BoxTitle = lipgloss.NewStyle().Bold(true).Foreground(accent)
	s.Label = lipgloss.NewStyle().Foreground(muted)
	s.FilterLabel = lipgloss.NewStyle().Foreground(accent).Bold(true)
	s.FilterText = lipgloss.NewStyle().Foreground(fg)
	s.Help = help.DefaultStyles(dark)
	return s
}

// status is the style of a finished request's HTTP status.
func (s *styles) status(code int) lipgloss.Style {
	switch {
	case code == 499:
		return s.Canceled
	case code >= 500:
		return s.ServerErr
	case code >= 400:
		return s.ClientErr
	}
	return s.OK
}
