package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime"
	"mime/quotedprintable"
	"strings"
	"sync"
	"time"

	"github.com/duomail/duomail/client/mimepart"
)

// sampleMessage is one message of the demo mailbox. The same messages go
// to the IMAP and the POP3 demo server (POP3 gets the INBOX ones: it has
// no other folder), and the tests deliver them too.
type sampleMessage struct {
	Folder string
	Date   time.Time
	Seen   bool
	Raw    []byte
	// Attachments are the decoded bytes of each attachment, by file name,
	// for tests to compare saved files against.
	Attachments map[string][]byte
}

// sampleIndex looks messages of the sample mailbox up.
type sampleIndex struct {
	mail []sampleMessage
}

func (s sampleIndex) inFolder(folder string) []sampleMessage {
	var out []sampleMessage
	for _, m := range s.mail {
		if m.Folder == folder {
			out = append(out, m)
		}
	}
	return out
}

// sampleSubject reads the subject back from the raw message.
func sampleSubject(m sampleMessage) string {
	env, _, _ := mimepart.ParseMessage(bytes.NewReader(m.Raw))
	return env.Subject
}

// sampleBase is the date of the first sample message; the others follow
// a few hours apart, so "newest first" is well defined.
var sampleBase = time.Date(2025, 3, 3, 8, 30, 0, 0, time.UTC)

// samplePNG is a beach photo of sorts: 320x200 pixels of sky, sea and
// sand with grain, about 190 KB that do not compress. It makes the one
// large attachment of the sample mailbox, so compare shows the difference
// between fetching a message's text alone (IMAP) and downloading all of it
// (POP3). Drawn on first use: only the demo and its tests need it, and
// drawing it costs every other command some 15 ms at start-up.
var samplePNG = sync.OnceValue(func() []byte { return makeBeachPNG(320, 200) })

