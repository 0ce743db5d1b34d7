package main

import (
	"bytes"
	"testing"
)

func TestLocaleCharset(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "utf-8"},
		{map[string]string{"LANG": "C"}, "us-ascii"},
		{map[string]string{"LANG": "POSIX"}, "us-ascii"},
		{map[string]string{"LANG": "de_DE.ISO-8859-1"}, "iso-8859-1"},
		{map[string]string{"LANG": "de_DE.ISO-8859-15@euro"}, "iso-8859-15"},
		{map[string]string{"LANG": "de_DE"}, "utf-8"},
		{map[string]string{"LANG": "C", "LC_CTYPE": "en_US.UTF-8"}, "utf-8"},
		{map[string]string{"LANG": "en_US.UTF-8", "LC_CTYPE": "C", "LC_ALL": "fr_FR.ISO8859-1"}, "iso8859-1"},
		{map[string]string{"LANG": "C", "LC_ALL": ""}, "us-ascii"},
	} {
		if got := localeCharset(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.env, got, tc.want)
		}
	}
}

// Text is converted rune by rune, also when a write ends inside a UTF-8
// sequence; what a charset lacks is transliterated or "?".
func TestCharsetWriter(t *testing.T) {
	for _, tc := range []struct {
		charset, in, want string
	}{
		{"iso-8859-1", "Grüße – “x” €\n", "Gr\xfc\xdfe - \"x\" EUR\n"},
		{"iso8859-15", "€ Œ\n", "\xa4 \xbc\n"},
		{"us-ascii", "Crème brûlée … ß 日本\n", "Creme brulee ... ss ??\n"},
		{"koi8-r", "Привет é\n", "\xf0\xd2\xc9\xd7\xc5\xd4 e\n"},
		{"iso-8859-1", "bad \xff byte", "bad ? byte"},
	} {
		encode, err := terminalEncoder(tc.charset)
		if err != nil || encode == nil {
			t.Fatalf("%s: %v", tc.charset, err)
		}
		for split := 0; split <= len(tc.in); split++ {
			var out bytes.Buffer
			w := &charsetWriter{w: &out, encode: encode}
			w.Write([]byte(tc.in[:split]))
			w.Write([]byte(tc.in[split:]))
			w.Close()
			if out.String() != tc.want {
				t.Errorf("%s split at %d: %q, want %q", tc.charset, split, out.String(), tc.want)
				break
			}
		}
	}
	var out bytes.Buffer
	w := &charsetWriter{w: &out, json: true}
	w.Write([]byte(`{"s": "é😀"}`))
	if out.String() != `{"s": "\u00e9\ud83d\ude00"}` {
		t.Errorf("JSON: %s", out.String())
	}
	if _, err := terminalEncoder("no-such-charset"); err == nil {
		t.Error("an unknown charset was accepted")
	}
}
