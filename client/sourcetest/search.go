package sourcetest

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/duomail/duomail/client/query"
)

// SearchMessage is one message of the search corpus: its Message-ID
// (without brackets), the flags a user gave it, its Date and raw bytes.
type SearchMessage struct {
	ID    string
	Flags []string // client.Flag names: "seen", "flagged", "answered", "draft"
	Date  time.Time
	Raw   []byte
}

// SearchCase is one query of the search corpus and the Message-IDs it
// finds. WantIMAP, when Inherent is set, is what an IMAP server (Dovecot's
// substring search) finds instead, for a reason Inherent names.
type SearchCase struct {
	Name     string
	Query    query.Node
	Want     []string
	Inherent string
	WantIMAP []string
}

func corpusDate(month time.Month, day int) time.Time {
	// Noon UTC: the same calendar day in every zone from -11 to +11, so
	// date terms (midnight local time) mean the same day on any machine.
	return time.Date(2026, month, day, 12, 0, 0, 0, time.UTC)
}

func corpusMessage(id, from, to, cc, subject string, date time.Time, extraHeader, contentType, body string) []byte {
	var b strings.Builder
	b.WriteString("From: " + from + "\r\n")
	if to != "" {
		b.WriteString("To: " + to + "\r\n")
	}
	if cc != "" {
		b.WriteString("Cc: " + cc + "\r\n")
	}
	if subject != "" {
		b.WriteString("Subject: " + subject + "\r\n")
	}
	b.WriteString("Date: " + date.Format(time.RFC1123Z) + "\r\n")
	b.WriteString("Message-ID: <" + id + ">\r\n")
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString(extraHeader)
	b.WriteString("Content-Type: " + contentType + "\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n"))
	return []byte(b.String())
}

// SearchCorpus is the corpus the search tests of both protocols share:
// plain, quoted-printable, HTML-only, alternative and attachment messages,
// encoded and non-ASCII headers, a big one, a reply chain and a reply to a
// message that is not there.
func SearchCorpus() []SearchMessage {
	var logs strings.Builder
	for i := 0; logs.Len() < 60_000; i++ {
		fmt.Fprintf(&logs, "%05d service restarted after watchdog timeout\n", i)
	}
	const plain = "text/plain; charset=utf-8"
	msgs := []SearchMessage{
		{ID: "s01@corpus.test", Flags: []string{"seen"}, Date: corpusDate(1, 5), Raw: corpusMessage("s01@corpus.test",
			"Alice Example <alice@example.org>", "Bob <bob@example.net>", "", "Quarterly report", corpusDate(1, 5), "", plain,
			"Please find the quarterly figures below.\nRevenue grew by ten percent.\n")},
		{ID: "s02@corpus.test", Flags: []string{"seen", "answered"}, Date: corpusDate(1, 6), Raw: corpusMessage("s02@corpus.test",
			"=?utf-8?q?Carol_D=C3=ADaz?= <carol@example.com>", "alice@example.org", "Dave <dave@example.org>", "Re: Quarterly report", corpusDate(1, 6),
			"In-Reply-To: <s01@corpus.test>\r\nReferences: <s01@corpus.test>\r\n", plain,
			"Thanks, the figures look fine. Let us meet on Friday.\n")},
		{ID: "s03@corpus.test", Flags: []string{"flagged"}, Date: corpusDate(3, 10), Raw: corpusMessage("s03@corpus.test",
			"Bob <bob@example.net>", "alice@example.org", "", "=?utf-8?q?Lunch_im_M=C3=A4rz?=", corpusDate(3, 10),
			"Content-Transfer-Encoding: quoted-printable\r\n", plain,
			"Treffen wir uns zum Mittagessen? Gr=C3=BC=C3=9Fe aus M=C3=BCnchen\n")},
		{ID: "s04@corpus.test", Date: corpusDate(2, 14), Raw: corpusMessage("s04@corpus.test",
			"Shop <newsletter@shop.example>", "alice@example.org", "", "Big sale this weekend", corpusDate(2, 14), "", "text/html; charset=utf-8",
			"<html><body><p>Everything <b>half price</b> until Sunday.</p></body></html>\n")},
		{ID: "s05@corpus.test", Flags: []string{"seen", "flagged"}, Date: corpusDate(2, 20), Raw: corpusMessage("s05@corpus.test",
			"Dave <dave@example.org>", "alice@example.org, Bob <bob@example.net>", "", "Project kickoff", corpusDate(2, 20), "",
			`multipart/alternative; boundary="alt"`,
			"--alt\nContent-Type: text/plain; charset=utf-8\n\nThe kickoff meeting is on Monday in room Zeppelin.\n"+
				"--alt\nContent-Type: text/html; charset=utf-8\n\n<p>The kickoff meeting is on Monday in room <i>Zeppelin</i>.</p>\n--alt--\n")},
		{ID: "s06@corpus.test", Date: corpusDate(2, 2), Raw: corpusMessage("s06@corpus.test",
			"Alice Example <alice@example.org>", "accounts@example.com", "", "Invoice 2026-017", corpusDate(2, 2), "",
			`multipart/mixed; boundary="mix"`,
			"--mix\nContent-Type: text/plain; charset=utf-8\n\nAttached is the invoice for January.\n"+
				"--mix\nContent-Type: application/pdf; name=\"invoice.pdf\"\nContent-Disposition: attachment; filename=\"invoice.pdf\"\nContent-Transfer-Encoding: base64\n\n"+
				"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K\n--mix--\n")},
		{ID: "s07@corpus.test", Date: corpusDate(3, 1), Raw: corpusMessage("s07@corpus.test",
			"Operations <ops@example.org>", "alice@example.org", "", "Server logs", corpusDate(3, 1), "", plain, logs.String())},
		{ID: "s08@corpus.test", Date: corpusDate(3, 5), Raw: corpusMessage("s08@corpus.test",
			"=?utf-8?q?Zo=C3=AB_=C3=85lander?= <zoe@example.org>", "alice@example.org", "", "=?utf-8?b?Q2Fmw6kgbWVldGluZyBub3Rlcw==?=", corpusDate(3, 5),
			"Content-Transfer-Encoding: 8bit\r\n", plain, "Notes from the café: the espresso machine is broken.\n")},
		{ID: "s09@corpus.test", Date: corpusDate(3, 11), Raw: corpusMessage("s09@corpus.test",
			"=?utf-8?q?Carol_D=C3=ADaz?= <carol@example.com>", "Dave <dave@example.org>", "", "Re: Re: Project kickoff", corpusDate(3, 11),
			"In-Reply-To: <s05@corpus.test>\r\nReferences: <s05@corpus.test>\r\n", plain, "Count me in for Monday.\n")},
		{ID: "s10@corpus.test", Flags: []string{"draft"}, Date: corpusDate(4, 1), Raw: corpusMessage("s10@corpus.test",
			"Bob <bob@example.net>", "alice@example.org", "", "", corpusDate(4, 1), "", plain, "Reminder: dentist appointment tomorrow.\n")},
		{ID: "s11@corpus.test", Date: corpusDate(4, 3), Raw: corpusMessage("s11@corpus.test",
			"Digest <digest@lists.example>", "subscribers@lists.example", "carol@example.com", "Weekly digest", corpusDate(4, 3), "", plain,
			"Top stories: quantum computing advances.\n")},
		{ID: "s12@corpus.test", Date: corpusDate(4, 7), Raw: corpusMessage("s12@corpus.test",
			"Dave <dave@example.org>", "alice@example.org", "", "Re: Old thread", corpusDate(4, 7),
			"In-Reply-To: <missing@corpus.test>\r\nReferences: <missing@corpus.test>\r\n", plain,
			"Replying to something you no longer have.\n")},
	}
	return msgs
}

