package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Usage is kept twice, in one transaction:
//
//   - usage holds one row per request, for quota checks, audits and the
//     edges of report ranges;
//   - usage_daily holds the same rows summed per UTC day and per value of
//     every report dimension (key, tenant, model, provider, upstream model,
//     endpoint, status).
//
// A report reads usage_daily for the whole days of its range and usage only
// for the partial days at its ends, so its cost depends on the number of
// groups, not on the number of requests in a year.

// ErrUsageRejected is wrapped by InsertUsage's error when the database
// refused the data of a row (a data exception or constraint violation), not
// for connection, lock or schema problems. Writing the same row again
// cannot succeed.
var ErrUsageRejected = errors.New("store: usage row rejected")

const dayMs = 24 * 60 * 60 * 1000

// usageColumns are the columns of usage InsertUsage writes, in order.
var usageColumns = []string{
	"ts", "request_id", "key_id", "tenant", "model", "provider", "upstream_model", "endpoint", "stream",
	"input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens",
	"estimated", "cost_usd", "latency_ms", "ttft_ms", "status", "error_type", "attempts",
}

// dailyKeyColumns are the primary key of usage_daily; dailySumColumns the
// sums it keeps.
var (
	dailyKeyColumns = []string{"day", "key_id", "tenant", "model", "provider", "upstream_model", "endpoint", "status"}
	dailySumColumns = []string{"requests", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
		"reasoning_tokens", "cost_usd", "unpriced", "estimated"}
)

// rowsPerStatement bounds a multi-row INSERT: at most 1000 rows of at most
// 21 columns = 21000 bound variables, under SQLite's 32766 and Postgres'
// 65535.
const rowsPerStatement = 1000

// maxTextLen bounds the text columns of a usage row. Model names and
// request ids come from clients; a huge one must not bloat the table.
const maxTextLen = 512

// usageValues is one usage row as stored.
type usageValues struct {
	ts                                                      int64
	requestID, keyID, tenant, model, provider, upstream, ep string
	stream, estimated                                       bool
	in, cacheRead, cacheWrite, out, reasoning               int64
	cost                                                    sql.NullFloat64
	latency                                                 int64
	ttft                                                    sql.NullInt64
	status                                                  int64
	errorType                                               string
	attempts                                                int64
}

func (s *Store) usageValues(r llm.UsageRecord) usageValues {
	ts := r.Time
	if ts.IsZero() {
		ts = s.now()
	}
	cost := r.CostUSD
	if cost == nil {
		cost = r.Usage.CostUSD
	}
	v := usageValues{
		ts:         toMillis(ts),
		requestID:  cleanText(r.RequestID, maxTextLen),
		keyID:      cleanText(r.KeyID, maxTextLen),
		tenant:     cleanText(r.Tenant, maxTextLen),
		model:      cleanText(r.Model, maxTextLen),
		provider:   cleanText(r.Provider, maxTextLen),
		upstream:   cleanText(r.UpstreamModel, maxTextLen),
		ep:         cleanText(r.Endpoint, maxTextLen),
		stream:     r.Stream,
		estimated:  r.Usage.Estimated,
		in:         r.Usage.InputTokens,
		cacheRead:  r.Usage.CacheReadTokens,
		cacheWrite: r.Usage.CacheWriteTokens,
		out:        r.Usage.OutputTokens,
		reasoning:  r.Usage.ReasoningTokens,
		latency:    r.Latency.Milliseconds(),
		status:     clampInt32(int64(r.Status)),
		errorType:  cleanText(string(r.ErrorKind), maxTextLen),
		attempts:   clampInt32(int64(r.Attempts)),
	}
	if cost != nil && !math.IsNaN(*cost) && !math.IsInf(*cost, 0) {
		v.cost = sql.NullFloat64{Float64: *cost, Valid: true}
	}
	if r.TTFT > 0 {
		v.ttft = sql.NullInt64{Int64: r.TTFT.Milliseconds(), Valid: true}
	}
	return v
}

func (v usageValues) tokens() int64 { return v.in + v.cacheRead + v.cacheWrite + v.out }

