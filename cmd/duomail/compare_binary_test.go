package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/compare"
)

// compareStatsJSON is compare --json --stats.
type compareStatsJSON struct {
	compare.Report
	Stats statsJSON `json:"stats"`
}

// compareRow is the row of a scenario in a compare report.
func compareRow(t *testing.T, rep compare.Report, scenario string) compare.Row {
	t.Helper()
	for _, row := range rep.Rows {
		if row.Scenario == scenario {
			return row
		}
	}
	t.Fatalf("no row %q", scenario)
	return compare.Row{}
}

// seenSubjects lists the subjects of the seen messages, over IMAP.
func seenSubjects(t *testing.T, c *cli) []string {
	t.Helper()
	l := jsonOf[listJSON](t, c.ok("-a", "imap", "list", "--json", "--limit", "0"))
	var out []string
	for _, e := range l.Messages {
		if client.HasFlag(e.Flags, client.FlagSeen) {
			out = append(out, e.Subject)
		}
	}
	slices.Sort(out)
	return out
}

// testCompareBothProtocols runs compare on the IMAP and the POP3 account
// of one mailbox: read-only by default, costs within the wire totals,
// --with-delete, a side that cannot connect.
func testCompareBothProtocols(t *testing.T, m bothProtocols) {
	d, c, user, idx := m.d, m.c, m.user, m.idx
	holiday := idx.bySubject(t, "Holiday picture")
	before := len(d.Files(user, client.Inbox))
	seenBefore := seenSubjects(t, c)

	// Read-only without --with-delete. The flag IMAP sets to show a
	// second device is restored; but Dovecot marks what POP3 hands out
	// as seen (pop3_no_flag_updates = no), so the message the POP3
	// side downloaded is seen afterwards, and only that one.
	r := c.ok("compare", "imap", "pop", "--json", "--stats")
	rep := jsonOf[compareStatsJSON](t, r)
	if n := len(d.Files(user, client.Inbox)); n != before {
		t.Errorf("compare without --with-delete: %d messages on the server, want %d", n, before)
	}
	wantSeen := append(slices.Clone(seenBefore), sampleSubject(holiday))
	slices.Sort(wantSeen)
	if after := seenSubjects(t, c); !slices.Equal(after, wantSeen) {
		t.Errorf("seen after compare: %v, want %v", after, wantSeen)
	}
	if rep.Accounts[0].Name != "imap" || rep.Accounts[0].Protocol != "imap" || rep.Accounts[1].Protocol != "pop3" {
		t.Fatalf("accounts %+v", rep.Accounts)
	}
	if len(rep.Rows) != 8 {
		t.Fatalf("%d rows: %s", len(rep.Rows), r.stdout)
	}
	// Each side's rows cost no more than its account's wire totals.
	if len(rep.Stats.Accounts) != 2 {
		t.Fatalf("stats %+v", rep.Stats)
	}
	for i := range 2 {
		var sum client.Counts
		for _, row := range rep.Rows {
			s := row.Sides[i]
			if s.Error != "" {
				t.Errorf("%s on %s: %s", row.Scenario, rep.Accounts[i].Name, s.Error)
			}
			sum.Commands += s.Commands
			sum.Sent += s.Sent
			sum.Received += s.Received
		}
		st := rep.Stats.Accounts[i]
		if st.Account != rep.Accounts[i].Name || st.Protocol != rep.Accounts[i].Protocol {
			t.Errorf("stats %d is %s/%s", i, st.Account, st.Protocol)
		}
		if sum.Commands == 0 || sum.Commands > st.Commands || sum.Sent > st.Sent || sum.Received > st.Received {
			t.Errorf("%s: rows sum to %+v, more than the account's stats %+v", rep.Accounts[i].Name, sum, st.Counts)
		}
	}
	if rep.Stats.Commands != rep.Stats.Accounts[0].Commands+rep.Stats.Accounts[1].Commands {
		t.Errorf("stats total %d", rep.Stats.Commands)
	}
	if !strings.Contains(r.stderr, "IMAP (imap): ") || !strings.Contains(r.stderr, "POP3 (pop): ") {
		t.Errorf("--stats lines: %q", r.stderr)
	}
	// The protocol difference: IMAP reads the text alone, POP3 the
	// whole message.
	read := compareRow(t, rep.Report, compare.ScenarioReadText)
	imapSide, popSide := read.Sides[0], read.Sides[1]
	size := int64(len(holiday.Raw))
	if !strings.Contains(imapSide.Result, "Holiday picture") || !strings.Contains(popSide.Result, "Holiday picture") {
		t.Errorf("read text chose another message: %q / %q", imapSide.Result, popSide.Result)
	}
	if imapSide.Received*20 > size {
		t.Errorf("IMAP received %d bytes to read the text of a %d-byte message", imapSide.Received, size)
	}
	if popSide.Received < size {
		t.Errorf("POP3 received %d bytes, less than the %d-byte message it must download", popSide.Received, size)
	}
	folders := compareRow(t, rep.Report, compare.ScenarioFolders)
	if folders.Sides[1].Supported || !strings.Contains(folders.Sides[1].Did, "POP3 has no folders") || !folders.Sides[0].Supported {
		t.Errorf("folders row %+v", folders)
	}
	del := compareRow(t, rep.Report, compare.ScenarioDelete)
	for _, s := range del.Sides {
		if !strings.HasPrefix(s.Did, "would send: ") || s.Commands != 0 {
			t.Errorf("delete without --with-delete: %+v", s)
		}
	}

	// Piped: one line per scenario and side.
	rows := tsv(c.ok("compare", "imap", "pop").stdout)
	if len(rows) != 16 {
		t.Fatalf("%d TSV lines", len(rows))
	}
	for _, row := range rows {
		if len(row) != 11 || (row[1] != "imap" && row[1] != "pop") {
			t.Errorf("TSV line %q", row)
		}
	}

	// --with-delete deletes one message on each side: two different
	// messages of the one mailbox.
	rep = jsonOf[compareStatsJSON](t, c.ok("compare", "imap", "pop", "--with-delete", "--json"))
	del = compareRow(t, rep.Report, compare.ScenarioDelete)
	for _, s := range del.Sides {
		if s.Error != "" || !strings.HasPrefix(s.Result, "deleted ") || s.Commands == 0 {
			t.Errorf("delete: %+v", s)
		}
	}
	if del.Sides[0].Result == del.Sides[1].Result {
		t.Errorf("both sides deleted the same message: %s", del.Sides[0].Result)
	}
	if n := len(d.Files(user, client.Inbox)); n != before-2 {
		t.Errorf("after --with-delete the server has %d messages, want %d", n, before-2)
	}

	// A side that cannot connect: the table still comes, exit 1.
	r = c.fails(1, "compare", "imap", "refused")
	if !strings.Contains(r.stderr, "could not connect to account refused") || len(tsv(r.stdout)) != 16 {
		t.Errorf("compare with a closed port: %v", r)
	}
	rep = jsonOf[compareStatsJSON](t, c.fails(1, "compare", "refused", "imap", "--json"))
	if rep.Rows[0].Sides[0].Error == "" || rep.Rows[0].Sides[1].Error != "" {
		t.Errorf("connect row %+v", rep.Rows[0])
	}
	c.fails(2, "compare", "imap")
	c.fails(2, "compare", "imap", "IMAP")
	c.fails(2, "compare", "imap", "nosuch")
}
