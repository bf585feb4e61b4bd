package tui

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/llm"
)

// This file folds events and snapshots into the dashboard's data. Folding
// is O(1) per request event (a map lookup and a few counters), so the
// program keeps up with floods; the panels read from it only at the repaint
// tick, through the *Rows methods.

// Tunables of the data.
const (
	lingerFor  = 5 * time.Second        // a finished row stays this long
	lingerMax  = 8                      // and at most this many finished rows stay
	maxErrors  = 200                    // recent errors kept
	goneMax    = 8192                   // finished ids remembered, to reconcile snapshots
	rateWindow = 10                     // seconds behind the header rates
	sparkMins  = 60                     // minutes of the tokens-per-minute sparkline
	staleAfter = 2 * time.Second        // an in-flight row older than a snapshot that lacks it is gone
	skewMin    = 500 * time.Millisecond // clock differences below this are ignored
)

// reqState is one request the dashboard knows about.
type reqState struct {
	r        event.Request
	search   string // lower-cased model, route and key, for the filter
	done     bool
	finished time.Time // local clock
}

// index refreshes the filter text when the searchable fields changed.
func (s *reqState) index(old *event.Request) {
	if old != nil && s.search != "" && old.Model == s.r.Model && old.KeyName == s.r.KeyName &&
		old.Provider == s.r.Provider && old.UpstreamModel == s.r.UpstreamModel && old.KeyID == s.r.KeyID {
		return
	}
	s.search = strings.ToLower(s.r.Model + "\x00" + s.r.Provider + "/" + s.r.UpstreamModel + "\x00" + s.r.KeyName + "\x00" + s.r.KeyID)
}

// secBucket counts one second of traffic (local clock).
type secBucket struct {
	sec                               int64
	started, finished, errors, tokens int64
}

// minBucket counts the tokens of requests finished in one minute.
type minBucket struct {
	min    int64
	tokens int64
}

// errRow is one recent error: a failed request or a rejected reload.
type errRow struct {
	at     time.Time // server clock
	r      event.Request
	reload *event.Reload
}

// spendKey identifies a row of today's spend.
type spendKey struct{ model, keyID, keyName string }

// spendDelta is a finished request not yet in the last snapshot's spend.
type spendDelta struct {
	at     time.Time // server clock
	key    spendKey
	usage  llm.Usage
	cost   *float64
	failed bool
}

// dataset is everything the dashboard knows, folded from events and
// snapshots. Only the program's goroutine touches it.
type dataset struct {
	now  func() time.Time
	skew time.Duration // server clock minus local clock, when it matters

	haveSnap bool
	listen   string
	version  string
	started  time.Time // server clock
	dropped  int64     // events the server says slow subscribers lost

	inflight map[string]*reqState
	order    []*reqState // in-flight requests in arrival order; finished ones are dropped lazily
	lingers  []*reqState // the last finished requests, oldest first
	gone     map[string]struct{}
	goneRing []string // ids in gone, oldest first, to bound it
	goneNext int

	secs [60]secBucket
	mins [sparkMins]minBucket

	breakers map[string]*event.BreakerStatus
	openFor  map[string]time.Duration // learned from snapshots: how long a route stays open

	spendAt time.Time // server clock of the last snapshot's spend
	base    []event.Spend
	overlay []spendDelta
	spend   map[spendKey]*event.Spend
	// spendSeq changes whenever spend does, so the panel recomputes only then.
	spendSeq uint64

	errs []errRow // oldest first

	notice   string // last reload, shown for a while in the header
	noticeOK bool
	noticeAt time.Time // local clock
	srcErr   string    // last source failure
	srcErrAt time.Time // local clock

	events  int64 // events folded
	ignored int64 // progress events for unknown or finished requests
}

func newDataset(now func() time.Time) *dataset {
	return &dataset{
		now:      now,
		inflight: make(map[string]*reqState),
		gone:     make(map[string]struct{}),
		breakers: make(map[string]*event.BreakerStatus),
		openFor:  make(map[string]time.Duration),
		spend:    make(map[spendKey]*event.Spend),
	}
}

