package main

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// sentCommands returns the IMAP commands of a --debug trace, each as its
// first word or two ("UID FETCH"), without tag or arguments.
func sentCommands(stderr string) []string {
	var out []string
	for _, line := range strings.Split(stderr, "\n") {
		rest, ok := strings.CutPrefix(line, "C: ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			continue
		}
		cmd := strings.ToUpper(f[1])
		if cmd == "UID" && len(f) > 2 {
			cmd += " " + strings.ToUpper(f[2])
		}
		out = append(out, cmd)
	}
	return out
}

var statsCommandsRE = regexp.MustCompile(`IMAP: (\d+) commands?`)

// identityFetchRE matches a UID FETCH of four items in a trace; the items
// come in any order.
var identityFetchRE = regexp.MustCompile(`(?m)^C: \S+ UID FETCH \S+ \(([A-Z0-9.]+) ([A-Z0-9.]+) ([A-Z0-9.]+) ([A-Z0-9.]+)\)$`)

// hasIdentityFetch reports whether a trace shows the UID FETCH of a
// message's identity: UID, ENVELOPE, INTERNALDATE and RFC822.SIZE.
func hasIdentityFetch(trace string) bool {
	for _, m := range identityFetchRE.FindAllStringSubmatch(trace, -1) {
		items := m[1:]
		slices.Sort(items)
		if slices.Equal(items, []string{"ENVELOPE", "INTERNALDATE", "RFC822.SIZE", "UID"}) {
			return true
		}
	}
	return false
}

// Each command on one folder costs authentication, one SELECT (read-write
// for reading too, so servers keep their UIDs; never EXAMINE), its own
// work and LOGOUT: no folder listing on connect (the Trash is looked up at
// the first delete and remembered), no second selection, and a sync of an
// unchanged folder stops at the SELECT, with or without --bodies. --stats
// counts exactly these commands.
func TestBinaryCommandsSendOnlyWhatTheyNeedDovecot(t *testing.T) {
	t.Parallel()
	m := dovecotBothProtocols(t)
	c := m.c
	pinned := func(want []string, args ...string) runResult {
		t.Helper()
		r := c.run(append([]string{"-a", "imap", "--debug", "--stats", "-q"}, args...)...)
		if r.code != 0 && r.code != 1 { // check exits 1 for "no new mail"
			t.Fatalf("want exit 0: %v", r)
		}
		got := sentCommands(r.stderr)
		if !slices.Equal(got, want) {
			t.Errorf("duomail %s sent %q, want %q", strings.Join(args, " "), got, want)
		}
		sm := statsCommandsRE.FindStringSubmatch(r.stderr)
		if sm == nil || sm[1] != strconv.Itoa(len(got)) {
			t.Errorf("duomail %s: --stats says %q, the trace shows %d commands", strings.Join(args, " "), sm, len(got))
		}
		return r
	}
	const auth, sel, logout = "AUTHENTICATE", "SELECT", "LOGOUT"

	pinned([]string{auth, sel, "SEARCH", logout}, "check")
	rows := tsv(pinned([]string{auth, sel, "UID SEARCH", "UID FETCH", logout}, "list", "--limit", "2").stdout)
	if len(rows) != 2 {
		t.Fatalf("list rows %q", rows)
	}
	newest, older := rows[0][0], rows[1][0]
	pinned([]string{auth, sel, "UID FETCH", "UID FETCH", logout}, "fetch", "--peek", newest)
	// A change by ID first proves, with one UID FETCH of the Message-ID,
	// size and INTERNALDATE pipelined behind the SELECT, that each UID
	// still names the message listed (the FETCH also shows it exists).
	r := pinned([]string{auth, sel, "UID FETCH", "UID STORE", logout}, "flag", "--add", "flagged", newest)
	if !hasIdentityFetch(r.stderr) {
		t.Errorf("flag sent no identity FETCH:\n%s", r.stderr)
	}
	// The first sync fetches flags and then the envelopes it lacks; the
	// next ones find the folder unchanged.
	pinned([]string{auth, sel, "UID FETCH", "UID FETCH", logout}, "sync")
	pinned([]string{auth, sel, logout}, "sync")
	// Bodies of the messages whose envelopes are cached: nothing changed
	// on the server, so nothing is asked of it but the bodies.
	pinned([]string{auth, sel, "UID FETCH", logout}, "sync", "--bodies")
	pinned([]string{auth, sel, logout}, "sync", "--bodies")
	pinned([]string{auth, sel, logout}, "sync")
	// The Trash is looked up once, when the first delete needs it.
	pinned([]string{auth, "LIST", sel, "UID FETCH", "UID MOVE", logout}, "delete", newest)
	pinned([]string{auth, sel, "UID FETCH", "UID MOVE", logout}, "delete", older)
	pinned([]string{auth, sel, "UID SEARCH", "UID FETCH", logout}, "list", "--limit", "2")

	// Mail gone since the last sync: flags changed since its
	// HIGHESTMODSEQ, and the UIDs once, as the count no longer agrees.
	pinned([]string{auth, sel, "UID FETCH", "UID SEARCH", logout}, "sync", "--bodies")
	// New mail: its UID range, the changed flags, and its body.
	m.d.Deliver(t, m.user, "INBOX", []byte("Message-ID: <late@example.org>\r\nSubject: late arrival\r\n\r\nhello\r\n"))
	r = pinned([]string{auth, sel, "UID FETCH", "UID FETCH", "UID FETCH", logout}, "sync", "--bodies", "--json")
	rep := jsonOf[struct {
		Synced []struct{ New, Downloaded, Vanished int }
	}](t, r)
	if len(rep.Synced) != 1 || rep.Synced[0].New != 1 || rep.Synced[0].Downloaded != 1 || rep.Synced[0].Vanished != 0 {
		t.Errorf("sync report %+v", rep)
	}
	pinned([]string{auth, sel, logout}, "sync", "--bodies")
	// A message removed by another client is forgotten.
	files := m.d.Files(m.user, "INBOX")
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	rep = jsonOf[struct {
		Synced []struct{ New, Downloaded, Vanished int }
	}](t, c.ok("-a", "imap", "sync", "--bodies", "--json"))
	if len(rep.Synced) != 1 || rep.Synced[0].Vanished != 1 || rep.Synced[0].New != 0 {
		t.Errorf("sync report after a removal elsewhere %+v", rep)
	}
	online := tsv(c.ok("-a", "imap", "list", "--limit", "0").stdout)
	offline := tsv(c.ok("-a", "imap", "list", "--offline", "--limit", "0").stdout)
	if len(online) != len(m.idx.inFolder("INBOX"))-2+1-1 || !slices.EqualFunc(online, offline, func(a, b []string) bool { return a[0] == b[0] }) {
		t.Errorf("online %q\noffline %q", online, offline)
	}
}
