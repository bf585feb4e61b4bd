package store_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/store/storetest"
)

var (
	large         = flag.Bool("large", false, "run TestQueryUsageLarge: seed a year of usage (-large.rows) and time the common reports")
	largeRows     = flag.Int("large.rows", 5_000_000, "rows TestQueryUsageLarge seeds")
	largeDB       = flag.String("large.db", "", "SQLite file for TestQueryUsageLarge, kept and reused when it exists")
	largePostgres = flag.Bool("large.postgres", false, "TestQueryUsageLarge also runs on Postgres")
)

// TestQueryUsageLarge seeds a year of a busy laptop's usage (5 million rows
// by default) and times the common reports. Opt in:
//
//	go test ./internal/store -run TestQueryUsageLarge -large -v [-large.db /tmp/xjp-large.db] [-large.postgres]
func TestQueryUsageLarge(t *testing.T) {
	if !*large {
		t.Skip("opt-in: -large")
	}
	drivers := []string{store.DriverSQLite}
	if *largePostgres {
		drivers = append(drivers, store.DriverPostgres)
	}
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			o := storetest.Options(t, d)
			if d == store.DriverSQLite && *largeDB != "" {
				o.DSN = *largeDB
			}
			st := openStore(t, o)
			end := seedLarge(t, st, rawDB(t, o), *largeRows)
			timeReports(t, st, o, end)
		})
	}
}