// serverNow is the gateway's clock.
func (d *dataset) serverNow() time.Time { return d.now().Add(d.skew) }

func (d *dataset) sec(t time.Time) *secBucket {
	s := t.Unix()
	b := &d.secs[uint64(s)%uint64(len(d.secs))]
	if b.sec != s {
		*b = secBucket{sec: s}
	}
	return b
}

func (d *dataset) minute(t time.Time) *minBucket {
	m := t.Unix() / 60
	b := &d.mins[uint64(m)%uint64(len(d.mins))]
	if b.min != m {
		*b = minBucket{min: m}
	}
	return b
}

// failed reports whether a finished request counts as an error: any 4xx or
// 5xx except a client that went away.
func failed(r *event.Request) bool {
	if r.Status == 499 || r.ErrorKind == llm.KindCallerCanceled {
		return false
	}
	return r.Status >= 400 || (r.Status == 0 && r.ErrorKind != "")
}

// fold applies one event.
func (d *dataset) fold(ev event.Event) {
	d.events++
	switch ev.Kind {
	case event.RequestStarted:
		if ev.Request != nil {
			d.start(ev.Request)
		}
	case event.RequestProgress:
		if ev.Request != nil {
			d.progress(ev.Request)
		}
	case event.RequestFinished:
		if ev.Request != nil {
			d.finish(ev.Time, ev.Request)
		}
	case event.BreakerChanged:
		if ev.Breaker != nil {
			d.breaker(ev.Time, ev.Breaker)
		}
	case event.ConfigReloaded:
		if ev.Reload != nil {
			d.reload(ev.Time, ev.Reload)
		}
	}
}

func (d *dataset) start(r *event.Request) {
	if st, ok := d.inflight[r.ID]; ok { // already known from a snapshot
		old := st.r
		st.r = *r
		st.index(&old)
		return
	}
	if _, ok := d.gone[r.ID]; ok {
		return
	}
	st := &reqState{r: *r}
	st.index(nil)
	d.inflight[r.ID] = st
	d.order = append(d.order, st)
	d.sec(d.now()).started++
}

func (d *dataset) progress(r *event.Request) {
	st, ok := d.inflight[r.ID]
	if !ok {
		d.ignored++ // unknown, or finished already: progress is lossy and may come late
		return
	}
	if r.OutputTokens < st.r.OutputTokens {
		return // an older update overtaken by a newer one
	}
	d.sec(d.now()).tokens += r.OutputTokens - st.r.OutputTokens
	old := st.r
	st.r = *r
	st.index(&old)
}

func (d *dataset) finish(at time.Time, r *event.Request) {
	now := d.now()
	b := d.sec(now)
	st, ok := d.inflight[r.ID]
	if ok {
		delete(d.inflight, r.ID)
		b.tokens += max(r.OutputTokens-st.r.OutputTokens, 0)
	} else {
		st = &reqState{}
		b.tokens += r.OutputTokens
	}
	b.finished++
	old := st.r
	st.r = *r
	st.index(&old)
	st.done, st.finished = true, now
	if len(d.lingers) == lingerMax {
		copy(d.lingers, d.lingers[1:])
		d.lingers = d.lingers[:lingerMax-1]
	}
	d.lingers = append(d.lingers, st)
	d.forget(r.ID)
	d.minute(now).tokens += r.Usage.TotalTokens()

	if at.IsZero() {
		at = d.serverNow()
	}
	if failed(r) {
		b.errors++
		d.addError(errRow{at: at, r: *r})
	}
	if r.Provider != "" {
		if br, ok := d.breakers[r.Provider+"/"+r.UpstreamModel]; ok {
			br.Requests++
			switch {
			case r.ErrorKind.UpstreamFault():
				br.Failures++
				br.ConsecutiveFailures++
			case r.Status < 400:
				br.ConsecutiveFailures = 0
			}
		}
	}
	// A request that finished before the last snapshot was taken is in its
	// spend already (or will be in the next one's, if the store had not
	// written it yet): counting it here would count it twice.
	if at.After(d.spendAt) {
		dl := spendDelta{at: at, key: spendKey{r.Model, r.KeyID, r.KeyName}, usage: r.Usage, cost: r.CostUSD, failed: failed(r)}
		d.overlay = append(d.overlay, dl)
		d.applySpend(dl)
	}
}

