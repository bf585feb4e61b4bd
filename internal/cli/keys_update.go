package cli

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/rickyjim626/xjp/internal/store"
)

type keysUpdateOptions struct {
	IO        *IOStreams
	OpenStore func(context.Context) (*store.Store, error)
	Now       func() time.Time

	ID     string
	Update store.KeyUpdate
	JSON   bool
}

func newCmdKeysUpdate(f *Factory, runF func(*keysUpdateOptions) error) *cobra.Command {
	opts := &keysUpdateOptions{IO: f.IO, OpenStore: f.OpenStore, Now: f.Now}
	var (
		name, tenant, models, expires string
		rpm, burst                    int
		daily                         int64
		enable, disable, noExpiry     bool
		defaultRPM, defaultBurst      bool
		defaultDaily                  bool
	)
	cmd := &cobra.Command{
		Use:   "update ID [flags]",
		Short: "Change a key's name, scope, limits, expiry, or switch it on or off",
		Example: `  xjp keys update key_3fK9a0Zq1wXy --rpm 120 --burst 20
  xjp keys update key_3fK9a0Zq1wXy --disable
  xjp keys update key_3fK9a0Zq1wXy --models "" --default-daily-tokens`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			fl := cmd.Flags()
			u := &opts.Update
			changed := 0
			if fl.Changed("name") {
				u.Name, changed = &name, changed+1
			}
			if fl.Changed("tenant") {
				u.Tenant, changed = &tenant, changed+1
			}
			if fl.Changed("models") {
				list, err := parseModels(models)
				if err != nil {
					return flagErrorf(cmd, "--models %v", err)
				}
				if list == nil {
					list = []string{}
				}
				u.AllowedModels, changed = &list, changed+1
			}
			if fl.Changed("rpm") {
				if rpm < 0 {
					return flagErrorf(cmd, "--rpm must be 0 (unlimited) or positive, got %d", rpm)
				}
				u.RPM, changed = &rpm, changed+1
			}
			if fl.Changed("burst") {
				if burst < 1 {
					return flagErrorf(cmd, "--burst must be at least 1, got %d", burst)
				}
				u.Burst, changed = &burst, changed+1
			}
			if fl.Changed("daily-tokens") {
				if daily < 0 {
					return flagErrorf(cmd, "--daily-tokens must be 0 (unlimited) or positive, got %d", daily)
				}
				u.DailyTokens, changed = &daily, changed+1
			}
			if fl.Changed("expires") {
				t, err := parseExpiry(expires, opts.Now())
				if err != nil {
					return flagErrorf(cmd, "--expires: %v", err)
				}
				u.ExpiresAt, changed = &t, changed+1
			}
			if enable && disable {
				return flagErrorf(cmd, "--enable and --disable exclude each other")
			}
			if enable || disable {
				on := enable
				u.Enabled, changed = &on, changed+1
			}
			for _, c := range []struct {
				set   bool
				clear *bool
				with  string
				flag  string
			}{
				{defaultRPM, &u.ClearRPM, "rpm", "--default-rpm"},
				{defaultBurst, &u.ClearBurst, "burst", "--default-burst"},
				{defaultDaily, &u.ClearDailyTokens, "daily-tokens", "--default-daily-tokens"},
				{noExpiry, &u.ClearExpiresAt, "expires", "--no-expiry"},
			} {
				if !c.set {
					continue
				}
				if fl.Changed(c.with) {
					return flagErrorf(cmd, "%s and --%s exclude each other", c.flag, c.with)
				}
				*c.clear, changed = true, changed+1
			}
			if changed == 0 {
				return flagErrorf(cmd, "nothing to change: give at least one flag (see --help)")
			}
			if runF != nil {
				return runF(opts)
			}
			return keysUpdateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&name, "name", "", "new name")
	fl.StringVar(&tenant, "tenant", "", "new tenant (\"\" for none)")
	fl.StringVar(&models, "models", "", "comma-separated models the key may use (\"\" for all)")
	fl.IntVar(&rpm, "rpm", 0, "requests per minute (0: unlimited)")
	fl.IntVar(&burst, "burst", 0, "burst size")
	fl.Int64Var(&daily, "daily-tokens", 0, "tokens per UTC day (0: unlimited)")
	fl.StringVar(&expires, "expires", "", "new expiry: a duration such as 30d or a date such as 2026-12-31")
	fl.BoolVar(&noExpiry, "no-expiry", false, "remove the expiry")
	fl.BoolVar(&enable, "enable", false, "switch the key on")
	fl.BoolVar(&disable, "disable", false, "switch the key off (requests get 403 until enabled)")
	fl.BoolVar(&defaultRPM, "default-rpm", false, "follow [limits].default_rpm again")
	fl.BoolVar(&defaultBurst, "default-burst", false, "follow [limits].default_burst again")
	fl.BoolVar(&defaultDaily, "default-daily-tokens", false, "follow [limits].default_daily_tokens again")
	fl.BoolVar(&opts.JSON, "json", false, "print the updated key as JSON")
	return cmd
}

func keysUpdateRun(ctx context.Context, opts *keysUpdateOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	k, err := st.UpdateKey(ctx, opts.ID, opts.Update)
	if err != nil {
		return keyError(opts.ID, err)
	}
	return printKey(opts.IO, k, opts.JSON, opts.Now())
}
