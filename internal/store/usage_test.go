package store_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/store/storetest"
)

var day0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// fakeUsage returns n deterministic, varied usage records spread over ten
// days from day0.
func fakeUsage(seed uint64, n int) []llm.UsageRecord {
	r := rand.New(rand.NewPCG(seed, 42))
	models := []string{"demo", "gpt-4o", "claude-sonnet-4.5"}
	keys := []string{"key_aaaaaaaaaaaa", "key_bbbbbbbbbbbb", "key_cccccccccccc"}
	tenants := []string{"", "acme"}
	providers := []string{"openrouter", "clewdr"}
	endpoints := []string{"chat", "messages"}
	statuses := []int{200, 200, 200, 200, 429, 502, 499, 401}
	out := make([]llm.UsageRecord, n)
	for i := range out {
		status := statuses[r.IntN(len(statuses))]
		rec := llm.UsageRecord{
			Time:          day0.Add(time.Duration(r.Int64N(int64(10 * 24 * time.Hour)))).Truncate(time.Millisecond),
			RequestID:     fmt.Sprintf("req-%d-%d", seed, i),
			KeyID:         keys[r.IntN(len(keys))],
			Tenant:        tenants[r.IntN(len(tenants))],
			Model:         models[r.IntN(len(models))],
			Provider:      providers[r.IntN(len(providers))],
			UpstreamModel: "up-" + models[r.IntN(len(models))],
			Endpoint:      endpoints[r.IntN(len(endpoints))],
			Stream:        r.IntN(2) == 0,
			Latency:       time.Duration(r.IntN(5000)) * time.Millisecond,
			Status:        status,
			Attempts:      1 + r.IntN(3),
		}
		if status != 401 {
			rec.Usage = llm.Usage{
				InputTokens:      r.Int64N(5000),
				CacheReadTokens:  r.Int64N(3) * r.Int64N(10000),
				CacheWriteTokens: r.Int64N(2) * r.Int64N(2000),
				OutputTokens:     r.Int64N(2000),
				Estimated:        r.IntN(10) == 0,
			}
			rec.Usage.ReasoningTokens = rec.Usage.OutputTokens / 3
			rec.TTFT = time.Duration(1+r.IntN(900)) * time.Millisecond
			if rec.Model != "demo" || r.IntN(2) == 0 { // demo is often unpriced
				c := float64(r.IntN(100000)) / 1e6
				rec.CostUSD = &c
			}
		}
		if status >= 400 {
			rec.ErrorKind = llm.KindProviderServer
		}
		out[i] = rec
	}
	return out
}

// aggregate is the reference implementation of QueryUsage.
func aggregate(recs []llm.UsageRecord, q store.UsageQuery) map[string]store.UsageRow {
	out := map[string]store.UsageRow{}
	for _, r := range recs {
		if !q.Since.IsZero() && r.Time.Before(q.Since) || !q.Until.IsZero() && !r.Time.Before(q.Until) {
			continue
		}
		if q.KeyID != "" && r.KeyID != q.KeyID || q.Model != "" && r.Model != q.Model ||
			q.Tenant != "" && r.Tenant != q.Tenant || q.Provider != "" && r.Provider != q.Provider {
			continue
		}
		var g store.UsageRow
		for _, d := range q.By {
			switch d {
			case store.ByDay:
				g.Day = r.Time.UTC().Format(time.DateOnly)
			case store.ByModel:
				g.Model = r.Model
			case store.ByKey:
				g.KeyID = r.KeyID
			case store.ByTenant:
				g.Tenant = r.Tenant
			case store.ByProvider:
				g.Provider = r.Provider
			case store.ByUpstreamModel:
				g.UpstreamModel = r.UpstreamModel
			case store.ByEndpoint:
				g.Endpoint = r.Endpoint
			case store.ByStatus:
				g.Status = r.Status
			}
		}
		k := groupKey(g)
		a, ok := out[k]
		if !ok {
			a = g
		}
		a.Requests++
		if r.Status >= 400 {
			a.Errors++
		}
		u := r.Usage
		a.InputTokens += u.InputTokens
		a.CacheReadTokens += u.CacheReadTokens
		a.CacheWriteTokens += u.CacheWriteTokens
		a.OutputTokens += u.OutputTokens
		a.ReasoningTokens += u.ReasoningTokens
		cost := r.CostUSD
		if cost == nil {
			cost = u.CostUSD
		}
		if cost != nil && !math.IsNaN(*cost) {
			a.CostUSD += *cost
		} else if u.TotalTokens() > 0 {
			a.UnpricedRequests++
		}
		if u.Estimated {
			a.Estimated++
		}
		out[k] = a
	}
	return out
}

