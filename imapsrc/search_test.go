package imapsrc

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/query"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

// searchCorpus is a small folder with every kind of term in it.
func searchCorpus() map[string][]byte {
	msg := func(from, to, cc, subject, date, ctype, body string) []byte {
		h := "From: " + from + "\r\nTo: " + to + "\r\n"
		if cc != "" {
			h += "Cc: " + cc + "\r\n"
		}
		return []byte(h + "Subject: " + subject + "\r\nDate: " + date + "\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") +
			"@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: " + ctype + "\r\n\r\n" + body + "\r\n")
	}
	plain := "text/plain; charset=utf-8"
	att := string(sourcetest.AttachmentMessage("Holiday photos", "beach.pdf", 12000))
	att = strings.Replace(att, "Subject: Holiday photos", "Subject: Holiday photos\r\nDate: Fri, 20 Feb 2026 09:00:00 +0000", 1)
	inv := string(sourcetest.AttachmentMessage("Invoice 42", "invoice.pdf", 3000))
	inv = strings.Replace(inv, "Subject: Invoice 42", "Subject: Invoice 42\r\nDate: Thu, 05 Mar 2026 09:00:00 +0000", 1)
	return map[string][]byte{
		"Quarterly report":     msg("Alice <alice@example.org>", "bob@example.org", "Carol <carol@example.org>", "Quarterly report", "Mon, 02 Mar 2026 10:00:00 +0000", plain, "The numbers for März are in."),
		"Lunch plans":          msg("Bob <bob@example.org>", "alice@example.org", "", "Lunch plans", "Tue, 10 Mar 2026 12:00:00 +0000", plain, "Pizza or sushi?"),
		"Re: Quarterly report": msg("Carol <carol@example.org>", "alice@example.org", "", "Re: Quarterly report", "Sun, 15 Mar 2026 08:00:00 +0000", plain, "Looks good to me."),
		"Holiday photos":       []byte(att),
		"Invoice 42":           []byte(inv),
	}
}

