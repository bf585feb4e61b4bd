package gateway

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/llm"
)

// meteredStream is the committed upstream stream: it watches every event
// for time to first token, usage and output size, enforces the idle
// timeout, publishes throttled progress, and reports the outcome to the
// route's breaker exactly once.
type meteredStream struct {
	x     *Exchange
	s     llm.Stream
	ctx   context.Context // the client's
	actx  context.Context // the attempt's
	route *Route
	req   *llm.Request
	abort func(error)

	done     func(error) // breaker outcome
	doneOnce sync.Once
	span     trace.Span // the attempt's span; nil when tracing is off

	first     bool // the peeked first event is pending
	idle      time.Duration
	idleTimer *time.Timer

	usage        llm.Usage
	haveUsage    bool
	finish       llm.FinishReason
	outChars     int64 // text, thinking and tool-argument bytes streamed
	deltas       int64
	lastProgress time.Time
	err          *llm.Error
	finished     bool // the upstream ended cleanly

	cur  llm.Event   // the current event
	open []int       // indexes of blocks started and not stopped
	tail []llm.Event // closing events of a stream cut by a quota

	budget  Budget
	charged int64 // tokens charged to the budget
	overrun bool  // the budget refused: end after the current event
	cut     bool  // the stream was ended by the budget
}

// chargeEvery batches budget charges: a quota check per few tokens, not
// per token.
const chargeEvery = 16

func (m *meteredStream) Next() bool {
	if m.first {
		m.first = false
		return true
	}
	if m.overrun && !m.cut {
		m.endForBudget()
	}
	if len(m.tail) > 0 {
		m.cur, m.tail = m.tail[0], m.tail[1:]
		return true
	}
	if m.err != nil || m.finished {
		return false
	}
	if !m.s.Next() {
		if m.idleTimer != nil {
			m.idleTimer.Stop()
		}
		if err := m.s.Err(); err != nil {
			m.err = m.x.classify(m.ctx, m.actx, m.route, err)
			m.report(m.err)
		} else {
			m.finished = true
			m.report(nil)
		}
		return false
	}
	if m.idleTimer != nil {
		m.idleTimer.Reset(m.idle)
	}
	m.observe(m.s.Event())
	return true
}

func (m *meteredStream) observe(ev llm.Event) {
	m.cur = ev
	switch ev.Type {
	case llm.EventBlockStart:
		m.open = append(m.open, ev.Index)
	case llm.EventBlockStop:
		if i := slices.Index(m.open, ev.Index); i >= 0 {
			m.open = slices.Delete(m.open, i, i+1)
		}
	}
	switch ev.Type {
	case llm.EventTextDelta, llm.EventThinkingDelta, llm.EventToolArgsDelta:
		m.delta(int64(len(ev.Text)))
	case llm.EventBlockStart:
		if ev.Block != nil && ev.Block.Type == llm.BlockToolCall {
			m.delta(int64(len(ev.Block.ToolCall.Name) + len(ev.Block.ToolCall.Arguments)))
		}
	case llm.EventUsage:
		if ev.Usage != nil {
			m.usage, m.haveUsage = *ev.Usage, true
			m.x.outTokens.Store(ev.Usage.OutputTokens)
			m.charge(true)
		}
	case llm.EventStart:
		if ev.Usage != nil {
			m.usage, m.haveUsage = *ev.Usage, true
			m.charge(true)
		}
	case llm.EventFinish:
		m.finish = ev.Finish
	}
}

func (m *meteredStream) delta(n int64) {
	x := m.x
	if m.deltas == 0 {
		x.ttft.Store(int64(x.g.now().Sub(x.start)))
	}
	m.deltas++
	m.outChars += n
	if !m.haveUsage || m.usage.OutputTokens == 0 {
		x.outTokens.Store(estimateTokens(m.outChars))
	}
	m.charge(false)
	if g := x.g; g.events.HasSubscribers() {
		if now := g.now(); now.Sub(m.lastProgress) >= g.progress {
			m.lastProgress = now
			r := x.snapshot()
			g.events.Publish(event.Event{Kind: event.RequestProgress, Request: &r})
		}
	}
}

// tokensSoFar is the request's tokens as known now: reported input, and
// the larger of reported and streamed output.
func (m *meteredStream) tokensSoFar() int64 {
	return m.usage.PromptTokens() + max(m.usage.OutputTokens, estimateTokens(m.outChars))
}

// charge tells the budget about new tokens, every chargeEvery tokens (or
// at once when force, on usage reports).
func (m *meteredStream) charge(force bool) {
	if m.budget == nil || m.overrun {
		return
	}
	n := m.tokensSoFar() - m.charged
	if n <= 0 || !force && n < chargeEvery {
		return
	}
	m.charged += n
	// A quota crossed by the final usage report of a finished answer
	// leaves the answer whole; the overrun is settled, not cut.
	if !m.budget.Charge(n) && m.finish == "" {
		m.overrun = true
	}
}

// endForBudget ends a stream whose quota ran out: the upstream is released
// and the client gets a proper ending — every open block stopped, finish
// reason "length", the usage so far — instead of a cut.
func (m *meteredStream) endForBudget() {
	m.cut = true
	if m.idleTimer != nil {
		m.idleTimer.Stop()
	}
	for i := len(m.open) - 1; i >= 0; i-- {
		m.tail = append(m.tail, llm.Event{Type: llm.EventBlockStop, Index: m.open[i]})
	}
	m.open = nil
	u := m.usage
	if est := estimateTokens(m.outChars); est > u.OutputTokens {
		u.OutputTokens, u.Estimated = est, true
	}
	m.usage, m.haveUsage = u, true
	m.tail = append(m.tail, llm.Event{Type: llm.EventFinish, Finish: llm.FinishLength}, llm.Event{Type: llm.EventUsage, Usage: &u})
	m.finished = true
	m.report(&llm.Error{Kind: llm.KindPolicyBudget, Status: http.StatusTooManyRequests, Message: "token quota reached"})
	m.s.Close()
	m.abort(nil)
}

