package cli

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/ingress"
	"github.com/rickyjim626/xjp/internal/store"
	"github.com/rickyjim626/xjp/internal/store/storetest"
)

// Accounting through the gateway: keys changes reaching a running server,
// last-used times, one usage row per request (read back with `xjp usage`
// and from the store), SIGTERM under load, keys and usage on Postgres, and
// bad input to every keys flag.

// accountingTOML routes a priced and an unpriced model to the demo
// provider; retries are quick so an upstream failure costs milliseconds.
const accountingTOML = `[demo]
delay = "0s"
[server]
shutdown_grace = "5s"
[retry]
max_retries = 1
base_backoff = "1ms"
max_backoff = "1ms"

[[models]]
name = "priced"
price = { input_per_mtok = 3.0, output_per_mtok = 15.0 }
[[models.routes]]
provider = "demo"
model = "demo"

[[models]]
name = "unpriced"
[[models.routes]]
provider = "demo"
model = "demo"
`

// priced is accountingTOML's price for model "priced", per token.
const pricedIn, pricedOut = 3.0 / 1e6, 15.0 / 1e6

// cliRun runs `xjp` in the test process, each call with a fresh Factory as
// a new process would have, over a data dir, an optional config file and
// an environment.
type cliRun struct {
	dir, file string
	env       map[string]string
	now       func() time.Time
	tty       bool
}

// run returns the exit code, stdout and stderr of `xjp args...`.
func (c cliRun) run(t *testing.T, args ...string) (ExitCode, string, string) {
	t.Helper()
	ios, _, out, errOut := TestIO()
	ios.SetStdoutTTY(c.tty)
	ios.SetStderrTTY(c.tty)
	f := NewFactory(ios)
	f.Getenv = func(k string) string { return c.env[k] }
	if c.now != nil {
		f.Now = c.now
	}
	// As flags: the root command binds them over f's fields. First, so that
	// a flag missing its value at the end of args stays an error.
	global := []string{"--data-dir", c.dir}
	if c.file != "" {
		global = append(global, "--config", c.file)
	}
	code := Run(context.Background(), f, append(global, args...))
	return code, out.String(), errOut.String()
}

