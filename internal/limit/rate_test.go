package limit

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHeaders(t *testing.T) {
	tests := []struct {
		name string
		d    Decision
		want http.Header
	}{
		{"nothing", Decision{}, nil},
		{"admitted", Decision{Limit: 60, Remaining: 9, Reset: time.Second},
			http.Header{"X-Ratelimit-Limit-Requests": {"60"}, "X-Ratelimit-Remaining-Requests": {"9"}, "X-Ratelimit-Reset-Requests": {"1s"}}},
		{"minutes", Decision{Limit: 10, Remaining: 0, Reset: 6 * time.Minute},
			http.Header{"X-Ratelimit-Limit-Requests": {"10"}, "X-Ratelimit-Remaining-Requests": {"0"}, "X-Ratelimit-Reset-Requests": {"6m0s"}}},
		{"sub-millisecond rounds up", Decision{Limit: 6000, Remaining: 99, Reset: 10*time.Millisecond + time.Microsecond},
			http.Header{"X-Ratelimit-Limit-Requests": {"6000"}, "X-Ratelimit-Remaining-Requests": {"99"}, "X-Ratelimit-Reset-Requests": {"11ms"}}},
		{"refused", Decision{Limit: 60, Remaining: 0, Reset: 10 * time.Second, RetryAfter: 1500 * time.Millisecond},
			http.Header{"X-Ratelimit-Limit-Requests": {"60"}, "X-Ratelimit-Remaining-Requests": {"0"}, "X-Ratelimit-Reset-Requests": {"10s"}, "Retry-After": {"2"}}},
		{"retry-after at least 1", Decision{Limit: 6000, RetryAfter: 10 * time.Millisecond, Reset: 10 * time.Millisecond},
			http.Header{"X-Ratelimit-Limit-Requests": {"6000"}, "X-Ratelimit-Remaining-Requests": {"0"}, "X-Ratelimit-Reset-Requests": {"10ms"}, "Retry-After": {"1"}}},
		{"float noise is not a second more", Decision{RetryAfter: time.Second + 1}, http.Header{"Retry-After": {"1"}}},
		{"quota refusal", Decision{RetryAfter: 14 * time.Hour}, http.Header{"Retry-After": {"50400"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.d.Headers()
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("Headers() = %v, want %v", got, tt.want)
			}
			// what clients read
			if tt.want != nil && got.Get("x-ratelimit-limit-requests") != tt.want.Get("X-Ratelimit-Limit-Requests") {
				t.Errorf("canonical lookup failed: %v", got)
			}
		})
	}
}

