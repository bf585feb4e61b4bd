package tui

import (
	"testing"
	"time"
)

func TestFormats(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{fmtDur(0), "0s"},
		{fmtDur(850 * time.Millisecond), "850ms"},
		{fmtDur(12340 * time.Millisecond), "12.3s"},
		{fmtDur(245 * time.Second), "4m05s"},
		{fmtDur(62 * time.Minute), "1h02m"},
		{fmtDur(200 * time.Hour), "8d"},
		{fmtCount(1234), "1234"},
		{fmtCount(12345), "12.3k"},
		{fmtCount(1234567), "1.23M"},
		{fmtRate(0), "0"},
		{fmtRate(12.34), "12.3"},
		{fmtRate(340.2), "340"},
		{fmtRate(12345), "12.3k"},
		{fmtCost(0), "$0"},
		{fmtCost(0.00123), "$0.0012"},
		{fmtCost(3.456), "$3.46"},
		{fmtCost(1234.5), "$1234"},
		{fmtPct(0.5), "50%"},
		{fmtPct(0.024), "2.4%"},
		{fit("abcdef", 4), "abc…"},
		{fit("ab", 4), "ab  "},
		{fitRight("ab", 4), "  ab"},
		{clean("a\tb\x1b[31mc\nd"), "a bc d"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestSparkline(t *testing.T) {
	for _, c := range []struct {
		vals []int64
		w    int
		want string
	}{
		{[]int64{0, 1, 2, 3, 4, 5, 6, 7}, 8, " ▂▃▄▅▆▇█"},
		{[]int64{0, 0, 0}, 3, "   "},
		{[]int64{1, 100}, 2, "▁█"},
		// Six values in four cells: grouped by two from the newest end.
		{[]int64{8, 0, 0, 1, 1, 8}, 4, "▇▁█"},
		{nil, 5, ""},
	} {
		if got := sparkline(c.vals, c.w); got != c.want {
			t.Errorf("sparkline(%v, %d) = %q, want %q", c.vals, c.w, got, c.want)
		}
	}
}
