package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// realServer is a real IMAP and POP3 server pair started for a test, as the
// binary tests that run on every such server see it. Where servers differ
// (folder roles, how a POP3 server serves a message) the difference is data
// here, not a test that asks which server it is.
type realServer struct {
	name                                     string
	host                                     string
	imapPort, imapsPort, pop3Port, pop3sPort int // plain (STARTTLS offered) and implicit TLS
	caFile                                   string
	// login is the login name of a harness user ("alice", "bob", or one
	// from addUser).
	login   func(user string) string
	addUser func(t testing.TB) string
	// deliver puts a message into new/ of a user's folder, as a delivery
	// agent would, and returns the file's path; files lists a folder's
	// message files.
	deliver func(t testing.TB, user, folder string, raw []byte) string
	files   func(user, folder string) []string
	log     func() string
	// specialUse: the server marks Trash, Sent and Archive with
	// SPECIAL-USE, so folders shows their roles.
	specialUse bool
	// uidplus: the server names a moved message's new UID (COPYUID), so
	// move can say where it went.
	uidplus bool
	// popServed is what the server sends over POP3 for a message
	// delivered as raw and listed as id.
	popServed func(id string, raw []byte) []byte
}

// realServers are the real server pairs every test of this kind runs on,
// each started lazily by its subtest.
var realServers = []struct {
	name  string
	start func(t *testing.T) realServer
}{
	{"dovecot", func(t *testing.T) realServer {
		// Refused logins are tested; Dovecot's default 2 s pause after
		// each would only slow the tests. (Its per-IP penalty after a
		// failure still delays the second refused login by ~4 s.)
		return dovecotServer(sourcetest.StartDovecot(t, sourcetest.DovecotOptions{Extra: "auth_failure_delay = 0\n"}))
	}},
	{"mailutils", func(t *testing.T) realServer { return mailutilsServer(sourcetest.StartMailutils(t)) }},
}

func dovecotServer(d *sourcetest.Dovecot) realServer {
	return realServer{
		name: "dovecot", host: d.Host, caFile: d.CAFile,
		imapPort: d.IMAPPort, imapsPort: d.IMAPSPort, pop3Port: d.POP3Port, pop3sPort: d.POP3SPort,
		login:      func(user string) string { return user },
		addUser:    d.AddUser,
		deliver:    d.Deliver,
		files:      d.Files,
		log:        d.Log,
		specialUse: true,
		uidplus:    true,
		popServed:  func(_ string, raw []byte) []byte { return raw },
	}
}

func mailutilsServer(m *sourcetest.Mailutils) realServer {
	return realServer{
		name: "mailutils", host: m.Host, caFile: m.CAFile,
		imapPort: m.IMAPPort, imapsPort: m.IMAPSPort, pop3Port: m.POP3Port, pop3sPort: m.POP3SPort,
		login:     m.Login,
		addUser:   m.AddUser,
		deliver:   m.Deliver,
		files:     m.Files,
		log:       m.Log,
		popServed: sourcetest.MailutilsPOP3Served,
	}
}

