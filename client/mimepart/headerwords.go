package mimepart

import (
	"bytes"
	"io"
)

// DecodeWords decodes the RFC 2047 encoded words of a header value in any
// charset go-message knows, keeping the raw text where a word cannot be
// decoded.
func DecodeWords(s string) string { return decodeWords(s) }

// maxDecodedField bounds one header field held for decoding; a longer one
// (only hostile mail has them) is passed on as it is.
const maxDecodedField = 64 << 10

// HeaderWordsWriter passes a header block on to W with the encoded words
// of each field decoded for a human ("=?ISO-8859-1?Q?Men=FC?=" becomes
// "Menü"). A field holding encoded words is written unfolded, on one line,
// since a word may be split across its lines; other fields pass through
// byte for byte. Close flushes the last field.
type HeaderWordsWriter struct {
	W     io.Writer
	field []byte // the field being collected: its first line and continuations
	line  []byte // the incomplete line being received
	long  bool   // field outgrew maxDecodedField: passed through
}

func (h *HeaderWordsWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			h.line = append(h.line, p...)
			if len(h.line) > maxDecodedField {
				if err := h.passLong(); err != nil {
					return 0, err
				}
			}
			return n, nil
		}
		h.line = append(h.line, p[:i+1]...)
		p = p[i+1:]
		if err := h.endLine(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// passLong gives up decoding the current field: what was held is written.
func (h *HeaderWordsWriter) passLong() error {
	h.long = true
	if _, err := h.W.Write(h.field); err != nil {
		return err
	}
	_, err := h.W.Write(h.line)
	h.field, h.line = h.field[:0], h.line[:0]
	return err
}

func (h *HeaderWordsWriter) endLine() error {
	line := h.line
	continuation := len(line) > 0 && (line[0] == ' ' || line[0] == '\t')
	if continuation && h.long {
		_, err := h.W.Write(line)
		h.line = h.line[:0]
		return err
	}
	if !continuation {
		if err := h.flush(); err != nil {
			return err
		}
		h.long = false
	}
	h.field = append(h.field, line...)
	h.line = h.line[:0]
	if len(h.field) > maxDecodedField {
		return h.passLong()
	}
	return nil
}

// flush writes the collected field, decoded where it holds encoded words.
func (h *HeaderWordsWriter) flush() error {
	if len(h.field) == 0 {
		return nil
	}
	out := h.field
	if bytes.Contains(out, []byte("=?")) {
		unfolded := bytes.TrimRight(out, "\r\n")
		unfolded = bytes.ReplaceAll(unfolded, []byte("\r\n"), nil)
		unfolded = bytes.ReplaceAll(unfolded, []byte("\n"), nil)
		out = append([]byte(decodeWords(string(unfolded))), '\n')
	}
	_, err := h.W.Write(out)
	h.field = h.field[:0]
	return err
}

// Close writes what is still held.
func (h *HeaderWordsWriter) Close() error {
	if len(h.line) > 0 {
		h.field = append(h.field, h.line...)
		h.line = h.line[:0]
	}
	return h.flush()
}
