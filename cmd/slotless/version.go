package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/buildinfo"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print slotless's version, and the platform it was built for",
		Long: `Version prints the version this binary was released as (make dist stamps it), which a team's
Pulumi.yaml pins (runtime.options.version) and each deployed stack records (output
slotlessVersion), then the Go toolchain and platform it was built with.`,
		Example: `  slotless version`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			_, err := fmt.Fprintf(c.OutOrStdout(), "slotless %s (%s, %s/%s)\n", buildinfo.Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return err
		},
	}
}
