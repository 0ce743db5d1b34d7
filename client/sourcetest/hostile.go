package sourcetest

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"strings"

	"github.com/duomail/duomail/client/iocount"
)

// Hostile mail: messages written to attack whoever shows them. Terminal
// control sequences in every field a client prints, encoded words that
// decode to controls, attachment names that try to leave the target
// folder, structures that exhaust naive parsers. Tests run them through
// every command that prints and check that nothing but text comes out and
// that the readable part still shows.

// HostileSequences are the byte sequences a terminal obeys: CSI (clear
// screen, colour), OSC (window title, hyperlink, clipboard), DCS, BEL,
// backspace and carriage return (overwriting), NUL and DEL, C1 controls as
// UTF-8 and as raw 8-bit bytes, and the bidi overrides that reorder text.
var HostileSequences = []string{
	"\x1b[2J",
	"\x1b[31m",
	"\x1b[1;1H",
	"\x1b]0;pwned-title\x07",
	"\x1b]8;;http://evil.example/\x1b\\",
	"\x1b]52;c;ZWNobyBwd25lZA==\x07",
	"\x1bP+q544e\x1b\\",
	"\x07",
	"\x08\x08\x08",
	"\r",
	"\x00",
	"\x7f",
	"\u009b31m",
	"\u009d0;c1-title\u009c",
	"\u0085",
	"\x9b2J",       // raw 8-bit CSI: invalid UTF-8
	"\x9d0;t\x9c",  // raw 8-bit OSC
	"\u202e",       // RIGHT-TO-LEFT OVERRIDE
	"\u2066\u2069", // LEFT-TO-RIGHT ISOLATE, POP DIRECTIONAL ISOLATE
	"\u200f",
}

// Evil is every hostile sequence in one string.
var Evil = strings.Join(HostileSequences, "")

// HostileMessage is a message built to attack whoever displays it.
type HostileMessage struct {
	Name string
	Raw  []byte
	// Marker is text of the readable body that must still show once the
	// hostile parts are removed; "" when no readable text is expected.
	Marker string
	// Attachments are the file names as the sender wrote them.
	Attachments []string
}

// AttachmentNames are sender-chosen file names that try to escape the
// folder attachments are saved to, hide, or spoof their type. Each is
// written into the message as given (raw in a quoted string, RFC 2231 or
// RFC 2047, see AttachmentNamesMessage).
var AttachmentNames = []string{
	"../x",
	"../../../../../../tmp/duomail-escape",
	"/etc/passwd",
	`..\x`,
	`C:\x`,
	"C:x",
	"a\x00b",
	"",
	".",
	"..",
	"...",
	".bashrc",
	" ",
	strings.Repeat("L", 300) + ".pdf",
	strings.Repeat("é", 200) + ".txt",
	"\x1b[2Jclear.txt",
	"\x1b]0;title\x07t.txt",
	"invoice\u202efdp.exe",
	"a/b/c.pdf",
	"tab\there.txt",
	"new\nline.txt",
	"same.txt",
	"same.txt",
}

// AttachmentNamesMessage is a multipart/mixed message whose first part is
// text carrying marker and whose other parts are attachments with the
// given names. Names go out in three encodings in turn, so each path of a
// parser meets hostile input: RFC 2231 percent-encoding (filename*), RFC 2047
// encoded words, and raw bytes in a quoted string.
func AttachmentNamesMessage(subject, marker string, names []string) []byte {
	var b strings.Builder
	b.WriteString(hostileHeader(subject, "Content-Type: multipart/mixed; boundary=\"att\"\r\n"))
	b.WriteString("\r\n--att\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + marker + "\r\n")
	for i, name := range names {
		b.WriteString("--att\r\n")
		var disp string
		switch i % 3 {
		case 0:
			disp = "attachment; filename*=utf-8''" + percentEncode(name)
		case 1:
			disp = "attachment; filename=\"=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(name)) + "?=\""
		default:
			disp = "attachment; filename=\"" + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "").Replace(name) + "\""
		}
		fmt.Fprintf(&b, "Content-Type: application/octet-stream\r\nContent-Disposition: %s\r\nContent-Transfer-Encoding: base64\r\n\r\n", disp)
		b.WriteString(base64.StdEncoding.EncodeToString([]byte(fmt.Sprintf("attachment %d\n", i))) + "\r\n")
	}
	b.WriteString("--att--\r\n")
	return []byte(b.String())
}

