package main

import (
	"context"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

type syncOptions struct {
	app    *app
	Folder string
	Bodies bool
}

func newSyncCmd(a *app, runF func(context.Context, *syncOptions) error) *cobra.Command {
	opts := &syncOptions{app: a}
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
			if runF != nil {
				return runF(ctx, opts)
			}
			return runSync(ctx, opts)
		}),
	}
	cmd.Flags().StringVarP(&opts.Folder, "folder", "f", "", "`folder` to sync (default INBOX)")
	cmd.Flags().BoolVar(&opts.Bodies, "bodies", false, "IMAP: also download whole messages")
	return cmd
}

func runSync(ctx context.Context, opts *syncOptions) error {
	mb, err := opts.app.mailbox(ctx)
	if err != nil {
		return err
	}
	bar := opts.app.newProgress()
	rep, err := mb.Sync(ctx, opts.Folder, client.SyncOptions{Bodies: opts.Bodies, Progress: bar.callback()})
	bar.done()
	if err != nil {
		return err
	}
	return opts.app.out.print(&syncResult{Synced: []client.SyncReport{rep}})
}
