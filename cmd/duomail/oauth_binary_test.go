package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client/oauth"
	"github.com/duomail/duomail/client/oauth/oauthtest"
	"github.com/duomail/duomail/client/sourcetest"
)

// oauthSetup is one Dovecot that trusts a test identity provider, a user
// with mail in it, and a cli with that user as an IMAP and a POP3 account
// signing in with OAuth2 through the provider (tokens kept in files).
type oauthSetup struct {
	d    *sourcetest.Dovecot
	idp  *oauthtest.Provider
	c    *cli
	user string
}

func newOAuthSetup(t *testing.T, opts oauthtest.Options, mechanisms string) *oauthSetup {
	t.Helper()
	opts.User = "alice"
	idp := oauthtest.Start(t, opts)
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{OAuth2IntrospectionURL: idp.IntrospectURL(), OAuth2Mechanisms: mechanisms})
	d.Deliver(t, "alice", "INBOX", sourcetest.SimpleMessage("Signed in with a token", time.Now()))
	c := newCLI(t)
	provider := fmt.Sprintf("auth = \"oauth2\"\noauth2_provider = \"custom\"\noauth2_client_id = %q\noauth2_auth_url = %q\noauth2_token_url = %q\noauth2_device_url = %q\noauth2_revoke_url = %q\noauth2_scopes = \"mail offline_access\"\noauth2_token_store = \"file\"\n",
		idp.ClientID, idp.AuthURL(), idp.TokenURL(), idp.DeviceURL(), idp.RevokeURL())
	c.writeConfig(accountsTOML(
		tomlAccount{Name: "imap", Protocol: "imap", Host: d.Host, Port: d.IMAPSPort, Username: "alice", CAFile: d.CAFile, Extra: provider},
		tomlAccount{Name: "pop", Protocol: "pop3", Host: d.Host, Port: d.POP3SPort, Username: "alice", CAFile: d.CAFile, Extra: provider},
	))
	return &oauthSetup{d: d, idp: idp, c: c, user: "alice"}
}

// stored reads an account's token file as duomail wrote it.
func (s *oauthSetup) stored(t *testing.T, account string) oauth.Record {
	t.Helper()
	path := filepath.Join(s.c.data, "duomail", "oauth2.tokens", account+".json")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("token file: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("token file mode %v, want 0600", perm)
	}
	data, _ := os.ReadFile(path)
	var r oauth.Record
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// loginInBackground starts "duomail auth login" and returns the URL it
// tells the user to open (the first http URL on stderr that has want in
// it), and a wait for its end.
func loginInBackground(t *testing.T, c *cli, want string, args ...string) (string, func() runResult) {
	t.Helper()
	cmd := c.command(args...)
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	found := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderrPipe)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			stderr.WriteString(line + "\n")
			for _, f := range strings.Fields(strings.Trim(line, "()")) {
				if !sent && strings.HasPrefix(f, "http") && strings.Contains(f, want) {
					found <- f
					sent = true
				}
			}
		}
		close(found)
	}()
	wait := func() runResult {
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		cmd.Wait()
		return runResult{args: args, stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
	}
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatalf("login printed no URL with %q: %v", want, wait())
		}
		return u, wait
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("login printed no URL within 30s: %v", wait())
	}
	return "", nil
}

// browse plays the user's browser: GET the URL and follow the redirects,
// to duomail's loopback listener in the end.
func browse(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestBinaryOAuthSignIn drives the binary through sign-in by code with
// PKCE and by device code, then mail over IMAP and POP3 with the tokens,
// refresh before expiry, a refused access token renewed, a rotated
// refresh token saved, a revoked one ending in exit 3, and sign-out.
func TestBinaryOAuthSignIn(t *testing.T) {
	t.Parallel()
	s := newOAuthSetup(t, oauthtest.Options{Rotate: true}, "")
	c := s.c
	schemas := newSchemaCheck(t, c)

	t.Run("not signed in", func(t *testing.T) {
		r := c.fails(exitAuth, "list", "-a", "imap")
		if !strings.Contains(r.stderr, "not signed in; run `duomail auth login -a imap`") {
			t.Errorf("stderr: %s", r.stderr)
		}
	})

	t.Run("login by code with PKCE", func(t *testing.T) {
		u, wait := loginInBackground(t, c, "/authorize", "auth", "login", "-a", "imap", "--no-browser")
		if !strings.Contains(u, "code_challenge_method=S256") || !strings.Contains(u, "redirect_uri=http%3A%2F%2F127.0.0.1%3A") {
			t.Errorf("authorization URL %s lacks PKCE S256 or the loopback redirect", u)
		}
		page := browse(t, u)
		r := wait()
		if r.code != 0 || !strings.Contains(page, "Signed in") {
			t.Fatalf("login: page %q; %v", page, r)
		}
		if !strings.Contains(r.stdout, "Signed in account imap (custom); tokens kept in the file ") {
			t.Errorf("stdout: %s", r.stdout)
		}
		if n := s.idp.Counts().CodeGrants; n != 1 {
			t.Errorf("%d code grants, want 1", n)
		}
		if rec := s.stored(t, "imap"); rec.RefreshToken == "" || rec.AccessToken == "" {
			t.Errorf("stored record lacks tokens: refresh %v, access %v", rec.RefreshToken != "", rec.AccessToken != "")
		}
	})

	t.Run("login by device code", func(t *testing.T) {
		u, wait := loginInBackground(t, c, "user_code=", "--json", "auth", "login", "-a", "pop", "--device")
		if page := browse(t, u); !strings.Contains(page, "approved") {
			t.Fatalf("approval page: %q", page)
		}
		r := wait()
		if r.code != 0 {
			t.Fatalf("device login: %v", r)
		}
		schemas.output("auth login", "", r)
		if res := jsonOf[authLoginResult](t, r); res.Account != "pop" || res.Expiry == nil || !strings.HasPrefix(res.KeptIn, "file ") {
			t.Errorf("login JSON: %s", r.stdout)
		}
		if n := s.idp.Counts().DeviceGrants; n != 1 {
			t.Errorf("%d device grants, want 1", n)
		}
	})

	t.Run("mail over IMAP and POP3 with the token", func(t *testing.T) {
		before := s.idp.Counts()
		for _, acct := range []string{"imap", "pop"} {
			r := c.ok("list", "-a", acct)
			if !strings.Contains(r.stdout, "Signed in with a token") {
				t.Errorf("%s: list: %s", acct, r.stdout)
			}
		}
		after := s.idp.Counts()
		if after.Refreshes != before.Refreshes {
			t.Errorf("%d refreshes while the access tokens were fresh", after.Refreshes-before.Refreshes)
		}
		caps := jsonOf[struct {
			OAuth    []string `json:"oauth_mechanisms"`
			OAuthUse string   `json:"oauth_mechanism"`
		}](t, c.ok("capabilities", "-a", "pop", "--json"))
		if caps.OAuthUse != "OAUTHBEARER" || strings.Join(caps.OAuth, " ") != "OAUTHBEARER XOAUTH2" {
			t.Errorf("capabilities: %+v", caps)
		}
		c.ok("compare", "imap", "pop")
	})

	t.Run("status shows no token", func(t *testing.T) {
		r := schemas.run("", 0, "auth", "status")
		st := jsonOf[authStatusResult](t, r)
		if len(st.Accounts) != 2 || !st.Accounts[0].SignedIn || !st.Accounts[1].SignedIn || st.Accounts[0].Expiry == nil ||
			!strings.HasSuffix(st.Accounts[0].KeptIn, filepath.Join("oauth2.tokens", "imap.json")) ||
			strings.Join(st.Accounts[0].Scopes, " ") != "mail offline_access" {
			t.Errorf("status: %s", r.stdout)
		}
		rec := s.stored(t, "imap")
		if strings.Contains(r.stdout, rec.AccessToken) || strings.Contains(r.stdout, rec.RefreshToken) {
			t.Errorf("status shows a token: %s", r.stdout)
		}
	})

	t.Run("debug shows no token", func(t *testing.T) {
		for _, acct := range []string{"imap", "pop"} {
			r := c.ok("list", "-a", acct, "--debug")
			rec := s.stored(t, acct)
			if !strings.Contains(r.stderr, "OAUTHBEARER [redacted]") {
				t.Errorf("%s: trace lacks the redacted AUTHENTICATE/AUTH:\n%s", acct, r.stderr)
			}
			for _, secret := range []string{rec.AccessToken, rec.RefreshToken, "at-", "rt-"} {
				if strings.Contains(r.stderr, secret) {
					t.Errorf("%s: --debug shows a token:\n%s", acct, r.stderr)
				}
			}
		}
	})

	t.Run("access token refreshed before it expires, rotated refresh token saved", func(t *testing.T) {
		// Access tokens that live a minute are within duomail's margin.
		// The stored one is made such a token (refused, so renewed), and
		// from then on every run refreshes before it connects.
		s.idp.SetAccessTTL(time.Minute)
		s.idp.ExpireAccessTokens()
		c.ok("list", "-a", "imap")
		old := s.stored(t, "imap")
		if time.Until(old.Expiry) > 2*time.Minute {
			t.Fatalf("stored access token expires at %v, not within a minute", old.Expiry)
		}
		before := s.idp.Counts()
		c.ok("list", "-a", "imap")
		after := s.idp.Counts()
		if after.Refreshes != before.Refreshes+1 {
			t.Errorf("%d refreshes, want 1", after.Refreshes-before.Refreshes)
		}
		if n := after.Introspections - before.Introspections; n != 1 {
			t.Errorf("the server was shown %d tokens, want 1 (the refreshed one, never the old)", n)
		}
		rec := s.stored(t, "imap")
		if rec.RefreshToken == old.RefreshToken || rec.AccessToken == old.AccessToken {
			t.Error("the rotated refresh token or the new access token was not saved")
		}
		// The old refresh token is void now; the saved one works.
		c.ok("list", "-a", "imap")
		s.idp.SetAccessTTL(time.Hour)
	})

	t.Run("refused access token renewed once", func(t *testing.T) {
		c.ok("list", "-a", "pop") // a fresh hour-long token in store
		s.idp.ExpireAccessTokens()
		before := s.idp.Counts()
		r := c.ok("list", "-a", "pop")
		after := s.idp.Counts()
		if !strings.Contains(r.stdout, "Signed in with a token") {
			t.Errorf("list: %s", r.stdout)
		}
		if after.Refreshes != before.Refreshes+1 || after.Introspections != before.Introspections+2 {
			t.Errorf("refreshes +%d, introspections +%d; want +1 and +2 (the refused token, then the renewed one)",
				after.Refreshes-before.Refreshes, after.Introspections-before.Introspections)
		}
	})

	t.Run("revoked refresh token exits 3", func(t *testing.T) {
		s.idp.RevokeAll()
		r := c.fails(exitAuth, "list", "-a", "imap")
		msg, _ := oneLineError(r)
		if !strings.Contains(msg, "invalid_grant") || !strings.Contains(msg, "run `duomail auth login -a imap`") {
			t.Errorf("message %q", msg)
		}
		rec := s.stored(t, "imap")
		if strings.Contains(r.stderr, rec.RefreshToken) {
			t.Errorf("the error shows the refresh token: %s", r.stderr)
		}
	})

	t.Run("logout revokes and forgets", func(t *testing.T) {
		u, wait := loginInBackground(t, c, "/authorize", "auth", "login", "-a", "imap", "--no-browser")
		browse(t, u)
		if r := wait(); r.code != 0 {
			t.Fatalf("login again: %v", r)
		}
		rt := s.stored(t, "imap").RefreshToken
		before := s.idp.Counts().Revocations
		r := schemas.run("", 0, "auth", "logout", "-a", "imap")
		if res := jsonOf[authLogoutResult](t, r); !res.Forgotten || !res.Revoked || s.idp.Counts().Revocations != before+1 {
			t.Errorf("logout: %v", r)
		}
		if _, err := os.Stat(filepath.Join(c.data, "duomail", "oauth2.tokens", "imap.json")); !os.IsNotExist(err) {
			t.Errorf("token file still there: %v", err)
		}
		if strings.Contains(r.stdout+r.stderr, rt) {
			t.Error("logout shows the token")
		}
		r = c.ok("auth", "status", "-a", "imap")
		if !strings.Contains(r.stdout, "not signed in") {
			t.Errorf("status after logout: %s", r.stdout)
		}
		c.fails(exitAuth, "list", "-a", "imap")
	})

	t.Run("no token in the cache", func(t *testing.T) {
		filepath.Walk(filepath.Join(c.data, "duomail"), func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || strings.Contains(p, "oauth2.tokens") {
				return nil
			}
			data, _ := os.ReadFile(p)
			if strings.Contains(string(data), "at-") || strings.Contains(string(data), "rt-") {
				t.Errorf("%s holds something like a token", p)
			}
			return nil
		})
	})
}

