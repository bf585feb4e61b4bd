package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rickyjim626/xjp/internal/store"
)

type keysShowOptions struct {
	IO        *IOStreams
	OpenStore func(context.Context) (*store.Store, error)
	Now       func() time.Time

	ID   string
	JSON bool
}

func newCmdKeysShow(f *Factory, runF func(*keysShowOptions) error) *cobra.Command {
	opts := &keysShowOptions{IO: f.IO, OpenStore: f.OpenStore, Now: f.Now}
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one API key (never its secret)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.ID = args[0]
			if runF != nil {
				return runF(opts)
			}
			return keysShowRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

func keysShowRun(ctx context.Context, opts *keysShowOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	k, err := st.GetKey(ctx, opts.ID)
	if err != nil {
		return keyError(opts.ID, err)
	}
	return printKey(opts.IO, k, opts.JSON, opts.Now())
}

func printKey(ios *IOStreams, k store.Key, asJSON bool, now time.Time) error {
	if asJSON {
		return writeJSON(ios.Out, keyJSON(k))
	}
	t := &table{tty: ios.IsStdoutTTY(), now: now}
	tw := tabwriter.NewWriter(ios.Out, 0, 4, 2, ' ', 0)
	models := "all"
	if len(k.AllowedModels) > 0 {
		models = strings.Join(k.AllowedModels, ", ")
	}
	for _, kv := range [][2]string{
		{"id", k.ID}, {"name", k.Name}, {"prefix", k.Prefix + "…"}, {"tenant", k.Tenant},
		{"status", keyStatus(k, now)}, {"models", models}, {"limits", keyLimits(k)},
		{"expires", t.timeField(deref(k.ExpiresAt))}, {"created", t.timeField(k.CreatedAt)},
		{"last used", t.timeField(deref(k.LastUsedAt))},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

// keyError names the key in a not-found error.
func keyError(id string, err error) error {
	if errors.Is(err, store.ErrKeyNotFound) {
		return fmt.Errorf("no key with id %q (see 'xjp keys list')", id)
	}
	return err
}