// dailyKey is a usage_daily primary key.
type dailyKey struct {
	day                                                int64
	keyID, tenant, model, provider, upstream, endpoint string
	status                                             int64
}

type dailySums struct {
	requests, in, cacheRead, cacheWrite, out, reasoning int64
	cost                                                float64
	unpriced, estimated                                 int64
}

// InsertUsage writes rows, and adds them to the daily sums, in one
// transaction: either every row is written or none is. INSERTs carry at
// most 1000 rows each.
//
// Text is stored as valid UTF-8 without NUL bytes and cut at 512 bytes, so
// that no row can be refused by one database and not the other. The cost
// is rec.CostUSD, else rec.Usage.CostUSD; NaN or infinite costs are stored
// as unknown (NULL). A zero Time is now.
func (s *Store) InsertUsage(ctx context.Context, rows []llm.UsageRecord) error {
	if len(rows) == 0 {
		return nil
	}
	vals := make([]usageValues, len(rows))
	daily := map[dailyKey]*dailySums{}
	for i, r := range rows {
		v := s.usageValues(r)
		vals[i] = v
		k := dailyKey{floorDiv(v.ts, dayMs), v.keyID, v.tenant, v.model, v.provider, v.upstream, v.ep, v.status}
		d := daily[k]
		if d == nil {
			d = &dailySums{}
			daily[k] = d
		}
		d.requests++
		d.in += v.in
		d.cacheRead += v.cacheRead
		d.cacheWrite += v.cacheWrite
		d.out += v.out
		d.reasoning += v.reasoning
		if v.cost.Valid {
			d.cost += v.cost.Float64
		} else if v.tokens() > 0 {
			d.unpriced++
		}
		if v.estimated {
			d.estimated++
		}
	}
	// Upsert the sums in key order: concurrent writers (replicas) then lock
	// the rows of usage_daily in the same order and cannot deadlock.
	keys := slices.SortedFunc(maps.Keys(daily), compareDailyKeys)

	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.insertUsageRows(ctx, tx, vals); err != nil {
			return err
		}
		for chunk := range slices.Chunk(keys, rowsPerStatement) {
			q, args := s.dailyUpsert(chunk, daily)
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		return nil
	})
	if isDataError(err) {
		return fmt.Errorf("store: insert usage rows: %w: %w", ErrUsageRejected, err)
	}
	if err != nil {
		return fmt.Errorf("store: insert usage rows: %w", err)
	}
	return nil
}

func compareDailyKeys(a, b dailyKey) int {
	return cmp.Or(cmp.Compare(a.day, b.day), strings.Compare(a.keyID, b.keyID), strings.Compare(a.tenant, b.tenant),
		strings.Compare(a.model, b.model), strings.Compare(a.provider, b.provider), strings.Compare(a.upstream, b.upstream),
		strings.Compare(a.endpoint, b.endpoint), cmp.Compare(a.status, b.status))
}

// values writes "(?, ?, ...), (?, ...)" for rows rows of cols columns.
func values(b *strings.Builder, rows, cols int) {
	row := "(" + strings.Repeat("?, ", cols-1) + "?)"
	b.Grow(rows * (len(row) + 2))
	for i := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(row)
	}
}

