package mimepart

import (
	"bytes"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
)

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
