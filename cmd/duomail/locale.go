package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/unicode/norm"
)

// The terminal's character set, from the locale. duomail works in UTF-8;
// on a terminal whose locale says another charset (LANG=C,
// de_DE.ISO-8859-1) text is converted on its way to the screen, so the
// terminal never receives UTF-8 bytes it would show as two or three wrong
// characters. A character the charset lacks is transliterated where an
// obvious spelling exists (“ ” to ", – to -, é to e in ASCII, € to EUR)
// and becomes "?" otherwise. Only a terminal gets this: piped output and
// files are data, kept in UTF-8 whatever the locale (a cron job under
// LANG=C must not lose characters), and --raw is never touched. JSON on
// such a terminal stays lossless, its non-ASCII characters written as
// \u escapes.

// localeCharset returns the charset the locale names (LC_ALL, else
// LC_CTYPE, else LANG, the first one set and not empty), lower case, or
// "utf-8" when none is set: a system that sets no locale at all is, these
// days, a UTF-8 one, and that is what duomail printed before it looked.
// "C" and "POSIX" are ASCII.
func localeCharset(getenv func(string) string) string {
	var loc string
	for _, k := range []string{"LC_ALL", "LC_CTYPE", "LANG"} {
		if loc = getenv(k); loc != "" {
			break
		}
	}
	switch loc {
	case "":
		return "utf-8"
	case "C", "POSIX":
		return "us-ascii"
	}
	codeset := ""
	if i := strings.IndexByte(loc, '.'); i >= 0 {
		codeset = loc[i+1:]
	}
	if i := strings.IndexByte(codeset, '@'); i >= 0 {
		codeset = codeset[:i]
	}
	if codeset == "" {
		// de_DE without a codeset: the system's default for it is not
		// knowable from here; UTF-8 is today's.
		return "utf-8"
	}
	return strings.ToLower(codeset)
}

var isoDigits = regexp.MustCompile(`^iso[-_]?8859[-_]?(\d+)$`)

// terminalEncoder returns how to encode one rune for the charset, or nil
// for UTF-8 (nothing to convert).
func terminalEncoder(cs string) (func(r rune) ([]byte, bool), error) {
	c := strings.ReplaceAll(cs, "_", "-")
	switch {
	case c == "utf-8" || c == "utf8":
		return nil, nil
	case c == "us-ascii" || c == "ascii" || c == "ansi-x3.4-1968" || c == "646":
		return func(r rune) ([]byte, bool) { return []byte{byte(r)}, r < 0x80 }, nil
	}
	if m := isoDigits.FindStringSubmatch(c); m != nil {
		c = "iso-8859-" + m[1]
	}
	switch c {
	case "cp1252":
		c = "windows-1252"
	case "eucjp":
		c = "euc-jp"
	case "euckr":
		c = "euc-kr"
	}
	enc, err := ianaindex.MIME.Encoding(c)
	if err != nil || enc == nil {
		if enc, err = ianaindex.IANA.Encoding(c); err != nil || enc == nil {
			return nil, fmt.Errorf("unknown charset %q", cs)
		}
	}
	if cm, ok := enc.(*charmap.Charmap); ok {
		return func(r rune) ([]byte, bool) {
			b, ok := cm.EncodeRune(r)
			return []byte{b}, ok
		}, nil
	}
	// Multi-byte charsets (EUC-JP, GBK, Big5...): one rune at a time.
	e := enc.NewEncoder()
	return func(r rune) ([]byte, bool) {
		out, err := e.Bytes([]byte(string(r)))
		return out, err == nil
	}, nil
}

