// Package limit enforces per-key request rates and daily token quotas, in
// one process or shared by every replica through Redis.
//
// # Rates
//
// A key with RPM r and Burst b may send b requests at once, then one more
// every 60/r seconds (token bucket). In-process each key has its own
// golang.org/x/time/rate limiter; an entry is dropped once it has been idle
// for IdleTTL and its bucket is full again, so memory is bounded by the keys
// in use and eviction never grants a request. With Redis the bucket is GCRA
// state ("<prefix>rate:<key id>": the theoretical arrival time and the
// limits it was computed with) updated atomically by one Lua script on
// Redis's clock, which also checks the quotas: one round trip per Admit. The
// key expires when the bucket would be full again, so an idle key costs
// nothing. Limits are read from the Subject on every call: an updated rpm
// or burst applies to the key's next request, keeping the requests already
// taken (both backends behave the same).
//
// # Quotas
//
// Tokens are counted per UTC day, per key and per tenant. Admit refuses once
// the day's tokens are spent; Charge adds tokens while a response streams and
// reports when the quota is crossed; Settle adds the difference between what
// was charged and the request's real usage, so each token counts once. The
// first use of a counter after a start (and each new day) is seeded through
// Options.Seed, so a restart does not reset the day.
//
// With Redis the counters are shared: "<prefix>quota:<yyyymmdd>:key:<id>" and
// "<prefix>quota:<yyyymmdd>:tenant:<name>", created with SET NX from the seed
// only when absent, grown with INCRBY and expiring 48h after the start of
// their day. Charge never waits on Redis: it adds to a local pending count
// that Run flushes every FlushEvery (100ms) or as soon as FlushTokens are
// pending, in one MULTI/EXEC for all counters. So a replica sees the others'
// charges up to about FlushEvery plus one round trip late, and a quota can be
// overshot by what the replicas charge in that window (plus, as in any
// streaming gateway, the tokens of streams already running when it is
// crossed).
//
// # Redis failures
//
// Redis never fails a request. When a Redis call fails or takes longer than
// RedisTimeout, the replica falls back to its in-process state: its own
// token bucket per key (so N replicas admit up to N times the rate while
// Redis is down) and the last quota totals it saw plus its own unflushed
// charges. Charges made meanwhile stay pending and are added to Redis when
// it answers again, so no token is lost. While Redis is down only one call
// per ProbeEvery tries it; the first success switches back. A warning is
// logged at most once per LogEvery, and Stats reports the state and counts.
package limit

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Scope names passed to a SeedFunc.
const (
	ScopeKey    = "key"
	ScopeTenant = "tenant"
)

// SeedFunc returns the tokens already used by a key (scope ScopeKey, id the
// key ID) or a tenant (ScopeTenant, id the tenant name) since dayStart, the
// start of the current UTC day: the store's UsageSince and
// TenantUsageSince. It must count tokens the way the caller charges them.
type SeedFunc func(ctx context.Context, scope, id string, dayStart time.Time) (int64, error)

// Options configure a Limiter. Zero values take the defaults.
type Options struct {
	// Redis, when set, shares rate limits and quota counters with every
	// replica using the same Redis and Prefix (a standalone or Sentinel
	// client: the admission script reads several keys, so Redis Cluster is
	// not supported). Nil keeps everything in this process.
	Redis *redis.Client
	// Prefix starts every Redis key (default "xjp:").
	Prefix string
	// Seed reads the day's usage so far from the store on the first use of
	// a quota counter; nil starts counters at 0.
	Seed SeedFunc
	// Logger receives Redis failure warnings (default: discard).
	Logger *slog.Logger
	// Now is the clock (default time.Now). Quota days are UTC days of it.
	Now func() time.Time
	// IdleTTL is how long in-process state stays after its last use
	// (default 10m). A rate entry also stays until its bucket is full.
	IdleTTL time.Duration
	// FlushEvery is how often Run adds pending quota charges to Redis
	// (default 100ms); FlushTokens flushes early once a counter has that
	// many tokens pending (default 1000).
	FlushEvery  time.Duration
	FlushTokens int64
	// RedisTimeout bounds each Redis call (default 250ms); a slower answer
	// counts as a failure.
	RedisTimeout time.Duration
	// ProbeEvery is how often, while Redis is failing, one call tries it
	// again (default 1s).
	ProbeEvery time.Duration
	// LogEvery is the least time between two warnings about Redis failing
	// (default 1m).
	LogEvery time.Duration
}

