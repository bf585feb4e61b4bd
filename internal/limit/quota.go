package limit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rickyjim626/xjp/internal/llm"
)

type scope uint8

const (
	keyScope scope = iota
	tenantScope
)

func (s scope) String() string {
	if s == tenantScope {
		return ScopeTenant
	}
	return ScopeKey
}

// counterTTL is how long a Redis quota counter lives after the start of its
// day: through the next day, so a late flush still finds it.
const counterTTL = 48 * time.Hour

// seedRetry is how long a counter whose seed failed waits before the next
// try.
const seedRetry = 5 * time.Second

type counterID struct {
	scope scope
	id    string
	day   int64
}

// counter is one key's or tenant's token count for one UTC day.
//
// used = base + pending. In-process, base is the seed from the store and
// pending every token charged here. With Redis, base is the counter's value
// in Redis as last seen and pending what this replica charged but has not
// flushed yet; a flush moves pending into base.
type counter struct {
	id       counterID
	rkey     string
	dayStart time.Time

	base    atomic.Int64
	pending atomic.Int64
	// gen counts updates of base by flushes and seeding, so an admission
	// that read Redis before one does not overwrite it with an older value.
	gen     atomic.Uint64
	lastUse atomic.Int64 // unix nanoseconds
	// ready: base is meaningful and, with Redis, the Redis counter exists
	// (so flushes may add to it).
	ready atomic.Bool

	mu sync.Mutex // guards the following; held while seeding and while applying a flush
	// seeded: seedVal holds the store's count for the day.
	seeded  bool
	seedVal int64
	retryAt time.Time
}

// used reads pending before base: a concurrent flush stores base before
// taking its amount out of pending, so the sum is never below the truth.
func (c *counter) used() int64 {
	p := c.pending.Load()
	return c.base.Load() + p
}

func (c *counter) add(n int64) int64 {
	p := c.pending.Add(n)
	return c.base.Load() + p
}

// observe records the counter's value as read by the admission script
// (v < 0: absent, or not read) unless a flush or seed changed base since
// gen was read.
func (c *counter) observe(v int64, gen uint64) {
	switch {
	case v >= 0:
		if !c.mu.TryLock() {
			return
		}
		if c.gen.Load() == gen {
			c.base.Store(v)
		}
		c.mu.Unlock()
	case v == -1 && c.ready.Load():
		// Redis lost the counter (restart, eviction): seed it again from
		// the store.
		c.mu.Lock()
		c.seeded = false
		c.ready.Store(false)
		c.mu.Unlock()
	}
}

func (l *Limiter) counter(sc scope, id string, day int64, now time.Time) *counter {
	cid := counterID{sc, id, day}
	l.qmu.RLock()
	c := l.counters[cid]
	l.qmu.RUnlock()
	if c == nil {
		l.qmu.Lock()
		if c = l.counters[cid]; c == nil {
			ds := dayStart(day)
			c = &counter{
				id:       cid,
				rkey:     l.o.Prefix + "quota:" + ds.Format("20060102") + ":" + sc.String() + ":" + id,
				dayStart: ds,
			}
			l.counters[cid] = c
		}
		l.qmu.Unlock()
	}
	c.lastUse.Store(now.UnixNano())
	return c
}

