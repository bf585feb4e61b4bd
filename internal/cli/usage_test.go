package cli

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
	"github.com/rickyjim626/xjp/internal/store"
)

// usageNow is the clock of the usage tests: 14:30 UTC on 5 November 2026.
var usageNow = time.Date(2026, 11, 5, 14, 30, 0, 0, time.UTC)

func TestNewCmdUsage(t *testing.T) {
	day := func(s string) time.Time { tm, _ := time.Parse(time.DateOnly, s); return tm }
	tests := []struct {
		args    string
		want    usageOptions // since, until, By, Key, Model, Tenant, Provider, JSON, CSV
		wantErr string
	}{
		{args: "", want: usageOptions{since: usageNow.Add(-24 * time.Hour)}},
		{args: "--since 7d --by day,model", want: usageOptions{since: usageNow.Add(-7 * 24 * time.Hour), By: []string{"day", "model"}}},
		{args: "--since 1d12h --until 90m", want: usageOptions{since: usageNow.Add(-36 * time.Hour), until: usageNow.Add(-90 * time.Minute)}},
		{args: "--since 2026-11-01 --until 2026-11-05", want: usageOptions{since: day("2026-11-01"), until: day("2026-11-05")}},
		{args: "--since 2026-11-01T08:00:00+02:00 --until 2026-11-01T09:30", want: usageOptions{
			since: time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC), until: time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)}},
		{args: "--by status,model,status --json", want: usageOptions{since: usageNow.Add(-24 * time.Hour), By: []string{"status", "model"}, JSON: true}},
		{args: "--by day,model,key,tenant,provider,upstream_model,endpoint,status --csv", want: usageOptions{
			since: usageNow.Add(-24 * time.Hour), By: usageDimensions, CSV: true}},
		{args: "--key key_a --model m --tenant acme --provider demo", want: usageOptions{
			since: usageNow.Add(-24 * time.Hour), Key: "key_a", Model: "m", Tenant: "acme", Provider: "demo"}},
		{args: "--by ,model,", want: usageOptions{since: usageNow.Add(-24 * time.Hour), By: []string{"model"}}},

		{args: "--by nope", wantErr: `--by "nope": want any of day, model, key, tenant, provider, upstream_model, endpoint, status`},
		{args: "--by day,Model", wantErr: `--by "Model": want any of`},
		{args: "--since yesterday", wantErr: `--since: invalid time "yesterday": use a duration such as 24h or 7d, or a date such as 2026-11-01`},
		{args: "--since -1h", wantErr: `--since: "-1h" is negative`},
		{args: "--since 2026-02-30", wantErr: `--since: invalid time "2026-02-30"`},
		{args: "--until soon", wantErr: `--until: invalid time "soon"`},
		{args: "--until -5m", wantErr: `--until: "-5m" is negative`},
		{args: "--since 1h --until 2h", wantErr: "--until must be after --since"},
		{args: "--since 2026-11-04 --until 2026-11-04", wantErr: "--until must be after --since"},
		{args: "--json --csv", wantErr: "--json and --csv exclude each other"},
		{args: "--json=maybe", wantErr: `invalid argument "maybe" for "--json" flag`},
		{args: "--key", wantErr: "flag needs an argument: --key"},
		{args: "--nope", wantErr: "unknown flag: --nope"},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			ios, _, _, _ := TestIO()
			f := NewFactory(ios)
			f.Now = func() time.Time { return usageNow }
			var got *usageOptions
			cmd := newCmdUsage(f, func(o *usageOptions) error { got = o; return nil })
			cmd.SetArgs(strings.Fields(tt.args))
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			w := tt.want
			if !got.since.Equal(w.since) || !got.until.Equal(w.until) || !slices.Equal(got.By, w.By) || got.Key != w.Key ||
				got.Model != w.Model || got.Tenant != w.Tenant || got.Provider != w.Provider || got.JSON != w.JSON || got.CSV != w.CSV {
				t.Errorf("parsed since %v until %v by %q key %q model %q tenant %q provider %q json %v csv %v\nwant   since %v until %v by %q key %q model %q tenant %q provider %q json %v csv %v",
					got.since, got.until, got.By, got.Key, got.Model, got.Tenant, got.Provider, got.JSON, got.CSV,
					w.since, w.until, w.By, w.Key, w.Model, w.Tenant, w.Provider, w.JSON, w.CSV)
			}
		})
	}
}

