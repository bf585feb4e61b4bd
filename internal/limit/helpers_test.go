package limit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rickyjim626/xjp/internal/llm"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2030, 6, 15, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// redisAddr is the Redis the tests use (XJP_TEST_REDIS_ADDR, default
// 127.0.0.1:6379).
func redisAddr() string {
	if a := os.Getenv("XJP_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

func inCI() bool {
	ci := strings.ToLower(os.Getenv("CI"))
	return ci != "" && ci != "false" && ci != "0"
}

var (
	redisOnce sync.Once
	redisErr  error // why the test Redis cannot be used
)

// testRedis connects to the test Redis. Without one it skips the test, or
// fails it when CI is set.
func testRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	redisOnce.Do(func() {
		probe := redis.NewClient(&redis.Options{Addr: redisAddr(), MaxRetries: -1})
		defer probe.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		redisErr = probe.Ping(ctx).Err()
	})
	if redisErr != nil {
		if inCI() {
			tb.Fatalf("redis at %s: %v (CI is set, so the Redis tests must run)", redisAddr(), redisErr)
		}
		tb.Skipf("no redis at %s (%v); set CI=true to make this a failure", redisAddr(), redisErr)
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr()})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// testPrefix returns a key prefix unique to this test run and deletes its
// keys at the end.
func testPrefix(tb testing.TB, rdb *redis.Client) string {
	name := strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(tb.Name())
	p := fmt.Sprintf("xjptest:%d:%s:", time.Now().UnixNano(), name)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, p+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
	})
	return p
}

// backend is where a test's limiters keep their state.
type backend struct {
	name  string
	redis bool
}

var backends = []backend{{"inprocess", false}, {"redis", true}}

// env builds limiters for one backend, all on one fake clock (the Lua
// script is given the same clock) and, with Redis, one unique prefix.
type env struct {
	t      *testing.T
	clk    *fakeClock
	rdb    *redis.Client
	prefix string
}

// forEachBackend runs f once in-process and once against Redis.
func forEachBackend(t *testing.T, f func(t *testing.T, e *env)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := &env{t: t, clk: newClock()}
			if b.redis {
				e.rdb = testRedis(t)
				e.prefix = testPrefix(t, e.rdb)
			}
			f(t, e)
		})
	}
}

// limiter returns a Limiter on e's clock and Redis; o's other fields are
// kept.
func (e *env) limiter(o Options) *Limiter {
	o.Now = e.clk.Now
	if e.rdb != nil {
		o.Redis = e.rdb
		o.Prefix = e.prefix
	}
	l := New(o)
	if e.rdb != nil {
		l.redisNow = e.clk.Now
	}
	return l
}

// flush sends pending charges to Redis (no-op in-process).
func (e *env) flush(l *Limiter) {
	e.t.Helper()
	if err := l.Flush(context.Background()); err != nil {
		e.t.Fatalf("Flush: %v", err)
	}
}

// used returns a counter's total as this limiter sees it (local view).
func used(l *Limiter, sc scope, id string, now time.Time) int64 {
	l.qmu.RLock()
	defer l.qmu.RUnlock()
	c := l.counters[counterID{sc, id, dayOf(now)}]
	if c == nil {
		return 0
	}
	return c.used()
}

// redisCount returns a quota counter's value in Redis (-1: absent).
func (e *env) redisCount(sc scope, id string) int64 {
	e.t.Helper()
	key := e.prefix + "quota:" + e.clk.Now().UTC().Format("20060102") + ":" + sc.String() + ":" + id
	v, err := e.rdb.Get(context.Background(), key).Int64()
	if errors.Is(err, redis.Nil) {
		return -1
	}
	if err != nil {
		e.t.Fatalf("GET %s: %v", key, err)
	}
	return v
}

// asLimitErr checks err is a 429 *llm.Error of KindPolicyBudget with code.
func asLimitErr(t *testing.T, err error, code string) *llm.Error {
	t.Helper()
	var le *llm.Error
	if !errors.As(err, &le) {
		t.Fatalf("error = %v (%T), want *llm.Error", err, err)
	}
	if le.Kind != llm.KindPolicyBudget || le.Status != 429 || le.Code != code {
		t.Fatalf("error = {Kind %s, Status %d, Code %q}, want {policy_budget, 429, %q}", le.Kind, le.Status, le.Code, code)
	}
	return le
}

// proxy is a TCP proxy to Redis that can be made to drop every connection,
// to simulate an outage without touching the real server.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex // guards down, conns
	down  bool
	conns map[net.Conn]bool
	wg    sync.WaitGroup
}

func startProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: make(map[net.Conn]bool)}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.setDown(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
}

// setDown drops every connection and refuses new ones (true), or accepts
// them again (false).
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}
