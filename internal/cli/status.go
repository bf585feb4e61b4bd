package cli

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/rickyjim626/xjp/internal/event"
	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/store"
)

// statusOptions configure a statusTracker.
type statusOptions struct {
	Version string
	Started time.Time
	Gateway *gateway.Gateway
	Events  *event.Broker
	// Spend returns the usage per model and key since a time (today's
	// spend); nil: the snapshot has no spend.
	Spend func(ctx context.Context, since time.Time) ([]event.Spend, error)
	// SpendTTL is how long a spend query is reused (default 5s).
	SpendTTL time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// statusTracker builds the server's event.Snapshot for GET /admin/status
// and the in-process dashboard: the requests in flight, the last finished
// ones and the breakers (from the gateway), and today's spend (from the
// store, cached a few seconds). It does not follow the broker: with nobody
// watching, requests publish no events at all.
type statusTracker struct {
	o statusOptions

	mu     sync.Mutex // guards listen
	listen string

	smu       sync.Mutex // guards the spend cache, and serialises its refresh
	spendAt   time.Time
	spendDay  time.Time
	spendRows []event.Spend
}

func newStatusTracker(o statusOptions) *statusTracker {
	if o.SpendTTL <= 0 {
		o.SpendTTL = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &statusTracker{o: o}
}

// setListen records the address the server listens on.
func (t *statusTracker) setListen(addr string) {
	t.mu.Lock()
	t.listen = addr
	t.mu.Unlock()
}

// Snapshot returns the state now. A failing spend query is logged and
// leaves the last known spend in place.
func (t *statusTracker) Snapshot(ctx context.Context) (event.Snapshot, error) {
	now := t.o.Now()
	s := event.Snapshot{
		Version: t.o.Version, Started: t.o.Started, Now: now,
		Inflight: t.o.Gateway.Inflight(), Recent: t.o.Gateway.Recent(), Breakers: t.o.Gateway.Breakers(),
		Dropped: t.o.Events.Dropped(),
	}
	sort.Slice(s.Inflight, func(i, j int) bool { return s.Inflight[i].Start.Before(s.Inflight[j].Start) })
	t.mu.Lock()
	s.Listen = t.listen
	t.mu.Unlock()
	s.Spend = t.spend(ctx, now)
	if s.Inflight == nil {
		s.Inflight = []event.Request{}
	}
	if s.Breakers == nil {
		s.Breakers = []event.BreakerStatus{}
	}
	return s, nil
}

// spend returns today's (UTC) spend, cached for SpendTTL.
func (t *statusTracker) spend(ctx context.Context, now time.Time) []event.Spend {
	if t.o.Spend == nil {
		return []event.Spend{}
	}
	day := now.UTC().Truncate(24 * time.Hour)
	t.smu.Lock()
	defer t.smu.Unlock()
	if t.spendDay.Equal(day) && now.Sub(t.spendAt) < t.o.SpendTTL {
		return t.spendRows
	}
	rows, err := t.o.Spend(ctx, day)
	if err != nil {
		t.o.Logger.Warn("reading today's spend for the status failed", "error", err)
		if t.spendRows == nil || !t.spendDay.Equal(day) {
			return []event.Spend{}
		}
		return t.spendRows
	}
	if rows == nil {
		rows = []event.Spend{}
	}
	t.spendAt, t.spendDay, t.spendRows = now, day, rows
	return rows
}

// storeSpend reads the spend per model and key since a time from the
// store, with key names.
func storeSpend(st *store.Store) func(ctx context.Context, since time.Time) ([]event.Spend, error) {
	return func(ctx context.Context, since time.Time) ([]event.Spend, error) {
		rows, err := st.QueryUsage(ctx, store.UsageQuery{Since: since, By: []string{store.ByModel, store.ByKey}})
		if err != nil {
			return nil, err
		}
		keys, err := st.ListKeys(ctx, store.KeyFilter{IncludeRevoked: true})
		if err != nil {
			return nil, err
		}
		names := make(map[string]string, len(keys))
		for _, k := range keys {
			names[k.ID] = k.Name
		}
		out := make([]event.Spend, 0, len(rows))
		for _, r := range rows {
			out = append(out, event.Spend{
				Model: r.Model, KeyID: r.KeyID, KeyName: names[r.KeyID], Requests: r.Requests, Errors: r.Errors,
				InputTokens: r.InputTokens, CacheReadTokens: r.CacheReadTokens, CacheWriteTokens: r.CacheWriteTokens,
				OutputTokens: r.OutputTokens, CostUSD: r.CostUSD, Unpriced: r.UnpricedRequests,
			})
		}
		return out, nil
	}
}

// localSource is the dashboard's data source inside `xjp serve`: the
// tracker's snapshot and the broker's events. ingress.AdminClient is the
// same shape for a remote server.
type localSource struct {
	t *statusTracker
}

// Snapshot returns the server's state.
func (s localSource) Snapshot(ctx context.Context) (event.Snapshot, error) { return s.t.Snapshot(ctx) }

// Subscribe calls fn with every event until ctx ends; it returns nil then.
// A subscriber too slow for the broker loses progress events (and, far
// behind, must-deliver ones; see event.Subscription.Lagging).
func (s localSource) Subscribe(ctx context.Context, fn func(event.Event)) error {
	sub := s.t.o.Events.Subscribe()
	defer sub.Close()
	for {
		ev, ok := sub.Next(ctx.Done())
		if !ok {
			return nil
		}
		fn(ev)
	}
}
