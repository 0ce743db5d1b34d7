package client

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
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
		return "server said: " + ServerText(e.Text)
	}
	return e.Op + ": server said: " + ServerText(e.Text)
}

// serverTiming is Dovecot's timing suffix on command replies, e.g.
// " (0.001 + 0.000 secs)." or " (0.001 + 0.000 + 0.000 secs).": noise to a
// user reading why a command failed.
var serverTiming = regexp.MustCompile(`\s*\(\d+\.\d+( \+ \d+\.\d+)* secs\)\.?\s*$`)

// ServerText is a server's reply text as shown to users: without the
// timing figures some servers append.
func ServerText(text string) string {
	if loc := serverTiming.FindStringIndex(text); loc != nil {
		text = text[:loc[0]]
	}
	return text
}

// MissingError names messages asked for by ID that a folder does not
// have, telling apart IDs the folder never had (mistyped, or meant for
// another folder) from messages that were there and are gone. It matches
// ErrNotFound.
type MissingError struct {
	Folder string
	Never  []string // never existed: above the server's next UID, or never seen
	Gone   []string // seen before, deleted or moved since
}

func (e *MissingError) Error() string {
	var parts []string
	if len(e.Never) > 0 {
		parts = append(parts, fmt.Sprintf("no message %s in %s", idList(e.Never), e.Folder))
	}
	if len(e.Gone) > 0 {
		word := "message"
		if len(e.Gone) > 1 {
			word = "messages"
		}
		parts = append(parts, fmt.Sprintf("%s %s in %s: no longer on the server", word, idList(e.Gone), e.Folder))
	}
	return strings.Join(parts, "; ")
}

// idList names IDs for a message: the first ten, then how many more.
func idList(ids []string) string {
	const shown = 10
	if len(ids) <= shown {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:shown], ", "), len(ids)-shown)
}

func (e *MissingError) Is(target error) bool { return target == ErrNotFound }

func (e *ServerError) Is(target error) bool {
	return target == ErrServer || e.Auth && target == ErrAuth
}

// StaleIDsError: the server renumbered a folder (its UIDVALIDITY changed)
// since its IDs were listed, so no ID listed before names a message any
// more. It matches ErrStaleIDs.
type StaleIDsError struct {
	Folder      string
	Listed, Now uint32 // the UIDVALIDITY then and now
}

func (e *StaleIDsError) Error() string {
	return fmt.Sprintf("%s was renumbered by the server (UIDVALIDITY %d → %d) since it was listed; run %s and use the new IDs",
		e.Folder, e.Listed, e.Now, listCommand(e.Folder))
}

func (e *StaleIDsError) Is(target error) bool { return target == ErrStaleIDs }

// NotListedError: an ID now names another message than the one listed
// under it (the server gave the UID to another message without changing
// the folder's UIDVALIDITY); Differences says what differs. It matches
// ErrStaleIDs: the ID no longer names what the user chose.
type NotListedError struct {
	Folder      string
	ID          string
	Differences []string // "Message-ID <a@x> → <b@y>", "size 120 → 4000"
}

func (e *NotListedError) Error() string {
	return fmt.Sprintf("message %s in %s is not the one listed under that ID (%s); nothing was changed; run %s and use the new IDs",
		e.ID, e.Folder, strings.Join(e.Differences, ", "), listCommand(e.Folder))
}

func (e *NotListedError) Is(target error) bool { return target == ErrStaleIDs }

// listCommand is the command that lists folder.
func listCommand(folder string) string {
	if strings.EqualFold(folder, Inbox) {
		return "duomail list"
	}
	if strings.ContainsAny(folder, " \t'\"$`\\") {
		return "duomail list --folder '" + strings.ReplaceAll(folder, "'", `'\''`) + "'"
	}
	return "duomail list --folder " + folder
}

// MissingFolderError: the server has no folder of that name. Suggest is a
// folder whose name differs only in case. It matches ErrNotFound.
type MissingFolderError struct {
	Name    string
	Suggest string
}

func (e *MissingFolderError) Error() string {
	msg := fmt.Sprintf("no folder %q on the server", e.Name)
	if e.Suggest != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", e.Suggest)
	}
	return msg
}

func (e *MissingFolderError) Is(target error) bool { return target == ErrNotFound }