func makeBeachPNG(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	seed := uint32(2025)
	grain := func() int {
		seed = seed*1664525 + 1013904223 // a fixed LCG: the same picture every time
		return int(seed>>24)%48 - 24
	}
	clamp := func(v int) uint8 { return uint8(min(255, max(0, v))) }
	for y := range h {
		for x := range w {
			var r, g, b int
			switch {
			case y < h*2/5: // sky
				r, g, b = 120+y/2, 180+y/3, 240
			case y < h*3/5: // sea
				r, g, b = 20, 110+x%40, 170
			default: // sand
				r, g, b = 225, 200, 150
			}
			n := grain()
			img.Set(x, y, color.NRGBA{clamp(r + n), clamp(g + n), clamp(b + n), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

const sampleCSV = "date,amount,currency\n2025-03-01,12.50,EUR\n2025-03-02,7.00,EUR\n"

const samplePDF = "%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

// sampleMail builds the demo mailbox: a dozen messages in INBOX (plain,
// HTML-only, alternative, attachments, non-ASCII subjects and bodies in
// several charsets, one with hostile control sequences in its subject) and
// a few in Archive.
func sampleMail() []sampleMessage {
	var out []sampleMessage
	n := 0
	add := func(folder string, seen bool, b *mailBuilder) {
		date := sampleBase.Add(time.Duration(n) * 5 * time.Hour)
		n++
		out = append(out, sampleMessage{
			Folder: folder, Date: date, Seen: seen,
			Raw:         b.build(date, n),
			Attachments: b.attachments,
		})
	}

	add("Archive", true, newMail("Ada Lovelace <ada@example.org>", "Notes on the engine").
		text("Charles,\n\nI have finished the notes. The engine might compose music,\nif pitch and harmony were expressed as numbers.\n\nAda\n"))
	add("Archive", true, newMail("Grace Hopper <grace@example.net>", "A bug, literally").
		text("We found a moth in relay 70, panel F. Taped it into the log book.\n"))
	add("Archive", true, newMail("Ken Thompson <ken@example.com>", "Re: the editor").
		text("ed is the standard text editor.\n"))

	add("INBOX", true, newMail("duomail <hello@duomail.example>", "Welcome to duomail").
		text("Hello!\n\nThis mailbox is served by duomail's built-in test servers, over\nIMAP and POP3 at the same time. Try list, fetch, flag and delete.\n"))
	add("INBOX", true, newMail("Jürgen Müller <juergen@example.de>", "Grüße aus Köln").
		textCharset("Hallo,\n\nviele Grüße aus Köln – bis nächste Woche!\n\nJürgen\n", "utf-8"))
	add("INBOX", false, newMail("Newsletter <news@shop.example>", "Spring sale: 20% off").
		html("<html><body><h1>Spring sale</h1><p>Everything <b>20% off</b> until Sunday.</p><ul><li>Bikes</li><li>Tents</li></ul><p><a href=\"https://shop.example/sale\">Shop now</a></p></body></html>"))
	add("INBOX", true, newMail("Linus <linus@example.fi>", "Release notes").
		alternative("Release 1.2 is out.\n\n- faster sync\n- fewer bugs\n",
			"<p>Release <b>1.2</b> is out.</p><ul><li>faster sync</li><li>fewer bugs</li></ul>"))
	add("INBOX", false, newMail("Accounts <billing@example.com>", "Invoice March 2025").
		text("Please find the invoice attached.\n").
		attach("invoice-2025-03.pdf", "application/pdf", []byte(samplePDF)))
	add("INBOX", false, newMail("山田 太郎 <taro@example.jp>", "日本語の件名です").
		textCharset("こんにちは。\n来週の会議の資料を送ります。\n", "utf-8"))
	add("INBOX", true, newMail("François <francois@example.fr>", "Café à Paris").
		textCharset("Rendez-vous au café à midi ? Ça te va ?\n", "iso-8859-1"))
	add("INBOX", false, newMail("Photos <photos@example.com>", "Holiday picture 🌴").
		text("Sea, sand and sky: the picture is attached.\n").
		attach("beach.png", "image/png", samplePNG()))
	add("INBOX", false, newMail("Treasurer <treasurer@club.example>", "Expenses and minutes").
		text("Two files for Thursday's meeting.\n").
		attach("expenses.csv", "text/csv", []byte(sampleCSV)).
		attach("minutes.txt", "text/plain", []byte("Minutes of the meeting\n\n1. Budget approved.\n")))
	add("INBOX", false, newMail("Mallory <mallory@evil.example>", "Totally normal \x1b]0;pwned\x07subject \x1b[31mred\x1b[0m").
		text("This subject tried to retitle your terminal and paint it red.\nduomail removed the control sequences before printing it.\n\x1b[2J(and this line tried to clear the screen)\n"))
	add("INBOX", false, newMail("Team <team@example.com>", "Lunch on Friday?").
		text("Pizza or sushi? Reply by Thursday.\n"))
	return out
}

// mailBuilder writes simple, standard messages without a library, so the
// bytes are exactly what tests compare against.
type mailBuilder struct {
	from, subject string
	textBody      string
	charset       string
	htmlBody      string
	alt           bool
	parts         []attachment
	attachments   map[string][]byte
}

type attachment struct {
	name, ctype string
	data        []byte
}

func newMail(from, subject string) *mailBuilder {
	return &mailBuilder{from: from, subject: subject, attachments: map[string][]byte{}}
}

func (b *mailBuilder) text(s string) *mailBuilder { b.textBody, b.charset = s, "us-ascii"; return b }

func (b *mailBuilder) textCharset(s, charset string) *mailBuilder {
	b.textBody, b.charset = s, charset
	return b
}

func (b *mailBuilder) html(s string) *mailBuilder { b.htmlBody = s; return b }

func (b *mailBuilder) alternative(text, html string) *mailBuilder {
	b.textBody, b.charset, b.htmlBody, b.alt = text, "us-ascii", html, true
	return b
}

func (b *mailBuilder) attach(name, ctype string, data []byte) *mailBuilder {
	b.parts = append(b.parts, attachment{name, ctype, data})
	b.attachments[name] = data
	return b
}

func encodeHeaderWord(s string) string {
	for _, r := range s {
		if r >= 0x80 || r < 0x20 {
			return mime.QEncoding.Encode("utf-8", s)
		}
	}
	return s
}

func encodeAddress(addr string) string {
	if i := strings.LastIndex(addr, " <"); i > 0 {
		return encodeHeaderWord(addr[:i]) + addr[i:]
	}
	return addr
}

func (b *mailBuilder) build(date time.Time, n int) []byte {
	var m bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&m, "%s: %s\r\n", k, v) }
	h("From", encodeAddress(b.from))
	h("To", "Demo User <demo@duomail.example>")
	h("Subject", encodeHeaderWord(b.subject))
	h("Date", date.Format(time.RFC1123Z))
	h("Message-ID", fmt.Sprintf("<sample-%02d@duomail.example>", n))
	h("MIME-Version", "1.0")
	boundary := func(kind string) string { return fmt.Sprintf("=_duomail_%s_%02d", kind, n) }

	textPart := func(w *bytes.Buffer) {
		charset := b.charset
		fmt.Fprintf(w, "Content-Type: text/plain; charset=%s\r\n", charset)
		if charset == "us-ascii" {
			fmt.Fprintf(w, "Content-Transfer-Encoding: 7bit\r\n\r\n%s", crlf(b.textBody))
			return
		}
		body := b.textBody
		if charset == "iso-8859-1" {
			body = toLatin1(body)
		}
		fmt.Fprintf(w, "Content-Transfer-Encoding: quoted-printable\r\n\r\n%s", qp(body))
	}
	htmlPart := func(w *bytes.Buffer) {
		fmt.Fprintf(w, "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n%s", qp(b.htmlBody+"\n"))
	}

	switch {
	case len(b.parts) > 0:
		mb := boundary("mixed")
		fmt.Fprintf(&m, "Content-Type: multipart/mixed; boundary=\"%s\"\r\n\r\n", mb)
		m.WriteString("This is a multi-part message in MIME format.\r\n")
		fmt.Fprintf(&m, "--%s\r\n", mb)
		textPart(&m)
		for _, a := range b.parts {
			fmt.Fprintf(&m, "\r\n--%s\r\n", mb)
			fmt.Fprintf(&m, "Content-Type: %s; name=\"%s\"\r\n", a.ctype, a.name)
			fmt.Fprintf(&m, "Content-Disposition: attachment; filename=\"%s\"\r\n", a.name)
			m.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
			m.WriteString(base64Lines(a.data))
		}
		fmt.Fprintf(&m, "\r\n--%s--\r\n", mb)
	case b.alt:
		ab := boundary("alt")
		fmt.Fprintf(&m, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", ab)
		fmt.Fprintf(&m, "--%s\r\n", ab)
		textPart(&m)
		fmt.Fprintf(&m, "\r\n--%s\r\n", ab)
		htmlPart(&m)
		fmt.Fprintf(&m, "\r\n--%s--\r\n", ab)
	case b.htmlBody != "":
		htmlPart(&m)
	default:
		textPart(&m)
	}
	return m.Bytes()
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func qp(s string) string {
	var buf bytes.Buffer
	w := quotedprintable.NewWriter(&buf)
	w.Write([]byte(crlf(s)))
	w.Close()
	return buf.String()
}

func toLatin1(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r < 0x100 {
			out = append(out, byte(r))
		} else {
			out = append(out, '?')
		}
	}
	return string(out)
}

func base64Lines(data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
	b.WriteString("\r\n")
	return b.String()
}
