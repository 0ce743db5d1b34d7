package sourcetest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"time"
)

// Message is a test message with a name for failure reports.
type Message struct {
	Name string
	Raw  []byte
}

func header(subject string, extra string) string {
	return "From: Tester <tester@example.org>\r\n" +
		"To: Alice <alice@example.com>\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Mon, 02 Jan 2023 15:04:05 +0000\r\n" +
		"Message-ID: <" + strings.ReplaceAll(strings.ToLower(subject), " ", ".") + "@example.org>\r\n" +
		"MIME-Version: 1.0\r\n" + extra
}

// TrickyMessages are the messages whose bytes a careless client changes:
// dot-stuffing, long lines, 8-bit text, bare LF line ends, MIME structure.
func TrickyMessages() []Message {
	long := strings.Repeat("0123456789", 1000) // one 10 000-byte line
	return []Message{
		{"plain", []byte(header("Plain text", "Content-Type: text/plain; charset=utf-8\r\n") + "\r\nHello Alice,\r\nthis is plain.\r\n")},
		{"dots", []byte(header("Dot lines", "Content-Type: text/plain\r\n") +
			"\r\n.leading dot\r\n..two dots\r\n.\r\nabove was a lone dot\r\n. space after dot\r\n...\r\nend\r\n")},
		{"long-line", []byte(header("Long line", "Content-Type: text/plain\r\n") + "\r\n" + long + "\r\n" + "." + long + "\r\nshort\r\n")},
		{"8bit", []byte(header("=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=", "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n") +
			"\r\nSchöne Grüße — ½ € ✓\r\n\xff\xfe raw high bytes\r\n")},
		{"bare-lf", []byte(strings.ReplaceAll(header("Bare LF", "Content-Type: text/plain\r\n")+"\r\nline one\r\nline two\r\n.dot\r\n", "\r\n", "\n"))},
		{"no-final-newline", []byte(header("No final newline", "Content-Type: text/plain\r\n") + "\r\nlast line without newline")},
		{"attachment", AttachmentMessage("With attachment", "report.pdf", 20_000)},
		{"alternative", []byte(header("Alternative", "Content-Type: multipart/alternative; boundary=\"alt\"\r\n") +
			"\r\n--alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nSch=F6n\r\n" +
			"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Sch\xc3\xb6n</p>\r\n--alt--\r\n")},
	}
}

// AttachmentMessage builds a multipart/mixed message with a text part and a
// base64 attachment of size random bytes (deterministic for a given size).
func AttachmentMessage(subject, filename string, size int) []byte {
	var b bytes.Buffer
	b.WriteString(header(subject, "Content-Type: multipart/mixed; boundary=\"mix\"\r\n"))
	b.WriteString("\r\n--mix\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attachment.\r\n")
	fmt.Fprintf(&b, "--mix\r\nContent-Type: application/pdf; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", filename, filename)
	WriteBase64Lines(&b, io.LimitReader(rand.New(rand.NewSource(int64(size))), int64(size)))
	b.WriteString("--mix--\r\n")
	return b.Bytes()
}

// BigMessage is a message of about size bytes in all, nearly all of it a
// base64 attachment of random bytes in 76-character lines, as mailers
// write them (deterministic for a given size).
func BigMessage(size int) []byte {
	// 57 bytes encode to one 78-byte line (76 characters and CRLF); the
	// headers and MIME framing take about 500 bytes.
	return AttachmentMessage("Big message", "big.bin", max(0, size-500)/78*57)
}

// WriteBase64Lines writes r base64-encoded in 76-character CRLF lines.
func WriteBase64Lines(w io.Writer, r io.Reader) {
	buf := make([]byte, 57*1024)
	for {
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			enc := base64.StdEncoding.EncodeToString(buf[:n])
			for i := 0; i < len(enc); i += 76 {
				end := min(i+76, len(enc))
				io.WriteString(w, enc[i:end]+"\r\n")
			}
		}
		if err != nil {
			return
		}
	}
}

// WireForm is how a server that stores lines with bare LF (Dovecot) sends
// a message: every bare LF becomes CRLF. Messages already in CRLF are
// unchanged.
func WireForm(raw []byte) []byte {
	var out bytes.Buffer
	for i, c := range raw {
		if c == '\n' && (i == 0 || raw[i-1] != '\r') {
			out.WriteByte('\r')
		}
		out.WriteByte(c)
	}
	return out.Bytes()
}

// SimpleMessage is a small message with a subject and a date, for listing tests.
func SimpleMessage(subject string, date time.Time) []byte {
	return []byte("From: Sender <sender@example.org>\r\nTo: alice@example.com\r\nSubject: " + subject +
		"\r\nDate: " + date.UTC().Format(time.RFC1123Z) + "\r\nMessage-ID: <" + fmt.Sprint(date.UnixNano()) + "@example.org>\r\n" +
		"Content-Type: text/plain\r\n\r\nbody of " + subject + "\r\n")
}

// POP3WireForm is how a POP3 server sends a message: as WireForm, and ending
// with CRLF, because the terminating "." must start a line.
func POP3WireForm(raw []byte) []byte {
	out := WireForm(raw)
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// NestedMessage is MIME nested the way mailers nest it: multipart/mixed
// holding a multipart/alternative (quoted-printable Latin-1 text, and
// HTML), a base64 PDF with an encoded file name, and an embedded
// message/rfc822. Its parts' paths are 1.1, 1.2, 2, 3 and 3.1.
const NestedMessage = "From: =?utf-8?q?J=C3=B6rg?= <jorg@example.org>\r\n" +
	"To: Alice <alice@example.com>, bob@example.com\r\n" +
	"Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n" +
	"Date: Tue, 03 Jan 2023 15:04:05 +0000\r\n" +
	"Message-ID: <mixed@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"mix\"\r\n" +
	"\r\n" +
	"preamble\r\n" +
	"--mix\r\n" +
	"Content-Type: multipart/alternative; boundary=\"alt\"\r\n" +
	"\r\n" +
	"--alt\r\n" +
	"Content-Type: text/plain; charset=iso-8859-1\r\n" +
	"Content-Transfer-Encoding: quoted-printable\r\n" +
	"\r\n" +
	"Sch=F6ne Gr=FC=DFe\r\n" +
	"--alt\r\n" +
	"Content-Type: text/html; charset=utf-8\r\n" +
	"\r\n" +
	"<p>Hello <b>there</b></p>\r\n" +
	"--alt--\r\n" +
	"--mix\r\n" +
	"Content-Type: application/pdf; name=\"r.pdf\"\r\n" +
	"Content-Disposition: attachment; filename=\"=?utf-8?q?r=C3=A9port.pdf?=\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"aGVsbG8gd29ybGQ=\r\n" +
	"--mix\r\n" +
	"Content-Type: message/rfc822\r\n" +
	"\r\n" +
	"Subject: inner\r\n" +
	"\r\n" +
	"inner body\r\n" +
	"--mix--\r\n"
