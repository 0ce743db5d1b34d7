package query

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

var berlin = mustZone("Europe/Berlin")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// now is a Wednesday afternoon in Berlin, the day after a DST change
// would not matter; 2026-03-30 is the day after the spring change, so a
// count back across it must still land on midnight.
var now = time.Date(2026, 3, 30, 15, 4, 5, 0, berlin)

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, berlin) }

func word(v string) Text { return Text{Field: Anywhere, Value: v} }

func TestParseBuildsTheTree(t *testing.T) {
	tests := []struct {
		in   string
		want Node
	}{
		{"carol", word("carol")},
		{`"quarterly report"`, Text{Value: "quarterly report", Phrase: true}},
		{"from:alice", Text{Field: From, Value: "alice"}},
		{"FROM:Alice", Text{Field: From, Value: "Alice"}},
		{"to:bob@example.com", Text{Field: To, Value: "bob@example.com"}},
		{"cc:carol", Text{Field: Cc, Value: "carol"}},
		{`subject:"big news"`, Text{Field: Subject, Value: "big news", Phrase: true}},
		{"body:März", Text{Field: Body, Value: "März"}},
		{`"say \"hi\" \\o/"`, Text{Value: `say "hi" \o/`, Phrase: true}},
		{"10:30", word("10:30")},
		{"from:a:b", Text{Field: From, Value: "a:b"}},
		{"is:unread", Flag{Name: "seen", Set: false}},
		{"is:read", Flag{Name: "seen", Set: true}},
		{"is:flagged", Flag{Name: "flagged", Set: true}},
		{"is:answered", Flag{Name: "answered", Set: true}},
		{"is:draft", Flag{Name: "draft", Set: true}},
		{"IS:Unread", Flag{Name: "seen", Set: false}},
		{"has:attachment", HasAttachment{}},
		{"after:2026-03-01", Date{Since: day(2026, 3, 1)}},
		{"since:2026-3-1", Date{Since: day(2026, 3, 1)}},
		{"before:2026-03-01", Date{Before: day(2026, 3, 1)}},
		{"after:today", Date{Since: day(2026, 3, 30)}},
		{"after:yesterday", Date{Since: day(2026, 3, 29)}},
		{"after:7d", Date{Since: day(2026, 3, 23)}},
		{"after:2w", Date{Since: day(2026, 3, 16)}},
		{"after:3m", Date{Since: day(2025, 12, 30)}},
		{"before:1y", Date{Before: day(2025, 3, 30)}},
		{"date:2026-03-01..2026-03-31", Date{Since: day(2026, 3, 1), Before: day(2026, 4, 1)}},
		{"date:2026-03-05", Date{Since: day(2026, 3, 5), Before: day(2026, 3, 6)}},
		{"date:..2026-03-05", Date{Before: day(2026, 3, 6)}},
		{"date:7d..", Date{Since: day(2026, 3, 23)}},
		{"larger:500k", Size{Larger: 500 << 10}},
		{"larger:2M", Size{Larger: 2 << 20}},
		{"smaller:1G", Size{Smaller: 1 << 30}},
		{"smaller:1200", Size{Smaller: 1200}},
		{"larger:10kb", Size{Larger: 10 << 10}},
		{"a b", And{Terms: []Node{word("a"), word("b")}}},
		{"a AND b", And{Terms: []Node{word("a"), word("b")}}},
		{"a OR b", Or{Terms: []Node{word("a"), word("b")}}},
		{"a or b", And{Terms: []Node{word("a"), word("or"), word("b")}}},
		{"a OR b OR c", Or{Terms: []Node{word("a"), word("b"), word("c")}}},
		// OR binds tighter than side by side, as in web search.
		{"from:ann OR from:bob report", And{Terms: []Node{
			Or{Terms: []Node{Text{Field: From, Value: "ann"}, Text{Field: From, Value: "bob"}}},
			word("report")}}},
		{"-spam", Not{Term: word("spam")}},
		{"NOT spam", Not{Term: word("spam")}},
		{"--spam", word("spam")},
		{"-from:bob is:unread", And{Terms: []Node{Not{Term: Text{Field: From, Value: "bob"}}, Flag{Name: "seen"}}}},
		{"-(a OR b)", Not{Term: Or{Terms: []Node{word("a"), word("b")}}}},
		{"a (b c)", And{Terms: []Node{word("a"), word("b"), word("c")}}},
		{"(a b) OR c", Or{Terms: []Node{And{Terms: []Node{word("a"), word("b")}}, word("c")}}},
		{"((a))", word("a")},
		{"a-b", word("a-b")},
		{"  a\tb  ", And{Terms: []Node{word("a"), word("b")}}},
		{"a)b", nil}, // error below
	}
	for _, tt := range tests {
		if tt.want == nil {
			continue
		}
		got, err := Parse(tt.in, now, berlin)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

func TestParseDatesAreMidnightInTheGivenZone(t *testing.T) {
	tokyo := mustZone("Asia/Tokyo")
	// 23:30 UTC on the 1st is already the 2nd in Tokyo.
	n := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	got, err := Parse("after:today", n, tokyo)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 3, 2, 0, 0, 0, 0, tokyo)
	if d := got.(Date); !d.Since.Equal(want) || d.Since.Location() != tokyo {
		t.Fatalf("after:today at %v in Tokyo = %v, want %v", n, d.Since, want)
	}
}

func TestParseRefusesWithColumnAndSuggestion(t *testing.T) {
	tests := []struct {
		in     string
		col    int
		substr string
	}{
		{"", 1, "empty query"},
		{"   ", 1, "empty query"},
		{`subject:"big news`, 9, "unterminated quote"},
		{`hello "world`, 7, "unterminated quote"},
		{"form:alice", 1, "did you mean from:?"},
		{"subjet:x", 1, "did you mean subject:?"},
		{"subj:x", 1, "did you mean subject:?"},
		{"hello sice:2026-01-01", 7, "did you mean since:?"},
		{"befor:today", 1, "did you mean before:?"},
		{"unread:x", 1, "did you mean is:unread?"},
		{"attachment:x", 1, "did you mean has:attachment?"},
		{"http://example.com", 1, "quote the word"},
		{"is:unred", 4, "did you mean is:unread?"},
		{"is:spam", 4, "is: takes"},
		{"has:attachmnt", 5, "did you mean has:attachment?"},
		{"from:", 6, "needs a value"},
		{`from:""`, 6, "empty phrase"},
		{`""`, 1, "empty phrase"},
		{"before:2026-02-30", 8, "not a date on the calendar"},
		{"after:2026-13-01", 7, "not a date on the calendar"},
		{"after:last-week", 7, "not a date"},
		{"after:9999999d", 7, "too far back"},
		{"date:2026-03-10..2026-03-01", 18, "ends"},
		{"date:2026-03-01..2026-02-31", 18, "not a date on the calendar"},
		{"date:..", 6, "at least one end"},
		{"larger:big", 8, "not a size"},
		{"larger:99999999999G", 8, "too large"},
		{"smaller:0", 9, "matches nothing"},
		{"a OR", 3, "OR needs a term"},
		{"OR a", 1, "OR needs a term"},
		{"a OR OR b", 3, "OR needs a term"},
		{"a AND", 3, "AND needs a term"},
		{"- a", 1, `"-" needs a term`},
		{"a NOT", 3, "NOT needs a term"},
		{"(a", 1, "never closed"},
		{"a)", 2, "no ( to close"},
		{"()", 1, "empty parentheses"},
		{"a ( ) b", 3, "empty parentheses"},
		{"ä form:x", 3, "did you mean from:?"},
		{strings.Repeat("(", 200) + "a" + strings.Repeat(")", 200), 101, "nested too deeply"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in, now, berlin)
		var qe *Error
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error with %q", tt.in, tt.substr)
			continue
		}
		qe, ok := err.(*Error)
		if !ok {
			t.Errorf("Parse(%q) error %T, want *Error", tt.in, err)
			continue
		}
		if qe.Column != tt.col || !strings.Contains(qe.Msg, tt.substr) {
			t.Errorf("Parse(%q) = column %d %q, want column %d containing %q", tt.in, qe.Column, qe.Msg, tt.col, tt.substr)
		}
	}
}

