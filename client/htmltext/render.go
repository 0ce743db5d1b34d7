// Package htmltext renders an HTML mail part as plain text for a terminal:
// paragraphs and headings apart, tables as aligned columns (row by row
// when too wide), <pre> verbatim, numbered and nested lists, quoted
// blockquotes, links as numbered references after the text, images as
// their alt text, and nothing of what a browser would not show (scripts,
// styles, hidden elements).
//
// It streams: the tokenizer's buffer is bounded, and only tables are held
// until they end (to measure their columns), up to a bound past which a
// table is shown row by row as it arrives. Its output never contains a
// control character other than the newline.
package htmltext

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"golang.org/x/net/html"
)

// DefaultWidth is the width laid out for when none is given.
const DefaultWidth = 80

// Bounds on what one document may make the renderer hold.
const (
	maxTokenBytes = 256 << 10 // one tag, text run or comment; a longer one is cut
	maxTableBytes = 1 << 20   // text held by open tables before the outermost streams
	maxTableCells = 20000     // cells held by open tables, likewise
	maxLinks      = 2000      // numbered links; later ones keep only their text
	maxLinkBytes  = 1 << 20   // the URLs kept for the list of links
	maxURLBytes   = 8 << 10   // a longer URL is not listed
	maxLinkText   = 2 << 10   // link text kept to compare with its URL
	maxWordBytes  = 4 << 10   // a longer word is broken
	maxLineBytes  = 64 << 10  // a longer <pre> line is broken
	maxDepth      = 256       // open elements tracked; deeper ones are ignored
	minAvail      = 20        // columns left for text however deep the nesting
	columnGap     = 2         // spaces between table columns
)

// Options say how to lay the text out.
type Options struct {
	// Width is the number of columns to fill; 0 or less means
	// DefaultWidth.
	Width int
}

// Render reads an HTML document (UTF-8) from r and writes it as text to w.
// The error is r's or w's; malformed HTML is rendered as well as it goes.
func Render(r io.Reader, w io.Writer, opts Options) error {
	width := opts.Width
	if width <= 0 {
		width = DefaultWidth
	}
	rd := &renderer{
		src:       r,
		out:       bufio.NewWriterSize(w, 32<<10),
		linkIndex: map[string]int{},
	}
	rd.z = newTokenizer(r)
	rd.doc = &flow{r: rd, width: width, simple: true}
	rd.doc.sink = rd.writeLine
	rd.flows = []*flow{rd.doc}
	rerr := rd.run()
	if rd.werr == nil {
		rd.finish()
	}
	if rd.werr == nil {
		rd.werr = rd.out.Flush()
	}
	if rd.werr != nil {
		return rd.werr
	}
	return rerr
}

func newTokenizer(r io.Reader) *html.Tokenizer {
	z := html.NewTokenizer(r)
	z.SetMaxBuf(maxTokenBytes)
	return z
}

// renderer is one document being rendered.
type renderer struct {
	z     *html.Tokenizer
	src   io.Reader // what the tokenizer reads; replaced when it restarts
	out   *bufio.Writer
	werr  error
	wrote bool

	doc    *flow
	flows  []*flow // doc, then one per open table cell
	elems  []*elem // open elements that shape the layout
	tables []*table

	// Elements whose content is not shown: the name and how many of them
	// are open (nested ones of the same name included).
	skipName  string
	skipDepth int

	// rawOpen names the raw-text element (script, style, textarea...)
	// whose content the tokenizer is reading, so a restart can resume it;
	// swallow drops the start tag a restart replays.
	rawOpen       string
	swallow       bool
	carry         string // the end of a cut text that may start a tag
	commentCut    bool   // the last comment ended without its "-->"
	commentOpen   bool   // ...and began with "<!--"
	commentDashes int

	link      *openLink
	links     []string
	linkIndex map[string]int
	linkBytes int

	heldBytes int // text held by tables not streaming
	heldCells int
}

type openLink struct {
	href string
	text []byte
	f    *flow
}

// elem is an open element that matters to the layout.
type elem struct {
	name  string
	f     *flow // the flow it was opened in
	blk   *block
	list  *list
	table *table
	cell  *cell
	link  bool
	pre   bool
}

