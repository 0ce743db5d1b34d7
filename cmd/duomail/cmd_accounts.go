package main

import (
	"context"

	"github.com/spf13/cobra"
)

type accountsOptions struct {
	app *app
}

func newAccountsCmd(a *app, runF func(context.Context, *accountsOptions) error) *cobra.Command {
	opts := &accountsOptions{app: a}
	return &cobra.Command{
		Use:   "accounts",
		Short: "List the configured accounts (no network)",
		Long: `List the accounts of the configuration file: name, protocol, server, TLS
mode, user name, and which one is used without -a. Nothing is dialled and
no password_cmd is run.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if runF != nil {
				return runF(ctx, opts)
			}
			return runAccounts(ctx, opts)
		}),
	}
}

func runAccounts(_ context.Context, opts *accountsOptions) error {
	cfg, err := opts.app.config()
	if err != nil {
		return err
	}
	return opts.app.out.print(newAccountsResult(cfg))
}
