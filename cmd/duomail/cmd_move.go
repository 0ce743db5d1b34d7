package main

import (
	"context"

	"github.com/spf13/cobra"
)

func newMoveCmd(a *app) *cobra.Command {
	var folder, dest string
	cmd := &cobra.Command{
		Use:   "move ID... --to FOLDER",
		Short: "Move messages to another folder on the server",
		Long: `Move messages to another folder on the server, without downloading them.
POP3 has no folders, so there move fails with exit status 5.`,
		Args: needArgs(1, "the IDs of the messages to move"),
		RunE: a.runE(func(ctx context.Context, ids []string) error {
			if dest == "" {
				return usageErrorf("missing --to FOLDER")
			}
			mb, err := a.mailbox(ctx)
			if err != nil {
				return err
			}
			if err := mb.Move(ctx, folder, ids, dest); err != nil {
				return err
			}
			return a.out.print(&moveResult{Folder: folderOrInbox(folder), IDs: ids, To: folderOrInbox(dest)})
		}),
	}
	cmd.Flags().StringVarP(&folder, "folder", "f", "", "`folder` the messages are in (default INBOX)")
	cmd.Flags().StringVar(&dest, "to", "", "destination `folder`")
	return cmd
}
