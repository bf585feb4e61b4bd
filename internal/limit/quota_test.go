package limit

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// request is one request of a quota scenario: the batches charged while it
// streams, the usage it really had, and what Charge should answer.
type request struct {
	charges    []int64
	wantCharge []bool
	actual     int64
	wantUsed   int64 // the day's total after Settle
}

// TestQuotaArithmetic: Charge during the stream plus Settle at the end
// count each token exactly once, whatever the estimate was.
func TestQuotaArithmetic(t *testing.T) {
	tests := []struct {
		name      string
		quota     int64
		reqs      []request
		wantAdmit bool // for the request after them
	}{
		{"estimate low", 1000, []request{
			{[]int64{300, 300}, []bool{true, true}, 650, 650},
		}, true},
		{"estimate high", 1000, []request{
			{[]int64{300, 300}, []bool{true, true}, 550, 550},
			{[]int64{100}, []bool{true}, 100, 650},
		}, true},
		{"no charges, settle only", 1000, []request{
			{nil, nil, 400, 400},
			{nil, nil, 400, 800},
		}, true},
		{"exactly spent", 1000, []request{
			{[]int64{500}, []bool{true}, 500, 500},
			{[]int64{250, 250}, []bool{true, true}, 500, 1000},
		}, false},
		{"crossed by settle", 1000, []request{
			{[]int64{900}, []bool{true}, 1001, 1001},
		}, false},
		{"crossed mid-stream", 1000, []request{
			{[]int64{400, 400, 400}, []bool{true, true, false}, 1200, 1200},
		}, false},
		{"settle brings it back under", 1000, []request{
			{[]int64{600, 600}, []bool{true, false}, 700, 700},
		}, true},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, tt := range tests {
			t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
				l := e.limiter(Options{})
				ctx := context.Background()
				s := Subject{KeyID: "q-" + t.Name(), KeyName: "ci", DailyTokens: tt.quota}
				for i, r := range tt.reqs {
					if _, err := l.Admit(ctx, s); err != nil {
						t.Fatalf("request %d refused: %v", i+1, err)
					}
					var charged int64
					for j, n := range r.charges {
						if got := l.Charge(s, n); got != r.wantCharge[j] {
							t.Errorf("request %d: Charge #%d (%d) = %v, want %v", i+1, j+1, n, got, r.wantCharge[j])
						}
						charged += n
					}
					l.Settle(s, charged, r.actual)
					if got := used(l, keyScope, s.KeyID, e.clk.Now()); got != r.wantUsed {
						t.Errorf("request %d: used = %d, want %d", i+1, got, r.wantUsed)
					}
					if e.rdb != nil {
						e.flush(l)
						if got := e.redisCount(keyScope, s.KeyID); got != r.wantUsed {
							t.Errorf("request %d: redis counter = %d, want %d", i+1, got, r.wantUsed)
						}
						if got := used(l, keyScope, s.KeyID, e.clk.Now()); got != r.wantUsed {
							t.Errorf("request %d: used after flush = %d, want %d", i+1, got, r.wantUsed)
						}
					}
				}
				d, err := l.Admit(ctx, s)
				if tt.wantAdmit {
					if err != nil {
						t.Fatalf("next request refused: %v", err)
					}
					return
				}
				le := asLimitErr(t, err, "insufficient_quota")
				if want := `daily token quota of 1000 tokens reached for key "ci" (resets at 00:00 UTC)`; le.Message != want {
					t.Errorf("message = %q, want %q", le.Message, want)
				}
				if le.RetryAfter != 14*time.Hour { // the clock is at 10:00 UTC
					t.Errorf("RetryAfter = %v, want 14h", le.RetryAfter)
				}
				if got := d.Headers().Get("Retry-After"); got != "50400" {
					t.Errorf("Retry-After = %q, want 50400", got)
				}
			})
		}
	})
}

// TestQuotaCrossing: Charge turns false at the batch that takes the day's
// total past the quota, not before.
func TestQuotaCrossing(t *testing.T) {
	tests := []struct {
		name      string
		before    int64 // already used today
		batch     int64
		wantFalse int // index of the first false Charge
	}{
		{"from zero", 0, 10, 10}, // 100 after #9, 110 at #10
		{"from 95", 95, 10, 0},   // 105 at once
		{"from 90", 90, 10, 1},   // exactly 100 at #0 holds
		{"one token at a time", 50, 1, 50},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, tt := range tests {
			t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
				l := e.limiter(Options{})
				ctx := context.Background()
				s := Subject{KeyID: "x-" + t.Name(), DailyTokens: 100}
				if _, err := l.Admit(ctx, s); err != nil {
					t.Fatal(err)
				}
				l.Settle(s, 0, tt.before)
				e.flush(l)
				if _, err := l.Admit(ctx, s); err != nil {
					t.Fatal(err)
				}
				for i := 0; i < 1000; i++ {
					if !l.Charge(s, tt.batch) {
						if i != tt.wantFalse {
							t.Fatalf("Charge turned false at batch %d, want %d", i, tt.wantFalse)
						}
						return
					}
				}
				t.Fatal("Charge never turned false")
			})
		}
	})
}