func groupKey(r store.UsageRow) string {
	return strings.Join([]string{r.Day, r.Model, r.KeyID, r.Tenant, r.Provider, r.UpstreamModel, r.Endpoint, fmt.Sprint(r.Status)}, "|")
}

func TestQueryUsage(t *testing.T) {
	t.Parallel()
	recs := fakeUsage(1, 1500)
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		if err := st.InsertUsage(ctx, recs[:700]); err != nil {
			t.Fatal(err)
		}
		if err := st.InsertUsage(ctx, recs[700:]); err != nil {
			t.Fatal(err)
		}
		groupings := [][]string{
			nil,
			{store.ByDay}, {store.ByModel}, {store.ByKey}, {store.ByTenant}, {store.ByProvider},
			{store.ByUpstreamModel}, {store.ByEndpoint}, {store.ByStatus},
			{store.ByDay, store.ByModel}, {store.ByModel, store.ByKey, store.ByTenant, store.ByProvider},
			store.UsageDimensions,
		}
		filters := []struct {
			name string
			q    store.UsageQuery
		}{
			{"all", store.UsageQuery{}},
			{"window", store.UsageQuery{Since: day0.Add(36 * time.Hour), Until: day0.Add(5 * 24 * time.Hour)}},
			{"whole days", store.UsageQuery{Since: day0.Add(2 * 24 * time.Hour), Until: day0.Add(5 * 24 * time.Hour)}},
			{"partial ends", store.UsageQuery{Since: day0.Add(30 * time.Hour), Until: day0.Add(5*24*time.Hour + 7*time.Hour)}},
			{"within a day", store.UsageQuery{Since: day0.Add(3*24*time.Hour + time.Hour), Until: day0.Add(3*24*time.Hour + 20*time.Hour)}},
			{"across one midnight", store.UsageQuery{Since: day0.Add(3*24*time.Hour - time.Hour), Until: day0.Add(3*24*time.Hour + time.Hour)}},
			{"a millisecond around days", store.UsageQuery{Since: day0.Add(4*24*time.Hour - time.Millisecond), Until: day0.Add(6*24*time.Hour + time.Millisecond)}},
			{"since mid-day", store.UsageQuery{Since: day0.Add(8*24*time.Hour + 13*time.Hour)}},
			{"until mid-day", store.UsageQuery{Until: day0.Add(2*24*time.Hour + 5*time.Hour)}},
			{"since", store.UsageQuery{Since: day0.Add(8 * 24 * time.Hour)}},
			{"until", store.UsageQuery{Until: day0.Add(24 * time.Hour)}},
			{"key", store.UsageQuery{KeyID: "key_bbbbbbbbbbbb"}},
			{"model", store.UsageQuery{Model: "demo"}},
			{"tenant", store.UsageQuery{Tenant: "acme"}},
			{"no tenant", store.UsageQuery{Tenant: ""}},
			{"provider", store.UsageQuery{Provider: "clewdr"}},
			{"combined", store.UsageQuery{Since: day0.Add(48 * time.Hour), KeyID: "key_aaaaaaaaaaaa", Model: "gpt-4o", Tenant: "acme", Provider: "openrouter"}},
			{"empty", store.UsageQuery{Model: "no-such-model"}},
		}
		for _, f := range filters {
			for _, by := range groupings {
				t.Run(f.name+"/"+strings.Join(by, ","), func(t *testing.T) {
					q := f.q
					q.By = by
					got, err := st.QueryUsage(ctx, q)
					if err != nil {
						t.Fatal(err)
					}
					want := aggregate(recs, q)
					if len(got) != len(want) {
						t.Fatalf("%d rows, want %d", len(got), len(want))
					}
					for _, g := range got {
						w, ok := want[groupKey(g)]
						if !ok {
							t.Fatalf("unexpected group %+v", g)
						}
						if math.Abs(g.CostUSD-w.CostUSD) > 1e-9 {
							t.Errorf("group %s cost %v, want %v", groupKey(g), g.CostUSD, w.CostUSD)
						}
						g.CostUSD, w.CostUSD = 0, 0
						if g != w {
							t.Errorf("group %s:\n got %+v\nwant %+v", groupKey(g), g, w)
						}
					}
					// Ordered by the group values (day first when present).
					if slices.Contains(by, store.ByDay) && by[0] == store.ByDay {
						if !slices.IsSortedFunc(got, func(a, b store.UsageRow) int { return strings.Compare(a.Day, b.Day) }) {
							t.Errorf("not ordered by day")
						}
					}
				})
			}
		}
	})
}

