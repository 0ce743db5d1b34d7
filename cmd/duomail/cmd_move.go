package main

import (
	"context"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

type moveOptions struct {
	app    *app
	IDs    []string
	Folder string
	To     string
	// ExpungeOthers: as for delete, when the originals are removed with a
	// plain EXPUNGE (neither MOVE nor UIDPLUS).
	ExpungeOthers bool
}

func newMoveCmd(a *app, runF func(context.Context, *moveOptions) error) *cobra.Command {
	opts := &moveOptions{app: a}
	cmd := &cobra.Command{
		Use:   "move ID... --to FOLDER",
		Short: "Move messages to another folder on the server",
		Long: `Move messages to another folder on the server, without downloading them.
On a server with neither MOVE nor UIDPLUS the originals are removed with
EXPUNGE, refused while other messages carry \Deleted unless
--expunge-others allows removing them too. POP3 has no folders, so there move fails with exit status 5.`,
		Args: needArgs(1, "the IDs of the messages to move"),
		RunE: a.runE(func(ctx context.Context, ids []string) error {
			if opts.To == "" {
				return usageErrorf("missing --to FOLDER")
			}
			opts.IDs = ids
			if runF != nil {
				return runF(ctx, opts)
			}
			return runMove(ctx, opts)
		}),
	}
	cmd.Flags().StringVarP(&opts.Folder, "folder", "f", "", "`folder` the messages are in (default INBOX)")
	cmd.Flags().StringVar(&opts.To, "to", "", "destination `folder`")
	cmd.Flags().BoolVar(&opts.ExpungeOthers, "expunge-others", false, "on a server without MOVE and UIDPLUS, also remove the other messages already flagged \\Deleted")
	return cmd
}

func runMove(ctx context.Context, opts *moveOptions) error {
	mb, err := opts.app.mailbox(ctx)
	if err != nil {
		return err
	}
	res, err := mb.Move(ctx, opts.Folder, opts.IDs, opts.To, client.MoveOptions{ExpungeOthers: opts.ExpungeOthers})
	if err != nil {
		return err
	}
	return opts.app.out.print(&moveResult{Folder: client.FolderName(opts.Folder), IDs: opts.IDs, To: client.FolderName(opts.To), MoveResult: res})
}
