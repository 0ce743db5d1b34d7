package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mailcheck"
)

// checkOutputJSON is check --json, with --stats where asked.
type checkOutputJSON struct {
	Checks []client.FolderCheck `json:"checks"`
	Errors []checkError         `json:"errors"`
	Stats  *statsJSON           `json:"stats"`
}

// quietExit runs and requires an exit status without an error message: how
// check says "no new mail".
func (c *cli) quietExit(code int, args ...string) runResult {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code || r.stderr != "" {
		c.t.Fatalf("want exit %d and an empty stderr: %v", code, r)
	}
	return r
}

// configWithAccounts writes a configuration with only some of the accounts of the
// main one, for check --all.
func configWithAccounts(t *testing.T, c *cli, names ...string) string {
	t.Helper()
	main, err := os.ReadFile(filepath.Join(c.config, "duomail", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, block := range strings.Split(string(main), "[accounts.") {
		name, _, _ := strings.Cut(block, "]")
		if slices.Contains(names, name) {
			keep = append(keep, "[accounts."+block)
		}
	}
	path := filepath.Join(c.home, strings.Join(names, "-")+".toml")
	if err := os.WriteFile(path, []byte(strings.Join(keep, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The POP3 check reads UIDL against the cache: no message is downloaded,
// not even its headers.
func TestBinaryCheckPOP3DownloadsNothing(t *testing.T) {
	t.Parallel()
	srv, _, _ := startPOP3Test(t)
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	url := popURL(srv.Port())
	c.ok("--url", url, "check")
	c.quietExit(1, "--url", url, "check")
	srv.Add("alice", plainMessage("one more", "hello"))
	r := c.ok("--url", url, "check", "--json")
	if got := jsonOf[checkOutputJSON](t, r); len(got.Checks) != 1 || got.Checks[0].New != 1 {
		t.Errorf("after one delivery: %s", r.stdout)
	}
	sessions := srv.Sessions()
	if len(sessions) != 3 {
		t.Errorf("%d sessions for 3 checks", len(sessions))
	}
	for i, s := range sessions {
		for _, cmd := range s {
			verb, _, _ := strings.Cut(cmd, " ")
			if verb = strings.ToUpper(verb); verb == "RETR" || verb == "TOP" {
				t.Errorf("session %d sent %q: %q", i, cmd, s)
			}
		}
		if !slices.ContainsFunc(s, func(cmd string) bool { return strings.EqualFold(cmd, "UIDL") }) {
			t.Errorf("session %d did not compare UIDLs: %q", i, s)
		}
	}
}

// check --all works on every account at once: two servers that never
// answer cost one timeout, not two.
func TestBinaryCheckAllConcurrent(t *testing.T) {
	t.Parallel()
	silent := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { conn.Close() })
			}
		}()
		return ln.Addr().(*net.TCPAddr).Port
	}
	srv, _, _ := startPOP3Test(t)
	c := newCLI(t)
	local := func(name, proto string, port int, timeout string) tomlAccount {
		return tomlAccount{Name: name, Protocol: proto, Host: "127.0.0.1", Port: port, TLS: "none", Username: "alice", Password: "secret", Timeout: timeout}
	}
	c.writeConfig(accountsTOML(local("a-silent", "pop3", silent(), "3s"), local("b-silent", "imap", silent(), "3s"), local("c-good", "pop3", srv.Port(), "")))
	binary(t) // built before the clock starts
	start := time.Now()
	r := c.fails(4, "check", "--all")
	elapsed := time.Since(start)
	t.Logf("check --all with two silent servers (3 s timeout each): %v", elapsed)
	if elapsed > 5500*time.Millisecond {
		t.Errorf("took %v: the accounts were not checked at once", elapsed)
	}
	if rows := tsv(r.stdout); len(rows) != 1 || rows[0][0] != "c-good" {
		t.Errorf("the good account is not shown: %v", r)
	}
	for _, name := range []string{"a-silent", "b-silent"} {
		if !strings.Contains(r.stderr, "duomail: "+name+": ") || !strings.Contains(r.stderr, "timed out") {
			t.Errorf("stderr lacks the timeout of %s: %q", name, r.stderr)
		}
	}
}

// testCheckBothProtocols runs check on each account, then on both at once
// after new mail.
func testCheckBothProtocols(t *testing.T, m bothProtocols) {
	d, c, user := m.d, m.c, m.user
	// The first check counts unseen mail as new; the second finds none.
	r := c.ok("-a", "imap", "check", "--json")
	first := jsonOf[checkOutputJSON](t, r)
	if len(first.Checks) != 1 || first.Checks[0].New == 0 || first.Checks[0].New != first.Checks[0].Unseen || len(first.Errors) != 0 {
		t.Fatalf("first check: %s", r.stdout)
	}
	r = c.run("-a", "imap", "check")
	if r.code != 1 || r.stderr != "" {
		t.Fatalf("second check: want exit 1 and nothing on stderr: %v", r)
	}
	row := tsv(r.stdout)
	if len(row) != 1 || row[0][0] != "imap" || row[0][1] != "INBOX" || row[0][2] != fmt.Sprint(first.Checks[0].Total) || row[0][4] != "0" {
		t.Errorf("second check: %q", row)
	}
	st, err := os.Stat(filepath.Join(c.data, "duomail", "imap", mailcheck.StateFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("state file: %v %v", st, err)
	}

	// POP3: the first check sees every message as new (nothing is
	// cached), then none.
	pop := jsonOf[checkOutputJSON](t, c.ok("-a", "pop", "check", "--json"))
	if len(pop.Checks) != 1 || pop.Checks[0].New != pop.Checks[0].Total || pop.Checks[0].Total == 0 {
		t.Fatalf("first POP3 check: %+v", pop)
	}
	c.quietExit(1, "-a", "pop", "check") // no new message: exit 1, and nothing to complain about

	// New mail arrives: both accounts, checked at once, see it.
	d.Deliver(t, user, client.Inbox, plainMessage("Fresh news", "check me"))
	r = c.ok("--config", configWithAccounts(t, c, "imap", "pop"), "check", "--all", "--json", "--stats")
	all := jsonOf[checkOutputJSON](t, r)
	if len(all.Checks) != 2 || all.Checks[0].Account != "imap" || all.Checks[1].Account != "pop" {
		t.Fatalf("check --all: %s", r.stdout)
	}
	for _, ch := range all.Checks {
		if ch.New != 1 || ch.Total != pop.Checks[0].Total+1 {
			t.Errorf("after one delivery: %+v", ch)
		}
	}
	if all.Stats == nil || len(all.Stats.Accounts) != 2 || all.Stats.Protocol != "imap+pop3" {
		t.Errorf("stats %+v", all.Stats)
	}
	c.quietExit(1, "--config", configWithAccounts(t, c, "imap", "pop"), "check", "--all")

	c.fails(2, "check", "--all", "-a", "imap")
	c.fails(2, "check", "-f", "INBOX", "--folders")
}

// testCheckFolders runs check -f and --folders: every IMAP folder, POP3
// only INBOX.
func testCheckFolders(t *testing.T, c *cli) {
	// Archive was never checked: its 3 messages are unseen, so new.
	r := c.ok("-a", "imap", "check", "-f", "Archive", "--json")
	if res := jsonOf[checkOutputJSON](t, r); len(res.Checks) != 1 || res.Checks[0].Folder != "Archive" || res.Checks[0].New != 3 {
		t.Errorf("-f Archive: %s", r.stdout)
	}
	// Every folder: INBOX and Archive are known by now, Sent and Trash
	// are empty: nothing new.
	r = c.quietExit(1, "-a", "imap", "check", "--folders", "--json")
	res := jsonOf[checkOutputJSON](t, r)
	var names []string
	for _, ch := range res.Checks {
		names = append(names, ch.Folder)
		if ch.New != 0 {
			t.Errorf("--folders: %+v", ch)
		}
	}
	for _, want := range []string{"INBOX", "Archive", "Trash", "Sent"} {
		if !slices.Contains(names, want) {
			t.Errorf("--folders checked %v", names)
		}
	}
	pop := jsonOf[checkOutputJSON](t, c.quietExit(1, "-a", "pop", "check", "--folders", "--json"))
	if len(pop.Checks) != 1 || pop.Checks[0].Folder != "INBOX" {
		t.Errorf("POP3 --folders: %+v", pop)
	}
	r = c.fails(5, "-a", "pop", "check", "-f", "Archive")
	if !strings.Contains(r.stderr, "POP3 has no folders") {
		t.Errorf("POP3 -f Archive: %s", r.stderr)
	}
}

// testCheckFailingAccounts runs check and capabilities on accounts that
// cannot log in or connect.
func testCheckFailingAccounts(t *testing.T, c *cli) {
	c.fails(4, "-a", "refused", "capabilities")
	c.fails(4, "-a", "refused", "check")
	r := c.fails(3, "-a", "wrongpw", "check")
	if strings.Contains(r.stderr, "not-the-password") {
		t.Errorf("password in stderr: %s", r.stderr)
	}
	// With --all the others are still checked and shown.
	r = c.fails(4, "check", "--all", "--json")
	all := jsonOf[checkOutputJSON](t, r)
	if len(all.Checks) != 2 || len(all.Errors) != 2 {
		t.Fatalf("check --all with two failing accounts: %v", r)
	}
	// Accounts in the order "accounts" lists them (by name): imap,
	// pop, refused, wrongpw; the first error (refused: 4, not the 3 of
	// wrongpw) decides the status.
	if all.Errors[0].Account != "refused" || all.Errors[1].Account != "wrongpw" {
		t.Errorf("errors %+v", all.Errors)
	}
}
