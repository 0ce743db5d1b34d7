package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// largeHTMLMessage writes a newsletter of about size bytes: sections with
// tables, <pre>, lists, quotes, links and images, then one table of
// megabytes, as a single text/html part.
func largeHTMLMessage(w io.Writer, size int64) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var n int64
	put := func(s string) {
		k, _ := io.WriteString(bw, s)
		n += int64(k)
	}
	put("From: News <news@example.org>\r\nSubject: large newsletter\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	put("<html><head><style>p{}</style></head><body><h1>MARKER-html-start</h1>\r\n")
	for i := 0; n < size*6/10; i++ {
		put(fmt.Sprintf("<h2>Section %d</h2><p>Prices this week, <a href=\"https://example.com/item/%d\">details</a>:</p>\r\n", i, i))
		put("<table><tr><th>Item</th><th>Price</th></tr><tr><td>Coffee</td><td>3,50 &euro;</td></tr><tr><td>Tea</td><td>2,90 &euro;</td></tr></table>\r\n")
		put("<blockquote>Best coffee in town!</blockquote><pre>Mon-Fri  08:00  18:00\r\nSat      09:00  14:00</pre>\r\n")
		put("<ol start=\"3\"><li>Order online</li><li>Pick up<ul><li>at the counter</li></ul></li></ol>\r\n")
		put("<p><img alt=\"logo\" src=\"cid:logo\"> <span style=\"display:none\">hidden preheader</span><script>x()</script></p>\r\n")
	}
	put("<table><tr><th>Order</th><th>Item</th><th>Price</th></tr>\r\n")
	for i := 0; n < size; i++ {
		put(fmt.Sprintf("<tr><td>%d</td><td>Item number %d</td><td>%d,00 &euro;</td></tr>\r\n", i, i, i%100))
	}
	put("</table><p>MARKER-html-end</p></body></html>\r\n")
	return n, bw.Flush()
}

// TestBinaryLargeHTMLPartBoundedMemory: showing a 10 MB HTML part keeps
// the command under 64 MB of memory (the renderer streams; the big table
// is shown row by row as it arrives), shows all of it, and leaks no
// control byte.
func TestBinaryLargeHTMLPartBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("renders 10 MB of HTML")
	}
	t.Parallel()
	const size = 10 << 20
	const limit = 64 << 20
	total, _ := largeHTMLMessage(io.Discard, size)
	srv := &scriptPOP3{msgs: []streamMessage{{uidl: "big-html", size: total, write: func(w io.Writer) error {
		_, err := largeHTMLMessage(w, size)
		return err
	}}}}
	port := startScriptPOP3(t, srv)
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	c.timeout = 3 * time.Minute
	u := popURL(port)
	var tally hostileTally
	// The download into the cache, measured apart from the rendering.
	tally.clean(t, c.runChecked(runOptions{}, "--url", u, "sync"))
	for _, tty := range []bool{false, true} {
		r := c.runChecked(runOptions{tty: tty}, "--url", u, "fetch", "--peek", "big-html")
		tally.clean(t, r)
		out := strings.ReplaceAll(r.stdout.String(), "\r\n", "\n") // a terminal's line ends
		for _, want := range []string{"MARKER-html-start", "MARKER-html-end", "> Best coffee in town!", "3. Order online",
			"Mon-Fri  08:00  18:00", "[image: logo]", "Order: 12\nItem: Item number 12\nPrice: 12,00 €"} {
			if !strings.Contains(out, want) {
				t.Errorf("tty=%v: %q not shown", tty, want)
			}
		}
		if strings.Contains(out, "hidden preheader") || strings.Contains(out, "x()") {
			t.Errorf("tty=%v: hidden text shown", tty)
		}
		if r.maxRSS > limit {
			t.Errorf("peak RSS %d MB, limit %d MB: %v", r.maxRSS>>20, limit>>20, r)
		}
		t.Logf("FIGURES large html part: tty=%v html_bytes=%d rss_mb=%.1f stdout_bytes=%d seconds=%.1f", tty, total, float64(r.maxRSS)/(1<<20), r.stdout.n, r.elapsed.Seconds())
	}
}

const (
	newsletterHTML = "<html><head><title>T</title><style>td{}</style></head><body><h1>Prices</h1>" +
		"<table><tr><th>Item</th><th>Price</th></tr><tr><td>Coffee</td><td>3,50 &euro;</td></tr><tr><td>Tea</td><td>2,90 &euro;</td></tr></table>" +
		"<blockquote>Best coffee in town!</blockquote><p><a href=\"https://example.com/menu\">menu</a></p></body></html>"
	alternativeMessage = "From: Cafe <cafe@example.org>\r\nSubject: both parts\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPLAIN-VERSION of the prices\r\n" +
		"--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + newsletterHTML + "\r\n--b--\r\n"
	htmlOnlyMessage = "From: Cafe <cafe@example.org>\r\nSubject: html only\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n\r\n" + newsletterHTML + "\r\n"
)

func staticMessage(uidl, raw string) streamMessage {
	return streamMessage{uidl: uidl, size: int64(len(raw)), write: func(w io.Writer) error {
		_, err := io.WriteString(w, raw)
		return err
	}}
}

