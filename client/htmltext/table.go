package htmltext

import (
	"strings"
	"unicode"

	"github.com/duomail/duomail/client/textlayout"
)

// table is an open <table>. Its cells are rendered by flows of their own
// and held until the table ends, when the widths of its columns are
// known: it is then laid out as aligned columns within avail, with the
// text of simple cells re-wrapped if that makes it fit, else row by row
// ("Header: value"). When the open tables hold more than maxTableBytes or
// maxTableCells, the outermost one stops holding: what it has is shown
// row by row, and the rest follows the same way as it arrives.
type table struct {
	r         *renderer
	parent    *flow // where the table's lines go
	avail     int   // the width it may take
	rows      []*row
	row       *row  // the open row
	open      *cell // the open cell
	inHead    bool  // inside <thead>
	bytes     int   // held, counted in renderer.heldBytes
	cells     int
	streaming bool
	rowsOut   int      // rows shown while streaming
	labels    []string // streaming: the header row's texts, by column
}

type row struct {
	cells []*cell
	head  bool
	next  int // the column the next cell starts in
}

type cell struct {
	t        *table
	f        *flow
	lines    []string
	header   bool
	span     int // columns; 0 for a caption, which spans them all
	col      int
	simple   bool // only words: may be re-wrapped to another width
	labelled bool // streaming: its first line went out, with its label
}

func (r *renderer) currentTableElem() int {
	for i := len(r.elems) - 1; i >= 0; i-- {
		if r.elems[i].table != nil {
			return i
		}
	}
	return -1
}

func (r *renderer) currentTable() *table {
	if i := r.currentTableElem(); i >= 0 {
		return r.elems[i].table
	}
	return nil
}

func (t *table) cellFlow() *flow {
	if t.open == nil {
		return nil
	}
	return t.open.f
}

// openCell starts a cell in the innermost table, closing the cell before
// it and opening a row if none is.
func (r *renderer) openCell(name string, span int) {
	ti := r.currentTableElem()
	t := r.elems[ti].table
	tr := -1
	for i := len(r.elems) - 1; i > ti; i-- {
		if r.elems[i].name == "tr" {
			tr = i
			break
		}
	}
	if tr >= 0 {
		r.popAbove(tr)
	} else {
		r.popAbove(ti)
		t.startRow()
		if !r.push(&elem{name: "tr", f: r.cur()}) {
			return
		}
	}
	if t.row == nil {
		t.startRow()
	}
	c := &cell{t: t, header: name == "th" || t.inHead, span: span, col: t.row.next}
	t.row.next += max(span, 1)
	c.f = &flow{r: r, width: t.avail, simple: true, sink: c.add}
	if !r.push(&elem{name: name, f: c.f, cell: c}) {
		return
	}
	r.flows = append(r.flows, c.f)
	t.open = c
	if !t.streaming {
		// A streaming table keeps no cells: they go out as they come.
		t.row.cells = append(t.row.cells, c)
		t.cells++
		r.heldCells++
		if r.heldCells > maxTableCells {
			r.spill()
		}
	}
}

func (r *renderer) closeCell(c *cell) {
	c.f.endLine()
	c.simple = c.f.simple
	for i := len(r.flows) - 1; i > 0; i-- {
		if r.flows[i] == c.f {
			r.flows = append(r.flows[:i], r.flows[i+1:]...)
			break
		}
	}
	if c.t.open == c {
		c.t.open = nil
	}
}

// add takes one line of a cell's text.
func (c *cell) add(line string) {
	t := c.t
	if t.streaming {
		t.streamLine(c, line)
		return
	}
	c.lines = append(c.lines, line)
	n := len(line) + 16
	t.bytes += n
	t.r.heldBytes += n
	if t.r.heldBytes > maxTableBytes {
		t.r.spill()
	}
}

func (t *table) startRow() {
	t.endRow()
	t.row = &row{head: t.inHead}
	if t.streaming {
		if t.rowsOut > 0 {
			t.parent.blank()
		}
		t.rowsOut++
		return
	}
	t.rows = append(t.rows, t.row)
}

func (t *table) endRow() { t.row = nil }

func (r *renderer) closeTable(t *table) {
	for i, x := range r.tables {
		if x == t {
			r.tables = append(r.tables[:i], r.tables[i+1:]...)
			break
		}
	}
	if !t.streaming {
		r.heldBytes -= t.bytes
		r.heldCells -= t.cells
		for _, l := range t.layout() {
			t.parent.emitLine(l)
		}
	}
	t.parent.blank()
}

// spill makes the outermost tables that still hold their cells stream,
// until what is held is within bounds.
func (r *renderer) spill() {
	for r.heldBytes > maxTableBytes || r.heldCells > maxTableCells {
		var t *table
		for _, x := range r.tables {
			if !x.streaming {
				t = x
				break
			}
		}
		if t == nil {
			return
		}
		t.stream()
	}
}

