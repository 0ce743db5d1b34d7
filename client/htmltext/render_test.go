package htmltext

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/duomail/duomail/client/termtext"
	"github.com/duomail/duomail/client/textlayout"
)

func render(t *testing.T, doc string, width int) string {
	t.Helper()
	var out strings.Builder
	if err := Render(strings.NewReader(doc), &out, Options{Width: width}); err != nil {
		t.Fatalf("Render: %v", err)
	}
	checkClean(t, out.String())
	return out.String()
}

// checkClean fails on anything but printable text and newlines.
func checkClean(t *testing.T, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("output is not UTF-8: %q", s)
	}
	for _, r := range s {
		if r != '\n' && (unicode.IsControl(r) || termtext.IsBidiControl(r)) {
			t.Fatalf("output has control %U: %q", r, s)
		}
	}
}

func lineIndex(lines []string, pred func(string) bool) int {
	for i, l := range lines {
		if pred(l) {
			return i
		}
	}
	return -1
}

func hasLine(lines []string, want string) int {
	return lineIndex(lines, func(l string) bool { return l == want })
}

// col is the display column at which sub starts in line, or -1.
func col(line, sub string) int {
	i := strings.Index(line, sub)
	if i < 0 {
		return -1
	}
	return textlayout.Width(line[:i])
}

// The newsletter of the bug report: every kind of content a newsletter
// has, each checked for the property a reader needs rather than against
// a stored copy of the output.
func TestNewsletterStaysReadable(t *testing.T) {
	doc, err := os.ReadFile("testdata/newsletter.html")
	if err != nil {
		t.Fatal(err)
	}
	out := render(t, string(doc), 80)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	t.Logf("rendered:\n%s", out)
	for _, l := range lines {
		if w := textlayout.Width(l); w > 80 {
			t.Errorf("line of %d columns: %q", w, l)
		}
	}

	// The table: one line per row, the cells of a column aligned, the
	// prices (figures) right-aligned under their header.
	head := lineIndex(lines, func(l string) bool { return strings.Contains(l, "Item") })
	coffee := lineIndex(lines, func(l string) bool { return strings.Contains(l, "Coffee") })
	tea := lineIndex(lines, func(l string) bool { return strings.Contains(l, "Tea") })
	if head < 0 || coffee != head+1 || tea != head+2 {
		t.Fatalf("table rows not on consecutive lines (%d %d %d):\n%s", head, coffee, tea, out)
	}
	for _, row := range [][2]string{{"Item", "Price"}, {"Coffee", "3,50 €"}, {"Tea", "2,90 €"}} {
		l := lines[lineIndex(lines, func(l string) bool { return strings.Contains(l, row[0]) })]
		if !strings.Contains(l, row[1]) || col(l, row[0]) != 0 {
			t.Errorf("row %q: %q", row, l)
		}
	}
	end := func(l, s string) int { return col(l, s) + textlayout.Width(s) }
	if e := end(lines[head], "Price"); end(lines[coffee], "3,50 €") != e || end(lines[tea], "2,90 €") != e {
		t.Errorf("price column not aligned:\n%s\n%s\n%s", lines[head], lines[coffee], lines[tea])
	}
	if col(lines[coffee], "3,50") <= textlayout.Width("Coffee") {
		t.Errorf("no gap between columns: %q", lines[coffee])
	}

	// The blockquote after the table: quoted, nested quotes doubled, and
	// a blank line between it and the table.
	q := hasLine(lines, "> Best coffee in town!")
	if q < 0 || q != tea+2 || lines[q-1] != "" {
		t.Errorf("blockquote not quoted or not apart from the table:\n%s", out)
	}
	if n := hasLine(lines, "> > Said who?"); n <= q {
		t.Errorf("nested quote: %q", lines)
	}

	// <pre> verbatim: its lines as in the source.
	src := string(doc)
	pre := src[strings.Index(src, "<pre>")+5 : strings.Index(src, "</pre>")]
	for _, l := range strings.Split(pre, "\n") {
		if hasLine(lines, l) < 0 {
			t.Errorf("pre line %q not kept:\n%s", l, out)
		}
	}

	// The ordered list counts from its start attribute; the nested list
	// is indented under its item.
	three, four := hasLine(lines, "3. Order online"), hasLine(lines, "4. Pick up")
	if three < 0 || four != three+1 {
		t.Errorf("ordered list:\n%s", out)
	}
	sub := lineIndex(lines, func(l string) bool { return strings.Contains(l, "at the counter") })
	if sub != four+1 || col(lines[sub], "at the counter") <= col(lines[four], "Pick up") ||
		strings.TrimSpace(lines[sub])[0] == '3' {
		t.Errorf("nested list not indented under its item:\n%s", out)
	}

	// Links: a reference number, listed after the text; none where the
	// text is the address.
	if !strings.Contains(out, "full menu[1]") || !strings.Contains(out, "Unsubscribe[2]") {
		t.Errorf("link references:\n%s", out)
	}
	refs := lines[len(lines)-2:]
	if refs[0] != "[1] https://example.com/menu" || refs[1] != "[2] https://example.com/unsubscribe" || lines[len(lines)-3] != "" {
		t.Errorf("links not listed at the end: %q", refs)
	}
	if strings.Count(out, "https://example.com/ ") != 1 || strings.Contains(out, "mailto:") {
		t.Errorf("a link showing its own address got a reference:\n%s", out)
	}

	// Images by their alt text; a tracking pixel without one not at all.
	if !strings.Contains(out, "[image: Café logo]") || strings.Count(out, "[image") != 1 {
		t.Errorf("images:\n%s", out)
	}

	// Nothing hidden, scripted, styled or from the head.
	for _, gone := range []string{"Preheader", "Hidden paragraph", "tracking", "color", "display", "title"} {
		if strings.Contains(out, gone) {
			t.Errorf("%q shown:\n%s", gone, out)
		}
	}

	// Headings and paragraphs apart, whitespace collapsed, entities decoded.
	if lines[0] != "Café Weekly" || lines[1] != "" || lines[2] != "Hello Anna, here are this week's prices." {
		t.Errorf("heading and first paragraph: %q", lines[:3])
	}
}