type list struct {
	ordered bool
	n       int
	style   string // ordered: 1, a, A, i or I
	depth   int    // unordered: nesting level, for the bullet
}

func (r *renderer) cur() *flow { return r.flows[len(r.flows)-1] }

func (r *renderer) writeLine(line string) {
	if r.werr != nil {
		return
	}
	r.wrote = true
	r.out.WriteString(clean(line))
	r.werr = r.out.WriteByte('\n')
}

func (r *renderer) run() error {
	for r.werr == nil {
		tt := r.z.Next()
		switch tt {
		case html.ErrorToken:
			err := r.z.Err()
			if err == io.EOF {
				return nil
			}
			if errors.Is(err, html.ErrBufferExceeded) {
				r.restart()
				continue
			}
			return err
		case html.TextToken:
			cut := len(r.z.Raw()) >= maxTokenBytes
			text := r.z.Text()
			if cut {
				// What may start a tag goes to the tokenizer that follows.
				n := r.tagStart(text)
				r.carry = string(text[len(text)-n:])
				text = text[:len(text)-n]
			}
			r.onText(text)
		case html.StartTagToken, html.SelfClosingTagToken:
			r.onStart(tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			r.rawOpen = ""
			name, _ := r.z.TagName()
			r.onEnd(string(name))
		case html.CommentToken:
			r.rawOpen = ""
			raw := r.z.Raw()
			r.commentOpen = bytes.HasPrefix(raw, []byte("<!--"))
			r.commentCut = !bytes.HasSuffix(raw, []byte(">"))
			// A cut comment may end inside its "-->".
			r.commentDashes = len(raw) - len(bytes.TrimRight(raw, "-"))
		case html.DoctypeToken:
			r.rawOpen = ""
			r.commentOpen = false
			r.commentCut = !bytes.HasSuffix(r.z.Raw(), []byte(">"))
		}
	}
	return nil
}

// restart carries on after a token longer than maxTokenBytes: a new
// tokenizer reads what the old one had buffered and the rest of the
// input. Text was already delivered (cut in two, which the word builder
// joins); the rest of a cut tag or comment is skipped; a raw-text element
// (a huge script) is resumed by replaying its start tag.
func (r *renderer) restart() {
	partial := r.z.Raw()
	rest := append([]byte(nil), r.z.Buffered()...)
	src := io.MultiReader(bytes.NewReader(rest), r.src)
	var prime string
	switch {
	case r.rawOpen != "":
		prime = "<" + r.rawOpen + ">"
		r.swallow = true
	case len(partial) > 0 && partial[0] == '<':
		src = &skipPast{r: src, end: ">"}
	case r.commentCut && r.commentOpen:
		src = &skipPast{r: src, end: "-->", matched: min(r.commentDashes, 2)}
	case r.commentCut:
		src = &skipPast{r: src, end: ">"}
	}
	r.commentCut, r.commentOpen = false, false
	r.src = src
	r.z = newTokenizer(io.MultiReader(strings.NewReader(prime+r.carry), src))
	r.carry = ""
}

// tagStart is how many bytes at the end of a text cut by the bound may be
// the start of a tag: "<" or "</" in text, a prefix of the end tag in a
// raw-text element.
func (r *renderer) tagStart(text []byte) int {
	end := "</"
	if r.rawOpen != "" {
		end += r.rawOpen
	}
	for k := min(len(end), len(text)); k > 0; k-- {
		if strings.EqualFold(string(text[len(text)-k:]), end[:k]) {
			return k
		}
	}
	return 0
}

// skipPast drops what it reads up to and including end.
type skipPast struct {
	r       io.Reader
	end     string
	matched int
	done    bool
}

func (s *skipPast) Read(p []byte) (int, error) {
	for !s.done {
		n, err := s.r.Read(p)
		for i := 0; i < n; i++ {
			if p[i] == s.end[s.matched] {
				s.matched++
			} else if p[i] == s.end[0] {
				s.matched = 1
			} else {
				s.matched = 0
			}
			if s.matched == len(s.end) {
				s.done = true
				return copy(p, p[i+1:n]), nil
			}
		}
		if err != nil {
			return 0, err
		}
	}
	return s.r.Read(p)
}

func (r *renderer) onText(text []byte) {
	if r.skipName != "" || len(text) == 0 {
		return
	}
	s := string(text)
	if t := r.currentTable(); t != nil && t.cellFlow() == nil {
		// Text between a table's cells: whitespace, or content a
		// browser would move out of the table; here it gets a cell.
		if strings.TrimSpace(s) == "" {
			return
		}
		r.openCell("td", 1)
	}
	if r.link != nil && len(r.link.text) < maxLinkText {
		r.link.text = append(r.link.text, s...)
	}
	r.cur().text(s)
}

// attrs are the attributes the layout looks at.
type attrs struct {
	hidden  bool
	href    string
	alt     string
	hasAlt  bool
	start   string
	typ     string
	value   string
	colspan string
}

func (r *renderer) readAttrs(more bool) attrs {
	var a attrs
	for more {
		var k, v []byte
		k, v, more = r.z.TagAttr()
		switch string(k) {
		case "hidden":
			a.hidden = true
		case "style":
			if hiddenStyle(v) {
				a.hidden = true
			}
		case "href":
			a.href = string(v)
		case "alt":
			a.alt, a.hasAlt = string(v), true
		case "start":
			a.start = string(v)
		case "type":
			a.typ = string(v)
		case "value":
			a.value = string(v)
		case "colspan":
			a.colspan = string(v)
		}
	}
	return a
}

// hiddenStyle reports an inline style that hides the element: the
// preheader text of newsletters, Outlook-only copies.
func hiddenStyle(v []byte) bool {
	s := strings.ToLower(strings.Join(strings.Fields(string(v)), ""))
	return strings.Contains(s, "display:none") || strings.Contains(s, "visibility:hidden") ||
		strings.Contains(s, "mso-hide:all")
}

// dropped elements are never shown, content included.
var dropped = map[string]bool{
	"script": true, "style": true, "title": true, "template": true, "iframe": true,
	"noembed": true, "noframes": true, "object": true, "applet": true, "svg": true,
	"canvas": true, "audio": true, "video": true, "select": true, "datalist": true,
}

var void = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
	"img": true, "input": true, "link": true, "meta": true, "source": true,
	"track": true, "wbr": true, "param": true, "keygen": true,
}

