package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/duomail/duomail/imapsrc/imaptest"
)

// changeVerbs are the commands that change messages by ID.
var changeVerbs = [][]string{
	{"flag", "--add", "flagged"},
	{"move", "--to", "Archive"},
	{"delete"},
}

// changingCommands are what a server is sent to change or remove messages.
var changingCommands = []string{"STORE", "UID STORE", "UID MOVE", "MOVE", "UID COPY", "COPY", "UID EXPUNGE", "EXPUNGE"}

// offlineRows is the cache's listing of INBOX as "id subject flags".
func offlineRows(t *testing.T, c *cli, u string) []string {
	t.Helper()
	var out []string
	for _, row := range tsv(c.ok("--url", u, "list", "--offline").stdout) {
		out = append(out, strings.TrimSpace(row[0]+" "+row[3]+" "+row[5]))
	}
	slices.Sort(out)
	return out
}

// oneLine fails the test unless stderr is one "duomail: " line containing
// want.
func oneLine(t *testing.T, r runResult, want string) {
	t.Helper()
	if !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Errorf("want one line with %q: %v", want, r)
	}
}

// A folder renumbered since it was listed (UIDVALIDITY 7, then 9): every
// change by ID is refused in one sentence that says what happened and
// what to do, nothing is sent that changes anything, the cache keeps the
// listing, and once listed again the IDs work.
func TestBinaryRenumberedFolderRefusesChanges(t *testing.T) {
	t.Parallel()
	var validity atomic.Uint32
	validity.Store(7)
	f := &scriptIMAP{
		uidValidity: func(int) uint32 { return validity.Load() },
		msgs: func(int) []fakeIMAPMessage {
			return []fakeIMAPMessage{
				{uid: 1, subject: "first", body: "first body", messageID: "first@example.org"},
				{uid: 2, subject: "second", body: "second body", messageID: "second@example.org"},
			}
		},
	}
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	u := scriptIMAPURL(f.start(t), "")
	c.ok("--url", u, "list")
	listed := offlineRows(t, c, u)
	validity.Store(9)
	for _, verb := range changeVerbs {
		r := c.fails(exitError, append([]string{"--url", u}, append(verb, "1")...)...)
		oneLine(t, r, fmt.Sprintf("duomail: %s 1: INBOX was renumbered by the server (UIDVALIDITY 7 → 9) since it was listed; run duomail list and use the new IDs", verb[0]))
	}
	// Reading by ID says the same.
	r := c.fails(exitError, "--url", u, "fetch", "--peek", "1")
	oneLine(t, r, "duomail: fetch 1: INBOX was renumbered by the server (UIDVALIDITY 7 → 9) since it was listed; run duomail list and use the new IDs")
	if sent := f.saw(changingCommands...); len(sent) > 0 {
		t.Fatalf("sent %q to a renumbered folder", sent)
	}
	if got := offlineRows(t, c, u); !slices.Equal(got, listed) {
		t.Errorf("the cache changed: %q, listed %q", got, listed)
	}
	c.ok("--url", u, "list")
	c.ok("--url", u, "flag", "--add", "flagged", "1")
	if sent := f.saw(changingCommands...); !slices.Equal(sent, []string{"UID STORE"}) {
		t.Errorf("after listing again, flag sent %q", sent)
	}
}

// A UID given to another message under the same UIDVALIDITY: flag, move
// and delete refuse it, naming what differs, and send nothing that
// changes anything; with several IDs one impostor refuses the whole
// command. The message still the one listed can be changed.
func TestBinaryReusedUIDRefusesChanges(t *testing.T) {
	t.Parallel()
	var version atomic.Int32
	first := fakeIMAPMessage{uid: 1, subject: "first", body: "first body", messageID: "first@example.org"}
	second := fakeIMAPMessage{uid: 2, subject: "second", body: "second body", messageID: "second@example.org"}
	impostors := []struct {
		msg  fakeIMAPMessage
		diff string
	}{
		// Another message altogether.
		{fakeIMAPMessage{uid: 1, subject: "an impostor", body: "another body, longer than the first", messageID: "impostor@example.org", received: "04-Jan-2023 09:00:00 +0000"},
			"(Message-ID <first@example.org> → <impostor@example.org>, size %d → %d, received 2023-01-03T10:00:00Z → 2023-01-04T09:00:00Z)"},
		// The same bytes delivered again later: only the arrival differs.
		{fakeIMAPMessage{uid: 1, subject: "first", body: "first body", messageID: "first@example.org", received: "05-Jan-2023 08:00:00 +0000"},
			"(received 2023-01-03T10:00:00Z → 2023-01-05T08:00:00Z)"},
		// The same Message-ID and arrival, other bytes.
		{fakeIMAPMessage{uid: 1, subject: "first", body: "first body, edited", messageID: "first@example.org"},
			"(size %d → %d)"},
	}
	f := &scriptIMAP{msgs: func(int) []fakeIMAPMessage {
		if v := version.Load(); v > 0 {
			return []fakeIMAPMessage{impostors[v-1].msg, second}
		}
		return []fakeIMAPMessage{first, second}
	}}
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	u := scriptIMAPURL(f.start(t), "")
	c.ok("--url", u, "list")
	listed := offlineRows(t, c, u)
	for i, imp := range impostors {
		version.Store(int32(i + 1))
		diff := imp.diff
		if strings.Contains(diff, "%d") {
			diff = fmt.Sprintf(diff, len(first.raw()), len(imp.msg.raw()))
		}
		want := "message 1 in INBOX is not the one listed under that ID " + diff + "; nothing was changed; run duomail list and use the new IDs"
		for _, verb := range changeVerbs {
			r := c.fails(exitError, append([]string{"--url", u}, append(verb, "1")...)...)
			oneLine(t, r, "duomail: "+verb[0]+": "+want)
		}
		// Several IDs, one of them not the message listed: nothing is
		// changed, not even the one that matches.
		r := c.fails(exitError, "--url", u, "delete", "2", "1")
		oneLine(t, r, want)
		if sent := f.saw(changingCommands...); len(sent) > 0 {
			t.Fatalf("impostor %d: sent %q", i+1, sent)
		}
		if got := offlineRows(t, c, u); !slices.Equal(got, listed) {
			t.Errorf("impostor %d: the cache changed: %q, listed %q", i+1, got, listed)
		}
	}
	r := c.ok("--url", u, "--debug", "flag", "--add", "flagged", "2")
	if sent := f.saw(changingCommands...); !slices.Equal(sent, []string{"UID STORE"}) {
		t.Errorf("flag of the message listed sent %q", sent)
	}
	if !strings.Contains(r.stderr, "# imap: uid 2 in INBOX: Message-ID, size and INTERNALDATE agree with what was listed") {
		t.Errorf("the trace does not say the identity was checked:\n%s", r.stderr)
	}
	if got := offlineRows(t, c, u); !slices.Contains(got, "2 second flagged") || !slices.Contains(got, "1 first") {
		t.Errorf("after flagging 2 the cache lists %q", got)
	}
}