// TestSearchOnDovecot runs queries of every kind through one UID SEARCH
// on Dovecot and checks the hits by subject, and that has:attachment is
// decided from the structures of the server's candidates.
func TestSearchOnDovecot(t *testing.T) {
	b := dovecotBackend(t, sourcetest.DovecotOptions{})
	b.newBox(t)
	for _, raw := range searchCorpus() {
		b.deliver(t, "alice", b.box, raw)
	}
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	ctx := context.Background()
	ref := client.FolderRef{Name: b.box}
	// Flag one message, as a user would have.
	env := findBySubject(t, s, ref, "Re: Quarterly report")
	if err := s.SetFlags(ctx, ref, []string{env.ID}, client.FlagAdd, []client.Flag{client.FlagFlagged}); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		q    string
		want []string
	}{
		{"from:alice", []string{"Quarterly report"}},
		{"report", []string{"Quarterly report", "Re: Quarterly report"}},
		{`"quarterly report"`, []string{"Quarterly report", "Re: Quarterly report"}},
		{"cc:carol", []string{"Quarterly report"}},
		{"to:bob", []string{"Quarterly report"}},
		{"body:sushi", []string{"Lunch plans"}},
		{"subject:lunch OR subject:holiday", []string{"Holiday photos", "Lunch plans"}},
		{"-report -has:attachment", []string{"Lunch plans"}},
		{"is:flagged", []string{"Re: Quarterly report"}},
		{"is:unread subject:lunch", []string{"Lunch plans"}},
		{"has:attachment", []string{"Holiday photos", "Invoice 42"}},
		{"has:attachment OR from:bob", []string{"Holiday photos", "Invoice 42", "Lunch plans"}},
		{"-has:attachment from:carol", []string{"Re: Quarterly report"}},
		{"(has:attachment larger:10k) OR is:flagged", []string{"Holiday photos", "Re: Quarterly report"}},
		{"body:März", []string{"Quarterly report"}},
		// What the README says of Dovecot without fts: substrings, case
		// folded beyond ASCII, accents kept.
		{"body:MÄRZ", []string{"Quarterly report"}},
		{"body:marz", nil},
		{"subject:uarterl", []string{"Quarterly report", "Re: Quarterly report"}},
		{"after:2026-03-05", []string{"Invoice 42", "Lunch plans", "Re: Quarterly report"}},
		{"before:2026-03-05", []string{"Holiday photos", "Quarterly report"}},
		{"date:2026-03-01..2026-03-10", []string{"Invoice 42", "Lunch plans", "Quarterly report"}},
		{"date:2026-03-10", []string{"Lunch plans"}},
		{"after:2026-03-01 before:2026-03-11 after:2026-03-03", []string{"Invoice 42", "Lunch plans"}},
		{"larger:10k", []string{"Holiday photos"}},
		{"smaller:1k", []string{"Lunch plans", "Quarterly report", "Re: Quarterly report"}},
		{"nothingmatchesthis", nil},
	}
	for _, tt := range tests {
		got := searchSubjects(t, s, ref, tt.q, client.ListOptions{})
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.q, got, tt.want)
		}
	}

	t.Run("one UID SEARCH with ESEARCH and CHARSET only for non-ASCII", func(t *testing.T) {
		trace.Reset()
		searchSubjects(t, s, ref, "from:alice report", client.ListOptions{})
		sent := clientLines(trace.String())
		if n := countPrefix(sent, "UID SEARCH"); n != 1 {
			t.Errorf("%d UID SEARCH, want 1:\n%s", n, strings.Join(sent, "\n"))
		}
		if !containsLine(sent, "UID SEARCH RETURN (") || containsLine(sent, "CHARSET") {
			t.Errorf("want RETURN (ALL COUNT) and no CHARSET for ASCII:\n%s", strings.Join(sent, "\n"))
		}
		trace.Reset()
		searchSubjects(t, s, ref, "body:März", client.ListOptions{})
		if sent := clientLines(trace.String()); !containsLine(sent, "CHARSET UTF-8") {
			t.Errorf("non-ASCII without CHARSET UTF-8:\n%s", strings.Join(sent, "\n"))
		}
	})

	t.Run("has:attachment is decided from BODYSTRUCTURE, shown in the trace", func(t *testing.T) {
		trace.Reset()
		searchSubjects(t, s, ref, "has:attachment OR from:bob", client.ListOptions{})
		out := trace.String()
		if !strings.Contains(out, "# has:attachment: ") || !strings.Contains(out, "BODYSTRUCTURE") {
			t.Errorf("trace does not show the structure step:\n%s", out)
		}
		sent := clientLines(out)
		// Taken as true and as false: two searches, then the structures.
		if n := countPrefix(sent, "UID SEARCH"); n != 2 {
			t.Errorf("%d UID SEARCH, want 2:\n%s", n, strings.Join(sent, "\n"))
		}
		trace.Reset()
		searchSubjects(t, s, ref, "has:attachment from:sender", client.ListOptions{})
		if n := countPrefix(clientLines(trace.String()), "UID SEARCH"); n != 1 {
			t.Errorf("has:attachment among terms side by side: %d UID SEARCH, want 1", n)
		}
	})

	t.Run("sort, reverse, offset and limit", func(t *testing.T) {
		all := searchSubjects(t, s, ref, "-nothingmatchesthis", client.ListOptions{Sort: client.SortDate})
		want := []string{"Re: Quarterly report", "Lunch plans", "Invoice 42", "Quarterly report", "Holiday photos"}
		if !slices.Equal(all, want) {
			t.Errorf("--sort date = %q, want %q", all, want)
		}
		if !s.caps.Has(imap.CapSort) {
			t.Fatalf("Dovecot without SORT?")
		}
		got := searchSubjects(t, s, ref, "-nothingmatchesthis", client.ListOptions{Sort: client.SortDate, Reverse: true, Offset: 1, Limit: 2})
		if !slices.Equal(got, []string{"Quarterly report", "Invoice 42"}) {
			t.Errorf("reverse offset 1 limit 2 = %q", got)
		}
		got = searchSubjects(t, s, ref, "-nothingmatchesthis", client.ListOptions{Sort: client.SortSize, Limit: 2})
		if !slices.Equal(got, []string{"Holiday photos", "Invoice 42"}) {
			t.Errorf("--sort size = %q", got)
		}
		got = searchSubjects(t, s, ref, "has:attachment OR report", client.ListOptions{Sort: client.SortSubject})
		// The two reports share a base subject: SORT leaves their order to
		// the folder's, which here is the (random) delivery order.
		if len(got) == 4 && got[2] == "Re: Quarterly report" {
			got[2], got[3] = got[3], got[2]
		}
		if !slices.Equal(got, []string{"Holiday photos", "Invoice 42", "Quarterly report", "Re: Quarterly report"}) {
			t.Errorf("--sort subject = %q", got)
		}
		res, err := s.Search(ctx, ref, mustParse(t, "report OR lunch"), client.ListOptions{Limit: 1}, func(client.Envelope) error { return nil })
		if err != nil || res.Total != 3 {
			t.Errorf("Total = %d, %v; want 3", res.Total, err)
		}
	})
}

// TestSearchWithoutSortSortsLocally: imapmemserver has no SORT; date order
// comes from the hits' envelopes, the same as Dovecot's SORT gives.
func TestSearchWithoutSortSortsLocally(t *testing.T) {
	b := memBackend(t, imaptest.Options{})
	b.newBox(t)
	for _, raw := range searchCorpus() {
		b.deliver(t, "alice", b.box, sourcetest.WireForm(raw))
	}
	s := b.dial(t, "alice", client.DialOptions{})
	if s.caps.Has(imap.CapSort) {
		t.Fatal("imapmemserver announces SORT; this test needs a server without")
	}
	if s.Capabilities().Has(client.FeatureServerSort) {
		t.Error("capabilities claim server_sort without SORT")
	}
	ref := client.FolderRef{Name: b.box}
	got := searchSubjects(t, s, ref, "-nothingmatchesthis", client.ListOptions{Sort: client.SortDate, Limit: 3})
	if want := []string{"Re: Quarterly report", "Lunch plans", "Invoice 42"}; !slices.Equal(got, want) {
		t.Errorf("--sort date without SORT = %q, want %q", got, want)
	}
	got = searchSubjects(t, s, ref, "has:attachment", client.ListOptions{})
	if want := []string{"Holiday photos", "Invoice 42"}; !slices.Equal(got, want) {
		t.Errorf("has:attachment = %q", got)
	}
}

