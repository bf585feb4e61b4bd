package ingress

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rickyjim626/xjp/internal/llm"
)

// Key is an API key as the ingress sees it: the store's record with the
// server's default limits already filled in.
type Key struct {
	ID     string
	Name   string
	Prefix string
	Tenant string
	// Allows reports whether the key may use a logical model.
	Allows      func(model string) bool
	RPM         int   // requests per minute; 0: unlimited
	Burst       int   // bucket size for RPM
	DailyTokens int64 // tokens per UTC day; 0: unlimited
	Enabled     bool
	ExpiresAt   time.Time // zero: never
}

// ErrUnknownKey is what a KeyLookup returns for a secret it does not know
// (or a revoked key).
var ErrUnknownKey = errors.New("unknown api key")

// KeyLookup finds the key of a secret in the store.
type KeyLookup func(ctx context.Context, secret string) (*Key, error)

type keyCtxKey struct{}

func withKey(ctx context.Context, k *Key) context.Context {
	return context.WithValue(ctx, keyCtxKey{}, k)
}

// KeyFrom returns the authenticated key of a request.
func KeyFrom(ctx context.Context) *Key {
	k, _ := ctx.Value(keyCtxKey{}).(*Key)
	return k
}

// KeyCacheOptions configure a KeyCache.
type KeyCacheOptions struct {
	Lookup KeyLookup
	// Fresh is how long a verified key is used without asking the store
	// (default 2s). Between Fresh and Fresh+Stale the cached answer is used
	// while a background refresh runs; after that the lookup is synchronous.
	// A revoke or update therefore takes effect within Fresh+Stale (5s).
	Fresh time.Duration
	Stale time.Duration
	// Touch records last-used times in a batch (store.TouchKeys); called
	// every TouchEvery (default 10s) by Run.
	Touch      func(ctx context.Context, used map[string]time.Time) error
	TouchEvery time.Duration
	Logger     *slog.Logger
	Now        func() time.Time
}

// KeyCache verifies API keys without making the hot path wait on the
// store: verified keys (and unknown secrets) are cached by the SHA-256 of
// the secret — the secret itself is never kept.
type KeyCache struct {
	o KeyCacheOptions

	mu      sync.RWMutex // guards entries
	entries map[[32]byte]*keyEntry

	umu  sync.Mutex // guards used
	used map[string]time.Time
}

type keyEntry struct {
	key        *Key
	err        error
	fetched    time.Time
	refreshing bool
}

// NewKeyCache returns a cache over o.Lookup.
func NewKeyCache(o KeyCacheOptions) *KeyCache {
	if o.Fresh == 0 {
		o.Fresh = 2 * time.Second
	}
	if o.Stale == 0 {
		o.Stale = 3 * time.Second
	}
	if o.TouchEvery == 0 {
		o.TouchEvery = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &KeyCache{o: o, entries: make(map[[32]byte]*keyEntry), used: make(map[string]time.Time)}
}

// maxNegative bounds cached unknown secrets (someone guessing keys).
const maxNegative = 10000

// Verify returns the key of a secret, or an *llm.Error: 401 for a missing
// or unknown key, 403 for a disabled or expired one.
func (c *KeyCache) Verify(ctx context.Context, secret string) (*Key, error) {
	if secret == "" {
		return nil, &llm.Error{Kind: llm.KindPolicyAuth, Status: http.StatusUnauthorized, Code: "missing_api_key",
			Message: "missing API key: send it as Authorization: Bearer <key> or x-api-key: <key>"}
	}
	h := sha256.Sum256([]byte(secret))
	now := c.o.Now()
	c.mu.RLock()
	e := c.entries[h]
	c.mu.RUnlock()

	switch {
	case e != nil && now.Sub(e.fetched) < c.o.Fresh:
	case e != nil && now.Sub(e.fetched) < c.o.Fresh+c.o.Stale:
		c.refreshAsync(h, secret, e)
	default:
		var err error
		if e, err = c.fetch(ctx, h, secret); err != nil {
			return nil, err
		}
	}
	if e.err != nil {
		return nil, e.err
	}
	k := e.key
	if !k.Enabled {
		return nil, &llm.Error{Kind: llm.KindPolicyAuth, Status: http.StatusForbidden, Code: "key_disabled",
			Message: fmt.Sprintf("the API key %q is disabled", k.Name)}
	}
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return nil, &llm.Error{Kind: llm.KindPolicyAuth, Status: http.StatusForbidden, Code: "key_expired",
			Message: fmt.Sprintf("the API key %q expired at %s", k.Name, k.ExpiresAt.UTC().Format(time.RFC3339))}
	}
	c.umu.Lock()
	c.used[k.ID] = now
	c.umu.Unlock()
	return k, nil
}

func (c *KeyCache) fetch(ctx context.Context, h [32]byte, secret string) (*keyEntry, error) {
	k, err := c.o.Lookup(ctx, secret)
	e := &keyEntry{key: k, fetched: c.o.Now()}
	switch {
	case errors.Is(err, ErrUnknownKey):
		e.key, e.err = nil, &llm.Error{Kind: llm.KindPolicyAuth, Status: http.StatusUnauthorized, Code: "invalid_api_key",
			Message: "invalid API key"}
	case err != nil:
		c.o.Logger.Error("api key lookup failed", "error", err)
		return nil, &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusServiceUnavailable,
			Message: "cannot verify the API key right now; try again shortly", Err: err}
	}
	c.mu.Lock()
	if e.err != nil && len(c.entries) >= maxNegative {
		for hh, old := range c.entries {
			if old.err != nil {
				delete(c.entries, hh)
			}
		}
	}
	c.entries[h] = e
	c.mu.Unlock()
	return e, nil
}

func (c *KeyCache) refreshAsync(h [32]byte, secret string, e *keyEntry) {
	c.mu.Lock()
	if e.refreshing {
		c.mu.Unlock()
		return
	}
	e.refreshing = true
	c.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := c.fetch(ctx, h, secret); err != nil {
			c.mu.Lock()
			e.refreshing = false
			c.mu.Unlock()
		}
	}()
}

// Invalidate forgets every cached key (after an admin change on this
// replica, so it applies at once).
func (c *KeyCache) Invalidate() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// Run writes last-used times every TouchEvery until ctx ends, then once
// more.
func (c *KeyCache) Run(ctx context.Context) {
	if c.o.Touch == nil {
		return
	}
	t := time.NewTicker(c.o.TouchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c.flushTouches(fctx)
			cancel()
			return
		case <-t.C:
			c.flushTouches(ctx)
		}
	}
}

func (c *KeyCache) flushTouches(ctx context.Context) {
	c.umu.Lock()
	used := c.used
	c.used = make(map[string]time.Time)
	c.umu.Unlock()
	if len(used) == 0 {
		return
	}
	if err := c.o.Touch(ctx, used); err != nil {
		c.o.Logger.Warn("recording key last-used times failed", "keys", len(used), "error", err)
	}
}

// authenticate verifies the request's API key.
func (s *Server) authenticate(r *http.Request) (*Key, error) {
	if s.keys == nil {
		return nil, &llm.Error{Kind: llm.KindGatewayInternal, Status: http.StatusInternalServerError, Message: "no key store configured"}
	}
	return s.keys.Verify(r.Context(), bearer(r))
}
