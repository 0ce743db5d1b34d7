package termtext

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, in, want, wantField string
	}{
		{"plain", "Hello, world", "Hello, world", "Hello, world"},
		{"non-ASCII kept", "Grüße – 日本語 ✓", "Grüße – 日本語 ✓", "Grüße – 日本語 ✓"},
		{"tab and newline", "a\tb\nc", "a\tb\nc", "a b c"},
		{"CR and other C0", "a\r\nb\x00c\x07d\x08e", "a\nbcde", "a bcde"},
		{"DEL", "a\x7fb", "ab", "ab"},
		{"CSI colour", "\x1b[31mred\x1b[0m", "red", "red"},
		{"CSI cursor with params", "x\x1b[2;5Hy\x1b[?25lz", "xyz", "xyz"},
		{"OSC title BEL", "\x1b]0;pwned\x07after", "after", "after"},
		{"OSC 52 clipboard ST", "\x1b]52;c;ZWNobyBoaQ==\x1b\\after", "after", "after"},
		{"OSC hyperlink", "\x1b]8;;http://evil/\x1b\\click\x1b]8;;\x1b\\", "click", "click"},
		{"DCS", "\x1bPq#0;2;0;0;0\x1b\\ok", "ok", "ok"},
		{"APC PM SOS", "\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\ok", "ok", "ok"},
		{"two-byte ESC", "a\x1bcb\x1b7c\x1b=d", "abcd", "abcd"},
		{"charset designation", "a\x1b(Bb\x1b#8c", "abc", "abc"},
		{"lone ESC at end", "abc\x1b", "abc", "abc"},
		{"ESC ESC", "a\x1b\x1b[1mb", "ab", "ab"},
		{"CSI aborted by newline", "a\x1b[12\nb", "a\nb", "a b"},
		{"unterminated OSC ends at newline", "a\x1b]0;title\nsecond line", "a\nsecond line", "a second line"},
		{"C1 as UTF-8", "a\u009b31mb\u0085c\u009d0;t\u009cd", "abcd", "abcd"},
		{"raw 8-bit C1 bytes", "a\x9b31mb\x85c", "a31mbc", "a31mbc"},
		{"invalid UTF-8 replaced", "a\xffb\xc3", "a\ufffdb\ufffd", "a\ufffdb\ufffd"},
		{"bidi controls", "invoice\u202Efdp.exe \u2066x\u2069\u200e\u200f\u061c", "invoicefdp.exe x", "invoicefdp.exe x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text(tc.in); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
			if got := Field(tc.in); got != tc.wantField {
				t.Errorf("Field(%q) = %q, want %q", tc.in, got, tc.wantField)
			}
		})
	}
}

func TestSanitizeLongUnterminatedString(t *testing.T) {
	in := "\x1b]" + strings.Repeat("x", maxStringSequence+10)
	got := Text(in)
	if got != strings.Repeat("x", 10) {
		t.Errorf("after the cap the rest shows as text: got %d bytes %q", len(got), got[:min(len(got), 20)])
	}
}

// TestSanitizeWriterSplits feeds every test input split at every byte
// position: escape sequences and UTF-8 runes cut between Write calls must
// give exactly what the string function gives.
func TestSanitizeWriterSplits(t *testing.T) {
	inputs := []string{
		"\x1b[31mred\x1b[0m plain",
		"\x1b]52;c;ZWNobw==\x1b\\after",
		"Grüße \u202E日本\xe2\x80",
		"a\u009b31mb\u009d0;x\u009cc",
		"x\x1b(By\x1bPq\x1b\\z",
	}
	for _, in := range inputs {
		want := Text(in)
		for i := 0; i <= len(in); i++ {
			var buf bytes.Buffer
			w := NewWriter(&buf, false)
			w.Write([]byte(in[:i]))
			w.Write([]byte(in[i:]))
			w.Close()
			if buf.String() != want {
				t.Fatalf("split %q at %d: got %q, want %q", in, i, buf.String(), want)
			}
		}
	}
}

// checkClean fails when a control byte or rune survived.
func checkClean(t *testing.T, in, out string, inline bool) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Fatalf("Text(%q) = %q: not valid UTF-8", in, out)
	}
	for _, r := range out {
		switch {
		case r == '\t' || r == '\n':
			if inline {
				t.Fatalf("field Text(%q) = %q keeps %U", in, out, r)
			}
		case r < 0x20, r >= 0x7F && r <= 0x9F, IsBidiControl(r):
			t.Fatalf("Text(%q) = %q keeps %U", in, out, r)
		}
	}
}

func FuzzSanitize(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b[31mred", "\x1b]0;t\x07", "\u009b1m", "\xff\xfe", "\u202e"} {
		f.Add(s, 1)
	}
	f.Fuzz(func(t *testing.T, in string, split int) {
		out := Text(in)
		checkClean(t, in, out, false)
		field := Field(in)
		checkClean(t, in, field, true)
		if again := Text(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
		if split < 0 {
			split = -split
		}
		if len(in) > 0 {
			split %= len(in) + 1
		} else {
			split = 0
		}
		var buf bytes.Buffer
		w := NewWriter(&buf, false)
		w.Write([]byte(in[:split]))
		w.Write([]byte(in[split:]))
		w.Close()
		if buf.String() != out {
			t.Fatalf("writer split at %d: %q, string: %q", split, buf.String(), out)
		}
		// JSON escapes instead of removing: nothing raw a terminal obeys,
		// and the same string (invalid UTF-8 aside) when decoded.
		js, err := encodeJSON(map[string]string{"s": in})
		if err != nil {
			t.Fatal(err)
		}
		checkClean(t, in, strings.TrimSuffix(string(js), "\n"), true)
		var back map[string]string
		if err := json.Unmarshal(js, &back); err != nil || back["s"] != string([]rune(in)) { // each invalid byte becomes U+FFFD
			t.Fatalf("JSON of %q = %s decodes to %q, %v", in, js, back["s"], err)
		}
	})
}

// encodeJSON encodes as --json does: no HTML escaping, then EscapeJSON.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return EscapeJSON(buf.Bytes()), nil
}

func TestEscapeJSON(t *testing.T) {
	v := map[string]string{"s": "a\x1b[31m\x7f\u0085\u009b\u202e<b>&\u2028\xff"}
	out, err := encodeJSON(v)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range string(out) {
		if r < 0x20 && r != '\n' || r >= 0x7F && r <= 0x9F || IsBidiControl(r) {
			t.Errorf("raw %U in %s", r, out)
		}
	}
	if !bytes.Contains(out, []byte(`<b>&`)) {
		t.Errorf("HTML characters escaped needlessly: %s", out)
	}
	for _, esc := range []string{`\u001b`, `\u007f`, `\u0085`, `\u009b`, `\u202e`, `\u2028`} {
		if !bytes.Contains(out, []byte(esc)) {
			t.Errorf("%s missing from %s", esc, out)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if want := strings.ToValidUTF8(v["s"], "\ufffd"); back["s"] != want {
		t.Errorf("round trip: %q, want %q", back["s"], want)
	}
}
