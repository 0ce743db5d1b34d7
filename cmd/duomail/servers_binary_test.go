package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/imapsrc/imaptest"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// The sample mailbox is delivered to in-process servers (imaptest,
// pop3test) and the binary is pointed at them with --url.

func (s sampleIndex) bySubject(t *testing.T, prefix string) sampleMessage {
	t.Helper()
	for _, m := range s.mail {
		if strings.HasPrefix(sampleSubject(m), prefix) {
			return m
		}
	}
	t.Fatalf("no sample message %q", prefix)
	return sampleMessage{}
}

func startIMAPTest(t *testing.T) (*imaptest.Server, sampleIndex) {
	t.Helper()
	srv, err := imaptest.Start(imaptest.Options{InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	idx := sampleIndex{mail: sampleMail()}
	for _, m := range idx.mail {
		var flags []string
		if m.Seen {
			flags = []string{`\Seen`}
		}
		if err := srv.Append("alice", m.Folder, m.Raw, flags, m.Date); err != nil {
			t.Fatal(err)
		}
	}
	return srv, idx
}

func startPOP3Test(t *testing.T) (*pop3test.Server, sampleIndex, map[string]string) {
	t.Helper()
	srv, err := pop3test.Start(pop3test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.AddUser("alice", "secret")
	idx := sampleIndex{mail: sampleMail()}
	uidls := map[string]string{} // subject -> UIDL
	for _, m := range idx.inFolder(client.Inbox) {
		uidls[sampleSubject(m)] = srv.Add("alice", m.Raw)
	}
	return srv, idx, uidls
}

func imapURL(port int) string { return fmt.Sprintf("imap://alice@127.0.0.1:%d?tls=none", port) }

func popURL(port int) string { return fmt.Sprintf("pop3://alice@127.0.0.1:%d?tls=none", port) }

// listJSON is the --json shape of list.
type listJSON struct {
	Folder   string            `json:"folder"`
	Messages []client.Envelope `json:"messages"`
	Stats    *statsJSON        `json:"stats"`
}

func findEnvelope(t *testing.T, l listJSON, subjectPrefix string) client.Envelope {
	t.Helper()
	for _, e := range l.Messages {
		if strings.HasPrefix(e.Subject, subjectPrefix) {
			return e
		}
	}
	t.Fatalf("no message %q in %s listing", subjectPrefix, l.Folder)
	return client.Envelope{}
}

// id is the ID of the message whose subject starts with prefix.
func (l listJSON) id(t *testing.T, prefix string) string {
	t.Helper()
	return findEnvelope(t, l, prefix).ID
}

func TestBinaryIMAP(t *testing.T) {
	t.Parallel()
	srv, idx := startIMAPTest(t)
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	url := imapURL(srv.Port())
	inbox := idx.inFolder(client.Inbox)

	t.Run("folders", func(t *testing.T) {
		rows := tsv(c.ok("--url", url, "folders").stdout)
		got := map[string][]string{}
		for _, r := range rows {
			if len(r) != 4 {
				t.Fatalf("folder row %q: want 4 fields", r)
			}
			got[r[0]] = r
		}
		unseen := 0
		for _, m := range inbox {
			if !m.Seen {
				unseen++
			}
		}
		if r := got["INBOX"]; r == nil || r[2] != fmt.Sprint(len(inbox)) || r[3] != fmt.Sprint(unseen) {
			t.Errorf("INBOX row %q, want total %d unseen %d", r, len(inbox), unseen)
		}
		if r := got["Trash"]; r == nil || r[1] != "trash" {
			t.Errorf("Trash row %q, want role trash", r)
		}
		if r := got["Archive"]; r == nil || r[2] != "3" {
			t.Errorf("Archive row %q", r)
		}
		f := jsonOf[struct {
			Folders []client.Folder `json:"folders"`
		}](t, c.ok("--url", url, "folders", "--json"))
		if len(f.Folders) != len(rows) {
			t.Errorf("JSON has %d folders, TSV %d", len(f.Folders), len(rows))
		}
	})

	t.Run("debug trace redacts the password", func(t *testing.T) {
		r := c.ok("--url", url, "--debug", "folders")
		if !strings.Contains(r.stderr, "[redacted]") || strings.Contains(r.stderr, "secret") {
			t.Errorf("--debug stderr:\n%s", r.stderr)
		}
		if strings.Contains(r.stdout, "[redacted]") {
			t.Errorf("trace on stdout")
		}
	})

	t.Run("list TSV", func(t *testing.T) {
		rows := tsv(c.ok("--url", url, "list").stdout)
		if len(rows) != len(inbox) {
			t.Fatalf("%d rows, want %d", len(rows), len(inbox))
		}
		// Newest first: the last delivered comes first.
		if want := sampleSubject(inbox[len(inbox)-1]); rows[0][3] != want {
			t.Errorf("first row subject %q, want %q", rows[0][3], want)
		}
		for _, r := range rows {
			if len(r) != 6 {
				t.Fatalf("row %q: want id, date, from, subject, size, flags", r)
			}
			if strings.ContainsAny(strings.Join(r, ""), "\x1b\x07\r\n") {
				t.Errorf("control character in row %q", r)
			}
		}
		hostile := idx.bySubject(t, "Totally normal")
		for _, r := range rows {
			if strings.HasPrefix(r[3], "Totally normal") {
				if r[3] != "Totally normal subject red" {
					t.Errorf("hostile subject shown as %q", r[3])
				}
				if r[1] != hostile.Date.Format("2006-01-02T15:04:05Z07:00") {
					t.Errorf("date %q, want RFC 3339 %s", r[1], hostile.Date)
				}
				if strings.Contains(r[5], "seen") {
					t.Errorf("unseen message flags %q", r[5])
				}
			}
			if strings.HasPrefix(r[3], "Invoice") && !strings.Contains(r[5], "attachment") {
				t.Errorf("invoice flags %q lack attachment", r[5])
			}
		}
		if n := len(tsv(c.ok("--url", url, "list", "--limit", "3").stdout)); n != 3 {
			t.Errorf("--limit 3 gave %d rows", n)
		}
		if n := len(tsv(c.ok("--url", url, "list", "-f", "Archive").stdout)); n != 3 {
			t.Errorf("Archive has %d rows, want 3", n)
		}
		unseen := tsv(c.ok("--url", url, "list", "--unseen").stdout)
		for _, r := range unseen {
			if strings.Contains(r[5], "seen") {
				t.Errorf("--unseen lists a seen message: %q", r)
			}
		}
		if len(unseen) == 0 || len(unseen) >= len(inbox) {
			t.Errorf("--unseen gave %d of %d", len(unseen), len(inbox))
		}
	})

	t.Run("list JSON with stats", func(t *testing.T) {
		r := c.ok("--url", url, "list", "--json", "--stats")
		l := jsonOf[listJSON](t, r)
		if l.Folder != "INBOX" || len(l.Messages) != len(inbox) {
			t.Fatalf("folder %q, %d messages", l.Folder, len(l.Messages))
		}
		e := findEnvelope(t, l, "Grüße aus Köln")
		if e.From != "Jürgen Müller <juergen@example.de>" || e.Folder != "INBOX" || e.ID == "" || e.Size == 0 {
			t.Errorf("envelope %+v", e)
		}
		if l.Stats == nil || l.Stats.Protocol != "imap" || l.Stats.Commands == 0 || l.Stats.Received == 0 {
			t.Errorf("stats %+v", l.Stats)
		}
		if !strings.Contains(r.stderr, "IMAP: ") || !strings.Contains(r.stderr, " commands, ") {
			t.Errorf("stats line missing from stderr: %q", r.stderr)
		}
		if !strings.Contains(r.stdout, `"to":[`) || strings.Contains(r.stdout, `"flags":null`) {
			t.Errorf("lists must be arrays: %s", r.stdout)
		}
	})

	list := jsonOf[listJSON](t, c.ok("--url", url, "list", "--json"))

	t.Run("fetch text marks seen", func(t *testing.T) {
		lunch := list.id(t, "Lunch on Friday?")
		r := c.ok("--url", url, "fetch", lunch)
		for _, want := range []string{"From:    Team <team@example.com>", "Subject: Lunch on Friday?", "Pizza or sushi? Reply by Thursday.\n"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("fetch output lacks %q:\n%s", want, r.stdout)
			}
		}
		after := jsonOf[listJSON](t, c.ok("--url", url, "list", "--json"))
		if e := findEnvelope(t, after, "Lunch on Friday?"); !client.HasFlag(e.Flags, client.FlagSeen) {
			t.Errorf("fetched message not seen on the server: %v", e.Flags)
		}
	})

	t.Run("fetch --peek keeps unseen", func(t *testing.T) {
		c.ok("--url", url, "fetch", "--peek", list.id(t, "Spring sale"))
		c.ok("--url", url, "fetch", "--headers", list.id(t, "Holiday picture"))
		after := jsonOf[listJSON](t, c.ok("--url", url, "list", "--json"))
		for _, s := range []string{"Spring sale", "Holiday picture"} {
			if e := findEnvelope(t, after, s); client.HasFlag(e.Flags, client.FlagSeen) {
				t.Errorf("%s marked seen", s)
			}
		}
	})

	t.Run("fetch HTML-only and charsets", func(t *testing.T) {
		r := c.ok("--url", url, "fetch", "--peek", list.id(t, "Spring sale"))
		if !strings.Contains(r.stdout, "Spring sale") || !strings.Contains(r.stdout, "20% off") || strings.Contains(r.stdout, "<h1>") {
			t.Errorf("HTML not rendered as text:\n%s", r.stdout)
		}
		r = c.ok("--url", url, "fetch", "--peek", list.id(t, "Café à Paris"))
		if !strings.Contains(r.stdout, "Rendez-vous au café à midi ? Ça te va ?") {
			t.Errorf("ISO-8859-1 body not converted:\n%s", r.stdout)
		}
		r = c.ok("--url", url, "fetch", "--peek", list.id(t, "日本語の件名です"))
		if !strings.Contains(r.stdout, "来週の会議の資料を送ります。") || !strings.Contains(r.stdout, "Subject: 日本語の件名です") {
			t.Errorf("UTF-8 message:\n%s", r.stdout)
		}
	})

	t.Run("fetch sanitises", func(t *testing.T) {
		r := c.ok("--url", url, "fetch", "--peek", list.id(t, "Totally normal"))
		if strings.ContainsAny(r.stdout, "\x1b\x07\r") {
			t.Errorf("control characters reached stdout: %q", r.stdout)
		}
		if !strings.Contains(r.stdout, "(and this line tried to clear the screen)") {
			t.Errorf("text lost: %q", r.stdout)
		}
		raw := c.ok("--url", url, "fetch", "--peek", "--raw", list.id(t, "Totally normal"))
		if want := idx.bySubject(t, "Totally normal").Raw; raw.stdout != string(want) {
			t.Errorf("--raw is not byte-exact")
		}
	})

	t.Run("fetch --headers", func(t *testing.T) {
		r := c.ok("--url", url, "fetch", "--headers", list.id(t, "Welcome"))
		if !strings.Contains(r.stdout, "Message-ID: <sample-") || !strings.Contains(r.stdout, "MIME-Version: 1.0\n") || strings.Contains(r.stdout, "\r") {
			t.Errorf("--headers output:\n%q", r.stdout)
		}
		if strings.Contains(r.stdout, "Hello!") {
			t.Errorf("--headers shows the body")
		}
	})

	t.Run("fetch --raw byte-exact", func(t *testing.T) {
		for _, m := range inbox {
			r := c.ok("--url", url, "fetch", "--peek", "--raw", list.id(t, sampleSubject(m)))
			if r.stdout != string(m.Raw) {
				t.Errorf("%s: --raw differs from the delivered message (%d vs %d bytes)", sampleSubject(m), len(r.stdout), len(m.Raw))
			}
		}
	})

	t.Run("fetch --part", func(t *testing.T) {
		inv := list.id(t, "Invoice March 2025")
		if r := c.ok("--url", url, "fetch", "--peek", "--part", "2", inv); r.stdout != samplePDF {
			t.Errorf("--part 2 = %q, want the PDF bytes", r.stdout)
		}
		if r := c.ok("--url", url, "fetch", "--peek", "--part", "1", inv); r.stdout != "Please find the invoice attached.\n" {
			t.Errorf("--part 1 = %q", r.stdout)
		}
		r := c.fails(1, "--url", url, "fetch", "--peek", "--part", "7", inv)
		if !strings.Contains(r.stderr, "part 7") {
			t.Errorf("missing part: %q", r.stderr)
		}
		c.fails(2, "--url", url, "fetch", "--part", "1..2", inv)
	})

	t.Run("fetch --save-attachments", func(t *testing.T) {
		m := idx.bySubject(t, "Expenses and minutes")
		dir := filepath.Join(t.TempDir(), "att")
		r := c.ok("--url", url, "fetch", "--peek", "--save-attachments", dir, list.id(t, "Expenses and minutes"))
		rows := tsv(r.stdout)
		if len(rows) != 2 {
			t.Fatalf("want 2 saved rows: %v", r)
		}
		for name, want := range m.Attachments {
			got, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: %q, %v", name, got, err)
			}
			if !strings.Contains(r.stdout, filepath.Join(dir, name)) {
				t.Errorf("output does not say where %s went: %s", name, r.stdout)
			}
		}
		// Saved again: the same files are there, which is no failure.
		r = c.ok("--url", url, "fetch", "--peek", "--save-attachments", dir, list.id(t, "Expenses and minutes"))
		if rows := tsv(r.stdout); len(rows) != 2 || rows[0][2] != "identical" || rows[1][2] != "identical" {
			t.Errorf("second save: %v", r)
		}
		os.WriteFile(filepath.Join(dir, "minutes.txt"), []byte("mine"), 0o600)
		r = c.ok("--url", url, "fetch", "--peek", "--save-attachments", dir, list.id(t, "Expenses and minutes"))
		if got, _ := os.ReadFile(filepath.Join(dir, "minutes.txt")); string(got) != "mine" {
			t.Errorf("existing file replaced without --force")
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "minutes (2).txt")); !bytes.Equal(got, m.Attachments["minutes.txt"]) || !strings.Contains(r.stdout, "renamed\t"+filepath.Join(dir, "minutes (2).txt")) {
			t.Errorf("not saved under a free name: %q %v", got, r)
		}
		r = c.ok("--url", url, "fetch", "--peek", "--save-attachments", dir, "--force", list.id(t, "Expenses and minutes"))
		if got, _ := os.ReadFile(filepath.Join(dir, "minutes.txt")); !bytes.Equal(got, m.Attachments["minutes.txt"]) || !strings.Contains(r.stdout, "replaced\t") {
			t.Errorf("--force did not replace the file: %v", r)
		}
	})

	t.Run("fetch --json", func(t *testing.T) {
		r := c.ok("--url", url, "fetch", "--peek", "--json", list.id(t, "Release notes"))
		f := jsonOf[struct {
			client.Envelope
			Parts *client.Part `json:"parts"`
			Text  *string      `json:"text"`
		}](t, r)
		if f.Subject != "Release notes" || f.Text == nil || !strings.Contains(*f.Text, "Release 1.2 is out.") {
			t.Errorf("fetch --json: %s", r.stdout)
		}
		if f.Parts == nil || f.Parts.Type != "multipart/alternative" || len(f.Parts.Children) != 2 {
			t.Errorf("parts %+v", f.Parts)
		}
		c.fails(2, "--url", url, "fetch", "--json", "--raw", list.id(t, "Release notes"))
	})

	t.Run("flag on the server", func(t *testing.T) {
		welcome := list.id(t, "Welcome")
		r := c.ok("--url", url, "flag", welcome, "--add", "flagged,answered")
		if !strings.Contains(r.stdout, "Added flagged, answered to 1 message in INBOX.") || strings.Contains(r.stdout, "local") {
			t.Errorf("flag output %q", r.stdout)
		}
		after := jsonOf[listJSON](t, c.ok("--url", url, "list", "--json"))
		e := findEnvelope(t, after, "Welcome")
		if !client.HasFlag(e.Flags, client.FlagFlagged) || !client.HasFlag(e.Flags, client.FlagAnswered) {
			t.Errorf("flags after --add: %v", e.Flags)
		}
		c.ok("--url", url, "flag", welcome, "--remove", "answered")
		after = jsonOf[listJSON](t, c.ok("--url", url, "list", "--json"))
		if e := findEnvelope(t, after, "Welcome"); client.HasFlag(e.Flags, client.FlagAnswered) {
			t.Errorf("answered still set: %v", e.Flags)
		}
		c.fails(2, "--url", url, "flag", welcome, "--add", "important")
		c.fails(2, "--url", url, "flag", welcome)
	})

	t.Run("move", func(t *testing.T) {
		id := list.id(t, "Café à Paris")
		r := c.ok("--url", url, "move", id, "--to", "Archive")
		if !strings.HasPrefix(r.stdout, "Moved 1 message from INBOX to Archive: "+id+" \"Café à Paris\" from François <francois@example.fr> (now ID ") {
			t.Errorf("move output %q", r.stdout)
		}
		arch := jsonOf[listJSON](t, c.ok("--url", url, "list", "-f", "Archive", "--json"))
		findEnvelope(t, arch, "Café à Paris")
		c.fails(2, "--url", url, "move", "1")
	})

	t.Run("delete to Trash, then expunge", func(t *testing.T) {
		id := list.id(t, "Lunch on Friday?")
		r := c.ok("--url", url, "delete", id)
		if r.stdout != "Moved 1 message from INBOX to Trash: "+id+" \"Lunch on Friday?\" from Team <team@example.com>.\n" {
			t.Errorf("delete output %q", r.stdout)
		}
		trash := jsonOf[listJSON](t, c.ok("--url", url, "list", "-f", "Trash", "--json"))
		e := findEnvelope(t, trash, "Lunch on Friday?")
		r = c.ok("--url", url, "delete", "-f", "Trash", "--expunge", e.ID)
		if !strings.Contains(r.stdout, "for good") {
			t.Errorf("expunge output %q", r.stdout)
		}
		if n := len(jsonOf[listJSON](t, c.ok("--url", url, "list", "-f", "Trash", "--json")).Messages); n != 0 {
			t.Errorf("Trash still has %d messages", n)
		}
	})

	t.Run("offline after the server is gone", func(t *testing.T) {
		online := c.ok("--url", url, "list")
		srv.Close()
		offline := c.ok("--url", url, "list", "--offline")
		if offline.stdout != online.stdout {
			t.Errorf("offline list differs:\n%s\nonline:\n%s", offline.stdout, online.stdout)
		}
		r := c.fails(4, "--url", url, "list")
		if !strings.Contains(r.stderr, "connection refused") {
			t.Errorf("refused: %q", r.stderr)
		}
	})
}