var rawText = map[string]bool{
	"script": true, "style": true, "textarea": true, "title": true, "xmp": true,
	"iframe": true, "noembed": true, "noframes": true, "plaintext": true,
}

// Elements that start on a line of their own, apart from what is around
// them by a blank line (paragraph) or not (line).
var (
	paragraphs = map[string]bool{
		"p": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
		"address": true, "figure": true, "fieldset": true, "dl": true,
	}
	lines = map[string]bool{
		"div": true, "section": true, "article": true, "header": true, "footer": true,
		"nav": true, "aside": true, "main": true, "center": true, "figcaption": true,
		"details": true, "summary": true, "form": true, "legend": true, "dt": true,
		"option": true, "body": true, "html": true, "hgroup": true, "search": true,
		"td": true, "th": true, "tr": true, "caption": true, // outside a table
	}
)

// closesSkipped reports whether a tag ends a skipped element that has no
// end tag of its own: a hidden cell ends where the next cell starts.
func closesSkipped(skipped, name string, start bool) bool {
	switch skipped {
	case "td", "th":
		return start && (name == "td" || name == "th" || name == "tr") ||
			!start && (name == "tr" || name == "table" || name == "tbody" || name == "thead" || name == "tfoot")
	case "tr":
		return start && name == "tr" || !start && (name == "table" || name == "tbody" || name == "thead" || name == "tfoot")
	case "li":
		return !start && (name == "ul" || name == "ol")
	}
	return false
}

