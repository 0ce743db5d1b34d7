package main

import (
	"context"

	"github.com/spf13/cobra"
)

func newAccountsCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "accounts",
		Short: "List the configured accounts (no network)",
		Long: `List the accounts of the configuration file: name, protocol, server, TLS
mode, user name, and which one is used without -a. Nothing is dialled and
no password_cmd is run.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			return a.out.print(newAccountsResult(cfg))
		}),
	}
}
