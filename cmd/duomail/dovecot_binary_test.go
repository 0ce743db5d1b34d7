package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// The binary against each real server pair (Dovecot, GNU Mailutils): IMAP
// with tls none, STARTTLS and implicit TLS (trusting the test CA through
// ca_file), and POP3.
func TestBinaryRealServers(t *testing.T) {
	t.Parallel()
	for _, srv := range realServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			testBinaryRealServer(t, srv.start(t))
		})
	}
}

func testBinaryRealServer(t *testing.T, d realServer) {
	mail := sampleMail()
	files := map[string]string{} // subject -> delivered file (alice)
	for _, m := range mail {
		files[sampleSubject(m)] = d.deliver(t, "alice", m.Folder, m.Raw)
		if m.Folder == client.Inbox {
			d.deliver(t, "bob", client.Inbox, m.Raw)
		}
	}
	inbox := sampleIndex{mail: mail}.inFolder(client.Inbox)
	// A name with a space: GNU Mailutils answers STATUS with it unquoted.
	d.deliver(t, "alice", "Old Mail", plainMessage("old", "kept in a folder whose name has a space"))

	c := newCLI(t)
	c.env["SERVER_PW"] = sourcetest.Password
	imap := func(name string, port int) tomlAccount {
		return tomlAccount{Name: name, Protocol: "imap", Host: d.host, Port: port, Username: d.login("alice"), PasswordEnv: "SERVER_PW", CAFile: d.caFile}
	}
	pop := func(name string, port int) tomlAccount {
		return tomlAccount{Name: name, Protocol: "pop3", Host: d.host, Port: port, Username: d.login("bob"), PasswordEnv: "SERVER_PW", CAFile: d.caFile}
	}
	plain, starttls, implicit, untrusted, wrongpw := imap("plain", d.imapPort), imap("starttls", d.imapPort), imap("implicit", d.imapsPort), imap("untrusted", d.imapsPort), imap("wrongpw", d.imapsPort)
	plain.TLS, plain.CAFile = "none", ""
	starttls.TLS, starttls.PasswordEnv, starttls.PasswordCmd = "starttls", "", "echo "+sourcetest.Password
	implicit.Timeout = "10s"
	untrusted.CAFile = ""
	wrongpw.PasswordEnv, wrongpw.Password = "", "not-the-password"
	popimplicit, popstls, popwrong := pop("pop", d.pop3sPort), pop("popstls", d.pop3Port), pop("popwrong", d.pop3Port)
	popstls.TLS = "starttls"
	popwrong.TLS, popwrong.PasswordEnv, popwrong.Password = "starttls", "", "nope"
	c.writeConfig("default = \"plain\"\n\n" + accountsTOML(plain, starttls, implicit, untrusted, wrongpw, popimplicit, popstls, popwrong))

	for _, acct := range []string{"plain", "starttls", "implicit"} {
		t.Run("folders "+acct, func(t *testing.T) {
			rows := tsv(c.ok("-a", acct, "folders").stdout)
			got := map[string][]string{}
			for _, r := range rows {
				got[r[0]] = r
			}
			if r := got["INBOX"]; r == nil || r[2] != fmt.Sprint(len(inbox)) {
				t.Errorf("INBOX %q in %q", r, rows)
			}
			// By SPECIAL-USE where the server has it, else by name.
			for name, role := range map[string]string{"Trash": "trash", "Sent": "sent", "Archive": "archive"} {
				if r := got[name]; r == nil || r[1] != role {
					t.Errorf("%s row %q", name, r)
				}
			}
			if r := got["Archive"]; r == nil || r[2] != "3" {
				t.Errorf("Archive %q", r)
			}
			if r := got["Old Mail"]; r == nil || r[2] != "1" {
				t.Errorf("Old Mail %q in %q", r, rows)
			}
			if acct != "plain" {
				return
			}
			// Roles a server gives by SPECIAL-USE are not guesses; those
			// found by name on a server without it are marked guessed.
			folders := jsonOf[struct {
				Folders []client.Folder `json:"folders"`
			}](t, c.ok("-a", acct, "folders", "--json")).Folders
			roles := 0
			for _, f := range folders {
				if want := !d.specialUse && f.Role != "" && f.Role != client.RoleInbox; f.RoleGuessed != want {
					t.Errorf("%s: role %q guessed %v, want %v (server SPECIAL-USE: %v)", f.Name, f.Role, f.RoleGuessed, want, d.specialUse)
				}
				if f.Role != "" {
					roles++
				}
			}
			if roles != 4 {
				t.Errorf("%d folders with a role, want INBOX, Trash, Sent, Archive: %+v", roles, folders)
			}
		})
	}

	t.Run("untrusted certificate exits 4", func(t *testing.T) {
		r := c.fails(4, "-a", "untrusted", "folders")
		if !strings.Contains(r.stderr, "unknown authority") || !strings.Contains(r.stderr, "ca_file") {
			t.Errorf("stderr %q", r.stderr)
		}
	})

	t.Run("wrong password exits 3", func(t *testing.T) {
		// With --debug: the trace must not carry the password either.
		for _, acct := range []string{"popwrong", "wrongpw"} {
			r := c.fails(3, "-a", acct, "--debug", "folders")
			if strings.Contains(r.stderr, "not-the-password") || strings.Contains(r.stderr, "nope") {
				t.Errorf("password in stderr: %q", r.stderr)
			}
		}
	})

	list := jsonOf[listJSON](t, c.ok("list", "--json", "--limit", "0"))
	if len(list.Messages) != len(inbox) {
		t.Fatalf("listed %d messages, want %d", len(list.Messages), len(inbox))
	}

	t.Run("list forms", func(t *testing.T) {
		rows := tsv(c.ok("-a", "starttls", "list").stdout)
		if len(rows) != len(inbox) || rows[0][3] != sampleSubject(inbox[len(inbox)-1]) {
			t.Errorf("TSV newest first: %q", rows)
		}
		// Delivered mail is new: all of it is unseen before anything was read.
		if n := len(tsv(c.ok("-a", "implicit", "list", "--unseen").stdout)); n != len(inbox) {
			t.Errorf("--unseen: %d, want %d", n, len(inbox))
		}
	})

	t.Run("fetch --raw is the delivered file", func(t *testing.T) {
		for _, m := range inbox {
			s := sampleSubject(m)
			want, err := os.ReadFile(files[s])
			if err != nil {
				// The server moved it from new/ to cur/ (name with flags).
				matches, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(files[s])), "cur", filepath.Base(files[s])+"*"))
				if len(matches) != 1 {
					t.Fatalf("%s: delivered file gone: %v", s, err)
				}
				want, _ = os.ReadFile(matches[0])
			}
			// A server storing LF line ends sends CRLF.
			want = sourcetest.WireForm(want)
			r := c.ok("-a", "implicit", "fetch", "--peek", "--raw", list.id(t, s))
			if r.stdout != string(want) {
				t.Errorf("%s: --raw differs from the delivered file (%d vs %d bytes)", s, len(r.stdout), len(want))
			}
		}
	})

	t.Run("fetch text, part, attachments", func(t *testing.T) {
		r := c.ok("fetch", list.id(t, "Grüße aus Köln"))
		if !strings.Contains(r.stdout, "Subject: Grüße aus Köln") || !strings.Contains(r.stdout, "viele Grüße aus Köln – bis nächste Woche!") {
			t.Errorf("fetch text:\n%s", r.stdout)
		}
		if r := c.ok("fetch", "--peek", "--part", "2", list.id(t, "Invoice")); r.stdout != samplePDF {
			t.Errorf("--part 2 = %q", r.stdout)
		}
		r = c.ok("-a", "starttls", "fetch", "--peek", "--headers", list.id(t, "Invoice"))
		if !strings.Contains(r.stdout, "Subject: Invoice March 2025\n") {
			t.Errorf("--headers:\n%s", r.stdout)
		}
		dir := t.TempDir()
		c.ok("fetch", "--save-attachments", dir, list.id(t, "Holiday picture"))
		if got, err := os.ReadFile(filepath.Join(dir, "beach.png")); err != nil || !bytes.Equal(got, samplePNG()) {
			t.Errorf("beach.png: %v", err)
		}
	})

	t.Run("seen and flags live on the server", func(t *testing.T) {
		// Fetched above through "plain": seen when listed through "implicit".
		after := jsonOf[listJSON](t, c.ok("-a", "implicit", "list", "--json"))
		for _, s := range []string{"Grüße aus Köln", "Holiday picture"} {
			if e := findEnvelope(t, after, s); !client.HasFlag(e.Flags, client.FlagSeen) {
				t.Errorf("%s not seen: %v", s, e.Flags)
			}
		}
		if e := findEnvelope(t, after, "Invoice"); client.HasFlag(e.Flags, client.FlagSeen) {
			t.Errorf("--peek and --headers marked the invoice seen")
		}
		c.ok("-a", "starttls", "flag", "--add", "flagged", list.id(t, "Invoice"), list.id(t, "Lunch on Friday?"))
		after = jsonOf[listJSON](t, c.ok("-a", "plain", "list", "--json"))
		for _, s := range []string{"Invoice", "Lunch on Friday?"} {
			if e := findEnvelope(t, after, s); !client.HasFlag(e.Flags, client.FlagFlagged) {
				t.Errorf("%s not flagged on the server: %v", s, e.Flags)
			}
		}
	})

	t.Run("move and delete", func(t *testing.T) {
		archived := len(d.files("alice", "Archive"))
		id := list.id(t, "Release notes")
		r := c.ok("-a", "implicit", "move", id, "--to", "Archive")
		if !strings.HasPrefix(r.stdout, "Moved 1 message from INBOX to Archive: "+id+" \"Release notes\" from ") || d.uidplus != strings.HasSuffix(r.stdout, " in Archive).\n") {
			t.Errorf("move: %q", r.stdout)
		}
		if n := len(d.files("alice", "Archive")); n != archived+1 {
			t.Errorf("Archive on the server has %d files, want %d", n, archived+1)
		}
		id = list.id(t, "Spring sale")
		r = c.ok("delete", id)
		if !strings.HasPrefix(r.stdout, "Moved 1 message from INBOX to Trash: "+id+" \"Spring sale") {
			t.Errorf("delete: %q", r.stdout)
		}
		trash := jsonOf[listJSON](t, c.ok("list", "-f", "Trash", "--json"))
		e := findEnvelope(t, trash, "Spring sale")
		c.ok("delete", "-f", "Trash", "--expunge", e.ID)
		if n := len(d.files("alice", "Trash")); n != 0 {
			t.Errorf("Trash keeps %d files after --expunge", n)
		}
		if n := len(d.files("alice", client.Inbox)); n != len(inbox)-2 {
			t.Errorf("INBOX has %d files, want %d", n, len(inbox)-2)
		}
	})

	t.Run("pop3", func(t *testing.T) {
		r := c.ok("-a", "pop", "sync", "--json")
		s := jsonOf[syncResult](t, r)
		if len(s.Synced) != 1 || s.Synced[0].Downloaded != len(inbox) || s.Synced[0].OnServer != len(inbox) {
			t.Fatalf("first sync %s", r.stdout)
		}
		r = c.ok("-a", "pop", "sync", "--json", "--stats")
		s2 := jsonOf[struct {
			syncResult
			Stats statsJSON `json:"stats"`
		}](t, r)
		if s2.Synced[0].Downloaded != 0 || s2.Synced[0].New != 0 || s2.Stats.Commands == 0 {
			t.Errorf("second sync downloaded again: %s", r.stdout)
		}
		// Retention is keep_on_server (the default): the mail stays.
		if n := len(d.files("bob", client.Inbox)); n != len(inbox) {
			t.Errorf("server has %d messages after sync, want %d", n, len(inbox))
		}
		// Over STLS, with a cache of its own: one download, then none.
		for i, want := range []int{len(inbox), 0} {
			r = c.ok("-a", "popstls", "sync", "--json")
			if s3 := jsonOf[syncResult](t, r); s3.Synced[0].Downloaded != want {
				t.Errorf("STLS sync %d: %s", i+1, r.stdout)
			}
		}

		pl := jsonOf[listJSON](t, c.ok("-a", "pop", "list", "--json"))
		m := sampleIndex{mail: mail}.bySubject(t, "Expenses and minutes")
		pid := findEnvelope(t, pl, "Expenses and minutes").ID
		if r := c.ok("-a", "pop", "fetch", "--raw", pid); r.stdout != string(d.popServed(pid, m.Raw)) {
			t.Errorf("POP3 --raw differs")
		}
		r = c.ok("-a", "pop", "flag", pid, "--add", "flagged")
		if !strings.Contains(r.stdout, "local cache only") {
			t.Errorf("flag: %q", r.stdout)
		}
		r = c.fails(5, "-a", "pop", "move", pid, "--to", "Archive")
		if !strings.Contains(r.stderr, "duomail: move: POP3 has no folders") {
			t.Errorf("move: %q", r.stderr)
		}
		r = c.ok("-a", "pop", "delete", pid)
		if !strings.Contains(r.stdout, "on the server and from the local cache") {
			t.Errorf("delete: %q", r.stdout)
		}
		if n := len(d.files("bob", client.Inbox)); n != len(inbox)-1 {
			t.Errorf("server has %d messages after delete, want %d", n, len(inbox)-1)
		}
	})
}

