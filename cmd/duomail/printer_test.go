package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/rivo/uniseg"
)

var testEnvelopes = []client.Envelope{
	{ID: "12", Folder: "INBOX", Date: time.Date(2025, 3, 4, 9, 5, 0, 0, time.UTC), From: "Jürgen <j@example.de>",
		Subject: "Grüße\x1b]0;x\x07 aus Köln\ttab", Size: 12345, Flags: []client.Flag{client.FlagSeen, client.FlagFlagged}, HasAttachments: true},
	{ID: "9", Folder: "INBOX", From: "a@b", Subject: "no date", Size: 900},
}

func testPrinter(tty, asJSON bool, width int) (*printer, *strings.Builder) {
	var out strings.Builder
	return &printer{out: &out, tty: tty, json: asJSON, width: width, loc: time.FixedZone("X", 3600)}, &out
}

func TestPrinterTerminalTable(t *testing.T) {
	p, out := testPrinter(true, false, 0)
	if err := p.print(&listResult{Folder: "INBOX", Messages: testEnvelopes}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("want header and 2 rows:\n%s", out)
	}
	for _, want := range []string{"ID", "DATE", "FROM", "SUBJECT", "SIZE", "FLAGS"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("header %q lacks %s", lines[0], want)
		}
	}
	// Local time, human size, compact flags, cleaned subject.
	for _, want := range []string{"2025-03-04 10:05", "12 KB", "F@", "Grüße aus Köln tab"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	if !strings.Contains(lines[2], " - ") || !strings.Contains(lines[2], "900 B") || !strings.HasSuffix(lines[2], "N") {
		t.Errorf("row without date, unseen: %q", lines[2])
	}
	// Aligned: every column starts at the same offset.
	runeIndex := func(s, sub string) int { return len([]rune(s[:strings.Index(s, sub)])) }
	if runeIndex(lines[0], "SUBJECT") != runeIndex(lines[1], "Grüße") || runeIndex(lines[0], "FLAGS") != runeIndex(lines[2], "N") {
		t.Errorf("columns not aligned:\n%s", out)
	}
}

func TestPrinterPiped(t *testing.T) {
	p, out := testPrinter(false, false, 0)
	if err := p.print(&listResult{Folder: "INBOX", Messages: testEnvelopes}); err != nil {
		t.Fatal(err)
	}
	want := "12\t2025-03-04T09:05:00Z\tJürgen <j@example.de>\tGrüße aus Köln tab\t12345\tseen,flagged,attachment\n" +
		"9\t\ta@b\tno date\t900\t\n"
	if out.String() != want {
		t.Errorf("TSV:\n%q\nwant\n%q", out.String(), want)
	}
}

func TestPrinterFitsWidth(t *testing.T) {
	long := []client.Envelope{{ID: "1", From: strings.Repeat("f", 60), Subject: strings.Repeat("s", 200), Size: 1}}
	p, out := testPrinter(true, false, 80)
	p.print(&listResult{Folder: "INBOX", Messages: long})
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if n := len([]rune(line)); n > 80 {
			t.Errorf("line of %d columns: %q", n, line)
		}
	}
	if !strings.Contains(out.String(), "…") {
		t.Errorf("no truncation mark:\n%s", out)
	}
}

func TestPrinterEmptyTable(t *testing.T) {
	p, out := testPrinter(true, false, 0)
	var notices []string
	p.notice = func(s string) { notices = append(notices, s) }
	p.print(&listResult{Folder: "Archive"})
	if out.String() != "" || len(notices) != 1 || notices[0] != "no messages in Archive" {
		t.Errorf("stdout %q, notices %q", out.String(), notices)
	}
}

func TestPrinterJSONWithStats(t *testing.T) {
	p, out := testPrinter(false, true, 0)
	if err := p.print(&listResult{Folder: "INBOX", Messages: testEnvelopes}); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Fatalf("JSON written before the command ended")
	}
	stats := client.NewWireStats("imap")
	stats.Begin("list")()
	stats.Command()
	if err := p.finish(newStatsJSON(stats)); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "\n") != 1 {
		t.Errorf("piped JSON should be one line: %q", out)
	}
	var got struct {
		Folder   string                       `json:"folder"`
		Messages []map[string]json.RawMessage `json:"messages"`
		Stats    map[string]json.RawMessage   `json:"stats"`
	}
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got.Folder != "INBOX" || len(got.Messages) != 2 {
		t.Errorf("%s", out)
	}
	for _, key := range []string{"id", "folder", "date", "from", "to", "subject", "size", "flags", "has_attachments"} {
		if _, ok := got.Messages[0][key]; !ok {
			t.Errorf("message lacks %q: %s", key, out)
		}
	}
	if string(got.Messages[1]["to"]) != "[]" || string(got.Messages[1]["flags"]) != "[]" {
		t.Errorf("empty lists must be []: %s", out)
	}
	if string(got.Messages[0]["date"]) != `"2025-03-04T09:05:00Z"` {
		t.Errorf("date %s", got.Messages[0]["date"])
	}
	for _, key := range []string{"protocol", "commands", "bytes_sent", "bytes_received", "elapsed_ns", "ops"} {
		if _, ok := got.Stats[key]; !ok {
			t.Errorf("stats lack %q: %s", key, out)
		}
	}
	// The subject's escape sequence is escaped, not raw.
	if strings.ContainsRune(out.String(), 0x1b) || !strings.Contains(out.String(), `\u001b]0;x\u0007`) {
		t.Errorf("subject not escaped: %s", out)
	}
}

