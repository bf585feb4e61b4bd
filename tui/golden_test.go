package tui

import (
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

// Golden renders: `go test ./tui -update` rewrites testdata/*.golden.
// Most goldens are plain text (escape codes stripped) so a diff reads like
// the screen; TestGoldenScreenColor keeps the codes to pin the styles.

// sizes are the terminal sizes every screen golden is rendered at.
var sizes = []struct {
	name string
	w, h int
}{{"80x24", 80, 24}, {"160x48", 160, 48}}

func TestGoldenScreen(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			m, _ := scenario(t, true)
			_, out := frame(m, sz.w, sz.h)
			checkSize(t, out, sz.w, sz.h)
			golden.RequireEqual(t, out)
		})
	}
}

// TestGoldenScreenColor pins the colours (dark background) at 80x24.
func TestGoldenScreenColor(t *testing.T) {
	m, _ := scenario(t, true)
	m, _ = frame(m, 80, 24)
	golden.RequireEqual(t, m.View().Content)
}

// TestGoldenScreenLight is the same screen after the terminal reported a
// light background.
func TestGoldenScreenLight(t *testing.T) {
	m, _ := scenario(t, false)
	m = send(m, lightBackground())
	m, _ = frame(m, 80, 24)
	golden.RequireEqual(t, m.View().Content)
}

// TestGoldenEmpty is the first screen of a fresh gateway.
func TestGoldenEmpty(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			clk := newClock()
			m := NewModel(newFakeSource(event0()), Options{Now: clk.Now})
			m = send(m, snapshotMsg{s: event0()})
			_, out := frame(m, sz.w, sz.h)
			checkSize(t, out, sz.w, sz.h)
			golden.RequireEqual(t, out)
		})
	}
}

// TestGoldenTabs is the narrow layout with each lower panel shown.
func TestGoldenTabs(t *testing.T) {
	for _, tab := range []struct {
		name string
		tabs int
	}{{"breakers", 1}, {"spend", 2}, {"errors", 3}, {"logs", 4}} {
		t.Run(tab.name, func(t *testing.T) {
			m, _ := scenario(t, true)
			m, _ = frame(m, 80, 24)
			for range tab.tabs {
				m = keys(m, "tab")
			}
			_, out := frame(m, 80, 24)
			checkSize(t, out, 80, 24)
			golden.RequireEqual(t, out)
		})
	}
}

func TestGoldenHelp(t *testing.T) {
	m, _ := scenario(t, true)
	m, _ = frame(m, 80, 24)
	m = keys(m, "?")
	out := ansi.Strip(m.View().Content)
	checkSize(t, out, 80, 24)
	golden.RequireEqual(t, out)
}

func TestGoldenDetails(t *testing.T) {
	m, _ := scenario(t, true)
	m, _ = frame(m, 80, 24)
	m = keys(m, "tab", "tab", "tab", "down", "enter") // errors panel, second row: the 502
	out := ansi.Strip(m.View().Content)
	checkSize(t, out, 80, 24)
	golden.RequireEqual(t, out)
}

func TestGoldenFilter(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			m, _ := scenario(t, true)
			m, _ = frame(m, sz.w, sz.h)
			m = keys(m, "/", "a", "l", "i", "c", "e")
			_, out := frame(m, sz.w, sz.h)
			checkSize(t, out, sz.w, sz.h)
			golden.RequireEqual(t, out)
		})
	}
}

// TestGoldenPanels renders each panel alone at the narrow and the wide
// width, from the same scenario.
func TestGoldenPanels(t *testing.T) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"80x10", 80, 10}, {"160x16", 160, 16}} {
		m, _ := scenario(t, true)
		m, _ = frame(m, 160, 48) // sync the panels
		r := m.st
		for _, p := range []struct {
			name string
			c    component
		}{{"header", r.header}, {"streams", r.streams}, {"breakers", r.breakers}, {"spend", r.spend}, {"errors", r.errs}, {"logs", r.logs}} {
			h := sz.h
			if p.name == "header" {
				h = 2
			}
			t.Run(p.name+"/"+itoa(sz.w)+"x"+itoa(h), func(t *testing.T) {
				p.c.SetSize(sz.w, h)
				out := ansi.Strip(p.c.View())
				checkSize(t, out, sz.w, h)
				golden.RequireEqual(t, out)
			})
		}
	}
}