func TestBinaryPOP3(t *testing.T) {
	t.Parallel()
	srv, idx, uidls := startPOP3Test(t)
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	url := popURL(srv.Port())
	inbox := idx.inFolder(client.Inbox)

	t.Run("debug trace redacts the password", func(t *testing.T) {
		c2 := newCLI(t)
		c2.env["DUOMAIL_PASSWORD"] = "secret"
		r := c2.ok("--url", url, "--debug", "--quiet", "folders")
		if !strings.Contains(r.stderr, "[redacted]") || strings.Contains(r.stderr, "secret") {
			t.Errorf("--debug stderr:\n%s", r.stderr)
		}
	})

	t.Run("list syncs first", func(t *testing.T) {
		rows := tsv(c.ok("--url", url, "list").stdout)
		if len(rows) != len(inbox) {
			t.Fatalf("%d rows, want %d", len(rows), len(inbox))
		}
		if want := sampleSubject(inbox[len(inbox)-1]); rows[0][3] != want {
			t.Errorf("newest first: got %q, want %q", rows[0][3], want)
		}
		if rows[0][0] != uidls[rows[0][3]] {
			t.Errorf("ID %q is not the UIDL %q", rows[0][0], uidls[rows[0][3]])
		}
	})

	t.Run("second sync downloads nothing", func(t *testing.T) {
		r := c.ok("--url", url, "sync", "--json")
		s := jsonOf[struct {
			Synced []client.SyncReport `json:"synced"`
		}](t, r)
		if len(s.Synced) != 1 || s.Synced[0].Downloaded != 0 || s.Synced[0].OnServer != len(inbox) {
			t.Errorf("second sync: %s", r.stdout)
		}
		for _, cmd := range srv.Commands() {
			if strings.HasPrefix(cmd, "RETR") || strings.HasPrefix(cmd, "TOP") {
				t.Errorf("second sync sent %q", cmd)
			}
		}
		rows := tsv(c.ok("--url", url, "sync").stdout)
		if len(rows) != 1 || rows[0][0] != "INBOX" || rows[0][1] != fmt.Sprint(len(inbox)) || rows[0][3] != "0" {
			t.Errorf("sync TSV %q", rows)
		}
	})

	t.Run("folders", func(t *testing.T) {
		rows := tsv(c.ok("--url", url, "folders").stdout)
		if len(rows) != 1 || rows[0][0] != "INBOX" || rows[0][2] != fmt.Sprint(len(inbox)) {
			t.Errorf("folders %q", rows)
		}
	})

	t.Run("fetch from the cache", func(t *testing.T) {
		m := idx.bySubject(t, "Invoice")
		id := uidls[sampleSubject(m)]
		r := c.ok("--url", url, "fetch", id)
		if !strings.Contains(r.stdout, "Please find the invoice attached.") {
			t.Errorf("fetch: %v", r)
		}
		if raw := c.ok("--url", url, "fetch", "--raw", id); raw.stdout != string(m.Raw) {
			t.Errorf("--raw is not byte-exact")
		}
		if p := c.ok("--url", url, "fetch", "--part", "2", id); p.stdout != samplePDF {
			t.Errorf("--part 2 = %q", p.stdout)
		}
		for _, cmd := range srv.Commands() {
			if strings.HasPrefix(cmd, "RETR") {
				t.Errorf("fetch of a cached message sent %q", cmd)
			}
		}
		// Reading marks seen, locally.
		l := jsonOf[listJSON](t, c.ok("--url", url, "list", "--offline", "--json"))
		if e := findEnvelope(t, l, "Invoice"); !client.HasFlag(e.Flags, client.FlagSeen) {
			t.Errorf("fetched message not seen in the cache: %v", e.Flags)
		}
	})

	t.Run("flag is local", func(t *testing.T) {
		id := uidls["Welcome to duomail"]
		r := c.ok("--url", url, "flag", id, "--add", "flagged")
		if !strings.Contains(r.stdout, "local cache only") || !strings.Contains(r.stdout, "POP3 keeps no flags") {
			t.Errorf("flag output %q", r.stdout)
		}
		l := jsonOf[listJSON](t, c.ok("--url", url, "list", "--offline", "--json"))
		if e := findEnvelope(t, l, "Welcome"); !client.HasFlag(e.Flags, client.FlagFlagged) {
			t.Errorf("flag not recorded: %v", e.Flags)
		}
		j := jsonOf[flagResult](t, c.ok("--url", url, "flag", id, "--remove", "flagged", "--json"))
		if !j.Local || j.Reason == "" {
			t.Errorf("flag --json %+v", j)
		}
	})

	t.Run("move is unsupported", func(t *testing.T) {
		r := c.fails(5, "--url", url, "move", uidls["Welcome to duomail"], "--to", "Archive")
		if !strings.Contains(r.stderr, "duomail: move: POP3 has no folders") {
			t.Errorf("move stderr %q", r.stderr)
		}
	})

	t.Run("delete on server and cache", func(t *testing.T) {
		before := len(srv.Messages("alice"))
		id := uidls["Lunch on Friday?"]
		r := c.ok("--url", url, "delete", id)
		if r.stdout != "Deleted 1 message on the server and from the local cache: "+id+" \"Lunch on Friday?\" from Team <team@example.com>.\n" {
			t.Errorf("delete output %q", r.stdout)
		}
		if after := len(srv.Messages("alice")); after != before-1 {
			t.Errorf("server has %d messages, want %d", after, before-1)
		}
		l := jsonOf[listJSON](t, c.ok("--url", url, "list", "--offline", "--json"))
		for _, e := range l.Messages {
			if e.ID == id {
				t.Errorf("deleted message still in the cache")
			}
		}
	})

	t.Run("headers-only", func(t *testing.T) {
		c2 := newCLI(t)
		c2.env["DUOMAIL_PASSWORD"] = "secret"
		rows := tsv(c2.ok("--url", url, "list", "--headers-only").stdout)
		if len(rows) != len(srv.Messages("alice")) {
			t.Errorf("%d rows", len(rows))
		}
		for _, cmd := range srv.Commands() {
			if strings.HasPrefix(cmd, "RETR") {
				t.Errorf("--headers-only sent %q", cmd)
			}
		}
	})
}