// TestBurstThenRefusal: a full bucket admits burst requests at once, then
// refuses with the wait until the next one and the header values.
func TestBurstThenRefusal(t *testing.T) {
	tests := []struct {
		rpm, burst    int
		wantRetry     time.Duration
		wantRetryHdr  string
		wantReset     string // on the refusal (the whole bucket)
		wantFirstRst  string // after the first request
		wantRetryText string
	}{
		{60, 10, time.Second, "1", "10s", "1s", "1s"},
		{30, 1, 2 * time.Second, "2", "2s", "2s", "2s"},
		{600, 5, 100 * time.Millisecond, "1", "500ms", "100ms", "1s"},
		{1, 6, time.Minute, "60", "6m0s", "1m0s", "1m0s"},
		{7, 2, 8571429 * time.Microsecond, "9", "17.143s", "8.572s", "9s"},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("rpm%d_burst%d", tt.rpm, tt.burst), func(t *testing.T) {
				l := e.limiter(Options{})
				s := Subject{KeyID: "k-" + t.Name(), KeyName: "ci", RPM: tt.rpm, Burst: tt.burst}
				ctx := context.Background()
				for i := range tt.burst {
					d, err := l.Admit(ctx, s)
					if err != nil {
						t.Fatalf("request %d: %v", i+1, err)
					}
					if d.Limit != tt.rpm || d.Remaining != tt.burst-1-i {
						t.Fatalf("request %d: Limit %d Remaining %d, want %d %d", i+1, d.Limit, d.Remaining, tt.rpm, tt.burst-1-i)
					}
					if i == 0 {
						if got := d.Headers().Get("X-Ratelimit-Reset-Requests"); got != tt.wantFirstRst {
							t.Errorf("first reset header = %q, want %q", got, tt.wantFirstRst)
						}
						if d.Headers().Get("Retry-After") != "" {
							t.Errorf("Retry-After on an admitted request")
						}
					}
				}
				d, err := l.Admit(ctx, s)
				le := asLimitErr(t, err, "rate_limit_exceeded")
				if diff := le.RetryAfter - tt.wantRetry; diff < -time.Microsecond || diff > time.Microsecond {
					t.Errorf("RetryAfter = %v, want %v", le.RetryAfter, tt.wantRetry)
				}
				if d.RetryAfter != le.RetryAfter {
					t.Errorf("Decision.RetryAfter %v != error's %v", d.RetryAfter, le.RetryAfter)
				}
				want := fmt.Sprintf(`rate limit of %d requests per minute reached for key "ci"; retry in %s`, tt.rpm, tt.wantRetryText)
				if le.Message != want {
					t.Errorf("message = %q, want %q", le.Message, want)
				}
				h := d.Headers()
				for k, v := range map[string]string{
					"Retry-After":                    tt.wantRetryHdr,
					"X-Ratelimit-Limit-Requests":     fmt.Sprint(tt.rpm),
					"X-Ratelimit-Remaining-Requests": "0",
					"X-Ratelimit-Reset-Requests":     tt.wantReset,
				} {
					if h.Get(k) != v {
						t.Errorf("%s = %q, want %q", k, h.Get(k), v)
					}
				}
			})
		}
	})
}

func TestRefill(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		l := e.limiter(Options{})
		s := Subject{KeyID: "refill", RPM: 60, Burst: 2}
		ctx := context.Background()
		steps := []struct {
			advance   time.Duration
			admitted  bool
			remaining int
			retry     time.Duration
		}{
			{0, true, 1, 0},
			{0, true, 0, 0},
			{0, false, 0, time.Second},
			{500 * time.Millisecond, false, 0, 500 * time.Millisecond},
			{500 * time.Millisecond, true, 0, 0},
			{999 * time.Millisecond, false, 0, time.Millisecond},
			{time.Millisecond, true, 0, 0},
			{time.Hour, true, 1, 0}, // full again, not more than full
			{0, true, 0, 0},
			{0, false, 0, time.Second},
		}
		for i, st := range steps {
			e.clk.Advance(st.advance)
			d, err := l.Admit(ctx, s)
			if st.admitted != (err == nil) {
				t.Fatalf("step %d: admitted = %v (err %v), want %v", i, err == nil, err, st.admitted)
			}
			if d.Remaining != st.remaining {
				t.Errorf("step %d: Remaining = %d, want %d", i, d.Remaining, st.remaining)
			}
			if diff := d.RetryAfter - st.retry; diff < -time.Microsecond || diff > time.Microsecond {
				t.Errorf("step %d: RetryAfter = %v, want %v", i, d.RetryAfter, st.retry)
			}
		}
	})
}

// TestRefillRealTime uses Redis's own clock (the production path): a
// refused key is admitted again once the interval has passed.
func TestRefillRealTime(t *testing.T) {
	rdb := testRedis(t)
	l := New(Options{Redis: rdb, Prefix: testPrefix(t, rdb)})
	s := Subject{KeyID: "rt", RPM: 600, Burst: 2} // one every 100ms
	ctx := context.Background()
	for i := range 2 {
		if _, err := l.Admit(ctx, s); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	d, err := l.Admit(ctx, s)
	if err == nil {
		t.Fatal("third request admitted at once")
	}
	if d.RetryAfter <= 0 || d.RetryAfter > 100*time.Millisecond {
		t.Fatalf("RetryAfter = %v, want in (0, 100ms]", d.RetryAfter)
	}
	time.Sleep(d.RetryAfter + 20*time.Millisecond)
	if _, err := l.Admit(ctx, s); err != nil {
		t.Fatalf("after waiting RetryAfter: %v", err)
	}
}

func TestKeysIndependent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		l := e.limiter(Options{})
		ctx := context.Background()
		a := Subject{KeyID: "a", KeyName: "same", RPM: 60, Burst: 3}
		b := Subject{KeyID: "b", KeyName: "same", RPM: 60, Burst: 3}
		for range 3 {
			if _, err := l.Admit(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Admit(ctx, a); err == nil {
			t.Fatal("a: fourth request admitted")
		}
		for i := range 3 {
			d, err := l.Admit(ctx, b)
			if err != nil {
				t.Fatalf("b request %d refused after a was drained: %v", i+1, err)
			}
			if d.Remaining != 2-i {
				t.Errorf("b request %d: Remaining %d, want %d", i+1, d.Remaining, 2-i)
			}
		}
		// a key without a rate limit is never refused and gets no headers
		for range 100 {
			d, err := l.Admit(ctx, Subject{KeyID: "free"})
			if err != nil || d.Headers() != nil {
				t.Fatalf("unlimited key: %v %v", err, d.Headers())
			}
		}
	})
}

