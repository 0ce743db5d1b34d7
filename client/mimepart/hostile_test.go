package mimepart_test

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode"
	"unicode/utf8"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
	"github.com/duomail/duomail/client/sourcetest"
)

// The hostile corpus through what fetch does, without a server: parse,
// pick the text part, decode and render. Rendering may keep control
// characters (the command layer sanitises); it must not fail, and the
// readable text must come through.
func TestHostileCorpusRenders(t *testing.T) {
	for _, m := range sourcetest.HostileMessages() {
		t.Run(m.Name, func(t *testing.T) {
			env, tree, err := mimepart.ParseMessage(bytes.NewReader(m.Raw))
			if err != nil {
				t.Fatal(err)
			}
			if env.Size != int64(len(m.Raw)) || !strings.HasPrefix(env.Subject, "hostile "+m.Name) {
				t.Errorf("envelope %+v", env)
			}
			depth := 0
			var walk func(p *client.Part, d int)
			walk = func(p *client.Part, d int) {
				depth = max(depth, d)
				for _, c := range p.Children {
					walk(c, d+1)
				}
			}
			walk(tree, 0)
			if depth > mimepart.MaxMIMEDepth+1 {
				t.Errorf("tree %d deep, limit %d", depth, mimepart.MaxMIMEDepth)
			}
			p := tree.TextPart()
			if p == nil {
				if m.Marker != "" {
					t.Fatalf("no text part, marker %q expected", m.Marker)
				}
				return
			}
			var body, out bytes.Buffer
			if _, err := mimepart.CopyPart(bytes.NewReader(m.Raw), p.Path, &body); err != nil {
				t.Fatal(err)
			}
			warning, err := mimepart.WriteText(p, &body, &out)
			if err != nil {
				t.Fatalf("WriteText: %v (warning %v)", err, warning)
			}
			if !strings.Contains(out.String(), m.Marker) {
				t.Errorf("marker %q lost: %q", m.Marker, clip(out.String()))
			}
			for _, a := range tree.Attachments() {
				checkSafeName(t, a.Filename, mimepart.SafeFilename(a.Filename, a))
			}
		})
	}
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func checkSafeName(t *testing.T, in, got string) {
	t.Helper()
	dir := "/target"
	if got == "" || strings.HasPrefix(got, ".") || strings.ContainsAny(got, "/\\\x00") || !utf8.ValidString(got) ||
		len(got) > 255 || filepath.Dir(filepath.Join(dir, got)) != dir {
		t.Errorf("SafeFilename(%q) = %q", in, got)
	}
	for _, r := range got {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf) {
			t.Errorf("SafeFilename(%q) = %q keeps %U", in, got, r)
		}
	}
}

func TestHostileAttachmentNames(t *testing.T) {
	raw := sourcetest.AttachmentNamesMessage("hostile names", "MARKER", sourcetest.AttachmentNames)
	_, tree, err := mimepart.ParseMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	atts := tree.Attachments()
	if len(atts) != len(sourcetest.AttachmentNames) {
		t.Fatalf("%d attachments, want %d", len(atts), len(sourcetest.AttachmentNames))
	}
	for i, a := range atts {
		checkSafeName(t, sourcetest.AttachmentNames[i], mimepart.SafeFilename(a.Filename, a))
	}
	// Directly too, the names as written and as a decoder may hand them over.
	for _, n := range sourcetest.AttachmentNames {
		checkSafeName(t, n, mimepart.SafeFilename(n, &client.Part{Path: "3", Type: "application/pdf"}))
	}
}

// A transfer encoding that breaks off in the middle (corrupt base64; Go's
// quoted-printable reader passes bad escapes through) is the sender's
// mistake: the text decoded so far is shown and the rest reported as a
// warning, not a failed command.
func TestWriteTextCorruptEncoding(t *testing.T) {
	for _, tc := range []struct {
		name, encoding, typ, body, want string
	}{
		{"base64", "base64", "text/plain", "SGVsbG8gd29ybGQK\r\n!!!not base64\r\n", "Hello world\n"},
		{"base64 html", "base64", "text/html", "PHA+SGVsbG88L3A+Cg==\r\n!!!\r\n", "Hello"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &client.Part{Path: "1", Type: tc.typ, Params: map[string]string{}, Encoding: tc.encoding}
			var out bytes.Buffer
			warning, err := mimepart.WriteText(p, strings.NewReader(tc.body), &out)
			if err != nil {
				t.Fatalf("err %v", err)
			}
			if warning == nil || !strings.Contains(warning.Error(), "part 1") {
				t.Errorf("warning %v, want one naming part 1", warning)
			}
			if !strings.Contains(out.String(), tc.want) {
				t.Errorf("text %q, want %q shown", out.String(), tc.want)
			}
		})
	}
}

// A failing reader (the connection broke) is still an error, not a warning.
func TestWriteTextReaderErrorFails(t *testing.T) {
	broken := errors.New("connection reset")
	for _, enc := range []string{"", "base64"} {
		for _, typ := range []string{"text/plain", "text/html"} {
			p := &client.Part{Path: "1", Type: typ, Params: map[string]string{}, Encoding: enc}
			body := io.MultiReader(strings.NewReader("SGVsbG8K\r\n"), iotest.ErrReader(broken))
			_, err := mimepart.WriteText(p, body, io.Discard)
			if !errors.Is(err, broken) {
				t.Errorf("%s %s: err %v, want the reader's", typ, enc, err)
			}
		}
	}
	// Also when the reader breaks after the encoding already did: the
	// rest of the body is still read, and its failure is not swallowed.
	for _, typ := range []string{"text/plain", "text/html"} {
		p := &client.Part{Path: "1", Type: typ, Params: map[string]string{}, Encoding: "base64"}
		body := io.MultiReader(strings.NewReader("SGVsbG8K\r\n!!!not base64\r\n"), iotest.ErrReader(broken))
		if _, err := mimepart.WriteText(p, body, io.Discard); !errors.Is(err, broken) {
			t.Errorf("%s, corrupt then cut: err %v, want the reader's", typ, err)
		}
	}
	// And so is a failing writer.
	p := &client.Part{Path: "1", Type: "text/plain", Params: map[string]string{}, Encoding: "base64"}
	full := errors.New("disk full")
	if _, err := mimepart.WriteText(p, strings.NewReader("SGVsbG8K\r\n"), failingWriter{full}); !errors.Is(err, full) {
		t.Errorf("writer error: %v", err)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }
