package htmltext

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// Tokens longer than the tokenizer's buffer (a megabyte-long attribute,
// script, comment, text run or <pre> line) do not end rendering: what
// follows each is shown, and what they hid stays hidden.
func TestHugeTokensDoNotStopRendering(t *testing.T) {
	big := func(s string) string { return strings.Repeat(s, (1<<20)/len(s)) }
	parts := []string{
		"<p>m0</p>",
		`<img src="` + big("AAAA") + `" alt="lost with its tag">m1`,
		"<script>" + big("SCRIPT ") + "</script><p>m2</p>",
		"<!--" + big("COMMENT ") + "--><p>m3</p>",
		"<p>" + big("word ") + "</p><p>m4</p>",
		"<pre>" + big("P") + "</pre><p>m5</p>",
		`<a href="https://x.example/` + big("u") + `">m6</a>`,
		"<style>" + big("{}") + "</style><p>m7</p>",
	}
	var out strings.Builder
	if err := Render(strings.NewReader(strings.Join(parts, "\n")), &out, Options{Width: 80}); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	checkClean(t, s)
	for i := range parts {
		if !strings.Contains(s, fmt.Sprintf("m%d", i)) {
			t.Errorf("m%d lost", i)
		}
	}
	for _, hidden := range []string{"AAAA", "SCRIPT", "COMMENT", "{}", "uuuu"} {
		if strings.Contains(s, hidden) {
			t.Errorf("%q shown", hidden)
		}
	}
	if strings.Count(s, "word") != (1<<20)/5 || strings.Count(s, "P") != 1<<20 {
		t.Errorf("long text or pre line not shown whole: %d words, %d P", strings.Count(s, "word"), strings.Count(s, "P"))
	}
}

// genTable writes a table of n rows of three columns.
func genTable(n int) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprint(pw, "<table><tr><th>Order</th><th>Item</th><th>Price</th></tr>\n")
		for i := 0; i < n; i++ {
			fmt.Fprintf(pw, "<tr><td>%d</td><td>Item number %d</td><td>%d,00 €</td></tr>\n", i, i, i%100)
		}
		fmt.Fprint(pw, "</table><p>after the table</p>")
		pw.Close()
	}()
	return pr
}

// watchedReader counts what was read, and the writer notes how much
// input had been read when output first came.
type watchedReader struct {
	r io.Reader
	n int
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.n += n
	return n, err
}

type firstWrite struct {
	src *watchedReader
	at  int
	buf strings.Builder
}

func (f *firstWrite) Write(p []byte) (int, error) {
	if f.at == 0 && len(p) > 0 {
		f.at = f.src.n
	}
	return f.buf.Write(p)
}

// A table too big to hold is shown row by row while it is read, each
// value after its header, instead of being held to its end.
func TestBigTableStreamsRowByRow(t *testing.T) {
	const rows = 60000 // some 3.5 MB of HTML
	src := &watchedReader{r: genTable(rows)}
	w := &firstWrite{src: src}
	if err := Render(src, w, Options{Width: 80}); err != nil {
		t.Fatal(err)
	}
	if w.at == 0 || w.at > 2*maxTableBytes || w.at > src.n/2 {
		t.Errorf("first output after %d of %d bytes read: the table was held", w.at, src.n)
	}
	out := w.buf.String()
	for _, want := range []string{"Order: 0\nItem: Item number 0\nPrice: 0,00 €\n",
		fmt.Sprintf("Order: %d\nItem: Item number %[1]d\nPrice: %d,00 €\n\nafter the table\n", rows-1, (rows-1)%100)} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in the output", want)
		}
	}
	if n := strings.Count(out, "\nItem: "); n != rows {
		t.Errorf("%d rows shown, want %d", n, rows)
	}
}

// A small table is still laid out as columns.
func TestSmallTableHeld(t *testing.T) {
	var out strings.Builder
	if err := Render(genTable(3), &out, Options{Width: 80}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "Order  Item            Price\n    0  Item number 0  0,00 €\n") {
		t.Errorf("got %q", out.String())
	}
}

// BenchmarkRenderTenMegabytes renders 10 MB of newsletter-like HTML; see
// TestBinaryLargeHTMLPartBoundedMemory for the memory of the whole command.
func BenchmarkRenderTenMegabytes(b *testing.B) {
	for b.Loop() {
		if err := Render(genTable(200000), io.Discard, Options{Width: 80}); err != nil {
			b.Fatal(err)
		}
	}
}

// One row of 200,000 cells is shown, not held: it is ten times the cells a
// table may hold.
func TestEndlessRowStreams(t *testing.T) {
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprint(pw, "<table><tr>")
		for i := 0; i < 200000; i++ {
			fmt.Fprint(pw, "<td>x")
		}
		fmt.Fprint(pw, "</table>end")
		pw.Close()
	}()
	var out strings.Builder
	if err := Render(pr, &out, Options{Width: 80}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "x\n"); n != 200000 || !strings.HasSuffix(out.String(), "\nend\n") {
		t.Errorf("%d cells shown, end %q", n, out.String()[max(0, out.Len()-20):])
	}
}
