package main

import (
	"context"

	"github.com/spf13/cobra"
)

func newFoldersCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "folders",
		Short: "List folders with their role, total and unseen counts",
		Long: `List the account's folders. POP3 has one, INBOX; its unseen count comes from
what the local cache knows, as a POP3 server keeps no flags.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			mb, err := a.mailbox(ctx)
			if err != nil {
				return err
			}
			folders, err := mb.Folders(ctx)
			if err != nil {
				return err
			}
			return a.out.print(&foldersResult{Folders: folders})
		}),
	}
}
