package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/rickyjim626/xjp/internal/ingress"
	"github.com/rickyjim626/xjp/internal/store"
)

// idemStore adapts the store's idempotency table to ingress.IdemStore, so
// that ingress never imports store. With Postgres the table is shared by
// every replica, which is all Idempotency-Key needs across replicas; Redis
// is not used for it.
type idemStore struct{ st *store.Store }

var _ ingress.IdemStore = idemStore{}

// idemPurgeEvery is how often serve deletes expired idempotency records.
const idemPurgeEvery = 10 * time.Minute

func (a idemStore) Begin(ctx context.Context, scope, key, hash string, ttl time.Duration) (*ingress.IdemRecord, error) {
	rec, err := a.st.BeginIdem(ctx, scope, key, hash, ttl)
	switch {
	case errors.Is(err, store.ErrIdemInFlight):
		return nil, fmt.Errorf("%w: %w", ingress.ErrIdemInFlight, err)
	case errors.Is(err, store.ErrIdemMismatch):
		return nil, fmt.Errorf("%w: %w", ingress.ErrIdemMismatch, err)
	case err != nil:
		return nil, err
	case rec == nil:
		return nil, nil
	}
	return &ingress.IdemRecord{Status: rec.Status, Response: rec.Response}, nil
}

func (a idemStore) Complete(ctx context.Context, scope, key string, status int, response []byte) error {
	return a.st.CompleteIdem(ctx, scope, key, status, response)
}

// Release drops an in-flight claim; a claim that is gone already (expired
// and purged) is no error.
func (a idemStore) Release(ctx context.Context, scope, key string) error {
	if err := a.st.ReleaseIdem(ctx, scope, key); err != nil && !errors.Is(err, store.ErrIdemNotFound) {
		return err
	}
	return nil
}

// purgeLoop deletes expired idempotency records now and then every
// `every`, until ctx ends.
func (a idemStore) purgeLoop(ctx context.Context, every time.Duration, log *slog.Logger) {
	defer func() {
		if p := recover(); p != nil {
			log.Error("panic purging idempotency records", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		n, err := a.st.PurgeIdem(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("purging expired idempotency records failed", "error", err)
		case n > 0:
			log.Debug("purged expired idempotency records", "records", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
