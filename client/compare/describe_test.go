package compare

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/duomail/duomail/client"
)

// A long subject is shortened on a character boundary: cutting inside a
// multi-byte UTF-8 sequence would show "\xc3" (from %q) in the compare
// table.
func TestDescribeShortensOnCharacters(t *testing.T) {
	subj := "a" + strings.Repeat("ä", 30) // 61 bytes: byte 40 is inside an ä
	got := describe(&client.Envelope{Subject: subj, Size: 2048})
	if !utf8.ValidString(got) || strings.Contains(got, `\x`) {
		t.Fatalf("describe cut a character: %q", got)
	}
	if !strings.Contains(got, "a"+strings.Repeat("ä", 19)+"...") || strings.Contains(got, strings.Repeat("ä", 20)) {
		t.Errorf("describe = %q", got)
	}
	if got := describe(&client.Envelope{Subject: "short", Size: 10}); got != `"short" (10 B)` {
		t.Errorf("describe = %q", got)
	}
}
