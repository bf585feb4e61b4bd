package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rickyjim626/xjp/internal/store"
)

// keyView is a key as commands print it in JSON.
type keyView struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Prefix        string     `json:"prefix"`
	Secret        string     `json:"secret,omitempty"`
	Tenant        string     `json:"tenant,omitempty"`
	AllowedModels []string   `json:"allowed_models"`
	RPM           *int       `json:"rpm"`
	Burst         *int       `json:"burst"`
	DailyTokens   *int64     `json:"daily_tokens"`
	Enabled       bool       `json:"enabled"`
	ExpiresAt     *time.Time `json:"expires_at"`
	CreatedAt     time.Time  `json:"created_at"`
	LastUsedAt    *time.Time `json:"last_used_at"`
	RevokedAt     *time.Time `json:"revoked_at,omitempty"`
}

func keyJSON(k store.Key) keyView {
	models := k.AllowedModels
	if models == nil {
		models = []string{}
	}
	return keyView{
		ID: k.ID, Name: k.Name, Prefix: k.Prefix, Tenant: k.Tenant, AllowedModels: models,
		RPM: k.RPM, Burst: k.Burst, DailyTokens: k.DailyTokens, Enabled: k.Enabled,
		ExpiresAt: k.ExpiresAt, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt,
	}
}

type keysListOptions struct {
	IO        *IOStreams
	OpenStore func(context.Context) (*store.Store, error)
	Now       func() time.Time

	Tenant string
	All    bool
	JSON   bool
}

func newCmdKeysList(f *Factory, runF func(*keysListOptions) error) *cobra.Command {
	opts := &keysListOptions{IO: f.IO, OpenStore: f.OpenStore, Now: f.Now}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List API keys",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(opts)
			}
			return keysListRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Tenant, "tenant", "", "only keys of this tenant")
	cmd.Flags().BoolVar(&opts.All, "all", false, "include revoked keys")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func keysListRun(ctx context.Context, opts *keysListOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	keys, err := st.ListKeys(ctx, store.KeyFilter{Tenant: opts.Tenant, IncludeRevoked: opts.All})
	if err != nil {
		return err
	}
	if opts.JSON {
		out := make([]keyView, 0, len(keys))
		for _, k := range keys {
			out = append(out, keyJSON(k))
		}
		return writeJSON(opts.IO.Out, out)
	}
	if len(keys) == 0 {
		if opts.IO.IsStdoutTTY() {
			fmt.Fprintln(opts.IO.ErrOut, "No keys. Create one with: xjp keys create --name NAME")
		}
		return nil
	}
	now := opts.Now()
	t := newTable(opts.IO, now, "id", "name", "prefix", "tenant", "status", "limits", "created", "last used")
	for _, k := range keys {
		t.row(k.ID, k.Name, k.Prefix+"…", k.Tenant, keyStatus(k, now), keyLimits(k),
			t.timeField(k.CreatedAt), t.timeField(deref(k.LastUsedAt)))
	}
	return t.render()
}

func keyStatus(k store.Key, now time.Time) string {
	switch {
	case k.Revoked():
		return "revoked"
	case !k.Enabled:
		return "disabled"
	case k.Expired(now):
		return "expired"
	case k.ExpiresAt != nil:
		return "active until " + k.ExpiresAt.UTC().Format("2006-01-02")
	}
	return "active"
}

func keyLimits(k store.Key) string {
	var parts []string
	if k.RPM != nil {
		if *k.RPM == 0 {
			parts = append(parts, "rpm unlimited")
		} else {
			parts = append(parts, "rpm "+strconv.Itoa(*k.RPM))
		}
	}
	if k.Burst != nil {
		parts = append(parts, "burst "+strconv.Itoa(*k.Burst))
	}
	if k.DailyTokens != nil {
		if *k.DailyTokens == 0 {
			parts = append(parts, "tokens/day unlimited")
		} else {
			parts = append(parts, "tokens/day "+strconv.FormatInt(*k.DailyTokens, 10))
		}
	}
	if len(k.AllowedModels) > 0 {
		parts = append(parts, "models "+strings.Join(k.AllowedModels, ","))
	}
	if len(parts) == 0 {
		return "defaults"
	}
	return strings.Join(parts, "; ")
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