// priceTable checks that out shows the newsletter's table as aligned
// columns: one line per row, the prices ending in one column.
func priceTable(t *testing.T, out string) {
	t.Helper()
	var ends []int
	for _, row := range [][2]string{{"Item", "Price"}, {"Coffee", "3,50 €"}, {"Tea", "2,90 €"}} {
		found := false
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, row[0]+" ") && strings.HasSuffix(strings.TrimRight(l, "\r"), row[1]) {
				ends = append(ends, len([]rune(strings.TrimRight(l, "\r"))))
				found = true
			}
		}
		if !found {
			t.Errorf("no row %q in:\n%s", row, out)
		}
	}
	if len(ends) == 3 && (ends[0] != ends[1] || ends[1] != ends[2]) {
		t.Errorf("price column not aligned (%v):\n%s", ends, out)
	}
}

// fetch shows the plain part of a message that has both, the HTML part
// with --html, and an HTML-only message rendered: table as columns,
// quote, link reference.
func TestBinaryFetchHTMLPart(t *testing.T) {
	t.Parallel()
	srv := &scriptPOP3{msgs: []streamMessage{staticMessage("alt", alternativeMessage), staticMessage("html", htmlOnlyMessage)}}
	port := startScriptPOP3(t, srv)
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	u := popURL(port)
	var tally hostileTally

	r := c.runChecked(runOptions{}, "--url", u, "fetch", "--peek", "alt")
	tally.clean(t, r)
	if out := r.stdout.String(); !strings.Contains(out, "PLAIN-VERSION") || strings.Contains(out, "Coffee") {
		t.Errorf("plain part not preferred: %v", r)
	}
	for _, args := range [][]string{{"fetch", "--peek", "--html", "alt"}, {"fetch", "--peek", "html"}} {
		r := c.runChecked(runOptions{}, append([]string{"--url", u}, args...)...)
		tally.clean(t, r)
		out := r.stdout.String()
		if strings.Contains(out, "PLAIN-VERSION") || strings.Contains(out, "td{}") {
			t.Errorf("%q: wrong part or style shown: %v", args, r)
		}
		priceTable(t, out)
		for _, want := range []string{"> Best coffee in town!", "menu[1]", "[1] https://example.com/menu"} {
			if !strings.Contains(out, want) {
				t.Errorf("%q: no %q: %v", args, want, r)
			}
		}
	}
	if r := c.runChecked(runOptions{}, "--url", u, "fetch", "--html", "--part", "1", "alt"); r.code != exitUsage {
		t.Errorf("--html with --part: %v", r)
	}
}

// html_filter: a real external program renders the HTML, fed on stdin;
// its output is cleaned of control sequences like any server text. A
// filter that fails makes fetch fail with its message, and none of its
// output is shown.
func TestBinaryHTMLFilter(t *testing.T) {
	t.Parallel()
	srv := &scriptPOP3{msgs: []streamMessage{staticMessage("html", htmlOnlyMessage)}}
	port := startScriptPOP3(t, srv)
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	u := popURL(port)
	dir := t.TempDir()
	script := func(name, body string) string {
		path := dir + "/" + name
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var tally hostileTally

	// Upper-cases what it reads and adds a window-title sequence.
	c.env["DUOMAIL_HTML_FILTER"] = script("upper", `printf 'FILTERED \033]0;owned\007'; tr a-z A-Z`)
	r := c.runChecked(runOptions{}, "--url", u, "fetch", "--peek", "html")
	tally.clean(t, r) // no control byte reached stdout
	out := r.stdout.String()
	if !strings.Contains(out, "FILTERED") || !strings.Contains(out, "<TD>COFFEE</TD>") || strings.Contains(out, "owned") {
		t.Errorf("filter output not shown, or not cleaned: %v", r)
	}

	// A pipeline with quotes works, as in a mailcap entry.
	c.env["DUOMAIL_HTML_FILTER"] = `sed 's/Coffee/Kaffee/' | grep -o 'Kaffee'`
	r = c.runChecked(runOptions{}, "--url", u, "fetch", "--peek", "html")
	tally.clean(t, r)
	if !strings.Contains(r.stdout.String(), "Kaffee") {
		t.Errorf("pipeline: %v", r)
	}

	c.env["DUOMAIL_HTML_FILTER"] = script("broken", "echo PARTIAL-OUTPUT; head -c 10 >/dev/null; echo 'broken: cannot render' >&2; exit 3")
	r = c.runChecked(runOptions{}, "--url", u, "fetch", "--peek", "html")
	tally.clean(t, r, exitError)
	if strings.Contains(r.stdout.String(), "PARTIAL-OUTPUT") {
		t.Errorf("a failed filter's output was shown: %v", r)
	}
	if e := r.stderr.String(); !strings.Contains(e, "html_filter \"") || !strings.Contains(e, "exit status 3") || !strings.Contains(e, "broken: cannot render") {
		t.Errorf("error does not say what failed: %v", r)
	}

	c.env["DUOMAIL_HTML_FILTER"] = "no-such-html-renderer-xyz -dump"
	r = c.runChecked(runOptions{}, "--url", u, "fetch", "--peek", "html")
	tally.clean(t, r, exitError)
	if e := r.stderr.String(); !strings.Contains(e, "no-such-html-renderer-xyz") || !strings.Contains(e, "127") {
		t.Errorf("a missing filter: %v", r)
	}
}
