package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/termtext"
	"github.com/spf13/cobra"
)

type watchOptions struct {
	app      *app
	Folder   string
	Interval time.Duration
	Exec     string // run with sh -c for each new message
}

func newWatchCmd(a *app, runF func(context.Context, *watchOptions) error) *cobra.Command {
	opts := &watchOptions{app: a}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Report new mail as it arrives, until Ctrl-C",
		Long: `Wait for new mail and print one line per new message (the fields of
list), or with --json one JSON object per line (JSON Lines), each written
as soon as the message is seen. Mail already there when watch starts is
not reported.

IMAP: the server announces new mail (IDLE, renewed every few minutes), so
it shows within a second. POP3, or an IMAP server without IDLE: duomail
looks every --interval, with a new session each time, comparing the UIDL
list; only headers of new mail are fetched (TOP 0), nothing is
downloaded.

A lost connection is retried with a growing pause (1 s, 2 s, ... up to
5 min), said on stderr unless --quiet; mail that arrived meanwhile is
reported after reconnecting. A refused login ends the watch (exit 3).
Ctrl-C or SIGTERM stops it cleanly (exit 0).

--exec CMD runs CMD with "sh -c" once per new message, after its line is
printed, and waits for it. The message is described in environment
variables, never in the command line: DUOMAIL_ACCOUNT, DUOMAIL_FOLDER,
DUOMAIL_ID, DUOMAIL_FROM, DUOMAIL_TO (comma-separated), DUOMAIL_SUBJECT,
DUOMAIL_DATE (RFC 3339, empty when unknown), DUOMAIL_SIZE (bytes),
DUOMAIL_FLAGS (comma-separated names, "attachment" added when it has
attachments), DUOMAIL_MESSAGE_ID; with --config also DUOMAIL_CONFIG, so
"duomail fetch $DUOMAIL_ID" in CMD reaches the same account. Their values are cleaned of control
characters (a newline becomes a space). Quote them in CMD
("$DUOMAIL_SUBJECT"), as with any shell variable. CMD's output goes to
stderr, like a git hook's, so stdout stays the list of new mail. With
POP3 the watch's own session is still open while CMD runs: a server that
locks the mailbox per session refuses CMD a second one to the same
account.`,
		Example: `  duomail watch
  duomail -a home watch --interval 2m
  duomail watch --exec 'notify-send "Mail from $DUOMAIL_FROM" "$DUOMAIL_SUBJECT"'`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if opts.Interval < time.Second {
				return usageErrorf("--interval must be at least 1s")
			}
			if runF != nil {
				return runF(ctx, opts)
			}
			return runWatch(ctx, opts)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Folder, "folder", "f", "", "`folder` to watch (default INBOX)")
	f.DurationVar(&opts.Interval, "interval", 5*time.Minute, "how often to look where the server cannot announce new mail (POP3)")
	f.StringVar(&opts.Exec, "exec", "", "run `CMD` with sh -c for each new message, described in DUOMAIL_* environment variables")
	return cmd
}

func runWatch(ctx context.Context, opts *watchOptions) error {
	a := opts.app
	mb, err := a.mailbox(ctx)
	if err != nil {
		return err
	}
	folder := client.FolderName(opts.Folder)
	if a.io.errTTY {
		a.notice(fmt.Sprintf("Watching %s of %s; Ctrl-C stops.", folder, mb.Account.Name))
	}
	err = mb.Watch(ctx, client.WatchOptions{
		Folder:   folder,
		Interval: opts.Interval,
		OnMessage: func(e client.Envelope) error {
			if err := a.out.envelopeLine(mb.Account.Name, e); err != nil {
				return err
			}
			if opts.Exec != "" {
				a.runHook(opts.Exec, mb.Account.Name, e)
			}
			return nil
		},
		OnRetry: func(err error, wait time.Duration) {
			msg := errorMessage(err)
			if !strings.HasPrefix(msg, "watch ") { // errors from watching say so already
				msg = "watch: " + msg
			}
			a.notice(fmt.Sprintf("duomail: %s; trying again in %s", msg, wait))
		},
	})
	if err != nil && ctx.Err() != nil {
		return nil // stopped while a message was being handled
	}
	return err
}

// runHook runs the user's --exec command for one message. Failures are
// warned about; the watch goes on.
func (a *app) runHook(command, account string, e client.Envelope) {
	cmd := exec.Command("sh", "-c", command)
	base := os.Environ()
	if a.flags.config != "" {
		// So "duomail fetch $DUOMAIL_ID" in CMD reads the same configuration.
		if abs, err := filepath.Abs(a.flags.config); err == nil {
			base = append(base, "DUOMAIL_CONFIG="+abs)
		}
	}
	cmd.Env = hookEnv(base, account, e)
	cmd.Stdout = a.io.err
	cmd.Stderr = a.io.err
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		a.warn(fmt.Sprintf("--exec for message %s: %s", e.ID, ee.ProcessState))
	case err != nil:
		a.warn(fmt.Sprintf("--exec for message %s: %v", e.ID, err))
	}
}

// hookEnv is the environment of an --exec command: ours, with the
// message described in DUOMAIL_* variables whose values are cleaned of
// control characters. Nothing from the message goes anywhere else.
func hookEnv(base []string, account string, e client.Envelope) []string {
	date := ""
	if !e.Date.IsZero() {
		date = e.Date.Format(time.RFC3339)
	}
	f := &format{tty: false}
	vars := [][2]string{
		{"DUOMAIL_ACCOUNT", account},
		{"DUOMAIL_FOLDER", e.Folder},
		{"DUOMAIL_ID", e.ID},
		{"DUOMAIL_FROM", e.From},
		{"DUOMAIL_TO", strings.Join(e.To, ", ")},
		{"DUOMAIL_SUBJECT", e.Subject},
		{"DUOMAIL_DATE", date},
		{"DUOMAIL_SIZE", fmt.Sprint(e.Size)},
		{"DUOMAIL_FLAGS", f.flags(e.Flags, e.HasAttachments)},
		{"DUOMAIL_MESSAGE_ID", e.MessageID},
	}
	env := make([]string, 0, len(base)+len(vars))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		replaced := false
		for _, v := range vars {
			replaced = replaced || name == v[0]
		}
		if !replaced {
			env = append(env, kv)
		}
	}
	for _, v := range vars {
		env = append(env, v[0]+"="+termtext.Field(v[1]))
	}
	return env
}
