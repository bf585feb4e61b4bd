package tui

import (
	"context"
	"io"
	"strconv"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/llm"
)

// The flood: floodStreams requests always in flight, each lasting
// floodLife, reporting progress every floodEvery. In steady state that is
// floodStreams/floodLife starts and finishes per second and
// floodStreams/floodEvery progress events per second: 100 + 100 + 4,000.
const (
	floodStreams = 1000
	floodLife    = 10 * time.Second
	floodEvery   = 250 * time.Millisecond
	floodStep    = 10 * time.Millisecond // simulated time per step
)

// simClock is a lock-free settable clock for the benchmarks.
type simClock struct{ t time.Time }

func (c *simClock) Now() time.Time { return c.t }

// flood generates the events of the flood in simulated time.
type flood struct {
	clk   *simClock
	slots [floodStreams]event.Request
	next  int // the next request number
	step  int
	buf   []event.Event
}

var floodModels = [...]string{"claude-sonnet-4.5", "gpt-4o", "gemini-2.5-pro", "llama-3.3-70b", "demo"}
var floodKeys = [...]string{"alice", "bob", "ci-bot", "notebook", "load-test"}

func newFlood(clk *simClock) *flood { return &flood{clk: clk} }

// advance moves simulated time one step and returns its events: one
// request finishes and its slot starts a new one; every stream whose turn
// it is reports progress.
func (f *flood) advance() []event.Event {
	f.clk.t = f.clk.t.Add(floodStep)
	now := f.clk.t
	f.buf = f.buf[:0]
	perStep := int(floodLife / floodStep)    // steps a request lives
	starts := max(floodStreams/perStep, 1)   // requests started (and finished) per step
	progEvery := int(floodEvery / floodStep) // steps between two progress events of one stream
	for i := range starts {
		s := (f.step*starts + i) % floodStreams
		r := &f.slots[s]
		if r.ID != "" {
			fin := *r
			fin.Latency, fin.Status = now.Sub(r.Start), 200
			fin.Usage = llm.Usage{InputTokens: 1500, OutputTokens: r.OutputTokens}
			c := 0.001
			fin.CostUSD = &c
			f.buf = append(f.buf, event.Event{Kind: event.RequestFinished, Time: now, Request: &fin})
		}
		n := f.next
		f.next++
		m, k := floodModels[n%len(floodModels)], floodKeys[n%len(floodKeys)]
		*r = event.Request{ID: "req-" + strconv.Itoa(n), KeyID: k, KeyName: k, Endpoint: "chat", Model: m,
			Provider: "openrouter", UpstreamModel: "vendor/" + m, Stream: true, Start: now}
		st := *r
		f.buf = append(f.buf, event.Event{Kind: event.RequestStarted, Time: now, Request: &st})
	}
	for s := f.step % progEvery; s < floodStreams; s += progEvery {
		r := &f.slots[s]
		if r.ID == "" {
			continue
		}
		r.OutputTokens += 12
		r.TTFT = 300 * time.Millisecond
		p := *r
		f.buf = append(f.buf, event.Event{Kind: event.RequestProgress, Time: now, Request: &p})
	}
	f.step++
	return f.buf
}

// warm runs the flood until floodStreams are in flight.
func warmFlood(b *testing.B, w, h int) (Model, *flood) {
	clk := &simClock{t: t0}
	m := NewModel(newFakeSource(event0()), Options{Now: clk.Now, Logs: NewLogBuffer(100)})
	m = send(m, snapshotMsg{s: baseSnapshot(t0)}, tea.WindowSizeMsg{Width: w, Height: h})
	f := newFlood(clk)
	for range int(floodLife/floodStep) + 1 {
		for _, ev := range f.advance() {
			m = send(m, eventMsg(ev))
		}
	}
	if n := len(m.data.inflight); n != floodStreams {
		b.Fatalf("%d in flight after warm-up, want %d", n, floodStreams)
	}
	return m, f
}

// BenchmarkUpdateFlood feeds the flood through Update and View exactly as
// the program does (View after every message) with a repaint tick every
// 100 ms of simulated time. One op is one event. It reports the cost of an
// event and of a frame, the events per second one core absorbs, and the
// share of a core the dashboard needs to keep up with the flood's real
// rate.
func BenchmarkUpdateFlood(b *testing.B) {
	m, f := warmFlood(b, 160, 48)
	var (
		evNs, frameNs   time.Duration
		events, frames  int
		pending         []event.Event
		stepsPerFrame   = int(frameEvery / floodStep)
		stepsSinceFrame int
	)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if len(pending) == 0 {
			pending = f.advance()
			stepsSinceFrame++
			if stepsSinceFrame == stepsPerFrame {
				stepsSinceFrame = 0
				t := time.Now()
				nm, _ := m.Update(tickMsg(f.clk.t))
				_ = nm.View()
				m = nm.(Model)
				frameNs += time.Since(t)
				frames++
			}
		}
		t := time.Now()
		nm, _ := m.Update(eventMsg(pending[0]))
		_ = nm.View()
		m = nm.(Model)
		evNs += time.Since(t)
		events++
		pending = pending[1:]
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if frames == 0 {
		frames = 1
		t := time.Now()
		nm, _ := m.Update(tickMsg(f.clk.t))
		_ = nm.View()
		frameNs += time.Since(t)
	}
	perEvent := float64(evNs) / float64(events)
	perFrame := float64(frameNs) / float64(frames)
	rate := float64(floodStreams)/floodLife.Seconds()*2 + float64(floodStreams)/floodEvery.Seconds()
	b.ReportMetric(perEvent, "ns/event")
	b.ReportMetric(perFrame/1e3, "µs/frame")
	b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
	b.ReportMetric((rate*perEvent+10*perFrame)/1e9*100, "%core")
}

// BenchmarkFrame1000 is one 10 Hz frame (sync from the data and render)
// with 1,000 streams in flight, at both test sizes.
func BenchmarkFrame1000(b *testing.B) {
	for _, sz := range []struct {
		name string
		w, h int
	}{{"80x24", 80, 24}, {"160x48", 160, 48}} {
		b.Run(sz.name, func(b *testing.B) {
			m, f := warmFlood(b, sz.w, sz.h)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				nm, _ := m.Update(tickMsg(f.clk.t))
				_ = nm.View()
				m = nm.(Model)
			}
		})
	}
}

// BenchmarkProgramSend pushes the flood through a real tea.Program with
// Program.Send, as the forwarder does (a blocking hand-off to the event
// loop), with the real 10 Hz tick and the renderer writing to io.Discard.
// One op is one event; ns/op is the throughput bound of the whole path.
func BenchmarkProgramSend(b *testing.B) {
	clk := &simClock{t: t0}
	f := newFlood(clk)
	var evs []event.Event
	for range int(floodLife/floodStep) + 1 { // warm-up events
		evs = append(evs, f.advance()...)
	}
	m := NewModel(newFakeSource(event0()), Options{Now: time.Now})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(nil), tea.WithOutput(io.Discard),
		tea.WithWindowSize(160, 48), tea.WithoutSignals())
	done := make(chan struct{})
	go func() { _, _ = p.Run(); close(done) }()
	for _, ev := range evs {
		p.Send(eventMsg(ev))
	}
	b.ResetTimer()
	for range b.N {
		if len(evs) == 0 {
			evs = f.advance()
		}
		p.Send(eventMsg(evs[0]))
		evs = evs[1:]
	}
	b.StopTimer()
	p.Quit()
	<-done
}