// stream shows what the table holds row by row and lets the rest follow
// as it arrives.
func (t *table) stream() {
	t.r.heldBytes -= t.bytes
	t.r.heldCells -= t.cells
	t.bytes, t.cells = 0, 0
	t.streaming = true
	rows := t.rows
	t.rows = nil
	if len(rows) > 1 && rows[0] != t.row && rows[0].isHeader() {
		t.labels = rows[0].texts()
		rows = rows[1:]
	}
	for _, rw := range rows {
		if rw.empty() && rw != t.row {
			continue
		}
		if t.rowsOut > 0 {
			t.parent.blank()
		}
		t.rowsOut++
		if rw != t.row {
			for _, l := range t.rowLines(rw, t.labels) {
				t.parent.emitLine(l)
			}
			continue
		}
		for _, c := range rw.cells {
			lines := c.lines
			c.lines = nil
			for _, l := range lines {
				t.streamLine(c, l)
			}
		}
	}
}

func (t *table) streamLine(c *cell, line string) {
	if !c.labelled {
		c.labelled = true
		if lbl := label(t.labels, c); lbl != "" {
			line = lbl + ": " + line
		}
	}
	t.parent.emitLine(line)
}

func label(labels []string, c *cell) string {
	if c.header || c.col >= len(labels) {
		return ""
	}
	return labels[c.col]
}

func (c *cell) empty() bool {
	for _, l := range c.lines {
		if strings.TrimSpace(l) != "" {
			return false
		}
	}
	return true
}

func (c *cell) text() string { return strings.Join(c.lines, " ") }

func (c *cell) width() int {
	w := 0
	for _, l := range c.lines {
		w = max(w, width(l))
	}
	return w
}

// longestWord is the narrowest a simple cell can be re-wrapped to.
func (c *cell) longestWord() int {
	w := 0
	for _, l := range c.lines {
		for _, word := range strings.Fields(l) {
			w = max(w, width(word))
		}
	}
	return w
}

func (rw *row) empty() bool {
	for _, c := range rw.cells {
		if !c.empty() {
			return false
		}
	}
	return true
}

// isHeader: every cell with text is a header cell (or in <thead>).
func (rw *row) isHeader() bool {
	if rw.head {
		return true
	}
	any := false
	for _, c := range rw.cells {
		if c.empty() {
			continue
		}
		if !c.header {
			return false
		}
		any = true
	}
	return any
}

// texts are the row's cells as one line each, by column.
func (rw *row) texts() []string {
	var out []string
	for _, c := range rw.cells {
		for len(out) <= c.col {
			out = append(out, "")
		}
		out[c.col] = strings.Join(strings.Fields(c.text()), " ")
	}
	return out
}

// rowLines shows one row as lines: each cell on lines of its own, after
// its column's header text.
func (t *table) rowLines(rw *row, labels []string) []string {
	var out []string
	for _, c := range rw.cells {
		if c.empty() {
			continue
		}
		lbl := label(labels, c)
		if c.simple {
			text := c.text()
			if lbl != "" {
				text = lbl + ": " + text
			}
			for i, l := range textlayout.Wrap(text, max(minAvail, t.avail-2)) {
				if i > 0 {
					l = "  " + l
				}
				out = append(out, l)
			}
			continue
		}
		if lbl != "" {
			out = append(out, lbl+":")
		}
		out = append(out, c.lines...)
	}
	return out
}

// placed is a cell's position among the columns that have text.
type placed struct {
	c      *cell
	col, n int
}

