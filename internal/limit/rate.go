package limit

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// bucket is one key's in-process token bucket.
type bucket struct {
	lim *rate.Limiter
	// cfg is rpm<<32 | burst as last applied to lim.
	cfg     atomic.Uint64
	lastUse atomic.Int64 // unix nanoseconds
}

func packCfg(rpm, burst int) uint64 { return uint64(uint32(rpm))<<32 | uint64(uint32(burst)) }

func perSecond(rpm int) rate.Limit { return rate.Limit(float64(rpm) / 60) }

// full reports whether the bucket holds its whole burst, so that dropping
// it and starting afresh changes nothing.
func (b *bucket) full(now time.Time) bool {
	return b.lim.TokensAt(now) >= float64(b.lim.Burst())
}

// bucket returns the key's bucket, created full, with rpm and burst applied
// (a changed limit applies from now on, keeping the tokens it has).
func (l *Limiter) bucket(id string, rpm, burst int, now time.Time) *bucket {
	l.rmu.RLock()
	b := l.rates[id]
	l.rmu.RUnlock()
	if b == nil {
		l.rmu.Lock()
		if b = l.rates[id]; b == nil {
			b = &bucket{lim: rate.NewLimiter(perSecond(rpm), burst)}
			b.cfg.Store(packCfg(rpm, burst))
			l.rates[id] = b
		}
		l.rmu.Unlock()
	}
	if cfg := packCfg(rpm, burst); b.cfg.Load() != cfg {
		b.lim.SetLimitAt(now, perSecond(rpm))
		b.lim.SetBurstAt(now, burst)
		b.cfg.Store(cfg)
	}
	b.lastUse.Store(now.UnixNano())
	return b
}

// tokensDuration is how long rpm takes to refill n requests.
func tokensDuration(n float64, rpm int) time.Duration {
	if n <= 0 {
		return 0
	}
	return time.Duration(n * float64(time.Minute) / float64(rpm)).Round(time.Microsecond)
}

// admitRateLocal takes one request from the key's in-process bucket.
func (l *Limiter) admitRateLocal(s Subject, now time.Time) (Decision, error) {
	burst := s.burst()
	b := l.bucket(s.KeyID, s.RPM, burst, now)
	ok := b.lim.AllowN(now, 1)
	tokens := b.lim.TokensAt(now)
	d := Decision{
		Limit:     s.RPM,
		Remaining: max(int(math.Floor(tokens+1e-6)), 0),
		Reset:     tokensDuration(float64(burst)-tokens, s.RPM),
	}
	if ok {
		return d, nil
	}
	d.RetryAfter = tokensDuration(1-tokens, s.RPM)
	return d, rateError(s, d.RetryAfter)
}