// seedCounter makes c ready on its first use: with Redis, by reading the
// shared counter or, when it is absent, creating it from the store's count
// (SET NX, so replicas seeding at once agree); in-process, from the store.
// Failures leave it unready (tried again later) and never fail a request.
func (l *Limiter) seedCounter(ctx context.Context, c *counter, now time.Time) {
	if c.ready.Load() {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ready.Load() || now.Before(c.retryAt) {
		return
	}
	redisUp := l.rdb != nil && l.health.usable(now)
	if redisUp {
		v, err := l.redisGet(ctx, c.rkey)
		switch {
		case err == nil:
			l.redisOK()
			c.base.Store(v)
			c.gen.Add(1)
			c.ready.Store(true)
			return
		case errors.Is(err, redis.Nil):
			l.redisOK()
		default:
			l.redisFailed(ctx, err, now)
			redisUp = false
		}
	}
	if !c.seeded {
		var v int64
		if l.o.Seed != nil {
			var err error
			if v, err = l.o.Seed(ctx, c.id.scope.String(), c.id.id, c.dayStart); err != nil {
				if ctx.Err() != nil {
					return // the request went away; the next one seeds
				}
				l.o.Logger.Warn("limit: reading the day's token usage from the store failed; will retry",
					"scope", c.id.scope.String(), "id", c.id.id, "retry_in", seedRetry, "error", err)
				c.retryAt = now.Add(seedRetry)
				return
			}
		}
		c.seedVal, c.seeded = v, true
		c.base.Store(v)
		c.gen.Add(1)
	}
	if l.rdb == nil {
		c.ready.Store(true)
		return
	}
	if !redisUp {
		return // decide on the local seed until Redis answers
	}
	rctx, cancel := context.WithTimeout(ctx, l.o.RedisTimeout)
	defer cancel()
	set, err := l.rdb.SetNX(rctx, c.rkey, c.seedVal, c.dayStart.Add(counterTTL).Sub(now)).Result()
	if err != nil {
		l.redisFailed(ctx, err, now)
		return
	}
	if !set {
		// another replica seeded it first
		v, err := l.redisGet(ctx, c.rkey)
		if err != nil && !errors.Is(err, redis.Nil) {
			l.redisFailed(ctx, err, now)
			return
		}
		c.base.Store(v)
	}
	c.gen.Add(1)
	l.redisOK()
	c.ready.Store(true)
}

func (l *Limiter) redisGet(ctx context.Context, key string) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, l.o.RedisTimeout)
	defer cancel()
	return l.rdb.Get(rctx, key).Int64()
}

// checkQuotaLocal refuses when a counter's local view is spent.
func (l *Limiter) checkQuotaLocal(s Subject, kc, tc *counter, now time.Time) *llm.Error {
	if kc != nil && kc.used() >= s.DailyTokens {
		return quotaError(keyScope, s.name(), s.DailyTokens, now)
	}
	if tc != nil && tc.used() >= s.TenantDailyTokens {
		return quotaError(tenantScope, s.Tenant, s.TenantDailyTokens, now)
	}
	return nil
}

// Flush adds every counter's pending charges to Redis now, in one
// MULTI/EXEC. Run calls it; call it directly at shutdown if Run is not
// used. Without Redis it does nothing. While Redis is down it returns an
// error and keeps the charges pending.
func (l *Limiter) Flush(ctx context.Context) error {
	if l.rdb == nil {
		return nil
	}
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	now := l.o.Now()

	var batch, unready []*counter
	var amounts []int64
	l.qmu.RLock()
	for _, c := range l.counters {
		p := c.pending.Load()
		switch {
		case p == 0:
		case !c.ready.Load():
			// Not in Redis yet: an INCRBY would create it without its seed.
			unready = append(unready, c)
		default:
			batch = append(batch, c)
			amounts = append(amounts, p)
		}
	}
	l.qmu.RUnlock()
	for _, c := range unready {
		// Charged without an admission today (a stream that went past
		// midnight, a counter Redis lost): seed it here.
		if l.seedCounter(ctx, c, now); c.ready.Load() {
			batch = append(batch, c)
			amounts = append(amounts, c.pending.Load())
		}
	}
	if len(batch) == 0 {
		return nil
	}
	if !l.health.usable(now) {
		return errRedisDown
	}

	rctx, cancel := context.WithTimeout(ctx, l.o.RedisTimeout)
	defer cancel()
	pipe := l.rdb.TxPipeline()
	incrs := make([]*redis.IntCmd, len(batch))
	for i, c := range batch {
		incrs[i] = pipe.IncrBy(rctx, c.rkey, amounts[i])
		pipe.PExpire(rctx, c.rkey, max(c.dayStart.Add(counterTTL).Sub(now), time.Second))
	}
	if _, err := pipe.Exec(rctx); err != nil {
		l.redisFailed(ctx, err, now)
		return err
	}
	l.redisOK()
	for i, c := range batch {
		c.mu.Lock()
		c.base.Store(incrs[i].Val())
		c.pending.Add(-amounts[i])
		c.gen.Add(1)
		c.mu.Unlock()
	}
	return nil
}