// TestTenantQuota: a tenant's quota is shared by its keys; other tenants
// and keys without the tenant limit are not affected.
func TestTenantQuota(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		l := e.limiter(Options{})
		ctx := context.Background()
		a := Subject{KeyID: "ka", KeyName: "a", Tenant: "acme", TenantDailyTokens: 500}
		b := Subject{KeyID: "kb", KeyName: "b", Tenant: "acme", TenantDailyTokens: 500, DailyTokens: 10000}
		other := Subject{KeyID: "kc", Tenant: "globex", TenantDailyTokens: 500}

		if _, err := l.Admit(ctx, a); err != nil {
			t.Fatal(err)
		}
		if !l.Charge(a, 300) {
			t.Fatal("a: Charge(300) false")
		}
		l.Settle(a, 300, 300)
		if _, err := l.Admit(ctx, b); err != nil {
			t.Fatal(err)
		}
		if !l.Charge(b, 200) {
			t.Fatal("b: 500 of 500 should still hold")
		}
		if l.Charge(b, 50) {
			t.Fatal("b: Charge past the tenant quota returned true")
		}
		l.Settle(b, 250, 250)
		e.flush(l)
		if got := used(l, tenantScope, "acme", e.clk.Now()); got != 550 {
			t.Fatalf("tenant used = %d, want 550", got)
		}
		if got := used(l, keyScope, "kb", e.clk.Now()); got != 250 {
			t.Fatalf("key b used = %d, want 250 (its own quota counts too)", got)
		}
		for _, s := range []Subject{a, b} {
			_, err := l.Admit(ctx, s)
			le := asLimitErr(t, err, "insufficient_quota")
			if want := `daily token quota of 500 tokens reached for tenant "acme" (resets at 00:00 UTC)`; le.Message != want {
				t.Errorf("%s: message = %q, want %q", s.KeyName, le.Message, want)
			}
		}
		if _, err := l.Admit(ctx, other); err != nil {
			t.Fatalf("other tenant refused: %v", err)
		}
		// the same tenant without a tenant limit (e.g. removed) is admitted
		if _, err := l.Admit(ctx, Subject{KeyID: "ka", Tenant: "acme"}); err != nil {
			t.Fatalf("no tenant limit: %v", err)
		}
	})
}

// TestDayRollover: quotas are per UTC day.
func TestDayRollover(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		e.clk.Set(time.Date(2030, 6, 15, 23, 59, 58, 0, time.UTC))
		l := e.limiter(Options{})
		ctx := context.Background()
		s := Subject{KeyID: "day", KeyName: "day", Tenant: "t", DailyTokens: 100, TenantDailyTokens: 1000}
		if _, err := l.Admit(ctx, s); err != nil {
			t.Fatal(err)
		}
		l.Settle(s, 0, 100)
		e.flush(l)
		e.clk.Advance(time.Second) // 23:59:59
		d, err := l.Admit(ctx, s)
		le := asLimitErr(t, err, "insufficient_quota")
		if le.RetryAfter != time.Second || d.Headers().Get("Retry-After") != "1" {
			t.Errorf("RetryAfter = %v (header %q), want 1s", le.RetryAfter, d.Headers().Get("Retry-After"))
		}

		e.clk.Advance(time.Second) // 00:00:00 the next day
		if _, err := l.Admit(ctx, s); err != nil {
			t.Fatalf("after midnight UTC: %v", err)
		}
		if !l.Charge(s, 100) || l.Charge(s, 1) {
			t.Error("the new day's quota should allow exactly 100")
		}
		if got := used(l, tenantScope, "t", e.clk.Now()); got != 101 {
			t.Errorf("tenant used today = %d, want 101", got)
		}
		if e.rdb != nil {
			e.flush(l)
			if got := e.redisCount(keyScope, "day"); got != 101 {
				t.Errorf("redis counter for the new day = %d, want 101", got)
			}
			old := e.prefix + "quota:20300615:key:day"
			ttl, err := e.rdb.TTL(ctx, old).Result()
			if err != nil || ttl <= 0 || ttl > 48*time.Hour {
				t.Errorf("yesterday's counter TTL = %v (%v), want (0, 48h]", ttl, err)
			}
		}
		// idle state of past days goes away
		e.clk.Advance(time.Hour)
		l.sweep(e.clk.Now())
		l.qmu.RLock()
		for id := range l.counters {
			if id.day != dayOf(e.clk.Now()) {
				t.Errorf("counter %+v of a past day kept", id)
			}
		}
		l.qmu.RUnlock()
	})
}

