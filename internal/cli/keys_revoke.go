package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/spf13/cobra"

	"github.com/rickyjim626/xjp/internal/store"
)

type keysRevokeOptions struct {
	IO        *IOStreams
	OpenStore func(context.Context) (*store.Store, error)
	IDs       []string
}

func newCmdKeysRevoke(f *Factory, runF func(*keysRevokeOptions) error) *cobra.Command {
	opts := &keysRevokeOptions{IO: f.IO, OpenStore: f.OpenStore}
	return &cobra.Command{
		Use:   "revoke ID...",
		Short: "Revoke API keys for good",
		Long: `Revoke API keys. A revoked key is refused (401) from then on — a running
server notices within 5 seconds — and cannot be enabled again. Its usage
history stays. To switch a key off for a while, use 'keys update ID --disable'.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.IDs = args
			if runF != nil {
				return runF(opts)
			}
			return keysRevokeRun(cmd.Context(), opts)
		},
	}
}

func keysRevokeRun(ctx context.Context, opts *keysRevokeOptions) error {
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	// Every id is checked first: a bad one revokes none of the others.
	for _, id := range opts.IDs {
		k, err := st.GetKey(ctx, id)
		if err != nil {
			return keyError(id, err)
		}
		if k.Revoked() {
			return fmt.Errorf("the key %q is revoked already", id)
		}
	}
	for i, id := range opts.IDs {
		if slices.Contains(opts.IDs[:i], id) {
			continue
		}
		if err := st.RevokeKey(ctx, id); err != nil {
			return keyError(id, err)
		}
		if opts.IO.IsStdoutTTY() {
			fmt.Fprintf(opts.IO.Out, "Revoked %s.\n", id)
		}
	}
	return nil
}
