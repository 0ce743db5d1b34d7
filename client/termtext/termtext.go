// Package termtext makes text from a mail server safe to show on a
// terminal.
package termtext

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// Everything a server sends (subjects, names, folder names, file names,
// bodies, error texts) may carry terminal control sequences that retitle
// the window, rewrite the clipboard (OSC 52), move the cursor to forge
// output, or reorder text with bidi controls. The sanitiser removes them
// before anything reaches a human; --raw and --json are the only ways
// around it (JSON escapes instead, see EscapeJSON).
//
// It is one byte-level state machine, used both as a string function and
// as a streaming io.Writer, so the two behave identically however the
// input is split across Write calls.

// maxStringSequence bounds how much of an OSC/DCS/APC/PM/SOS string is
// swallowed while waiting for its terminator: an unterminated one must not
// hide the rest of a message. What follows the cap is shown as plain text,
// which is harmless because its introducer is gone.
const maxStringSequence = 4096

type sanState uint8

const (
	stGround    sanState = iota
	stEsc                // after ESC
	stEscInter           // ESC followed by intermediate bytes (0x20-0x2F)
	stCSI                // ESC [ or U+009B, until a final byte
	stString             // OSC, DCS, SOS, PM, APC, until BEL or ST
	stStringEsc          // ESC inside a string: ST if a backslash follows
)

// sanitizer is the state carried between chunks of one stream.
type sanitizer struct {
	// inline is for one table or TSV field or one line of a message: tab
	// and newline become spaces.
	inline  bool
	state   sanState
	strLen  int
	pending []byte // an incomplete UTF-8 sequence at the end of the last chunk
}

// IsBidiControl reports the Unicode formatting characters that reorder
// displayed text (Trojan Source, spoofed file extensions).
func IsBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 ||
		r == 0x200E || r == 0x200F || r == 0x061C
}

// feed sanitises p, appending to out. With final set, an incomplete UTF-8
// sequence at the end is treated as invalid instead of kept for the next
// chunk.
func (s *sanitizer) feed(out, p []byte, final bool) []byte {
	if len(s.pending) > 0 {
		p = append(s.pending, p...)
		s.pending = nil
	}
	for len(p) > 0 {
		if !final && !utf8.FullRune(p) {
			s.pending = append([]byte(nil), p...)
			return out
		}
		r, size := utf8.DecodeRune(p)
		invalid := r == utf8.RuneError && size == 1
		var raw byte
		if invalid {
			raw = p[0]
			r = -1
		}
		out = s.step(out, r, raw, p[:size])
		p = p[size:]
	}
	if final {
		s.state = stGround
		s.strLen = 0
	}
	return out
}

// step handles one rune (r < 0: the invalid byte raw; enc: its encoding).
func (s *sanitizer) step(out []byte, r rune, raw byte, enc []byte) []byte {
	for {
		switch s.state {
		case stGround:
			return s.ground(out, r, raw, enc)
		case stEsc:
			switch {
			case r == '[':
				s.state = stCSI
			case r == ']' || r == 'P' || r == 'X' || r == '^' || r == '_':
				s.state, s.strLen = stString, 0
			case r == 0x1B:
				// ESC ESC: the first one introduced nothing.
			case r >= 0x20 && r <= 0x2F:
				s.state = stEscInter
			case r >= 0x30 && r <= 0x7E:
				s.state = stGround // a two-byte sequence, consumed
			default:
				s.state = stGround
				continue // not a sequence after all: handle the rune normally
			}
			return out
		case stEscInter:
			switch {
			case r >= 0x20 && r <= 0x2F:
			case r >= 0x30 && r <= 0x7E:
				s.state = stGround
			default:
				s.state = stGround
				continue
			}
			return out
		case stCSI:
			switch {
			case r >= 0x20 && r <= 0x3F: // parameters and intermediates
			case r >= 0x40 && r <= 0x7E:
				s.state = stGround
			default:
				s.state = stGround
				continue
			}
			return out
		case stString:
			switch {
			case r == 0x07 || r == 0x9C:
				s.state = stGround
			case r == 0x1B:
				s.state = stStringEsc
			case r >= 0 && r < 0x20:
				// Mail text does not belong in a control string: end it
				// here so a stray introducer cannot hide following lines.
				s.state = stGround
				continue
			default:
				s.strLen += len(enc)
				if s.strLen > maxStringSequence {
					s.state = stGround
					continue
				}
			}
			return out
		case stStringEsc:
			if r == '\\' {
				s.state = stGround
				return out
			}
			s.state = stEsc // ESC ends the string and starts a new sequence
			continue
		}
	}
}

