package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rickyjim626/xjp/config"
	"github.com/rickyjim626/xjp/internal/gateway"
	"github.com/rickyjim626/xjp/internal/ingress"
	"github.com/rickyjim626/xjp/internal/limit"
	"github.com/rickyjim626/xjp/internal/store"
)

// newLimiter builds the rate limiter and quota counters: in this process,
// or shared by every replica through Redis when redis.url is set. Quota
// counters start from the day's usage in the store, so a restart does not
// reset them.
func newLimiter(cfg *config.Config, st *store.Store, log *slog.Logger) (*limit.Limiter, *redis.Client, error) {
	var rc *redis.Client
	if cfg.Redis.URL != "" {
		opt, err := redis.ParseURL(cfg.Redis.URL)
		if err != nil {
			return nil, nil, fmt.Errorf("redis.url: %w", err)
		}
		rc = redis.NewClient(opt)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := rc.Ping(ctx).Err(); err != nil {
			log.Warn("redis does not answer: limits apply per replica until it does", "error", err)
		}
		cancel()
	}
	l := limit.New(limit.Options{
		Redis:  rc,
		Prefix: cfg.Redis.Prefix,
		Logger: log,
		Seed: func(ctx context.Context, scope, id string, dayStart time.Time) (int64, error) {
			if scope == limit.ScopeTenant {
				return st.TenantUsageSince(ctx, id, dayStart)
			}
			return st.UsageSince(ctx, id, dayStart)
		},
	})
	return l, rc, nil
}

// limiterAdapter is the limiter as the ingress sees it.
type limiterAdapter struct {
	l      *limit.Limiter
	limits func() config.Limits
}

var _ ingress.Limiter = limiterAdapter{}

func (a limiterAdapter) subject(k *ingress.Key) limit.Subject {
	s := limit.Subject{KeyID: k.ID, KeyName: k.Name, Tenant: k.Tenant, RPM: k.RPM, Burst: k.Burst, DailyTokens: k.DailyTokens}
	if k.Tenant != "" {
		s.TenantDailyTokens = a.limits().TenantDailyTokens
	}
	return s
}

// Admit checks the key's rate limit and daily quotas.
func (a limiterAdapter) Admit(ctx context.Context, k *ingress.Key, model string) (http.Header, error) {
	d, err := a.l.Admit(ctx, a.subject(k))
	return d.Headers(), err
}

// Budget meters the request against the key's and tenant's daily quotas
// while it streams; nil when neither has one.
func (a limiterAdapter) Budget(k *ingress.Key) gateway.Budget {
	s := a.subject(k)
	if s.DailyTokens == 0 && s.TenantDailyTokens == 0 {
		return nil
	}
	return &budget{l: a.l, s: s}
}

type budget struct {
	l *limit.Limiter
	s limit.Subject
}

func (b *budget) Charge(n int64) bool          { return b.l.Charge(b.s, n) }
func (b *budget) Settle(charged, actual int64) { b.l.Settle(b.s, charged, actual) }
