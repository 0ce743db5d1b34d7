package main

import (
	"context"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

type deleteOptions struct {
	app     *app
	IDs     []string
	Folder  string
	Expunge bool
	// ExpungeOthers lets a plain EXPUNGE (no UIDPLUS) also remove the
	// other messages already flagged \Deleted.
	ExpungeOthers bool
}

func newDeleteCmd(a *app, runF func(context.Context, *deleteOptions) error) *cobra.Command {
	opts := &deleteOptions{app: a}
	cmd := &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete messages without downloading them",
		Long: `Delete messages. On IMAP they go to the Trash folder when the server has
one, or are removed for good with --expunge (only these messages: UID
EXPUNGE). A server without UIDPLUS can only EXPUNGE every message flagged
\Deleted at once: there the delete is refused while other messages carry
\Deleted, unless --expunge-others allows removing them too. On POP3 they are deleted on the server (committed when the
session ends cleanly) and from the local cache, which held the only other
copy.`,
		Args: needArgs(1, "the IDs of the messages to delete"),
		RunE: a.runE(func(ctx context.Context, ids []string) error {
			opts.IDs = ids
			if runF != nil {
				return runF(ctx, opts)
			}
			return runDelete(ctx, opts)
		}),
	}
	cmd.Flags().StringVarP(&opts.Folder, "folder", "f", "", "`folder` of the messages (default INBOX)")
	cmd.Flags().BoolVar(&opts.Expunge, "expunge", false, "remove for good instead of moving to Trash")
	cmd.Flags().BoolVar(&opts.ExpungeOthers, "expunge-others", false, "on a server without UIDPLUS, also remove the other messages already flagged \\Deleted")
	return cmd
}

func runDelete(ctx context.Context, opts *deleteOptions) error {
	mb, err := opts.app.mailbox(ctx)
	if err != nil {
		return err
	}
	// Asked before deleting: a POP3 delete ends the session to commit.
	caps, err := mb.Capabilities(ctx)
	if err != nil {
		return err
	}
	res, err := mb.Delete(ctx, opts.Folder, opts.IDs, client.DeleteOptions{Expunge: opts.Expunge, ExpungeOthers: opts.ExpungeOthers})
	if err != nil {
		return err
	}
	return opts.app.out.print(&deleteResult{
		Folder:       client.FolderName(opts.Folder),
		IDs:          opts.IDs,
		DeleteResult: res,
		Local:        !caps.Has(client.FeatureMailOnServer),
	})
}
