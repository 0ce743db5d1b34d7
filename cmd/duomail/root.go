package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/duomail/duomail/client/config"
	"github.com/spf13/cobra"
)

func newRootCmd(a *app) *cobra.Command {
	build := readBuildInfo()
	root := &cobra.Command{
		Use:   "duomail",
		Short: "Read mail over IMAP and POP3 with one set of commands",
		Long: `duomail reads mail from IMAP and POP3 servers with the same commands.

Accounts come from the configuration file (` + defaultConfigHint + `, or
--config), or from --url imaps://user@host for a one-off. Try "duomail demo"
for a tour against built-in test servers.`,
		Version:           build.Version,
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
	}
	root.SetVersionTemplate(strings.ReplaceAll(build.String(), "{{", "{{`{{`}}"))
	root.SetIn(a.io.in)
	root.SetOut(a.io.out)
	root.SetErr(a.io.err)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })

	pf := root.PersistentFlags()
	pf.StringVar(&a.flags.config, "config", "", "configuration `file` (default "+defaultConfigHint+"; env DUOMAIL_CONFIG)")
	pf.StringVarP(&a.flags.account, "account", "a", "", "account `name` from the configuration (env DUOMAIL_ACCOUNT)")
	pf.StringVar(&a.flags.url, "url", "", "account given as a `URL`: imaps://user@host[:port] (also imap://, pop3s://, pop3://)")
	pf.BoolVar(&a.flags.json, "json", false, "print JSON (one object) instead of a table")
	pf.BoolVar(&a.flags.debug, "debug", false, "show the protocol exchange on stderr (credentials redacted)")
	pf.BoolVar(&a.flags.stats, "stats", false, "print commands, bytes and time spent on the wire to stderr")
	pf.BoolVarP(&a.flags.quiet, "quiet", "q", false, "no progress bars or notices on stderr")
	pf.BoolVar(&a.flags.noPager, "no-pager", false, "do not send long output on a terminal through a pager ($DUOMAIL_PAGER, pager in the configuration, $PAGER, less)")
	pf.DurationVar(&a.flags.lockTimeout, "lock-timeout", time.Minute, "how long to wait for another duomail process using the account's cache (0: as long as it takes)")

	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		a.accountFlag = cmd.Flags().Changed("account")
		a.out = &printer{
			out:    a.io.out,
			tty:    a.io.outTTY,
			width:  a.io.width,
			json:   a.flags.json,
			loc:    time.Local,
			notice: a.notice,
			// Bold is the one attribute used: unseen mail in list.
			bold: a.io.outTTY && a.env("NO_COLOR") == "" && a.env("TERM") != "" && a.env("TERM") != "dumb",
		}
		if cmd.Annotations[pagerAnnotation] != "" {
			a.startPager()
		}
		a.convertForTerminal()
	}

	root.AddCommand(
		newAccountsCmd(a, nil),
		newFoldersCmd(a, nil),
		newListCmd(a, nil),
		newSearchCmd(a, nil),
		newFetchCmd(a, nil),
		newDeleteCmd(a, nil),
		newMoveCmd(a, nil),
		newFlagCmd(a, nil),
		newSyncCmd(a, nil),
		newCapabilitiesCmd(a, nil),
		newCompareCmd(a, nil),
		newCheckCmd(a, nil),
		newWatchCmd(a, nil),
		newDemoCmd(a, nil),
		newSchemaCmd(a, nil),
		newConfigCmd(a),
		newAuthCmd(a),
		newManCmd(a, nil),
	)
	// Made now rather than when cobra runs, so that it has a manual page.
	root.InitDefaultCompletionCmd()
	setupCompletion(a, root)
	setExamples(root)
	return root
}

// defaultConfigHint is where the configuration file is found on this
// platform, as help text says it.
var defaultConfigHint = config.DescribePaths(runtime.GOOS).ConfigFile

// runE wraps a command's code: errors from here on are the command's own,
// not mistakes on the command line (which cobra reports before).
func (a *app) runE(fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.running = true
		return fn(cmd.Context(), args)
	}
}

// needArgs is cobra.MinimumNArgs with a usage error that says what is missing.
func needArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("missing %s", what)
		}
		return nil
	}
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) < n:
			return usageErrorf("missing %s", what)
		case len(args) > n:
			return usageErrorf("too many arguments: want %s", what)
		}
		return nil
	}
}

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}
	return nil
}

// plural says "1 message", "2 messages".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
