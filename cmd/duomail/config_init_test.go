package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/config"
	"github.com/duomail/duomail/imapsrc/imaptest"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// initUser is one user's private directories and environment, for
// config init run in this process with answers on stdin.
type initUser struct {
	t    *testing.T
	env  map[string]string
	file string // where the configuration goes
}

func newInitUser(t *testing.T) *initUser {
	dir := t.TempDir()
	u := &initUser{t: t, env: map[string]string{
		"HOME": dir, "XDG_CONFIG_HOME": filepath.Join(dir, "config"), "XDG_DATA_HOME": filepath.Join(dir, "data"),
	}}
	u.file = filepath.Join(dir, "config", "duomail", "config.toml")
	return u
}

func (u *initUser) getenv(k string) (string, bool) { v, ok := u.env[k]; return v, ok }

// run runs duomail with stdin holding the answers, one a line.
func (u *initUser) run(answers []string, args ...string) (code int, stdout, stderr string) {
	u.t.Helper()
	var out, errs strings.Builder
	in := strings.Join(answers, "\n")
	if len(answers) > 0 {
		in += "\n"
	}
	a := newApp(streams{in: strings.NewReader(in), inFd: -1, out: &out, err: &errs}, u.getenv)
	code = a.execute(context.Background(), args)
	return code, out.String(), errs.String()
}

// load reads the written file the way every command does.
func (u *initUser) load() *Config {
	u.t.Helper()
	fi, err := os.Stat(u.file)
	if err != nil {
		u.t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		u.t.Errorf("config mode %v, want 0600", fi.Mode().Perm())
	}
	cfg, err := config.Load(config.Options{File: u.file, Warn: func(m string) { u.t.Errorf("warning: %s", m) }}, u.getenv)
	if err != nil {
		u.t.Fatalf("the written configuration does not load: %v", err)
	}
	return cfg
}

