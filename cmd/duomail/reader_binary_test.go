package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// readerAccounts starts a Dovecot serving the reading corpus to one user
// over IMAP and over POP3 (one maildir), and a user configured for both.
func readerAccounts(t *testing.T) (*cli, map[string]listJSON) {
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	for _, m := range readerCorpus() {
		d.Deliver(t, "alice", client.Inbox, m.raw)
	}
	c := newCLI(t)
	c.env["DOVECOT_PW"] = sourcetest.Password
	imap := tomlAccount{Name: "imap", Protocol: "imap", Host: d.Host, Port: d.IMAPSPort, Username: "alice", PasswordEnv: "DOVECOT_PW", CAFile: d.CAFile}
	pop := tomlAccount{Name: "pop", Protocol: "pop3", Host: d.Host, Port: d.POP3SPort, Username: "alice", PasswordEnv: "DOVECOT_PW", CAFile: d.CAFile}
	c.writeConfig(accountsTOML(imap, pop))
	lists := map[string]listJSON{}
	for _, acct := range []string{"imap", "pop"} {
		lists[acct] = jsonOf[listJSON](t, c.ok("-a", acct, "list", "--json", "--limit", "0"))
		if n := len(lists[acct].Messages); n != len(readerCorpus()) {
			t.Fatalf("%s lists %d messages, want %d", acct, n, len(readerCorpus()))
		}
	}
	return c, lists
}

// protocolNeutralJSON decodes fetch --json and drops what differs by
// protocol by design: the ID and UIDVALIDITY, the flags (POP3 keeps its
// own) and the arrival time (POP3: when downloaded).
func protocolNeutralJSON(t *testing.T, r runResult) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("%v: %v", r, err)
	}
	for _, k := range []string{"id", "uidvalidity", "flags", "received"} {
		delete(m, k)
	}
	return m
}

// The same message read over IMAP (structure and single parts from the
// server) and over POP3 (downloaded whole, parsed locally) is shown the
// same: text, header block, the list of other parts, --headers and
// --json, for every kind of message in the corpus.
//
// What fetch shows of each kind of message: the header block with Cc and
// a differing Reply-To, forwarded messages inline with their own header
// and text, the other parts listed with decoded names and sizes, text in
// other charsets converted, RFC 2047 headers decoded by --headers.
// (One Dovecot serves both halves.)
func TestBinaryReader(t *testing.T) {
	t.Parallel()
	c, lists := readerAccounts(t)
	t.Run("same on both protocols", func(t *testing.T) { readerSameOnBothProtocols(t, c, lists) })
	t.Run("shows everything", func(t *testing.T) { readerShowsEverything(t, c, lists) })
}

func readerSameOnBothProtocols(t *testing.T, c *cli, lists map[string]listJSON) {
	for _, m := range readerCorpus() {
		t.Run(m.name, func(t *testing.T) {
			ids := map[string]string{"imap": lists["imap"].id(t, m.subject), "pop": lists["pop"].id(t, m.subject)}
			for _, mode := range [][]string{{}, {"--headers"}} {
				args := func(acct string) []string {
					return append([]string{"-a", acct, "fetch", "--peek", ids[acct]}, mode...)
				}
				i, p := c.ok(args("imap")...), c.ok(args("pop")...)
				if i.stdout != p.stdout || i.stderr != p.stderr {
					t.Errorf("fetch %v differs:\nIMAP:\n%s%s\nPOP3:\n%s%s", mode, i.stdout, i.stderr, p.stdout, p.stderr)
				}
			}
			i := protocolNeutralJSON(t, c.ok("-a", "imap", "fetch", "--peek", "--json", ids["imap"]))
			p := protocolNeutralJSON(t, c.ok("-a", "pop", "fetch", "--peek", "--json", ids["pop"]))
			if !reflect.DeepEqual(i, p) {
				ij, _ := json.MarshalIndent(i, "", " ")
				pj, _ := json.MarshalIndent(p, "", " ")
				t.Errorf("fetch --json differs:\nIMAP: %s\nPOP3: %s", ij, pj)
			}
		})
	}
}

func readerShowsEverything(t *testing.T, c *cli, lists map[string]listJSON) {
	fetchText := func(subject string, extra ...string) string {
		return c.ok(append([]string{"-a", "imap", "fetch", "--peek", lists["imap"].id(t, subject)}, extra...)...).stdout
	}
	for _, tc := range []struct {
		subject string
		args    []string
		want    []string
		not     []string
	}{
		{"Both parts", nil, []string{"Cc:      Carol <carol@example.net>, dave@example.net\n", "The plain version.\n"}, []string{"HTML", "[2]", "Reply-To"}},
		{"Fwd: Quarterly figures", nil, []string{
			"FYI, see below.\n\n---------- Forwarded message (part 2) ----------\nFrom:    Erin <erin@example.com>\nTo:      Bob <bob@example.org>\nCc:      Frank <frank@example.com>\n",
			"Subject: Quarterly figures\n\nFigures attached.\n---------- End of forwarded message (part 2) ----------\n",
			"\n[2]    \"Quarterly figures\"  message/rfc822", "inline\n[2.2]  figures.csv          text/csv        ~29 B", "attachment\n",
		}, nil},
		{"Logo inline", nil, []string{"[2]  logo.png  image/png  ~1.5 KB  inline\n"}, nil},
		{"Menü für heute", nil, []string{"From:    Jürgen Müller <juergen@example.de>\n", "Cc:      Günter <guenter@example.de>\n", "Reply-To: Kantine <kantine@example.de>\n", "Subject: Menü für heute\n", "Grüße aus Köln: Käse, Spätzle, Crème brûlée.\n"}, nil},
		{"Menü für heute", []string{"--headers"}, []string{"Subject: Menü für heute\n", "From: Jürgen Müller <juergen@example.de>\n"}, []string{"=?ISO"}},
		{"Quotes and euros", nil, []string{"“Quoted” – costs 5 € … done.\n"}, nil},
		{"Application documents", nil, []string{"Please find my CV attached.\n\n[2]  résumé.pdf  application/pdf  ~", "attachment\n[3]  notes.txt   text/plain", "29 B    attachment\n"}, nil},
	} {
		got := fetchText(tc.subject, tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s %v: want %q in:\n%s", tc.subject, tc.args, w, got)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("%s %v: %q should not be in:\n%s", tc.subject, tc.args, n, got)
			}
		}
	}
	raw := c.ok("-a", "imap", "fetch", "--peek", "--headers", "--raw", lists["imap"].id(t, "Menü für heute")).stdout
	if !strings.Contains(raw, "Subject: =?ISO-8859-1?Q?Men=FC_f=FCr_heute?=") {
		t.Errorf("--headers --raw is not the raw header:\n%s", raw)
	}
}