// seedStore is a fake store for SeedFunc.
type seedStore struct {
	mu    sync.Mutex // guards all
	usage map[string]int64
	calls []string
	err   error
}

func (s *seedStore) seed(_ context.Context, scope, id string, dayStart time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, scope+":"+id+"@"+dayStart.Format(time.RFC3339))
	if s.err != nil {
		return 0, s.err
	}
	return s.usage[scope+":"+id], nil
}

func (s *seedStore) ncalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// TestSeedAfterRestart: the first use of a counter after a start reads the
// day's usage from the store, so a restart does not reset the day; with
// Redis, only when Redis does not have the counter.
func TestSeedAfterRestart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		st := &seedStore{usage: map[string]int64{"key:k1": 900, "tenant:acme": 4000}}
		s := Subject{KeyID: "k1", KeyName: "ci", Tenant: "acme", DailyTokens: 1000, TenantDailyTokens: 5000}

		l := e.limiter(Options{Seed: st.seed})
		for range 3 {
			if _, err := l.Admit(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		if st.ncalls() != 2 {
			t.Fatalf("seed calls = %v, want one per counter", st.calls)
		}
		if want := "key:k1@2030-06-15T00:00:00Z"; st.calls[0] != want {
			t.Errorf("seed call = %q, want %q", st.calls[0], want)
		}
		if got := used(l, tenantScope, "acme", e.clk.Now()); got != 4000 {
			t.Errorf("tenant seeded to %d, want 4000", got)
		}
		if !l.Charge(s, 100) || l.Charge(s, 1) {
			t.Fatal("seeded at 900 of 1000: 100 more should hold, 101 not")
		}
		l.Settle(s, 101, 101)
		e.flush(l)
		if e.rdb != nil {
			if got := e.redisCount(keyScope, "k1"); got != 1001 {
				t.Fatalf("redis counter = %d, want 1001 (seed 900 + 101)", got)
			}
		}

		// restart: the store now has the rows of the requests above
		st2 := &seedStore{usage: map[string]int64{"key:k1": 1001, "tenant:acme": 4101}}
		if e.rdb != nil {
			// with Redis the shared counter wins; a stale store is not read
			st2.usage["key:k1"] = 0
		}
		l2 := e.limiter(Options{Seed: st2.seed})
		_, err := l2.Admit(ctx, s)
		asLimitErr(t, err, "insufficient_quota")
		if e.rdb != nil && st2.ncalls() != 0 {
			t.Errorf("seeded from the store although Redis had the counters: %v", st2.calls)
		}
	})
}