func TestQueryUsageInvalid(t *testing.T) {
	t.Parallel()
	st := storetest.Open(t, store.DriverSQLite)
	for _, q := range []store.UsageQuery{
		{By: []string{"model; DROP TABLE usage"}},
		{By: []string{"week"}},
		{Since: day0, Until: day0},
		{Since: day0.Add(time.Hour), Until: day0},
	} {
		if _, err := st.QueryUsage(t.Context(), q); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("%+v: err = %v, want ErrInvalid", q, err)
		}
	}
	// Case and duplicates are forgiven.
	if _, err := st.QueryUsage(t.Context(), store.UsageQuery{By: []string{"Model", "model", " day "}}); err != nil {
		t.Error(err)
	}
}

func TestUsageDayBoundaryUTC(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		midnight := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		tokyo := time.FixedZone("JST", 9*3600)
		recs := []llm.UsageRecord{
			{Time: midnight.Add(-time.Millisecond), Model: "m", Status: 200},
			{Time: midnight, Model: "m", Status: 200},
			{Time: midnight.Add(time.Hour).In(tokyo), Model: "m", Status: 200}, // 10:00 JST, still 2026-03-01 UTC
			{Time: time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC), Model: "m", Status: 200},
		}
		if err := st.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		rows, err := st.QueryUsage(ctx, store.UsageQuery{By: []string{store.ByDay}})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rows {
			got = append(got, fmt.Sprintf("%s=%d", r.Day, r.Requests))
		}
		if want := "1999-12-31=1 2026-02-28=1 2026-03-01=2"; strings.Join(got, " ") != want {
			t.Errorf("got %q, want %q", strings.Join(got, " "), want)
		}
		// Since is inclusive and Until exclusive, to the millisecond, on
		// whole days (usage_daily) and partial ones (usage).
		for _, tt := range []struct {
			since, until time.Time
			want         int64
		}{
			{midnight, midnight.Add(time.Millisecond), 1},
			{midnight.Add(-time.Millisecond), midnight, 1},
			{midnight, midnight.Add(24 * time.Hour), 2},
			{midnight.Add(-time.Millisecond), midnight.Add(24 * time.Hour), 3},
			{midnight.Add(-24 * time.Hour), midnight.Add(-time.Millisecond), 0},
			{time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), 1},
		} {
			rows, err := st.QueryUsage(ctx, store.UsageQuery{Since: tt.since, Until: tt.until})
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, r := range rows {
				n += r.Requests
			}
			if n != tt.want {
				t.Errorf("[%v, %v): %d requests, want %d", tt.since, tt.until, n, tt.want)
			}
		}
	})
}

func TestUsageNullCost(t *testing.T) {
	t.Parallel()
	eachOpts(t, nil, func(t *testing.T, st *store.Store, o store.Options) {
		ctx := t.Context()
		tokens := llm.Usage{InputTokens: 10, OutputTokens: 5}
		recs := []llm.UsageRecord{
			{RequestID: "priced", CostUSD: ptr(0.25), Usage: tokens},
			{RequestID: "free", CostUSD: ptr(0.0), Usage: tokens},                                              // a known price of 0
			{RequestID: "unpriced", Usage: tokens},                                                             // no price: NULL
			{RequestID: "refused", Status: 401},                                                                // no tokens, no cost
			{RequestID: "upstream-cost", Usage: llm.Usage{InputTokens: 1, CostUSD: ptr(0.5)}},                  // from Usage
			{RequestID: "nan", CostUSD: ptr(math.NaN()), Usage: tokens},                                        // stored as unknown
			{RequestID: "record-wins", CostUSD: ptr(1.0), Usage: llm.Usage{InputTokens: 1, CostUSD: ptr(9.0)}}, // record's cost wins
		}
		for i := range recs {
			recs[i].Time = day0
			recs[i].Model = "m"
		}
		if err := st.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		rows, err := st.QueryUsage(ctx, store.UsageQuery{})
		if err != nil || len(rows) != 1 {
			t.Fatalf("%v %v", rows, err)
		}
		r := rows[0]
		if r.Requests != 7 || r.UnpricedRequests != 2 || math.Abs(r.CostUSD-1.75) > 1e-12 {
			t.Errorf("requests %d unpriced %d cost %v; want 7, 2, 1.75", r.Requests, r.UnpricedRequests, r.CostUSD)
		}
		db := rawDB(t, o)
		wantNull := map[string]bool{"priced": false, "free": false, "unpriced": true, "refused": true,
			"upstream-cost": false, "nan": true, "record-wins": false}
		for id, want := range wantNull {
			var isNull bool
			q := "SELECT cost_usd IS NULL FROM usage WHERE request_id = ?"
			if o.Driver == store.DriverPostgres {
				q = "SELECT cost_usd IS NULL FROM usage WHERE request_id = $1"
			}
			if err := db.QueryRowContext(ctx, q, id).Scan(&isNull); err != nil {
				t.Fatal(err)
			}
			if isNull != want {
				t.Errorf("%s: cost_usd IS NULL = %v, want %v", id, isNull, want)
			}
		}
	})
}