// insertUsageRows writes the rows of one batch. SQLite runs one prepared
// single-row INSERT per row: in-process, a prepared statement is cheaper
// than parsing a new thousand-row statement for every batch. Postgres gets
// multi-row INSERTs: one round trip per thousand rows.
func (s *Store) insertUsageRows(ctx context.Context, tx *sql.Tx, vals []usageValues) error {
	if s.driver != "sqlite" {
		for chunk := range slices.Chunk(vals, rowsPerStatement) {
			q, args := s.usageInsert(chunk)
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		return nil
	}
	q, _ := s.usageInsert(vals[:1])
	stmt, err := tx.PrepareContext(ctx, q)
	if err != nil {
		return err
	}
	defer stmt.Close()
	args := make([]any, len(usageColumns))
	for _, v := range vals {
		args = append(args[:0], v.ts, v.requestID, v.keyID, v.tenant, v.model, v.provider, v.upstream, v.ep, v.stream,
			v.in, v.cacheRead, v.cacheWrite, v.out, v.reasoning, v.estimated, v.cost, v.latency, v.ttft,
			v.status, v.errorType, v.attempts)
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) usageInsert(rows []usageValues) (string, []any) {
	var b strings.Builder
	b.WriteString("INSERT INTO usage (" + strings.Join(usageColumns, ", ") + ") VALUES ")
	values(&b, len(rows), len(usageColumns))
	args := make([]any, 0, len(rows)*len(usageColumns))
	for _, v := range rows {
		args = append(args, v.ts, v.requestID, v.keyID, v.tenant, v.model, v.provider, v.upstream, v.ep, v.stream,
			v.in, v.cacheRead, v.cacheWrite, v.out, v.reasoning, v.estimated, v.cost, v.latency, v.ttft,
			v.status, v.errorType, v.attempts)
	}
	return s.Rebind(b.String()), args
}

func (s *Store) dailyUpsert(keys []dailyKey, sums map[dailyKey]*dailySums) (string, []any) {
	cols := append(slices.Clone(dailyKeyColumns), dailySumColumns...)
	var b strings.Builder
	b.WriteString("INSERT INTO usage_daily (" + strings.Join(cols, ", ") + ") VALUES ")
	values(&b, len(keys), len(cols))
	b.WriteString(" ON CONFLICT (" + strings.Join(dailyKeyColumns, ", ") + ") DO UPDATE SET ")
	for i, c := range dailySumColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c + " = usage_daily." + c + " + excluded." + c)
	}
	args := make([]any, 0, len(keys)*len(cols))
	for _, k := range keys {
		d := sums[k]
		args = append(args, k.day, k.keyID, k.tenant, k.model, k.provider, k.upstream, k.endpoint, k.status,
			d.requests, d.in, d.cacheRead, d.cacheWrite, d.out, d.reasoning, d.cost, d.unpriced, d.estimated)
	}
	return s.Rebind(b.String()), args
}

// Group-by dimensions for UsageQuery.By.
const (
	ByDay           = "day" // UTC calendar day of the request
	ByModel         = "model"
	ByKey           = "key"
	ByTenant        = "tenant"
	ByProvider      = "provider"
	ByUpstreamModel = "upstream_model"
	ByEndpoint      = "endpoint"
	ByStatus        = "status"
)

// UsageDimensions lists the values UsageQuery.By accepts.
var UsageDimensions = []string{ByDay, ByModel, ByKey, ByTenant, ByProvider, ByUpstreamModel, ByEndpoint, ByStatus}

// usageDims maps each dimension to its column. Only these names are ever
// placed in a report query.
var usageDims = map[string]string{
	ByDay:           "day", // usage: ts / 86400000
	ByModel:         "model",
	ByKey:           "key_id",
	ByTenant:        "tenant",
	ByProvider:      "provider",
	ByUpstreamModel: "upstream_model",
	ByEndpoint:      "endpoint",
	ByStatus:        "status",
}

// UsageQuery selects and groups usage rows for a report.
type UsageQuery struct {
	// Since and Until bound the request time: Since <= ts < Until. A zero
	// value leaves that side open.
	Since, Until time.Time
	// By lists the dimensions to group by (see UsageDimensions); empty
	// gives one total row.
	By []string
	// Filters; "" does not filter.
	KeyID, Model, Tenant, Provider string
}

// UsageRow is one group of a usage report. The dimension fields not in
// UsageQuery.By are zero.
type UsageRow struct {
	Day           string // "2006-01-02", UTC
	Model         string
	KeyID         string
	Tenant        string
	Provider      string
	UpstreamModel string
	Endpoint      string
	Status        int

	Requests         int64
	Errors           int64 // status >= 400
	InputTokens      int64 // uncached input
	CacheReadTokens  int64
	CacheWriteTokens int64
	OutputTokens     int64 // includes reasoning
	ReasoningTokens  int64
	// CostUSD sums the known costs. UnpricedRequests counts the rows that
	// used tokens but have no cost (no price for the model): when it is not
	// zero, CostUSD is a lower bound.
	CostUSD          float64
	UnpricedRequests int64
	// Estimated counts rows whose tokens were counted locally.
	Estimated int64
}

