package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// marshalJSON encodes v for --json output. It does not escape <, > and &
// (addresses are full of them), and escapes what encoding/json leaves raw
// but a terminal would obey: DEL, the C1 controls and the bidi controls.
// The result is still exactly the same JSON value.
func marshalJSON(v any, indent bool) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return jsonSafe(buf.Bytes()), nil
}

// jsonSafe rewrites the runes U+007F-U+009F and the bidi controls as \uXXXX
// escapes. In JSON text they can only occur inside strings (everything
// structural is printable ASCII), where the escape means the same rune.
func jsonSafe(b []byte) []byte {
	need := false
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r >= 0x7F && r <= 0x9F || isBidiControl(r) {
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
		if r >= 0x7F && r <= 0x9F || isBidiControl(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out
}