// ok runs args and fails the test unless they exit 0; it returns stdout.
func (c cliRun) ok(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := c.run(t, args...)
	if code != ExitOK {
		t.Fatalf("xjp %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// createKeyCLI runs `xjp keys create --json` with flags and returns the
// key's id and secret.
func (c cliRun) createKeyCLI(t *testing.T, flags ...string) (keyView, string) {
	t.Helper()
	var v keyView
	out := c.ok(t, append([]string{"keys", "create", "--json"}, flags...)...)
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.ID == "" || v.Secret == "" {
		t.Fatalf("keys create --json: %v\n%s", err, out)
	}
	return v, v.Secret
}

// listKeys is `xjp keys list --all --json` by key name.
func (c cliRun) listKeys(t *testing.T) map[string]keyView {
	t.Helper()
	var vs []keyView
	out := c.ok(t, "keys", "list", "--all", "--json")
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("keys list --json: %v\n%s", err, out)
	}
	m := make(map[string]keyView, len(vs))
	for _, v := range vs {
		m[v.Name] = v
	}
	return m
}

// usageReport is `xjp usage --json` with flags.
func (c cliRun) usageReport(t *testing.T, flags ...string) []usageView {
	t.Helper()
	var vs []usageView
	out := c.ok(t, append([]string{"usage", "--json"}, flags...)...)
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("usage --json: %v\n%s", err, out)
	}
	return vs
}

// post sends a chat request with key, an optional X-Request-Id, and returns
// the status and body.
func post(t *testing.T, addr, key, reqID, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if reqID != "" {
		req.Header.Set("X-Request-Id", reqID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// chatFor is a chat request for model with prompt.
func chatFor(model, prompt string, stream bool) string {
	s := `"stream":false`
	if stream {
		s = `"stream":true,"stream_options":{"include_usage":true}`
	}
	return `{"model":"` + model + `",` + s + `,"messages":[{"role":"user","content":"` + prompt + `"}]}`
}

// usageRecord is one row of table usage, read with SQL: the store has no
// API listing single rows, only reports (QueryUsage).
type usageRecord struct {
	RequestID, KeyID, Tenant, Model, Provider, Endpoint, ErrorType string
	Stream, Estimated                                              bool
	In, CacheRead, CacheWrite, Out, Reasoning                      int64
	Cost                                                           sql.NullFloat64
	LatencyMS                                                      int64
	TTFTMS                                                         sql.NullInt64
	Status, Attempts                                               int64
}

func (r usageRecord) tokens() int64 { return r.In + r.CacheRead + r.CacheWrite + r.Out }

// readUsage reads every usage row of the store o.
func readUsage(t *testing.T, o store.Options) []usageRecord {
	t.Helper()
	driver := "sqlite"
	if o.Driver == store.DriverPostgres {
		driver = "pgx"
	}
	db, err := sql.Open(driver, o.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT request_id, key_id, tenant, model, provider, endpoint, error_type, stream, estimated,
		input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, reasoning_tokens,
		cost_usd, latency_ms, ttft_ms, status, attempts FROM usage ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []usageRecord
	for rows.Next() {
		var r usageRecord
		if err := rows.Scan(&r.RequestID, &r.KeyID, &r.Tenant, &r.Model, &r.Provider, &r.Endpoint, &r.ErrorType, &r.Stream,
			&r.Estimated, &r.In, &r.CacheRead, &r.CacheWrite, &r.Out, &r.Reasoning, &r.Cost, &r.LatencyMS, &r.TTFTMS,
			&r.Status, &r.Attempts); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sqliteOptions(dir string) store.Options {
	return store.Options{Driver: store.DriverSQLite, DSN: filepath.Join(dir, "xjp.db")}
}

// A revoke, a disable, an expiry and a narrowed model scope reach a
// running server within 5 s (the key cache: fresh 2 s, stale 3 s). Each
// change is made as an operator would, with `xjp keys` on the same store,
// right after the key was used (so the server has it cached), and then
// requests poll until the refusal arrives.
func TestKeyChangesApplyWithin5s(t *testing.T) {
	dir := t.TempDir()
	addr, stop := serveWith(t, dir, accountingTOML)
	t.Cleanup(stop) // after the parallel subtests
	c := cliRun{dir: dir, file: filepath.Join(dir, "xjp.toml")}

	const bound = 5 * time.Second
	// poll sends requests until one is refused with status and code; it
	// returns how long after since that was. Anything but 200 before is an
	// error.
	poll := func(t *testing.T, key, model string, since time.Time, status int, code, says string) time.Duration {
		t.Helper()
		deadline := since.Add(bound + 2*time.Second)
		for n := 0; ; n++ {
			resp, body := chat(t, addr, key, chatFor(model, "Hello", false))
			switch {
			case resp.StatusCode == status:
				took := time.Since(since)
				if !strings.Contains(body, `"code":"`+code+`"`) || !strings.Contains(body, says) {
					t.Errorf("refusal %d %s, want code %q and %q", resp.StatusCode, body, code, says)
				}
				t.Logf("refused with %d %s after %v (%d requests admitted meanwhile)", status, code, took.Round(time.Millisecond), n)
				return took
			case resp.StatusCode != http.StatusOK:
				t.Fatalf("request %d: %d %s; want 200 until the %d", n, resp.StatusCode, body, status)
			case time.Now().After(deadline):
				t.Fatalf("still admitted %v after the change", time.Since(since))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	for _, tc := range []struct {
		name   string
		flags  []string // keys create
		change func(id string) []string
		status int
		code   string
		says   string
	}{
		{name: "revoke", change: func(id string) []string { return []string{"keys", "revoke", id} },
			status: http.StatusUnauthorized, code: "invalid_api_key", says: "invalid API key"},
		{name: "disable", change: func(id string) []string { return []string{"keys", "update", id, "--disable"} },
			status: http.StatusForbidden, code: "key_disabled", says: "is disabled"},
		{name: "narrow-models", flags: []string{"--models", "demo,priced"},
			change: func(id string) []string { return []string{"keys", "update", id, "--models", "priced"} },
			status: http.StatusForbidden, code: "model_not_allowed", says: `may not use the model \"demo\"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			k, secret := c.createKeyCLI(t, append([]string{"--name", tc.name, "--rpm", "0"}, tc.flags...)...)
			if resp, body := chat(t, addr, secret, chatFor("demo", "Hello", false)); resp.StatusCode != http.StatusOK {
				t.Fatalf("before the change: %d %s", resp.StatusCode, body) // now cached by the server
			}
			c.ok(t, tc.change(k.ID)...)
			if took := poll(t, secret, "demo", time.Now(), tc.status, tc.code, tc.says); took >= bound {
				t.Errorf("%s took effect after %v, want < %v", tc.name, took, bound)
			}
		})
	}
	t.Run("expiry", func(t *testing.T) {
		t.Parallel()
		k, secret := c.createKeyCLI(t, "--name", "expiring", "--rpm", "0", "--expires", "3s")
		if resp, body := chat(t, addr, secret, chatFor("demo", "Hello", false)); resp.StatusCode != http.StatusOK {
			t.Fatalf("before the expiry: %d %s", resp.StatusCode, body)
		}
		if took := poll(t, secret, "demo", *k.ExpiresAt, http.StatusForbidden, "key_expired", "expired at"); took >= bound {
			t.Errorf("expiry took effect %v after expires_at, want < %v", took, bound)
		}
	})
}

// last_used_at is written in batches, off the request path: not by the
// requests themselves, but by the key cache's periodic flush and at
// shutdown.
func TestLastUsedAtBatched(t *testing.T) {
	t.Run("server", func(t *testing.T) {
		dir := t.TempDir()
		secret := createKey(t, dir, store.NewKey{Name: "client"})
		createKey(t, dir, store.NewKey{Name: "idle"})
		c := cliRun{dir: dir}
		// serve's key cache uses the default TouchEvery (10s) and the
		// server offers no setting for it: the flush that shows here is the
		// one at shutdown.
		started := time.Now()
		addr, stop := serveWith(t, dir, demoConfig)
		first := time.Now().Truncate(time.Millisecond)
		for range 3 {
			if resp, body := chat(t, addr, secret, hello); resp.StatusCode != http.StatusOK {
				t.Fatalf("%d %s", resp.StatusCode, body)
			}
		}
		last := time.Now()
		keys := c.listKeys(t)
		if time.Since(started) < 9*time.Second { // within the first touch interval
			if lu := keys["client"].LastUsedAt; lu != nil {
				t.Errorf("last_used_at %v written on the request path, want it batched", lu)
			}
		} else {
			t.Logf("slow run: %v since start, not checking that the batch is pending", time.Since(started))
		}
		stop() // flushes the batch
		keys = c.listKeys(t)
		lu := keys["client"].LastUsedAt
		if lu == nil || lu.Before(first) || lu.After(last) {
			t.Errorf("after shutdown last_used_at = %v, want within [%v, %v]", lu, first, last)
		}
		if lu := keys["idle"].LastUsedAt; lu != nil {
			t.Errorf("the unused key has last_used_at %v", lu)
		}
	})

	// The same cache and store as serve's, with a short TouchEvery: the
	// periodic flush writes last_used_at while the cache runs.
	t.Run("periodic", func(t *testing.T) {
		dir := t.TempDir()
		st, err := store.Open(context.Background(), sqliteOptions(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		k, secret, err := st.CreateKey(context.Background(), store.NewKey{Name: "k"})
		if err != nil {
			t.Fatal(err)
		}
		kc := ingress.NewKeyCache(ingress.KeyCacheOptions{
			Lookup:     keyLookup(st, func() config.Limits { return config.Limits{} }),
			Touch:      st.TouchKeys,
			TouchEvery: 50 * time.Millisecond,
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { kc.Run(ctx); close(done) }()
		defer func() { cancel(); <-done }()
		before := time.Now().Truncate(time.Millisecond)
		for range 5 {
			if _, err := kc.Verify(ctx, secret); err != nil {
				t.Fatal(err)
			}
		}
		obsWait(t, 2*time.Second, "last_used_at from the periodic flush", func() bool {
			got, err := st.GetKey(context.Background(), k.ID)
			return err == nil && got.LastUsedAt != nil && !got.LastUsedAt.Before(before)
		})
	})
}

// One usage row per request, whatever its outcome, with its status, error
// kind, attempts, tokens (estimated when the upstream reported none), ttft,
// latency and cost (NULL without a price). Rows are read back from the
// store and with `xjp usage --json`, and agree.
func TestUsageRowPerRequest(t *testing.T) {
	dir := t.TempDir()
	mainKey := createKey(t, dir, store.NewKey{Name: "main", RPM: ptr(0)})
	limited := createKey(t, dir, store.NewKey{Name: "limited", RPM: ptr(1), Burst: ptr(1)})
	quota := createKey(t, dir, store.NewKey{Name: "quota", RPM: ptr(0), DailyTokens: ptr(int64(10))})
	// 10ms a word: a whole answer takes about a quarter second, so a client
	// can leave in the middle.
	addr, stop := serveWith(t, dir, strings.Replace(accountingTOML, `delay = "0s"`, `delay = "10ms"`, 1))
	stopped := false
	defer func() {
		if !stopped {
			stop()
		}
	}()

	expect := func(id, key, body string, status int) {
		t.Helper()
		if got, resp := post(t, addr, key, id, body); got != status {
			t.Fatalf("%s: %d %s, want %d", id, got, resp, status)
		}
	}
	expect("ok-unpriced", mainKey, chatFor("unpriced", "Hello", false), 200)
	expect("ok-priced-stream", mainKey, chatFor("priced", "Hello", true), 200)
	if got, resp := post(t, addr, mainKey, "upstream-500", chatFor("priced", "xjp:fail=500", false)); got < 500 {
		t.Fatalf("upstream failure: %d %s", got, resp)
	}
	abortStream(t, addr, mainKey, "abort", chatFor("priced", "Hello, a long answer please", true))
	expect("limit-ok", limited, chatFor("unpriced", "Hello", false), 200)
	expect("limit-refused", limited, chatFor("unpriced", "Hello", false), 429)
	expect("quota-spent", quota, chatFor("demo", "Hello", false), 200)
	expect("quota-refused", quota, chatFor("demo", "Hello", false), 429)
	stop() // flushes the usage writer
	stopped = true

	rows := readUsage(t, sqliteOptions(dir))
	byID := map[string][]usageRecord{}
	for _, r := range rows {
		byID[r.RequestID] = append(byID[r.RequestID], r)
	}
	ids := []string{"ok-unpriced", "ok-priced-stream", "upstream-500", "abort", "limit-ok", "limit-refused", "quota-spent", "quota-refused"}
	if len(rows) != len(ids) {
		t.Errorf("%d usage rows for %d requests", len(rows), len(ids))
	}
	row := func(id string) usageRecord {
		if len(byID[id]) != 1 {
			t.Fatalf("request %s has %d usage rows, want 1", id, len(byID[id]))
		}
		return byID[id][0]
	}
	for _, id := range ids {
		r := row(id)
		t.Logf("%-16s status %d error %-15q attempts %d in %d out %d estimated %-5v ttft %v latency %dms cost %v",
			id, r.Status, r.ErrorType, r.Attempts, r.In, r.Out, r.Estimated, nullMS(r.TTFTMS), r.LatencyMS, nullCost(r.Cost))
	}
	cost := func(r usageRecord) float64 { return float64(r.In)*pricedIn + float64(r.Out)*pricedOut }

	// Successes: the upstream's tokens, a first token, priced or not.
	r := row("ok-unpriced")
	checkRow(t, r, 200, "", 1)
	if r.Estimated || r.In == 0 || r.Out == 0 || !r.TTFTMS.Valid || r.LatencyMS < r.TTFTMS.Int64 || r.Stream {
		t.Errorf("ok-unpriced: %+v", r)
	}
	if r.Cost.Valid {
		t.Errorf("ok-unpriced: cost %v, want NULL (no price)", r.Cost.Float64)
	}
	r = row("ok-priced-stream")
	checkRow(t, r, 200, "", 1)
	if r.Estimated || r.In == 0 || r.Out == 0 || !r.TTFTMS.Valid || r.LatencyMS < r.TTFTMS.Int64 || !r.Stream {
		t.Errorf("ok-priced-stream: %+v", r)
	}
	if !r.Cost.Valid || math.Abs(r.Cost.Float64-cost(r)) > 1e-12 || r.Cost.Float64 <= 0 {
		t.Errorf("ok-priced-stream: cost %v, want %v", nullCost(r.Cost), cost(r))
	}
	// 26 words 10ms apart.
	if r.LatencyMS < 150 {
		t.Errorf("ok-priced-stream: latency %dms for a streamed answer of 26 words 10ms apart", r.LatencyMS)
	}

	// The upstream failed on both attempts (max_retries = 1): no tokens,
	// no first token, and nothing spent on a priced model.
	r = row("upstream-500")
	checkRow(t, r, r.Status, "provider_server", 2)
	if r.Status < 500 || r.tokens() != 0 || r.Estimated || r.TTFTMS.Valid || !r.Cost.Valid || r.Cost.Float64 != 0 || r.Provider != "demo" {
		t.Errorf("upstream-500: %+v", r)
	}

	// The client left mid-stream: 499, billed for what was streamed (the
	// upstream's usage comes at the end, so it never arrived), flagged as
	// estimated, and priced from the estimate.
	r = row("abort")
	checkRow(t, r, 499, "caller_canceled", 1)
	if !r.Estimated || r.In == 0 || r.Out == 0 || !r.TTFTMS.Valid || !r.Stream || r.LatencyMS < 20 || r.LatencyMS < r.TTFTMS.Int64 {
		t.Errorf("abort: %+v (the client left after three words 10ms apart)", r)
	}
	if ok := row("ok-priced-stream"); r.Out >= ok.Out {
		t.Errorf("abort billed %d output tokens, the whole answer is %d", r.Out, ok.Out)
	}
	if !r.Cost.Valid || math.Abs(r.Cost.Float64-cost(r)) > 1e-12 {
		t.Errorf("abort: cost %v, want %v", nullCost(r.Cost), cost(r))
	}

	// Refusals by the rate limit and the quota: recorded, 429, no upstream
	// attempt, no tokens.
	checkRow(t, row("limit-ok"), 200, "", 1)
	for _, id := range []string{"limit-refused", "quota-refused"} {
		r := row(id)
		checkRow(t, r, 429, "policy_budget", 0)
		if r.tokens() != 0 || r.TTFTMS.Valid || r.Estimated || r.Provider != "" {
			t.Errorf("%s: %+v", id, r)
		}
	}
	// The request that spent the quota of 10 tokens was ended early.
	r = row("quota-spent")
	checkRow(t, r, 200, "policy_budget", 1)
	if r.tokens() < 10 {
		t.Errorf("quota-spent: %d tokens, the quota is 10", r.tokens())
	}

	// The store's report and `xjp usage --json` agree with the rows.
	st, err := store.Open(context.Background(), sqliteOptions(dir))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := st.QueryUsage(context.Background(), store.UsageQuery{Since: time.Now().Add(-time.Hour)})
	st.Close()
	if err != nil || len(sum) != 1 || sum[0].Requests != int64(len(rows)) || sum[0].Errors != 4 || sum[0].Estimated != 2 {
		t.Errorf("store.QueryUsage: %+v %v", sum, err)
	}
	c := cliRun{dir: dir}
	report := c.usageReport(t, "--since", "1h", "--by", "key,model,status")
	type group struct {
		key, model string
		status     int
	}
	want := map[group]usageView{}
	for _, r := range rows {
		g := group{r.KeyID, r.Model, int(r.Status)}
		v := want[g]
		v.Requests++
		if r.Status >= 400 {
			v.Errors++
		}
		v.InputTokens += r.In
		v.OutputTokens += r.Out
		if r.Cost.Valid {
			v.CostUSD = ptr(deref(v.CostUSD) + r.Cost.Float64)
		} else if r.tokens() > 0 {
			v.Unpriced++
		}
		if r.Estimated {
			v.Estimated++
		}
		want[g] = v
	}
	if len(report) != len(want) {
		t.Errorf("usage --by key,model,status: %d groups, want %d: %+v", len(report), len(want), report)
	}
	for _, v := range report {
		w, ok := want[group{v.KeyID, v.Model, v.Status}]
		if !ok {
			t.Errorf("usage reports a group with no rows: %+v", v)
			continue
		}
		if v.Requests != w.Requests || v.Errors != w.Errors || v.InputTokens != w.InputTokens || v.OutputTokens != w.OutputTokens ||
			v.Unpriced != w.Unpriced || v.Estimated != w.Estimated {
			t.Errorf("usage group %s/%s/%d: %+v, the rows say %+v", v.KeyID, v.Model, v.Status, v, w)
		}
		if w.Unpriced > 0 && w.CostUSD == nil {
			if v.CostUSD != nil {
				t.Errorf("usage group %s/%s/%d: cost %v, want null (unpriced)", v.KeyID, v.Model, v.Status, *v.CostUSD)
			}
		} else if w.CostUSD != nil && (v.CostUSD == nil || math.Abs(*v.CostUSD-*w.CostUSD) > 1e-12) {
			t.Errorf("usage group %s/%s/%d: cost %v, want %v", v.KeyID, v.Model, v.Status, v.CostUSD, *w.CostUSD)
		}
	}
	total := c.usageReport(t, "--since", "1h")
	if len(total) != 1 || total[0].Requests != int64(len(ids)) || total[0].Errors != 4 || total[0].Estimated != 2 {
		t.Errorf("usage total: %+v, want %d requests, 4 errors (500, 499, 429, 429), 2 estimated", total, len(ids))
	}
}

func checkRow(t *testing.T, r usageRecord, status int64, kind string, attempts int64) {
	t.Helper()
	if r.Status != status || r.ErrorType != kind || r.Attempts != attempts {
		t.Errorf("%s: status %d, error %q, attempts %d; want %d, %q, %d", r.RequestID, r.Status, r.ErrorType, r.Attempts, status, kind, attempts)
	}
	if r.LatencyMS < 0 || r.KeyID == "" || r.Endpoint != "chat" {
		t.Errorf("%s: %+v", r.RequestID, r)
	}
}

func nullMS(n sql.NullInt64) any {
	if !n.Valid {
		return "NULL"
	}
	return fmt.Sprintf("%dms", n.Int64)
}

func nullCost(c sql.NullFloat64) any {
	if !c.Valid {
		return "NULL"
	}
	return c.Float64
}

// abortStream starts a streamed request, reads its first events (the
// role, then three words) and hangs up.
func abortStream(t *testing.T, addr, key, reqID, body string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nX-Request-Id: %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", addr, key, reqID, len(body), body)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	status, err := br.ReadString('\n')
	if err != nil || !strings.Contains(status, " 200 ") {
		t.Fatalf("abort: status line %q %v", status, err)
	}
	for data := 0; data < 4; {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("abort: stream ended before its fourth event: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			data++
		}
	}
}

// SIGTERM (the serve context ending) in the middle of a few hundred
// concurrent requests: every request whose client got a response has
// exactly one usage row once serve has returned.
func TestShutdownUnderLoadRecordsEveryRequest(t *testing.T) {
	dir := t.TempDir()
	key := createKey(t, dir, store.NewKey{Name: "load", RPM: ptr(0)})
	// 5ms a word: an answer takes about 130ms, so a few dozen requests are in
	// flight at any time.
	addr, stop := serveWith(t, dir, "[demo]\ndelay = \"5ms\"\n[server]\nshutdown_grace = \"10s\"\n")

	const n = 300
	type result struct {
		responded bool
		status    int
		complete  bool
		err       error
	}
	results := make([]result, n)
	tr := &http.Transport{DisableKeepAlives: true, MaxConnsPerHost: 0}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	var responded, inflight atomic.Int64
	var atSIGTERM int64
	stopped := make(chan time.Duration, 1)
	start := time.Now()
	for i := range n {
		if i == n/2 {
			// SIGTERM with half the requests sent and most in flight.
			atSIGTERM = inflight.Load()
			go func() {
				t0 := time.Now()
				stop()
				stopped <- time.Since(t0)
			}()
		}
		inflight.Add(1)
		wg.Go(func() {
			defer inflight.Add(-1)
			stream := i%2 == 0
			req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/chat/completions",
				strings.NewReader(chatFor("demo", fmt.Sprintf("request %d", i), stream)))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("X-Request-Id", fmt.Sprintf("load-%03d", i))
			resp, err := client.Do(req)
			if err != nil {
				results[i] = result{err: err}
				return
			}
			responded.Add(1)
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			complete := err == nil && (!stream || strings.HasSuffix(string(b), "data: [DONE]\n\n"))
			results[i] = result{responded: true, status: resp.StatusCode, complete: complete, err: err}
		})
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	var shutdown time.Duration
	select {
	case shutdown = <-stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return")
	}

	rows := readUsage(t, sqliteOptions(dir))
	count := map[string]int{}
	for _, r := range rows {
		count[r.RequestID]++
	}
	var ok, partial, other, none, rowsOfNone int
	statuses := map[int]int{}
	for i, r := range results {
		id := fmt.Sprintf("load-%03d", i)
		switch {
		case !r.responded:
			none++
			rowsOfNone += count[id]
		case r.status == http.StatusOK && r.complete:
			ok++
		case r.status == http.StatusOK:
			partial++
		default:
			other++
		}
		if r.responded {
			statuses[r.status]++
			if count[id] != 1 {
				t.Errorf("%s got %d (complete %v) and has %d usage rows, want 1", id, r.status, r.complete, count[id])
			}
		}
		if count[id] > 1 {
			t.Errorf("%s has %d usage rows", id, count[id])
		}
	}
	t.Logf("%d requests (half streamed) in %v; SIGTERM after %d sent with %d in flight, serve returned %v later; "+
		"responses: %d complete 200, %d partial 200, %d other %v; %d without a response (refused after shutdown; %d of them have a row); "+
		"%d usage rows",
		n, time.Since(start).Round(time.Millisecond), n/2, atSIGTERM, shutdown.Round(time.Millisecond),
		ok, partial, other, statuses, none, rowsOfNone, len(rows))
	if got := int(responded.Load()); len(rows) < got {
		t.Errorf("%d usage rows for %d responses", len(rows), got)
	}
	if ok == 0 || none == 0 {
		t.Errorf("the shutdown did not fall in the middle of the load: %d complete, %d without a response", ok, none)
	}
	if len(rows) != ok+partial+other+rowsOfNone {
		t.Errorf("%d usage rows, want %d", len(rows), ok+partial+other+rowsOfNone)
	}
}

// `xjp keys` and `xjp usage` on Postgres (store.driver and store.dsn from
// XJP_STORE_DRIVER and XJP_STORE_DSN), and a request through a server on
// Postgres recorded as a usage row. Skipped when no Postgres answers at
// 127.0.0.1:5432 unless CI=true.
func TestKeysAndUsageOnPostgres(t *testing.T) {
	o := storetest.Options(t, store.DriverPostgres) // a fresh schema
	env := map[string]string{"XJP_STORE_DRIVER": "postgres", "XJP_STORE_DSN": o.DSN}
	dir := t.TempDir()
	c := cliRun{dir: dir, env: env}

	k, secret := c.createKeyCLI(t, "--name", "pg", "--tenant", "acme", "--models", "demo,priced", "--rpm", "30",
		"--burst", "5", "--daily-tokens", "100000", "--expires", "30d")
	if !strings.HasPrefix(secret, "xjp_") || k.Tenant != "acme" || deref(k.RPM) != 30 || deref(k.Burst) != 5 ||
		deref(k.DailyTokens) != 100000 || k.ExpiresAt == nil || !slices.Equal(k.AllowedModels, []string{"demo", "priced"}) || !k.Enabled {
		t.Errorf("created %+v", k)
	}
	c.createKeyCLI(t, "--name", "other")
	if keys := c.listKeys(t); len(keys) != 2 || keys["pg"].ID != k.ID {
		t.Errorf("list: %+v", keys)
	}
	if out := c.ok(t, "keys", "list", "--tenant", "acme"); !strings.Contains(out, k.ID+"\tpg\t") || strings.Contains(out, "other") {
		t.Errorf("list --tenant acme:\n%s", out)
	}
	var shown keyView
	if err := json.Unmarshal([]byte(c.ok(t, "keys", "show", k.ID, "--json")), &shown); err != nil || shown.ID != k.ID || shown.Secret != "" {
		t.Errorf("show: %+v %v", shown, err)
	}
	var upd keyView
	out := c.ok(t, "keys", "update", k.ID, "--rpm", "0", "--default-burst", "--no-expiry", "--models", "", "--disable", "--json")
	if err := json.Unmarshal([]byte(out), &upd); err != nil || deref(upd.RPM) != 0 || upd.RPM == nil || upd.Burst != nil ||
		upd.ExpiresAt != nil || len(upd.AllowedModels) != 0 || upd.Enabled {
		t.Errorf("update: %+v %v", upd, err)
	}
	if out := c.ok(t, "keys", "show", k.ID); !strings.Contains(out, "status:") || !strings.Contains(out, "disabled") {
		t.Errorf("show (text):\n%s", out)
	}
	c.ok(t, "keys", "update", k.ID, "--enable")
	if code, _, errOut := c.run(t, "keys", "show", "key_nope"); code != ExitError || !strings.Contains(errOut, `no key with id "key_nope"`) {
		t.Errorf("show key_nope: exit %d %s", code, errOut)
	}

	// A server on the same Postgres: one request, one usage row.
	s := startObs(t, obsOptions{toml: accountingTOML, env: env, dir: dir})
	if code, body := post(t, s.addr, secret, "pg-1", chatFor("priced", "Hello", false)); code != 200 {
		t.Fatalf("request: %d %s", code, body)
	}
	s.close()
	if s.err != nil {
		t.Fatalf("serve: %v", s.err)
	}
	if _, err := os.Stat(filepath.Join(dir, "xjp.db")); err == nil {
		t.Error("an SQLite store was created beside Postgres")
	}
	rows := readUsage(t, o)
	if len(rows) != 1 || rows[0].RequestID != "pg-1" || rows[0].KeyID != k.ID || rows[0].Tenant != "acme" || rows[0].Status != 200 ||
		rows[0].Model != "priced" || !rows[0].Cost.Valid || rows[0].Out == 0 {
		t.Fatalf("usage rows on Postgres: %+v", rows)
	}
	rep := c.usageReport(t, "--since", "1h", "--by", "key,model,tenant")
	if len(rep) != 1 || rep[0].KeyID != k.ID || rep[0].KeyName != "pg" || rep[0].Tenant != "acme" || rep[0].Requests != 1 ||
		rep[0].InputTokens != rows[0].In || rep[0].OutputTokens != rows[0].Out || rep[0].CostUSD == nil || *rep[0].CostUSD != rows[0].Cost.Float64 {
		t.Errorf("usage on Postgres: %+v, the row is %+v", rep, rows[0])
	}
	if out := c.ok(t, "usage", "--since", "1h", "--by", "model", "--csv"); !strings.HasPrefix(out, "model,requests,") || !strings.Contains(out, "\npriced,1,0,") {
		t.Errorf("usage --csv on Postgres:\n%s", out)
	}
	c.ok(t, "keys", "revoke", k.ID)
	if keys := c.listKeys(t); keys["pg"].RevokedAt == nil {
		t.Errorf("revoked key: %+v", keys["pg"])
	}
	if out := c.ok(t, "keys", "list", "--json"); strings.Contains(out, k.ID) {
		t.Errorf("list shows the revoked key without --all:\n%s", out)
	}
	// The usage of a revoked key stays.
	if rep := c.usageReport(t, "--since", "1h", "--key", k.ID); len(rep) != 1 || rep[0].Requests != 1 {
		t.Errorf("usage of the revoked key: %+v", rep)
	}
}

// Bad input to every flag and argument of `keys create`, `keys update`,
// `keys show` and `keys revoke` (beyond testdata/script/keys.txtar): a
// clear message on stderr, a non-zero exit (2 for bad flags), nothing on
// stdout, and the store unchanged.
func TestKeysBadInput(t *testing.T) {
	dir := t.TempDir()
	c := cliRun{dir: dir}
	live, _ := c.createKeyCLI(t, "--name", "live", "--models", "demo", "--rpm", "10")
	c.createKeyCLI(t, "--name", "taken")
	gone, _ := c.createKeyCLI(t, "--name", "gone")
	c.ok(t, "keys", "revoke", gone.ID)

	const anyCode = ExitCode(-1) // non-zero
	id := live.ID
	tests := []struct {
		args []string
		code ExitCode
		msg  string
	}{
		// create
		{[]string{"keys", "create", "--name", "x", "--burst", "0"}, ExitUsage, "--burst must be at least 1, got 0"},
		{[]string{"keys", "create", "--name", "x", "--burst", "-3"}, ExitUsage, "--burst must be at least 1, got -3"},
		{[]string{"keys", "create", "--name", "x", "--daily-tokens", "-5"}, ExitUsage, "--daily-tokens must be 0 (unlimited) or positive, got -5"},
		{[]string{"keys", "create", "--name", "x", "--rpm", "abc"}, ExitUsage, `invalid argument "abc" for "--rpm" flag`},
		{[]string{"keys", "create", "--name", "x", "--burst", "1.5"}, ExitUsage, `invalid argument "1.5" for "--burst" flag`},
		{[]string{"keys", "create", "--name", "x", "--daily-tokens", "1e6"}, ExitUsage, `invalid argument "1e6" for "--daily-tokens" flag`},
		{[]string{"keys", "create", "--name", "x", "--expires", ""}, ExitUsage, "--expires: empty expiry"},
		{[]string{"keys", "create", "--name", "x", "--expires", "0s"}, ExitUsage, `--expires: expiry "0s" is not in the future`},
		{[]string{"keys", "create", "--name", "x", "--expires", "-5d"}, ExitUsage, `--expires: expiry "-5d" is not in the future`},
		{[]string{"keys", "create", "--name", "x", "--expires", "-1h"}, ExitUsage, `--expires: expiry "-1h" is not in the future`},
		{[]string{"keys", "create", "--name", "x", "--expires", "5x"}, ExitUsage, `--expires: invalid expiry "5x": use a duration such as 30d`},
		{[]string{"keys", "create", "--name", "x", "--expires", "1.5d"}, ExitUsage, `--expires: invalid expiry "1.5d"`},
		{[]string{"keys", "create", "--name", "x", "--expires", "30d5"}, ExitUsage, `--expires: invalid expiry "30d5"`},
		{[]string{"keys", "create", "--name", "x", "--expires", "2026-13-45"}, ExitUsage, `--expires: invalid expiry "2026-13-45"`},
		{[]string{"keys", "create", "--name", "x", "--expires", "2001-01-01T00:00:00Z"}, ExitUsage, `--expires: expiry "2001-01-01T00:00:00Z" is in the past`},
		{[]string{"keys", "create", "--name", "x", "--expires", "2001-01-01T10:00"}, ExitUsage, `is in the past`},
		{[]string{"keys", "create", "--name", "x", "--models", "demo,,priced"}, ExitUsage, `--models "demo,,priced": an empty model name`},
		{[]string{"keys", "create", "--name", "x", "--models", ","}, ExitUsage, `--models ",": an empty model name`},
		{[]string{"keys", "create", "--name", "x", "--models", "demo, "}, ExitUsage, `--models "demo, ": an empty model name`},
		{[]string{"keys", "create", "--name", "x", "--disabled=maybe"}, ExitUsage, `invalid argument "maybe" for "--disabled" flag`},
		{[]string{"keys", "create", "--name", "x", "--nope"}, ExitUsage, "unknown flag: --nope"},
		{[]string{"keys", "create", "--name", "   "}, ExitError, "key name is required"},
		{[]string{"keys", "create", "--name", "taken"}, ExitError, `"taken"`},
		{[]string{"keys", "create", "extra", "--name", "x"}, anyCode, `unknown command "extra"`},
		// update
		{[]string{"keys", "update", id, "--enable", "--disable"}, ExitUsage, "--enable and --disable exclude each other"},
		{[]string{"keys", "update", id, "--rpm", "5", "--default-rpm"}, ExitUsage, "--default-rpm and --rpm exclude each other"},
		{[]string{"keys", "update", id, "--burst", "2", "--default-burst"}, ExitUsage, "--default-burst and --burst exclude each other"},
		{[]string{"keys", "update", id, "--daily-tokens", "9", "--default-daily-tokens"}, ExitUsage, "--default-daily-tokens and --daily-tokens exclude each other"},
		{[]string{"keys", "update", id, "--expires", "30d", "--no-expiry"}, ExitUsage, "--no-expiry and --expires exclude each other"},
		{[]string{"keys", "update", id, "--burst", "0"}, ExitUsage, "--burst must be at least 1, got 0"},
		{[]string{"keys", "update", id, "--rpm", "-1"}, ExitUsage, "--rpm must be 0 (unlimited) or positive, got -1"},
		{[]string{"keys", "update", id, "--daily-tokens", "-5"}, ExitUsage, "--daily-tokens must be 0 (unlimited) or positive, got -5"},
		{[]string{"keys", "update", id, "--rpm", "x"}, ExitUsage, `invalid argument "x" for "--rpm" flag`},
		{[]string{"keys", "update", id, "--expires", "yesterday"}, ExitUsage, `--expires: invalid expiry "yesterday"`},
		{[]string{"keys", "update", id, "--expires", "2001-01-01"}, ExitUsage, `--expires: expiry "2001-01-01" is in the past`},
		{[]string{"keys", "update", id, "--expires", ""}, ExitUsage, "--expires: empty expiry"},
		{[]string{"keys", "update", id, "--models", "demo,,priced"}, ExitUsage, `--models "demo,,priced": an empty model name`},
		{[]string{"keys", "update", id, "--enable=sure"}, ExitUsage, `invalid argument "sure" for "--enable" flag`},
		{[]string{"keys", "update", id, "--rpm", "5", "--nope"}, ExitUsage, "unknown flag: --nope"},
		{[]string{"keys", "update", id, "--name", ""}, ExitError, "key name is required"},
		{[]string{"keys", "update", id, "--name", "taken"}, ExitError, "name already taken"},
		{[]string{"keys", "update", "key_nope", "--rpm", "5"}, ExitError, `no key with id "key_nope" (see 'xjp keys list')`},
		{[]string{"keys", "update", gone.ID, "--rpm", "5"}, ExitError, "revoked"},
		{[]string{"keys", "update", "--rpm", "5"}, anyCode, "accepts 1 arg(s), received 0"},
		{[]string{"keys", "update", id, "key_nope", "--rpm", "5"}, anyCode, "accepts 1 arg(s), received 2"},
		// show
		{[]string{"keys", "show", "key_nope"}, ExitError, `no key with id "key_nope"`},
		{[]string{"keys", "show"}, anyCode, "accepts 1 arg(s), received 0"},
		{[]string{"keys", "show", id, id}, anyCode, "accepts 1 arg(s), received 2"},
		{[]string{"keys", "show", id, "--json=x"}, ExitUsage, `invalid argument "x" for "--json" flag`},
		// revoke: one unknown id revokes none of the others.
		{[]string{"keys", "revoke"}, anyCode, "requires at least 1 arg(s)"},
		{[]string{"keys", "revoke", id, "key_nope"}, ExitError, `no key with id "key_nope"`},
		{[]string{"keys", "revoke", gone.ID}, ExitError, "revoked"},
		{[]string{"keys", "revoke", id, gone.ID}, ExitError, "revoked"},
		{[]string{"keys", "revoke", id, "--nope"}, ExitUsage, "unknown flag: --nope"},
		// list
		{[]string{"keys", "list", "--all=maybe"}, ExitUsage, `invalid argument "maybe" for "--all" flag`},
		{[]string{"keys", "list", "--tenant"}, ExitUsage, "flag needs an argument: --tenant"},
		{[]string{"keys", "list", "extra"}, anyCode, `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args[1:], " "), func(t *testing.T) {
			before := c.ok(t, "keys", "list", "--all", "--json")
			code, out, errOut := c.run(t, tt.args...)
			if code == ExitOK || tt.code != anyCode && code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			if !strings.Contains(errOut, tt.msg) || !strings.HasPrefix(errOut, "error: ") {
				t.Errorf("stderr %q, want an error with %q", errOut, tt.msg)
			}
			if code == ExitUsage && !strings.Contains(errOut, "Run 'xjp keys "+tt.args[1]+" --help' for usage.") {
				t.Errorf("stderr %q, want a pointer to --help", errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if after := c.ok(t, "keys", "list", "--all", "--json"); after != before {
				t.Errorf("the keys changed:\nbefore %s\nafter %s", before, after)
				c.ok(t, "keys", "list", "--all", "--json") // the next case starts from here
			}
		})
	}
	// The same id twice is revoked once, without an error.
	c.ok(t, "keys", "revoke", id, id)
	if keys := c.listKeys(t); keys["live"].RevokedAt == nil || keys["taken"].RevokedAt != nil {
		t.Errorf("after revoke %s %s: %+v", id, id, keys)
	}
}
