package fetch

import (
	"strings"
	"testing"

	"github.com/duomail/duomail/client/mimepart"
)

// The outline of a message: its text, forwarded messages with theirs
// (recursively), and every other part listed once, without the other
// version of a shown alternative.
func TestOutlineAndOtherParts(t *testing.T) {
	raw := strings.ReplaceAll(`Content-Type: multipart/mixed; boundary=a

--a
Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/plain

plain
--b
Content-Type: multipart/related; boundary=c

--c
Content-Type: text/html

<p>html</p>
--c
Content-Type: image/png; name=in-html.png

x
--c--
--b--
--a
Content-Type: message/rfc822

Subject: Inner
Content-Type: multipart/mixed; boundary=d

--d
Content-Type: text/plain

inner text
--d
Content-Type: message/rfc822

Subject: Innermost

deepest
--d
Content-Type: application/pdf; name=inner.pdf
Content-Transfer-Encoding: base64

AAAA
--d--
--a
Content-Type: image/jpeg; name=photo.jpg
Content-Disposition: inline

x
--a
Content-Type: text/plain; name=notes.txt
Content-Disposition: attachment

notes
--a--
`, "\n", "\r\n")
	_, tree, err := mimepart.ParseMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	o := OutlineOf(tree)
	if o.Text == nil || o.Text.Path != "1.1" || len(o.Forwarded) != 1 {
		t.Fatalf("outline: %+v", o)
	}
	fw := o.Forwarded[0]
	if fw.Part.Path != "2" || fw.Part.Envelope == nil || fw.Part.Envelope.Subject != "Inner" || fw.Text == nil || fw.Text.Path != "2.1" {
		t.Errorf("forwarded: %+v %+v", fw.Part, fw.Text)
	}
	if len(fw.Forwarded) != 1 || fw.Forwarded[0].Text == nil || fw.Forwarded[0].Text.Path != "2.2.1" || fw.Forwarded[0].Part.Envelope.Subject != "Innermost" {
		t.Errorf("nested forward: %+v", fw.Forwarded)
	}
	var got []string
	for _, lp := range o.OtherParts(tree) {
		got = append(got, lp.Part+" "+lp.Filename+lp.Subject+" "+lp.Disposition)
	}
	want := []string{"2 Inner inline", "2.2 Innermost inline", "2.3 inner.pdf attachment", "3 photo.jpg inline", "4 notes.txt attachment"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("other parts:\n got %q\nwant %q", got, want)
	}
	var saved []string
	for _, p := range Saveable(tree) {
		saved = append(saved, p.Path+" "+SaveName(p))
	}
	wantSaved := []string{"1.2.2 in-html.png", "2 Inner.eml", "2.2 Innermost.eml", "2.3 inner.pdf", "3 photo.jpg", "4 notes.txt"}
	if strings.Join(saved, "|") != strings.Join(wantSaved, "|") {
		t.Errorf("saveable:\n got %q\nwant %q", saved, wantSaved)
	}
}
