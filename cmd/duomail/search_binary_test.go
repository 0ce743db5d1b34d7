package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// TestBinarySearchUsageErrors: a query that cannot be read is a usage
// error (exit 2) that shows the query with a caret under the place.
func TestBinarySearchUsageErrors(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	tests := []struct {
		args  []string
		shown []string
	}{
		{[]string{"search"}, []string{"missing query"}},
		{[]string{"search", ""}, []string{"empty query"}},
		{[]string{"search", `subject:"big`}, []string{"column 9: unterminated quote", `subject:"big`, "\n          ^"}},
		{[]string{"search", "form:alice"}, []string{`unknown key "form:"; did you mean from:?`, "\n  ^"}},
		{[]string{"search", "report", "is:unred"}, []string{`did you mean is:unread?`, "report is:unred\n            ^"}},
		{[]string{"search", "before:2026-02-30"}, []string{"2026-02-30 is not a date on the calendar", "\n         ^"}},
		{[]string{"search", "a", "OR"}, []string{"OR needs a term on each side"}},
		{[]string{"search", "--sort", "colour", "x"}, []string{`--sort "colour"`}},
		{[]string{"search", "--all-folders", "-f", "Archive", "x"}, []string{"exclude each other"}},
		{[]string{"list", "--sort", "colour"}, []string{`--sort "colour"`}},
	}
	for _, tt := range tests {
		r := c.fails(2, tt.args...)
		for _, s := range tt.shown {
			if !strings.Contains(r.stderr, s) {
				t.Errorf("duomail %q: stderr lacks %q:\n%s", tt.args, s, r.stderr)
			}
		}
	}
	r := c.ok("search", "--help")
	for _, s := range []string{"from:  to:  cc:  subject:  body:", "has:attachment", "date:A..B", "larger:SIZE", "duomail search from:alice"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("search --help lacks %q", s)
		}
	}
}

type searchJSON struct {
	Query    string            `json:"query"`
	Folder   *string           `json:"folder"`
	Total    int               `json:"total"`
	Messages []client.Envelope `json:"messages"`
}

func subjectsOf(envs []client.Envelope) []string {
	var out []string
	for _, e := range envs {
		out = append(out, e.Subject)
	}
	slices.Sort(out)
	return out
}

