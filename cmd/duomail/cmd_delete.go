package main

import (
	"context"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

func newDeleteCmd(a *app) *cobra.Command {
	var (
		folder  string
		expunge bool
	)
	cmd := &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete messages without downloading them",
		Long: `Delete messages. On IMAP they go to the Trash folder when the server has
one, or are removed for good with --expunge (only these messages: UID
EXPUNGE). On POP3 they are deleted on the server (committed when the
session ends cleanly) and from the local cache, which held the only other
copy.`,
		Args: needArgs(1, "the IDs of the messages to delete"),
		RunE: a.runE(func(ctx context.Context, ids []string) error {
			mb, err := a.mailbox(ctx)
			if err != nil {
				return err
			}
			// Asked before deleting: a POP3 delete ends the session to commit.
			caps, err := mb.Capabilities(ctx)
			if err != nil {
				return err
			}
			res, err := mb.Delete(ctx, folder, ids, client.DeleteOptions{Expunge: expunge})
			if err != nil {
				return err
			}
			return a.out.print(&deleteResult{
				Folder:       folderOrInbox(folder),
				IDs:          ids,
				DeleteResult: res,
				Local:        !caps.Has(client.FeatureMailOnServer),
			})
		}),
	}
	cmd.Flags().StringVarP(&folder, "folder", "f", "", "`folder` of the messages (default INBOX)")
	cmd.Flags().BoolVar(&expunge, "expunge", false, "remove for good instead of moving to Trash")
	return cmd
}