// TotalTokens is input (uncached, cache read, cache write) plus output.
func (r UsageRow) TotalTokens() int64 {
	return r.InputTokens + r.CacheReadTokens + r.CacheWriteTokens + r.OutputTokens
}

// usageGroup identifies a UsageRow's group while results are merged.
type usageGroup struct {
	day                                                int64
	model, keyID, tenant, provider, upstream, endpoint string
	status                                             int
}

// usageScan is one source query of a report: usage_daily for whole days or
// usage for partial ones.
type usageScan struct {
	sql  string
	args []any
}

// QueryUsage aggregates usage: one UsageRow per group of q.By, ordered by
// the group values (day, status numerically; text bytewise). It returns no
// rows when nothing matches.
func (s *Store) QueryUsage(ctx context.Context, q UsageQuery) ([]UsageRow, error) {
	dims, scans, err := s.usageScans(q)
	if err != nil {
		return nil, err
	}
	groups := map[usageGroup]*UsageRow{}
	for _, sc := range scans {
		if err := s.scanUsage(ctx, sc, dims, groups); err != nil {
			return nil, fmt.Errorf("store: usage query: %w", err)
		}
	}
	out := make([]UsageRow, 0, len(groups))
	keys := slices.SortedFunc(maps.Keys(groups), func(a, b usageGroup) int {
		for _, d := range dims {
			var c int
			switch d {
			case ByDay:
				c = cmp.Compare(a.day, b.day)
			case ByModel:
				c = strings.Compare(a.model, b.model)
			case ByKey:
				c = strings.Compare(a.keyID, b.keyID)
			case ByTenant:
				c = strings.Compare(a.tenant, b.tenant)
			case ByProvider:
				c = strings.Compare(a.provider, b.provider)
			case ByUpstreamModel:
				c = strings.Compare(a.upstream, b.upstream)
			case ByEndpoint:
				c = strings.Compare(a.endpoint, b.endpoint)
			case ByStatus:
				c = cmp.Compare(a.status, b.status)
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	for _, k := range keys {
		out = append(out, *groups[k])
	}
	return out, nil
}

func (s *Store) scanUsage(ctx context.Context, sc usageScan, dims []string, groups map[usageGroup]*UsageRow) error {
	rows, err := s.rdb.QueryContext(ctx, sc.sql, sc.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			g    usageGroup
			r    UsageRow
			cost sql.NullFloat64
		)
		dest := make([]any, 0, len(dims)+10)
		for _, d := range dims {
			switch d {
			case ByDay:
				dest = append(dest, &g.day)
			case ByModel:
				dest = append(dest, &g.model)
			case ByKey:
				dest = append(dest, &g.keyID)
			case ByTenant:
				dest = append(dest, &g.tenant)
			case ByProvider:
				dest = append(dest, &g.provider)
			case ByUpstreamModel:
				dest = append(dest, &g.upstream)
			case ByEndpoint:
				dest = append(dest, &g.endpoint)
			case ByStatus:
				dest = append(dest, &g.status)
			}
		}
		dest = append(dest, &r.Requests, &r.Errors, &r.InputTokens, &r.CacheReadTokens, &r.CacheWriteTokens,
			&r.OutputTokens, &r.ReasoningTokens, &cost, &r.UnpricedRequests, &r.Estimated)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if r.Requests == 0 {
			continue // the total row of an empty range
		}
		a := groups[g]
		if a == nil {
			a = &UsageRow{Model: g.model, KeyID: g.keyID, Tenant: g.tenant, Provider: g.provider,
				UpstreamModel: g.upstream, Endpoint: g.endpoint, Status: g.status}
			if slices.Contains(dims, ByDay) {
				a.Day = time.UnixMilli(g.day * dayMs).UTC().Format(time.DateOnly)
			}
			groups[g] = a
		}
		a.Requests += r.Requests
		a.Errors += r.Errors
		a.InputTokens += r.InputTokens
		a.CacheReadTokens += r.CacheReadTokens
		a.CacheWriteTokens += r.CacheWriteTokens
		a.OutputTokens += r.OutputTokens
		a.ReasoningTokens += r.ReasoningTokens
		a.CostUSD += cost.Float64
		a.UnpricedRequests += r.UnpricedRequests
		a.Estimated += r.Estimated
	}
	return rows.Err()
}

// usageScans validates q and builds its source queries: usage_daily for
// the whole UTC days in [Since, Until), usage for the partial days at the
// ends. Only the fixed names of usageDims and columns are spliced into the
// SQL; every value is a parameter.
func (s *Store) usageScans(q UsageQuery) ([]string, []usageScan, error) {
	var dims []string
	for _, d := range q.By {
		d = strings.ToLower(strings.TrimSpace(d))
		if _, ok := usageDims[d]; !ok {
			return nil, nil, fmt.Errorf("store: usage: unknown group %q (want one of %s): %w",
				d, strings.Join(UsageDimensions, ", "), ErrInvalid)
		}
		if !slices.Contains(dims, d) {
			dims = append(dims, d)
		}
	}
	var lo, hi *int64
	if !q.Since.IsZero() {
		lo = ptrTo(toMillis(q.Since))
	}
	if !q.Until.IsZero() {
		hi = ptrTo(toMillis(q.Until))
	}
	if lo != nil && hi != nil && *lo >= *hi {
		return nil, nil, fmt.Errorf("store: usage: since must be before until: %w", ErrInvalid)
	}

	// Whole days [dLo, dHi), as day numbers; nil is open.
	var dLo, dHi *int64
	if lo != nil {
		dLo = ptrTo(-floorDiv(-*lo, dayMs)) // ceiling
	}
	if hi != nil {
		dHi = ptrTo(floorDiv(*hi, dayMs))
	}
	var scans []usageScan
	if dLo != nil && dHi != nil && *dLo >= *dHi {
		// No whole day: all from usage.
		return dims, []usageScan{s.rawScan(q, dims, lo, hi)}, nil
	}
	if lo != nil && *lo < *dLo*dayMs {
		scans = append(scans, s.rawScan(q, dims, lo, ptrTo(*dLo*dayMs)))
	}
	scans = append(scans, s.dailyScan(q, dims, dLo, dHi))
	if hi != nil && *dHi*dayMs < *hi {
		scans = append(scans, s.rawScan(q, dims, ptrTo(*dHi*dayMs), hi))
	}
	return dims, scans, nil
}

// dimExpr is the SQL of a dimension in table usage (raw) or usage_daily.
// On SQLite a column is written +col: the unary plus keeps the planner from
// walking a whole (col, ts) index to get groups in order instead of the ts
// or day range it should search.
func (s *Store) dimExpr(d string, raw bool) string {
	if d == ByDay && raw {
		return "ts / 86400000"
	}
	if s.driver == DriverSQLite {
		return "+" + usageDims[d]
	}
	return usageDims[d]
}

func (s *Store) rawScan(q UsageQuery, dims []string, lo, hi *int64) usageScan {
	return s.buildScan(q, dims, true, lo, hi, []string{
		"COUNT(*)",
		"SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END)",
		"SUM(input_tokens)", "SUM(cache_read_tokens)", "SUM(cache_write_tokens)", "SUM(output_tokens)", "SUM(reasoning_tokens)",
		"SUM(cost_usd)",
		"SUM(CASE WHEN cost_usd IS NULL AND input_tokens + cache_read_tokens + cache_write_tokens + output_tokens > 0 THEN 1 ELSE 0 END)",
		"SUM(CASE WHEN estimated THEN 1 ELSE 0 END)",
	})
}

func (s *Store) dailyScan(q UsageQuery, dims []string, dLo, dHi *int64) usageScan {
	return s.buildScan(q, dims, false, dLo, dHi, []string{
		"SUM(requests)",
		"SUM(CASE WHEN status >= 400 THEN requests ELSE 0 END)",
		"SUM(input_tokens)", "SUM(cache_read_tokens)", "SUM(cache_write_tokens)", "SUM(output_tokens)", "SUM(reasoning_tokens)",
		"SUM(cost_usd)",
		"SUM(unpriced)",
		"SUM(estimated)",
	})
}

// costSum is the index of the cost among the sums of a scan.
const costSum = 7

// buildScan writes SELECT dims, sums FROM usage|usage_daily WHERE range
// and filters GROUP BY dims. Integer sums are cast to BIGINT (Postgres
// sums bigints as numeric) and NULL sums of empty ranges read as 0.
func (s *Store) buildScan(q UsageQuery, dims []string, raw bool, lo, hi *int64, sums []string) usageScan {
	var b strings.Builder
	b.WriteString("SELECT ")
	exprs := make([]string, len(dims))
	for i, d := range dims {
		exprs[i] = s.dimExpr(d, raw)
		b.WriteString(exprs[i] + ", ")
	}
	for i, e := range sums {
		if i > 0 {
			b.WriteString(", ")
		}
		if i == costSum {
			b.WriteString(e) // a float, read as NullFloat64
			continue
		}
		b.WriteString("CAST(COALESCE(" + e + ", 0) AS BIGINT)")
	}
	table, col := "usage_daily", "day"
	if raw {
		table, col = "usage", "ts"
	}
	b.WriteString(" FROM " + table + " WHERE 1 = 1")
	var args []any
	if lo != nil {
		b.WriteString(" AND " + col + " >= ?")
		args = append(args, *lo)
	}
	if hi != nil {
		b.WriteString(" AND " + col + " < ?")
		args = append(args, *hi)
	}
	for _, f := range []struct{ col, val string }{
		{"key_id", q.KeyID}, {"model", q.Model}, {"tenant", q.Tenant}, {"provider", q.Provider},
	} {
		if f.val != "" {
			b.WriteString(" AND " + f.col + " = ?")
			args = append(args, f.val)
		}
	}
	if len(exprs) > 0 {
		b.WriteString(" GROUP BY " + strings.Join(exprs, ", "))
	}
	return usageScan{sql: s.Rebind(b.String()), args: args}
}

func ptrTo[T any](v T) *T { return &v }

// floorDiv is a / b rounded down (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// UsageSince returns the tokens (input of every kind plus output) that key
// keyID used from since on: what its daily quota is checked against.
func (s *Store) UsageSince(ctx context.Context, keyID string, since time.Time) (int64, error) {
	return s.tokensSince(ctx, "key_id", keyID, since)
}

// TenantUsageSince is UsageSince for all the keys of a tenant.
func (s *Store) TenantUsageSince(ctx context.Context, tenant string, since time.Time) (int64, error) {
	return s.tokensSince(ctx, "tenant", tenant, since)
}

// tokensSince sums the tokens of col = val from since on; col is one of
// two constants above. It reads usage through the (col, ts) index: since
// is normally the start of the current day.
func (s *Store) tokensSince(ctx context.Context, col, val string, since time.Time) (int64, error) {
	var n int64
	ms := toMillis(since)
	var err error
	if ms%dayMs == 0 {
		// From a UTC midnight (the quota seeds): the day sums are exact.
		err = s.rdb.QueryRowContext(ctx, s.Rebind(`SELECT CAST(COALESCE(SUM(
			input_tokens + cache_read_tokens + cache_write_tokens + output_tokens), 0) AS BIGINT)
			FROM usage_daily WHERE day >= ? AND `+col+` = ?`), ms/dayMs, val).Scan(&n)
	} else {
		err = s.rdb.QueryRowContext(ctx, s.Rebind(`SELECT CAST(COALESCE(SUM(
			input_tokens + cache_read_tokens + cache_write_tokens + output_tokens), 0) AS BIGINT)
			FROM usage WHERE ts >= ? AND `+col+` = ?`), ms, val).Scan(&n)
	}
	if err != nil {
		return 0, fmt.Errorf("store: usage since: %w", err)
	}
	return n, nil
}