func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hostileHeader(subject, extra string) string {
	return "From: Mallory <mallory@example.org>\r\n" +
		"To: Alice <alice@example.com>\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Tue, 03 Jan 2023 10:00:00 +0000\r\n" +
		"Message-ID: <" + fmt.Sprintf("%x", subject) + "@hostile.example>\r\n" +
		"MIME-Version: 1.0\r\n" + extra
}

// qEncode is an RFC 2047 Q-encoded word that decodes to s, control bytes
// included.
func qEncode(s string) string {
	var b strings.Builder
	b.WriteString("=?utf-8?q?")
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c > 0x20 && c < 0x7f && c != '=' && c != '?' && c != '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "=%02X", c)
		}
	}
	b.WriteString("?=")
	return b.String()
}

func bEncode(s string) string {
	return "=?utf-8?b?" + base64.StdEncoding.EncodeToString([]byte(s)) + "?="
}

// HostileMessages returns the corpus. Every message has a distinct
// subject starting with "hostile <name>" (possibly followed by control
// sequences) and, unless noted, a marker "MARKER-<name>" in its text.
func HostileMessages() []HostileMessage {
	var out []HostileMessage
	add := func(name string, raw string, marker string, attachments ...string) {
		out = append(out, HostileMessage{Name: name, Raw: []byte(raw), Marker: marker, Attachments: attachments})
	}
	mk := func(name string) string { return "MARKER-" + name }

	// Control sequences raw in header fields and the body.
	{
		n := "raw-escapes"
		add(n, "From: \"Mallory "+Evil+"\" <mallory@example.org>\r\n"+
			"To: \"Victim "+Evil+"\" <alice@example.com>, bob"+Evil+"@example.com\r\n"+
			"Subject: hostile "+n+" "+Evil+" end\r\n"+
			"Date: Tue, 03 Jan 2023 10:00:00 +0000\r\n"+
			"Message-ID: <raw-escapes"+Evil+"@hostile.example>\r\n"+
			"X-Evil: "+Evil+"\r\n"+
			"Content-Type: text/plain; charset=utf-8\r\n"+
			"\r\n"+
			"before "+Evil+" after\r\n"+mk(n)+"\r\n"+Evil+"\r\n", mk(n))
	}
	// RFC 2047 encoded words decoding to control characters.
	{
		n := "encoded-words"
		add(n, "From: "+qEncode("Eve \x1b]0;title\x07")+" <eve@example.org>\r\n"+
			"To: "+bEncode("\u009b2J\x9b2J\u202e")+" <alice@example.com>\r\n"+
			"Subject: hostile "+n+" =?utf-8?q?=1B[31m?= "+bEncode(Evil)+" "+qEncode("\x1b[2J\x07")+"\r\n"+
			"Date: Tue, 03 Jan 2023 10:00:00 +0000\r\n"+
			"Message-ID: <encoded-words@hostile.example>\r\n"+
			"MIME-Version: 1.0\r\n"+
			"Content-Type: multipart/mixed; boundary=\"ew\"\r\n"+
			"\r\n--ew\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"+
			"qp =1B[2J=1B]0;t=07 =C2=9B31m =9B2J =E2=80=AE\r\n"+mk(n)+"\r\n"+
			"--ew\r\nContent-Type: text/plain; name=\""+qEncode("\x1b[2Jnote.txt")+"\"\r\n"+
			"Content-Disposition: attachment; filename=\""+qEncode("\x1b[2Jnote.txt")+"\"\r\n\r\n"+
			"text attachment "+Evil+"\r\n--ew--\r\n", mk(n), "\x1b[2Jnote.txt")
	}
	// HTML only, with controls as raw bytes and as character references
	// that the renderer turns into controls.
	{
		n := "html"
		add(n, hostileHeader("hostile "+n+" \x1b[2J", "Content-Type: text/html; charset=utf-8\r\n")+"\r\n"+
			"<html><head><title>\x1b]0;t\x07</title></head><body>"+
			"<p>raw "+Evil+"</p><p>refs &#27;[2J &#x1b;]0;x&#7; &#155;31m &#x9b;2J &#8238; &#x2066;</p>"+
			"<a href=\"http://x/\x1b[2J\">link \x1b]8;;http://x\x1b\\</a>"+
			"<p>"+mk(n)+"</p></body></html>\r\n", mk(n))
	}
	// multipart/alternative whose plain part is hostile and whose HTML part is too.
	{
		n := "alternative"
		add(n, hostileHeader("hostile "+n, "Content-Type: multipart/alternative; boundary=\"alt\"\r\n")+"\r\n"+
			"--alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"+mk(n)+" "+Evil+"\r\n"+
			"--alt\r\nContent-Type: text/html\r\n\r\n<p>&#27;[2J html</p>\r\n--alt--\r\n", mk(n))
	}
	// Bidi overrides that spoof subjects and names.
	{
		n := "bidi"
		add(n, "From: \"\u202eyrollam\u202c\" <mallory@example.org>\r\n"+
			"Subject: hostile "+n+" invoice\u202efdp.exe \u2066x\u2069\r\n"+
			"Date: Tue, 03 Jan 2023 10:00:00 +0000\r\n"+
			"Content-Type: text/plain; charset=utf-8\r\n\r\n"+
			"\u202e"+mk(n)+"\u202c\r\n", mk(n))
	}
	// Raw 8-bit C1 bytes (invalid UTF-8) in the header and body.
	{
		n := "raw-c1"
		add(n, "From: Mal\x9b2J \x9d0;t\x9c <m@example.org>\r\n"+
			"Subject: hostile "+n+" \x9b31m \x90q\x9c \x85\r\n"+
			"Date: Tue, 03 Jan 2023 10:00:00 +0000\r\n"+
			"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"+
			"\x9b2J\x9b1;1H"+mk(n)+"\x9d0;title\x9c\r\n", mk(n))
	}
	// Same bytes declared as Latin-1: conversion turns 0x9b into U+009B.
	{
		n := "latin1-c1"
		add(n, hostileHeader("hostile "+n+" =?iso-8859-1?q?=9B2J=1B[31m?=", "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n")+"\r\n"+
			"\x9b2J caf\xe9 \x9d0;t\x9c "+mk(n)+"\r\n", mk(n))
	}
	// A text attachment with escapes (shown by fetch --part), and an
	// embedded message with a hostile header.
	{
		n := "parts"
		add(n, hostileHeader("hostile "+n, "Content-Type: multipart/mixed; boundary=\"p\"\r\n")+"\r\n"+
			"--p\r\nContent-Type: text/plain\r\n\r\n"+mk(n)+"\r\n"+
			"--p\r\nContent-Type: text/plain; name=\"evil.txt\"\r\nContent-Disposition: attachment; filename=\"evil.txt\"\r\n\r\n"+Evil+"\r\n"+
			"--p\r\nContent-Type: message/rfc822\r\n\r\n"+
			"Subject: inner "+Evil+"\r\nFrom: \x1b[2J <x@example.org>\r\n\r\ninner body "+Evil+"\r\n"+
			"--p\r\nContent-Type: text/x-\x1b[2Jweird; name=\"\x1b]0;t\x07\"\r\n\r\nweird\r\n"+
			"--p--\r\n", mk(n), "evil.txt", "\x1b]0;t\x07")
	}
	// Attachment names that try to leave the target folder.
	{
		n := "attachment-names"
		add(n, string(AttachmentNamesMessage("hostile "+n, mk(n), AttachmentNames)), mk(n), AttachmentNames...)
	}
	// 1000 nested multiparts, the text first so it still shows.
	{
		n := "deep-nesting"
		var b strings.Builder
		b.WriteString(hostileHeader("hostile "+n, "Content-Type: multipart/mixed; boundary=\"d0\"\r\n"))
		b.WriteString("\r\n--d0\r\nContent-Type: text/plain\r\n\r\n" + mk(n) + "\r\n")
		const depth = 1000
		for i := 1; i < depth; i++ {
			fmt.Fprintf(&b, "--d%d\r\nContent-Type: multipart/mixed; boundary=\"d%d\"\r\n\r\n", i-1, i)
		}
		fmt.Fprintf(&b, "--d%d\r\nContent-Type: text/plain\r\n\r\ndeepest %s\r\n", depth-1, Evil)
		for i := depth - 1; i >= 0; i-- {
			fmt.Fprintf(&b, "--d%d--\r\n", i)
		}
		add(n, b.String(), mk(n))
	}
	// A multipart whose closing boundary never comes.
	{
		n := "unclosed"
		add(n, hostileHeader("hostile "+n, "Content-Type: multipart/mixed; boundary=\"u\"\r\n")+"\r\n"+
			"--u\r\nContent-Type: text/plain\r\n\r\n"+mk(n)+"\r\n"+
			"--u\r\nContent-Type: application/pdf; name=\"cut.pdf\"\r\nContent-Disposition: attachment; filename=\"cut.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"+
			"JVBERi0xLjQK\r\nJVBERi0x", mk(n), "cut.pdf")
	}
	// A boundary that is declared but empty, and a multipart without one.
	{
		n := "no-boundary"
		add(n, hostileHeader("hostile "+n, "Content-Type: multipart/mixed\r\n")+"\r\n"+mk(n)+"\r\n", "")
	}
	// Charsets and transfer encodings nobody knows.
	{
		n := "unknown-charset"
		add(n, hostileHeader("hostile "+n+" =?x-klingon?q?=1B[2J?=", "Content-Type: text/plain; charset=x-klingon\r\n")+"\r\n"+mk(n)+" \x1b[2J\r\n", mk(n))
	}
	{
		n := "unknown-encoding"
		add(n, hostileHeader("hostile "+n, "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: x-foo\r\n")+"\r\n"+mk(n)+" \x1b[2J\r\n", mk(n))
	}
	{
		n := "bad-base64"
		add(n, hostileHeader("hostile "+n, "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n")+"\r\n"+
			base64.StdEncoding.EncodeToString([]byte(mk(n)+" \x1b[2J\x9b1m\n"))+"\r\n!!!not base64\x1b[2J\r\n", mk(n))
	}
	// Malformed header syntax: no colon, a NUL in a field name, an
	// unparseable Content-Type.
	{
		n := "malformed-header"
		add(n, "Subject: hostile "+n+"\r\nFrom: \x1b[2J\r\nDate: not a date \x1b[2J\r\n"+
			"Content-Type: text/plain; charset=\"utf-8; name=\x1b[2J\r\n"+
			"X-Bad\x00Name: v\r\n"+
			"no colon here \x1b]0;t\x07\r\n\r\n"+mk(n)+"\r\n", "")
	}
	// Lines of 1 MB in the body, with the marker after them, and one
	// long header line.
	{
		n := "long-lines"
		long := strings.Repeat("x", 1<<20)
		add(n, hostileHeader("hostile "+n, "Content-Type: text/plain\r\nX-Long: "+strings.Repeat("h", 200<<10)+"\r\n")+"\r\n"+
			long+"\r\n"+long+"\x1b[2J"+long+"\r\n"+mk(n)+"\r\n", mk(n))
	}
	return out
}