// TestBinaryOAuthTokenCmd: an external broker's token, on both protocols;
// XOAUTH2 where it is the only mechanism; the broker asked again when the
// server refused what it printed first.
func TestBinaryOAuthTokenCmd(t *testing.T) {
	t.Parallel()
	s := newOAuthSetup(t, oauthtest.Options{}, "xoauth2")
	c := s.c
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(s.idp.IssueAccessToken("alice")+"\n"), 0o600)
	stale := filepath.Join(dir, "stale")
	os.WriteFile(stale, []byte("at-stale\n"), 0o600)
	marker := filepath.Join(dir, "asked")
	// The first run of the broker prints a stale token, later ones a good one.
	broker := fmt.Sprintf("if [ -e %s ]; then cat %s; else touch %s; cat %s; fi", marker, good, marker, stale)
	c.writeConfig(accountsTOML(
		tomlAccount{Name: "imap", Protocol: "imap", Host: s.d.Host, Port: s.d.IMAPSPort, Username: "alice", CAFile: s.d.CAFile,
			Extra: fmt.Sprintf("auth = \"oauth2\"\noauth2_token_cmd = %q\n", "cat "+good)},
		tomlAccount{Name: "pop", Protocol: "pop3", Host: s.d.Host, Port: s.d.POP3SPort, Username: "alice", CAFile: s.d.CAFile,
			Extra: fmt.Sprintf("auth = \"oauth2\"\noauth2_token_cmd = %q\n", broker)},
	))
	r := c.ok("list", "-a", "imap", "--debug")
	if !strings.Contains(r.stdout, "Signed in with a token") || !strings.Contains(r.stderr, "AUTHENTICATE XOAUTH2 [redacted]") {
		t.Errorf("imap: %v", r)
	}
	r = c.ok("list", "-a", "pop", "--debug")
	if !strings.Contains(r.stdout, "Signed in with a token") || strings.Count(r.stderr, "C: AUTH XOAUTH2 [redacted]") != 2 {
		t.Errorf("pop: want two AUTH XOAUTH2, the second with the broker's new token: %v", r)
	}
	if strings.Contains(r.stderr, "at-") {
		t.Errorf("--debug shows a token: %s", r.stderr)
	}
	acc := jsonOf[accountsResult](t, c.ok("accounts", "--json"))
	if acc.Accounts[0].PasswordFrom != "oauth2_token_cmd" {
		t.Errorf("accounts: %+v", acc.Accounts)
	}
	r = c.fails(exitUsage, "auth", "login", "-a", "imap")
	if !strings.Contains(r.stderr, "oauth2_token_cmd") {
		t.Errorf("login with a broker: %s", r.stderr)
	}
}

