package tui

import (
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/rickyjim626/xjp/internal/event"
)

// details is the content of the details overlay: a title, labelled fields
// and a free-text message, built when Enter is pressed and kept as is.
type details struct {
	title  string
	fields [][2]string
	body   string
}

func requestDetails(r *event.Request, loc *time.Location) details {
	d := details{title: "Request " + r.ID}
	add := func(label, value string) {
		if value != "" {
			d.fields = append(d.fields, [2]string{label, value})
		}
	}
	if !r.Start.IsZero() {
		add("started", r.Start.In(loc).Format("2006-01-02 15:04:05.000"))
	}
	keyName := keyLabel(r)
	if r.KeyName != "" && r.KeyID != "" {
		keyName += " (" + r.KeyID + ")"
	}
	add("key", keyName)
	add("tenant", r.Tenant)
	add("model", r.Model)
	add("route", routeLabel(r))
	ep := r.Endpoint
	if r.Stream {
		ep += " (stream)"
	}
	add("endpoint", ep)
	switch {
	case r.Status > 0:
		st := strconv.Itoa(r.Status)
		if r.ErrorKind != "" {
			st += " " + string(r.ErrorKind)
		}
		add("status", st)
	default:
		add("status", "in flight")
	}
	if r.Attempts > 0 {
		add("attempts", strconv.Itoa(r.Attempts))
	}
	if r.Latency > 0 {
		add("latency", fmtDur(r.Latency))
	}
	if r.TTFT > 0 {
		add("ttft", fmtDur(r.TTFT))
	}
	u := r.Usage
	if !u.IsZero() {
		tok := "in " + strconv.FormatInt(u.InputTokens, 10) + " · out " + strconv.FormatInt(u.OutputTokens, 10) +
			" · cache read " + strconv.FormatInt(u.CacheReadTokens, 10) + " · cache write " + strconv.FormatInt(u.CacheWriteTokens, 10)
		if u.ReasoningTokens > 0 {
			tok += " · reasoning " + strconv.FormatInt(u.ReasoningTokens, 10)
		}
		if u.Estimated {
			tok += " (estimated)"
		}
		add("tokens", tok)
	} else if r.OutputTokens > 0 {
		add("tokens", "out "+strconv.FormatInt(r.OutputTokens, 10)+" so far")
	}
	switch {
	case r.CostUSD != nil:
		add("cost", fmtCost(*r.CostUSD))
	case r.Status > 0:
		add("cost", "unknown (unpriced)")
	}
	d.body = r.ErrorMessage
	return d
}

func reloadDetails(rl *event.Reload, at time.Time, loc *time.Location) details {
	d := details{title: "Config reload rejected"}
	d.fields = append(d.fields, [2]string{"time", at.In(loc).Format("2006-01-02 15:04:05")}, [2]string{"file", rl.File})
	d.body = rl.Error + "\n\nThe previous configuration stays in force."
	return d
}

func breakerDetails(b *event.BreakerStatus, now time.Time, loc *time.Location) details {
	d := details{title: "Breaker " + b.Route}
	d.fields = append(d.fields,
		[2]string{"state", stateLabel(b.State)},
		[2]string{"consecutive failures", strconv.Itoa(b.ConsecutiveFailures)},
		[2]string{"window", strconv.Itoa(b.Failures) + " failed of " + strconv.Itoa(b.Requests)},
	)
	if !b.OpenedAt.IsZero() {
		d.fields = append(d.fields, [2]string{"opened", b.OpenedAt.In(loc).Format("15:04:05")})
	}
	if p := probeIn(b, now); p != "" {
		d.fields = append(d.fields, [2]string{"next probe", p})
	}
	d.body = b.LastError
	return d
}

// view renders the overlay in a box centred in w×h.
func (d *details) view(s *styles, w, h int) string {
	bw := min(w-2, 100) // the box's outer width
	inner := bw - 4     // border and padding
	lw := 0
	for _, f := range d.fields {
		lw = max(lw, len(f[0]))
	}
	lines := []string{s.BoxTitle.Render(fit(clean(d.title), inner)), ""}
	for _, f := range d.fields {
		lines = append(lines, s.Label.Render(fit(f[0], lw))+"  "+fit(clean(f[1]), max(inner-lw-2, 1)))
	}
	if d.body != "" {
		lines = append(lines, "")
		for _, para := range strings.Split(d.body, "\n") {
			for _, l := range strings.Split(ansi.Wrap(clean(para), inner, " /,"), "\n") {
				lines = append(lines, s.ErrorMsg.Render(l))
			}
		}
	}
	if room := h - 2; len(lines) > room {
		lines = lines[:max(room, 0)]
	}
	box := s.Box.Width(bw).Render(strings.Join(lines, "\n"))
	out := strings.Split(box, "\n")
	pad := strings.Repeat(" ", max((w-bw)/2, 0))
	for i := range out {
		out[i] = pad + out[i]
	}
	return block(out, w, h)
}
