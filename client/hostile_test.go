package client_test

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
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// The hostile corpus through what fetch does, without a server: parse,
// pick the text part, decode and render. Rendering may keep control
// characters (the command layer sanitises); it must not fail, and the
// readable text must come through.
func TestHostileCorpusRenders(t *testing.T) {
	for _, m := range sourcetest.HostileMessages() {
		t.Run(m.Name, func(t *testing.T) {
			env, tree, err := client.ParseMessage(bytes.NewReader(m.Raw))
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
			if depth > client.MaxMIMEDepth+1 {
				t.Errorf("tree %d deep, limit %d", depth, client.MaxMIMEDepth)
			}
			p := tree.TextPart()
			if p == nil {
				if m.Marker != "" {
					t.Fatalf("no text part, marker %q expected", m.Marker)
				}
				return
			}
			var body, out bytes.Buffer
			if _, err := client.CopyPart(bytes.NewReader(m.Raw), p.Path, &body); err != nil {
				t.Fatal(err)
			}
			warning, err := client.WriteText(p, &body, &out)
			if err != nil {
				t.Fatalf("WriteText: %v (warning %v)", err, warning)
			}
			if !strings.Contains(out.String(), m.Marker) {
				t.Errorf("marker %q lost: %q", m.Marker, clip(out.String()))
			}
			for _, a := range tree.Attachments() {
				checkSafeName(t, a.Filename, client.SafeFilename(a.Filename, a))
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
	_, tree, err := client.ParseMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	atts := tree.Attachments()
	if len(atts) != len(sourcetest.AttachmentNames) {
		t.Fatalf("%d attachments, want %d", len(atts), len(sourcetest.AttachmentNames))
	}
	for i, a := range atts {
		checkSafeName(t, sourcetest.AttachmentNames[i], client.SafeFilename(a.Filename, a))
	}
	// Directly too, the names as written and as a decoder may hand them over.
	for _, n := range sourcetest.AttachmentNames {
		checkSafeName(t, n, client.SafeFilename(n, &client.Part{Path: "3", Type: "application/pdf"}))
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
			warning, err := client.WriteText(p, strings.NewReader(tc.body), &out)
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
			_, err := client.WriteText(p, body, io.Discard)
			if !errors.Is(err, broken) {
				t.Errorf("%s %s: err %v, want the reader's", typ, enc, err)
			}
		}
	}
	// And so is a failing writer.
	p := &client.Part{Path: "1", Type: "text/plain", Params: map[string]string{}, Encoding: "base64"}
	full := errors.New("disk full")
	if _, err := client.WriteText(p, strings.NewReader("SGVsbG8K\r\n"), errWriter{full}); !errors.Is(err, full) {
		t.Errorf("writer error: %v", err)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

// The plaintext rule, at unit level with a host that is not loopback (the
// binary tests use a real non-loopback address where the machine has one).
func TestCheckPlaintextAuth(t *testing.T) {
	for _, tc := range []struct {
		host      string
		mode      client.TLSMode
		encrypted bool
		wantErr   bool
		wantWarn  bool
	}{
		{"mail.example.org", client.TLSNone, false, false, true},
		{"192.0.2.7", client.TLSNone, false, false, true},
		{"::1", client.TLSNone, false, false, false},
		{"127.0.0.2", client.TLSNone, false, false, false},
		{"localhost", client.TLSNone, false, false, false},
		{"mail.example.org", client.TLSStartTLS, false, true, false},
		{"127.0.0.1", client.TLSImplicit, false, true, false},
		{"mail.example.org", client.TLSStartTLS, true, false, false},
		{"mail.example.org", client.TLSNone, true, false, false},
	} {
		var warned []string
		acct := &client.Account{Name: "a", Protocol: client.IMAP, Host: tc.host, TLS: tc.mode}
		err := client.CheckPlaintextAuth(acct, tc.encrypted, client.DialOptions{Warn: func(m string) { warned = append(warned, m) }})
		if (err != nil) != tc.wantErr || err != nil && !errors.Is(err, client.ErrTLS) {
			t.Errorf("%+v: err %v", tc, err)
		}
		if (len(warned) > 0) != tc.wantWarn {
			t.Errorf("%+v: warnings %q", tc, warned)
		}
		if len(warned) > 0 && !strings.Contains(warned[0], "without encryption") {
			t.Errorf("warning %q", warned[0])
		}
	}
}

// A part whose transfer encoding is corrupt: the text shows with a warning;
// writing the part itself fails naming the message and part, never with the
// decoder's bare words.
func TestCorruptPartThroughMailbox(t *testing.T) {
	var raw []byte
	for _, m := range sourcetest.HostileMessages() {
		if m.Name == "bad-base64" {
			raw = m.Raw
		}
	}
	srv := startPOP(t, pop3test.Options{})
	srv.Add("alice", raw)
	mb := newMailbox(t, popAccount(srv), popDriver, nil)
	envs, err := mb.List(ctxT(t), client.ListRequest{})
	if err != nil || len(envs) != 1 {
		t.Fatalf("list: %v %v", envs, err)
	}
	msg, err := mb.Message(ctxT(t), "", envs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	warnings, err := msg.WriteText(ctxT(t), &text)
	if err != nil || len(warnings) != 1 || !strings.Contains(text.String(), "MARKER-bad-base64") {
		t.Errorf("text %q, warnings %q, err %v", text.String(), warnings, err)
	}
	_, _, err = msg.WritePart(ctxT(t), "1", io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "fetch "+envs[0].ID+": part 1: ") {
		t.Errorf("part 1: %v", err)
	}
}
