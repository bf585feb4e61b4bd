package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rickyjim626/xjp/internal/ingress"
	"github.com/rickyjim626/xjp/internal/store"
)

// adminStore adapts the store to the admin API's interfaces, so that
// ingress never imports store: ingress-owned types in, store types out, and
// the store's errors mapped to ingress.ErrKeyNotFound, ErrConflict and
// ErrInvalid.
type adminStore struct{ st *store.Store }

var (
	_ ingress.KeyAdmin     = adminStore{}
	_ ingress.UsageQuerier = adminStore{}
	_ ingress.Auditor      = adminStore{}
)

func adminKey(k store.Key) ingress.AdminKey {
	models := k.AllowedModels
	if models == nil {
		models = []string{}
	}
	return ingress.AdminKey{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, Tenant: k.Tenant, AllowedModels: models,
		RPM: k.RPM, Burst: k.Burst, DailyTokens: k.DailyTokens, Enabled: k.Enabled,
		ExpiresAt: k.ExpiresAt, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt,
	}
}

// adminErr maps a store error about key id for the admin API.
func adminErr(id string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrKeyNotFound):
		return fmt.Errorf("%w: no key %q", ingress.ErrKeyNotFound, id)
	case errors.Is(err, store.ErrKeyRevoked):
		return fmt.Errorf("%w: the key %q is revoked", ingress.ErrConflict, id)
	case errors.Is(err, store.ErrKeyNameTaken):
		return fmt.Errorf("%w: a key of that name exists already", ingress.ErrConflict)
	case errors.Is(err, store.ErrInvalid):
		msg := strings.TrimSuffix(strings.ReplaceAll(err.Error(), "store: ", ""), ": invalid argument")
		return fmt.Errorf("%w: %s", ingress.ErrInvalid, msg)
	}
	return err
}

func (a adminStore) ListKeys(ctx context.Context, f ingress.AdminKeyFilter) ([]ingress.AdminKey, error) {
	keys, err := a.st.ListKeys(ctx, store.KeyFilter{Tenant: f.Tenant, IncludeRevoked: f.IncludeRevoked})
	if err != nil {
		return nil, err
	}
	out := make([]ingress.AdminKey, len(keys))
	for i, k := range keys {
		out[i] = adminKey(k)
	}
	return out, nil
}

func (a adminStore) GetKey(ctx context.Context, id string) (ingress.AdminKey, error) {
	k, err := a.st.GetKey(ctx, id)
	return adminKey(k), adminErr(id, err)
}

func (a adminStore) CreateKey(ctx context.Context, nk ingress.NewAdminKey) (ingress.AdminKey, string, error) {
	k, secret, err := a.st.CreateKey(ctx, store.NewKey{
		Name: nk.Name, Tenant: nk.Tenant, AllowedModels: nk.AllowedModels,
		RPM: nk.RPM, Burst: nk.Burst, DailyTokens: nk.DailyTokens, ExpiresAt: nk.ExpiresAt, Disabled: nk.Disabled,
	})
	if err != nil {
		return ingress.AdminKey{}, "", adminErr("", err)
	}
	return adminKey(k), secret, nil
}

func (a adminStore) UpdateKey(ctx context.Context, id string, u ingress.AdminKeyUpdate) (ingress.AdminKey, error) {
	k, err := a.st.UpdateKey(ctx, id, store.KeyUpdate{
		Name: u.Name, Tenant: u.Tenant, AllowedModels: u.AllowedModels, RPM: u.RPM, Burst: u.Burst,
		DailyTokens: u.DailyTokens, ExpiresAt: u.ExpiresAt, Enabled: u.Enabled,
		ClearRPM: u.ClearRPM, ClearBurst: u.ClearBurst, ClearDailyTokens: u.ClearDailyTokens, ClearExpiresAt: u.ClearExpiresAt,
	})
	if err != nil {
		return ingress.AdminKey{}, adminErr(id, err)
	}
	return adminKey(k), nil
}

func (a adminStore) RevokeKey(ctx context.Context, id string) error {
	return adminErr(id, a.st.RevokeKey(ctx, id))
}

func (a adminStore) QueryUsage(ctx context.Context, q ingress.UsageQuery) ([]ingress.UsageRow, error) {
	rows, err := a.st.QueryUsage(ctx, store.UsageQuery{
		Since: q.Since, Until: q.Until, By: q.By, KeyID: q.KeyID, Model: q.Model, Tenant: q.Tenant, Provider: q.Provider,
	})
	if err != nil {
		return nil, adminErr("", err)
	}
	out := make([]ingress.UsageRow, len(rows))
	for i, r := range rows {
		out[i] = ingress.UsageRow{
			Day: r.Day, Model: r.Model, KeyID: r.KeyID, Tenant: r.Tenant, Provider: r.Provider,
			UpstreamModel: r.UpstreamModel, Endpoint: r.Endpoint, Status: r.Status,
			Requests: r.Requests, Errors: r.Errors, InputTokens: r.InputTokens, CacheReadTokens: r.CacheReadTokens,
			CacheWriteTokens: r.CacheWriteTokens, OutputTokens: r.OutputTokens, ReasoningTokens: r.ReasoningTokens,
			CostUSD: r.CostUSD, UnpricedRequests: r.UnpricedRequests, Estimated: r.Estimated,
		}
	}
	return out, nil
}

func (a adminStore) AddAudit(ctx context.Context, e ingress.AuditEntry) error {
	return a.st.AddAudit(ctx, store.AuditEntry{Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail})
}
