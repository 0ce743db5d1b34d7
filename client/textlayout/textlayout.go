// Package textlayout lays text out for a terminal in display columns, not
// bytes or runes: CJK characters and most emoji take two columns, a
// combining accent none. It aligns table columns, shortens cells to fit a
// width and wraps text.
package textlayout

import (
	"regexp"
	"strings"

	"github.com/rivo/uniseg"
)

// Width is the number of display columns s takes.
func Width(s string) int { return uniseg.StringWidth(s) }

// Fit shortens the cells of the flexible columns (flex[i] set), widest
// column first, until header and rows, with gap columns between cells,
// fit width display columns, or until those columns are down to minWidth.
// The header is measured but not shortened. A width of 0 or less means
// unknown: nothing is shortened.
func Fit(header []string, rows [][]string, flex []bool, gap, minWidth, width int) {
	if width <= 0 {
		return
	}
	widths := make([]int, len(header))
	for i := range header {
		widths[i] = Width(header[i])
		for _, row := range rows {
			widths[i] = max(widths[i], Width(row[i]))
		}
	}
	total := gap * (len(header) - 1)
	for _, w := range widths {
		total += w
	}
	for total > width {
		widest := -1
		for i := range header {
			if flex[i] && widths[i] > minWidth && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		widths[widest]--
		total--
	}
	for i := range header {
		if !flex[i] {
			continue
		}
		for _, row := range rows {
			row[i] = Truncate(row[i], widths[i])
		}
	}
}

// Truncate shortens s to n display columns, marking the cut with an
// ellipsis. It cuts between graphemes, never inside one.
func Truncate(s string, n int) string {
	if Width(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	var b strings.Builder
	w := 0
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		if w+g.Width() > n-1 {
			break
		}
		w += g.Width()
		b.WriteString(g.Str())
	}
	return strings.TrimRight(b.String(), " ") + "…"
}

// Align lays rows out in columns padded to the widest cell, gap columns
// apart, one line each, trailing spaces trimmed. It measures display
// columns, not runes as text/tabwriter does, so cells with CJK characters
// or emoji line up too.
func Align(rows [][]string, gap int) string {
	var widths []int
	for _, row := range rows {
		for i, c := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], Width(c))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row {
			line.WriteString(c)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-Width(c)+gap))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// Wrap breaks s into lines of at most width display columns, at spaces
// where it can, inside a word where it must. A figure and its unit ("426
// B", "0.7 ms") stay on one line.
func Wrap(s string, width int) (lines []string) {
	width = max(width, 1)
	s = unitSpace.ReplaceAllString(s, "$1\u00a0$2")
	defer func() {
		for i, l := range lines {
			lines[i] = strings.ReplaceAll(l, "\u00a0", " ")
		}
	}()
	var line strings.Builder
	lineW := 0
	flush := func() {
		lines = append(lines, strings.TrimRight(line.String(), " "))
		line.Reset()
		lineW = 0
	}
	for _, word := range strings.Split(s, " ") {
		if word == "" {
			continue
		}
		w := Width(word)
		if lineW > 0 && lineW+1+w > width {
			flush()
		}
		if lineW > 0 {
			line.WriteByte(' ')
			lineW++
		}
		for w > width-lineW {
			// A word longer than the line: cut it at the width.
			g := uniseg.NewGraphemes(word)
			var head strings.Builder
			hw := 0
			for g.Next() && hw+g.Width() <= width-lineW {
				head.WriteString(g.Str())
				hw += g.Width()
			}
			if hw == 0 {
				if lineW > 0 {
					flush()
					continue
				}
				break // one grapheme wider than the line: let it overflow
			}
			line.WriteString(head.String())
			flush()
			word = word[head.Len():]
			w = Width(word)
		}
		line.WriteString(word)
		lineW += w
	}
	if lineW > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

var unitSpace = regexp.MustCompile(`(\d) (B|KB|MB|GB|TB|ms|s)\b`)

// PadRight pads s with spaces to width display columns.
func PadRight(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-Width(s)))
}