// forget remembers that id finished, in a bounded ring.
func (d *dataset) forget(id string) {
	if len(d.goneRing) < goneMax {
		d.goneRing = append(d.goneRing, id)
	} else {
		delete(d.gone, d.goneRing[d.goneNext])
		d.goneRing[d.goneNext] = id
		d.goneNext = (d.goneNext + 1) % goneMax
	}
	d.gone[id] = struct{}{}
}

func (d *dataset) addError(e errRow) {
	if len(d.errs) == maxErrors {
		copy(d.errs, d.errs[1:])
		d.errs = d.errs[:maxErrors-1]
	}
	d.errs = append(d.errs, e)
}

func (d *dataset) applySpend(dl spendDelta) {
	sp := d.spend[dl.key]
	if sp == nil {
		sp = &event.Spend{Model: dl.key.model, KeyID: dl.key.keyID, KeyName: dl.key.keyName}
		d.spend[dl.key] = sp
	}
	u := dl.usage
	sp.Requests++
	if dl.failed {
		sp.Errors++
	}
	sp.InputTokens += u.InputTokens
	sp.CacheReadTokens += u.CacheReadTokens
	sp.CacheWriteTokens += u.CacheWriteTokens
	sp.OutputTokens += u.OutputTokens
	if dl.cost != nil {
		sp.CostUSD += *dl.cost
	} else {
		sp.Unpriced++
	}
	d.spendSeq++
}

func (d *dataset) breaker(at time.Time, b *event.Breaker) {
	if at.IsZero() {
		at = d.serverNow()
	}
	br := d.breakers[b.Route]
	if br == nil {
		br = &event.BreakerStatus{Route: b.Route}
		d.breakers[b.Route] = br
	}
	br.State = b.To
	switch b.To {
	case "open":
		br.OpenedAt = at
		br.NextProbe = time.Time{}
		if open, ok := d.openFor[b.Route]; ok {
			br.NextProbe = at.Add(open)
		}
		if b.Reason != "" {
			br.LastError = b.Reason
		}
	case "closed":
		br.ConsecutiveFailures = 0
		br.Requests, br.Failures = 0, 0
		br.OpenedAt, br.NextProbe = time.Time{}, time.Time{}
	default: // half-open: probing now
		br.NextProbe = time.Time{}
	}
}

func (d *dataset) reload(at time.Time, r *event.Reload) {
	d.noticeAt, d.noticeOK = d.now(), r.OK
	if r.OK {
		d.notice = "config reloaded"
		return
	}
	d.notice = "config reload rejected"
	if at.IsZero() {
		at = d.serverNow()
	}
	rl := *r
	d.addError(errRow{at: at, reload: &rl})
}

// overlayKeep is how long a finished request stays in the spend overlay
// without a snapshot: any snapshot that arrives later was taken after it,
// so it counts the request and the overlay entry would be dropped anyway.
const overlayKeep = fetchTimeout + 25*time.Second

// prune bounds the memory the data holds whatever the traffic: it drops
// spend overlay entries no future snapshot can lack. Called every tick.
func (d *dataset) prune() {
	cut := d.serverNow().Add(-overlayKeep)
	i := 0
	for i < len(d.overlay) && d.overlay[i].at.Before(cut) {
		i++
	}
	if i > 0 {
		n := copy(d.overlay, d.overlay[i:])
		clear(d.overlay[n:])
		d.overlay = d.overlay[:n]
	}
	if len(d.order) > 2*len(d.inflight)+64 { // paused: streamRows does not run
		d.compactOrder()
	}
}

// compactOrder drops finished requests from the arrival order.
func (d *dataset) compactOrder() {
	kept := d.order[:0]
	for _, st := range d.order {
		if !st.done {
			kept = append(kept, st)
		}
	}
	clear(d.order[len(kept):])
	d.order = kept
}