// Subject is who a request is counted against, with its effective limits.
// Zero limits are unlimited.
type Subject struct {
	// KeyID names the key's bucket and quota counter; KeyName (or KeyID when
	// empty) is what error messages show.
	KeyID   string
	KeyName string
	// Tenant is shared by several keys; its quota applies when both Tenant
	// and TenantDailyTokens are set.
	Tenant string
	// RPM is requests per minute; Burst is how many may come at once
	// (values below 1 mean 1).
	RPM   int
	Burst int
	// DailyTokens and TenantDailyTokens are tokens per UTC day.
	DailyTokens       int64
	TenantDailyTokens int64
}

func (s Subject) name() string {
	if s.KeyName != "" {
		return s.KeyName
	}
	return s.KeyID
}

func (s Subject) burst() int {
	return max(s.Burst, 1)
}

// Decision is the state of a key's rate limit after Admit, for response
// headers. Limit is 0 when the key has no rate limit.
type Decision struct {
	// Limit is the key's requests per minute.
	Limit int
	// Remaining is how many more requests the bucket would admit now.
	Remaining int
	// Reset is how long until the bucket is full again.
	Reset time.Duration
	// RetryAfter is set on a refusal: when to try again.
	RetryAfter time.Duration
}

// Headers returns the decision as OpenAI-style rate limit headers
// (x-ratelimit-limit-requests, x-ratelimit-remaining-requests,
// x-ratelimit-reset-requests as a duration like "1s" or "6m0s") and, on a
// refusal, Retry-After in whole seconds rounded up. It returns nil when
// there is nothing to say.
func (d Decision) Headers() http.Header {
	if d.Limit <= 0 && d.RetryAfter <= 0 {
		return nil
	}
	h := make(http.Header, 4)
	if d.Limit > 0 {
		h["X-Ratelimit-Limit-Requests"] = []string{strconv.Itoa(d.Limit)}
		h["X-Ratelimit-Remaining-Requests"] = []string{strconv.Itoa(d.Remaining)}
		h["X-Ratelimit-Reset-Requests"] = []string{formatReset(d.Reset)}
	}
	if d.RetryAfter > 0 {
		h["Retry-After"] = []string{strconv.FormatInt(ceilSeconds(d.RetryAfter), 10)}
	}
	return h
}

// formatReset renders a duration the way OpenAI's reset headers do ("12ms",
// "1s", "6m0s"), rounded up to the millisecond.
func formatReset(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = (d + time.Millisecond - 1) / time.Millisecond * time.Millisecond
	return d.String()
}

