package main

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/duomail/duomail/client/termtext"
)

// writeJSON is the one way --json output is written: v encoded by
// encoding/json as one document (indented when indent is set, one line
// otherwise) followed by a newline. <, > and & are left as they are
// (addresses are full of them); what encoding/json leaves raw but a
// terminal would obey (DEL, the C1 and bidi controls) is escaped
// (termtext.EscapeJSON). The document is encoded whole before anything is
// written, so a failing encode writes nothing.
func writeJSON(w io.Writer, v any, indent bool) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if indent {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(termtext.EscapeJSON(buf.Bytes()))
	return err
}