// sourceFailed records a failure of the source (shown in the header).
func (d *dataset) sourceFailed(err error) {
	d.srcErr, d.srcErrAt = clean(err.Error()), d.now()
}

// applySnapshot resynchronises from a snapshot: the header facts, the
// breakers and the spend are replaced; in-flight requests the snapshot
// lacks (their finish was lost) are dropped and those it adds are followed.
func (d *dataset) applySnapshot(s event.Snapshot) {
	local := d.now()
	d.srcErr = ""
	if !s.Now.IsZero() {
		d.skew = s.Now.Sub(local)
		if d.skew > -skewMin && d.skew < skewMin {
			d.skew = 0
		}
	} else {
		s.Now = local.Add(d.skew)
	}
	d.listen, d.version, d.started, d.dropped = s.Listen, s.Version, s.Started, s.Dropped

	in := make(map[string]struct{}, len(s.Inflight))
	for i := range s.Inflight {
		r := &s.Inflight[i]
		in[r.ID] = struct{}{}
		if st, ok := d.inflight[r.ID]; ok {
			if r.OutputTokens > st.r.OutputTokens {
				old := st.r
				st.r = *r
				st.index(&old)
			}
			continue
		}
		if _, ok := d.gone[r.ID]; ok {
			continue
		}
		st := &reqState{r: *r}
		st.index(nil)
		d.inflight[r.ID] = st
		d.order = append(d.order, st)
	}
	cut := s.Now.Add(-staleAfter)
	for id, st := range d.inflight {
		if _, ok := in[id]; !ok && st.r.Start.Before(cut) {
			delete(d.inflight, id)
			st.done = true // no linger: we never saw how it ended
			d.forget(id)
		}
	}
	slices.SortStableFunc(d.order, func(a, b *reqState) int { return a.r.Start.Compare(b.r.Start) })

	if !d.haveSnap {
		// The first snapshot seeds the errors and the sparkline with what
		// finished before the dashboard started, oldest first.
		for i := len(s.Recent) - 1; i >= 0; i-- {
			r := &s.Recent[i]
			end := r.Start.Add(r.Latency)
			if failed(r) {
				d.addError(errRow{at: end, r: *r})
			}
			if t := end.Add(-d.skew); local.Sub(t) < sparkMins*time.Minute && !t.After(local) {
				d.minute(t).tokens += r.Usage.TotalTokens()
			}
		}
	}

	breakers := make(map[string]*event.BreakerStatus, len(s.Breakers))
	for _, b := range s.Breakers {
		if !b.OpenedAt.IsZero() && b.NextProbe.After(b.OpenedAt) {
			d.openFor[b.Route] = b.NextProbe.Sub(b.OpenedAt)
		}
		breakers[b.Route] = &b
	}
	d.breakers = breakers

	d.base, d.spendAt = s.Spend, s.Now
	kept := d.overlay[:0]
	for _, dl := range d.overlay {
		if dl.at.After(s.Now) {
			kept = append(kept, dl)
		}
	}
	clear(d.overlay[len(kept):])
	d.overlay = kept
	d.rebuildSpend()
	d.haveSnap = true
}

func (d *dataset) rebuildSpend() {
	clear(d.spend)
	for _, sp := range d.base {
		k := spendKey{sp.Model, sp.KeyID, sp.KeyName}
		if cur := d.spend[k]; cur != nil { // defensive: duplicate rows add up
			addSpend(cur, &sp)
			continue
		}
		d.spend[k] = &sp
	}
	day := d.spendAt.UTC().Truncate(24 * time.Hour)
	for _, dl := range d.overlay {
		if !dl.at.UTC().Before(day) {
			d.applySpend(dl)
		}
	}
	d.spendSeq++
}

func addSpend(dst, s *event.Spend) {
	dst.Requests += s.Requests
	dst.Errors += s.Errors
	dst.InputTokens += s.InputTokens
	dst.CacheReadTokens += s.CacheReadTokens
	dst.CacheWriteTokens += s.CacheWriteTokens
	dst.OutputTokens += s.OutputTokens
	dst.CostUSD += s.CostUSD
	dst.Unpriced += s.Unpriced
}