// seedLarge fills st with n rows over the year before now, unless it holds
// them already, and returns the end of the seeded range.
func seedLarge(t *testing.T, st *store.Store, db *sql.DB, n int) time.Time {
	t.Helper()
	ctx := context.Background()
	rows, err := st.QueryUsage(ctx, store.UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 1 && rows[0].Requests >= int64(n) {
		// Reuse: the seeded range ended at the hour after the newest row.
		var newest int64
		if err := db.QueryRowContext(ctx, "SELECT MAX(ts) FROM usage").Scan(&newest); err != nil {
			t.Fatal(err)
		}
		t.Logf("reusing %d rows", rows[0].Requests)
		return time.UnixMilli(newest).UTC().Truncate(time.Hour).Add(time.Hour)
	}
	end := time.Now().UTC().Truncate(time.Hour)
	start := end.Add(-365 * 24 * time.Hour)
	r := rand.New(rand.NewPCG(1, 2))
	// Zipf-like: a few models and keys take most of the traffic.
	models := make([]string, 30)
	for i := range models {
		models[i] = fmt.Sprintf("model-%02d", i)
	}
	keys := make([]string, 25)
	for i := range keys {
		keys[i] = fmt.Sprintf("key_%012d", i)
	}
	tenants := []string{"", "", "", "acme", "globex"}
	providers := []string{"openrouter", "clewdr", "vertex", "anthropic", "demo"}
	endpoints := []string{"chat", "chat", "messages", "responses"}
	zm := rand.NewZipf(r, 1.2, 1, uint64(len(models)-1))
	zk := rand.NewZipf(r, 1.1, 1, uint64(len(keys)-1))
	const chunk = 20_000
	began := time.Now()
	batch := make([]llm.UsageRecord, 0, chunk)
	span := end.Sub(start)
	for i := range n {
		// Timestamps increase with i, as the writer appends them.
		ts := start.Add(time.Duration(float64(span) * (float64(i) + r.Float64()) / float64(n)))
		u := llm.Usage{InputTokens: r.Int64N(4000), OutputTokens: r.Int64N(1500)}
		if r.IntN(3) == 0 {
			u.CacheReadTokens = r.Int64N(30000)
		}
		// A key belongs to one tenant; a model is served by one provider,
		// sometimes by a fallback.
		k, m := int(zk.Uint64()), int(zm.Uint64())
		p := m % len(providers)
		if r.IntN(20) == 0 {
			p = (p + 1) % len(providers)
		}
		rec := llm.UsageRecord{
			Time: ts, RequestID: fmt.Sprintf("req_%09d", i), KeyID: keys[k], Tenant: tenants[k%len(tenants)],
			Model: models[m], Provider: providers[p], UpstreamModel: providers[p] + "/" + models[m],
			Endpoint: endpoints[r.IntN(len(endpoints))], Stream: r.IntN(4) != 0,
			Usage: u, Latency: time.Duration(r.IntN(20000)) * time.Millisecond, TTFT: time.Duration(r.IntN(2000)) * time.Millisecond,
			Status: 200, Attempts: 1,
		}
		if r.IntN(50) == 0 {
			rec.Status, rec.ErrorKind = 502, llm.KindProviderServer
		}
		if r.IntN(10) != 0 {
			c := float64(u.InputTokens)*3e-6 + float64(u.OutputTokens)*15e-6
			rec.CostUSD = &c
		}
		batch = append(batch, rec)
		if len(batch) == chunk || i == n-1 {
			if err := st.InsertUsage(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	d := time.Since(began)
	t.Logf("seeded %d rows in %v (%.0f rows/s)", n, d.Round(time.Millisecond), float64(n)/d.Seconds())
	if st.Driver() == store.DriverPostgres {
		// What autovacuum does on a live database: without statistics the
		// planner guesses, and scans.
		if _, err := db.ExecContext(ctx, "ANALYZE"); err != nil {
			t.Fatal(err)
		}
	}
	return end
}

func timeReports(t *testing.T, st *store.Store, o store.Options, end time.Time) {
	t.Helper()
	ctx := context.Background()
	day := 24 * time.Hour
	today := end.Truncate(day)
	reports := []struct {
		name string
		q    store.UsageQuery
	}{
		{"last 24h by model", store.UsageQuery{Since: end.Add(-day), By: []string{store.ByModel}}},
		{"7d by day,model", store.UsageQuery{Since: end.Add(-7 * day), By: []string{store.ByDay, store.ByModel}}},
		{"30d by key", store.UsageQuery{Since: end.Add(-30 * day), By: []string{store.ByKey}}},
		{"30d by day for one key", store.UsageQuery{Since: end.Add(-30 * day), KeyID: "key_000000000003", By: []string{store.ByDay}}},
		{"30d by provider for a tenant", store.UsageQuery{Since: end.Add(-30 * day), Tenant: "acme", By: []string{store.ByProvider}}},
		{"365d by model", store.UsageQuery{Since: end.Add(-365 * day), By: []string{store.ByModel}}},
		{"365d by day", store.UsageQuery{Since: end.Add(-365 * day), By: []string{store.ByDay}}},
	}
	db := rawDB(t, o)
	var report strings.Builder
	fmt.Fprintf(&report, "%s:\n", o.Driver)
	for _, r := range reports {
		var times, cpus []time.Duration
		var rows []store.UsageRow
		for range 5 {
			began, cpu := time.Now(), cpuTime()
			var err error
			rows, err = st.QueryUsage(ctx, r.q)
			if err != nil {
				t.Fatal(err)
			}
			times = append(times, time.Since(began))
			cpus = append(cpus, cpuTime()-cpu)
		}
		first := times[0]
		slices.Sort(times)
		slices.Sort(cpus)
		var n int64
		for _, row := range rows {
			n += row.Requests
		}
		plan := ""
		qs, args, _ := st.UsageQuerySQL(r.q)
		for i := range qs {
			plan += queryPlan(t, db, o.Driver, qs[i], args[i])
		}
		// On SQLite the query runs in this process: its CPU time is a
		// measure that other load on the machine does not distort.
		fmt.Fprintf(&report, "  %-30s median %8v (first %8v, this process' CPU %8v)  %4d groups over %8d rows  %s\n",
			r.name, times[2].Round(time.Millisecond), first.Round(time.Millisecond), cpus[2].Round(time.Millisecond), len(rows), n, plan)
	}
	for _, q := range []struct {
		name string
		fn   func() (int64, error)
	}{
		{"UsageSince(key, today)", func() (int64, error) { return st.UsageSince(ctx, "key_000000000001", today) }},
		{"TenantUsageSince(acme, today)", func() (int64, error) { return st.TenantUsageSince(ctx, "acme", today) }},
	} {
		began := time.Now()
		n, err := q.fn()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&report, "  %-30s %8v  %d tokens\n", q.name, time.Since(began).Round(time.Microsecond), n)
	}
	t.Log("\n" + report.String())
}

// cpuTime is the user and system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// queryPlan summarises how the database runs q: SQLite's EXPLAIN QUERY
// PLAN, or the scan nodes of Postgres' EXPLAIN.
func queryPlan(t *testing.T, db *sql.DB, driver, q string, args []any) string {
	t.Helper()
	explain := "EXPLAIN QUERY PLAN "
	if driver == store.DriverPostgres {
		explain = "EXPLAIN (COSTS OFF) "
	}
	rows, err := db.Query(explain+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var steps []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		line := strings.TrimSpace(fmt.Sprint(vals[len(vals)-1]))
		if driver == store.DriverPostgres && !strings.Contains(line, "Scan") {
			continue
		}
		steps = append(steps, strings.TrimPrefix(line, "-> "))
	}
	return "[" + strings.Join(steps, "; ") + "]"
}