func TestBinaryErrors(t *testing.T) {
	t.Parallel()
	imapSrv, _ := startIMAPTest(t)
	popSrv, _, _ := startPOP3Test(t)
	c := newCLI(t)

	t.Run("bad password exits 3", func(t *testing.T) {
		c.env["DUOMAIL_PASSWORD"] = "wrong"
		defer delete(c.env, "DUOMAIL_PASSWORD")
		for _, url := range []string{imapURL(imapSrv.Port()), popURL(popSrv.Port())} {
			r := c.fails(3, "--url", url, "folders")
			if strings.Contains(r.stderr, "wrong") {
				t.Errorf("password in the error: %q", r.stderr)
			}
		}
	})

	t.Run("no password without a terminal exits 3", func(t *testing.T) {
		r := c.fails(3, "--url", imapURL(imapSrv.Port()), "folders")
		if !strings.Contains(r.stderr, "DUOMAIL_PASSWORD") {
			t.Errorf("stderr %q", r.stderr)
		}
	})

	t.Run("connection refused exits 4", func(t *testing.T) {
		port := closedPort(t)
		c.env["DUOMAIL_PASSWORD"] = "secret"
		defer delete(c.env, "DUOMAIL_PASSWORD")
		r := c.fails(4, "--url", imapURL(port), "list")
		if !strings.Contains(r.stderr, "connection refused") {
			t.Errorf("stderr %q", r.stderr)
		}
		c.fails(4, "--url", fmt.Sprintf("pop3s://alice@127.0.0.1:%d", port), "sync")
	})

	t.Run("TLS to a plaintext server exits 4", func(t *testing.T) {
		c.env["DUOMAIL_PASSWORD"] = "secret"
		defer delete(c.env, "DUOMAIL_PASSWORD")
		c.fails(4, "--url", fmt.Sprintf("imaps://alice@127.0.0.1:%d?timeout=5s", imapSrv.Port()), "folders")
	})

	t.Run("POP3 move is refused without connecting", func(t *testing.T) {
		port := closedPort(t)
		r := c.fails(5, "--url", popURL(port), "move", "x", "--to", "Archive")
		if !strings.Contains(r.stderr, "duomail: move: POP3 has no folders") {
			t.Errorf("stderr %q", r.stderr)
		}
	})

	t.Run("usage errors exit 2", func(t *testing.T) {
		for _, args := range [][]string{
			{"list", "--bogus"},
			{"lsit"},
			{"fetch"},
			{"fetch", "1", "2"},
			{"list", "--limit", "x"},
			{"delete"},
			{"--url", "imaps://alice:pw@host", "list"},
			{"--url", "smtp://alice@host", "list"},
			{"list"}, // no account at all
			{"-a", "nosuch", "list"},
		} {
			r := c.fails(2, args...)
			if strings.Contains(r.stderr, "alice:pw") {
				t.Errorf("password echoed: %q", r.stderr)
			}
		}
	})

	t.Run("bad config exits 1 naming file and key", func(t *testing.T) {
		path := c.writeConfig("[accounts.work]\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npasword_cmd = \"x\"\n")
		r := c.fails(1, "list")
		if !strings.Contains(r.stderr, path) || !strings.Contains(r.stderr, "accounts.work.pasword_cmd") || !strings.Contains(r.stderr, `did you mean "password_cmd"`) {
			t.Errorf("stderr %q", r.stderr)
		}
		c.writeConfig("[accounts.work]\nprotocol = \"imap\"\nhost = \n")
		r = c.fails(1, "accounts")
		if !strings.Contains(r.stderr, "line 3") {
			t.Errorf("syntax error without line: %q", r.stderr)
		}
		os.Remove(path)
	})
}

