package query

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// FuzzParse: the parser never panics, every error points inside the input
// (or just past its end), and what it accepts formats to a query that
// parses back to the same tree.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"carol", `from:alice subject:"big news"`, "-(a OR b) is:unread",
		"date:2026-03-01..2026-03-31", "larger:2M smaller:1G", `"x \" y"`,
		"after:7d before:today", "form:x", "(a", "a)", `"`, "- a", "NOT NOT a",
		"has:attachment OR is:flagged", "10:30 a:b", "ä(b)c", "OR", "a AND b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := Parse(in, now, berlin)
		if err != nil {
			qe, ok := err.(*Error)
			if !ok {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if qe.Column < 1 || qe.Column > utf8.RuneCountInString(in)+1 {
				t.Fatalf("column %d outside input of %d runes", qe.Column, utf8.RuneCountInString(in))
			}
			return
		}
		s := Format(n)
		back, err := Parse(s, now, berlin)
		if err != nil {
			t.Fatalf("Parse(%q) ok, Format = %q does not parse: %v", in, s, err)
		}
		if !reflect.DeepEqual(back, n) {
			t.Fatalf("Parse(%q) = %#v; Format = %q parses to %#v", in, n, s, back)
		}
	})
}