// Row views: plain values computed at the repaint tick, which the panels
// keep (so pausing freezes them) and render.

// headerInfo is the header's facts.
type headerInfo struct {
	listen, version string
	uptime          time.Duration
	reqRate         float64 // requests started per second
	errRate         float64 // share of finished requests that failed
	tokRate         float64 // output tokens per second
	inflight        int
	costToday       float64
	dropped         int64
	notice          string
	noticeOK        bool
	srcErr          string
}

func (d *dataset) headerInfo() headerInfo {
	now := d.now()
	h := headerInfo{listen: d.listen, version: d.version, inflight: len(d.inflight), dropped: d.dropped}
	if !d.started.IsZero() {
		h.uptime = d.serverNow().Sub(d.started)
	}
	var started, finished, errs, tokens int64
	for s := now.Unix() - rateWindow + 1; s <= now.Unix(); s++ {
		b := &d.secs[uint64(s)%uint64(len(d.secs))]
		if b.sec == s {
			started += b.started
			finished += b.finished
			errs += b.errors
			tokens += b.tokens
		}
	}
	h.reqRate = float64(started) / rateWindow
	h.tokRate = float64(tokens) / rateWindow
	if finished > 0 {
		h.errRate = float64(errs) / float64(finished)
	}
	for _, sp := range d.spend {
		h.costToday += sp.CostUSD
	}
	if d.notice != "" && now.Sub(d.noticeAt) < 10*time.Second {
		h.notice, h.noticeOK = d.notice, d.noticeOK
	}
	h.srcErr = d.srcErr
	return h
}

// streamRow is one line of the live streams panel.
type streamRow struct {
	id           string
	key, model   string
	route        string // provider/upstream model, "" before routing
	elapsed      time.Duration
	ttft         time.Duration
	tokens       int64
	tps          float64
	status       int // 0 while in flight
	done, failed bool
}

func keyLabel(r *event.Request) string {
	if r.KeyName != "" {
		return r.KeyName
	}
	return r.KeyID
}

func routeLabel(r *event.Request) string {
	switch {
	case r.Provider == "":
		return ""
	case r.UpstreamModel == "":
		return r.Provider
	}
	return r.Provider + "/" + r.UpstreamModel
}

// streamRows appends the rows to show to dst: in-flight requests in arrival
// order, then the requests that finished in the last few seconds, newest
// first. filter is lower case; "" shows everything.
func (d *dataset) streamRows(dst []streamRow, filter string) []streamRow {
	now := d.now()
	snow := d.serverNow()
	d.compactOrder()
	for _, st := range d.order {
		if filter != "" && !strings.Contains(st.search, filter) {
			continue
		}
		r := &st.r
		row := streamRow{id: r.ID, key: keyLabel(r), model: r.Model, route: routeLabel(r),
			elapsed: snow.Sub(r.Start), ttft: r.TTFT, tokens: r.OutputTokens}
		if gen := row.elapsed - r.TTFT; r.TTFT > 0 && gen > 0 && r.OutputTokens > 0 {
			row.tps = float64(r.OutputTokens) / gen.Seconds()
		}
		dst = append(dst, row)
	}

	for i := len(d.lingers) - 1; i >= 0; i-- {
		st := d.lingers[i]
		if now.Sub(st.finished) >= lingerFor {
			break
		}
		if filter != "" && !strings.Contains(st.search, filter) {
			continue
		}
		r := &st.r
		row := streamRow{id: r.ID, key: keyLabel(r), model: r.Model, route: routeLabel(r),
			elapsed: r.Latency, ttft: r.TTFT, tokens: r.OutputTokens, status: r.Status, done: true, failed: failed(r)}
		if row.status == 0 {
			row.status = 200
		}
		if gen := r.Latency - r.TTFT; r.TTFT > 0 && gen > 0 && r.OutputTokens > 0 {
			row.tps = float64(r.OutputTokens) / gen.Seconds()
		}
		dst = append(dst, row)
	}
	return dst
}