func TestBinaryAccounts(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	marker := filepath.Join(c.home, "password-cmd-ran")
	path := c.writeConfig("default = \"work\"\n" + accountsTOML(
		tomlAccount{Name: "work", Protocol: "imap", Host: "imap.example.com", Username: "me@example.com", PasswordCmd: "touch " + marker + "; echo secret"},
		tomlAccount{Name: "home", Protocol: "pop3", Host: "pop.example.com", TLS: "starttls", Username: "me", PasswordEnv: "HOME_PW", Extra: "keep_on_server = false\n"},
	))
	r := c.ok("accounts")
	rows := tsv(r.stdout)
	wantRows := [][]string{
		{"home", "pop3", "pop.example.com", "110", "starttls", "me", "false", "password_env"},
		{"work", "imap", "imap.example.com", "993", "implicit", "me@example.com", "true", "password_cmd"},
	}
	if !slices.EqualFunc(rows, wantRows, slices.Equal) {
		t.Errorf("accounts TSV %q, want %q", rows, wantRows)
	}
	j := jsonOf[accountsResult](t, c.ok("accounts", "--json"))
	if j.ConfigFile != path || len(j.Accounts) != 2 || j.Accounts[1].PasswordFrom != "password_cmd" || j.Accounts[0].KeepOnServer == nil || *j.Accounts[0].KeepOnServer {
		t.Errorf("accounts JSON %+v", j)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("accounts ran password_cmd")
	}
	// list --offline needs no password either.
	c.ok("list", "--offline")
	c.ok("-a", "home", "list", "--offline")
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("list --offline ran password_cmd")
	}
	// A password in a file others can read draws a warning.
	os.WriteFile(path, []byte("[accounts.x]\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npassword = \"hunter2\"\n"), 0o644)
	os.Chmod(path, 0o644)
	r = c.ok("accounts")
	if !strings.HasPrefix(r.stderr, "duomail: warning: config "+path) || strings.Contains(r.stderr, "hunter2") {
		t.Errorf("permission warning: %q", r.stderr)
	}
	os.Chmod(path, 0o600)
	if r := c.ok("accounts"); r.stderr != "" {
		t.Errorf("warning for a private file: %q", r.stderr)
	}
	c.writeConfig(accountsTOML(tomlAccount{Name: "work", Protocol: "imap", Host: "h", Username: "u", PasswordCmd: "touch " + marker}))
	// DUOMAIL_ACCOUNT chooses like -a.
	c.env["DUOMAIL_ACCOUNT"] = "nosuch"
	c.fails(2, "list", "--offline")
	delete(c.env, "DUOMAIL_ACCOUNT")
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// plainMessage is a small message with the given subject, as written (it may
// carry encoded words or control characters).
func plainMessage(subject, body string) []byte {
	return []byte("From: Watcher Test <watch@example.org>\r\nTo: someone@example.org\r\nSubject: " + subject +
		"\r\nDate: Tue, 04 Mar 2025 10:00:00 +0000\r\nMessage-ID: <" + fmt.Sprint(time.Now().UnixNano()) + "@example.org>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + body + "\r\n")
}