// TestSearchBytesGrowWithHitsNotFolder pins what --stats shows for an IMAP
// search: one UID SEARCH plus one fetch of the hits' envelopes, and bytes
// received that do not grow with the folder.
func TestSearchBytesGrowWithHitsNotFolder(t *testing.T) {
	b := dovecotBackend(t, sourcetest.DovecotOptions{})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	measure := func(folder string, filler, hits int) client.Counts {
		b.box = folder
		b.createFolder(t, "alice", folder)
		for i := 0; i < filler; i++ {
			b.deliver(t, "alice", folder, sourcetest.SimpleMessage(fmt.Sprintf("filler %d", i), base.Add(time.Duration(i)*time.Minute)))
		}
		for i := 0; i < hits; i++ {
			b.deliver(t, "alice", folder, sourcetest.SimpleMessage(fmt.Sprintf("needle %d", i), base.Add(time.Duration(i)*time.Hour)))
		}
		stats := client.NewWireStats(client.IMAP)
		s := b.dial(t, "alice", client.DialOptions{Stats: stats})
		ref := client.FolderRef{Name: folder}
		// Select first, so the measure holds the search alone.
		if _, err := s.Status(context.Background(), folder); err != nil {
			t.Fatal(err)
		}
		n := 0
		c, err := stats.Measure("search", func() error {
			_, err := s.Search(context.Background(), ref, mustParse(t, "subject:needle"), client.ListOptions{}, func(client.Envelope) error { n++; return nil })
			return err
		})
		if err != nil || n != hits {
			t.Fatalf("%s: %d hits, %v; want %d", folder, n, err, hits)
		}
		t.Logf("%d messages, %d hits: %d commands, %d bytes sent, %d received", filler+hits, hits, c.Commands, c.Sent, c.Received)
		return c
	}
	small := measure("small", 20, 3)
	big := measure("big", 400, 3)
	more := measure("more", 20, 30)
	for _, c := range []client.Counts{small, big, more} {
		if c.Commands != 2 {
			t.Errorf("search took %d commands, want 2 (UID SEARCH, UID FETCH)", c.Commands)
		}
	}
	// The UID list of the hits is a few bytes either way; 20x the folder
	// must not cost more than a few hundred bytes.
	if big.Received > small.Received+200 {
		t.Errorf("400+3 messages received %d bytes, 20+3 received %d: grows with the folder", big.Received, small.Received)
	}
	if more.Received < small.Received*5 {
		t.Errorf("30 hits received %d bytes, 3 hits %d: does not grow with the hits", more.Received, small.Received)
	}
}

func mustParse(t testing.TB, q string) query.Node {
	t.Helper()
	n, err := query.Parse(q, time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC), time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// searchSubjects returns the subjects of the hits, sorted unless opts
// asks for an order.
func searchSubjects(t testing.TB, s *Source, ref client.FolderRef, q string, opts client.ListOptions) []string {
	t.Helper()
	var out []string
	res, err := s.Search(context.Background(), ref, mustParse(t, q), opts, func(e client.Envelope) error {
		out = append(out, e.Subject)
		return nil
	})
	if err != nil {
		t.Fatalf("search %s: %v", q, err)
	}
	if opts.Sort == "" {
		slices.Sort(out)
	}
	if opts.Limit == 0 && opts.Offset == 0 && res.Total != len(out) {
		t.Errorf("search %s: Total %d, delivered %d", q, res.Total, len(out))
	}
	return out
}

func findBySubject(t testing.TB, s *Source, ref client.FolderRef, subject string) client.Envelope {
	t.Helper()
	var found client.Envelope
	_, err := s.List(context.Background(), ref, client.ListOptions{}, func(e client.Envelope) error {
		if e.Subject == subject {
			found = e
		}
		return nil
	})
	if err != nil || found.ID == "" {
		t.Fatalf("%s not listed: %v", subject, err)
	}
	return found
}

// clientLines returns the commands of a trace without their tags.
func clientLines(trace string) []string {
	var out []string
	for _, l := range strings.Split(trace, "\n") {
		if rest, ok := strings.CutPrefix(l, "C: "); ok {
			if _, cmd, ok := strings.Cut(rest, " "); ok {
				out = append(out, cmd)
			}
		}
	}
	return out
}

func countPrefix(lines []string, prefix string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func containsLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}
