package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

func testApp(env map[string]string) *app {
	var stderr strings.Builder
	return newApp(streams{in: strings.NewReader(""), inFd: -1, err: &stderr}, func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	})
}

func TestPasswordSources(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{"WORK_PW": "from-env", "DUOMAIL_PASSWORD": "from-duomail-password"}
	a := testApp(env)
	for _, tc := range []struct {
		ac   AccountConfig
		want string
	}{
		{AccountConfig{Name: "a", Password: "literal"}, "literal"},
		{AccountConfig{Name: "a", PasswordEnv: "WORK_PW"}, "from-env"},
		{AccountConfig{Name: "a", PasswordCmd: "echo from-cmd"}, "from-cmd"},
		{AccountConfig{Name: "a"}, "from-duomail-password"},
	} {
		got, err := a.passwordFunc(&tc.ac)(ctx)
		if err != nil || got != tc.want {
			t.Errorf("%+v: %q, %v", tc.ac, got, err)
		}
	}

	_, err := a.passwordFunc(&AccountConfig{Name: "a", PasswordEnv: "UNSET_PW"})(ctx)
	if !errors.Is(err, client.ErrAuth) || !strings.Contains(err.Error(), "UNSET_PW") {
		t.Errorf("unset password_env: %v", err)
	}
	delete(env, "DUOMAIL_PASSWORD")
	_, err = a.passwordFunc(&AccountConfig{Name: "a"})(ctx)
	if !errors.Is(err, client.ErrAuth) || exitCode(err) != exitAuth || !strings.Contains(err.Error(), "DUOMAIL_PASSWORD") {
		t.Errorf("no password and no terminal: %v", err)
	}
}

func TestPasswordCmd(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ cmd, want string }{
		{`printf 'first\nsecond\n'`, "first"},
		{`printf 'crlf\r\n'`, "crlf"},
		{`printf 'no newline'`, "no newline"},
		{`printf ' spaces kept \n'`, " spaces kept "},
	} {
		got, err := runPasswordCmd(ctx, passwordCmd{account: "a", command: tc.cmd, limit: time.Minute})
		if err != nil || got != tc.want {
			t.Errorf("%s: %q, %v", tc.cmd, got, err)
		}
	}
	for _, cmd := range []string{`echo leaked-secret; exit 3`, `true`, `printf '\n'`} {
		var stderr strings.Builder
		_, err := runPasswordCmd(ctx, passwordCmd{account: "acct", command: cmd, stderr: &stderr, limit: time.Minute})
		if err == nil {
			t.Errorf("%s: no error", cmd)
			continue
		}
		if strings.Contains(err.Error(), "leaked") || !strings.Contains(err.Error(), "acct") || !errors.Is(err, client.ErrAuth) {
			t.Errorf("%s: error %q", cmd, err)
		}
	}
}

// The password is resolved once per run, however often a Source asks.
func TestPasswordResolvedOnce(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	a := testApp(nil)
	pw := a.passwordFunc(&AccountConfig{Name: "a", PasswordCmd: "echo x >> " + count + "; echo pw"})
	for range 3 {
		if got, err := pw(context.Background()); got != "pw" || err != nil {
			t.Fatalf("%q %v", got, err)
		}
	}
	data, _ := os.ReadFile(count)
	if n := strings.Count(string(data), "x"); n != 1 {
		t.Errorf("password_cmd ran %d times", n)
	}
}

const twoAccounts = `
default = "work"

[accounts.work]
protocol = "imap"
host = "imap.example.com"
username = "me@example.com"

[accounts.Home]
protocol = "pop3"
host = "pop.example.com"
username = "me"
`

// Choosing an account: --url, -a / DUOMAIL_ACCOUNT, default, the only one.
func TestAccountChoice(t *testing.T) {
	cfgFile := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(cfgFile, []byte(twoAccounts), 0o600); err != nil {
		t.Fatal(err)
	}
	pick := func(flags globalFlags, accountFlag bool, env map[string]string) (*AccountConfig, error) {
		a := testApp(env)
		a.flags = flags
		a.flags.config = cfgFile
		a.accountFlag = accountFlag
		ac, _, err := a.accountConfig()
		return ac, err
	}
	if ac, err := pick(globalFlags{}, false, nil); err != nil || ac.Name != "work" {
		t.Errorf("default: %v %v", ac, err)
	}
	if ac, err := pick(globalFlags{account: "HOME"}, true, nil); err != nil || ac.Name != "home" {
		t.Errorf("-a HOME: %v %v", ac, err)
	}
	if ac, err := pick(globalFlags{}, false, map[string]string{"DUOMAIL_ACCOUNT": "home"}); err != nil || ac.Name != "home" {
		t.Errorf("DUOMAIL_ACCOUNT: %v %v", ac, err)
	}
	if ac, err := pick(globalFlags{account: "work"}, true, map[string]string{"DUOMAIL_ACCOUNT": "home"}); err != nil || ac.Name != "work" {
		t.Errorf("-a wins over DUOMAIL_ACCOUNT: %v %v", ac, err)
	}
	if _, err := pick(globalFlags{account: "nope"}, true, nil); exitCode(err) != exitUsage || !strings.Contains(err.Error(), "configured: home, work") {
		t.Errorf("unknown account: %v", err)
	}
	if ac, err := pick(globalFlags{url: "imaps://u@h"}, false, nil); err != nil || ac.Host != "h" {
		t.Errorf("--url: %v %v", ac, err)
	}
	if _, err := pick(globalFlags{url: "imaps://u@h", account: "work"}, true, nil); exitCode(err) != exitUsage {
		t.Errorf("--url with -a: %v", err)
	}
}

// password_cmd is bounded: silence costs the limit and exits 3, a command
// that keeps running after its line is not waited for, and cancelling
// ends the wait.
func TestPasswordCmdBounded(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	var told strings.Builder
	_, err := runPasswordCmd(ctx, passwordCmd{account: "a", command: "sleep 100", limit: 1500 * time.Millisecond, waiting: &told})
	if !errors.Is(err, client.ErrAuth) || exitCode(err) != exitAuth || !strings.Contains(err.Error(), "within 1.5s") {
		t.Errorf("silent command: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("silent command with a 1.5s limit took %v", d)
	}
	if !strings.Contains(told.String(), "waiting for password_cmd") {
		t.Errorf("waiting not told: %q", told.String())
	}

	start = time.Now()
	pw, err := runPasswordCmd(ctx, passwordCmd{account: "a", command: "echo s3cret; sleep 100", limit: time.Minute})
	if err != nil || pw != "s3cret" {
		t.Errorf("command that keeps running: %q, %v", pw, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("command that keeps running after its line held us %v", d)
	}

	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = runPasswordCmd(cctx, passwordCmd{account: "a", command: "sleep 100", limit: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("cancelled: %v after %v", err, time.Since(start))
	}
}