func TestErrorCaretPointsAtTheColumn(t *testing.T) {
	_, err := Parse("ä form:x", now, berlin)
	got := err.(*Error).Caret()
	want := "ä form:x\n  ^"
	if got != want {
		t.Fatalf("Caret() = %q, want %q", got, want)
	}
}

func TestJoinArgsKeepsShellPhrasesTogether(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"from:alice", "report"}, "from:alice report"},
		{[]string{"subject:big news"}, `subject:"big news"`},
		{[]string{"big news"}, `"big news"`},
		{[]string{"-big news"}, `-"big news"`},
		{[]string{`say "hi" now`}, `say "hi" now`},
		{[]string{"from:ann OR from:bob"}, "from:ann OR from:bob"},
		{[]string{"a -from:bob"}, "a -from:bob"},
		{[]string{"(a b)"}, "(a b)"},
	}
	for _, tt := range tests {
		if got := JoinArgs(tt.args); got != tt.want {
			t.Errorf("JoinArgs(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
	// What JoinArgs made of a shell phrase parses as one phrase.
	n, err := Parse(JoinArgs([]string{`subject:big "news`}), now, berlin)
	if err == nil {
		t.Fatalf("a stray quote typed inside shell quotes parsed as %#v, want an unterminated quote", n)
	}
	n, err = Parse(JoinArgs([]string{`subject:big news`, "-x y"}), now, berlin)
	if err != nil {
		t.Fatal(err)
	}
	want := And{Terms: []Node{Text{Field: Subject, Value: "big news", Phrase: true}, Not{Term: Text{Value: "x y", Phrase: true}}}}
	if !reflect.DeepEqual(n, want) {
		t.Fatalf("got %#v", n)
	}
}

func TestFormatParsesBackToTheSameTree(t *testing.T) {
	for _, in := range []string{
		`from:ann OR from:bob report -is:read`,
		`"a phrase" subject:"x y" body:März`,
		`-(a OR (b c)) has:attachment larger:2M smaller:10`,
		`date:2026-03-01..2026-03-31 after:7d before:yesterday`,
		`"OR" "-x" "a:b" "(" 10:30`,
		`is:unflagged is:unanswered is:draft`,
	} {
		n, err := Parse(in, now, berlin)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		back, err := Parse(Format(n), now, berlin)
		if err != nil {
			t.Fatalf("Parse(Format(%q)) = Parse(%q): %v", in, Format(n), err)
		}
		if !reflect.DeepEqual(back, n) {
			t.Errorf("Format(%q) = %q parses to %#v, want %#v", in, Format(n), back, n)
		}
	}
}
