package tui

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestLogBufferRing(t *testing.T) {
	b := NewLogBuffer(3)
	if got := b.Lines(0); len(got) != 0 {
		t.Fatalf("empty buffer has lines %q", got)
	}
	for i := range 5 {
		fmt.Fprintf(b, "line %d\n", i)
	}
	if got, want := b.Lines(0), []string{"line 2", "line 3", "line 4"}; !slices.Equal(got, want) {
		t.Fatalf("Lines(0) = %q, want %q", got, want)
	}
	if got, want := b.Lines(2), []string{"line 3", "line 4"}; !slices.Equal(got, want) {
		t.Fatalf("Lines(2) = %q, want %q", got, want)
	}
	if b.Seq() != 5 {
		t.Fatalf("Seq = %d, want 5", b.Seq())
	}
}

func TestLogBufferPartialAndLongLines(t *testing.T) {
	b := NewLogBuffer(10)
	b.Write([]byte("hel"))
	b.Write([]byte("lo\nwor"))
	if got := b.Lines(0); !slices.Equal(got, []string{"hello"}) {
		t.Fatalf("got %q", got)
	}
	b.Write([]byte("ld\n\nx\n"))
	if got := b.Lines(0); !slices.Equal(got, []string{"hello", "world", "", "x"}) {
		t.Fatalf("got %q", got)
	}
	b.Write([]byte(strings.Repeat("a", 3*maxLogLine) + "\n"))
	if got := b.Lines(1)[0]; len(got) != maxLogLine {
		t.Fatalf("a long line kept %d bytes, want %d", len(got), maxLogLine)
	}
	b.Write([]byte(strings.Repeat("b", maxLogLine+5)))
	b.Write([]byte(strings.Repeat("c", 10) + "\n"))
	if got := b.Lines(1)[0]; len(got) != maxLogLine {
		t.Fatalf("a long partial line kept %d bytes, want %d", len(got), maxLogLine)
	}
}

func TestLogBufferSlog(t *testing.T) {
	b := NewLogBuffer(10)
	log := slog.New(slog.NewTextHandler(b, nil))
	log.Info("listening", "addr", "127.0.0.1:8080")
	log.Warn("breaker changed", "route", "a/b")
	got := b.Lines(0)
	if len(got) != 2 || !strings.Contains(got[0], `msg=listening addr=127.0.0.1:8080`) || !strings.Contains(got[1], "level=WARN") {
		t.Fatalf("got %q", got)
	}
}

func TestLogBufferConcurrent(t *testing.T) {
	b := NewLogBuffer(50)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				fmt.Fprintf(b, "g%d %d\n", g, i)
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			_ = b.Lines(10)
			_ = b.Seq()
		}
	})
	wg.Wait()
	if b.Seq() != 2000 || len(b.Lines(0)) != 50 {
		t.Fatalf("seq %d, %d lines", b.Seq(), len(b.Lines(0)))
	}
}

func TestLogPanelFollowsAndScrolls(t *testing.T) {
	b := NewLogBuffer(100)
	for i := range 20 {
		fmt.Fprintf(b, "line %02d\n", i)
	}
	m := NewModel(newFakeSource(event0()), Options{Now: newClock().Now, Logs: b})
	m = keys(m, "tab", "tab", "tab", "tab") // logs
	m, out := frame(m, 80, 24)
	if !strings.Contains(out, "line 19") {
		t.Fatalf("log panel does not show the newest line:\n%s", out)
	}
	m = keys(m, "k", "k", "k")
	fmt.Fprintln(b, "line 20")
	m, out = frame(m, 80, 24)
	if strings.Contains(out, "line 20") || !strings.Contains(out, "4 lines up") {
		t.Fatalf("a scrolled log should stay still:\n%s", out)
	}
	m = keys(m, "G")
	_, out = frame(m, 80, 24)
	if !strings.Contains(out, "line 20") {
		t.Fatalf("G should follow again:\n%s", out)
	}
}
