package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"
)

func newCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(f.IO.Out, "xjp %s\n", Version)
			if Commit != "" {
				fmt.Fprintf(f.IO.Out, "commit: %s\n", Commit)
			}
			if Date != "" {
				fmt.Fprintf(f.IO.Out, "built:  %s\n", Date)
			}
			fmt.Fprintf(f.IO.Out, "go:     %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