// dovecotBothProtocols starts a Dovecot with the sample mailbox delivered to a user
// and a configuration naming it over IMAPS ("imap") and POP3S ("pop"),
// plus accounts that cannot work: a wrong password and a closed port.
func dovecotBothProtocols(t *testing.T) bothProtocols {
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{Extra: "auth_failure_delay = 0\n"})
	idx := sampleIndex{mail: sampleMail()}
	user := d.AddUser(t)
	for _, m := range idx.mail {
		d.Deliver(t, user, m.Folder, m.Raw)
	}
	closed := closedPort(t)
	c := newCLI(t)
	c.env["DOVECOT_PW"] = sourcetest.Password
	c.writeConfig(accountsTOML(
		tomlAccount{Name: "imap", Protocol: "imap", Host: d.Host, Port: d.IMAPSPort, Username: user, PasswordEnv: "DOVECOT_PW", CAFile: d.CAFile},
		tomlAccount{Name: "pop", Protocol: "pop3", Host: d.Host, Port: d.POP3SPort, Username: user, PasswordEnv: "DOVECOT_PW", CAFile: d.CAFile},
		tomlAccount{Name: "wrongpw", Protocol: "imap", Host: d.Host, Port: d.IMAPSPort, Username: user, Password: "not-the-password", CAFile: d.CAFile},
		tomlAccount{Name: "refused", Protocol: "pop3", Host: "127.0.0.1", Port: closed, TLS: "none", Username: user, Password: "x"},
	))
	return bothProtocols{d: d, c: c, user: user, idx: idx}
}

// bothProtocols is one Dovecot user's mailbox, delivered from the sample
// mail, and a cli configured with it as "imap" and as "pop".
type bothProtocols struct {
	d    *sourcetest.Dovecot
	c    *cli
	user string
	idx  sampleIndex
}

// TestBinaryCapabilitiesCompareCheckDovecot runs capabilities, compare
// and check as the binary against one Dovecot user's mailbox configured
// twice: as an IMAP and as a POP3 account.
func TestBinaryCapabilitiesCompareCheckDovecot(t *testing.T) {
	t.Parallel()
	m := dovecotBothProtocols(t)

	t.Run("capabilities", func(t *testing.T) { testCapabilitiesBothProtocols(t, m.c) })

	t.Run("compare", func(t *testing.T) { testCompareBothProtocols(t, m) })

	t.Run("check", func(t *testing.T) { testCheckBothProtocols(t, m) })

	t.Run("check folders", func(t *testing.T) { testCheckFolders(t, m.c) })

	// Last: after a refused login Dovecot delays every login from the
	// address for a few seconds, which would slow the subtests above.
	t.Run("refused login and closed port", func(t *testing.T) { testCheckFailingAccounts(t, m.c) })
}
