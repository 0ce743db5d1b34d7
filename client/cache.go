package client

import (
	"context"
	"io"
	"time"

	"github.com/duomail/duomail/client/query"
)

// Cache is the local store of one account: a Maildir per folder for message
// bodies and an index for envelopes, flags and sync state. localcache
// implements it. For POP3 it is the store of record (after DELE the cached
// copy is the only one); for IMAP it is a copy that lets list work offline.
//
// Folder names are the server's (IMAP) or Inbox (POP3). IDs are the ones
// Sources use. Every method that changes the index commits before returning.
type Cache interface {
	// State returns what the last sync of a folder recorded; the zero value
	// when the folder was never synced.
	State(ctx context.Context, folder string) (SyncState, error)

	// SetState records new sync markers. A UIDValidity different from the
	// stored one is refused with ErrStaleIDs: call Reset first.
	SetState(ctx context.Context, folder string, st SyncState) error

	// Reset re-keys a folder whose UIDVALIDITY changed: every entry recorded
	// under the old UIDVALIDITY is forgotten (bodies of an IMAP folder are
	// removed too, as they are copies of mail still on the server under new
	// UIDs), and the folder is recorded with the new one. Bodies stored
	// under UIDVALIDITY 0 (POP3, possibly the only copy) are never removed.
	Reset(ctx context.Context, folder string, uidValidity uint32) error

	// Entries returns what the index knows of every message in the folder,
	// keyed by ID, without reading any body.
	Entries(ctx context.Context, folder string) (map[string]Entry, error)

	// PutEnvelopes records envelopes (insert or update; a stored body, its
	// size, has-attachments and download time are kept). Nil Flags keep the
	// stored flags, a non-nil list replaces them; UIDValidity 0 means the
	// folder's current one. Added in the order given; List's "newest first"
	// is the reverse of that order for POP3 and descending numeric UID for
	// IMAP folders (UIDValidity != 0).
	PutEnvelopes(ctx context.Context, folder string, envs []Envelope) error

	// SetFlags replaces the stored flags of the given messages (from the
	// server), also renaming Maildir files so other tools see them. Nil
	// entries (CONDSTORE: unchanged) and unknown IDs are skipped.
	SetFlags(ctx context.Context, folder string, flags map[string][]Flag) error

	// ChangeFlags adds or removes flags locally (POP3 has no server flags).
	// Every known ID is changed; unknown IDs are then reported in an error
	// wrapping ErrNotFound.
	ChangeFlags(ctx context.Context, folder string, ids []string, op FlagOp, flags []Flag) error

	// MarkOffServer records that messages are no longer on the server while
	// their cached copy stays (POP3 after DELE, or deleted by someone else).
	MarkOffServer(ctx context.Context, folder string, ids []string) error

	// Remove forgets messages: index entries and Maildir files.
	Remove(ctx context.Context, folder string, ids []string) error

	// List calls fn with envelopes newest first (see PutEnvelopes); with
	// IDs, in the order given, skipping unknown ones (Unseen still applies).
	List(ctx context.Context, folder string, opts ListOptions, fn func(Envelope) error) error

	// Search calls fn with the envelopes of the folder's messages that q
	// matches, ordered, offset and limited as opts says (opts.IDs and
	// opts.Unseen are ignored: the query says what it wants). Header
	// fields match as substrings, text by words and word prefixes; a
	// message whose body is not cached is matched on its headers only
	// (SearchCoverage tells how many).
	Search(ctx context.Context, folder string, q query.Node, opts ListOptions, fn func(Envelope) error) error

	// SearchCoverage says how much of a folder Search sees in full.
	SearchCoverage(ctx context.Context, folder string) (SearchCoverage, error)

	// Open returns a stored body, byte-exact; ErrNotFound when only the
	// envelope (or nothing) is cached.
	Open(ctx context.Context, folder, id string) (io.ReadCloser, error)

	// NewBatch starts storing whole messages into a folder.
	NewBatch(ctx context.Context, folder string) (Batch, error)

	// SetOrigins records where messages came from (see Origin) and that
	// they are on the server, for messages recognised on the server under
	// another name than the one they were stored with. Unknown IDs are
	// skipped.
	SetOrigins(ctx context.Context, folder string, origins map[string]Origin) error

	// RoleStore remembers the account's special-use folders.
	RoleStore

	// Lock takes the account's sync lock, so two processes never download
	// the same messages at once. It waits until ctx ends.
	Lock(ctx context.Context) (unlock func(), err error)

	Close() error
}

// Batch stores downloaded messages. Add streams each one to a temporary
// file; Commit makes all of them durable and records them. Only after Commit
// returns may the server's copies be deleted: a crash before that leaves the
// server copies in place and at most unreferenced temporary files, a crash
// after the files are durable but before the index is written leaves files
// that the next Open adopts (their names carry the ID), so a message is
// never lost and never stored twice.
type Batch interface {
	// Add reads one whole message from r into the folder's Maildir tmp/.
	// uidValidity and id name it (0: the folder's current UIDVALIDITY);
	// flags are its server flags (nil for POP3). Use batches while holding
	// Lock: recovery in another process may clear unlocked temporary files.
	// If reading r fails (a connection cut mid-message), Add removes what it
	// wrote and returns the error: a partial message is never committed.
	Add(ctx context.Context, id string, uidValidity uint32, flags []Flag, r io.Reader) error

	// SetOrigin records where a message added to this batch came from;
	// Commit stores it with the message.
	SetOrigin(id string, o Origin)

	// Pending reports how many messages and bytes were added since the last Commit.
	Pending() (messages int, bytes int64)

	// Commit makes every added message durable (file data and directory
	// entries on disk), then records their envelopes, parsed from the stored
	// bytes, in one index transaction, and returns them in the order added.
	// The batch can be used again afterwards.
	Commit(ctx context.Context) ([]Envelope, error)

	// Abort removes what was added since the last Commit.
	Abort() error
}

// SyncState is what the index remembers of a folder between runs.
type SyncState struct {
	UIDValidity   uint32
	UIDNext       uint32
	HighestModSeq uint64
	Messages      int
	LastSync      time.Time
	// Bodies: that sync stored the whole of every message on the server,
	// so an unchanged folder needs no download either.
	Bodies bool
}

// Entry is what the index knows of one message.
type Entry struct {
	ID         string
	Flags      []Flag
	Size       int64
	HasBody    bool      // the whole message is in the Maildir
	OnServer   bool      // still on the server as of the last sync
	Downloaded time.Time // when the body was first stored (keep_days counts from it); zero without body
	MessageID  string
	Origin     Origin
	// Lost: the body was stored, but its file has gone (deleted outside
	// duomail) while the server no longer has the message.
	Lost bool
}

// SearchCoverage is how much of a folder the local index can search: every
// message by its headers, and those whose body is cached by their text too.
type SearchCoverage struct {
	Messages int // messages the cache knows in the folder
	WithText int // of them, those whose text is indexed
}

// HeadersOnly reports whether some messages can be matched on their
// headers only (an IMAP folder synced without --bodies).
func (c SearchCoverage) HeadersOnly() bool { return c.WithText < c.Messages }
