package client

import (
	"errors"
	"fmt"
)

// Error kinds. Sources wrap them (fmt.Errorf("fetch uid 42: %w: %w", ErrNetwork, err))
// so the command layer maps every failure to an exit code in one place.
var (
	// ErrUnsupported: the protocol or server cannot do the operation.
	ErrUnsupported = errors.New("not supported by this protocol")
	// ErrAuth: the server refused the credentials.
	ErrAuth = errors.New("authentication failed")
	// ErrNetwork: connection, timeout or TLS failure.
	ErrNetwork = errors.New("network error")
	// ErrTLS: certificate or handshake failure; also matches ErrNetwork.
	ErrTLS = fmt.Errorf("TLS error: %w", ErrNetwork)
	// ErrNotFound: no message with that ID (or no such folder or part).
	ErrNotFound = errors.New("not found")
	// ErrStaleIDs: the folder's UIDVALIDITY changed since the IDs were listed.
	ErrStaleIDs = errors.New("message IDs are stale (UIDVALIDITY changed); list again")
	// ErrServer: the server answered NO/BAD/-ERR; the server's text follows.
	ErrServer = errors.New("server refused")
	// ErrProtocol: the server sent something that breaks the protocol.
	ErrProtocol = errors.New("protocol violation")
	// ErrIncomplete: a message arrived much shorter than the server
	// announced (truncated by the server); it is neither stored nor
	// deleted, and the sync goes on with the others.
	ErrIncomplete = errors.New("message arrived incomplete")
	// ErrUsage: the user asked for something malformed (bad ID, bad flag).
	ErrUsage = errors.New("usage")
	// ErrLocked: another process held the account's sync lock for longer
	// than the caller was willing to wait.
	ErrLocked = errors.New("the account's cache is in use by another duomail process")
	// ErrLocalCopyLost: the cache stored the whole message, its file has
	// since gone (deleted by another program), and the server no longer
	// had the message at the last sync. Caches wrap it with ErrNotFound.
	ErrLocalCopyLost = fmt.Errorf("%w: the local copy is missing from the cache (deleted outside duomail?)", ErrNotFound)
)

// UnsupportedError explains why an operation is impossible on a protocol.
// It matches ErrUnsupported with errors.Is.
type UnsupportedError struct {
	Op     string // "move"
	Reason string // "POP3 has no folders"
}

func (e *UnsupportedError) Error() string {
	if e.Op == "" {
		return e.Reason
	}
	return e.Op + ": " + e.Reason
}

func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Unsupported builds an UnsupportedError.
func Unsupported(op, reason string) error { return &UnsupportedError{Op: op, Reason: reason} }

// ServerError carries the server's own words (an IMAP NO/BAD text, a POP3
// -ERR text) so they reach the user. It matches ErrServer, and ErrAuth when
// Auth is set.
type ServerError struct {
	Op   string // "login", "fetch uid 42"
	Text string // what the server said, unsanitised: printers clean it
	Auth bool
}

func (e *ServerError) Error() string {
	if e.Op == "" {
		return "server said: " + e.Text
	}
	return e.Op + ": server said: " + e.Text
}

func (e *ServerError) Is(target error) bool {
	return target == ErrServer || e.Auth && target == ErrAuth
}
