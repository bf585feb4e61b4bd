package tui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
)

// This file holds the pure text helpers every panel uses: fixed-width
// cells, number and duration formats, the sparkline.

// fit pads or truncates plain text s to exactly w cells.
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-sw)
}

// fitRight right-aligns plain text s in w cells, truncating when too long.
func fitRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return strings.Repeat(" ", w-sw) + s
}

// padLine pads an already styled line to w cells (or truncates it).
func padLine(s string, w int) string {
	sw := ansi.StringWidth(s)
	switch {
	case sw > w:
		return ansi.Truncate(s, w, "…")
	case sw < w:
		return s + strings.Repeat(" ", w-sw)
	}
	return s
}

// block makes text exactly h lines of exactly w cells, so panels tile.
func block(lines []string, w, h int) string {
	if h <= 0 || w <= 0 {
		return ""
	}
	var b strings.Builder
	blank := strings.Repeat(" ", w)
	for i := range h {
		if i > 0 {
			b.WriteByte('\n')
		}
		if i < len(lines) {
			b.WriteString(padLine(lines[i], w))
		} else {
			b.WriteString(blank)
		}
	}
	return b.String()
}

// clean makes untrusted text (key names, error messages, log lines) safe
// for one cell: escape sequences stripped, control characters and line
// breaks turned into spaces.
func clean(s string) string {
	if s == "" {
		return s
	}
	needs := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			needs = true
			break
		}
	}
	if !needs {
		return s
	}
	s = ansi.Strip(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// fmtDur is a short duration: 850ms, 12.3s, 4m05s, 1h02m.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	case d < time.Hour:
		s := int(d / time.Second)
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case d < 100*time.Hour:
		m := int(d / time.Minute)
		return fmt.Sprintf("%dh%02dm", m/60, m%60)
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// fmtCount is a compact count: 1234, 12.3k, 1.23M.
func fmtCount(n int64) string {
	switch {
	case n < 10_000:
		return strconv.FormatInt(n, 10)
	case n < 1_000_000:
		return strconv.FormatFloat(float64(n)/1e3, 'f', 1, 64) + "k"
	case n < 1_000_000_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 2, 64) + "M"
	}
	return strconv.FormatFloat(float64(n)/1e9, 'f', 2, 64) + "G"
}

// fmtRate is a compact rate: 0.4, 12.5, 340, 12.3k.
func fmtRate(f float64) string {
	switch {
	case f <= 0 || math.IsNaN(f):
		return "0"
	case f < 100:
		return strconv.FormatFloat(f, 'f', 1, 64)
	case f < 10_000:
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return fmtCount(int64(f))
}

// fmtCost is a dollar amount with the precision small sums need.
func fmtCost(c float64) string {
	switch {
	case c == 0:
		return "$0"
	case c < 0.01:
		return "$" + strconv.FormatFloat(c, 'f', 4, 64)
	case c < 1000:
		return "$" + strconv.FormatFloat(c, 'f', 2, 64)
	}
	return "$" + strconv.FormatFloat(c, 'f', 0, 64)
}

// fmtPct is a percentage of a ratio in [0,1].
func fmtPct(r float64) string {
	if r <= 0 || math.IsNaN(r) {
		return "0%"
	}
	if r < 0.1 {
		return strconv.FormatFloat(r*100, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(r*100, 'f', 0, 64) + "%"
}

// sparkBars are the eight bar heights of a sparkline, three bytes each.
const sparkBars = "▁▂▃▄▅▆▇█"

// sparkline draws vals (oldest first) in w cells. When there are more
// values than cells, adjacent values are summed so the whole range still
// fits. Zero is a blank; any other value is at least the lowest bar.
func sparkline(vals []int64, w int) string {
	if w <= 0 || len(vals) == 0 {
		return ""
	}
	cells := vals
	if len(vals) > w {
		per := (len(vals) + w - 1) / w
		cells = make([]int64, 0, w)
		// Group from the newest end so the last cell is always "now".
		start := len(vals) % per
		if start > 0 {
			var s int64
			for _, v := range vals[:start] {
				s += v
			}
			cells = append(cells, s)
		}
		for i := start; i < len(vals); i += per {
			var s int64
			for _, v := range vals[i : i+per] {
				s += v
			}
			cells = append(cells, s)
		}
	}
	var peak int64
	for _, v := range cells {
		peak = max(peak, v)
	}
	var b strings.Builder
	b.Grow(len(cells) * 3)
	for _, v := range cells {
		if v <= 0 || peak == 0 {
			b.WriteByte(' ')
			continue
		}
		i := min(int(float64(v)/float64(peak)*7), 7)
		b.WriteString(sparkBars[i*3 : i*3+3])
	}
	return b.String()
}

// cells is the display width of s, escape sequences excluded.
func cells(s string) int { return ansi.StringWidth(s) }

// itoa is strconv.Itoa.
func itoa(n int) string { return strconv.Itoa(n) }
