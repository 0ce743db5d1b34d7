package htmltext

import (
	"strings"
	"unicode/utf8"

	"github.com/duomail/duomail/client/termtext"
	"github.com/duomail/duomail/client/textlayout"
)

// flow lays out one run of text: the document, or one table cell. It
// collapses whitespace into words, fills lines up to its width, and puts
// the prefixes of the open blocks (quote marks, list markers) before
// every line it hands to sink.
type flow struct {
	r      *renderer
	sink   func(line string)
	width  int
	blocks []*block

	line     []byte // the current line, without prefixes
	lineW    int
	lineOpen bool   // <pre>: the line exists even while empty
	word     []byte // the word being read, not yet on the line
	wordSp   bool   // a space goes between the line and word
	space    bool   // whitespace was read since the last word
	pre      int    // open <pre> elements
	preStart bool   // right after <pre>, whose first newline is dropped

	started  bool // a line was emitted
	blankOwd bool // a blank line is owed before the next line
	blankLvl int  // ...with the prefixes of this many blocks
	wrapping bool // the line being emitted was broken for width
	broken   bool // a line ended for another reason than width
	// simple is kept while the flow holds only words that may be
	// re-wrapped: no blocks, no forced line breaks.
	simple bool
}

// block is an open element that prefixes lines: a quote, a list item.
type block struct {
	first, rest string // the prefix of its first line, of the others
	used        bool
}

func (f *flow) prefix(mark bool) string {
	if len(f.blocks) == 0 {
		return ""
	}
	var b strings.Builder
	for _, bl := range f.blocks {
		if bl.used {
			b.WriteString(bl.rest)
		} else {
			b.WriteString(bl.first)
		}
		if mark {
			bl.used = true
		}
	}
	return b.String()
}

// avail is the width left for text after the prefixes.
func (f *flow) avail() int {
	return max(minAvail, f.width-width(f.prefix(false)))
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// text adds text as a browser shows it: runs of whitespace are one space,
// none at the start or end of a line; inside <pre> everything is kept.
func (f *flow) text(s string) {
	if f.pre > 0 {
		f.preText(s)
		return
	}
	for i := 0; i < len(s); {
		if isSpace(s[i]) {
			f.endWord()
			f.space = true
			i++
			continue
		}
		j := i
		for j < len(s) && !isSpace(s[j]) {
			j++
		}
		f.addWord(s[i:j])
		i = j
	}
}

func (f *flow) addWord(s string) {
	if f.space && len(f.word) > 0 {
		f.endWord()
	}
	if len(f.word) == 0 {
		f.wordSp = f.space
	}
	f.space = false
	f.word = appendClean(f.word, s)
	if len(f.word) > maxWordBytes {
		f.endWord()
	}
}

// glue appends s to the word before it, with no space between: a link's
// reference number.
func (f *flow) glue(s string) {
	if f.pre > 0 {
		f.line = append(f.line, s...)
		f.lineW += len(s)
		f.lineOpen = true
		return
	}
	if len(f.word) == 0 {
		f.wordSp = false
	}
	f.word = append(f.word, s...)
}

// endWord puts the word read onto the line, starting a new line first
// when it does not fit.
func (f *flow) endWord() {
	if len(f.word) == 0 {
		return
	}
	w := widthBytes(f.word)
	sp := f.wordSp && len(f.line) > 0
	gap := 0
	if sp {
		gap = 1
	}
	if len(f.line) > 0 && f.lineW+gap+w > f.avail() {
		f.wrapping = true
		f.flushLine()
		f.wrapping = false
		sp = false
	}
	if sp {
		f.line = append(f.line, ' ')
		f.lineW++
	}
	f.line = append(f.line, f.word...)
	f.lineW += w
	f.word = f.word[:0]
	f.wordSp = false
}

func (f *flow) preText(s string) {
	for len(s) > 0 {
		if f.preStart {
			f.preStart = false
			if s[0] == '\n' {
				s = s[1:]
				continue
			}
		}
		i := strings.IndexAny(s, "\n\t")
		if i < 0 {
			i = len(s)
		}
		if i > 0 {
			f.line = appendClean(f.line, s[:i])
			f.lineOpen = true
			s = s[i:]
			if len(f.line) > maxLineBytes {
				f.flushLine()
			}
			continue
		}
		switch s[0] {
		case '\n':
			f.flushLine()
		case '\t':
			col := widthBytes(f.line)
			f.line = append(f.line, strings.Repeat(" ", 8-col%8)...)
			f.lineOpen = true
		}
		s = s[1:]
	}
}

// br breaks the line; on an empty line it owes a blank line instead.
func (f *flow) br() {
	f.endWord()
	f.space = false
	if f.pre > 0 || len(f.line) > 0 || f.lineOpen {
		f.flushLine()
		return
	}
	f.owe()
}

// lineBreak ends the current line, if any.
func (f *flow) lineBreak() {
	f.endLine()
}

// blank ends the current line and puts a blank line before the next one.
func (f *flow) blank() {
	f.endLine()
	f.owe()
}

func (f *flow) owe() {
	if !f.blankOwd {
		f.blankOwd, f.blankLvl = true, len(f.blocks)
	} else {
		f.blankLvl = min(f.blankLvl, len(f.blocks))
	}
}

func (f *flow) endLine() {
	f.endWord()
	if len(f.line) > 0 || f.lineOpen {
		f.flushLine()
	}
	f.space = false
}

func (f *flow) flushLine() {
	f.emitLine(string(f.line))
	f.line = f.line[:0]
	f.lineW = 0
	f.lineOpen = false
}

// emitLine hands one line to the sink, after the blank line owed, with
// the prefixes of the open blocks.
func (f *flow) emitLine(text string) {
	if f.broken {
		f.simple = false
	}
	if !f.wrapping {
		f.broken = true
	}
	if f.blankOwd && f.started {
		var b strings.Builder
		for _, bl := range f.blocks[:min(f.blankLvl, len(f.blocks))] {
			b.WriteString(bl.rest)
		}
		f.sink(strings.TrimRight(b.String(), " "))
		f.simple = false
	}
	f.blankOwd = false
	// A no-break space kept words together on this line; copied from the
	// terminal it should be a plain one.
	text = strings.ReplaceAll(text, "\u00a0", " ")
	f.sink(strings.TrimRight(f.prefix(true)+text, " "))
	f.started = true
}

// width is the number of terminal columns s takes.
func width(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return textlayout.Width(s)
		}
	}
	return len(s)
}

func widthBytes(b []byte) int {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return textlayout.Width(string(b))
		}
	}
	return len(b)
}

// appendClean appends s without what a terminal would obey or hide:
// control characters, bidi controls, soft hyphens; invalid UTF-8 becomes
// U+FFFD.
func appendClean(dst []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F {
			plain = false
			break
		}
	}
	if plain {
		return append(dst, s...)
	}
	for i := 0; i < len(s); {
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			dst = utf8.AppendRune(dst, utf8.RuneError)
		case c < 0x20 || c >= 0x7F && c <= 0x9F, c == 0xAD, termtext.IsBidiControl(c):
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// clean is appendClean for a whole string.
func clean(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7F {
			return string(appendClean(nil, s))
		}
	}
	return s
}
