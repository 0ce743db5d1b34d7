package main

import (
	"context"

	"github.com/spf13/cobra"
)

func newCapabilitiesCmd(a *app) *cobra.Command {
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
			mb, err := a.mailbox(ctx)
			if err != nil {
				return err
			}
			end := mb.Opts.Stats.Begin("capabilities")
			caps, err := mb.Capabilities(ctx)
			end()
			if err != nil {
				return err
			}
			return a.out.print(newCapabilitiesResult(mb.Account, caps))
		}),
	}
}