// A table wider than the width is shown row by row, each value after its
// column's header.
func TestTableTooWideShownRowByRow(t *testing.T) {
	rows := [][]string{
		{"Product", "Description", "Price"},
		{"Espresso grinder", "Conical burrs, forty settings, for espresso and filter coffee", "249,00 €"},
		{"Milk jug", "Stainless steel, six hundred millilitres", "19,90 €"},
	}
	var b strings.Builder
	b.WriteString("<table>")
	for i, r := range rows {
		b.WriteString("<tr>")
		for _, c := range r {
			if i == 0 {
				b.WriteString("<th>" + c + "</th>")
			} else {
				b.WriteString("<td>" + c + "</td>")
			}
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</table>")
	// Too narrow for the longest words of three columns side by side.
	const width = 24
	out := render(t, b.String(), width)
	t.Logf("rendered:\n%s", out)
	lines := strings.Split(out, "\n")
	for _, r := range rows[1:] {
		for i, c := range r {
			label := rows[0][i] + ": "
			first := lineIndex(lines, func(l string) bool { return strings.HasPrefix(l, label) })
			if first < 0 {
				t.Fatalf("no %q line:\n%s", label, out)
			}
			// The value, perhaps wrapped onto indented lines.
			got := strings.TrimPrefix(lines[first], label)
			for _, l := range lines[first+1:] {
				if !strings.HasPrefix(l, "  ") {
					break
				}
				got += " " + strings.TrimSpace(l)
			}
			if strings.Contains(got, c) {
				lines = append(lines[:first], lines[first+1:]...) // the next row's line for this label
				continue
			}
			t.Errorf("%s%q not shown (got %q):\n%s", label, c, got, out)
		}
	}
	if strings.Contains(out, "Product: Product") {
		t.Errorf("header row shown as a row:\n%s", out)
	}
}

// A table that is too wide with its text on one line fits by wrapping its
// text columns; the columns stay aligned.
func TestTableFitsByWrappingText(t *testing.T) {
	desc := "Conical burrs, forty settings, for espresso and filter coffee alike"
	doc := "<table><tr><td>Grinder</td><td>" + desc + "</td></tr><tr><td>Jug</td><td>Steel</td></tr></table>"
	const width = 40
	out := render(t, doc, width)
	t.Logf("rendered:\n%s", out)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	start := col(lines[0], "Conical")
	var got []string
	for _, l := range lines {
		if w := textlayout.Width(l); w > width {
			t.Errorf("line of %d columns: %q", w, l)
		}
		if l == "" || strings.HasPrefix(l, "Jug") {
			break
		}
		if c := col(l, strings.TrimSpace(l[len("Grinder"):])); !strings.HasPrefix(l, "Grinder") && c != start {
			t.Errorf("continuation at column %d, want %d: %q", c, start, l)
		}
		got = append(got, strings.TrimSpace(strings.TrimPrefix(l, "Grinder")))
	}
	if strings.Join(got, " ") != desc || len(got) < 2 {
		t.Errorf("description %q, want %q wrapped", got, desc)
	}
	if jug := hasLine(lines, "Jug"+strings.Repeat(" ", start-3)+"Steel"); jug < 0 {
		t.Errorf("second row not aligned:\n%s", out)
	}
}

// Columns are measured in terminal columns: wide characters line up.
func TestTableAlignsWideCharacters(t *testing.T) {
	out := render(t, "<table><tr><td>東京</td><td>x</td></tr><tr><td>Oslo</td><td>y</td></tr><tr><td>😀</td><td>z</td></tr></table>", 80)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || col(lines[0], "x") != col(lines[1], "y") || col(lines[1], "y") != col(lines[2], "z") {
		t.Errorf("not aligned:\n%s", out)
	}
}

// Spacer columns and rows (empty cells of layout tables) take no room, and
// a one-column layout table is just its content.
func TestLayoutTablesTakeNoRoom(t *testing.T) {
	doc := `<table width="100%"><tr><td width="20"></td><td>
<table><tr><td><h2>News</h2><p>First story.</p></td></tr><tr><td>&nbsp;</td></tr><tr><td><p>Second story.</p></td></tr></table>
</td><td width="20"> </td></tr></table>`
	out := render(t, doc, 80)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, want := range []string{"News", "First story.", "Second story."} {
		if hasLine(lines, want) < 0 {
			t.Errorf("%q not on a line of its own (no indent):\n%s", want, out)
		}
	}
}

func TestListsNumberedAndNested(t *testing.T) {
	doc := `<ol type="a"><li>one<li>two</ol>
<ol><li>first<li value="7">seventh<li>eighth<ol type="I"><li>inner</ol></ol>
<ul><li>top<ul><li>mid<ul><li>low</ul></ul></ul>`
	out := render(t, doc, 80)
	lines := strings.Split(out, "\n")
	for _, want := range []string{"a. one", "b. two", "1. first", "7. seventh", "8. eighth", "   I. inner", "* top", "  - mid", "    + low"} {
		if hasLine(lines, want) < 0 {
			t.Errorf("no line %q:\n%s", want, out)
		}
	}
}

// Blockquotes are apart from the text around them, their blank lines
// quoted too.
func TestBlockquoteApartAndQuoted(t *testing.T) {
	out := render(t, "before<blockquote><p>one</p><p>two</p></blockquote>after", 80)
	want := "before\n\n> one\n>\n> two\n\nafter\n"
	if out != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

func TestLinksNumberedOnce(t *testing.T) {
	doc := `<a href="https://a.example/x">A</a> <a href="https://a.example/x">again</a>
<a href="#top">top</a> <a href="javascript:alert(1)">js</a> <a href="mailto:me@example.org">me@example.org</a>
<a href="http://b.example/">b.example</a> <a href=" https://c.example/y ">C</a>`
	out := render(t, doc, 200)
	for _, want := range []string{"A[1] again[1] top js me@example.org b.example C[2]", "[1] https://a.example/x", "[2] https://c.example/y"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "[3]") {
		t.Errorf("a link was numbered that should not be:\n%s", out)
	}
}

func TestHiddenContentDropped(t *testing.T) {
	doc := `<p>shown1</p>
<div hidden><div>no1</div><p>no2</p></div><p>shown2</p>
<span style="DISPLAY : None">no3</span><span style="visibility:hidden">no4</span>
<div style="mso-hide:all">no5</div><img style="display:none" alt="no6"><p>shown3</p>
<table><tr><td>shown4</td><td hidden>no7<td>shown5</td></tr></table>
<noscript>shown6</noscript><template><p>no8</p></template><svg><text>no9</text></svg>
<head><title>no10</title><style>no11</style></head><script>no12</script><p>shown7</p>`
	out := render(t, doc, 80)
	for i := 1; i <= 7; i++ {
		if !strings.Contains(out, "shown"+string(rune('0'+i))) {
			t.Errorf("shown%d missing:\n%s", i, out)
		}
	}
	if m := regexp.MustCompile(`no\d+`).FindString(out); m != "" {
		t.Errorf("%s shown:\n%s", m, out)
	}
}

func TestWhitespaceAndEntities(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"  a \n\t b  ", "a b\n"},
		{"<b>Hel</b>lo <i> world </i>!", "Hello world !\n"},
		{"a&nbsp;&nbsp;b &lt;tag&gt; &amp;amp; &#x263A; &eacute;", "a  b <tag> &amp; ☺ é\n"},
		{"<p>one</p><p>two</p><div>three</div>four<br>five<br><br><br>six", "one\n\ntwo\n\nthree\nfour\nfive\n\nsix\n"},
		{"soft\u00adhyphen \u202eevil\u202c \x01\x7f", "softhyphen evil\n"},
	} {
		if got := render(t, tc.doc, 80); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.doc, got, tc.want)
		}
	}
}

func TestPreKeptVerbatim(t *testing.T) {
	out := render(t, "<p>x</p><pre>\n  a\tb\n\n<b>bold</b>  c   </pre>y", 80)
	want := "x\n\n  a     b\n\n bold  c\n\ny\n"
	want = strings.Replace(want, "\n bold", "\nbold", 1)
	if out != want {
		t.Errorf("got %q, want %q", out, want)
	}
}

// Paragraph text is wrapped to the width; a word longer than the width is
// not cut.
func TestParagraphsWrapped(t *testing.T) {
	words := strings.Fields(strings.Repeat("lorem ipsum dolor sit amet ", 20))
	long := strings.Repeat("x", 50)
	out := render(t, "<p>"+strings.Join(words, " ")+" "+long+"</p>", 30)
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if textlayout.Width(l) > 30 && l != long {
			t.Errorf("line over 30 columns: %q", l)
		}
		got = append(got, strings.Fields(l)...)
	}
	if strings.Join(got, " ") != strings.Join(append(words, long), " ") {
		t.Errorf("words changed:\n%s", out)
	}
}