// The connection dropped after the SELECT and the identity FETCH, before
// the STORE, COPY or MOVE is answered: the command fails with a network
// error in one line, the cache is as it was, and the next run works.
func TestBinaryConnectionDropBeforeChange(t *testing.T) {
	t.Parallel()
	var drop atomic.Bool
	msgs := []fakeIMAPMessage{
		{uid: 1, subject: "first", body: "first body", messageID: "first@example.org"},
		{uid: 2, subject: "second", body: "second body", messageID: "second@example.org"},
	}
	f := &scriptIMAP{
		msgs: func(int) []fakeIMAPMessage { return msgs },
		hook: func(p *imaptest.Peer, tag, name, args string) bool {
			if drop.Load() && slices.Contains(changingCommands, name) {
				p.Conn.Close()
				return true
			}
			return false
		},
	}
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	u := scriptIMAPURL(f.start(t), "")
	c.ok("--url", u, "list")
	listed := offlineRows(t, c, u)
	drop.Store(true)
	for _, verb := range changeVerbs {
		r := c.fails(exitNetwork, append([]string{"--url", u}, append(verb, "1")...)...)
		oneLine(t, r, "network error: connection closed by server")
	}
	if got := offlineRows(t, c, u); !slices.Equal(got, listed) {
		t.Errorf("the cache changed: %q, listed %q", got, listed)
	}
	drop.Store(false)
	c.ok("--url", u, "flag", "--add", "flagged", "1")
	if got := offlineRows(t, c, u); !slices.Contains(got, "1 first flagged") {
		t.Errorf("after the flag the cache lists %q", got)
	}
}

// Against Dovecot: a change by an ID never listed goes ahead as given and
// the trace says so; after list, flag, move and delete by ID each send the
// identity FETCH and work.
func TestBinaryChangesCheckIdentityDovecot(t *testing.T) {
	t.Parallel()
	m := dovecotBothProtocols(t)
	c := m.c
	r := c.ok("-a", "imap", "--debug", "flag", "--add", "answered", "1")
	if !strings.Contains(r.stderr, "# imap: uid 1 in INBOX never listed (not in the cache): changed as given, without an identity check") ||
		strings.Contains(r.stderr, "agree with what was listed") {
		t.Errorf("flag of an ID never listed:\n%s", r.stderr)
	}
	// Its existence is shown by the same FETCH, not by UID SEARCH (which
	// GNU Mailutils answers by sequence number).
	if got, want := sentCommands(r.stderr), []string{"AUTHENTICATE", "SELECT", "UID FETCH", "UID STORE", "LOGOUT"}; !slices.Equal(got, want) {
		t.Errorf("flag of an ID never listed sent %q, want %q", got, want)
	}
	if r := c.fails(exitError, "-a", "imap", "flag", "--add", "answered", "999"); !strings.Contains(r.stderr, "no message 999 in INBOX") {
		t.Errorf("flag of a UID the folder never had: %v", r)
	}
	rows := tsv(c.ok("-a", "imap", "list", "--limit", "3").stdout)
	if len(rows) != 3 {
		t.Fatalf("list: %q", rows)
	}
	agree := regexp.MustCompile(`# imap: uid \d+ in INBOX: Message-ID, size and INTERNALDATE agree with what was listed`)
	for i, verb := range changeVerbs {
		r := c.ok(append([]string{"-a", "imap", "--debug"}, append(verb, rows[i][0])...)...)
		if !hasIdentityFetch(r.stderr) || !agree.MatchString(r.stderr) {
			t.Errorf("%s %s: no identity check in the trace:\n%s", verb[0], rows[i][0], r.stderr)
		}
	}
	after := tsv(c.ok("-a", "imap", "list", "--limit", "0").stdout)
	ids := map[string][]string{}
	for _, row := range after {
		ids[row[0]] = row
	}
	if row := ids[rows[0][0]]; row == nil || !strings.Contains(row[5], "flagged") {
		t.Errorf("flagged message: %q", row)
	}
	if ids[rows[1][0]] != nil || ids[rows[2][0]] != nil {
		t.Errorf("moved or deleted message still in INBOX: %q", after)
	}
	archived := tsv(c.ok("-a", "imap", "list", "--folder", "Archive", "--limit", "0").stdout)
	if !slices.ContainsFunc(archived, func(row []string) bool { return row[3] == rows[1][3] }) {
		t.Errorf("moved message %q not in Archive: %q", rows[1][3], archived)
	}
}