func TestInsertUsageChunksAndCleansText(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		// 2600 rows in one call: three INSERT statements (1000-row chunks),
		// where one statement would pass SQLite's 32766 variables.
		recs := fakeUsage(7, 2600)
		recs[5].Model = "bad\x00model\xff"
		recs[6].RequestID = strings.Repeat("é", 1000)
		recs[7].Time = time.Time{} // now
		if err := st.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		rows, err := st.QueryUsage(ctx, store.UsageQuery{})
		if err != nil {
			t.Fatal(err)
		}
		if rows[0].Requests != 2600 {
			t.Errorf("requests %d, want 2600", rows[0].Requests)
		}
		rows, err = st.QueryUsage(ctx, store.UsageQuery{Model: "badmodel\uFFFD"})
		if err != nil || len(rows) != 1 {
			t.Errorf("cleaned model: %v %v", rows, err)
		}
		rows, err = st.QueryUsage(ctx, store.UsageQuery{Since: time.Now().Add(-time.Hour)})
		if err != nil || len(rows) != 1 || rows[0].Requests != 1 {
			t.Errorf("zero time stored as now: %v %v", rows, err)
		}
		if err := st.InsertUsage(ctx, nil); err != nil {
			t.Error(err)
		}
	})
}

func TestUsageSince(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := t.Context()
		u := llm.Usage{InputTokens: 100, CacheReadTokens: 20, CacheWriteTokens: 3, OutputTokens: 7, ReasoningTokens: 5}
		recs := []llm.UsageRecord{
			{Time: day0.Add(-time.Millisecond), KeyID: "a", Tenant: "t", Usage: u}, // yesterday
			{Time: day0, KeyID: "a", Tenant: "t", Usage: u},
			{Time: day0.Add(5 * time.Hour), KeyID: "a", Tenant: "t", Usage: u},
			{Time: day0.Add(6 * time.Hour), KeyID: "b", Tenant: "t", Usage: u},
			{Time: day0.Add(7 * time.Hour), KeyID: "c", Tenant: "other", Usage: u},
		}
		if err := st.InsertUsage(ctx, recs); err != nil {
			t.Fatal(err)
		}
		for _, tt := range []struct {
			name string
			fn   func() (int64, error)
			want int64
		}{
			{"key today", func() (int64, error) { return st.UsageSince(ctx, "a", day0) }, 260},
			{"key all", func() (int64, error) { return st.UsageSince(ctx, "a", time.Time{}) }, 390},
			{"key unknown", func() (int64, error) { return st.UsageSince(ctx, "zzz", day0) }, 0},
			{"tenant today", func() (int64, error) { return st.TenantUsageSince(ctx, "t", day0) }, 390},
			{"tenant later", func() (int64, error) { return st.TenantUsageSince(ctx, "other", day0.Add(8*time.Hour)) }, 0},
		} {
			got, err := tt.fn()
			if err != nil || got != tt.want {
				t.Errorf("%s = %d, %v; want %d", tt.name, got, err, tt.want)
			}
		}
	})
}

// TestInsertUsageConcurrentReplicas: writers on two stores (two replicas)
// add to the same daily sums at once, their rows in different orders. The
// sums are upserted in key order, so Postgres never reports a deadlock, and
// no addition is lost.
func TestInsertUsageConcurrentReplicas(t *testing.T) {
	t.Parallel()
	eachOpts(t, nil, func(t *testing.T, st *store.Store, o store.Options) {
		other := openStore(t, o)
		ctx := t.Context()
		models := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
		var wg sync.WaitGroup
		const writers, rounds, rows = 8, 15, 40
		for g := range writers {
			s := st
			if g%2 == 1 {
				s = other
			}
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(g), 1))
				for range rounds {
					batch := make([]llm.UsageRecord, rows)
					for i := range batch {
						batch[i] = llm.UsageRecord{Time: day0.Add(time.Hour), Model: models[r.IntN(len(models))],
							KeyID: "k", Status: 200, Usage: llm.Usage{InputTokens: 1}}
					}
					if err := s.InsertUsage(ctx, batch); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		got, err := st.QueryUsage(ctx, store.UsageQuery{})
		if err != nil || len(got) != 1 || got[0].Requests != writers*rounds*rows || got[0].InputTokens != writers*rounds*rows {
			t.Errorf("%+v %v; want %d requests", got, err, writers*rounds*rows)
		}
	})
}