func TestPrinterJSONIndentedOnTerminal(t *testing.T) {
	p, out := testPrinter(true, true, 0)
	p.print(&moveResult{Folder: "INBOX", IDs: []string{"1"}, To: "Archive"})
	p.finish(nil)
	want := "{\n  \"folder\": \"INBOX\",\n  \"ids\": [\n    \"1\"\n  ],\n  \"to\": \"Archive\",\n  \"messages\": []\n}\n"
	if out.String() != want {
		t.Errorf("%q", out.String())
	}
}

func TestSentences(t *testing.T) {
	f := &format{}
	for _, tc := range []struct {
		r    sentenceResult
		want string
	}{
		{&deleteResult{Folder: "INBOX", IDs: []string{"1", "2"}, DeleteResult: client.DeleteResult{MovedTo: "Trash"}}, "Moved 2 messages from INBOX to Trash."},
		{&deleteResult{Folder: "INBOX", IDs: []string{"1"}, DeleteResult: client.DeleteResult{Expunged: true}}, "Deleted 1 message from INBOX for good (expunged)."},
		{&deleteResult{Folder: "INBOX", IDs: []string{"a"}, DeleteResult: client.DeleteResult{Expunged: true}, Local: true}, "Deleted 1 message on the server and from the local cache."},
		{&flagResult{Folder: "INBOX", IDs: []string{"1"}, Op: "add", Flags: []client.Flag{"seen"}}, "Added seen to 1 message in INBOX."},
		{&flagResult{Folder: "INBOX", IDs: []string{"1", "2"}, Op: "remove", Flags: []client.Flag{"flagged"}, FlagResult: client.FlagResult{Local: true, Reason: "POP3 keeps no flags on the server"}},
			"Removed flagged from 2 messages in INBOX. The change is in the local cache only: POP3 keeps no flags on the server."},
		{&moveResult{Folder: "INBOX", IDs: []string{"1"}, To: "A\x1b[2Jrchive"}, "Moved 1 message from INBOX to Archive."},
	} {
		if got := tc.r.sentence(f); got != tc.want {
			t.Errorf("%q, want %q", got, tc.want)
		}
	}
}

func TestStatsLine(t *testing.T) {
	s := client.NewWireStats("pop3")
	s.Command()
	line := statsLine(s)
	if !strings.HasPrefix(line, "POP3: 1 command, 0 B sent, 0 B received, ") || !strings.HasSuffix(line, " s") {
		t.Errorf("%q", line)
	}
}

func TestEnvelopeLine(t *testing.T) {
	e := client.Envelope{ID: "7", Folder: "INBOX", From: "A <a@b>", Subject: "hi\x1b[2J there \u202e", Size: 2048,
		Date: time.Date(2025, 3, 4, 10, 5, 0, 0, time.UTC), Flags: []client.Flag{client.FlagFlagged}}
	p, out := testPrinter(false, true, 0)
	if err := p.envelopeLine("work", e); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || strings.ContainsAny(line, "\x1b\u202e") {
		t.Errorf("JSON line %q", line)
	}
	var got struct {
		Account string `json:"account"`
		client.Envelope
	}
	if err := json.Unmarshal([]byte(line), &got); err != nil || got.Account != "work" || got.Subject != e.Subject || got.ID != "7" || got.Size != 2048 {
		t.Errorf("decoded %+v, %v", got, err)
	}
	p, out = testPrinter(false, false, 0)
	p.envelopeLine("work", e)
	if out.String() != "7\t2025-03-04T10:05:00Z\tA <a@b>\thi there \t2048\tflagged\n" {
		t.Errorf("TSV %q", out.String())
	}
	p, out = testPrinter(true, false, 60)
	e.Subject = strings.Repeat("long subject ", 10)
	p.envelopeLine("work", e)
	if w := uniseg.StringWidth(strings.TrimSuffix(out.String(), "\n")); w > 60 || !strings.Contains(out.String(), "…") {
		t.Errorf("terminal line of %d columns: %q", w, out.String())
	}
}
