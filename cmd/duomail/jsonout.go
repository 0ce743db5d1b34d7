package main

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"

	"github.com/duomail/duomail/client/termtext"
)

// writeJSON is the one way --json output is written: v encoded by
// encoding/json as one document (indented when indent is set, one line
// otherwise) followed by a newline. <, > and & are left as they are
// (addresses are full of them); what encoding/json leaves raw but a
// terminal would obey (DEL, the C1 and bidi controls) is escaped
// (termtext.EscapeJSON). The document is encoded whole before anything is
// written, so a failing encode writes nothing. A list that is nil in v
// (reached through pointers) is made empty first, so that it is written
// as [], as the schema says, never as null.
func writeJSON(w io.Writer, v any, indent bool) error {
	emptyLists(reflect.ValueOf(v))
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

// emptyLists sets every nil slice it can reach and change in v (fields of
// structs reached through pointers, slices and arrays) to an empty one.
func emptyLists(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			emptyLists(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			emptyLists(v.Field(i))
		}
	case reflect.Slice:
		if v.IsNil() {
			if v.CanSet() {
				v.Set(reflect.MakeSlice(v.Type(), 0, 0))
			}
			return
		}
		for i := range v.Len() {
			emptyLists(v.Index(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			emptyLists(v.Index(i))
		}
	}
}
