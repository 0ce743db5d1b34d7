package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client/oauth"
	"github.com/duomail/duomail/client/oauth/oauthtest"
	"github.com/duomail/duomail/client/sourcetest"
)

// requireKeyring skips unless a Secret Service answers on the session bus;
// with DUOMAIL_TEST_KEYRING=1 (set by .ci/run, which starts gnome-keyring
// under dbus-run-session) its absence is a failure instead.
func requireKeyring(t *testing.T) {
	t.Helper()
	err := oauth.ProbeKeyring()
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" && err == nil {
		err = fmt.Errorf("no session bus")
	}
	if err == nil {
		return
	}
	if os.Getenv("DUOMAIL_TEST_KEYRING") == "1" {
		t.Fatalf("DUOMAIL_TEST_KEYRING=1 but the keyring does not answer: %v", err)
	}
	t.Skipf("no Secret Service to test against (%v); .ci/run runs this under dbus-run-session with gnome-keyring", err)
}

// TestBinaryKeyring runs sign-in, mail, status and sign-out with the
// refresh token in a real Secret Service, and a password put there by
// auth set-password.
func TestBinaryKeyring(t *testing.T) {
	requireKeyring(t)
	name := fmt.Sprintf("kr%d", time.Now().UnixNano()%1e9)
	pwName := name + "-pw"
	t.Cleanup(func() {
		oauth.KeyringDelete("oauth2:" + name)
		oauth.KeyringDelete(oauth.PasswordKey(pwName))
	})
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice"})
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{OAuth2IntrospectionURL: idp.IntrospectURL()})
	d.Deliver(t, "alice", "INBOX", sourcetest.SimpleMessage("Kept in the keyring", time.Now()))
	c := newCLI(t)
	for _, k := range []string{"DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"} {
		if v := os.Getenv(k); v != "" {
			c.env[k] = v
		}
	}
	c.writeConfig(accountsTOML(
		tomlAccount{Name: name, Protocol: "imap", Host: d.Host, Port: d.IMAPSPort, Username: "alice", CAFile: d.CAFile,
			Extra: fmt.Sprintf("auth = \"oauth2\"\noauth2_client_id = %q\noauth2_token_url = %q\noauth2_device_url = %q\n",
				idp.ClientID, idp.TokenURL(), idp.DeviceURL())},
		tomlAccount{Name: pwName, Protocol: "pop3", Host: d.Host, Port: d.POP3SPort, Username: "alice", CAFile: d.CAFile,
			Extra: "password_keyring = true\n"},
	))

	u, wait := loginInBackground(t, c, "user_code=", "auth", "login", "-a", name, "--device")
	browse(t, u)
	if r := wait(); r.code != 0 || !strings.Contains(r.stdout, "tokens kept in the keyring (Secret Service)") {
		t.Fatalf("login: %v", r)
	}
	if _, err := os.Stat(filepath.Join(c.data, "duomail", "oauth2.tokens")); !os.IsNotExist(err) {
		t.Errorf("a token file was written beside the keyring: %v", err)
	}
	if r := c.ok("list", "-a", name); !strings.Contains(r.stdout, "Kept in the keyring") {
		t.Errorf("list: %s", r.stdout)
	}
	st := jsonOf[authStatusResult](t, c.ok("auth", "status", "-a", name, "--json"))
	if len(st.Accounts) != 1 || !st.Accounts[0].SignedIn || st.Accounts[0].KeptIn != "system keyring (Secret Service)" {
		t.Errorf("status: %+v", st)
	}
	c.ok("auth", "logout", "-a", name)
	if _, err := oauth.KeyringGet("oauth2:" + name); err != oauth.ErrNoToken {
		t.Errorf("keyring entry after logout: %v", err)
	}

	// A password account reading the keyring: refused before, works after.
	r := c.fails(exitAuth, "list", "-a", pwName)
	if !strings.Contains(r.stderr, "duomail auth set-password -a "+pwName) {
		t.Errorf("no password yet: %s", r.stderr)
	}
	cmd := c.command("--json", "auth", "set-password", "-a", pwName)
	cmd.Stdin = strings.NewReader(sourcetest.Password + "\n")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || strings.Contains(stdout.String()+stderr.String(), sourcetest.Password) {
		t.Fatalf("set-password: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	newSchemaCheck(t, c).output("auth set-password", "", runResult{stdout: stdout.String()})
	if r := c.ok("list", "-a", pwName); !strings.Contains(r.stdout, "Kept in the keyring") {
		t.Errorf("list with the keyring's password: %s", r.stdout)
	}
	acc := jsonOf[accountsResult](t, c.ok("accounts", "--json"))
	from := map[string]string{}
	for _, a := range acc.Accounts {
		from[a.Name] = a.PasswordFrom
	}
	if from[name] != "oauth2 (keyring)" || from[pwName] != "password_keyring" {
		t.Errorf("accounts: %v", from)
	}
}
