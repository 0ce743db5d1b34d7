package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/config"
	"github.com/duomail/duomail/imapsrc/imaptest"
	"github.com/duomail/duomail/popsrc/pop3test"
	"github.com/spf13/cobra"
)

// The demo user of both built-in servers.
const (
	demoUser     = "demo"
	demoPassword = "demo"
)

type demoOptions struct {
	app         *app
	KeepRunning bool
}

func newDemoCmd(a *app, runF func(context.Context, *demoOptions) error) *cobra.Command {
	opts := &demoOptions{app: a}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A guided tour against built-in IMAP and POP3 test servers",
		Long: `Start an IMAP and a POP3 server inside duomail, on loopback, both holding
the same sample mailbox, and run a short tour against them: compare (the
two protocols side by side, with what each cost on the wire),
capabilities of both servers, check twice (new mail, then none), and the
everyday commands. Nothing is needed: no account, no network. Everything
is kept in a temporary directory that is removed at the end.

With --keep-running the servers stay up after the tour, so the printed
commands can be tried by hand in another terminal, until Ctrl-C.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if runF != nil {
				return runF(ctx, opts)
			}
			return runDemo(ctx, opts)
		}),
	}
	cmd.Flags().BoolVar(&opts.KeepRunning, "keep-running", false, "keep the servers running after the tour, until Ctrl-C")
	return cmd
}

func runDemo(ctx context.Context, opts *demoOptions) error {
	a, keep := opts.app, opts.KeepRunning
	dir, err := os.MkdirTemp("", "duomail-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The tour runs duomail's own commands in this process, each seeing
	// this environment instead of the process's: their caches go to the
	// temporary directory, and no configuration of the user's takes part.
	env := overlayEnv(a.getenv, map[string]string{
		"XDG_DATA_HOME":    filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME":  filepath.Join(dir, "config"),
		"DUOMAIL_PASSWORD": demoPassword,
		"DUOMAIL_ACCOUNT":  "",
		"DUOMAIL_CONFIG":   "",
	})

	imapSrv, err := imaptest.Start(imaptest.Options{Users: map[string]string{demoUser: demoPassword}, InsecureAuth: true})
	if err != nil {
		return fmt.Errorf("demo: start IMAP server: %w", err)
	}
	defer imapSrv.Close()
	popSrv, err := pop3test.Start(pop3test.Options{})
	if err != nil {
		return fmt.Errorf("demo: start POP3 server: %w", err)
	}
	defer popSrv.Close()
	popSrv.AddUser(demoUser, demoPassword)

	// IMAP UIDs count from 1 in the order of delivery, per folder.
	uid := map[string]string{}
	next := map[string]int{}
	for _, m := range sampleMail() {
		var flags []string
		if m.Seen {
			flags = []string{`\Seen`}
		}
		if err := imapSrv.Append(demoUser, m.Folder, m.Raw, flags, m.Date); err != nil {
			return fmt.Errorf("demo: deliver sample mail: %w", err)
		}
		next[m.Folder]++
		if m.Folder == client.Inbox {
			uid[sampleSubject(m)] = strconv.Itoa(next[m.Folder])
			popSrv.Add(demoUser, m.Raw)
		}
	}

	imapURL := fmt.Sprintf("imap://%s@127.0.0.1:%d?tls=none", demoUser, imapSrv.Port())
	popURL := fmt.Sprintf("pop3://%s@127.0.0.1:%d?tls=none", demoUser, popSrv.Port())
	attachDir := filepath.Join(dir, "attachments")
	// The same two servers as configured accounts, for the commands that
	// take account names, and for trying things by hand.
	cfgFile := filepath.Join(dir, "config.toml")
	if err := writeDemoConfig(cfgFile, filepath.Join(dir, "cache"), imapSrv.Port(), popSrv.Port()); err != nil {
		return err
	}

	t := &tour{a: a, ctx: ctx, w: a.io.out, env: env}
	t.intro(imapURL, popURL, cfgFile)
	// First, while both servers hold exactly the same mail, the two
	// protocols side by side. The table is meant for people: shown as on a
	// terminal even when the demo's output goes to a pipe or a file.
	t.tableStep("The same mailbox over IMAP and over POP3, side by side: what each protocol did and what it cost on the wire", 0,
		"--config", cfgFile, "compare", "imap", "pop3", "--with-delete")
	t.step("Why: what the IMAP server announces, and what duomail can do with it", 0, "--config", cfgFile, "-a", "imap", "capabilities")
	t.step("The same for the POP3 server", 0, "--config", cfgFile, "-a", "pop3", "capabilities")
	t.step("Check every account for new mail, for scripts and status bars; the first check counts unseen mail as new: exit status 0", 0,
		"--config", cfgFile, "check", "--all")
	t.step("Check again: nothing arrived since, so exit status 1 (as with fetchmail and neomutt -Z)", 1,
		"--config", cfgFile, "check", "--all")

	t.section("The everyday commands, with the servers given as --url instead of a configuration:")
	t.step("Folders on the IMAP server, with their roles and counts", 0, "--url", imapURL, "folders")
	t.step("The inbox, newest first (N = not seen yet, @ = attachments)", 0, "--url", imapURL, "list")
	t.step("Read a message: headers, then the text, converted to UTF-8; reading marks it seen", 0,
		"--url", imapURL, "fetch", uid["Grüße aus Köln"])
	t.step("An HTML-only message is shown as text", 0, "--url", imapURL, "fetch", uid["Spring sale: 20% off"])
	t.step("Save the attachments of a message; only those parts are fetched", 0,
		"--url", imapURL, "fetch", "--save-attachments", attachDir, uid["Expenses and minutes"])
	t.step("Flag a message on the server", 0, "--url", imapURL, "flag", uid["Invoice March 2025"], "--add", "flagged")
	t.step("Delete a message: it moves to Trash", 0, "--url", imapURL, "delete", uid["Lunch on Friday?"])
	t.step("POP3 has one folder and hands out whole messages: list downloads new mail first", 0,
		"--url", popURL, "list", "--limit", "5")
	t.step("A second sync finds nothing new to download", 0, "--url", popURL, "sync")
	t.step("What POP3 cannot do is refused with the reason (exit status 5)", exitUnsupported,
		"--url", popURL, "move", "--to", "Archive", t.firstPOP3ID(popURL))
	if t.err != nil {
		return t.err
	}
	t.outro(imapURL, popURL, keep, filepath.Join(dir, "data"), cfgFile, uid["Café à Paris"])
	if keep {
		<-ctx.Done()
		fmt.Fprintln(t.w)
		fmt.Fprintln(t.w, "Stopped the demo servers; the demo directory is removed.")
	}
	return nil
}

// writeDemoConfig writes a configuration with the two demo servers as
// accounts "imap" and "pop3", private like any file with a password.
func writeDemoConfig(path, cacheDir string, imapPort, popPort int) error {
	cfg := fmt.Sprintf(`# Written by "duomail demo": the built-in servers as accounts.
cache_dir = %q

[accounts.imap]
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
password = %q

[accounts.pop3]
protocol = "pop3"
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
password = %q
`, cacheDir, imapPort, demoUser, demoPassword, popPort, demoUser, demoPassword)
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("demo: write configuration: %w", err)
	}
	return nil
}

// tour runs duomail commands in this process, each under a heading.
type tour struct {
	a   *app
	ctx context.Context
	env config.Getenv // what each command of the tour sees as its environment
	w   io.Writer
	n   int
	err error
}

func (t *tour) intro(imapURL, popURL, cfgFile string) {
	fmt.Fprintf(t.w, "duomail demo: an IMAP server and a POP3 server are running on loopback,\n")
	fmt.Fprintf(t.w, "both holding the same sample mailbox (%d messages in INBOX).\n", len(sampleIndex{mail: sampleMail()}.inFolder(client.Inbox)))
	fmt.Fprintf(t.w, "  IMAP: %s\n  POP3: %s\n", imapURL, popURL)
	fmt.Fprintf(t.w, "They are the accounts \"imap\" and \"pop3\" of the configuration file\n  %s\n", cfgFile)
}

// step runs one command, which must exit with the given status.
func (t *tour) step(title string, wantCode int, args ...string) {
	t.run(title, wantCode, t.a.io, args)
}

// tableStep is step with the output shown as on a terminal, even when
// the demo's stdout is not one.
func (t *tour) tableStep(title string, wantCode int, args ...string) {
	io := t.a.io
	if !io.outTTY {
		io.outTTY, io.width = true, defaultWidth
	}
	t.run(title, wantCode, io, args)
}

func (t *tour) run(title string, wantCode int, s streams, args []string) {
	if t.err != nil {
		return
	}
	t.n++
	fmt.Fprintf(t.w, "\n== %d. %s\n$ duomail %s\n\n", t.n, title, shellQuote(args))
	sub := newApp(s, t.env)
	code := sub.execute(t.ctx, args)
	if wantCode != 0 {
		fmt.Fprintf(t.w, "(exit status %d)\n", code)
	}
	if code != wantCode {
		t.err = fmt.Errorf("demo: step %d (duomail %s) ended with exit status %d, want %d", t.n, strings.Join(args, " "), code, wantCode)
	}
}

// section says something between steps.
func (t *tour) section(text string) {
	if t.err == nil {
		fmt.Fprintf(t.w, "\n%s\n", text)
	}
}

// firstPOP3ID lists the POP3 inbox quietly to learn one message's UIDL.
func (t *tour) firstPOP3ID(popURL string) string {
	if t.err != nil {
		return ""
	}
	sub := newApp(streams{in: strings.NewReader(""), inFd: -1, out: io.Discard, err: io.Discard}, t.env)
	sub.execute(t.ctx, []string{"--url", popURL, "list", "--offline", "--limit", "1", "--json"})
	id := ""
	if sub.out != nil {
		if r, ok := sub.out.pending.(*listResult); ok && len(r.Messages) > 0 {
			id = r.Messages[0].ID
		}
	}
	if id == "" {
		// Should not happen after the list above; "1" still shows the refusal.
		return "1"
	}
	return id
}

func (t *tour) outro(imapURL, popURL string, keep bool, dataDir, cfgFile, someUID string) {
	fmt.Fprintf(t.w, "\n== Try it yourself\n\n")
	if !keep {
		fmt.Fprintf(t.w, "The servers stop when the demo ends. Run \"duomail demo --keep-running\" to keep\nthem up, then in another terminal:\n\n")
	} else {
		fmt.Fprintf(t.w, "The servers keep running until Ctrl-C. In another terminal:\n\n")
	}
	fmt.Fprintf(t.w, "  export DUOMAIL_PASSWORD=%s\n", demoPassword)
	if keep {
		fmt.Fprintf(t.w, "  export XDG_DATA_HOME=%s   # keeps the demo's caches out of your own\n", shellQuote([]string{dataDir}))
	}
	fmt.Fprintf(t.w, "  duomail --url '%s' list\n", imapURL)
	fmt.Fprintf(t.w, "  duomail --url '%s' fetch %s\n", imapURL, someUID)
	fmt.Fprintf(t.w, "  duomail --url '%s' list --json\n", popURL)
	fmt.Fprintf(t.w, "  duomail --url '%s' folders --stats\n", imapURL)
	if keep {
		cfg := shellQuote([]string{cfgFile})
		fmt.Fprintf(t.w, "\nor with the demo's configuration file (accounts \"imap\" and \"pop3\", password inside):\n\n")
		fmt.Fprintf(t.w, "  duomail --config %s accounts\n", cfg)
		fmt.Fprintf(t.w, "  duomail --config %s compare imap pop3 --stats\n", cfg)
		fmt.Fprintf(t.w, "  duomail --config %s -a imap watch     # then, elsewhere: duomail --config %s -a imap delete ...\n", cfg, cfg)
		fmt.Fprintf(t.w, "  duomail --config %s check --all; echo \"exit status $?\"\n", cfg)
	}
}

// overlayEnv returns an environment that is base with vars laid over it
// ("" unsets), leaving the process's own environment alone.
func overlayEnv(base config.Getenv, vars map[string]string) config.Getenv {
	return func(key string) (string, bool) {
		if v, ok := vars[key]; ok {
			return v, v != ""
		}
		return base(key)
	}
}

// shellQuote renders arguments so they can be pasted into a shell.
func shellQuote(args []string) string {
	out := make([]string, len(args))
	for i, s := range args {
		if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@,") == "" {
			out[i] = s
		} else {
			out[i] = "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