// SearchCases are the queries run against SearchCorpus, in loc (the time
// zone date terms are meant in). Expected sizes come from the corpus.
func SearchCases(loc *time.Location) []SearchCase {
	day := func(month time.Month, d int) time.Time { return time.Date(2026, month, d, 0, 0, 0, 0, loc) }
	corpus := SearchCorpus()
	sizeWhere := func(keep func(int) bool) []string {
		var out []string
		for _, m := range corpus {
			if keep(len(m.Raw)) {
				out = append(out, m.ID)
			}
		}
		return out
	}
	flagged := func(name string, set bool) []string {
		var out []string
		for _, m := range corpus {
			has := false
			for _, f := range m.Flags {
				has = has || f == name
			}
			if has == set {
				out = append(out, m.ID)
			}
		}
		return out
	}
	all := sizeWhere(func(int) bool { return true })
	t := func(f query.Field, v string) query.Text { return query.Text{Field: f, Value: v} }
	p := func(f query.Field, v string) query.Text { return query.Text{Field: f, Value: v, Phrase: true} }
	ids := func(ns ...int) []string {
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = fmt.Sprintf("s%02d@corpus.test", n)
		}
		return out
	}
	cases := []SearchCase{
		{Name: "from word", Query: t(query.From, "alice"), Want: ids(1, 6)},
		{Name: "from substring", Query: t(query.From, "lic"), Want: ids(1, 6)},
		{Name: "from address domain", Query: t(query.From, "example.com"), Want: ids(2, 9)},
		{Name: "from encoded non-ASCII name", Query: t(query.From, "Zoë"), Want: ids(8)},
		{Name: "to name", Query: t(query.To, "bob"), Want: ids(1, 5)},
		{Name: "cc", Query: t(query.Cc, "dave"), Want: ids(2)},
		{Name: "cc address", Query: t(query.Cc, "carol@example.com"), Want: ids(11)},
		{Name: "subject word", Query: t(query.Subject, "kickoff"), Want: ids(5, 9)},
		{Name: "subject phrase", Query: p(query.Subject, "quarterly report"), Want: ids(1, 2)},
		{Name: "subject upper case", Query: t(query.Subject, "WEEKLY"), Want: ids(11)},
		{Name: "subject encoded non-ASCII", Query: t(query.Subject, "März"), Want: ids(3)},
		{Name: "subject encoded word", Query: t(query.Subject, "café"), Want: ids(8)},
		{Name: "body word", Query: t(query.Body, "figures"), Want: ids(1, 2)},
		{Name: "body word prefix", Query: t(query.Body, "quarter"), Want: ids(1)},
		{Name: "body phrase", Query: p(query.Body, "meet on friday"), Want: ids(2)},
		{Name: "body of HTML-only message", Query: p(query.Body, "half price"), Want: ids(4)},
		{Name: "body of alternative", Query: t(query.Body, "zeppelin"), Want: ids(5)},
		{Name: "body quoted-printable non-ASCII", Query: t(query.Body, "München"), Want: ids(3)},
		{Name: "body 8bit non-ASCII", Query: t(query.Body, "café"), Want: ids(8)},
		{Name: "anywhere subject or body", Query: t(query.Anywhere, "invoice"), Want: ids(6)},
		{Name: "anywhere body only", Query: t(query.Anywhere, "espresso"), Want: ids(8)},
		{Name: "anywhere no hit", Query: t(query.Anywhere, "xylophone"), Want: nil},
		{Name: "unread", Query: query.Flag{Name: "seen", Set: false}, Want: flagged("seen", false)},
		{Name: "read", Query: query.Flag{Name: "seen", Set: true}, Want: flagged("seen", true)},
		{Name: "flagged", Query: query.Flag{Name: "flagged", Set: true}, Want: flagged("flagged", true)},
		{Name: "answered", Query: query.Flag{Name: "answered", Set: true}, Want: flagged("answered", true)},
		{Name: "draft", Query: query.Flag{Name: "draft", Set: true}, Want: flagged("draft", true)},
		{Name: "has attachment", Query: query.HasAttachment{}, Want: ids(6)},
		{Name: "larger", Query: query.Size{Larger: 50_000}, Want: sizeWhere(func(n int) bool { return n > 50_000 })},
		{Name: "smaller", Query: query.Size{Smaller: 400}, Want: sizeWhere(func(n int) bool { return n < 400 })},
		{Name: "since", Query: query.Date{Since: day(3, 10)}, Want: ids(3, 9, 10, 11, 12)},
		{Name: "before", Query: query.Date{Before: day(2, 2)}, Want: ids(1, 2)},
		{Name: "date range", Query: query.Date{Since: day(2, 2), Before: day(3, 5)}, Want: ids(4, 5, 6, 7)},
		{Name: "or", Query: query.Or{Terms: []query.Node{t(query.From, "bob"), t(query.From, "carol")}}, Want: ids(2, 3, 9, 10)},
		{Name: "not", Query: query.Not{Term: t(query.From, "example.org")}, Want: ids(2, 3, 4, 9, 10, 11)},
		{Name: "and with not", Query: query.And{Terms: []query.Node{t(query.Body, "monday"), query.Not{Term: t(query.From, "carol")}}}, Want: ids(5)},
		{Name: "grouped or with key", Query: query.And{Terms: []query.Node{
			query.Or{Terms: []query.Node{t(query.From, "alice"), t(query.From, "dave")}}, query.HasAttachment{}}}, Want: ids(6)},
		{Name: "three terms with date range", Query: query.And{Terms: []query.Node{
			t(query.Subject, "re"), query.Flag{Name: "seen", Set: false}, query.Date{Since: day(3, 1), Before: day(5, 1)}}}, Want: ids(9, 12)},
		{Name: "not unread and flagged", Query: query.And{Terms: []query.Node{
			query.Not{Term: query.Flag{Name: "seen", Set: false}}, query.Flag{Name: "flagged", Set: true}}}, Want: ids(5)},
		{Name: "empty and matches everything", Query: query.And{}, Want: all},

		{Name: "body infix", Query: t(query.Body, "venue"), Want: nil, WantIMAP: ids(1),
			Inherent: "IMAP BODY matches any substring (\"venue\" in \"Revenue\"); the local index matches words and word beginnings"},
		{Name: "anywhere other header", Query: t(query.Anywhere, "corpus.test"), Want: nil, WantIMAP: all,
			Inherent: "IMAP TEXT searches every header field (here Message-ID); the local index only From, To, Cc and Subject"},
		{Name: "subject without diacritics", Query: t(query.Subject, "marz"), Want: ids(3), WantIMAP: nil,
			Inherent: "the local index folds diacritics (marz finds März); Dovecot compares them"},
	}
	for i := range cases {
		sort.Strings(cases[i].Want)
		sort.Strings(cases[i].WantIMAP)
	}
	return cases
}
