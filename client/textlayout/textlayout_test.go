package textlayout

import (
	"strings"
	"testing"
)

func TestWrap(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  []string
	}{
		{"", 10, []string{""}},
		{"a b c", 10, []string{"a b c"}},
		{"alpha beta gamma", 10, []string{"alpha beta", "gamma"}},
		{"abcdefghijklmnop", 5, []string{"abcde", "fghij", "klmno", "p"}},
		{"deleted message (426 B)", 20, []string{"deleted message", "(426 B)"}},
		{"took 0.7 ms here", 9, []string{"took", "0.7 ms", "here"}},
		{"日本語の件名です", 6, []string{"日本語", "の件名", "です"}},
	}
	for _, tc := range tests {
		if got := Wrap(tc.in, tc.width); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("Wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

func TestAlignWide(t *testing.T) {
	out := Align([][]string{{"A", "B", "C"}, {"日本語", "x", "1"}, {"ab", "🌴🌴", "2"}}, 2)
	want := "A       B     C\n日本語  x     1\nab      🌴🌴  2\n"
	if out != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"a longer subject", 10, "a longer…"},
		{"日本語の件名", 5, "日本…"},
		{"anything", 1, "…"},
	} {
		if got := Truncate(tc.in, tc.n); got != tc.want || Width(got) > max(tc.n, 1) {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// TestFit shortens only the flexible columns, the widest first, and never
// below the minimum.
func TestFit(t *testing.T) {
	header := []string{"ID", "FROM", "SUBJECT"}
	rows := [][]string{{"1", "alice@example.org", "a subject that is far too long for the line"}}
	Fit(header, rows, []bool{false, true, true}, 2, 10, 40)
	line := strings.TrimRight(Align(append([][]string{header}, rows...), 2), "\n")
	for _, l := range strings.Split(line, "\n") {
		if Width(l) > 40 {
			t.Errorf("line %q is %d columns wide, want at most 40", l, Width(l))
		}
	}
	if rows[0][0] != "1" || rows[0][1] != "alice@example.org" || !strings.HasSuffix(rows[0][2], "…") {
		t.Errorf("only the widest flexible column should be cut: %q", rows[0])
	}

	rows = [][]string{{"1", "alice@example.org", "a subject that is far too long for the line"}}
	Fit(header, rows, []bool{false, true, true}, 2, 10, 5)
	if Width(rows[0][1]) != 10 || Width(rows[0][2]) != 10 {
		t.Errorf("flexible columns go no narrower than the minimum: %q", rows[0])
	}
}
