package mimepart_test

import (
	"bytes"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
	"github.com/duomail/duomail/client/sourcetest"
)

// FuzzRenderText feeds arbitrary bytes through what "fetch" does with a
// message: parse the structure, pick the text part, decode and render it.
// It must never panic, and what it reports must be consistent.
func FuzzRenderText(f *testing.F) {
	f.Add([]byte(sourcetest.NestedMessage))
	f.Add([]byte("Content-Type: text/html\r\n\r\n<p>a<b>b</p>"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain; charset=utf-7\r\n\r\n+AGEAYgBj-\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\n"))
	f.Add([]byte("Subject: =?x-unknown?q?=1B[31m?=\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbody"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		env, tree, err := mimepart.ParseMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("ParseMessage on an in-memory reader failed: %v", err)
		}
		if env.Size != int64(len(raw)) {
			t.Fatalf("size %d, input %d bytes", env.Size, len(raw))
		}
		p := tree.TextPart()
		if p == nil {
			return
		}
		var body bytes.Buffer
		if _, err := mimepart.CopyPart(bytes.NewReader(raw), p.Path, &body); err != nil {
			t.Fatalf("text part %s found by ParseMessage but not by CopyPart: %v", p.Path, err)
		}
		if int64(body.Len()) != p.Size {
			t.Fatalf("part %s: tree says %d bytes, CopyPart gave %d", p.Path, p.Size, body.Len())
		}
		// Nothing can fail reading memory or writing io.Discard: whatever
		// the encoding, a broken body is a warning, never an error.
		if _, err := mimepart.WriteText(p, &body, io.Discard); err != nil {
			t.Fatalf("WriteText on an in-memory part: %v", err)
		}
	})
}

// FuzzSafeFilename: whatever a sender calls an attachment, the name duomail
// writes is one plain, visible file directly inside the target folder.
func FuzzSafeFilename(f *testing.F) {
	for _, s := range []string{"../x", "/etc/passwd", `..\x`, `C:\x`, "a\x00b", "", ".", "..", ".bashrc",
		"\u202egpj.exe", "a/b/c.pdf", "\x1b[31mred", "C:x", "...", " ", strings.Repeat("é", 300) + ".pdf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := mimepart.SafeFilename(name, &client.Part{Path: "2", Type: "application/pdf"})
		if got == "" || got == "." || got == ".." || strings.HasPrefix(got, ".") {
			t.Fatalf("mimepart.SafeFilename(%q) = %q", name, got)
		}
		if strings.ContainsAny(got, "/\\\x00") || len(got) > 255 {
			t.Fatalf("mimepart.SafeFilename(%q) = %q: separator, NUL or too long", name, got)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("mimepart.SafeFilename(%q) = %q: invalid UTF-8", name, got)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.In(r, unicode.Cf) {
				t.Fatalf("mimepart.SafeFilename(%q) = %q: control or format character %U", name, got, r)
			}
		}
		dir := "/target/dir"
		if filepath.Dir(filepath.Join(dir, got)) != dir {
			t.Fatalf("mimepart.SafeFilename(%q) = %q leaves %s", name, got, dir)
		}
	})
}
