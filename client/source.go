package client

import (
	"context"
	"io"
)

// Source is one authenticated connection to a mailbox server. imapsrc and
// popsrc implement it; client/sourcetest is the conformance suite both pass.
//
// Every call takes a context first; cancelling it, or its deadline passing,
// makes the call return promptly with an error wrapping ErrNetwork (or the
// context's error), never hang. Message bodies are streamed, never held
// whole. An operation the protocol or server cannot do returns an error
// wrapping ErrUnsupported that says why (Capabilities.Require builds it), and
// sends nothing to the server. Errors name the operation and message:
// "fetch uid 42: connection closed by server".
//
// A Source is not safe for concurrent use: one command at a time, as both
// protocols are sessions with state.
type Source interface {
	// Capabilities reports what this server lets duomail do. It is known once
	// the Source is connected and authenticated, and costs no round trip.
	Capabilities() Capabilities

	// Folders lists every folder with role and counts (IMAP LIST + STATUS;
	// POP3: INBOX alone, counted with STAT). Unseen is -1 where the server
	// cannot tell (POP3 keeps no flags; the orchestration fills it in from
	// the cache).
	Folders(ctx context.Context) ([]Folder, error)

	// Status reports counts and sync markers of one folder.
	Status(ctx context.Context, folder string) (FolderStatus, error)

	// Inventory reports every message currently in the folder, oldest first,
	// with sizes and (where the server keeps them) flags, but no header or
	// body byte: IMAP UID FETCH (UID FLAGS RFC822.SIZE), POP3 UIDL + LIST.
	// The returned status carries the UIDVALIDITY the IDs belong to.
	Inventory(ctx context.Context, ref FolderRef, opts InventoryOptions) (FolderStatus, []Item, error)

	// List calls fn with envelopes, newest first, fetching headers only: IMAP
	// ENVELOPE + BODYSTRUCTURE, POP3 TOP n 0 (unsupported without TOP).
	// Envelope.HasAttachments is exact for IMAP and a guess from the top
	// Content-Type for POP3 TOP. Returning an error from fn stops the listing
	// and List returns that error.
	List(ctx context.Context, ref FolderRef, opts ListOptions, fn func(Envelope) error) (FolderStatus, error)

	// Structure returns a message's envelope and MIME tree without fetching
	// its body (IMAP BODYSTRUCTURE). Unsupported on POP3.
	Structure(ctx context.Context, ref FolderRef, id string) (Envelope, *Part, error)

	// FetchPart writes one MIME part's body exactly as stored, still in its
	// transfer encoding (decode with mimepart.DecodePart). Never sets \Seen.
	// Unsupported on POP3.
	FetchPart(ctx context.Context, ref FolderRef, id, path string, w io.Writer) (int64, error)

	// Download streams whole messages, byte-exact, pipelined where the
	// protocol allows (one UID FETCH BODY.PEEK[]; many RETR in flight). fn is
	// called once per message, in the order the server sends them (ascending
	// UID for IMAP, the order of ids for POP3), and must consume r before
	// returning; an error from fn stops the download and is returned.
	// IDs no longer on the server are reported as an error wrapping
	// ErrNotFound after the others were delivered. Never sets \Seen.
	Download(ctx context.Context, ref FolderRef, ids []string, fn func(id string, size int64, r io.Reader) error) error

	// Delete removes messages without downloading them. IMAP: move to the
	// Trash folder when there is one and opts.Expunge is false, else STORE
	// \Deleted + UID EXPUNGE; a plain EXPUNGE only on a server without
	// UIDPLUS, and only when no other message carries \Deleted (or
	// opts.ExpungeOthers allows removing those too). POP3: DELE, which the
	// server commits only at a clean Close (result Pending).
	Delete(ctx context.Context, ref FolderRef, ids []string, opts DeleteOptions) (DeleteResult, error)

	// Move moves messages to another folder on the server and returns each
	// one's new ID there where the server said (IMAP UIDPLUS: COPYUID);
	// the map is empty otherwise. Unsupported on POP3.
	Move(ctx context.Context, ref FolderRef, ids []string, dest string, opts MoveOptions) (map[string]string, error)

	// SetFlags adds or removes flags on the server. Unsupported on POP3.
	SetFlags(ctx context.Context, ref FolderRef, ids []string, op FlagOp, flags []Flag) error

	// Close ends the session politely (IMAP LOGOUT, POP3 QUIT, which commits
	// DELE) and closes the connection. Its error is what the user still
	// needs to know: a Source whose connection broke closes without
	// committing anything, and returns an error only if that loses
	// something (POP3 deletions not committed); the failure itself was
	// reported by the call that met it.
	Close() error
}

// Watcher is implemented by Sources that can wait for new mail.
type Watcher interface {
	// Watch returns when the folder may have changed (new mail, expunge,
	// flag change), or when ctx ends. IMAP uses IDLE; a Source without push
	// does not implement Watcher and callers poll.
	Watch(ctx context.Context, folder string) error
}

// Dialer connects and authenticates a Source for an account.
type Dialer func(ctx context.Context, acct *Account, opts DialOptions) (Source, error)