func startInitServers(t *testing.T) (imapPort, popPort int) {
	imapSrv, err := imaptest.Start(imaptest.Options{Users: map[string]string{"alice": "secret"}, InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { imapSrv.Close() })
	popSrv, err := pop3test.Start(pop3test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { popSrv.Close() })
	popSrv.AddUser("alice", "secret")
	return imapSrv.Port(), popSrv.Port()
}

// TestConfigInitAsksAndTestsTheLogin: an unknown domain, answered on
// stdin: protocol (each explained in a line), server, TLS, port, user,
// where the password comes from, name; the login is tried on the
// in-process IMAP server and the file written loads as that account.
// A second init refuses to touch it; --append adds a POP3 account from
// flags alone, its login tried too.
func TestConfigInitAsksAndTestsTheLogin(t *testing.T) {
	imapPort, popPort := startInitServers(t)
	u := newInitUser(t)
	u.env["ALICE_PW"] = "secret"
	code, out, errs := u.run([]string{
		"not an address", "alice@example.org", "", "127.0.0.1", "3", fmt.Sprint(imapPort), "alice", "3", "ALICE_PW", "Bad Name", "",
	}, "config", "init")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		`"not an address" is not an email address`,
		"duomail does not know the servers of example.org",
		imapMeans, pop3Means,
		"IMAP server [imap.example.org]: ",
		"Port [143]: ", // the default follows the TLS mode chosen
		"User name [alice@example.org]: ",
		"Variable [EXAMPLE_MAIL_PASSWORD]: ",
		"Account name [example]: ",
		"account names use lowercase letters",
		fmt.Sprintf("Trying the login to 127.0.0.1:%d (IMAP)", imapPort),
		"Logged in.",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if out != "Wrote "+u.file+"\n" {
		t.Errorf("stdout %q", out)
	}
	cfg := u.load()
	ac := cfg.Accounts["example"]
	if cfg.Default != "example" || ac == nil || ac.Protocol != client.IMAP || ac.Host != "127.0.0.1" || ac.Port != imapPort ||
		ac.TLS != client.TLSNone || ac.Username != "alice" || ac.PasswordEnv != "ALICE_PW" {
		t.Fatalf("loaded %+v (default %q)", ac, cfg.Default)
	}
	// The account works for a command.
	if code, out, errs := u.run(nil, "folders"); code != 0 || !strings.Contains(out, "INBOX") {
		t.Errorf("folders with the written account: exit %d\n%s%s", code, out, errs)
	}

	before, _ := os.ReadFile(u.file)
	code, _, errs = u.run([]string{"bob@example.org"}, "config", "init")
	if code != exitError || !strings.Contains(errs, u.file+" already exists, and config init never overwrites it") {
		t.Errorf("second init: exit %d, %s", code, errs)
	}
	if after, _ := os.ReadFile(u.file); string(after) != string(before) {
		t.Errorf("the existing file changed:\n%s", after)
	}

	// A wrong password: the login fails, nothing is added.
	u.env["WRONG_PW"] = "nope"
	popFlags := []string{"config", "init", "--append", "--yes", "--address", "alice@example.org", "--protocol", "pop3",
		"--host", "127.0.0.1", "--port", fmt.Sprint(popPort), "--tls", "none", "--username", "alice", "--name", "pop"}
	code, out, errs = u.run(nil, append(popFlags, "--password-env", "WRONG_PW")...)
	if code != exitAuth || !strings.Contains(errs, "login test failed, nothing written") {
		t.Errorf("wrong password: exit %d\n%s%s", code, out, errs)
	}
	if after, _ := os.ReadFile(u.file); string(after) != string(before) {
		t.Errorf("a failed login changed the file:\n%s", after)
	}

	code, out, errs = u.run(nil, append(popFlags, "--password-env", "ALICE_PW")...)
	if code != 0 || out != "Added account pop to "+u.file+"\n" {
		t.Fatalf("--append: exit %d\n%s%s", code, out, errs)
	}
	if errs != "" {
		t.Errorf("--yes off a terminal should say nothing: %q", errs)
	}
	cfg = u.load()
	pop := cfg.Accounts["pop"]
	if cfg.Default != "example" || pop == nil || pop.Protocol != client.POP3 || pop.Port != popPort || pop.PasswordEnv != "ALICE_PW" {
		t.Errorf("after --append: %+v (default %q)", pop, cfg.Default)
	}
	after, _ := os.ReadFile(u.file)
	if !strings.HasPrefix(string(after), string(before)) {
		t.Errorf("--append rewrote what was there:\n%s", after)
	}
	// The same name again is refused.
	code, _, errs = u.run(nil, append(popFlags, "--password-env", "ALICE_PW")...)
	if code != exitUsage || !strings.Contains(errs, `already has an account "pop"`) {
		t.Errorf("duplicate name: exit %d, %s", code, errs)
	}
}

// TestConfigInitKnownProviders: a known domain fills in the server and
// says what kind of password it wants; iCloud is not offered POP3;
// Outlook's OAuth2 is said plainly. No login is tried (--no-test).
func TestConfigInitKnownProviders(t *testing.T) {
	u := newInitUser(t)
	code, out, errs := u.run([]string{"me@gmail.com", "2", "", "2", `pass show "mail/gmail"`, ""}, "config", "init", "--no-test")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"Gmail: IMAP imap.gmail.com:993, POP3 pop.gmail.com:995.", "App passwords", "Where does duomail get the app password?"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "Trying the login") || strings.Contains(errs, "server [") || strings.Contains(errs, "Port") {
		t.Errorf("asked for what the provider table knows, or tried the login:\n%s", errs)
	}
	ac := u.load().Accounts["gmail"]
	if ac == nil || ac.Protocol != client.POP3 || ac.Host != "pop.gmail.com" || ac.Port != 995 || ac.TLS != client.TLSImplicit ||
		ac.Username != "me@gmail.com" || ac.PasswordCmd != `pass show "mail/gmail"` {
		t.Errorf("gmail: %+v", ac)
	}
	written, _ := os.ReadFile(u.file)
	if !strings.Contains(string(written), "# Gmail. Gmail wants an app password") {
		t.Errorf("no provider comment:\n%s", written)
	}

	u = newInitUser(t)
	code, out, errs = u.run([]string{"", "1"}, "config", "init", "--no-test", "--address", "me@icloud.com", "--name", "icloud")
	if code != 0 || strings.Contains(errs, pop3Means) || !strings.Contains(errs, "iCloud Mail has IMAP only") {
		t.Fatalf("icloud: exit %d\n%s%s", code, out, errs)
	}
	if ac := u.load().Accounts["icloud"]; ac == nil || ac.Host != "imap.mail.me.com" || ac.PasswordCmd != "" || ac.PasswordEnv != "" {
		t.Errorf("icloud: %+v", ac)
	}

	u = newInitUser(t)
	code, _, errs = u.run(nil, "config", "init", "--no-test", "--yes", "--address", "me@hotmail.com")
	if code != 0 || !strings.Contains(errs, "accepts only OAuth2 sign-in, which duomail does not do yet") {
		t.Errorf("outlook: exit %d\n%s", code, errs)
	}
	if ac := u.load().Accounts["outlook"]; ac == nil || ac.Host != "outlook.office365.com" || ac.Protocol != client.IMAP {
		t.Errorf("outlook: %+v", ac)
	}
	// --tls other than the provider's takes that mode's port.
	u = newInitUser(t)
	if code, _, errs := u.run(nil, "config", "init", "--no-test", "--yes", "--address", "me@posteo.de", "--tls", "starttls"); code != 0 {
		t.Fatalf("posteo: exit %d %s", code, errs)
	}
	if ac := u.load().Accounts["posteo"]; ac == nil || ac.Port != 143 || ac.TLS != client.TLSStartTLS {
		t.Errorf("posteo starttls: %+v", ac)
	}
}

