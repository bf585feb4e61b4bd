package tui

import "charm.land/bubbles/v2/key"

// keyMap is the dashboard's one key map, built once by newKeyMap and shared
// through common. Components return the bindings they honour from their
// help.KeyMap methods; the root handles the global ones.
type keyMap struct {
	NextPanel key.Binding
	PrevPanel key.Binding
	Up        key.Binding
	Down      key.Binding
	Top       key.Binding
	Bottom    key.Binding
	Details   key.Binding
	Back      key.Binding
	Filter    key.Binding
	Pause     key.Binding
	Help      key.Binding
	Quit      key.Binding
}

// newKeyMap returns the bindings. remote changes what quitting means: the
// dashboard detaches from a remote gateway but stops a local one.
func newKeyMap(remote bool) *keyMap {
	quit := "quit"
	if remote {
		quit = "detach"
	}
	return &keyMap{
		NextPanel: key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "next panel")),
		PrevPanel: key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "prev panel")),
		Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Top:       key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom:    key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
		Details:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Filter:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Pause:     key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:      key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", quit)),
	}
}