// estimateTokens guesses tokens from bytes of output: about four a token.
func estimateTokens(chars int64) int64 { return (chars + 3) / 4 }

func (m *meteredStream) report(err error) {
	m.doneOnce.Do(func() {
		if err != nil {
			m.x.logAttempt(m.route, llm.AsError(err))
		}
		m.done(err)
		endAttempt(m.span, err, &m.usage)
	})
}

func (m *meteredStream) Event() llm.Event { return m.cur }

// Ready reports whether Next will return without waiting on the upstream.
func (m *meteredStream) Ready() bool {
	return m.first || m.overrun || len(m.tail) > 0 || m.err != nil || m.finished || llm.Ready(m.s)
}

func (m *meteredStream) Err() error {
	if m.err == nil {
		return nil
	}
	return m.err
}

// Close releases the upstream. A stream closed before its end (the client
// left, or a quota cut it short) is not held against the upstream.
func (m *meteredStream) Close() error {
	if m.idleTimer != nil {
		m.idleTimer.Stop()
	}
	if !m.finished && m.err == nil {
		m.report(&llm.Error{Kind: llm.KindCallerCanceled, Status: 499, Message: "stream closed early"})
	}
	err := m.s.Close()
	m.abort(nil)
	return err
}

// End records the exchange: status is what the client got (0: derived from
// err), err the failure if any. It publishes the finished event, writes the
// usage record and leaves the in-flight set. Call it exactly once.
func (x *Exchange) End(status int, err error) llm.UsageRecord {
	if !x.ended.CompareAndSwap(false, true) {
		return llm.UsageRecord{}
	}
	g := x.g
	g.inflight.Delete(x.info.ID)
	g.nflight.Add(-1)

	var e *llm.Error
	if err != nil {
		e = llm.AsError(err)
		if status == 0 {
			status = e.Status
		}
	}
	if status == 0 {
		status = http.StatusOK
	}
	x.mu.Lock()
	m, r, ms, attempts := x.model, x.route, x.stream, x.attempts
	x.mu.Unlock()

	rec := llm.UsageRecord{
		Time: x.start, RequestID: x.info.ID, KeyID: x.info.KeyID, Tenant: x.info.Tenant,
		Model: x.info.Model, Endpoint: x.info.Endpoint, Stream: x.info.Stream,
		Latency: g.now().Sub(x.start), TTFT: time.Duration(x.ttft.Load()),
		Status: status, Attempts: attempts,
	}
	if e != nil {
		rec.ErrorKind = e.Kind
	}
	if r != nil {
		rec.Provider, rec.UpstreamModel = r.Provider.Name(), r.Model
	}
	if ms != nil {
		rec.Usage = ms.billedUsage(g)
		if ms.cut && rec.ErrorKind == "" {
			rec.ErrorKind = llm.KindPolicyBudget // ended early by a token quota
		}
	}
	if b := x.info.Budget; b != nil {
		var charged int64
		if ms != nil {
			charged = ms.charged
		}
		b.Settle(charged, rec.Usage.TotalTokens())
	}
	if m != nil && rec.Usage.CostUSD == nil && m.Price != nil {
		c := m.Price.Cost(rec.Usage)
		rec.CostUSD = &c
	} else if rec.Usage.CostUSD != nil {
		c := *rec.Usage.CostUSD
		rec.CostUSD = &c
	}
	if rec.CostUSD == nil && rec.Usage.TotalTokens() > 0 {
		g.warnUnpriced(rec.Model)
	}
	if rec.Usage.TotalTokens() == 0 && rec.CostUSD == nil && m != nil && m.Price != nil {
		zero := 0.0
		rec.CostUSD = &zero // nothing was spent on a priced model
	}

	if g.usage != nil {
		g.usage.RecordUsage(rec)
	}
	if g.metrics != nil {
		g.metrics.end(g.modelLabel(m, x.info.Model), &rec, e, x.streamBytes.Load())
	}
	snap := x.snapshot()
	snap.Latency, snap.Status, snap.Usage, snap.CostUSD = rec.Latency, status, rec.Usage, rec.CostUSD
	snap.OutputTokens = rec.Usage.OutputTokens
	if e != nil {
		snap.ErrorKind, snap.ErrorMessage = e.Kind, e.Error()
	}
	g.remember(snap)
	if g.events.HasSubscribers() {
		g.events.PublishMustDeliver(event.Event{Kind: event.RequestFinished, Request: &snap})
	}
	return rec
}

// billedUsage is what the upstream reported or, failing that, an estimate
// flagged as such: input counted locally, output from what was streamed. A
// stream cut short is billed at least for what reached the client.
func (m *meteredStream) billedUsage(g *Gateway) llm.Usage {
	u := m.usage
	if est := estimateTokens(m.outChars); m.outChars > 0 && (u.OutputTokens == 0 || !m.finished && est > u.OutputTokens) {
		u.OutputTokens = est
		u.Estimated = true
	}
	if u.PromptTokens() == 0 && g.estimate != nil {
		u.InputTokens = g.estimate(m.req)
		u.Estimated = true
	}
	return u
}