func (r *renderer) onStart(selfClosing bool) {
	nameB, more := r.z.TagName()
	name := string(nameB)
	if r.swallow {
		r.swallow = false
		return
	}
	r.rawOpen = ""
	if rawText[name] {
		r.rawOpen = name
	}
	if name == "noscript" {
		// A mail reader runs no script: show what is meant for that case.
		r.z.NextIsNotRawText()
	}
	if r.skipName != "" {
		if closesSkipped(r.skipName, name, true) && r.skipDepth == 1 {
			r.skipName, r.skipDepth = "", 0
		} else {
			if name == r.skipName && !void[name] && !(selfClosing && r.skipName == "svg") {
				r.skipDepth++
			}
			return
		}
	}
	a := r.readAttrs(more)
	if a.hidden || dropped[name] {
		if !void[name] && !(selfClosing && !rawText[name] && name == "svg") {
			r.skipName, r.skipDepth = name, 1
		}
		return
	}
	f := r.cur()
	switch name {
	case "br":
		f.br()
	case "hr":
		f.blank()
		f.emitLine(strings.Repeat("-", min(40, f.avail())))
		f.blank()
		f.simple = false
	case "img":
		if a.alt = strings.TrimSpace(a.alt); a.alt != "" {
			s := "[image: " + a.alt + "]"
			if r.link != nil && len(r.link.text) < maxLinkText {
				r.link.text = append(r.link.text, s...)
			}
			f.text(s)
		}
	case "a":
		r.popTo("a")
		if href := usableURL(a.href); href != "" {
			if r.push(&elem{name: "a", f: f, link: true}) {
				r.link = &openLink{href: href, f: f}
			}
		}
	case "pre", "listing", "xmp", "textarea", "plaintext":
		f.blank()
		if r.push(&elem{name: name, f: f, pre: true}) {
			f.pre++
			f.preStart = true
			f.simple = false
		}
	case "blockquote":
		f.blank()
		blk := &block{first: "> ", rest: "> "}
		if r.push(&elem{name: name, f: f, blk: blk}) {
			f.blocks = append(f.blocks, blk)
			f.simple = false
		}
	case "ul", "ol", "menu", "dir":
		nested := r.inListItem()
		if nested {
			f.lineBreak()
		} else {
			f.blank()
		}
		l := &list{ordered: name == "ol", n: 1, style: "1"}
		if l.ordered {
			if n, err := strconv.Atoi(strings.TrimSpace(a.start)); err == nil {
				l.n = n
			}
			switch a.typ {
			case "a", "A", "i", "I":
				l.style = a.typ
			}
		} else {
			l.depth = r.listDepth()
		}
		r.push(&elem{name: name, f: f, list: l})
	case "li":
		r.closeOpen("li", "ul", "ol", "menu", "dir")
		f = r.cur()
		f.lineBreak()
		marker := "* "
		if l := r.innerList(); l != nil {
			marker = l.marker(a.value)
		}
		blk := &block{first: marker, rest: strings.Repeat(" ", width(marker))}
		if r.push(&elem{name: name, f: f, blk: blk}) {
			f.blocks = append(f.blocks, blk)
			f.simple = false
		}
	case "dd":
		r.closeOpen("dd", "dl")
		f = r.cur()
		f.lineBreak()
		blk := &block{first: "    ", rest: "    "}
		if r.push(&elem{name: name, f: f, blk: blk}) {
			f.blocks = append(f.blocks, blk)
			f.simple = false
		}
	case "table":
		f.blank()
		f.simple = false
		t := &table{r: r, parent: f, avail: f.avail()}
		if r.push(&elem{name: name, f: f, table: t}) {
			r.tables = append(r.tables, t)
		}
	case "thead", "tbody", "tfoot":
		if t := r.currentTableElem(); t >= 0 {
			r.popAbove(t)
			tbl := r.elems[t].table
			tbl.inHead = name == "thead"
			tbl.endRow()
		} else {
			f.lineBreak()
		}
	case "tr":
		if t := r.currentTableElem(); t >= 0 {
			r.popAbove(t)
			r.elems[t].table.startRow()
			r.push(&elem{name: name, f: r.cur()})
		} else {
			f.lineBreak()
		}
	case "td", "th", "caption":
		if r.currentTableElem() >= 0 {
			span := 1
			if n, err := strconv.Atoi(strings.TrimSpace(a.colspan)); err == nil {
				span = max(1, min(n, 100))
			}
			if name == "caption" {
				span = 0
			}
			r.openCell(name, span)
		} else {
			f.lineBreak()
		}
	default:
		switch {
		case paragraphs[name]:
			f.blank()
		case lines[name]:
			f.lineBreak()
		}
	}
}

