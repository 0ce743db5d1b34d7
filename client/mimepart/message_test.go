package mimepart

import (
	"bytes"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
)

const mixedMsg = "From: =?utf-8?q?J=C3=B6rg?= <jorg@example.org>\r\n" +
	"To: Alice <alice@example.com>, bob@example.com\r\n" +
	"Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\n" +
	"Date: Mon, 02 Jan 2023 15:04:05 +0000\r\n" +
	"Message-ID: <abc@example.org>\r\n" +
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

func TestParseMessageTree(t *testing.T) {
	env, root, err := ParseMessage(strings.NewReader(mixedMsg))
	if err != nil {
		t.Fatal(err)
	}
	if env.Subject != "Grüße" || env.From != "Jörg <jorg@example.org>" || len(env.To) != 2 || env.To[1] != "bob@example.com" {
		t.Errorf("envelope = %+v", env)
	}
	if env.Size != int64(len(mixedMsg)) || !env.HasAttachments || env.MessageID != "abc@example.org" {
		t.Errorf("size %d has_attachments %v id %q", env.Size, env.HasAttachments, env.MessageID)
	}
	var paths []string
	root.Walk(func(p *client.Part) bool { paths = append(paths, p.Path+"="+p.Type); return true })
	want := "=multipart/mixed 1=multipart/alternative 1.1=text/plain 1.2=text/html 2=application/pdf 3=message/rfc822 3.1=text/plain"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("tree\n got %s\nwant %s", got, want)
	}
	if tp := root.TextPart(); tp == nil || tp.Path != "1.1" {
		t.Errorf("text part = %+v", tp)
	}
	att := root.Attachments()
	if len(att) != 1 || att[0].Filename != "réport.pdf" || att[0].Path != "2" {
		t.Errorf("attachments = %+v", att)
	}
}

func TestCopyPartAndDecode(t *testing.T) {
	var buf bytes.Buffer
	p, err := CopyPart(strings.NewReader(mixedMsg), "1.1", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != "Sch=F6ne Gr=FC=DFe" {
		t.Fatalf("raw part = %q", buf.String())
	}
	var text bytes.Buffer
	if warn, err := WriteText(p, &buf, &text); err != nil || warn != nil {
		t.Fatal(warn, err)
	}
	if text.String() != "Schöne Grüße" {
		t.Errorf("text = %q", text.String())
	}
	buf.Reset()
	_, err = CopyPart(strings.NewReader(mixedMsg), "2", &buf)
	if err != nil || buf.String() != "aGVsbG8gd29ybGQ=" {
		t.Fatalf("part 2 = %q, %v", buf.String(), err)
	}
	buf.Reset()
	if _, err := CopyPart(strings.NewReader(mixedMsg), "3.1", &buf); err != nil || buf.String() != "inner body" {
		t.Fatalf("part 3.1 = %q, %v", buf.String(), err)
	}
	if _, err := CopyPart(strings.NewReader(mixedMsg), "9", &buf); err == nil {
		t.Error("missing part: no error")
	}
}

func TestHTMLOnlyRendered(t *testing.T) {
	msg := "Content-Type: text/html\r\n\r\n<html><body><p>Hi <b>you</b></p><script>x</script></body></html>\r\n"
	_, root, err := ParseMessage(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	tp := root.TextPart()
	if tp == nil || tp.Path != "1" || tp.Type != "text/html" {
		t.Fatalf("text part %+v", tp)
	}
	var body, out bytes.Buffer
	CopyPart(strings.NewReader(msg), "1", &body)
	WriteText(tp, &body, &out)
	if !strings.Contains(out.String(), "Hi you") || strings.Contains(out.String(), "<") {
		t.Errorf("rendered %q", out.String())
	}
}

func TestUnknownCharsetStillShows(t *testing.T) {
	p := &client.Part{Path: "1", Type: "text/plain", Params: map[string]string{"charset": "x-klingon"}}
	var out bytes.Buffer
	warn, err := WriteText(p, strings.NewReader("plain words"), &out)
	if err != nil || warn == nil || out.String() != "plain words" {
		t.Errorf("warn %v err %v out %q", warn, err, out.String())
	}
}

func TestHugeHeaderBounded(t *testing.T) {
	msg := "Subject: big\r\nX-Junk: " + strings.Repeat("a", 3<<20) + "\r\n\r\nbody text\r\n"
	env, root, err := ParseMessage(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if env.Subject != "big" || env.Size != int64(len(msg)) || root.Size != int64(len("body text\r\n")) {
		t.Errorf("env %+v root %+v", env, root)
	}
}

func TestRFC2231FilenameInAnyCharset(t *testing.T) {
	msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n" +
		"Content-Type: text/plain; name*0*=iso-8859-1''caf%E9; name*1=-menu.txt\r\n" +
		"Content-Disposition: attachment; filename*0*=iso-8859-1''caf%E9; filename*1=\"-menu.txt\"\r\n\r\nx\r\n--b--\r\n"
	_, root, err := ParseMessage(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	p := root.Find("1")
	if p == nil || p.Filename != "café-menu.txt" || p.Params["name"] != "café-menu.txt" || p.Encoding != "7bit" {
		t.Fatalf("part = %+v", p)
	}
}

func TestParseHeaderParams(t *testing.T) {
	v, p := parseHeaderParams(`Attachment; filename="a \"b\"; c.pdf"; size=3;junk; x=`)
	if v != "attachment" || p["filename"] != `a "b"; c.pdf` || p["size"] != "3" {
		t.Errorf("%q %q", v, p)
	}
}