// TestBinaryListedIDsActLater lists a mailbox that no client has opened
// read-write, with its mail still in new/ where a delivery agent leaves
// it, and then acts by the IDs listed, each a second or more later (a
// server that makes UIDVALIDITY up from the clock for a mailbox it has not
// settled shows it then): fetch, flag, move, delete to Trash and delete
// for good, with more mail arriving meanwhile. The IDs listed first must
// still name the same messages at the end. On a second fresh mailbox, a
// second sync --bodies downloads nothing.
func TestBinaryListedIDsActLater(t *testing.T) {
	t.Parallel()
	for _, srv := range realServers {
		t.Run(srv.name, func(t *testing.T) {
			t.Parallel()
			d := srv.start(t)
			later := func() { time.Sleep(1100 * time.Millisecond) }
			account := func(c *cli, user string) {
				c.env["SERVER_PW"] = sourcetest.Password
				c.writeConfig(accountsTOML(tomlAccount{Name: "imap", Protocol: "imap", Host: d.host, Port: d.imapsPort,
					Username: d.login(user), PasswordEnv: "SERVER_PW", CAFile: d.caFile}))
			}

			t.Run("fetch, flag, move, delete by listed ID", func(t *testing.T) {
				user := d.addUser(t)
				subjects := []string{"fetch me", "flag me", "move me", "trash me", "expunge me", "keep me"}
				for _, s := range subjects {
					d.deliver(t, user, client.Inbox, plainMessage(s, "body of "+s))
				}
				c := newCLI(t)
				account(c, user)
				list := jsonOf[listJSON](t, c.ok("list", "--json"))
				if len(list.Messages) != len(subjects) {
					t.Fatalf("listed %d messages, want %d", len(list.Messages), len(subjects))
				}

				later()
				if r := c.ok("fetch", list.id(t, "fetch me")); !strings.Contains(r.stdout, "body of fetch me") {
					t.Errorf("fetch: %q", r.stdout)
				}
				d.deliver(t, user, client.Inbox, plainMessage("arrived later", "new mail, still in new/"))
				later()
				c.ok("flag", "--add", "flagged", list.id(t, "flag me"))
				later()
				c.ok("move", list.id(t, "move me"), "--to", "Archive")
				later()
				c.ok("delete", list.id(t, "trash me"))
				later()
				c.ok("delete", "--expunge", list.id(t, "expunge me"))

				for folder, want := range map[string]int{client.Inbox: len(subjects) - 3 + 1, "Archive": 1, "Trash": 1} {
					if n := len(d.files(user, folder)); n != want {
						t.Errorf("%s on the server holds %d messages, want %d", folder, n, want)
					}
				}
				after := jsonOf[listJSON](t, c.ok("list", "--json"))
				for _, s := range []string{"fetch me", "flag me", "keep me"} {
					if was, now := list.id(t, s), after.id(t, s); was != now {
						t.Errorf("the ID of %q changed from %s to %s", s, was, now)
					}
				}
				if e := findEnvelope(t, after, "fetch me"); !client.HasFlag(e.Flags, client.FlagSeen) {
					t.Errorf("fetched message not seen on the server: %v", e.Flags)
				}
				if e := findEnvelope(t, after, "flag me"); !client.HasFlag(e.Flags, client.FlagFlagged) {
					t.Errorf("flagged message not flagged on the server: %v", e.Flags)
				}
				findEnvelope(t, jsonOf[listJSON](t, c.ok("list", "-f", "Archive", "--json")), "move me")
				findEnvelope(t, jsonOf[listJSON](t, c.ok("list", "-f", "Trash", "--json")), "trash me")
			})

			t.Run("a message without Date or Message-ID", func(t *testing.T) {
				// Its arrival time is all the identity check has besides
				// its size: the server must give the same one each session.
				user := d.addUser(t)
				d.deliver(t, user, client.Inbox, []byte("From: Someone <someone@example.org>\r\nSubject: undated\r\n\r\nno Date, no Message-ID\r\n"))
				d.deliver(t, user, client.Inbox, []byte("From: Someone <someone@example.org>\r\nSubject: undated too\r\n\r\nnone here either\r\n"))
				c := newCLI(t)
				account(c, user)
				list := jsonOf[listJSON](t, c.ok("list", "--json"))
				later()
				c.ok("flag", "--add", "flagged", list.id(t, "undated"))
				later()
				c.ok("delete", list.id(t, "undated too"))
				if n := len(d.files(user, "Trash")); n != 1 {
					t.Errorf("Trash on the server holds %d messages, want 1", n)
				}
			})

			t.Run("second sync --bodies downloads nothing", func(t *testing.T) {
				user := d.addUser(t)
				const n = 5
				for i := range n {
					d.deliver(t, user, client.Inbox, plainMessage(fmt.Sprintf("sync %d", i), "body"))
				}
				c := newCLI(t)
				account(c, user)
				first := jsonOf[syncResult](t, c.ok("sync", "--bodies", "--json"))
				if len(first.Synced) != 1 || first.Synced[0].Downloaded != n {
					t.Fatalf("first sync: %+v", first.Synced)
				}
				later()
				second := jsonOf[syncResult](t, c.ok("sync", "--bodies", "--json"))
				if len(second.Synced) != 1 || second.Synced[0].Downloaded != 0 || second.Synced[0].OnServer != n {
					t.Errorf("second sync: %+v, want nothing downloaded and %d on the server", second.Synced, n)
				}
				// With the bodies cached, the sizes the identity check
				// compares with the server's RFC822.SIZE were measured
				// from the stored bytes: a change by ID must still go.
				list := jsonOf[listJSON](t, c.ok("list", "--json"))
				c.ok("flag", "--add", "flagged", list.id(t, "sync 1"))
				c.ok("delete", list.id(t, "sync 2"))
				if n := len(d.files(user, "Trash")); n != 1 {
					t.Errorf("Trash on the server holds %d messages, want 1", n)
				}
			})
		})
	}
}
