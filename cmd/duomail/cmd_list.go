package main

import (
	"context"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

func newListCmd(a *app) *cobra.Command {
	var (
		folder      string
		limit       int
		unseen      bool
		offline     bool
		headersOnly bool
	)
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
			if limit < 0 {
				return usageErrorf("--limit must be 0 (all) or more")
			}
			if offline && headersOnly {
				return usageErrorf("--offline and --headers-only exclude each other")
			}
			mb, err := a.mailbox(ctx)
			if err != nil {
				return err
			}
			bar := a.newProgress()
			msgs, err := mb.List(ctx, client.ListRequest{
				Folder:      folder,
				Limit:       limit,
				Unseen:      unseen,
				Offline:     offline,
				HeadersOnly: headersOnly,
				Progress:    bar.callback(),
			})
			bar.done()
			if err != nil {
				return err
			}
			return a.out.print(&listResult{Folder: folderOrInbox(folder), Messages: msgs})
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&folder, "folder", "f", "", "`folder` to list (default INBOX)")
	f.IntVar(&limit, "limit", 50, "show at most `N` messages; 0 shows all")
	f.BoolVar(&unseen, "unseen", false, "only messages not yet seen")
	f.BoolVar(&offline, "offline", false, "list from the local cache, without connecting")
	f.BoolVar(&headersOnly, "headers-only", false, "POP3: list from headers (TOP) without downloading messages")
	return cmd
}

// folderOrInbox is how a -f value is shown: INBOX when none was given.
func folderOrInbox(folder string) string {
	if folder == "" {
		return client.Inbox
	}
	return folder
}