// TestBinaryOAuthServerWithoutMechanism: a server that offers neither
// OAUTHBEARER nor XOAUTH2 ends the command with exit 5 and says why.
func TestBinaryOAuthServerWithoutMechanism(t *testing.T) {
	t.Parallel()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	c := newCLI(t)
	c.writeConfig(accountsTOML(
		tomlAccount{Name: "imap", Protocol: "imap", Host: d.Host, Port: d.IMAPSPort, Username: "alice", CAFile: d.CAFile,
			Extra: "auth = \"oauth2\"\noauth2_token_cmd = \"echo at-unused\"\n"},
		tomlAccount{Name: "pop", Protocol: "pop3", Host: d.Host, Port: d.POP3SPort, Username: "alice", CAFile: d.CAFile,
			Extra: "auth = \"oauth2\"\noauth2_token_cmd = \"echo at-unused\"\n"},
	))
	for _, acct := range []string{"imap", "pop"} {
		r := c.fails(exitUnsupported, "list", "-a", acct)
		msg, _ := oneLineError(r)
		if !strings.Contains(msg, "neither OAUTHBEARER nor XOAUTH2") || !strings.Contains(msg, "PLAIN") {
			t.Errorf("%s: %q", acct, msg)
		}
	}
	c.env["DUOMAIL_PASSWORD"] = sourcetest.Password
	caps := jsonOf[struct {
		OAuthUse string `json:"oauth_mechanism"`
	}](t, c.ok("capabilities", "--url", fmt.Sprintf("imaps://alice@%s:%d?ca_file=%s", d.Host, d.IMAPSPort, d.CAFile), "--json"))
	if caps.OAuthUse != "" {
		t.Errorf("capabilities names %q", caps.OAuthUse)
	}
}

// TestBinaryOAuthNoKeyring: with the keyring as the store and no keyring
// to reach, sign-in stops before the browser with the cure, and nothing
// is written in plaintext.
func TestBinaryOAuthNoKeyring(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.env["DBUS_SESSION_BUS_ADDRESS"] = "unix:path=" + filepath.Join(c.home, "no-bus")
	c.writeConfig(accountsTOML(tomlAccount{Name: "work", Protocol: "imap", Host: "127.0.0.1", Username: "alice",
		Extra: "auth = \"oauth2\"\noauth2_provider = \"microsoft\"\noauth2_client_id = \"00000000-0000-0000-0000-000000000000\"\n"}))
	r := c.run("auth", "login", "--no-browser")
	if r.code == 0 || !strings.Contains(r.stderr, "no system keyring is reachable") || !strings.Contains(r.stderr, `oauth2_token_store = "file"`) {
		t.Errorf("login without a keyring: %v", r)
	}
	if strings.Contains(r.stderr, "login.microsoftonline.com") {
		t.Errorf("the sign-in started without a place for the token: %s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(c.data, "duomail", "oauth2.tokens")); !os.IsNotExist(err) {
		t.Errorf("a token directory was made: %v", err)
	}
	acc := jsonOf[accountsResult](t, c.ok("accounts", "--json"))
	if acc.Accounts[0].PasswordFrom != "oauth2 (keyring)" {
		t.Errorf("accounts: %+v", acc.Accounts)
	}
}
