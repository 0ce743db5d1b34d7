package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"time"
)

// Identity is what tells one message from another where the server's IDs
// are UIDs: a server may give a UID to another message without changing
// the folder's UIDVALIDITY (a bug, or a mailbox rebuilt by hand), and only
// what the message is made of shows it. The POP3 twin is Origin, whose
// IDs prove even less and which compares header digests.
type Identity struct {
	MessageID string    // "" when the message has none, or unknown
	Size      int64     // RFC822.SIZE; 0 when unknown
	Received  time.Time // INTERNALDATE; zero when unknown
}

// IdentityOf is the identity an envelope records.
func IdentityOf(e Envelope) Identity {
	return Identity{MessageID: e.MessageID, Size: e.Size, Received: e.Received}
}

// Differences names what differs between the identity recorded at list
// time and the one the server shows now, each as "what then → now". A
// field recorded as unknown is not compared; a Message-ID recorded and now
// gone is a difference, since a message's bytes never change on an IMAP
// server.
func (listed Identity) Differences(now Identity) []string {
	var out []string
	if listed.MessageID != "" && listed.MessageID != now.MessageID {
		was, is := "<"+listed.MessageID+">", "none"
		if now.MessageID != "" {
			is = "<" + now.MessageID + ">"
		}
		out = append(out, "Message-ID "+was+" → "+is)
	}
	if listed.Size > 0 && listed.Size != now.Size {
		out = append(out, fmt.Sprintf("size %d → %d", listed.Size, now.Size))
	}
	if !listed.Received.IsZero() && !now.Received.IsZero() && !listed.Received.Equal(now.Received) {
		out = append(out, fmt.Sprintf("received %s → %s", listed.Received.UTC().Format(time.RFC3339), now.Received.UTC().Format(time.RFC3339)))
	}
	return out
}

// Origin records where a stored POP3 message came from, so that a later
// session can tell whether the server still holds the same message: a UIDL
// alone does not prove it (servers reuse UIDLs, give several messages the
// same one, or rename every message after a migration).
type Origin struct {
	// ServerID is the name the server gave the message (its UIDL, or the
	// header-digest name on a server without UIDL), which several messages
	// may share; "" when not recorded (an index from an older duomail).
	ServerID string
	// ServerSize is the size the server announced (LIST), which may differ
	// from the stored bytes when the server counts line ends its own way;
	// -1 when not recorded.
	ServerSize int64
	// HeaderDigest is HeaderDigest of the message's header; "" when not
	// recorded.
	HeaderDigest string
}

// Identifier is implemented by Sources whose IDs do not prove which
// message they name (POP3): it reports the HeaderDigest of what the server
// holds now under each ID, so the caller can compare it with a stored copy
// before deleting. IDs not on the server are left out of the map.
type Identifier interface {
	HeaderDigests(ctx context.Context, ref FolderRef, ids []string) (map[string]string, error)
}

// HeaderHash computes a message's HeaderDigest from its bytes as they
// stream by (a whole message, or only its header as POP3 TOP n 0 answers):
// the header with CR removed, up to the empty line that ends it, trailing
// line ends ignored, so the same header yields the same digest however the
// server ends its lines and whether or not the body follows.
type HeaderHash struct {
	h        hash.Hash
	newlines int  // held back: they count only if more header text follows
	empty    bool // the current line has no text yet
	done     bool // the empty line that ends the header was seen
}

// NewHeaderHash starts a digest.
func NewHeaderHash() *HeaderHash {
	return &HeaderHash{h: sha256.New(), empty: true}
}

// Reset starts over for another message.
func (w *HeaderHash) Reset() {
	w.h.Reset()
	w.newlines, w.empty, w.done = 0, true, false
}

func (w *HeaderHash) Write(p []byte) (int, error) {
	if w.done {
		return len(p), nil
	}
	start := 0 // p[start:i] is header text not yet hashed
	for i, b := range p {
		switch b {
		case '\r':
			w.h.Write(p[start:i])
			start = i + 1
		case '\n':
			w.h.Write(p[start:i])
			start = i + 1
			if w.empty {
				w.done = true
				return len(p), nil
			}
			w.newlines++
			w.empty = true
		default:
			if w.newlines > 0 {
				w.h.Write(p[start:i])
				start = i
				for ; w.newlines > 0; w.newlines-- {
					w.h.Write([]byte{'\n'})
				}
			}
			w.empty = false
		}
	}
	w.h.Write(p[start:])
	return len(p), nil
}

// Sum returns the digest: 32 hexadecimal digits.
func (w *HeaderHash) Sum() string {
	return hex.EncodeToString(w.h.Sum(nil)[:16])
}