// TestLimitChange: an updated rpm or burst applies to the key's next
// request, keeping the requests already taken (in both backends alike).
func TestLimitChange(t *testing.T) {
	tests := []struct {
		name        string
		before      Subject
		take        int
		after       Subject
		admitted    bool
		remaining   int
		retry       time.Duration
		reset       time.Duration
		thenAdvance time.Duration
		thenOK      bool
	}{
		{"lower rpm grants nothing", Subject{RPM: 60, Burst: 2}, 2, Subject{RPM: 30, Burst: 2},
			false, 0, 2 * time.Second, 4 * time.Second, time.Second, false},
		{"higher rpm refills faster", Subject{RPM: 60, Burst: 2}, 2, Subject{RPM: 600, Burst: 2},
			false, 0, 100 * time.Millisecond, 200 * time.Millisecond, 100 * time.Millisecond, true},
		{"lower burst caps the tokens", Subject{RPM: 60, Burst: 10}, 3, Subject{RPM: 60, Burst: 5},
			true, 4, 0, time.Second, 0, true},
		{"higher burst keeps the tokens", Subject{RPM: 60, Burst: 2}, 2, Subject{RPM: 60, Burst: 5},
			false, 0, time.Second, 5 * time.Second, time.Second, true},
		{"limit removed", Subject{RPM: 60, Burst: 1}, 1, Subject{},
			true, 0, 0, 0, 0, true},
	}
	forEachBackend(t, func(t *testing.T, e *env) {
		for _, tt := range tests {
			t.Run(strings.ReplaceAll(tt.name, " ", "_"), func(t *testing.T) {
				l := e.limiter(Options{})
				ctx := context.Background()
				before, after := tt.before, tt.after
				before.KeyID, after.KeyID = t.Name(), t.Name()
				for i := range tt.take {
					if _, err := l.Admit(ctx, before); err != nil {
						t.Fatalf("request %d: %v", i+1, err)
					}
				}
				d, err := l.Admit(ctx, after)
				if tt.admitted != (err == nil) {
					t.Fatalf("admitted = %v (%v), want %v", err == nil, err, tt.admitted)
				}
				if d.Remaining != tt.remaining {
					t.Errorf("Remaining = %d, want %d", d.Remaining, tt.remaining)
				}
				if diff := d.RetryAfter - tt.retry; diff < -time.Microsecond || diff > time.Microsecond {
					t.Errorf("RetryAfter = %v, want %v", d.RetryAfter, tt.retry)
				}
				if diff := d.Reset - tt.reset; diff < -time.Microsecond || diff > time.Microsecond {
					t.Errorf("Reset = %v, want %v", d.Reset, tt.reset)
				}
				e.clk.Advance(tt.thenAdvance)
				if _, err := l.Admit(ctx, after); tt.thenOK != (err == nil) {
					t.Errorf("after %v: admitted = %v (%v), want %v", tt.thenAdvance, err == nil, err, tt.thenOK)
				}
			})
		}
	})
}