// ceilSeconds rounds a wait up to whole seconds, at least 1. It rounds to
// the microsecond first, so float noise (1.000000001s) is not a second more.
func ceilSeconds(d time.Duration) int64 {
	d = d.Round(time.Microsecond)
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Stats describe a Limiter's state, for metrics and /readyz-style checks.
type Stats struct {
	// RedisDown is true while Redis is failing and this replica decides
	// alone.
	RedisDown bool
	// RedisErrors counts failed Redis calls; Fallbacks counts admissions
	// decided in-process because Redis was failing.
	RedisErrors uint64
	Fallbacks   uint64
	// RateKeys and QuotaCounters are the in-process entries held.
	RateKeys      int
	QuotaCounters int
}

// Limiter admits requests and counts tokens. Its methods are safe for
// concurrent use. Run must be running for Redis flushes and eviction.
type Limiter struct {
	o   Options
	rdb *redis.Client
	// redisNow, when set (tests), is the clock the Lua script uses instead
	// of Redis's TIME.
	redisNow func() time.Time

	rmu   sync.RWMutex // guards rates
	rates map[string]*bucket

	qmu      sync.RWMutex // guards counters
	counters map[counterID]*counter

	flushMu sync.Mutex // serializes Flush
	kick    chan struct{}

	health health
}

// New returns a Limiter.
func New(o Options) *Limiter {
	if o.Prefix == "" {
		o.Prefix = "xjp:"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IdleTTL <= 0 {
		o.IdleTTL = 10 * time.Minute
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 100 * time.Millisecond
	}
	if o.FlushTokens <= 0 {
		o.FlushTokens = 1000
	}
	if o.RedisTimeout <= 0 {
		o.RedisTimeout = 250 * time.Millisecond
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = time.Second
	}
	if o.LogEvery <= 0 {
		o.LogEvery = time.Minute
	}
	l := &Limiter{
		o:        o,
		rdb:      o.Redis,
		rates:    make(map[string]*bucket),
		counters: make(map[counterID]*counter),
		kick:     make(chan struct{}, 1),
	}
	l.health.init(o)
	return l
}

// Admit checks a request against the subject's quotas (key, then tenant)
// and then its rate limit, taking one request from the bucket when it is
// admitted. A refusal is an *llm.Error (429, KindPolicyBudget, Code
// "insufficient_quota" or "rate_limit_exceeded", RetryAfter set); the
// Decision's Headers belong on the response either way. A refused quota
// does not use up a request from the bucket.
func (l *Limiter) Admit(ctx context.Context, s Subject) (Decision, error) {
	now := l.o.Now()
	day := dayOf(now)
	var kc, tc *counter
	if s.DailyTokens > 0 {
		kc = l.counter(keyScope, s.KeyID, day, now)
		l.seedCounter(ctx, kc, now)
	}
	if s.TenantDailyTokens > 0 && s.Tenant != "" {
		tc = l.counter(tenantScope, s.Tenant, day, now)
		l.seedCounter(ctx, tc, now)
	}
	if s.RPM <= 0 && kc == nil && tc == nil {
		return Decision{}, nil
	}
	if l.rdb != nil {
		if l.health.usable(now) {
			if d, err := l.admitRedis(ctx, s, kc, tc, now); err != errFallback {
				return d, err
			}
		}
		if l.health.down.Load() {
			l.health.fallbacks.Add(1)
		}
	}
	if err := l.checkQuotaLocal(s, kc, tc, now); err != nil {
		return Decision{RetryAfter: err.RetryAfter}, err
	}
	if s.RPM <= 0 {
		return Decision{}, nil
	}
	return l.admitRateLocal(s, now)
}

// Charge counts tokens of a response while it streams (the caller batches,
// say every few dozen tokens). It reports whether the subject's quotas
// still hold: false once the day's total exceeds the key's or the tenant's
// quota, and the stream should end. It never waits on Redis.
func (l *Limiter) Charge(s Subject, tokens int64) bool {
	return l.add(s, tokens)
}

// Settle reconciles a finished request: charged is the sum of what Charge
// was given for it, actual the request's real token usage. The difference
// (either sign) is added, so the day's totals count each token once.
func (l *Limiter) Settle(s Subject, charged, actual int64) {
	if d := actual - charged; d != 0 {
		l.add(s, d)
	}
}

func (l *Limiter) add(s Subject, tokens int64) bool {
	if s.DailyTokens <= 0 && (s.TenantDailyTokens <= 0 || s.Tenant == "") {
		return true
	}
	now := l.o.Now()
	day := dayOf(now)
	ok := true
	if s.DailyTokens > 0 {
		c := l.counter(keyScope, s.KeyID, day, now)
		if c.add(tokens) > s.DailyTokens {
			ok = false
		}
		l.maybeKick(c)
	}
	if s.TenantDailyTokens > 0 && s.Tenant != "" {
		c := l.counter(tenantScope, s.Tenant, day, now)
		if c.add(tokens) > s.TenantDailyTokens {
			ok = false
		}
		l.maybeKick(c)
	}
	return ok
}

func (l *Limiter) maybeKick(c *counter) {
	if l.rdb == nil {
		return
	}
	if p := c.pending.Load(); p >= l.o.FlushTokens || p <= -l.o.FlushTokens {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// Stats returns the limiter's current state.
func (l *Limiter) Stats() Stats {
	l.rmu.RLock()
	nr := len(l.rates)
	l.rmu.RUnlock()
	l.qmu.RLock()
	nq := len(l.counters)
	l.qmu.RUnlock()
	return Stats{
		RedisDown:     l.health.down.Load(),
		RedisErrors:   l.health.errors.Load(),
		Fallbacks:     l.health.fallbacks.Load(),
		RateKeys:      nr,
		QuotaCounters: nq,
	}
}

// Run flushes pending quota charges to Redis every FlushEvery (or sooner
// when a counter has FlushTokens pending) and drops idle in-process state,
// until ctx ends; then it flushes once more (for at most 5s).
func (l *Limiter) Run(ctx context.Context) {
	var flush <-chan time.Time
	if l.rdb != nil {
		t := time.NewTicker(l.o.FlushEvery)
		defer t.Stop()
		flush = t.C
	}
	sweep := time.NewTicker(max(l.o.IdleTTL/4, time.Second))
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			l.safely("flush", func() { _ = l.Flush(fctx) })
			cancel()
			return
		case <-flush:
			l.safely("flush", func() { _ = l.Flush(ctx) })
		case <-l.kick:
			l.safely("flush", func() { _ = l.Flush(ctx) })
		case <-sweep.C:
			l.safely("sweep", func() { l.sweep(l.o.Now()) })
		}
	}
}

func (l *Limiter) safely(what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			l.o.Logger.Error("limit: panic in background "+what, "panic", r)
		}
	}()
	f()
}