// admitScript checks the quota counters and then takes one request from the
// key's GCRA bucket, atomically.
//
// GCRA keeps one number per key: the theoretical arrival time (tat) of the
// next request if the key sent at exactly its rate. With emission interval
// T = 60s/rpm, a request at now is admitted when tat - burst*T <= now - T,
// i.e. when fewer than burst intervals of debt are outstanding; it then
// moves tat to max(tat, now) + T. The bucket is full when tat <= now, which
// is when the key expires.
//
// The key also stores the rpm and burst tat was computed with. When they
// change, the debt is carried over in requests, not in time, so the bucket
// behaves exactly like the in-process token bucket (x/time/rate keeps its
// tokens across SetLimitAt and SetBurstAt): lowering rpm does not grant
// requests, and a burst change moves the capacity, not the tokens held.
//
//	KEYS[1] rate key, KEYS[2] key quota counter, KEYS[3] tenant quota counter
//	ARGV[1] now in microseconds (0: Redis's TIME)
//	ARGV[2] requests per minute (0: no rate limit)
//	ARGV[3] burst
//	ARGV[4] key quota: refuse when the counter is at least this (-1: none)
//	ARGV[5] tenant quota likewise
//
// It returns {status, remaining, retry_us, reset_us, key_used, tenant_used}
// where status is 1 admitted, 0 rate limited, 2 key quota spent, 3 tenant
// quota spent; remaining is -1 without a rate limit; *_used is the
// counter's value, -1 when it does not exist and -2 when not checked.
var admitScript = redis.NewScript(`
pcall(redis.replicate_commands)
local function used(key, quota)
  if quota < 0 then return -2 end
  local v = redis.call('GET', key)
  if not v then return -1 end
  return tonumber(v)
end
local kq, tq = tonumber(ARGV[4]), tonumber(ARGV[5])
local ku, tu = used(KEYS[2], kq), used(KEYS[3], tq)
if kq >= 0 and math.max(ku, 0) >= kq then return {2, 0, 0, 0, ku, tu} end
if tq >= 0 and math.max(tu, 0) >= tq then return {3, 0, 0, 0, ku, tu} end

local rpm = tonumber(ARGV[2])
if rpm <= 0 then return {1, -1, 0, 0, ku, tu} end
local now = tonumber(ARGV[1])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local burst = tonumber(ARGV[3])
local interval = 60000000 / rpm

local tat, orpm, oburst = now, rpm, burst
local state = redis.call('GET', KEYS[1])
if state then
  local a, b, c = string.match(state, '^(%d+) (%d+) (%d+)$')
  if a then tat, orpm, oburst = tonumber(a), tonumber(b), tonumber(c) end
end
if tat < now then tat = now end
if orpm ~= rpm or oburst ~= burst then
  local debt = (tat - now) * orpm / 60000000
  debt = math.max(debt + burst - oburst, 0)
  tat = now + debt * interval
end

local newtat = tat + interval
local slack = now - (newtat - burst * interval)
if slack < 0 then
  if orpm ~= rpm or oburst ~= burst then
    redis.call('SET', KEYS[1], string.format('%.0f %d %d', tat, rpm, burst), 'PX', math.max(1, math.ceil((tat - now) / 1000)))
  end
  return {0, 0, math.ceil(-slack), math.ceil(tat - now), ku, tu}
end
local reset = newtat - now
redis.call('SET', KEYS[1], string.format('%.0f %d %d', newtat, rpm, burst), 'PX', math.max(1, math.ceil(reset / 1000)))
return {1, math.floor(slack / interval + 1e-6), 0, math.ceil(reset), ku, tu}
`)

// admitRedis runs admitScript. It returns errFallback when Redis failed and
// the caller must decide in-process.
func (l *Limiter) admitRedis(ctx context.Context, s Subject, kc, tc *counter, now time.Time) (Decision, error) {
	rateKey := l.o.Prefix + "rate:" + s.KeyID
	keys := []string{rateKey, rateKey, rateKey}
	kq, tq := int64(-1), int64(-1)
	var kgen, tgen uint64
	if kc != nil {
		keys[1] = kc.rkey
		kq = max(s.DailyTokens-kc.pending.Load(), 0)
		kgen = kc.gen.Load()
	}
	if tc != nil {
		keys[2] = tc.rkey
		tq = max(s.TenantDailyTokens-tc.pending.Load(), 0)
		tgen = tc.gen.Load()
	}
	var nowUS int64
	if l.redisNow != nil {
		nowUS = l.redisNow().UnixMicro()
	}
	rctx, cancel := context.WithTimeout(ctx, l.o.RedisTimeout)
	res, rerr := admitScript.Run(rctx, l.rdb, keys, nowUS, s.RPM, s.burst(), kq, tq).Int64Slice()
	cancel()
	if rerr == nil && len(res) != 6 {
		rerr = errBadReply
	}
	if rerr != nil {
		l.redisFailed(ctx, rerr, now)
		return Decision{}, errFallback
	}
	l.redisOK()
	if kc != nil {
		kc.observe(res[4], kgen)
	}
	if tc != nil {
		tc.observe(res[5], tgen)
	}
	switch res[0] {
	case 2:
		e := quotaError(keyScope, s.name(), s.DailyTokens, now)
		return Decision{RetryAfter: e.RetryAfter}, e
	case 3:
		e := quotaError(tenantScope, s.Tenant, s.TenantDailyTokens, now)
		return Decision{RetryAfter: e.RetryAfter}, e
	}
	if res[1] < 0 {
		return Decision{}, nil
	}
	d := Decision{Limit: s.RPM, Remaining: int(res[1]), Reset: time.Duration(res[3]) * time.Microsecond}
	if res[0] == 1 {
		return d, nil
	}
	d.RetryAfter = time.Duration(res[2]) * time.Microsecond
	return d, rateError(s, d.RetryAfter)
}
