package tui

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// maxLogLine bounds one stored log line; longer lines are cut.
const maxLogLine = 2048

// LogBuffer keeps the last lines written to it, for the dashboard's log
// panel. It is an io.Writer: point a slog handler at it (one Write per
// record) alongside the log file. Writes never block on the reader and cost
// a short critical section; the buffer is a fixed ring, so memory is
// bounded whatever is logged. It is safe for concurrent use.
//
// The dashboard polls Seq at its repaint tick (a single atomic load) and
// copies lines only when it changed.
type LogBuffer struct {
	seq atomic.Uint64 // lines written so far

	mu      sync.Mutex // guards the following fields
	lines   []string   // ring of at most cap(lines) lines
	next    int        // where the next line goes once the ring is full
	partial []byte     // a line written without its newline yet
}

// NewLogBuffer returns a buffer that keeps the last n lines (at least 1).
func NewLogBuffer(n int) *LogBuffer {
	return &LogBuffer{lines: make([]string, 0, max(n, 1))}
}

// Write stores p, one line per newline-terminated piece. A trailing piece
// without a newline is held until the rest arrives. It never fails.
func (b *LogBuffer) Write(p []byte) (int, error) {
	n := len(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if room := maxLogLine - len(b.partial); room > 0 {
				b.partial = append(b.partial, p[:min(len(p), room)]...)
			}
			break
		}
		line := p[:i]
		p = p[i+1:]
		if len(b.partial) > 0 {
			b.partial = append(b.partial, line[:min(len(line), max(maxLogLine-len(b.partial), 0))]...)
			line = b.partial
		}
		b.add(string(line[:min(len(line), maxLogLine)]))
		b.partial = b.partial[:0]
	}
	return n, nil
}

// add appends one line; the caller holds mu.
func (b *LogBuffer) add(line string) {
	if len(b.lines) < cap(b.lines) {
		b.lines = append(b.lines, line)
	} else {
		b.lines[b.next] = line
		b.next = (b.next + 1) % len(b.lines)
	}
	b.seq.Add(1)
}

// Seq is the number of lines written so far: it changes whenever a line
// arrives, so a reader can skip copying when nothing is new.
func (b *LogBuffer) Seq() uint64 { return b.seq.Load() }

// Lines returns up to n of the newest lines, oldest first (all when n <= 0).
func (b *LogBuffer) Lines(n int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	total := len(b.lines)
	if n <= 0 || n > total {
		n = total
	}
	out := make([]string, 0, n)
	// The oldest line is at next once the ring is full, at 0 before.
	start := 0
	if total == cap(b.lines) {
		start = b.next
	}
	for i := total - n; i < total; i++ {
		out = append(out, b.lines[(start+i)%total])
	}
	return out
}
