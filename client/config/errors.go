package config

import (
	"fmt"
	"strings"

	"github.com/duomail/duomail/client"
)

// Error is a value the configuration got wrong. It points at where the
// value was written, which is exactly one of File (and Key, or Line for a
// syntax error), Env or URL.
type Error struct {
	File string // the configuration file
	Env  string // the environment variable that overrode the key
	URL  string // the --url, its password (if any) redacted
	Key  string // dotted key in the file (accounts.work.port); the field for a URL
	Line int    // syntax errors in the file
	Msg  string // what is wrong, worded the same whichever of the three it came from
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.Env != "":
		// The variable says which key it overrides; the file had no say.
		b.WriteString(e.Env)
	case e.URL != "":
		b.WriteString("--url ")
		b.WriteString(e.URL)
		if e.Key != "" {
			b.WriteString(": ")
			b.WriteString(e.Key)
		}
	default:
		b.WriteString("config ")
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ", line %d", e.Line)
		}
		if e.Key != "" {
			b.WriteString(": ")
			b.WriteString(e.Key)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes a bad --url a usage error (a mistake on the command line, exit
// status 2), while a bad file or environment stays a plain error.
func (e *Error) Is(target error) bool {
	return e.URL != "" && target == client.ErrUsage
}

// origin is where a value was written, for the error that names it.
type origin struct {
	file    string // the configuration file...
	account string // ...and the account table the key is in ("" for top-level keys)
	env     string // or the environment variable
	url     string // or the --url (redacted)
}

// fail returns the error for a bad value of field.
func (o origin) fail(field, msg string) *Error {
	switch {
	case o.env != "":
		return &Error{Env: o.env, Key: o.key(field), Msg: msg}
	case o.url != "":
		return &Error{URL: o.url, Key: field, Msg: msg}
	}
	return &Error{File: o.file, Key: o.key(field), Msg: msg}
}

func (o origin) key(field string) string {
	if o.account == "" {
		return field
	}
	return "accounts." + o.account + "." + field
}