// TestEviction: idle keys whose bucket is full again are dropped, so memory
// follows the keys in use; a drained bucket stays until it has refilled, so
// eviction never grants a request.
func TestEviction(t *testing.T) {
	clk := newClock()
	l := New(Options{Now: clk.Now, IdleTTL: time.Minute})
	ctx := context.Background()
	for i := range 1000 {
		if _, err := l.Admit(ctx, Subject{KeyID: fmt.Sprint("k", i), RPM: 600, Burst: 5}); err != nil {
			t.Fatal(err)
		}
	}
	slow := Subject{KeyID: "slow", RPM: 1, Burst: 3} // 3 minutes to refill
	for range 3 {
		if _, err := l.Admit(ctx, slow); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Stats().RateKeys; n != 1001 {
		t.Fatalf("RateKeys = %d, want 1001", n)
	}

	clk.Advance(30 * time.Second)
	l.sweep(clk.Now())
	if n := l.Stats().RateKeys; n != 1001 {
		t.Fatalf("after 30s (< IdleTTL): RateKeys = %d, want 1001", n)
	}
	active := Subject{KeyID: "k7", RPM: 600, Burst: 5}
	if _, err := l.Admit(ctx, active); err != nil {
		t.Fatal(err)
	}

	clk.Advance(45 * time.Second)
	l.sweep(clk.Now())
	// k7 was used 45s ago; slow is idle but still owes requests
	if n := l.Stats().RateKeys; n != 2 {
		t.Fatalf("after 75s: RateKeys = %d, want 2 (the active key and the drained one)", n)
	}
	// 75s at 1 rpm refilled 1.25 requests, not a fresh bucket of 3
	if d, err := l.Admit(ctx, slow); err != nil || d.Remaining != 0 {
		t.Fatalf("slow key: %v, Remaining %d, want admitted with 0 left (not a fresh bucket)", err, d.Remaining)
	}

	clk.Advance(4 * time.Minute)
	l.sweep(clk.Now())
	if n := l.Stats().RateKeys; n != 0 {
		t.Fatalf("after refill and IdleTTL: RateKeys = %d, want 0", n)
	}
	// a key coming back starts with a full bucket
	d, err := l.Admit(ctx, slow)
	if err != nil || d.Remaining != 2 {
		t.Fatalf("returning key: %v, Remaining %d, want 2", err, d.Remaining)
	}
}

// TestSharedRate: two limiters (two replicas) on one Redis hold the
// combined rate of a key to its limit.
func TestSharedRate(t *testing.T) {
	rdb := testRedis(t)
	prefix := testPrefix(t, rdb)
	a := New(Options{Redis: rdb, Prefix: prefix})
	b := New(Options{Redis: testRedis(t), Prefix: prefix}) // a second connection pool
	s := Subject{KeyID: "shared", KeyName: "ci", RPM: 60, Burst: 10}
	ctx := context.Background()
	admitted := 0
	for i := range 40 {
		l := a
		if i%2 == 1 {
			l = b
		}
		if _, err := l.Admit(ctx, s); err == nil {
			admitted++
		} else {
			asLimitErr(t, err, "rate_limit_exceeded")
		}
	}
	// 40 round trips take well under the 1s it takes to refill one request
	if admitted != 10 {
		t.Fatalf("admitted %d of 40 across two replicas, want exactly 10", admitted)
	}
	if st := a.Stats(); st.RedisDown || st.Fallbacks != 0 || st.RateKeys != 0 {
		t.Errorf("a.Stats() = %+v: decided in-process", st)
	}
}

// TestConcurrentAdmit: concurrent requests of one key get exactly burst
// admissions at one instant (two replicas with Redis).
func TestConcurrentAdmit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		ls := []*Limiter{e.limiter(Options{}), e.limiter(Options{})}
		if e.rdb == nil {
			ls = ls[:1] // in-process replicas do not share
		}
		s := Subject{KeyID: "c", RPM: 60, Burst: 10}
		var admitted atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				for range 10 {
					if _, err := ls[g%len(ls)].Admit(context.Background(), s); err == nil {
						admitted.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if n := admitted.Load(); n != 10 {
			t.Fatalf("admitted %d of 80 concurrent requests, want 10", n)
		}
	})
}