// sweep drops in-process state idle since before now-IdleTTL: rate entries
// whose bucket is full (a new one would be identical) and quota counters
// that can be rebuilt (from Redis, or from the store through Seed, or that
// belong to a past day) and have nothing left to flush.
func (l *Limiter) sweep(now time.Time) {
	idle := now.Add(-l.o.IdleTTL).UnixNano()
	l.rmu.Lock()
	for id, b := range l.rates {
		if b.lastUse.Load() < idle && b.full(now) {
			delete(l.rates, id)
		}
	}
	l.rmu.Unlock()

	today := dayOf(now)
	l.qmu.Lock()
	for id, c := range l.counters {
		switch {
		case c.lastUse.Load() >= idle:
		case l.rdb != nil && c.pending.Load() != 0:
			// not in Redis yet
		case l.rdb == nil && l.o.Seed == nil && id.day >= today:
			// the only record of today's usage
		default:
			delete(l.counters, id)
		}
	}
	l.qmu.Unlock()
}

// Errors.

func rateError(s Subject, wait time.Duration) *llm.Error {
	secs := ceilSeconds(wait)
	return &llm.Error{
		Kind:       llm.KindPolicyBudget,
		Status:     http.StatusTooManyRequests,
		Code:       "rate_limit_exceeded",
		RetryAfter: wait,
		Message: fmt.Sprintf("rate limit of %d requests per minute reached for key %q; retry in %s",
			s.RPM, s.name(), time.Duration(secs)*time.Second),
	}
}

func quotaError(sc scope, name string, quota int64, now time.Time) *llm.Error {
	return &llm.Error{
		Kind:       llm.KindPolicyBudget,
		Status:     http.StatusTooManyRequests,
		Code:       "insufficient_quota",
		RetryAfter: nextDay(now).Sub(now),
		Message: fmt.Sprintf("daily token quota of %d tokens reached for %s %q (resets at 00:00 UTC)",
			quota, sc, name),
	}
}

// Days.

const daySeconds = 24 * 60 * 60

// dayOf numbers UTC days since the Unix epoch.
func dayOf(t time.Time) int64 {
	u := t.Unix()
	d := u / daySeconds
	if u%daySeconds < 0 {
		d--
	}
	return d
}

func dayStart(day int64) time.Time { return time.Unix(day*daySeconds, 0).UTC() }

func nextDay(t time.Time) time.Time { return dayStart(dayOf(t) + 1) }
