package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/compare"
	"github.com/spf13/cobra"
)

type compareOptions struct {
	app        *app
	Accounts   [2]string // names from the configuration, or URLs
	WithDelete bool
	Count      int
}

func newCompareCmd(a *app, runF func(context.Context, *compareOptions) error) *cobra.Command {
	opts := &compareOptions{app: a}
	cmd := &cobra.Command{
		Use:   "compare ACCOUNT_A ACCOUNT_B",
		Short: "Run the same scenarios on two accounts and show, side by side, what each protocol did and cost",
		Long: `Run the same scenarios on two accounts, typically one mailbox reached over
IMAP and over POP3, and show side by side what each protocol did and what
it cost on the wire: commands sent, bytes sent and received (below TLS),
time.

Scenarios: connect and log in; list the newest messages' headers; read the
text of the largest message with an attachment without the attachment;
download that attachment alone; see the other folders; a change made on a
second device; where the mail lives afterwards; delete a message without
downloading it.

compare changes nothing: the one flag it sets to show a second device
seeing it is restored. (A POP3 server may itself mark the messages it
hands out as seen, as Dovecot does unless pop3_no_flag_updates = yes; an
IMAP client of the same mailbox then sees the message as read.) The
delete row only says what would be sent unless --with-delete, which
really deletes one message on each account (a different one on each
side).

Accounts are names from the configuration, or URLs as for --url.

Exit status: 0, also when a scenario failed on one side (the cell shows
the error); 1 when an account could not be reached at all.`,
		Args: exactArgs(2, "two accounts: ACCOUNT_A ACCOUNT_B"),
		RunE: a.runE(func(ctx context.Context, args []string) error {
			if opts.Count <= 0 {
				return usageErrorf("--count must be at least 1")
			}
			if a.flags.url != "" || a.accountFlag {
				return usageErrorf("compare takes its two accounts as arguments, not -a or --url")
			}
			opts.Accounts = [2]string{args[0], args[1]}
			if runF != nil {
				return runF(ctx, opts)
			}
			return runCompare(ctx, opts)
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&opts.WithDelete, "with-delete", false, "really delete one message on each account to measure the delete")
	f.IntVar(&opts.Count, "count", 20, "how many of the newest messages the listing scenario lists")
	return cmd
}

func runCompare(ctx context.Context, opts *compareOptions) error {
	a := opts.app
	var mbs [2]*client.Mailbox
	for i, name := range opts.Accounts {
		ac, cfg, err := a.namedAccount(name)
		if err != nil {
			return err
		}
		if i == 1 && strings.EqualFold(ac.Name, mbs[0].Account.Name) {
			return usageErrorf("compare needs two different accounts")
		}
		s, err := a.openSession(ac, cfg, true)
		if err != nil {
			return err
		}
		mbs[i] = s.mb
	}
	rep, err := compare.Compare(ctx, mbs[0], mbs[1], compare.Options{WithDelete: opts.WithDelete, ListCount: opts.Count})
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if len(rep.Rows) > 0 {
		if perr := a.out.print(&compareResult{Report: rep}); perr != nil {
			return perr
		}
	}
	if err != nil {
		if len(rep.Rows) == 0 {
			return err
		}
		return &exitStatus{code: exitCode(err), err: err}
	}
	// A side that could not connect made every row useless for it.
	for _, row := range rep.Rows {
		if row.Scenario != compare.ScenarioConnect {
			continue
		}
		for i, s := range row.Sides {
			if s.Error != "" {
				return &exitStatus{code: exitError, err: fmt.Errorf("compare: could not connect to account %s: %s", rep.Accounts[i].Name, s.Error)}
			}
		}
	}
	return nil
}

// namedAccount resolves an account given as an argument: a URL (as for
// --url) or a name from the configuration.
func (a *app) namedAccount(name string) (*AccountConfig, *Config, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	if strings.Contains(name, "://") {
		ac, err := a.parseAccountURL(name)
		return ac, cfg, err
	}
	ac := cfg.Accounts[strings.ToLower(name)]
	if ac == nil {
		return nil, nil, usageErrorf("no account named %q%s", name, accountsHint(cfg))
	}
	return ac, cfg, nil
}
