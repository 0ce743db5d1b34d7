package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/oauth"
	"github.com/duomail/duomail/client/termtext"
	"golang.org/x/term"
)

// accountConfig picks the account the command works on: --url, else -a
// (or DUOMAIL_ACCOUNT), else the configured default, else the only account.
func (a *app) accountConfig() (*AccountConfig, *Config, error) {
	if a.account != nil {
		return a.account, a.cfg, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	var ac *AccountConfig
	name := a.flags.account
	if !a.accountFlag {
		name = a.env("DUOMAIL_ACCOUNT")
	}
	switch {
	case a.flags.url != "":
		if a.accountFlag {
			return nil, nil, usageErrorf("give either --url or --account, not both")
		}
		ac, err = a.parseAccountURL(a.flags.url)
		if err != nil {
			return nil, nil, err
		}
	case name != "":
		ac = cfg.Accounts[strings.ToLower(name)]
		if ac == nil {
			return nil, nil, usageErrorf("no account named %q%s", name, accountsHint(cfg))
		}
	case cfg.Default != "":
		ac = cfg.Accounts[cfg.Default]
	case len(cfg.Accounts) == 0:
		return nil, nil, usageErrorf("%s, or give --url imaps://user@host", noAccountHint(a, cfg))
	default:
		return nil, nil, usageErrorf("several accounts are configured: choose one with -a%s, or set default in %s", accountsHint(cfg), cfg.File)
	}
	a.account = ac
	return ac, cfg, nil
}

// noAccountHint says there is no account and how to set one up: with
// config init, which writes the file where every command looks for it.
// Nothing is asked: a command that finds no account never turns into a
// conversation.
func noAccountHint(a *app, cfg *Config) string {
	if cfg.File == "" {
		return fmt.Sprintf("no account configured: run \"duomail config init\" to set one up (it writes %s)", a.configFilePath())
	}
	return fmt.Sprintf("no account configured in %s: add one with \"duomail config init --append\"", cfg.File)
}

func accountsHint(cfg *Config) string {
	if len(cfg.Accounts) == 0 {
		return ""
	}
	return " (configured: " + strings.Join(cfg.Names(), ", ") + ")"
}

// clientAccount builds what the library needs; the password is resolved
// only when a server asks for it.
func (a *app) clientAccount(ac *AccountConfig, cfg *Config) *client.Account {
	ca := ac.Client(cfg.CacheDir, a.passwordFunc(ac))
	if ac.Auth == client.AuthOAuth2 {
		ca.Password = nil
		ca.Token = a.tokenFunc(ac)
	}
	return ca
}

// passwordFunc returns the lazy password of an account. It is resolved at
// most once per run, from the first source that is set: password,
// password_cmd, password_env, the DUOMAIL_PASSWORD variable, a prompt on
// the terminal. The password is never put into a child's argv, a log or an
// error message.
func (a *app) passwordFunc(ac *AccountConfig) func(context.Context) (string, error) {
	var (
		mu   sync.Mutex
		done bool
		pw   string
		perr error
	)
	return func(ctx context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			// Accounts checked at once must not prompt at once.
			a.passwordMu.Lock()
			pw, perr = a.resolvePassword(ctx, ac)
			a.passwordMu.Unlock()
			// A cancelled prompt or command may be retried; anything else sticks.
			done = ctx.Err() == nil
		}
		return pw, perr
	}
}

