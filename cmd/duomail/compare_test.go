package main

import (
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/compare"
	"github.com/rivo/uniseg"
)

func sampleCompareReport() compare.Report {
	side := func(did, result string, cmds int, sent, recv int64, ms int) compare.ScenarioSide {
		return compare.ScenarioSide{Supported: true, Did: did, Result: result,
			Counts: client.Counts{Commands: cmds, Sent: sent, Received: recv, Elapsed: time.Duration(ms) * time.Millisecond}}
	}
	return compare.Report{
		Accounts: [2]compare.Account{
			{Name: "work-imap", Protocol: "imap", Server: "imap.example.com:993"},
			{Name: "work-pop", Protocol: "pop3", Server: "pop.example.com:995"},
		},
		Rows: []compare.Row{
			{Scenario: compare.ScenarioConnect, Sides: [2]compare.ScenarioSide{
				side("greeting, TLS 1.3 (implicit), login", "", 2, 77, 4397, 31),
				side("greeting, TLS 1.3 (implicit), login", "", 3, 41, 3274, 28)}},
			{Scenario: compare.ScenarioReadText, Sides: [2]compare.ScenarioSide{
				side("BODYSTRUCTURE, then BODY.PEEK[section] of the text part", "45 B of text from \"Holiday \x1b]0;pwned\x07picture 🌴\" (145 KB)", 2, 112, 776, 3),
				side("the whole message (POP3 downloads whole messages)", "45 B of text from \"Holiday picture 🌴\" (145 KB)", 1, 8, 148172, 12)}},
			{Scenario: compare.ScenarioFolders, Sides: [2]compare.ScenarioSide{
				side("LIST, with STATUS counts (LIST-STATUS where offered)", "4 folders: INBOX, Archive, Sent, Trash", 1, 63, 293, 1),
				{Supported: false, Did: "not possible: POP3 has no folders"}}},
			{Scenario: compare.ScenarioDelete, Sides: [2]compare.ScenarioSide{
				side("UID STORE +FLAGS.SILENT (\\Deleted) + UID EXPUNGE", "deleted \"Welcome\" (426 B)", 3, 96, 133, 1),
				{Supported: true, Did: "DELE", Error: "delete: server said: -ERR mailbox locked by another session, try again later please"}}},
		},
	}
}

// The side-by-side table fits the terminal at the usual widths, keeps the
// two sides' costs on the same lines and shows no control character.
func TestCompareLayout(t *testing.T) {
	r := &compareResult{Report: sampleCompareReport()}
	f := &format{tty: true, loc: time.UTC}
	for _, width := range []int{60, 80, 100, 160, 200} {
		out := r.layout(f, width)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for _, l := range lines {
			if w := uniseg.StringWidth(l); w > width {
				t.Errorf("width %d: line of %d columns: %q", width, w, l)
			}
		}
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("width %d: control characters in the table", width)
		}
		for _, want := range []string{"work-imap (IMAP)", "work-pop (POP3)", "imap.example.com:993", "not possible: POP3 has no folders",
			"ERROR: delete:", "\ntotal "} {
			if width >= 100 && !strings.Contains(out, want) {
				t.Errorf("width %d: %q missing:\n%s", width, want, out)
			}
		}
		// Each row's received bytes of both sides face each other.
		for _, pair := range [][2]string{{"776 B in", "145 KB in"}, {"4.3 KB in", "3.2 KB in"}, {"8 commands", "4 commands"}} {
			found := false
			for _, l := range lines {
				found = found || strings.Contains(l, pair[0]) && strings.Contains(l, pair[1])
			}
			if !found {
				t.Errorf("width %d: %q and %q not on one line:\n%s", width, pair[0], pair[1], out)
			}
		}
		// Figures keep their unit on the same line.
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "B)") || strings.HasSuffix(l, " 426") {
				t.Errorf("width %d: unit split from its figure: %q", width, l)
			}
		}
		if width == 160 && strings.Count(out, "\n") > strings.Count(r.layout(f, 100), "\n") {
			t.Errorf("wider terminal, longer table")
		}
	}
	// Piped: one record per scenario and side, eleven fields.
	recs := r.records(&format{})
	if len(recs) != 8 {
		t.Fatalf("%d records", len(recs))
	}
	want := []string{compare.ScenarioReadText, "work-pop", "pop3", "true", "the whole message (POP3 downloads whole messages)",
		"45 B of text from \"Holiday picture 🌴\" (145 KB)", "1", "8", "148172", "0.012", ""}
	if got := recs[3]; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("record %q\nwant   %q", got, want)
	}
	if recs[2][5] != "45 B of text from \"Holiday picture 🌴\" (145 KB)" {
		t.Errorf("server text not cleaned in TSV: %q", recs[2][5])
	}
}
