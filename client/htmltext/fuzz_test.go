package htmltext

import (
	"bytes"
	"os"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/duomail/duomail/client/termtext"
)

// FuzzRenderHTML: whatever the HTML, rendering it neither panics nor
// fails on an in-memory reader, and its output is printable text: valid
// UTF-8, no control character but the newline, no bidi control.
func FuzzRenderHTML(f *testing.F) {
	if doc, err := os.ReadFile("testdata/newsletter.html"); err == nil {
		f.Add(doc, uint8(80))
	}
	for _, s := range []string{
		"<table><tr><td>a<td colspan=3>b<tr><th>c</table>",
		"<table><td><table><td><pre>\tx\ny</pre></table><caption>z</table>",
		"<ol start=-5 type=i><li value=4000>a<li>b<ul><li><blockquote>c</ol>",
		"<a href='https://x/\x1b[31m'>t\x1b]0;evil\x07</a><img alt='\u202e\x9b'>",
		"<pre>\r\n\x00\x0b\x0c</pre><plaintext><b>",
		"<div hidden><div><td>x</div></div><li hidden>y<li>z",
		"<script>a<!--</script>b<style>c</style><!-- d --><!doctype x>",
		"&#0;&#x1b;&#x9b;&#128;&#xd800;&#x202e;\xff\xfe",
	} {
		f.Add([]byte(s), uint8(40))
	}
	f.Fuzz(func(t *testing.T, doc []byte, width uint8) {
		var out bytes.Buffer
		if err := Render(bytes.NewReader(doc), &out, Options{Width: int(width)}); err != nil {
			t.Fatalf("Render from memory: %v", err)
		}
		b := out.Bytes()
		if !utf8.Valid(b) {
			t.Fatalf("output is not UTF-8: %q", b)
		}
		for _, r := range string(b) {
			if r != '\n' && (unicode.IsControl(r) || termtext.IsBidiControl(r)) {
				t.Fatalf("output has %U: %q", r, b)
			}
		}
	})
}
