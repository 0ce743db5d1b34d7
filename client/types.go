// Package client holds what both protocols share: the Source interface that
// imapsrc and popsrc implement, the message and folder types every command
// prints, capabilities as data, the error kinds that become exit codes, and
// the orchestration that combines a Source with the local cache.
package client

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Protocol names, as written in the config file and shown to users.
const (
	IMAP = "imap"
	POP3 = "pop3"
)

// Inbox is the one folder POP3 has and the name IMAP gives the inbox.
const Inbox = "INBOX"

// Flag is a message flag in duomail's protocol-neutral spelling: the IMAP
// system flags lose their backslash and are lower case ("seen"), keywords
// keep their server spelling ("$Forwarded").
type Flag string

const (
	FlagSeen     Flag = "seen"
	FlagAnswered Flag = "answered"
	FlagFlagged  Flag = "flagged"
	FlagDeleted  Flag = "deleted"
	FlagDraft    Flag = "draft"
)

// ParseFlag accepts the names users type on the command line.
func ParseFlag(s string) (Flag, bool) {
	switch f := Flag(strings.ToLower(strings.TrimPrefix(s, `\`))); f {
	case FlagSeen, FlagAnswered, FlagFlagged, FlagDraft, FlagDeleted:
		return f, true
	}
	return "", false
}

// HasFlag reports whether flags contains f.
func HasFlag(flags []Flag, f Flag) bool { return slices.Contains(flags, f) }

// FlagOp says whether SetFlags adds or removes.
type FlagOp int

const (
	FlagAdd FlagOp = iota
	FlagRemove
)

// Folder is one mailbox as "folders" shows it.
type Folder struct {
	Name string `json:"name"`
	Role string `json:"role"` // special use without backslash, lower case: "trash", "sent", "inbox" ...
	// RoleGuessed: the server marks no folder with this role (no
	// SPECIAL-USE), and this one has it by its name.
	RoleGuessed bool `json:"role_guessed"`
	Total       int  `json:"total"`
	Unseen      int  `json:"unseen"`
}

// Folder roles (RFC 6154 special use, plus inbox).
const (
	RoleInbox   = "inbox"
	RoleTrash   = "trash"
	RoleSent    = "sent"
	RoleDrafts  = "drafts"
	RoleJunk    = "junk"
	RoleArchive = "archive"
	RoleAll     = "all"
	RoleFlagged = "flagged"
)

// FolderStatus is what selecting a folder tells: counts and the markers an
// incremental sync compares against what it saw last time.
type FolderStatus struct {
	Name          string
	Messages      int
	Unseen        int    // -1 when the server did not say
	UIDValidity   uint32 // 0 for POP3, which has no such thing
	UIDNext       uint32 // 0 when unknown
	HighestModSeq uint64 // 0 without CONDSTORE
}

// FolderRef names a folder and the UIDVALIDITY under which the caller learned
// its message IDs. A Source that finds a different UIDVALIDITY on the server
// returns an error wrapping ErrStaleIDs instead of acting on a UID that may now
// name another message. UIDValidity 0 means "no expectation" (a fresh list).
//
// Listed, when not nil, holds what the cache recorded at list time about
// the messages a change names, by ID: a Source that can read the same from
// the server compares before it changes anything, and refuses a message
// that is not the one listed (NotListedError). An ID missing from Listed
// was never listed and is acted on as given.
type FolderRef struct {
	Name        string
	UIDValidity uint32
	Listed      map[string]Identity
}

// Envelope is one message as list prints it. The JSON field names are the
// documented, stable schema shared by both protocols.
type Envelope struct {
	ID       string    `json:"id"` // IMAP: the UID in decimal; POP3: the UIDL
	Folder   string    `json:"folder"`
	Date     time.Time `json:"date"`     // the Date header; zero when the message has none
	Received time.Time `json:"received"` // arrival: IMAP INTERNALDATE, POP3 when downloaded; zero when unknown
	From     string    `json:"from"`
	To       []string  `json:"to"`
	Cc       []string  `json:"cc"`
	// ReplyTo is set only where it differs from From (IMAP servers fill
	// a missing Reply-To with From, a parsed header leaves it empty, and
	// both must read the same), and only by fetch: listings and the
	// cache leave it out.
	ReplyTo        []string `json:"reply_to,omitempty"`
	Subject        string   `json:"subject"`
	Size           int64    `json:"size"`
	Flags          []Flag   `json:"flags"`
	HasAttachments bool     `json:"has_attachments"`
	MessageID      string   `json:"message_id,omitempty"`
	UIDValidity    uint32   `json:"uidvalidity,omitempty"`
	// Thread and Depth place the message in its conversation in a
	// listing asked for with --thread (client/thread): every message of
	// a conversation has the same Thread, and Depth counts its ancestors
	// in the listing. Absent otherwise.
	Thread string `json:"thread,omitempty"`
	Depth  *int   `json:"depth,omitempty"`

	// InReplyTo and References serve threading; they are not part of
	// the documented listing JSON. Both are Message-IDs without angle
	// brackets; IMAP's ENVELOPE carries In-Reply-To but no References, a
	// stored body both.
	InReplyTo  string   `json:"-"`
	References []string `json:"-"`
}

// NormalizeReplyTo drops a Reply-To that only repeats From.
func (e *Envelope) NormalizeReplyTo() {
	if len(e.ReplyTo) == 1 && strings.EqualFold(e.ReplyTo[0], e.From) || len(e.ReplyTo) == 0 {
		e.ReplyTo = nil
	}
}

// ListDate is the date a listing shows: the Date header, or for a message
// without one, when it arrived (so it still sorts and reads sensibly).
func (e Envelope) ListDate() time.Time {
	if e.Date.IsZero() {
		return e.Received
	}
	return e.Date
}

// EnvelopeJSON is an envelope in its documented JSON form, stable for
// scripts: a date the message does not have is null (not year 1), and
// lists are [] (not null). An object that carries an envelope's fields
// and more (fetch --json, a watch --json line) embeds it.
type EnvelopeJSON struct {
	envelopeFields
	Date     *time.Time `json:"date"`
	Received *time.Time `json:"received"`
}

// envelopeFields is Envelope without its methods, so that embedding it
// does not give the outer type Envelope's MarshalJSON.
type envelopeFields Envelope

// JSON returns the envelope in its documented JSON form.
func (e Envelope) JSON() EnvelopeJSON {
	orNull := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	if e.To == nil {
		e.To = []string{}
	}
	if e.Cc == nil {
		e.Cc = []string{}
	}
	if e.Flags == nil {
		e.Flags = []Flag{}
	}
	return EnvelopeJSON{envelopeFields(e), orNull(e.Date), orNull(e.Received)}
}

// MarshalJSON encodes the documented JSON form (see JSON). It leaves <, >
// and & unescaped, as addresses are full of them; an encoder that wants
// them escaped still escapes them in what a MarshalJSON returns.
func (e Envelope) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e.JSON()); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// JSONSchemaAlias names the type MarshalJSON writes, for a JSON Schema
// reflected from the Go types (duomail schema): Envelope's own fields are
// not what is printed.
func (Envelope) JSONSchemaAlias() any { return EnvelopeJSON{} }

// Item is one message in a folder inventory: enough to decide what a sync must
// fetch, without any header or body.
type Item struct {
	ID    string
	Size  int64  // 0 when the server did not say
	Flags []Flag // nil when the protocol keeps no flags on the server
	// Name is the server's own name for the message where several
	// messages may share it (POP3: the UIDL, or the header-digest name
	// without UIDL); ID then adds a suffix to make it unique in the
	// session. "" means ID is the server's name.
	Name string
}

// ServerName returns Name, or ID when the server's name is the ID.
func (it Item) ServerName() string {
	if it.Name != "" {
		return it.Name
	}
	return it.ID
}

// InventoryOptions narrows which flags an inventory reports.
type InventoryOptions struct {
	// FlagsChangedSince, when the server has CONDSTORE, reports flags only for
	// messages changed after this mod-sequence (the others get nil Flags).
	FlagsChangedSince uint64
	// FromUID, when non-zero, limits the inventory to messages whose UID
	// is at least this (IMAP: UID FETCH n:*), for a cheap look at what
	// arrived since a known UIDNEXT. Sources whose IDs carry no order
	// (POP3 UIDLs) ignore it and report everything.
	FromUID uint32
}

// ListOptions selects which envelopes List reports. Results come newest first.
type ListOptions struct {
	Limit  int      // 0 = all
	Unseen bool     // only messages without \Seen
	IDs    []string // only these (then Limit and order are ignored)
	// Offset skips that many messages of the sorted listing before Limit.
	Offset int
	// Sort orders the listing; the zero value is newest first by date
	// (each engine's natural newest-first order). Reverse turns it round.
	Sort    SortKey
	Reverse bool
	// Known, when set, returns the envelopes the caller already holds
	// among ids, for the folder as it is under uidValidity. A message's
	// envelope, size and arrival never change under one UIDVALIDITY, so
	// a source that can ask for flags alone asks only that for these: a
	// page of a folder already listed costs no header reads on the server.
	// Sources whose IDs are not stable that way ignore it.
	Known func(uidValidity uint32, ids []string) (map[string]Envelope, error)
}

// SortKey is what list and search order by.
type SortKey string

const (
	SortDate    SortKey = "date"    // the Date header (arrival when none), newest first
	SortArrival SortKey = "arrival" // IMAP INTERNALDATE / POP3 download order, newest first
	SortFrom    SortKey = "from"    // sender, A to Z
	SortSubject SortKey = "subject" // subject without Re:/Fwd:, A to Z
	SortSize    SortKey = "size"    // largest first
)

// DeleteOptions says how Delete removes mail.
type DeleteOptions struct {
	// Expunge removes for good instead of moving to the Trash folder.
	Expunge bool
	// ExpungeOthers lets a server without UIDPLUS, whose only way to remove
	// mail is a plain EXPUNGE, also remove the other messages of the folder
	// that already carry \Deleted. Without it such a delete is refused.
	ExpungeOthers bool
}

// MoveOptions says how Move may remove the originals.
type MoveOptions struct {
	// ExpungeOthers: as in DeleteOptions, for the originals' removal on a
	// server with neither MOVE nor UIDPLUS.
	ExpungeOthers bool
}

// Acted is a message a delete or move acted on, named so that an ID typed
// for the wrong folder is noticed.
type Acted struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	From    string `json:"from"`
	// NewID is the message's ID in the destination folder, when the
	// server said (IMAP UIDPLUS); "" otherwise.
	NewID string `json:"new_id,omitempty"`
}

// MoveResult says what Move did.
type MoveResult struct {
	Messages []Acted `json:"messages"`
}

// DeleteResult says what Delete actually did, so the user is told.
type DeleteResult struct {
	Messages []Acted `json:"messages"`
	MovedTo  string  `json:"moved_to,omitempty"` // the Trash folder, when mail went there
	Expunged bool    `json:"expunged"`
	// Pending is true when the deletion takes effect only when the session
	// ends cleanly (POP3 DELE is committed by QUIT).
	Pending bool `json:"pending"`
	// OthersExpunged counts messages the user did not name that a plain
	// EXPUNGE removed with them, because they carried \Deleted and
	// ExpungeOthers allowed it.
	OthersExpunged int `json:"others_expunged,omitempty"`
}