// lookup finds a request the dashboard still knows: in flight, lingering or
// among the recent errors.
func (d *dataset) lookup(id string) (event.Request, bool) {
	if st, ok := d.inflight[id]; ok {
		return st.r, true
	}
	for _, st := range d.lingers {
		if st.r.ID == id {
			return st.r, true
		}
	}
	for i := len(d.errs) - 1; i >= 0; i-- {
		if d.errs[i].reload == nil && d.errs[i].r.ID == id {
			return d.errs[i].r, true
		}
	}
	return event.Request{}, false
}

// breakerRows is every breaker, the worst first.
func (d *dataset) breakerRows(dst []event.BreakerStatus) []event.BreakerStatus {
	for _, b := range d.breakers {
		dst = append(dst, *b)
	}
	rank := func(s string) int {
		switch s {
		case "open":
			return 0
		case "half-open":
			return 1
		}
		return 2
	}
	slices.SortFunc(dst, func(a, b event.BreakerStatus) int {
		if c := cmp.Compare(rank(a.State), rank(b.State)); c != 0 {
			return c
		}
		return strings.Compare(a.Route, b.Route)
	})
	return dst
}

// spendRow is today's spend of one model or one key.
type spendRow struct {
	name             string
	requests, errors int64
	in, out, cache   int64
	cost             float64
	unpriced         int64
}

func (r *spendRow) add(s *event.Spend) {
	r.requests += s.Requests
	r.errors += s.Errors
	r.in += s.InputTokens
	r.out += s.OutputTokens
	r.cache += s.CacheReadTokens + s.CacheWriteTokens
	r.cost += s.CostUSD
	r.unpriced += s.Unpriced
}

// spendView is the spend panel's data.
type spendView struct {
	total   spendRow
	byModel []spendRow
	byKey   []spendRow
	perMin  []int64 // tokens per minute, oldest first, sparkMins long
}

func (d *dataset) spendView(filter string) spendView {
	var v spendView
	models := map[string]*spendRow{}
	keys := map[string]*spendRow{}
	for _, sp := range d.spend {
		if filter != "" && !strings.Contains(strings.ToLower(sp.Model+"\x00"+sp.KeyName+"\x00"+sp.KeyID), filter) {
			continue
		}
		v.total.add(sp)
		m := models[sp.Model]
		if m == nil {
			m = &spendRow{name: sp.Model}
			models[sp.Model] = m
		}
		m.add(sp)
		name := sp.KeyName
		if name == "" {
			name = sp.KeyID
		}
		if name == "" {
			name = "(no key)"
		}
		k := keys[name]
		if k == nil {
			k = &spendRow{name: name}
			keys[name] = k
		}
		k.add(sp)
	}
	order := func(a, b spendRow) int {
		if c := cmp.Compare(b.cost, a.cost); c != 0 {
			return c
		}
		if c := cmp.Compare(b.in+b.out+b.cache, a.in+a.out+a.cache); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	}
	for _, m := range models {
		v.byModel = append(v.byModel, *m)
	}
	for _, k := range keys {
		v.byKey = append(v.byKey, *k)
	}
	slices.SortFunc(v.byModel, order)
	slices.SortFunc(v.byKey, order)

	cur := d.now().Unix() / 60
	v.perMin = make([]int64, sparkMins)
	for i := range sparkMins {
		m := cur - sparkMins + 1 + int64(i)
		if b := &d.mins[uint64(m)%uint64(len(d.mins))]; b.min == m {
			v.perMin[i] = b.tokens
		}
	}
	return v
}

// errorRows is the recent errors matching filter, newest first.
func (d *dataset) errorRows(dst []errRow, filter string) []errRow {
	for i := len(d.errs) - 1; i >= 0; i-- {
		e := d.errs[i]
		if filter != "" {
			var s string
			if e.reload != nil {
				s = "config " + e.reload.File
			} else {
				s = e.r.Model + "\x00" + routeLabel(&e.r) + "\x00" + e.r.KeyName + "\x00" + e.r.KeyID
			}
			if !strings.Contains(strings.ToLower(s), filter) {
				continue
			}
		}
		dst = append(dst, e)
	}
	return dst
}