// TestSeedRedisAbsent: Redis counters are created from the store's count
// with SET NX, once, by whichever replica comes first.
func TestSeedRedisAbsent(t *testing.T) {
	rdb := testRedis(t)
	e := &env{t: t, clk: newClock(), rdb: rdb, prefix: testPrefix(t, rdb)}
	ctx := context.Background()
	st := &seedStore{usage: map[string]int64{"key:k": 700}}
	s := Subject{KeyID: "k", DailyTokens: 1000}
	l := e.limiter(Options{Seed: st.seed})
	if _, err := l.Admit(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := e.redisCount(keyScope, "k"); got != 700 {
		t.Fatalf("redis counter = %d, want the seed 700", got)
	}
	ttl := rdb.TTL(ctx, e.prefix+"quota:20300615:key:k").Val()
	if ttl < 37*time.Hour || ttl > 38*time.Hour { // 48h after 00:00, seen at 10:00
		t.Errorf("TTL = %v, want ~38h", ttl)
	}
	// a replica with another store value must not overwrite it
	st2 := &seedStore{usage: map[string]int64{"key:k": 5}}
	l2 := e.limiter(Options{Seed: st2.seed})
	l2.Charge(s, 10)
	if _, err := l2.Admit(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.flush(l2)
	if got := e.redisCount(keyScope, "k"); got != 710 {
		t.Fatalf("redis counter = %d, want 710", got)
	}

	// Redis lost the counter (restart without persistence): seeded again
	rdb.Del(ctx, e.prefix+"quota:20300615:key:k")
	st.mu.Lock()
	st.usage["key:k"] = 800
	st.mu.Unlock()
	if _, err := l.Admit(ctx, s); err != nil { // notices the loss
		t.Fatal(err)
	}
	if _, err := l.Admit(ctx, s); err != nil { // seeds again
		t.Fatal(err)
	}
	if got := e.redisCount(keyScope, "k"); got != 800 {
		t.Fatalf("after losing the counter: redis = %d, want the new seed 800", got)
	}
}

// TestSeedFailure: a failing store never fails a request; the seed is
// tried again later and the charges made meanwhile are kept.
func TestSeedFailure(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var logs bytes.Buffer
		st := &seedStore{usage: map[string]int64{"key:k": 500}, err: errors.New("store down")}
		l := e.limiter(Options{Seed: st.seed, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		s := Subject{KeyID: "k", DailyTokens: 1000}
		if _, err := l.Admit(ctx, s); err != nil {
			t.Fatalf("refused while the store is down: %v", err)
		}
		l.Charge(s, 200)
		if _, err := l.Admit(ctx, s); err != nil {
			t.Fatal(err)
		}
		if st.ncalls() != 1 {
			t.Errorf("seed calls = %d, want 1 (retry waits)", st.ncalls())
		}
		if !strings.Contains(logs.String(), "store down") {
			t.Errorf("seed failure not logged: %q", logs.String())
		}
		st.mu.Lock()
		st.err = nil
		st.mu.Unlock()
		e.clk.Advance(seedRetry)
		if _, err := l.Admit(ctx, s); err != nil {
			t.Fatal(err)
		}
		e.flush(l)
		if got := used(l, keyScope, "k", e.clk.Now()); got != 700 {
			t.Errorf("used = %d, want 700 (seed 500 + 200 charged meanwhile)", got)
		}
		if e.rdb != nil {
			if got := e.redisCount(keyScope, "k"); got != 700 {
				t.Errorf("redis = %d, want 700", got)
			}
		}
	})
}

// TestQuotaSharedAcrossReplicas: charges flushed by one replica count on
// the other.
func TestQuotaSharedAcrossReplicas(t *testing.T) {
	rdb := testRedis(t)
	e := &env{t: t, clk: newClock(), rdb: rdb, prefix: testPrefix(t, rdb)}
	ctx := context.Background()
	l1, l2 := e.limiter(Options{}), e.limiter(Options{})
	s := Subject{KeyID: "k", KeyName: "ci", DailyTokens: 1000}
	if _, err := l1.Admit(ctx, s); err != nil {
		t.Fatal(err)
	}
	l1.Charge(s, 600)
	e.flush(l1)
	if _, err := l2.Admit(ctx, s); err != nil {
		t.Fatal(err)
	}
	if l2.Charge(s, 500) {
		t.Fatal("l2: 600 (l1) + 500 should cross 1000")
	}
	l2.Settle(s, 500, 350)
	e.flush(l2)
	if got := e.redisCount(keyScope, "k"); got != 950 {
		t.Fatalf("redis = %d, want 950", got)
	}
	l1.Charge(s, 50)
	e.flush(l1)
	_, err := l2.Admit(ctx, s)
	asLimitErr(t, err, "insufficient_quota")
}

// TestRunFlushes: Run sends charges to Redis on its own, early when a
// counter has FlushTokens pending, and once more when it stops.
func TestRunFlushes(t *testing.T) {
	rdb := testRedis(t)
	e := &env{t: t, clk: newClock(), rdb: rdb, prefix: testPrefix(t, rdb)}
	l := e.limiter(Options{FlushEvery: time.Hour, FlushTokens: 100})
	s := Subject{KeyID: "k", DailyTokens: 1_000_000}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	if _, err := l.Admit(ctx, s); err != nil {
		t.Fatal(err)
	}
	l.Charge(s, 150) // over FlushTokens: flushed without waiting for the hour
	waitFor(t, func() bool { return e.redisCount(keyScope, "k") == 150 })
	l.Charge(s, 10) // below: stays pending until Run stops
	time.Sleep(50 * time.Millisecond)
	if got := e.redisCount(keyScope, "k"); got != 150 {
		t.Fatalf("redis = %d, want 150 (10 pending)", got)
	}
	cancel()
	<-done
	if got := e.redisCount(keyScope, "k"); got != 160 {
		t.Fatalf("after Run stopped: redis = %d, want 160", got)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRedisDown: when Redis fails, requests are decided in-process (fail
// open on the shared state, still limited per replica), one warning is
// logged, charges are kept, and Redis takes over again when it answers.
func TestRedisDown(t *testing.T) {
	direct := testRedis(t)
	prefix := testPrefix(t, direct)
	px := startProxy(t, redisAddr())
	rdb := redis.NewClient(&redis.Options{Addr: px.addr()})
	t.Cleanup(func() { rdb.Close() })
	e := &env{t: t, clk: newClock(), rdb: rdb, prefix: prefix}
	var logs bytes.Buffer
	l := e.limiter(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), RedisTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	s := Subject{KeyID: "k", KeyName: "ci", RPM: 60, Burst: 3, DailyTokens: 1000}

	if _, err := l.Admit(ctx, s); err != nil {
		t.Fatal(err)
	}
	l.Charge(s, 100)
	e.flush(l)
	if st := l.Stats(); st.RedisDown || st.RedisErrors != 0 {
		t.Fatalf("Stats = %+v before the outage", st)
	}

	px.setDown(true)
	// Redis's bucket has 2 left; this replica's own bucket is full (3)
	for i := range 3 {
		if _, err := l.Admit(ctx, s); err != nil {
			t.Fatalf("request %d during the outage refused: %v", i+1, err)
		}
	}
	st := l.Stats()
	if !st.RedisDown || st.RedisErrors == 0 || st.Fallbacks != 3 {
		t.Fatalf("Stats = %+v, want RedisDown, errors and 3 fallbacks", st)
	}
	if _, err := l.Admit(ctx, s); err == nil {
		t.Fatal("the in-process fallback does not limit")
	}
	start := time.Now()
	for range 20 {
		_, _ = l.Admit(ctx, s)
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Errorf("20 admissions while down took %v: Redis is tried on every request", el)
	}
	if !l.Charge(s, 200) {
		t.Fatal("Charge false at 300 of 1000")
	}
	if err := l.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded while Redis is down")
	}
	if got := used(l, keyScope, "k", e.clk.Now()); got != 300 {
		t.Fatalf("local view = %d, want 300", got)
	}
	e.clk.Advance(2 * time.Second) // a probe fails again: no second warning
	_, _ = l.Admit(ctx, s)
	if n := strings.Count(logs.String(), "redis unreachable"); n != 1 {
		t.Errorf("%d warnings, want 1 per LogEvery:\n%s", n, logs.String())
	}

	px.setDown(false)
	e.clk.Advance(time.Second)
	if _, err := l.Admit(ctx, s); err != nil { // the probe: Redis again
		t.Fatalf("after recovery: %v", err)
	}
	if l.Stats().RedisDown {
		t.Fatal("still down after Redis answered")
	}
	e.flush(l)
	if got := (&env{t: t, clk: e.clk, rdb: direct, prefix: prefix}).redisCount(keyScope, "k"); got != 300 {
		t.Fatalf("redis counter = %d, want 300: charges made during the outage were lost", got)
	}
	fb := l.Stats().Fallbacks
	for range 5 {
		_, _ = l.Admit(ctx, s)
	}
	if l.Stats().Fallbacks != fb {
		t.Error("still deciding in-process after recovery")
	}
	if !strings.Contains(logs.String(), "redis answers again") {
		t.Errorf("recovery not logged:\n%s", logs.String())
	}
}

// TestConcurrentCharges: charges from many streams while Run flushes
// concurrently are all counted, once.
func TestConcurrentCharges(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		l := e.limiter(Options{FlushEvery: time.Millisecond, FlushTokens: 50})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { l.Run(ctx); close(done) }()
		s := Subject{KeyID: "k", Tenant: "t", DailyTokens: 1 << 40, TenantDailyTokens: 1 << 40}
		if _, err := l.Admit(ctx, s); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for i := range 500 {
					l.Charge(s, 3)
					if i%100 == 0 {
						l.Settle(s, 3, 3+int64(g%2)) // +1 for odd streams
					}
				}
			})
		}
		wg.Wait()
		cancel()
		<-done
		want := int64(8*500*3 + 4*5)
		for _, c := range []struct {
			sc scope
			id string
		}{{keyScope, "k"}, {tenantScope, "t"}} {
			if got := used(l, c.sc, c.id, e.clk.Now()); got != want {
				t.Errorf("%s used = %d, want %d", c.sc, got, want)
			}
			if e.rdb != nil {
				if got := e.redisCount(c.sc, c.id); got != want {
					t.Errorf("%s redis = %d, want %d", c.sc, got, want)
				}
			}
		}
	})
}