// transliterations are the spellings used for characters a charset lacks.
var transliterations = map[rune]string{
	'‘': "'", '’': "'", '‚': "'", '‛': "'", '“': `"`, '”': `"`, '„': `"`, '‟': `"`,
	'«': `"`, '»': `"`, '‹': "'", '›': "'",
	'–': "-", '—': "-", '‐': "-", '‑': "-", '−': "-",
	'…': "...", '•': "*", '·': ".", '€': "EUR", '£': "GBP", '©': "(c)", '®': "(R)", '™': "(TM)",
	'\u00a0': " ", '\u2009': " ", '\u202f': " ", '\u200b': "",
	'ß': "ss", 'æ': "ae", 'Æ': "AE", 'œ': "oe", 'Œ': "OE", 'ø': "o", 'Ø': "O", 'ł': "l", 'Ł': "L", 'đ': "d", 'Đ': "D",
	'×': "x", '÷': "/", '½': "1/2", '¼': "1/4", '¾': "3/4",
}

// charsetWriter converts UTF-8 text to the terminal's charset as it passes.
type charsetWriter struct {
	w       io.Writer
	encode  func(r rune) ([]byte, bool)
	json    bool   // escape instead: \uXXXX
	pending []byte // an incomplete UTF-8 sequence from the last write
	out     []byte
}

func (c *charsetWriter) Write(p []byte) (int, error) {
	data := p
	if len(c.pending) > 0 {
		data = append(c.pending, p...)
		c.pending = nil
	}
	c.out = c.out[:0]
	for i := 0; i < len(data); {
		b := data[i]
		if b < utf8.RuneSelf {
			c.out = append(c.out, b)
			i++
			continue
		}
		if !utf8.FullRune(data[i:]) {
			c.pending = append([]byte(nil), data[i:]...)
			break
		}
		r, size := utf8.DecodeRune(data[i:])
		i += size
		c.out = c.appendRune(c.out, r)
	}
	if _, err := c.w.Write(c.out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *charsetWriter) appendRune(out []byte, r rune) []byte {
	if c.json {
		if r == utf8.RuneError {
			return append(out, `\ufffd`...)
		}
		if r > 0xffff {
			r1, r2 := utf16Pair(r)
			return fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		}
		return fmt.Appendf(out, `\u%04x`, r)
	}
	if r != utf8.RuneError {
		if b, ok := c.encode(r); ok {
			return append(out, b...)
		}
	}
	if t, ok := transliterations[r]; ok && c.encodes(t) {
		return append(out, t...)
	}
	// A letter with accents: the letter alone, if the charset has it.
	if base := baseLetter(r); base != 0 {
		if b, ok := c.encode(base); ok {
			return append(out, b...)
		}
	}
	return append(out, '?')
}

func (c *charsetWriter) encodes(s string) bool {
	for _, r := range s {
		if _, ok := c.encode(r); !ok {
			return false
		}
	}
	return true
}

// baseLetter is r without its combining marks (é → e), or 0.
func baseLetter(r rune) rune {
	d := norm.NFD.String(string(r))
	base, size := utf8.DecodeRuneInString(d)
	if size == len(d) || base == utf8.RuneError {
		return 0
	}
	for _, m := range d[size:] {
		if !unicode.Is(unicode.Mn, m) {
			return 0
		}
	}
	return base
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// Close writes an incomplete sequence left at the end as "?".
func (c *charsetWriter) Close() error {
	if len(c.pending) == 0 {
		return nil
	}
	c.pending = nil
	_, err := c.w.Write([]byte("?"))
	return err
}

// convertForTerminal converts stdout and stderr, where they are
// terminals, to the locale's charset (see above). --raw output bypasses
// it (printer.raw).
func (a *app) convertForTerminal() {
	if !a.io.outTTY && !a.io.errTTY {
		return
	}
	cs := localeCharset(a.env)
	encode, err := terminalEncoder(cs)
	if err != nil {
		a.warn(fmt.Sprintf("the locale's charset %q is not known to duomail: output stays UTF-8", cs))
		return
	}
	if encode == nil {
		return
	}
	if a.io.outTTY && a.out != nil {
		a.out.raw = a.out.out
		a.charset = &charsetWriter{w: a.out.out, encode: encode, json: a.flags.json}
		a.out.out = a.charset
	}
	if a.io.errTTY {
		a.io.err = &charsetWriter{w: a.io.err, encode: encode}
	}
}
