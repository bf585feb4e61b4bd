package event

import (
	"context"
	"testing"
	"time"
)

func TestDeliveryOrderAndModes(t *testing.T) {
	b := NewBroker()
	s := b.Subscribe()
	defer s.Close()
	if !b.HasSubscribers() {
		t.Fatal("HasSubscribers = false")
	}
	b.PublishMustDeliver(Event{Kind: RequestStarted, Request: &Request{ID: "1"}})
	b.Publish(Event{Kind: RequestProgress, Request: &Request{ID: "1"}})
	b.PublishMustDeliver(Event{Kind: RequestFinished, Request: &Request{ID: "1"}})

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var kinds []Kind
	for {
		ev, ok := s.Next(ctx.Done())
		if !ok {
			break
		}
		if ev.Time.IsZero() {
			t.Error("event not stamped")
		}
		kinds = append(kinds, ev.Kind)
	}
	want := []Kind{RequestStarted, RequestFinished, RequestProgress}
	if len(kinds) != 3 || kinds[0] != want[0] || kinds[1] != want[1] || kinds[2] != want[2] {
		t.Fatalf("kinds = %v, want %v (terminal events first, in order)", kinds, want)
	}
}

// A subscriber that never reads must not slow publishers down, and its
// losses are counted.
func TestSlowSubscriberNeverBlocks(t *testing.T) {
	b := NewBroker()
	stuck := b.Subscribe()
	defer stuck.Close()
	const n = 50_000
	start := time.Now()
	for i := range n {
		b.Publish(Event{Kind: RequestProgress})
		if i%2 == 0 {
			b.PublishMustDeliver(Event{Kind: RequestFinished})
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("publishing %d events took %v with a stuck subscriber", n, d)
	}
	wantDropped := int64(n-lossyBuffer) + int64(n/2-mustBuffer)
	if got := stuck.Dropped(); got != wantDropped {
		t.Errorf("dropped = %d, want %d", got, wantDropped)
	}
	if !stuck.Lagging() {
		t.Error("a subscriber that lost terminal events is not marked lagging")
	}
}

func TestClose(t *testing.T) {
	b := NewBroker()
	s := b.Subscribe()
	s.Close()
	s.Close() // idempotent
	if b.HasSubscribers() {
		t.Error("still subscribed after Close")
	}
	if _, ok := s.Next(nil); ok {
		t.Error("Next after Close returned an event")
	}
	b.Publish(Event{Kind: RequestProgress}) // no panic on a closed subscriber
	var nilBroker *Broker
	if nilBroker.HasSubscribers() {
		t.Error("nil broker has subscribers")
	}
}

func BenchmarkPublishNoSubscribers(b *testing.B) {
	br := NewBroker()
	for b.Loop() {
		if br.HasSubscribers() {
			br.Publish(Event{Kind: RequestProgress})
		}
	}
}
