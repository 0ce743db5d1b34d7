package main

import (
	"context"
	"fmt"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/thread"
	"github.com/spf13/cobra"
)

type listOptions struct {
	app         *app
	Folder      string
	Limit       int
	Unseen      bool
	Offline     bool
	HeadersOnly bool
	Offset      int
	Sort        string
	Reverse     bool
	limitSet    bool
	Thread      bool
}

func newListCmd(a *app, runF func(context.Context, *listOptions) error) *cobra.Command {
	opts := &listOptions{app: a}
	var cmd *cobra.Command
	cmd = &cobra.Command{
		Use:         "list",
		Short:       "List messages, newest first",
		Annotations: map[string]string{pagerAnnotation: "yes"},
		Long: `List messages of a folder, newest first.

From an IMAP server the envelopes come straight from the server (and are
remembered for --offline). A POP3 server can only hand out whole messages,
so list first downloads new mail into the local cache (a sync) and lists
from there; --headers-only lists from headers alone (POP3 TOP) instead.
--offline answers from the cache without any network.

--sort orders by date (the default), arrival, from, subject or size;
--reverse turns the order round and --offset N skips the first N. An IMAP
server with SORT orders on the server; without SORT, arrival is UID order
and any other key fetches the envelopes of the whole folder to sort them
(see "duomail capabilities": sort on the server).`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if opts.Limit < 0 {
				return usageErrorf("--limit must be 0 (all) or more")
			}
			if opts.Offline && opts.HeadersOnly {
				return usageErrorf("--offline and --headers-only exclude each other")
			}
			if opts.Offset < 0 {
				return usageErrorf("--offset must be 0 or more")
			}
			if err := checkSort(opts.Sort); err != nil {
				return err
			}
			opts.limitSet = cmd.Flags().Changed("limit")
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
	f.IntVar(&opts.Offset, "offset", 0, "skip the first `N` messages")
	f.StringVar(&opts.Sort, "sort", "", "order by `KEY`: date (default: newest first), arrival, from, subject or size")
	f.BoolVar(&opts.Reverse, "reverse", false, "reverse the order")
	f.BoolVar(&opts.Thread, "thread", false, "group the listed messages into conversations (replies indented; thread and depth in JSON)")
	return cmd
}

func runList(ctx context.Context, opts *listOptions) error {
	mb, err := opts.app.mailbox(ctx)
	if err != nil {
		return err
	}
	bar := opts.app.newProgress()
	res := &listResult{Folder: client.FolderName(opts.Folder)}
	out := opts.app.out.envelopeStream(res)
	var held []client.Envelope // with --thread
	total, err := mb.ListCounted(ctx, client.ListRequest{
		Folder:      opts.Folder,
		Limit:       opts.Limit,
		Unseen:      opts.Unseen,
		Offline:     opts.Offline,
		HeadersOnly: opts.HeadersOnly,
		Progress:    bar.callback(),
		Offset:      opts.Offset,
		Sort:        client.SortKey(opts.Sort),
		Reverse:     opts.Reverse,
	}, func(e client.Envelope) error {
		if opts.Thread {
			held = append(held, e)
			return nil
		}
		bar.done() // rows are coming: no bar under them
		return out.add(e)
	})
	bar.done()
	if err != nil {
		if out.open {
			// Close the half-written document's array; abandon closes it.
			out.end()
		}
		return err
	}
	// Threads need the whole listing before the first row.
	for _, e := range thread.Annotate(held) {
		if err := out.add(e); err != nil {
			return err
		}
	}
	opts.app.cutNotice(out.n, total, opts.Offset, opts.limitSet, opts.Limit)
	if opts.Offline && out.n == 0 {
		if never, err := neverSynced(ctx, mb, res.Folder); err != nil {
			return err
		} else if never {
			// "no messages" would claim the mailbox is empty; only the cache is.
			res.empty = "-"
			opts.app.notice(fmt.Sprintf("the local cache holds nothing for %s yet (never synced); fill it with: %s", res.Folder, syncHint(opts.app, res.Folder)))
		}
	}
	return out.end()
}

// neverSynced says whether the cache knows nothing of folder: no sync
// recorded and no message stored.
func neverSynced(ctx context.Context, mb *client.Mailbox, folder string) (bool, error) {
	st, err := mb.Cache.State(ctx, folder)
	if err != nil {
		return false, err
	}
	if !st.LastSync.IsZero() || st.UIDValidity != 0 {
		return false, nil
	}
	entries, err := mb.Cache.Entries(ctx, folder)
	return err == nil && len(entries) == 0, err
}

// syncHint is the command that fills the cache of this account and folder.
func syncHint(a *app, folder string) string {
	cmd := "duomail sync"
	switch {
	case a.flags.url != "":
		cmd += " --url URL" // the same --url as this command
	case a.account != nil:
		cmd += " -a " + a.account.Name
	}
	if folder != client.Inbox {
		cmd += " -f " + folder
	}
	return cmd
}