func (s *sanitizer) ground(out []byte, r rune, raw byte, enc []byte) []byte {
	switch {
	case r < 0:
		if raw >= 0x80 && raw <= 0x9F {
			return out // an 8-bit C1 control a non-UTF-8 terminal would obey
		}
		return utf8.AppendRune(out, utf8.RuneError)
	case r == 0x1B:
		s.state = stEsc
	case r == 0x9B:
		s.state = stCSI
	case r == 0x9D || r == 0x90 || r == 0x98 || r == 0x9E || r == 0x9F:
		s.state, s.strLen = stString, 0
	case r == '\t' || r == '\n':
		if s.inline {
			return append(out, ' ')
		}
		return append(out, byte(r))
	case r < 0x20 || r >= 0x7F && r <= 0x9F:
		// other C0 controls, DEL, C1 controls
	case IsBidiControl(r):
	default:
		return append(out, enc...)
	}
	return out
}

// Text cleans a multi-line text (tab and newline kept).
func Text(s string) string { return sanitizeString(s, false) }

// Field cleans a text meant for one line or one table field: tab and
// newline become spaces.
func Field(s string) string { return sanitizeString(s, true) }

func sanitizeString(s string, inline bool) string {
	if isPlain(s, inline) {
		return s
	}
	st := sanitizer{inline: inline}
	return string(st.feed(make([]byte, 0, len(s)), []byte(s), true))
}

// isPlain is the fast path: printable ASCII needs no work.
func isPlain(s string, inline bool) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7F || !inline && (c == '\t' || c == '\n') {
			continue
		}
		return false
	}
	return true
}

// Writer streams text through the sanitiser. Close flushes what an
// unfinished UTF-8 sequence held back; it does not close the writer below.
type Writer struct {
	w   io.Writer
	s   sanitizer
	buf []byte
}

// NewWriter cleans what is written to it on its way to w; with inline set,
// as Field does, otherwise as Text does.
func NewWriter(w io.Writer, inline bool) *Writer {
	return &Writer{w: w, s: sanitizer{inline: inline}}
}

func (sw *Writer) Write(p []byte) (int, error) {
	sw.buf = sw.s.feed(sw.buf[:0], p, false)
	if len(sw.buf) > 0 {
		if _, err := sw.w.Write(sw.buf); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (sw *Writer) Close() error {
	sw.buf = sw.s.feed(sw.buf[:0], nil, true)
	if len(sw.buf) > 0 {
		_, err := sw.w.Write(sw.buf)
		return err
	}
	return nil
}

// EscapeJSON rewrites, in encoded JSON, the runes encoding/json leaves raw
// but a terminal would obey (DEL, the C1 controls, the bidi controls) as
// \uXXXX escapes. In JSON text they can only occur inside strings
// (everything structural is printable ASCII), where the escape means the
// same rune, so the result is the same JSON value. b is returned as is
// when nothing needs escaping.
func EscapeJSON(b []byte) []byte {
	need := false
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x7F && r <= 0x9F || IsBidiControl(r) {
			need = true
			break
		}
		i += size
	}
	if !need {
		return b
	}
	out := make([]byte, 0, len(b)+32)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x7F && r <= 0x9F || IsBidiControl(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
