package main

import (
	"context"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

type flagOptions struct {
	app    *app
	IDs    []string
	Folder string
	Op     client.FlagOp
	Flags  []client.Flag
}

func newFlagCmd(a *app, runF func(context.Context, *flagOptions) error) *cobra.Command {
	opts := &flagOptions{app: a}
	var add, remove []string
	cmd := &cobra.Command{
		Use:   "flag ID... (--add|--remove) FLAG[,FLAG]",
		Short: "Add or remove flags: seen, flagged, answered, draft",
		Long: `Add or remove message flags (seen, flagged, answered, draft), repeated or
comma separated. IMAP keeps flags on the server, so every device sees the
change. A POP3 server keeps no flags: the change is made in the local
cache only, and duomail says so.`,
		Args: needArgs(1, "the IDs of the messages"),
		RunE: a.runE(func(ctx context.Context, ids []string) error {
			op, names := client.FlagAdd, add
			switch {
			case len(add) > 0 && len(remove) > 0:
				return usageErrorf("give --add or --remove, not both")
			case len(remove) > 0:
				op, names = client.FlagRemove, remove
			case len(add) == 0:
				return usageErrorf("missing --add FLAG or --remove FLAG")
			}
			flags, err := parseFlags(names)
			if err != nil {
				return err
			}
			opts.IDs, opts.Op, opts.Flags = ids, op, flags
			if runF != nil {
				return runF(ctx, opts)
			}
			return runFlag(ctx, opts)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Folder, "folder", "f", "", "`folder` of the messages (default INBOX)")
	f.StringSliceVar(&add, "add", nil, "`flags` to add (seen, flagged, answered, draft)")
	f.StringSliceVar(&remove, "remove", nil, "`flags` to remove")
	return cmd
}

// parseFlags accepts the user-facing flag names; "deleted" is left to the
// delete command, which knows about Trash and expunging.
func parseFlags(names []string) ([]client.Flag, error) {
	var flags []client.Flag
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		f, ok := client.ParseFlag(n)
		if !ok || f == client.FlagDeleted {
			return nil, usageErrorf("unknown flag %q (want seen, flagged, answered or draft)", n)
		}
		if !client.HasFlag(flags, f) {
			flags = append(flags, f)
		}
	}
	if len(flags) == 0 {
		return nil, usageErrorf("no flag given (want seen, flagged, answered or draft)")
	}
	return flags, nil
}

func runFlag(ctx context.Context, opts *flagOptions) error {
	mb, err := opts.app.mailbox(ctx)
	if err != nil {
		return err
	}
	res, err := mb.Flag(ctx, opts.Folder, opts.IDs, opts.Op, opts.Flags)
	if err != nil {
		return err
	}
	opName := "add"
	if opts.Op == client.FlagRemove {
		opName = "remove"
	}
	return opts.app.out.print(&flagResult{Folder: client.FolderName(opts.Folder), IDs: opts.IDs, Op: opName, Flags: opts.Flags, FlagResult: res})
}