// usageSeed is a store with two keys and five usage rows over five weeks,
// written as the gateway writes them.
type usageSeed struct {
	dir        string
	alice, bob store.Key
	recs       []llm.UsageRecord
	names      map[string]string
	run, tty   cliRun // without and with a terminal
}

func seedUsage(t *testing.T) *usageSeed {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{Driver: store.DriverSQLite, DSN: filepath.Join(dir, "xjp.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	alice, _, err := st.CreateKey(ctx, store.NewKey{Name: "alice", Tenant: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	bob, _, err := st.CreateKey(ctx, store.NewKey{Name: "bob", Tenant: "t2"})
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time { tm, _ := time.Parse(time.RFC3339, s); return tm }
	cost := func(c float64) *float64 { return &c }
	gpt := func(tm, key, tenant string, u llm.Usage, c float64) llm.UsageRecord {
		return llm.UsageRecord{Time: at(tm), RequestID: "r-" + tm, KeyID: key, Tenant: tenant, Model: "priced", Provider: "openrouter",
			UpstreamModel: "openai/gpt-4o", Endpoint: "chat", Usage: u, CostUSD: cost(c), Status: 200, Attempts: 1, Latency: time.Second}
	}
	recs := []llm.UsageRecord{
		gpt("2026-10-01T09:00:00Z", alice.ID, "t1", llm.Usage{InputTokens: 100, OutputTokens: 50}, 0.00105),
		gpt("2026-11-03T10:00:00Z", alice.ID, "t1", llm.Usage{InputTokens: 1000, OutputTokens: 500}, 0.0105),
		{Time: at("2026-11-04T12:00:00Z"), RequestID: "r-est", KeyID: bob.ID, Tenant: "t2", Model: "unpriced", Provider: "demo",
			UpstreamModel: "demo", Endpoint: "messages", Stream: true, Usage: llm.Usage{InputTokens: 200, OutputTokens: 100, Estimated: true},
			Status: 200, Attempts: 1},
		{Time: at("2026-11-05T13:00:00Z"), RequestID: "r-502", KeyID: alice.ID, Tenant: "t1", Model: "unpriced", Provider: "demo",
			UpstreamModel: "demo", Endpoint: "chat", Status: 502, ErrorKind: llm.KindProviderServer, Attempts: 2},
		gpt("2026-11-05T14:00:00Z", bob.ID, "t2", llm.Usage{InputTokens: 10, CacheReadTokens: 5, CacheWriteTokens: 3, OutputTokens: 20,
			ReasoningTokens: 4}, 0.0003),
	}
	if err := st.InsertUsage(ctx, recs); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return usageNow }
	return &usageSeed{
		dir: dir, alice: alice, bob: bob, recs: recs,
		names: map[string]string{alice.ID: "alice", bob.ID: "bob"},
		run:   cliRun{dir: dir, now: now},
		tty:   cliRun{dir: dir, now: now, tty: true},
	}
}

// expect computes what `xjp usage --json` must report for the seed rows
// in [since, until) that pass keep, grouped by by (in the order given: the
// order rows are sorted in).
func (s *usageSeed) expect(by []string, since, until time.Time, keep func(llm.UsageRecord) bool) []usageView {
	var dims []string
	for _, d := range by {
		if !slices.Contains(dims, d) {
			dims = append(dims, d)
		}
	}
	groups := map[usageView]*usageView{}
	var order []usageView
	for _, r := range s.recs {
		if r.Time.Before(since) || !until.IsZero() && !r.Time.Before(until) || keep != nil && !keep(r) {
			continue
		}
		var g usageView
		for _, d := range dims {
			switch d {
			case store.ByDay:
				g.Day = r.Time.UTC().Format(time.DateOnly)
			case store.ByModel:
				g.Model = r.Model
			case store.ByKey:
				g.KeyID, g.KeyName = r.KeyID, s.names[r.KeyID]
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
		v := groups[g]
		if v == nil {
			v = &usageView{}
			*v = g
			groups[g] = v
			order = append(order, g)
		}
		u := r.Usage
		v.Requests++
		if r.Status >= 400 {
			v.Errors++
		}
		v.InputTokens += u.InputTokens
		v.CacheReadTokens += u.CacheReadTokens
		v.CacheWriteTokens += u.CacheWriteTokens
		v.OutputTokens += u.OutputTokens
		v.ReasoningTokens += u.ReasoningTokens
		if r.CostUSD != nil {
			v.CostUSD = ptr(deref(v.CostUSD) + *r.CostUSD)
		} else if u.TotalTokens() > 0 {
			v.Unpriced++
		}
		if u.Estimated {
			v.Estimated++
		}
	}
	slices.SortFunc(order, func(a, b usageView) int {
		for _, d := range dims {
			var c int
			switch d {
			case store.ByDay:
				c = strings.Compare(a.Day, b.Day)
			case store.ByModel:
				c = strings.Compare(a.Model, b.Model)
			case store.ByKey:
				c = strings.Compare(a.KeyID, b.KeyID)
			case store.ByTenant:
				c = strings.Compare(a.Tenant, b.Tenant)
			case store.ByProvider:
				c = strings.Compare(a.Provider, b.Provider)
			case store.ByUpstreamModel:
				c = strings.Compare(a.UpstreamModel, b.UpstreamModel)
			case store.ByEndpoint:
				c = strings.Compare(a.Endpoint, b.Endpoint)
			case store.ByStatus:
				c = cmp.Compare(a.Status, b.Status)
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	out := []usageView{}
	for _, g := range order {
		v := *groups[g]
		v.CostIsLowerBound = v.Unpriced > 0
		if v.Unpriced == v.Requests && v.CostUSD == nil {
			v.CostUSD = nil // nothing had a price
		} else if v.CostUSD == nil {
			v.CostUSD = ptr(0.0) // a lower bound, or nothing spent
		}
		out = append(out, v)
	}
	return out
}

func sameUsage(t *testing.T, what string, got, want []usageView) {
	t.Helper()
	norm := func(vs []usageView) []usageView {
		out := slices.Clone(vs)
		for i := range out {
			if out[i].CostUSD != nil {
				c := math.Round(*out[i].CostUSD*1e9) / 1e9
				out[i].CostUSD = &c
			}
		}
		return out
	}
	g, w := norm(got), norm(want)
	if !slices.EqualFunc(g, w, func(a, b usageView) bool {
		ac, bc := a.CostUSD, b.CostUSD
		a.CostUSD, b.CostUSD = nil, nil
		return a == b && (ac == nil) == (bc == nil) && (ac == nil || *ac == *bc)
	}) {
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		t.Errorf("%s:\n got %s\nwant %s", what, gj, wj)
	}
}

func (s *usageSeed) report(t *testing.T, args ...string) []usageView {
	t.Helper()
	return s.run.usageReport(t, args...)
}

// `xjp usage` groups by every dimension and any combination of them.
func TestUsageBy(t *testing.T) {
	s := seedUsage(t)
	all := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	var cases [][]string
	for _, d := range usageDimensions {
		cases = append(cases, []string{d})
	}
	cases = append(cases, nil, []string{"day", "model"}, []string{"model", "day"}, []string{"key", "tenant"},
		[]string{"provider", "upstream_model", "endpoint", "status"}, []string{"tenant", "status", "day"},
		[]string{"model", "model"}, usageDimensions)
	for _, by := range cases {
		name := strings.Join(by, ",")
		t.Run("by "+name, func(t *testing.T) {
			got := s.report(t, "--since", "2026-09-01", "--by", name)
			want := s.expect(by, all, time.Time{}, nil)
			sameUsage(t, "--by "+name, got, want)
			var n int64
			for _, v := range got {
				n += v.Requests
			}
			if n != 5 {
				t.Errorf("--by %s: %d requests in all, want 5", name, n)
			}
		})
	}
	// Named checks, not only the model above.
	if got := s.report(t, "--since", "2026-09-01", "--by", "day"); len(got) != 4 || got[0].Day != "2026-10-01" || got[3].Day != "2026-11-05" || got[3].Requests != 2 {
		t.Errorf("--by day: %+v", got)
	}
	if got := s.report(t, "--since", "2026-09-01", "--by", "key"); len(got) != 2 || got[0].KeyName == "" || got[0].KeyName == got[1].KeyName {
		t.Errorf("--by key names the keys: %+v", got)
	}
}

// --since and --until take durations back from now and dates (UTC); the
// range is [since, until).
func TestUsageTimeRange(t *testing.T) {
	s := seedUsage(t)
	h := time.Hour
	at := func(v string) time.Time { tm, _ := time.Parse(time.RFC3339, v); return tm }
	for _, tt := range []struct {
		args         []string
		since, until time.Time
		rows         int
	}{
		{nil, usageNow.Add(-24 * h), time.Time{}, 2},
		{[]string{"--since", "7d"}, usageNow.Add(-7 * 24 * h), time.Time{}, 4},
		{[]string{"--since", "1d12h"}, usageNow.Add(-36 * h), time.Time{}, 3},
		{[]string{"--since", "2d", "--until", "1d"}, usageNow.Add(-48 * h), usageNow.Add(-24 * h), 1},
		{[]string{"--until", "1h"}, usageNow.Add(-24 * h), usageNow.Add(-h), 1},
		{[]string{"--since", "2026-11-04", "--until", "2026-11-05"}, at("2026-11-04T00:00:00Z"), at("2026-11-05T00:00:00Z"), 1},
		// since is inclusive, until exclusive.
		{[]string{"--since", "2026-11-04T12:00:00Z", "--until", "2026-11-05T13:00"}, at("2026-11-04T12:00:00Z"), at("2026-11-05T13:00:00Z"), 1},
		{[]string{"--since", "2026-11-03T11:00:00+01:00", "--until", "2026-11-05T13:00:01Z"}, at("2026-11-03T10:00:00Z"), at("2026-11-05T13:00:01Z"), 3},
		{[]string{"--since", "2026-09-01"}, at("2026-09-01T00:00:00Z"), time.Time{}, 5},
		{[]string{"--since", "2026-01-01", "--until", "2026-02-01"}, at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z"), 0},
	} {
		name := strings.Join(tt.args, " ")
		t.Run(name, func(t *testing.T) {
			got := s.report(t, append(tt.args, "--by", "day,model,status")...)
			sameUsage(t, name, got, s.expect([]string{"day", "model", "status"}, tt.since, tt.until, nil))
			var n int64
			for _, v := range got {
				n += v.Requests
			}
			if n != int64(tt.rows) {
				t.Errorf("%s: %d requests, want %d", name, n, tt.rows)
			}
		})
	}
}

// --key, --model, --tenant and --provider filter, alone and together.
func TestUsageFilters(t *testing.T) {
	s := seedUsage(t)
	all := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		args []string
		keep func(llm.UsageRecord) bool
		rows int64
	}{
		{[]string{"--key", s.alice.ID}, func(r llm.UsageRecord) bool { return r.KeyID == s.alice.ID }, 3},
		{[]string{"--model", "unpriced"}, func(r llm.UsageRecord) bool { return r.Model == "unpriced" }, 2},
		{[]string{"--tenant", "t2"}, func(r llm.UsageRecord) bool { return r.Tenant == "t2" }, 2},
		{[]string{"--provider", "openrouter"}, func(r llm.UsageRecord) bool { return r.Provider == "openrouter" }, 3},
		{[]string{"--key", s.alice.ID, "--model", "priced"}, func(r llm.UsageRecord) bool { return r.KeyID == s.alice.ID && r.Model == "priced" }, 2},
		{[]string{"--tenant", "t1", "--provider", "demo"}, func(r llm.UsageRecord) bool { return r.Tenant == "t1" && r.Provider == "demo" }, 1},
		{[]string{"--model", "nope"}, func(llm.UsageRecord) bool { return false }, 0},
	} {
		name := strings.Join(tt.args, " ")
		t.Run(name, func(t *testing.T) {
			args := append([]string{"--since", "2026-09-01", "--by", "key,model"}, tt.args...)
			got := s.report(t, args...)
			sameUsage(t, name, got, s.expect([]string{"key", "model"}, all, time.Time{}, tt.keep))
			var n int64
			for _, v := range got {
				n += v.Requests
			}
			if n != tt.rows {
				t.Errorf("%s: %d requests, want %d", name, n, tt.rows)
			}
		})
	}
	// No match: nothing on stdout, with or without a terminal.
	if out := s.run.ok(t, "usage", "--model", "nope"); out != "" {
		t.Errorf("no match, TSV: %q", out)
	}
	if _, out, errOut := s.tty.run(t, "usage", "--since", "2026-01-01", "--until", "2026-02-01"); out != "" || errOut != "No usage since 2026-01-01T00:00:00Z.\n" {
		t.Errorf("no match, TTY: stdout %q stderr %q", out, errOut)
	}
}

// The output formats: aligned table with headers and the unpriced warning
// on a terminal, TSV without one, --json, --csv.
func TestUsageFormats(t *testing.T) {
	s := seedUsage(t)

	// TSV without a terminal: no headers, no warning; cost "+" marks a
	// lower bound (some requests had no price).
	code, out, errOut := s.run.run(t, "usage", "--since", "7d", "--by", "model")
	wantTSV := "priced\t2\t0\t1010\t5\t3\t520\t4\t$0.01\t0\t0\n" +
		"unpriced\t2\t1\t200\t0\t0\t100\t0\t$0+\t1\t1\n"
	if code != ExitOK || out != wantTSV || errOut != "" {
		t.Errorf("TSV: exit %d\n got %q\nwant %q\nstderr %q", code, out, wantTSV, errOut)
	}
	if out := s.run.ok(t, "usage"); out != "2\t1\t10\t5\t3\t20\t4\t$0.0003\t0\t0\n" {
		t.Errorf("TSV, the last 24h in one row: %q", out)
	}
	// Columns follow the dimensions' order whatever the order of --by; a
	// group of only unpriced requests has cost "?" (unknown).
	if out := s.run.ok(t, "usage", "--since", "7d", "--by", "status,model"); out != "priced\t200\t2\t0\t1010\t5\t3\t520\t4\t$0.01\t0\t0\n"+
		"unpriced\t200\t1\t0\t200\t0\t0\t100\t0\t?\t1\t1\n"+"unpriced\t502\t1\t1\t0\t0\t0\t0\t0\t$0\t0\t0\n" {
		t.Errorf("TSV --by status,model:\n%s", out)
	}

	// A terminal: upper-case headers, aligned columns, then the row count
	// and the models without a price on stderr.
	code, out, errOut = s.tty.run(t, "usage", "--since", "7d", "--by", "model")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != ExitOK || len(lines) != 3 || !strings.HasPrefix(lines[0], "MODEL     REQUESTS  ERRORS  INPUT  CACHE READ  CACHE WRITE  OUTPUT  REASONING  COST   UNPRICED  ESTIMATED") {
		t.Errorf("table: exit %d\n%s", code, out)
	}
	checkAligned(t, lines)
	if !strings.HasPrefix(lines[2], "unpriced  2 ") || !strings.Contains(lines[2], " $0+ ") {
		t.Errorf("table row: %q", lines[2])
	}
	if !strings.HasPrefix(errOut, "\n2 rows in ") || !strings.HasSuffix(errOut,
		". No price for unpriced: their cost is unknown (add price = {…} to the model in the config).\n") {
		t.Errorf("table stderr %q, want the unpriced warning", errOut)
	}
	// Without --by model the warning says to group by model.
	if _, _, errOut := s.tty.run(t, "usage", "--since", "7d"); !strings.HasSuffix(errOut, "Some requests had no price: group --by model to see which.\n") {
		t.Errorf("table stderr without --by model: %q", errOut)
	}
	// All priced: no warning.
	if _, _, errOut := s.tty.run(t, "usage", "--since", "7d", "--model", "priced", "--by", "model"); strings.Contains(errOut, "price") {
		t.Errorf("table stderr, all priced: %q", errOut)
	}
	// Keys by name on a terminal, by id otherwise.
	_, out, _ = s.tty.run(t, "usage", "--since", "2026-09-01", "--by", "day,key")
	lines = strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	checkAligned(t, lines)
	if !strings.HasPrefix(lines[0], "DAY         KEY ") || !strings.Contains(out, "2026-11-05  alice ("+s.alice.ID+")") ||
		!strings.Contains(out, "bob ("+s.bob.ID+")") {
		t.Errorf("table --by day,key:\n%s", out)
	}
	if out := s.run.ok(t, "usage", "--since", "2026-09-01", "--by", "key"); !strings.Contains(out, s.alice.ID+"\t3\t1\t") || strings.Contains(out, "alice") {
		t.Errorf("TSV --by key:\n%s", out)
	}

	// --json: null cost when nothing had a price.
	got := s.report(t, "--since", "7d", "--by", "model,status")
	if len(got) != 3 || got[1].Model != "unpriced" || got[1].Status != 200 || got[1].CostUSD != nil || !got[1].CostIsLowerBound ||
		got[1].Unpriced != 1 || got[1].Estimated != 1 || got[0].CostUSD == nil || math.Abs(*got[0].CostUSD-0.0108) > 1e-12 {
		t.Errorf("--json: %+v", got)
	}
	raw := s.run.ok(t, "usage", "--since", "7d", "--by", "model,status", "--json")
	if !strings.Contains(raw, `"cost_usd": null`) || !strings.Contains(raw, `"model": "unpriced"`) {
		t.Errorf("--json text:\n%s", raw)
	}

	// --csv: a header, the same columns as --json, an empty unknown cost.
	code, out, errOut = s.tty.run(t, "usage", "--since", "7d", "--by", "model,status", "--csv")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != ExitOK || err != nil || len(recs) != 4 || errOut != "" {
		t.Fatalf("--csv: exit %d %v\n%s\nstderr %q", code, err, out, errOut)
	}
	wantHead := []string{"model", "status", "requests", "errors", "input_tokens", "cache_read_tokens", "cache_write_tokens",
		"output_tokens", "reasoning_tokens", "cost_usd", "cost_is_lower_bound", "unpriced_requests", "estimated_requests"}
	if !slices.Equal(recs[0], wantHead) {
		t.Errorf("--csv header %q", recs[0])
	}
	if c, err := strconv.ParseFloat(recs[1][9], 64); err != nil || math.Abs(c-0.0108) > 1e-12 || recs[1][0] != "priced" || recs[1][2] != "2" {
		t.Errorf("--csv priced row %q", recs[1])
	}
	if want := []string{"unpriced", "200", "1", "0", "200", "0", "0", "100", "0", "", "true", "1", "1"}; !slices.Equal(recs[2], want) {
		t.Errorf("--csv unpriced row %q, want %q", recs[2], want)
	}
	if want := []string{"unpriced", "502", "1", "1", "0", "0", "0", "0", "0", "0", "false", "0", "0"}; !slices.Equal(recs[3], want) {
		t.Errorf("--csv failed row %q, want %q", recs[3], want)
	}
}

// checkAligned checks that every column of a terminal table starts at the
// same offset on every line (tabwriter, two spaces of padding).
func checkAligned(t *testing.T, lines []string) {
	t.Helper()
	if len(lines) < 2 {
		return
	}
	var starts []int
	head := []rune(lines[0])
	for i := range head {
		if head[i] != ' ' && (i == 0 || i >= 2 && head[i-1] == ' ' && head[i-2] == ' ') {
			starts = append(starts, i)
		}
	}
	for _, l := range lines[1:] {
		r := []rune(l)
		for _, p := range starts {
			if p >= len(r) || r[p] == ' ' || p > 0 && r[p-1] != ' ' {
				t.Errorf("column at %d not aligned:\n%s\n%s", p, lines[0], l)
				break
			}
		}
	}
}

// Bad input to every flag of `xjp usage`: a clear message and a pointer
// to --help on stderr, exit 2, nothing on stdout.
func TestUsageBadInput(t *testing.T) {
	s := seedUsage(t)
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--by", "nope"}, `--by "nope": want any of day, model, key, tenant, provider, upstream_model, endpoint, status`},
		{[]string{"--by", "day,models"}, `--by "models": want any of`},
		{[]string{"--since", "yesterday"}, `--since: invalid time "yesterday": use a duration such as 24h or 7d, or a date such as 2026-11-01`},
		{[]string{"--since", ""}, `--since: invalid time ""`},
		{[]string{"--since", "-1h"}, `--since: "-1h" is negative`},
		{[]string{"--since", "2026-11-31"}, `--since: invalid time "2026-11-31"`},
		{[]string{"--since", "7 days"}, `--since: invalid time "7 days"`},
		{[]string{"--until", "soon"}, `--until: invalid time "soon"`},
		{[]string{"--until", "-2h"}, `--until: "-2h" is negative`},
		{[]string{"--until", "25h"}, "--until must be after --since"},
		{[]string{"--since", "1h", "--until", "2h"}, "--until must be after --since"},
		{[]string{"--since", "2026-11-05", "--until", "2026-11-04"}, "--until must be after --since"},
		{[]string{"--since", "2026-11-04", "--until", "2026-11-04"}, "--until must be after --since"},
		{[]string{"--json", "--csv"}, "--json and --csv exclude each other"},
		{[]string{"--csv=perhaps"}, `invalid argument "perhaps" for "--csv" flag`},
		{[]string{"--key"}, "flag needs an argument: --key"},
		{[]string{"--model"}, "flag needs an argument: --model"},
		{[]string{"--tenant"}, "flag needs an argument: --tenant"},
		{[]string{"--provider"}, "flag needs an argument: --provider"},
		{[]string{"--nope"}, "unknown flag: --nope"},
	} {
		name := strings.Join(tt.args, " ")
		for _, c := range []cliRun{s.run, s.tty} {
			code, out, errOut := c.run(t, append([]string{"usage"}, tt.args...)...)
			if code != ExitUsage || out != "" || errOut != "error: "+tt.msg+strings.TrimPrefix(errOut, "error: "+tt.msg) ||
				!strings.HasSuffix(errOut, "\nRun 'xjp usage --help' for usage.\n") || !strings.Contains(errOut, tt.msg) {
				t.Errorf("usage %s (tty %v): exit %d, stdout %q, stderr %q; want 2, nothing, %q", name, c.tty, code, out, errOut, tt.msg)
			}
		}
	}
	// A stray argument is refused too (cobra's argument check: exit 1).
	if code, out, errOut := s.run.run(t, "usage", "7d"); code == ExitOK || out != "" || !strings.Contains(errOut, `unknown command "7d" for "xjp usage"`) {
		t.Errorf("usage 7d: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
