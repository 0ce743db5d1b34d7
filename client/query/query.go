// Package query is duomail's one search language, parsed into a tree that
// every engine compiles on its own terms: imapsrc to one UID SEARCH, the
// local cache to SQL over its full-text index. It imports nothing of
// duomail, so client and the engines can all depend on it.
package query

import "time"

// Node is one term of a parsed query.
type Node interface{ node() }

// And matches when every term matches (terms side by side: "a b").
type And struct{ Terms []Node }

// Or matches when any term matches ("a OR b").
type Or struct{ Terms []Node }

// Not matches when its term does not ("-a", "NOT a").
type Not struct{ Term Node }

// Field is where a text term looks.
type Field string

const (
	Anywhere Field = ""        // headers or text, like IMAP TEXT
	From     Field = "from"    // the From header
	To       Field = "to"      // the To header
	Cc       Field = "cc"      // the Cc header
	Subject  Field = "subject" // the Subject header
	Body     Field = "body"    // the decoded text of the message
)

// Text matches a word or, with Phrase, the quoted words in that order.
// Value is as the user typed it (without the quotes); matching is
// case-insensitive and, where the engine allows, diacritic-insensitive.
type Text struct {
	Field  Field
	Value  string
	Phrase bool
}

// Flag matches messages that carry (Set) or lack (!Set) a flag, named as
// client.Flag names it: "seen", "flagged", "answered", "draft".
// is:unread is Flag{"seen", false}; is:read Flag{"seen", true}.
type Flag struct {
	Name string
	Set  bool
}

// HasAttachment matches messages with at least one attachment.
type HasAttachment struct{}

// Date matches messages whose Date (arrival when there is none) falls in
// [Since, Before). Either end may be zero (open). Both are midnight in the
// user's time zone: "before:2026-03-01" is Before = 2026-03-01 00:00 local.
type Date struct{ Since, Before time.Time }

// Size matches messages larger than Larger bytes and smaller than Smaller
// bytes; zero is no bound.
type Size struct{ Larger, Smaller int64 }

func (And) node()           {}
func (Or) node()            {}
func (Not) node()           {}
func (Text) node()          {}
func (Flag) node()          {}
func (HasAttachment) node() {}
func (Date) node()          {}
func (Size) node()          {}
