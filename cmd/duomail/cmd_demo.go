package main

import (
	"context"

	"github.com/spf13/cobra"
)

func newDemoCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "A guided tour against built-in IMAP and POP3 test servers",
		Args:  noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			return usageErrorf("demo is not built yet")
		}),
	}
}
