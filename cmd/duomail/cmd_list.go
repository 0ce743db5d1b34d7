package main

import (
	"context"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

type listOptions struct {
	app         *app
	Folder      string
	Limit       int
	Unseen      bool
	Offline     bool
	HeadersOnly bool
}

func newListCmd(a *app, runF func(context.Context, *listOptions) error) *cobra.Command {
	opts := &listOptions{app: a}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List messages, newest first",
		Long: `List messages of a folder, newest first.

From an IMAP server the envelopes come straight from the server (and are
remembered for --offline). A POP3 server can only hand out whole messages,
so list first downloads new mail into the local cache (a sync) and lists
from there; --headers-only lists from headers alone (POP3 TOP) instead.
--offline answers from the cache without any network.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if opts.Limit < 0 {
				return usageErrorf("--limit must be 0 (all) or more")
			}
			if opts.Offline && opts.HeadersOnly {
				return usageErrorf("--offline and --headers-only exclude each other")
			}
			if runF != nil {
				return runF(ctx, opts)
			}
			return runList(ctx, opts)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Folder, "folder", "f", "", "`folder` to list (default INBOX)")
	f.IntVar(&opts.Limit, "limit", 50, "show at most `N` messages; 0 shows all")
	f.BoolVar(&opts.Unseen, "unseen", false, "only messages not yet seen")
	f.BoolVar(&opts.Offline, "offline", false, "list from the local cache, without connecting")
	f.BoolVar(&opts.HeadersOnly, "headers-only", false, "POP3: list from headers (TOP) without downloading messages")
	return cmd
}

func runList(ctx context.Context, opts *listOptions) error {
	mb, err := opts.app.mailbox(ctx)
	if err != nil {
		return err
	}
	bar := opts.app.newProgress()
	msgs, err := mb.List(ctx, client.ListRequest{
		Folder:      opts.Folder,
		Limit:       opts.Limit,
		Unseen:      opts.Unseen,
		Offline:     opts.Offline,
		HeadersOnly: opts.HeadersOnly,
		Progress:    bar.callback(),
	})
	bar.done()
	if err != nil {
		return err
	}
	return opts.app.out.print(&listResult{Folder: client.FolderName(opts.Folder), Messages: msgs})
}
