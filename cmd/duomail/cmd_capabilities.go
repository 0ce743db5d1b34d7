package main

import (
	"context"

	"github.com/spf13/cobra"
)

type capabilitiesOptions struct {
	app *app
}

func newCapabilitiesCmd(a *app, runF func(context.Context, *capabilitiesOptions) error) *cobra.Command {
	opts := &capabilitiesOptions{app: a}
	return &cobra.Command{
		Use:   "capabilities",
		Short: "Show what the server announces and what duomail can therefore do",
		Long: `Connect to the account's server and show what it announces (IMAP
CAPABILITY or POP3 CAPA, the login mechanisms, the TLS in use), then every
feature duomail knows with "yes" and how it is done, or "no" and why not.

On a terminal: a header block and a table. Piped: one line per item,
tab-separated: "account", "server", "protocol", "tls", "announced" and
"auth_mechanisms" with their value, then each feature's name (as in the
JSON), true or false, and how.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if runF != nil {
				return runF(ctx, opts)
			}
			return runCapabilities(ctx, opts)
		}),
	}
}

func runCapabilities(ctx context.Context, opts *capabilitiesOptions) error {
	mb, err := opts.app.mailbox(ctx)
	if err != nil {
		return err
	}
	end := mb.Opts.Stats.Begin("capabilities")
	caps, err := mb.FullCapabilities(ctx)
	end()
	if err != nil {
		return err
	}
	return opts.app.out.print(newCapabilitiesResult(mb.Account, caps))
}
