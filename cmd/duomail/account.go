package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"

	"github.com/duomail/duomail/client"
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
		where := defaultPaths(a.getenv).ConfigFile
		if cfg.File != "" {
			where = cfg.File
		}
		return nil, nil, usageErrorf("no account configured: add one to %s, or give --url imaps://user@host", where)
	default:
		return nil, nil, usageErrorf("several accounts are configured: choose one with -a%s, or set default in %s", accountsHint(cfg), cfg.File)
	}
	a.account = ac
	return ac, cfg, nil
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
	return ac.Client(cfg.CacheDir, a.passwordFunc(ac))
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
		return runPasswordCmd(ctx, ac.Name, ac.PasswordCmd, a.io.in, a.io.err)
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

// runPasswordCmd runs the command through "sh -c" and takes the first line
// of its standard output. Its stderr goes to ours (gpg and pass talk
// there) and its stdin is ours (for a pinentry on the terminal). Errors
// never quote its output, which may be the password.
func runPasswordCmd(ctx context.Context, account, command string, stdin io.Reader, stderr io.Writer) (string, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	cmd.Stdin = stdin
	cmd.Stderr = stderr
	var out bytes.Buffer
	cmd.Stdout = &limitWriter{w: &out, n: maxPasswordOutput}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("account %s: %w: password_cmd failed (%s)", account, client.ErrAuth, ee.ProcessState)
		}
		return "", fmt.Errorf("account %s: %w: password_cmd: %v", account, client.ErrAuth, err)
	}
	line, _, _ := bufio.NewReader(&out).ReadLine()
	pw := strings.TrimRight(string(line), "\r")
	if pw == "" {
		return "", fmt.Errorf("account %s: %w: password_cmd printed no password", account, client.ErrAuth)
	}
	return pw, nil
}

type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	k := min(len(p), l.n)
	l.n -= k
	l.w.Write(p[:k])
	return len(p), nil
}