// layout lays a held table out: aligned columns if they fit avail, else
// row by row.
func (t *table) layout() []string {
	var rows []*row
	for _, rw := range t.rows {
		if !rw.empty() {
			rows = append(rows, rw)
		}
	}
	if len(rows) == 0 {
		return nil
	}
	ncols := 0
	for _, rw := range rows {
		for _, c := range rw.cells {
			ncols = max(ncols, c.col+max(c.span, 1))
		}
	}
	// Columns no cell with text starts in are spacers: dropped.
	keep := make([]bool, ncols)
	for _, rw := range rows {
		for _, c := range rw.cells {
			if !c.empty() {
				keep[c.col] = true
			}
		}
	}
	index := make([]int, ncols)
	n := 0
	for i, k := range keep {
		index[i] = n
		if k {
			n++
		}
	}
	grid := make([][]placed, len(rows))
	multi := false
	for i, rw := range rows {
		for _, c := range rw.cells {
			if c.empty() {
				continue
			}
			end := ncols
			if c.span > 0 {
				end = min(ncols, c.col+c.span)
			}
			k := 0
			for col := c.col; col < end; col++ {
				if keep[col] {
					k++
				}
			}
			grid[i] = append(grid[i], placed{c: c, col: index[c.col], n: k})
			multi = multi || len(c.lines) > 1
		}
	}
	header := len(rows) > 1 && rows[0].isHeader()

	w := make([]int, n)
	for _, gr := range grid {
		for _, p := range gr {
			if p.n == 1 {
				w[p.col] = max(w[p.col], p.c.width())
			}
		}
	}
	for _, gr := range grid {
		for _, p := range gr {
			if p.n > 1 {
				if need := p.c.width() - spanWidth(w, p.col, p.n); need > 0 {
					w[p.col+p.n-1] += need
				}
			}
		}
	}
	if spanWidth(w, 0, n) > t.avail && !shrink(grid, w, t.avail) {
		var labels []string
		if header {
			labels = rows[0].texts()
			rows = rows[1:]
		}
		var out []string
		for i, rw := range rows {
			if i > 0 {
				out = append(out, "")
			}
			out = append(out, t.rowLines(rw, labels)...)
		}
		return out
	}
	for _, gr := range grid {
		for _, p := range gr {
			if cw := spanWidth(w, p.col, p.n); p.c.simple && p.c.width() > cw {
				p.c.lines = textlayout.Wrap(p.c.text(), cw)
				multi = multi || len(p.c.lines) > 1
			}
		}
	}
	numeric := numericColumns(grid, n, header)
	x := make([]int, n)
	for i := 1; i < n; i++ {
		x[i] = x[i-1] + w[i-1] + columnGap
	}
	var out []string
	for ri, gr := range grid {
		if multi && ri > 0 {
			out = append(out, "")
		}
		h := 0
		for _, p := range gr {
			h = max(h, len(p.c.lines))
		}
		for li := 0; li < h; li++ {
			var b strings.Builder
			at := 0
			for _, p := range gr {
				b.WriteString(strings.Repeat(" ", max(0, x[p.col]-at)))
				at = max(at, x[p.col])
				text := ""
				if li < len(p.c.lines) {
					text = p.c.lines[li]
				}
				tw := width(text)
				if p.n == 1 && numeric[p.col] {
					pad := max(0, w[p.col]-tw)
					b.WriteString(strings.Repeat(" ", pad))
					at += pad
				}
				b.WriteString(text)
				at += tw
			}
			out = append(out, strings.TrimRight(b.String(), " "))
		}
	}
	return out
}

// spanWidth is the width of n columns from col, with the gaps between.
func spanWidth(w []int, col, n int) int {
	s := columnGap * max(0, n-1)
	for _, x := range w[col : col+n] {
		s += x
	}
	return s
}

// shrink narrows columns whose cells are all simple text, widest first,
// so the table fits avail once their text is re-wrapped. It reports
// whether it could; w is changed only then.
func shrink(grid [][]placed, w []int, avail int) bool {
	n := len(w)
	floor := make([]int, n)
	can := make([]bool, n)
	for i := range can {
		can[i] = true
	}
	for _, gr := range grid {
		for _, p := range gr {
			if !p.c.simple {
				for i := p.col; i < p.col+p.n; i++ {
					can[i] = false
				}
				continue
			}
			if p.n == 1 {
				floor[p.col] = max(floor[p.col], p.c.longestWord())
			}
		}
	}
	nw := make([]int, n)
	for i := range w {
		nw[i] = w[i]
		if can[i] {
			nw[i] = min(w[i], max(floor[i], 1))
		}
	}
	if spanWidth(nw, 0, n) > avail {
		return false
	}
	copy(nw, w)
	for excess := spanWidth(nw, 0, n) - avail; excess > 0; {
		widest, second := -1, 0
		for i := range nw {
			if !can[i] || nw[i] <= max(floor[i], 1) {
				continue
			}
			if widest < 0 || nw[i] > nw[widest] {
				if widest >= 0 {
					second = max(second, nw[widest])
				}
				widest = i
			} else {
				second = max(second, nw[i])
			}
		}
		if widest < 0 {
			return false
		}
		d := min(excess, nw[widest]-max(second, floor[widest], 1))
		d = max(d, 1)
		nw[widest] -= d
		excess -= d
	}
	// A spanning cell must still fit its words.
	for _, gr := range grid {
		for _, p := range gr {
			if p.n > 1 && p.c.longestWord() > spanWidth(nw, p.col, p.n) {
				return false
			}
		}
	}
	copy(w, nw)
	return true
}

// numericColumns are the columns whose body cells are all figures
// ("3,50 €", "12 %"): right-aligned, as figures are read.
func numericColumns(grid [][]placed, n int, header bool) []bool {
	seen := make([]bool, n)
	ok := make([]bool, n)
	for i := range ok {
		ok[i] = true
	}
	for ri, gr := range grid {
		if header && ri == 0 {
			continue
		}
		for _, p := range gr {
			if p.n != 1 {
				continue
			}
			seen[p.col] = true
			if len(p.c.lines) != 1 || !isFigure(p.c.lines[0]) {
				ok[p.col] = false
			}
		}
	}
	for i := range ok {
		ok[i] = ok[i] && seen[i]
	}
	return ok
}

func isFigure(s string) bool {
	digit := false
	for _, c := range s {
		switch {
		case unicode.IsDigit(c):
			digit = true
		case unicode.IsLetter(c):
			return false
		}
	}
	return digit
}
