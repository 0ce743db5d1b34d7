package main

import (
	"context"

	"github.com/spf13/cobra"
)

type foldersOptions struct {
	app *app
}

func newFoldersCmd(a *app, runF func(context.Context, *foldersOptions) error) *cobra.Command {
	opts := &foldersOptions{app: a}
	return &cobra.Command{
		Use:   "folders",
		Short: "List folders with their role, total and unseen counts",
		Long: `List the account's folders. POP3 has one, INBOX; its unseen count comes from
what the local cache knows, as a POP3 server keeps no flags.

Roles come from the server's special-use attributes (RFC 6154). For a role no
folder carries (every role on a server without SPECIAL-USE, such as Courier),
a folder with a common name is taken: Trash, Deleted Items, Sent, Sent Messages,
Sent Items, Drafts, Junk, Spam, Archive, at the top level or below the personal
namespace (INBOX. on Courier). Such a role shows as "trash (by name)" on a
terminal and with "role_guessed": true in --json; delete moves to that Trash.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if runF != nil {
				return runF(ctx, opts)
			}
			return runFolders(ctx, opts)
		}),
	}
}

func runFolders(ctx context.Context, opts *foldersOptions) error {
	mb, err := opts.app.mailbox(ctx)
	if err != nil {
		return err
	}
	folders, err := mb.Folders(ctx)
	if err != nil {
		return err
	}
	return opts.app.out.print(&foldersResult{Folders: folders})
}
