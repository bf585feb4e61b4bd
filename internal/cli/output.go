package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// table prints rows: aligned columns with upper-case headers on a TTY, tab
// separated values without headers otherwise (cli/cli's tableprinter).
type table struct {
	w    io.Writer
	tty  bool
	rows [][]string
	now  time.Time
}

func newTable(ios *IOStreams, now time.Time, headers ...string) *table {
	t := &table{w: ios.Out, tty: ios.IsStdoutTTY(), now: now}
	if t.tty {
		h := make([]string, len(headers))
		for i, s := range headers {
			h[i] = strings.ToUpper(s)
		}
		t.rows = append(t.rows, h)
	}
	return t
}

func (t *table) row(fields ...string) { t.rows = append(t.rows, fields) }

// timeField renders a time: fuzzy ("3 minutes ago") on a TTY, RFC 3339
// otherwise; "-" when zero.
func (t *table) timeField(tm time.Time) string {
	if tm.IsZero() {
		if t.tty {
			return "never"
		}
		return ""
	}
	if !t.tty {
		return tm.UTC().Format(time.RFC3339)
	}
	return fuzzyAgo(t.now, tm)
}

func (t *table) render() error {
	if !t.tty {
		for _, r := range t.rows {
			if _, err := fmt.Fprintln(t.w, strings.Join(r, "\t")); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(t.w, 0, 4, 2, ' ', 0)
	for _, r := range t.rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// fuzzyAgo says how long ago (or ahead) tm is from now.
func fuzzyAgo(now, tm time.Time) string {
	d := now.Sub(tm)
	suffix := "ago"
	if d < 0 {
		d, suffix = -d, "from now"
	}
	switch {
	case d < time.Minute:
		if suffix == "ago" {
			return "just now"
		}
		return "in less than a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " " + suffix
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " " + suffix
	case d < 30*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " " + suffix
	case d < 365*24*time.Hour:
		return plural(int(d/(30*24*time.Hour)), "month") + " " + suffix
	}
	return plural(int(d/(365*24*time.Hour)), "year") + " " + suffix
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