// TestConfigInitMistakes: what cannot be answered is said, and nothing
// is written.
func TestConfigInitMistakes(t *testing.T) {
	for _, c := range []struct {
		answers []string
		args    []string
		code    int
		want    string
	}{
		{nil, []string{"config", "init"}, exitError, "Email address: no answer (end of input); to answer with flags instead, give --address"},
		{nil, []string{"config", "init", "--yes"}, exitUsage, "--yes: Email address has no default; give --address"},
		{nil, []string{"config", "init", "--yes", "--address", "me@example.org"}, exitUsage, "--yes: IMAP server has no default; give --host"},
		{nil, []string{"config", "init", "--yes", "--address", "nope"}, exitUsage, `"nope" is not an email address`},
		{nil, []string{"config", "init", "--yes", "--address", "me@icloud.com", "--protocol", "pop3"}, exitUsage, "iCloud Mail has no POP3 server"},
		{nil, []string{"config", "init", "--password-cmd", "x", "--password-env", "Y"}, exitUsage, "give --password-cmd or --password-env, not both"},
		{nil, []string{"config", "init", "--protocol", "smtp"}, exitUsage, `--protocol "smtp": want "imap" or "pop3"`},
		{nil, []string{"config", "init", "--tls", "ssl"}, exitUsage, `--tls "ssl"`},
		{nil, []string{"config", "init", "--append", "--yes", "--address", "me@gmail.com"}, exitError, "does not exist; leave out --append"},
		{nil, []string{"config", "init", "--yes", "--address", "me@gmail.com", "--name", "Me"}, exitUsage, `account name "Me"`},
	} {
		u := newInitUser(t)
		code, _, errs := u.run(c.answers, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errs, c.code, c.want)
		}
		if _, err := os.Stat(u.file); err == nil {
			t.Errorf("%v: a file was written", c.args)
		}
	}
}

// TestNoAccountPointsToConfigInit: a command that needs an account when
// there is no configuration says how to make one, and asks nothing.
func TestNoAccountPointsToConfigInit(t *testing.T) {
	u := newInitUser(t)
	for _, args := range [][]string{{"list"}, {"check", "--all"}} {
		code, out, errs := u.run([]string{"me@example.org"}, args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, `run "duomail config init" to set one up (it writes `+u.file+")") ||
			strings.Contains(errs, "Email address") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
}

// TestConfigInitAfterAFailedLogin: a login that fails is shown, and the
// user decides: no writes nothing (exit with the failure's status), yes
// writes the account as answered.
func TestConfigInitAfterAFailedLogin(t *testing.T) {
	port := closedPort(t)
	for _, writeAnyway := range []string{"n", "y"} {
		u := newInitUser(t)
		code, out, errs := u.run([]string{"me@example.org", "", "127.0.0.1", "3", fmt.Sprint(port), "", "", "", "maybe", writeAnyway},
			"config", "init")
		if !strings.Contains(errs, "The login failed: connect 127.0.0.1:") || !strings.Contains(errs, "connection refused") {
			t.Errorf("%s: the failure is not shown:\n%s", writeAnyway, errs)
		}
		_, statErr := os.Stat(u.file)
		switch writeAnyway {
		case "n":
			if code != exitNetwork || statErr == nil || !strings.Contains(errs, "config init: nothing written") {
				t.Errorf("no: exit %d, file %v\n%s", code, statErr, errs)
			}
		case "y":
			if code != 0 || out != "Wrote "+u.file+"\n" {
				t.Fatalf("yes: exit %d\n%s%s", code, out, errs)
			}
			if ac := u.load().Accounts["example"]; ac == nil || ac.Port != port || ac.Username != "me@example.org" {
				t.Errorf("yes: %+v", ac)
			}
		}
	}
}