func (r *renderer) onEnd(name string) {
	if r.swallow {
		r.swallow = false
	}
	if r.skipName != "" {
		switch {
		case name == r.skipName:
			if r.skipDepth--; r.skipDepth == 0 {
				r.skipName = ""
			}
			return
		case closesSkipped(r.skipName, name, false) && r.skipDepth == 1:
			r.skipName, r.skipDepth = "", 0
		default:
			return
		}
	}
	f := r.cur()
	switch {
	case name == "br":
		f.br() // </br> is a line break to browsers too
	case name == "p" || paragraphs[name]:
		f.blank()
	case name == "a" || name == "pre" || name == "listing" || name == "xmp" || name == "textarea" ||
		name == "blockquote" || name == "ul" || name == "ol" || name == "menu" || name == "dir" ||
		name == "li" || name == "dd" || name == "table" || name == "tr" || name == "td" ||
		name == "th" || name == "caption":
		r.popTo(name)
	case name == "thead" || name == "tbody" || name == "tfoot":
		if t := r.currentTableElem(); t >= 0 {
			r.popAbove(t)
			r.elems[t].table.inHead = false
		}
	case lines[name]:
		f.lineBreak()
	}
}

// push records an open element; beyond maxDepth it is ignored.
func (r *renderer) push(e *elem) bool {
	if len(r.elems) >= maxDepth {
		return false
	}
	r.elems = append(r.elems, e)
	return true
}

// boundary reports whether an end tag for name may close elements beyond e:
// a table's structure is closed only by its own tags.
func crosses(e *elem, name string) bool {
	switch {
	case e.table != nil:
		return name == "table"
	case e.cell != nil:
		switch name {
		case "td", "th", "tr", "table", "caption":
			return true
		}
		return false
	}
	return true
}

// popTo closes the innermost open element called name and everything
// opened after it, unless a table boundary is in between.
func (r *renderer) popTo(name string) {
	for i := len(r.elems) - 1; i >= 0; i-- {
		e := r.elems[i]
		if e.name == name {
			r.popAbove(i)
			r.close(r.elems[i])
			r.elems = r.elems[:i]
			return
		}
		if !crosses(e, name) {
			return
		}
	}
}

// popAbove closes every element opened after the one at i.
func (r *renderer) popAbove(i int) {
	for len(r.elems) > i+1 {
		e := r.elems[len(r.elems)-1]
		r.close(e)
		r.elems = r.elems[:len(r.elems)-1]
	}
}

// closeOpen closes an open element called name (an earlier list item
// when a new one starts) unless one of stop, or a table cell, comes
// first.
func (r *renderer) closeOpen(name string, stop ...string) {
	for i := len(r.elems) - 1; i >= 0; i-- {
		e := r.elems[i]
		if e.name == name {
			r.popAbove(i)
			r.close(e)
			r.elems = r.elems[:i]
			return
		}
		if e.table != nil || e.cell != nil {
			return
		}
		for _, s := range stop {
			if e.name == s {
				return
			}
		}
	}
}

func (r *renderer) close(e *elem) {
	f := e.f
	switch {
	case e.link:
		r.closeLink()
	case e.pre:
		f.endLine()
		f.pre--
		f.blank()
	case e.blk != nil:
		f.endLine()
		for i, b := range f.blocks {
			if b == e.blk {
				f.blocks = f.blocks[:i]
				break
			}
		}
		if e.name == "blockquote" {
			f.blank()
		}
	case e.list != nil:
		if r.inListItem() {
			f.lineBreak()
		} else {
			f.blank()
		}
	case e.cell != nil:
		r.closeCell(e.cell)
	case e.table != nil:
		r.closeTable(e.table)
	case e.name == "tr":
		if t := r.currentTable(); t != nil {
			t.endRow()
		}
	}
}

// inListItem reports whether the innermost open list item or list is
// inside a list item (of the same table cell).
func (r *renderer) inListItem() bool {
	for i := len(r.elems) - 1; i >= 0; i-- {
		e := r.elems[i]
		if e.name == "li" || e.name == "dd" {
			return true
		}
		if e.table != nil || e.cell != nil {
			return false
		}
	}
	return false
}

