package ingress

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/event"
)

// admSwitch serves the admin API, or 503 while down.
type admSwitch struct {
	h    http.Handler
	down atomic.Bool
}

func (s *admSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		http.Error(w, "restarting", http.StatusServiceUnavailable)
		return
	}
	s.h.ServeHTTP(w, r)
}

// Subscribe survives a server restart: it reconnects with backoff and
// turns the new snapshot into the events it missed, without repeating
// those it delivered.
func TestAdminClientReconnects(t *testing.T) {
	broker := event.NewBroker()
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	snap := event.Snapshot{Now: t0, Inflight: []event.Request{{ID: "r1", Start: t0}},
		Breakers: []event.BreakerStatus{{Route: "demo/demo", State: "closed"}}}
	sw := &admSwitch{h: NewAdmin(AdminOptions{Token: admToken, Events: broker, Status: func(context.Context) (event.Snapshot, error) {
		mu.Lock()
		defer mu.Unlock()
		return snap, nil
	}})}
	srv := httptest.NewServer(sw)
	defer srv.Close()

	c := NewAdminClient(srv.URL, admToken, nil)
	c.MinBackoff, c.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	var notices []string
	var nmu sync.Mutex
	c.Notify = func(m string) { nmu.Lock(); notices = append(notices, m); nmu.Unlock() }
	got := make(chan event.Event, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Subscribe(ctx, func(ev event.Event) { got <- ev }) }()

	next := func() event.Event {
		t.Helper()
		select {
		case ev := <-got:
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
		}
		return event.Event{}
	}
	describe := func(ev event.Event) string {
		switch {
		case ev.Request != nil:
			return string(ev.Kind) + " " + ev.Request.ID
		case ev.Breaker != nil:
			return string(ev.Kind) + " " + ev.Breaker.Route + " " + ev.Breaker.From + "→" + ev.Breaker.To
		}
		return string(ev.Kind)
	}
	// Wait until subscribed, then live events flow; r1 was in the first
	// snapshot, so a repeated start of it is not passed on.
	for !broker.HasSubscribers() {
		time.Sleep(time.Millisecond)
	}
	broker.PublishMustDeliver(event.Event{Kind: event.RequestStarted, Time: t0.Add(time.Second), Request: &event.Request{ID: "r1"}})
	broker.PublishMustDeliver(event.Event{Kind: event.RequestStarted, Time: t0.Add(time.Second), Request: &event.Request{ID: "r2", Start: t0.Add(time.Second)}})
	broker.PublishMustDeliver(event.Event{Kind: event.RequestFinished, Time: t0.Add(2 * time.Second), Request: &event.Request{ID: "r0", Status: 200}})
	var live []string
	for range 2 {
		live = append(live, describe(next()))
	}
	if want := []string{"request_started r2", "request_finished r0"}; !slices.Equal(live, want) {
		t.Errorf("live = %q, want %q", live, want)
	}

	// The server goes away; meanwhile r1 and r2 finish, r3 starts, r4
	// starts and finishes, and the breaker opens.
	sw.down.Store(true)
	srv.CloseClientConnections()
	mu.Lock()
	snap = event.Snapshot{Now: t0.Add(time.Minute),
		Inflight: []event.Request{{ID: "r3", Start: t0.Add(40 * time.Second)}},
		Recent: []event.Request{ // newest first
			{ID: "r4", Start: t0.Add(30 * time.Second), Latency: time.Second, Status: 200},
			{ID: "r2", Start: t0.Add(time.Second), Latency: 20 * time.Second, Status: 200},
			{ID: "r0", Start: t0, Latency: 2 * time.Second, Status: 200},
		},
		Breakers: []event.BreakerStatus{{Route: "demo/demo", State: "open", LastError: "boom"}}}
	mu.Unlock()
	time.Sleep(50 * time.Millisecond) // a few refused reconnects
	sw.down.Store(false)

	var resynced []string
	for range 5 {
		resynced = append(resynced, describe(next()))
	}
	want := []string{
		"request_finished r2", "request_finished r4", // finished while away, oldest first; r0 was delivered
		"request_started r3",
		"request_finished r1", // open before, gone now: outcome unknown
		"breaker_changed demo/demo closed→open",
	}
	if !slices.Equal(resynced, want) {
		t.Errorf("after the reconnect = %q\nwant %q", resynced, want)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Subscribe returned %v after cancel, want nil", err)
	}
	nmu.Lock()
	defer nmu.Unlock()
	joined := strings.Join(notices, "\n")
	if !strings.Contains(joined, "lost the connection") || !strings.Contains(joined, "reconnecting in") || !strings.Contains(joined, "reconnected") {
		t.Errorf("notices: %q", notices)
	}
}

// A refused token is returned at once, not retried forever.
func TestAdminClientBadToken(t *testing.T) {
	srv := httptest.NewServer(NewAdmin(AdminOptions{Token: admToken, Events: event.NewBroker()}))
	defer srv.Close()
	c := NewAdminClient(srv.URL, "wrong", nil)
	err := c.Subscribe(context.Background(), func(event.Event) {})
	if err == nil || !strings.Contains(err.Error(), "admin token was refused") {
		t.Errorf("Subscribe: %v", err)
	}
	if _, err := c.Snapshot(context.Background()); err == nil {
		t.Error("Snapshot with a bad token succeeded")
	}
}

// The client's calls reach the admin API: keys, usage, routes, status.
func TestAdminClientCalls(t *testing.T) {
	e := newAdmEnv(t, nil)
	c := NewAdminClient(strings.TrimPrefix(e.srv.URL, "http://"), admToken, nil)
	ctx := context.Background()
	k, secret, err := c.CreateKey(ctx, NewAdminKey{Name: "ci"})
	if err != nil || k.ID == "" || secret == "" {
		t.Fatalf("CreateKey: %+v %q %v", k, secret, err)
	}
	if k2, err := c.UpdateKey(ctx, k.ID, map[string]any{"rpm": 5}); err != nil || *k2.RPM != 5 {
		t.Errorf("UpdateKey: %+v %v", k2, err)
	}
	if ks, err := c.Keys(ctx, AdminKeyFilter{}); err != nil || len(ks) != 1 {
		t.Errorf("Keys: %+v %v", ks, err)
	}
	if err := c.RevokeKey(ctx, k.ID); err != nil {
		t.Errorf("RevokeKey: %v", err)
	}
	_, err = c.Key(ctx, "key_404")
	if ae, ok := err.(*AdminError); !ok || ae.Status != 404 {
		t.Errorf("Key unknown: %v", err)
	}
	if rows, err := c.Usage(ctx, UsageQuery{By: []string{"model"}, Model: "demo"}); err != nil || len(rows) != 1 {
		t.Errorf("Usage: %+v %v", rows, err)
	}
	if rs, err := c.Routes(ctx); err != nil || len(rs.Models) != 1 {
		t.Errorf("Routes: %+v %v", rs, err)
	}
	if s, err := c.Snapshot(ctx); err != nil || len(s.Breakers) != 1 {
		t.Errorf("Snapshot: %+v %v", s, err)
	}
	if err := c.Reload(ctx); err != nil {
		t.Errorf("Reload: %v", err)
	}
}
