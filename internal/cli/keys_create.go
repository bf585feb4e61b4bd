package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/rickyjim626/xjp/internal/store"
)

type keysCreateOptions struct {
	IO        *IOStreams
	OpenStore func(context.Context) (*store.Store, error)
	Now       func() time.Time

	Name        string
	Tenant      string
	Models      string
	RPM         *int
	Burst       *int
	DailyTokens *int64
	Expires     string
	Disabled    bool
	JSON        bool
}

func newCmdKeysCreate(f *Factory, runF func(*keysCreateOptions) error) *cobra.Command {
	opts := &keysCreateOptions{IO: f.IO, OpenStore: f.OpenStore, Now: f.Now}
	var rpm, burst int
	var daily int64
	cmd := &cobra.Command{
		Use:   "create --name NAME [flags]",
		Short: "Create an API key and print its secret once",
		Long: `Create an API key. The secret (xjp_ followed by 43 characters) is printed once;
only its SHA-256 hash is stored.

Limits left unset follow the server's [limits] defaults and change with them;
--rpm 0 or --daily-tokens 0 means unlimited for this key.`,
		Example: `  xjp keys create --name laptop
  xjp keys create --name ci --models demo,claude-sonnet-4.5 --rpm 30 --expires 30d
  KEY=$(xjp keys create --name script)   # stdout is only the secret when not a terminal`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Name == "" {
				return flagErrorf(cmd, "--name is required")
			}
			fl := cmd.Flags()
			if _, err := parseModels(opts.Models); err != nil {
				return flagErrorf(cmd, "--models %v", err)
			}
			if fl.Changed("rpm") {
				if rpm < 0 {
					return flagErrorf(cmd, "--rpm must be 0 (unlimited) or positive, got %d", rpm)
				}
				opts.RPM = &rpm
			}
			if fl.Changed("burst") {
				if burst < 1 {
					return flagErrorf(cmd, "--burst must be at least 1, got %d", burst)
				}
				opts.Burst = &burst
			}
			if fl.Changed("daily-tokens") {
				if daily < 0 {
					return flagErrorf(cmd, "--daily-tokens must be 0 (unlimited) or positive, got %d", daily)
				}
				opts.DailyTokens = &daily
			}
			if fl.Changed("expires") {
				if _, err := parseExpiry(opts.Expires, opts.Now()); err != nil {
					return flagErrorf(cmd, "--expires: %v", err)
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return keysCreateRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Name, "name", "", "a name to recognise the key by (required, unique)")
	fl.StringVar(&opts.Tenant, "tenant", "", "tenant the key belongs to (daily quotas can be shared per tenant)")
	fl.StringVar(&opts.Models, "models", "", "comma-separated models the key may use (default: all; \"openrouter/*\" matches a prefix)")
	fl.IntVar(&rpm, "rpm", 0, "requests per minute (default: [limits].default_rpm; 0: unlimited)")
	fl.IntVar(&burst, "burst", 0, "requests allowed at once above the steady rate (default: [limits].default_burst)")
	fl.Int64Var(&daily, "daily-tokens", 0, "tokens per UTC day (default: [limits].default_daily_tokens; 0: unlimited)")
	fl.StringVar(&opts.Expires, "expires", "", "expiry: a duration such as 30d or 12h, or a date such as 2026-12-31")
	fl.BoolVar(&opts.Disabled, "disabled", false, "create the key switched off (enable it with 'keys update --enable')")
	fl.BoolVar(&opts.JSON, "json", false, "print the key and its secret as JSON")
	return cmd
}

func keysCreateRun(ctx context.Context, opts *keysCreateOptions) error {
	nk := store.NewKey{
		Name: opts.Name, Tenant: opts.Tenant, AllowedModels: splitList(opts.Models),
		RPM: opts.RPM, Burst: opts.Burst, DailyTokens: opts.DailyTokens, Disabled: opts.Disabled,
	}
	if opts.Expires != "" {
		t, err := parseExpiry(opts.Expires, opts.Now())
		if err != nil {
			return err
		}
		nk.ExpiresAt = &t
	}
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	k, secret, err := st.CreateKey(ctx, nk)
	if err != nil {
		return err
	}
	if opts.JSON {
		v := keyJSON(k)
		v.Secret = secret
		return writeJSON(opts.IO.Out, v)
	}
	if !opts.IO.IsStdoutTTY() {
		fmt.Fprintf(opts.IO.ErrOut, "Created key %q (%s). The secret on stdout is shown only once.\n", k.Name, k.ID)
		_, err := fmt.Fprintln(opts.IO.Out, secret)
		return err
	}
	fmt.Fprintf(opts.IO.Out, "Created key %q (%s).\n\nSecret — shown only once, store it now:\n\n  %s\n\n", k.Name, k.ID, secret)
	fmt.Fprintf(opts.IO.Out, "Use it as:  Authorization: Bearer %s\n", secret)
	return nil
}