// TestBinarySearchDovecot searches the sample mailbox over IMAP and checks
// that hits print exactly as list prints them.
func TestBinarySearchDovecot(t *testing.T) {
	t.Parallel()
	m := dovecotBothProtocols(t)
	c := m.c

	t.Run("json and the folder of each hit", func(t *testing.T) {
		r := jsonOf[searchJSON](t, c.ok("-a", "imap", "search", "--json", "subject:invoice"))
		if r.Total != 1 || len(r.Messages) != 1 || r.Messages[0].Subject != "Invoice March 2025" || r.Messages[0].Folder != client.Inbox ||
			r.Folder == nil || *r.Folder != client.Inbox || r.Query != "subject:invoice" {
			t.Errorf("search subject:invoice: %+v", r)
		}
		all := jsonOf[searchJSON](t, c.ok("-a", "imap", "search", "--json", "--all-folders", "from:ada OR from:linus"))
		got := map[string]string{}
		for _, e := range all.Messages {
			got[e.Subject] = e.Folder
		}
		if want := map[string]string{"Notes on the engine": "Archive", "Release notes": client.Inbox}; fmt.Sprint(got) != fmt.Sprint(want) || all.Folder != nil {
			t.Errorf("--all-folders: %v (folder %v), want %v", got, all.Folder, want)
		}
	})

	t.Run("rows are list's rows", func(t *testing.T) {
		listed := map[string][]string{}
		for _, row := range tsv(c.ok("-a", "imap", "list").stdout) {
			listed[row[0]] = row
		}
		rows := tsv(c.ok("-a", "imap", "search", "has:attachment").stdout)
		if len(rows) != 3 {
			t.Fatalf("has:attachment: %d rows, want 3: %q", len(rows), rows)
		}
		for _, row := range rows {
			if !slices.Equal(row, listed[row[0]]) {
				t.Errorf("search row %q, list row %q", row, listed[row[0]])
			}
		}
		rows = tsv(c.ok("-a", "imap", "search", "--all-folders", "from:ada").stdout)
		if len(rows) != 1 || rows[0][0] != "Archive" || rows[0][4] != "Notes on the engine" {
			t.Errorf("--all-folders TSV starts with the folder: %q", rows)
		}
	})

	t.Run("negation, phrases and non-ASCII from the command line", func(t *testing.T) {
		for _, tt := range []struct {
			args []string
			want []string
		}{
			{[]string{"release", "-from:linus"}, nil},
			{[]string{"-from:linus", "release"}, nil},
			{[]string{"NOT", "from:team", "sushi"}, nil},
			{[]string{"sushi", "-from:linus"}, []string{"Lunch on Friday?"}},
			{[]string{"subject:Grüße aus"}, []string{"Grüße aus Köln"}},
			{[]string{"body:nächste Woche"}, []string{"Grüße aus Köln"}},
			{[]string{"has:attachment", "-(from:photos OR from:billing)"}, []string{"Expenses and minutes"}},
			{[]string{"nothing-matches-this"}, nil},
		} {
			r := jsonOf[searchJSON](t, c.ok(append([]string{"-a", "imap", "search", "--json"}, tt.args...)...))
			if got := subjectsOf(r.Messages); !slices.Equal(got, tt.want) {
				t.Errorf("search %q: %q, want %q", tt.args, got, tt.want)
			}
		}
	})

	t.Run("POP3 searches its cache with the same answer", func(t *testing.T) {
		for _, q := range [][]string{{"has:attachment"}, {"subject:invoice"}, {"from:ada OR from:linus"}, {"body:nächste Woche"}, {"sushi", "-from:linus"}} {
			imapHits := jsonOf[searchJSON](t, c.ok(append([]string{"-a", "imap", "search", "--json"}, q...)...))
			popHits := jsonOf[searchJSON](t, c.ok(append([]string{"-a", "pop", "search", "--json"}, q...)...))
			if a, b := subjectsOf(imapHits.Messages), subjectsOf(popHits.Messages); !slices.Equal(a, b) || len(a) == 0 {
				t.Errorf("search %q: IMAP %q, POP3 %q", q, a, b)
			}
		}
	})

	t.Run("--thread groups hits into conversations", func(t *testing.T) {
		msg := func(id, subject, inReplyTo, refs string, day int) []byte {
			h := fmt.Sprintf("From: p@example.org\r\nTo: q@example.org\r\nSubject: %s\r\nDate: Mon, %02d Mar 2026 10:00:00 +0000\r\nMessage-ID: <%s>\r\n", subject, day, id)
			if inReplyTo != "" {
				h += "In-Reply-To: <" + inReplyTo + ">\r\n"
			}
			if refs != "" {
				h += "References: " + refs + "\r\n"
			}
			return []byte(h + "\r\nplanning\r\n")
		}
		m.d.Deliver(t, m.user, "Threads", msg("root@x", "Plan", "", "", 2))
		m.d.Deliver(t, m.user, "Threads", msg("reply@x", "Re: Plan", "root@x", "<root@x>", 3))
		m.d.Deliver(t, m.user, "Threads", msg("deeper@x", "Re: Re: Plan", "reply@x", "<root@x> <reply@x>", 4))
		m.d.Deliver(t, m.user, "Threads", msg("orphan@x", "Re: Lost", "gone@x", "<gone@x>", 5))
		var r struct {
			Messages []struct {
				Subject string `json:"subject"`
				Thread  string `json:"thread"`
				Depth   *int   `json:"depth"`
			} `json:"messages"`
		}
		out := c.ok("-a", "imap", "search", "--json", "--thread", "-f", "Threads", "body:planning")
		if err := json.Unmarshal([]byte(out.stdout), &r); err != nil {
			t.Fatal(err)
		}
		depth := map[string]int{}
		thread := map[string]string{}
		for _, h := range r.Messages {
			if h.Depth == nil || h.Thread == "" {
				t.Fatalf("--thread without thread/depth: %s", out.stdout)
			}
			depth[h.Subject], thread[h.Subject] = *h.Depth, h.Thread
		}
		if fmt.Sprint(depth) != fmt.Sprint(map[string]int{"Plan": 0, "Re: Plan": 1, "Re: Re: Plan": 2, "Re: Lost": 0}) ||
			thread["Plan"] != thread["Re: Re: Plan"] || thread["Plan"] == thread["Re: Lost"] {
			t.Errorf("threads: depth %v, thread %v", depth, thread)
		}
		plain := jsonOf[searchJSON](t, c.ok("-a", "imap", "search", "--json", "-f", "Threads", "body:planning"))
		if strings.Contains(c.ok("-a", "imap", "search", "--json", "-f", "Threads", "body:planning").stdout, `"depth"`) || len(plain.Messages) != 4 {
			t.Errorf("without --thread: %+v", plain)
		}
		tty := c.runChecked(runOptions{tty: true}, "-a", "imap", "search", "--thread", "-f", "Threads", "body:planning")
		if !strings.Contains(tty.stdout.String(), "  └ Re: Re: Plan") {
			t.Errorf("no tree on a terminal: %v", tty)
		}
	})

	t.Run("sort, reverse, offset", func(t *testing.T) {
		r := jsonOf[listJSON](t, c.ok("-a", "imap", "list", "--json", "--sort", "subject", "--limit", "2"))
		if len(r.Messages) != 2 || r.Messages[0].Subject != "Café à Paris" || r.Messages[1].Subject != "Expenses and minutes" {
			t.Errorf("list --sort subject --limit 2: %q", subjectsOf(r.Messages))
		}
		r = jsonOf[listJSON](t, c.ok("-a", "imap", "list", "--json", "--sort", "size", "--reverse", "--offset", "1", "--limit", "1"))
		all := jsonOf[listJSON](t, c.ok("-a", "imap", "list", "--json", "--sort", "size", "--reverse", "--limit", "0"))
		if len(r.Messages) != 1 || len(all.Messages) < 2 || r.Messages[0].ID != all.Messages[1].ID || all.Messages[0].Size > all.Messages[1].Size {
			t.Errorf("--sort size --reverse --offset 1: %v of %v", r.Messages, all.Messages)
		}
		s := jsonOf[searchJSON](t, c.ok("-a", "imap", "search", "--json", "--sort", "date", "--limit", "1", "--offset", "1", "has:attachment"))
		if s.Total != 3 || len(s.Messages) != 1 || s.Messages[0].Subject != "Holiday picture 🌴" {
			t.Errorf("search --sort date --offset 1 --limit 1: total %d %q", s.Total, subjectsOf(s.Messages))
		}
	})

	t.Run("a terminal user hears that the default limit cut the list", func(t *testing.T) {
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		raw := m.d.Deliver
		for i := 0; i < 54; i++ {
			raw(t, m.user, "Bulk", sourcetest.SimpleMessage(fmt.Sprintf("bulk %02d", i), base.Add(time.Duration(i)*time.Hour)))
		}
		raw(t, m.user, "Bulk", []byte("From: someone@example.org\r\nTo: x@example.org\r\nDate: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <nosubject@example.org>\r\n\r\nno subject here\r\n"))
		r := c.runChecked(runOptions{tty: true}, "-a", "imap", "list", "-f", "Bulk")
		if r.code != 0 || !strings.Contains(r.stderr.String(), "50 of 55 shown; --limit 0 for all") {
			t.Errorf("no cut notice: %v", r)
		}
		r = c.runChecked(runOptions{tty: true}, "-a", "imap", "search", "-f", "Bulk", "bulk")
		if r.code != 0 || !strings.Contains(r.stderr.String(), "50 of 54 shown; --limit 0 for all") {
			t.Errorf("no cut notice for search: %v", r)
		}
		for _, args := range [][]string{{"--limit", "50"}, {"--json"}} {
			r = c.runChecked(runOptions{tty: true}, append([]string{"-a", "imap", "list", "-f", "Bulk"}, args...)...)
			if strings.Contains(r.stderr.String(), "shown") {
				t.Errorf("notice with %q: %v", args, r)
			}
		}
		if p := c.ok("-a", "imap", "list", "-f", "Bulk"); strings.Contains(p.stderr, "shown") {
			t.Errorf("notice to a pipe: %v", p)
		}

		r = c.runChecked(runOptions{tty: true}, "-a", "imap", "list", "-f", "Bulk", "--sort", "subject", "--limit", "1")
		if !strings.Contains(r.stdout.String(), "(no subject)") {
			t.Errorf("empty subject not shown as (no subject) on a terminal: %v", r)
		}
		rows := tsv(c.ok("-a", "imap", "list", "-f", "Bulk", "--sort", "subject", "--limit", "1").stdout)
		if len(rows) != 1 || rows[0][3] != "" {
			t.Errorf("piped, an empty subject stays empty: %q", rows)
		}
	})

	t.Run("stats: one UID SEARCH plus the envelopes of the hits", func(t *testing.T) {
		base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
		fill := func(folder string, filler, hits int) {
			for i := 0; i < filler; i++ {
				m.d.Deliver(t, m.user, folder, sourcetest.SimpleMessage(fmt.Sprintf("filler %d", i), base.Add(time.Duration(i)*time.Minute)))
			}
			for i := 0; i < hits; i++ {
				m.d.Deliver(t, m.user, folder, sourcetest.SimpleMessage(fmt.Sprintf("needle %d", i), base.Add(time.Duration(i)*time.Hour)))
			}
		}
		fill("Small", 20, 10)
		fill("Large", 400, 10)
		fill("Many", 20, 100)
		search := func(folder string) client.OpCounts {
			r := c.ok("-a", "imap", "search", "--json", "--stats", "--limit", "0", "-f", folder, "subject:needle")
			out := jsonOf[struct {
				searchJSON
				Stats statsJSON `json:"stats"`
			}](t, r)
			for _, op := range out.Stats.Ops {
				if op.Op == "search" {
					t.Logf("%s: %d hits: %s", folder, len(out.Messages), strings.TrimSpace(r.stderr))
					return op
				}
			}
			t.Fatalf("no search op in --stats: %s", r.stdout)
			return client.OpCounts{}
		}
		small, large, many := search("Small"), search("Large"), search("Many")
		// Login, SELECT, UID SEARCH, UID FETCH of the hits (and LOGOUT
		// at the end, outside the search): the same count whatever the
		// folder's size.
		if small.Commands != large.Commands || many.Commands != small.Commands {
			t.Errorf("commands: %d (30 messages), %d (410), %d (120 with 100 hits)", small.Commands, large.Commands, many.Commands)
		}
		if large.Received > small.Received+400 {
			t.Errorf("bytes received grow with the folder: %d for 410 messages, %d for 30", large.Received, small.Received)
		}
		if many.Received < 5*small.Received/2 {
			t.Errorf("bytes received do not grow with the hits: %d for 100 hits, %d for 10", many.Received, small.Received)
		}
	})
}