// HugeHeaderKind says how HugeHeaderMessage spends its header bytes.
type HugeHeaderKind int

const (
	// OneHugeField is a single header field of the whole size, on one line.
	OneHugeField HugeHeaderKind = iota
	// ManyFields is the size spread over short fields.
	ManyFields
)

// HugeHeaderMessage streams to w a message whose header is about size bytes,
// followed by a short text body carrying marker, without holding the
// message in memory. It returns the bytes written. No line starts with a
// dot, so the output needs no dot-stuffing for POP3.
func HugeHeaderMessage(w io.Writer, kind HugeHeaderKind, size int64, marker string) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := &iocount.Writer{W: bw}
	io.WriteString(cw, "From: Big <big@example.org>\r\nSubject: hostile huge header \x1b[2J\r\n"+
		"Date: Tue, 03 Jan 2023 10:00:00 +0000\r\nContent-Type: text/plain\r\n")
	chunk := strings.Repeat("abcdefghij\x1b[2J", 4096) // 60 KiB with escapes
	switch kind {
	case OneHugeField:
		io.WriteString(cw, "X-Huge: ")
		for cw.N < size && cw.Err == nil {
			io.WriteString(cw, chunk[:min(int64(len(chunk)), size-cw.N+1)])
		}
		io.WriteString(cw, "\r\n")
	case ManyFields:
		for i := 0; cw.N < size && cw.Err == nil; i++ {
			fmt.Fprintf(cw, "X-Field-%d: filler %d \x1b]0;t\x07 value\r\n", i, i)
		}
	}
	io.WriteString(cw, "\r\n"+marker+"\r\n")
	if err := bw.Flush(); err != nil {
		return cw.N, err
	}
	return cw.N, cw.Err
}
