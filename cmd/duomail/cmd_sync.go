package main

import (
	"context"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

func newSyncCmd(a *app) *cobra.Command {
	var (
		folder string
		bodies bool
	)
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Bring the local cache of a folder up to date",
		Long: `Bring the local cache of a folder up to date.

IMAP: fetch the envelopes of new messages and changed flags only, forget
what vanished; --bodies also copies whole messages for offline reading.
POP3: download every message not yet in the cache (each made durable
before anything is deleted), then apply the account's retention
(keep_on_server, keep_days). A second sync downloads nothing new.

On a terminal a progress bar appears on stderr when the download takes
more than a moment; --quiet hides it.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			mb, err := a.mailbox(ctx)
			if err != nil {
				return err
			}
			bar := a.newProgress()
			rep, err := mb.Sync(ctx, folder, client.SyncOptions{Bodies: bodies, Progress: bar.callback()})
			bar.done()
			if err != nil {
				return err
			}
			return a.out.print(&syncResult{Synced: []client.SyncReport{rep}})
		}),
	}
	cmd.Flags().StringVarP(&folder, "folder", "f", "", "`folder` to sync (default INBOX)")
	cmd.Flags().BoolVar(&bodies, "bodies", false, "IMAP: also download whole messages")
	return cmd
}