func (r *renderer) innerList() *list {
	for i := len(r.elems) - 1; i >= 0; i-- {
		e := r.elems[i]
		if e.list != nil {
			return e.list
		}
		if e.table != nil || e.cell != nil {
			return nil
		}
	}
	return nil
}

// listDepth counts the unordered lists open around a new one.
func (r *renderer) listDepth() int {
	n := 0
	for i := len(r.elems) - 1; i >= 0; i-- {
		e := r.elems[i]
		if e.list != nil && !e.list.ordered {
			n++
		}
		if e.table != nil || e.cell != nil {
			break
		}
	}
	return n
}

var bullets = []string{"* ", "- ", "+ "}

// marker is the next item's marker; value is the item's own value
// attribute, which also moves the count.
func (l *list) marker(value string) string {
	if !l.ordered {
		return bullets[l.depth%len(bullets)]
	}
	if n, err := strconv.Atoi(strings.TrimSpace(value)); err == nil {
		l.n = n
	}
	n := l.n
	l.n++
	switch l.style {
	case "a", "A":
		s := alpha(n)
		if l.style == "A" {
			s = strings.ToUpper(s)
		}
		return s + ". "
	case "i", "I":
		s := roman(n)
		if l.style == "I" {
			s = strings.ToUpper(s)
		}
		return s + ". "
	}
	return strconv.Itoa(n) + ". "
}

func alpha(n int) string {
	if n < 1 {
		return strconv.Itoa(n)
	}
	var b []byte
	for n > 0 {
		n--
		b = append([]byte{byte('a' + n%26)}, b...)
		n /= 26
	}
	return string(b)
}

func roman(n int) string {
	if n < 1 || n > 3999 {
		return strconv.Itoa(n)
	}
	vals := []int{1000, 900, 500, 400, 100, 90, 50, 40, 10, 9, 5, 4, 1}
	syms := []string{"m", "cm", "d", "cd", "c", "xc", "l", "xl", "x", "ix", "v", "iv", "i"}
	var b strings.Builder
	for i, v := range vals {
		for n >= v {
			b.WriteString(syms[i])
			n -= v
		}
	}
	return b.String()
}

// usableURL returns the URL worth listing for href, or "" for one that
// leads nowhere a reader can follow (an anchor, a script, inline data).
func usableURL(href string) string {
	u := strings.TrimSpace(clean(href))
	lower := strings.ToLower(u)
	switch {
	case u == "", len(u) > maxURLBytes, strings.HasPrefix(u, "#"),
		strings.HasPrefix(lower, "javascript:"), strings.HasPrefix(lower, "vbscript:"),
		strings.HasPrefix(lower, "data:"), strings.HasPrefix(lower, "cid:"):
		return ""
	}
	return strings.Join(strings.Fields(u), "%20")
}

func (r *renderer) closeLink() {
	l := r.link
	r.link = nil
	if l == nil {
		return
	}
	text := strings.Join(strings.Fields(string(l.text)), " ")
	if sameAddress(text, l.href) {
		return
	}
	n, ok := r.linkIndex[l.href]
	if !ok {
		if len(r.links) >= maxLinks || r.linkBytes+len(l.href) > maxLinkBytes {
			return
		}
		r.links = append(r.links, l.href)
		r.linkBytes += len(l.href)
		n = len(r.links)
		r.linkIndex[l.href] = n
	}
	l.f.glue("[" + strconv.Itoa(n) + "]")
}

// sameAddress reports whether a link's text already shows where it
// leads, so a reference would only repeat it.
func sameAddress(text, href string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		for _, p := range []string{"mailto:", "https://", "http://"} {
			s = strings.TrimPrefix(s, p)
		}
		return strings.TrimSuffix(s, "/")
	}
	return text != "" && norm(text) == norm(href)
}

// finish closes what the document left open and lists the links.
func (r *renderer) finish() {
	r.popAbove(-1)
	r.doc.endLine()
	if len(r.links) == 0 {
		return
	}
	if r.wrote {
		r.writeLine("")
	}
	for i, u := range r.links {
		r.writeLine("[" + strconv.Itoa(i+1) + "] " + u)
	}
}