func (a *app) resolvePassword(ctx context.Context, ac *AccountConfig) (string, error) {
	switch {
	case ac.Password != "":
		return ac.Password, nil
	case ac.PasswordCmd != "":
		p := passwordCmd{account: ac.Name, command: ac.PasswordCmd, stdin: a.io.in, stderr: a.io.err, limit: ac.Timeout}
		if p.limit <= 0 {
			p.limit = client.DefaultTimeout
		}
		if a.io.errTTY {
			p.waiting = a.io.err
		}
		return runPasswordCmd(ctx, p)
	case ac.PasswordKeyring:
		pw, err := oauth.KeyringGet(oauth.PasswordKey(ac.Name))
		switch {
		case errors.Is(err, oauth.ErrNoToken):
			return "", fmt.Errorf("account %s: %w: password_keyring is set, but the keyring holds no password for it; run `duomail auth set-password -a %s`", ac.Name, client.ErrAuth, ac.Name)
		case err != nil:
			return "", fmt.Errorf("account %s: %w: password_keyring: %w", ac.Name, client.ErrAuth, err)
		}
		return pw, nil
	case ac.PasswordEnv != "":
		pw := a.env(ac.PasswordEnv)
		if pw == "" {
			return "", fmt.Errorf("account %s: %w: password_env names %s, which is not set", ac.Name, client.ErrAuth, ac.PasswordEnv)
		}
		return pw, nil
	}
	if pw := a.env("DUOMAIL_PASSWORD"); pw != "" {
		return pw, nil
	}
	if a.io.inTTY && a.io.inFd >= 0 {
		fmt.Fprintf(a.io.err, "Password for %s@%s: ", termtext.Field(ac.Username), termtext.Field(ac.Host))
		b, err := term.ReadPassword(a.io.inFd)
		fmt.Fprintln(a.io.err)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("account %s: %w: no password: set DUOMAIL_PASSWORD, configure password_cmd, or run on a terminal to be asked", ac.Name, client.ErrAuth)
}

// maxPasswordOutput bounds what is read from password_cmd.
const maxPasswordOutput = 64 << 10

// passwordCmdExit is how long a password_cmd that printed its line has
// to exit, so that one that then fails still counts as failed; one that
// keeps running after is stopped, its line kept.
const passwordCmdExit = time.Second

// passwordCmd is one run of an account's password_cmd.
type passwordCmd struct {
	account string
	command string
	// what names the setting in messages ("password_cmd" when empty) and
	// noun what it prints ("password").
	what, noun string
	stdin      io.Reader
	stderr     io.Writer
	// limit bounds the wait for the first line: the account's timeout.
	limit time.Duration
	// waiting, when set (stderr is a terminal), is told after a second
	// that duomail is waiting for the command.
	waiting io.Writer
}

// runPasswordCmd runs the command through "sh -c" in its own process
// group and takes the first line of its standard output as soon as it
// arrives. Its stderr goes to ours (gpg and pass talk there) and its stdin
// is ours (for a pinentry on the terminal). A command that prints nothing
// within the limit is killed with everything it started, and so is one
// that keeps running after its line. Errors never quote its output, which
// may be the password.
func runPasswordCmd(ctx context.Context, p passwordCmd) (string, error) {
	if p.what == "" {
		p.what, p.noun = "password_cmd", "password"
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("account %s: %w: %s %s", p.account, client.ErrAuth, p.what, fmt.Sprintf(format, args...))
	}
	cmd := exec.Command("sh", "-c", p.command)
	cmd.Stdin = p.stdin
	cmd.Stderr = p.stderr
	// A grandchild that keeps our stdin or stderr must not hold Wait.
	cmd.WaitDelay = passwordCmdExit
	ownProcessGroup(cmd)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", fail("%v", err)
	}
	if err := cmd.Start(); err != nil {
		return "", fail("%v", err)
	}
	type firstLine struct {
		line string
		err  error
	}
	lines := make(chan firstLine, 1)
	go func() {
		br := bufio.NewReader(io.LimitReader(stdout, maxPasswordOutput))
		line, err := br.ReadString('\n')
		if err == io.EOF && line != "" {
			err = nil
		}
		lines <- firstLine{line, err}
		// More output must not block the command on a full pipe.
		io.Copy(io.Discard, stdout)
	}()
	exited := make(chan error, 1)
	stop := func() error {
		killProcessGroup(cmd)
		return <-exited
	}

	limit := time.NewTimer(p.limit)
	defer limit.Stop()
	tell := time.NewTimer(time.Second)
	defer tell.Stop()
	var first firstLine
wait:
	for {
		select {
		case first = <-lines:
			break wait
		case <-tell.C:
			if p.waiting != nil {
				fmt.Fprintf(p.waiting, "duomail: account %s: waiting for %s (up to %v)\n", p.account, p.what, p.limit)
			}
		case <-limit.C:
			go func() { exited <- cmd.Wait() }()
			stop()
			return "", fail("printed no %s within %v (the account's timeout); stopped it", p.noun, p.limit)
		case <-ctx.Done():
			go func() { exited <- cmd.Wait() }()
			stop()
			return "", fmt.Errorf("account %s: %s: %w", p.account, p.what, ctx.Err())
		}
	}
	go func() { exited <- cmd.Wait() }()
	select {
	case err = <-exited:
	case <-time.After(passwordCmdExit):
		// Printed its line and went on running: the line is what we need.
		stop()
		err = nil
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fail("failed (%s)", ee.ProcessState)
		}
		return "", fail("%v", err)
	}
	if first.err != nil && first.err != io.EOF {
		return "", fail("%v", first.err)
	}
	pw := strings.TrimRight(first.line, "\r\n")
	if pw == "" {
		return "", fail("printed no %s", p.noun)
	}
	return pw, nil
}
