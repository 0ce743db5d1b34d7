package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
)

// A server whose mail the cache keeps (POP3) names messages with IDs that
// prove nothing about their bytes: servers reuse a UIDL for a new message
// once the old one is gone, give two messages the same one, or rename
// every message after a migration. So a message is deleted on the server
// only when the bytes the server now holds under that number are known to
// be durable in the cache: downloaded in this session, or matched by the
// size the server announces and a digest of the header (TOP n 0) against
// the stored copy. Anything that does not match is downloaded and stored
// as a new message first.

// serverCopy pairs one message on the server with its place in the cache.
type serverCopy struct {
	item     Item
	key      string // the cache entry holding its bytes, or the one to store them under
	cached   bool   // key names an entry the cache already has (with or without body)
	verified bool   // its size and header digest match the stored copy
	// refresh: its header digest matches the stored copy's, but no size
	// the server announced for that copy is known to compare with (an
	// entry adopted after a crash, or stored by an older duomail): it is
	// the stored message, downloaded again into the same entry before any
	// DELE, never stored as a second one.
	refresh bool
	digest  string // the server's header digest, once fetched
}

// identify pairs the server's messages with cache entries. An entry under
// the message's own ID, still on the server as of the last sync, from the
// same server name and of the size the server announced then, is taken at
// its word for not downloading again (no round trip); when verify says it
// may be deleted, its header digest is checked too. Other messages are
// compared by size and header digest with every stored message no one
// claimed, so one renamed by the server is recognised instead of stored
// twice; the rest get a cache key of their own. A stored message whose
// announced size was never recorded, and whose stored size differs from
// the announced one (a server that does not count the CRLF it adds to a
// last line without one), is matched by name and header digest alone and
// marked for refresh.
func (m *Mailbox) identify(ctx context.Context, src Source, ref FolderRef, items []Item, entries map[string]Entry, verify func(Entry) bool) ([]*serverCopy, error) {
	copies := make([]*serverCopy, len(items))
	claimed := make(map[string]bool, len(items))
	for i, it := range items {
		c := &serverCopy{item: it}
		copies[i] = c
		if e, ok := entries[it.ID]; ok && plausible(e, it) {
			c.key, c.cached = it.ID, true
			claimed[it.ID] = true
		}
	}
	bySize := map[int64][]Entry{}
	// Entries without a recorded announced size, by server name; one
	// adopted after a crash knows no name but its ID, which for a shared
	// UIDL is not the server's name.
	unsized := map[string][]Entry{}
	sameName := func(it Item) []Entry {
		if it.ServerName() == it.ID {
			return unsized[it.ID]
		}
		return slices.Concat(unsized[it.ServerName()], unsized[it.ID])
	}
	for _, e := range entries {
		if e.HasBody && !claimed[e.ID] {
			bySize[announcedSize(e)] = append(bySize[announcedSize(e)], e)
			if e.Origin.ServerSize < 0 {
				unsized[serverName(e)] = append(unsized[serverName(e)], e)
			}
		}
	}
	// Only a message the server listed last time (renamed since) or one
	// stored under the same server name is worth a TOP: comparing new
	// mail with every stored message of its size would cost one TOP per
	// new message in a large cache.
	candidate := func(e Entry, c *serverCopy) bool {
		return !claimed[e.ID] && (e.OnServer || serverName(e) == c.item.ServerName())
	}
	var ask []string
	for _, c := range copies {
		if c.cached {
			if entries[c.key].HasBody && verify(entries[c.key]) {
				ask = append(ask, c.item.ID)
			}
			continue
		}
		if slices.ContainsFunc(bySize[c.item.Size], func(e Entry) bool { return candidate(e, c) }) ||
			slices.ContainsFunc(sameName(c.item), func(e Entry) bool { return !claimed[e.ID] }) {
			ask = append(ask, c.item.ID)
		}
	}
	digests, err := m.headerDigests(ctx, src, ref, ask)
	if err != nil {
		return nil, err
	}
	stored := func(e Entry) string {
		if e.Origin.HeaderDigest != "" {
			return e.Origin.HeaderDigest
		}
		return m.storedDigest(ctx, ref.Name, e.ID)
	}
	origins := map[string]Origin{}
	renamed := 0
	for _, c := range copies {
		d, ok := digests[c.item.ID]
		if !ok {
			continue
		}
		c.digest = d
		if c.cached {
			e := entries[c.key]
			if d == stored(e) {
				// With a recorded size, plausible compared it: the server
				// announces now what it did when the message was stored.
				if c.verified = e.Origin.ServerSize >= 0 || e.Size == c.item.Size; !c.verified {
					c.refresh = true
				} else if e.Origin.HeaderDigest == "" {
					origins[c.key] = Origin{ServerID: c.item.ServerName(), ServerSize: c.item.Size, HeaderDigest: d}
				}
				continue
			}
			// Another message under a name the stored one had.
			c.key, c.cached = "", false
			claimed[e.ID] = false
			bySize[announcedSize(e)] = append(bySize[announcedSize(e)], e)
		}
		for _, e := range bySize[c.item.Size] {
			if !candidate(e, c) || stored(e) != d {
				continue
			}
			c.key, c.cached, c.verified = e.ID, true, true
			claimed[e.ID] = true
			origins[e.ID] = Origin{ServerID: c.item.ServerName(), ServerSize: c.item.Size, HeaderDigest: d}
			if e.OnServer && e.ID != c.item.ID && serverName(e) != c.item.ServerName() {
				renamed++
			}
			break
		}
		if c.cached {
			continue
		}
		for _, e := range sameName(c.item) {
			if !claimed[e.ID] && stored(e) == d {
				c.key, c.cached, c.refresh = e.ID, true, true
				claimed[e.ID] = true
				break
			}
		}
	}
	if renamed > 0 {
		m.Opts.Warnf("account %s: the server's UIDLs are unstable: %d message(s) already stored came back under a new UIDL; recognised by size and header (one TOP each), not downloaded again", m.Account.Name, renamed)
	}
	if err := m.Cache.SetOrigins(ctx, ref.Name, origins); err != nil {
		return nil, err
	}
	for _, c := range copies {
		if !c.cached {
			c.key = freeKey(c.item.ID, entries, claimed)
			claimed[c.key] = true
		}
	}
	return copies, nil
}

// plausible reports whether an entry under the server's ID may be taken
// for the server's message without asking the server more.
func plausible(e Entry, it Item) bool {
	if !e.OnServer || serverName(e) != it.ServerName() {
		// A name that left the server and came back names a new message
		// until its header says otherwise.
		return false
	}
	if e.Origin.ServerSize >= 0 {
		return e.Origin.ServerSize == it.Size
	}
	// Stored by an older duomail, which did not record the announced size.
	return true
}

func serverName(e Entry) string {
	if e.Origin.ServerID != "" {
		return e.Origin.ServerID
	}
	return e.ID
}

func announcedSize(e Entry) int64 {
	if e.Origin.ServerSize >= 0 {
		return e.Origin.ServerSize
	}
	return e.Size
}

// freeKey returns id, or id with "~2", "~3"... when the cache already uses
// id for another message, so both survive.
func freeKey(id string, entries map[string]Entry, claimed map[string]bool) string {
	key := id
	for k := 2; ; k++ {
		if _, used := entries[key]; !used && !claimed[key] {
			return key
		}
		key = id + "~" + strconv.Itoa(k)
	}
}

// headerDigests asks the server for the header digests of ids. A server
// that cannot tell (no TOP) leaves them unknown: nothing unverified is
// deleted, and messages not matched are downloaded as new.
func (m *Mailbox) headerDigests(ctx context.Context, src Source, ref FolderRef, ids []string) (map[string]string, error) {
	idf, ok := src.(Identifier)
	if len(ids) == 0 || !ok {
		return nil, nil
	}
	d, err := idf.HeaderDigests(ctx, ref, ids)
	if errors.Is(err, ErrUnsupported) {
		m.Opts.Warnf("account %s: the server cannot show headers alone (%v), so duomail cannot check that a stored message is still the one the server holds under its ID; such messages stay on the server", m.Account.Name, err)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("check message identity: %w", err)
	}
	return d, nil
}

// storedDigest computes the header digest of a cached body, for entries
// stored before duomail recorded it; "" when the body cannot be read.
func (m *Mailbox) storedDigest(ctx context.Context, folder, id string) string {
	rc, err := m.Cache.Open(ctx, folder, id)
	if err != nil {
		return ""
	}
	defer rc.Close()
	h := NewHeaderHash()
	buf := make([]byte, 4096)
	for !h.done {
		n, err := rc.Read(buf)
		h.Write(buf[:n])
		if err != nil {
			if err != io.EOF {
				return ""
			}
			break
		}
	}
	return h.Sum()
}

// syncKept brings a cache that is the store of record (POP3) up to date:
// downloads what is not stored, makes it durable, then applies retention.
func (m *Mailbox) syncKept(ctx context.Context, src Source, ref FolderRef, items []Item, entries map[string]Entry, opts SyncOptions, rep *SyncReport) error {
	doomed := m.retention()
	copies, err := m.identify(ctx, src, ref, items, entries, func(e Entry) bool { return doomed(e.Downloaded) })
	if err != nil {
		return fmt.Errorf("sync %s: %w", ref.Name, err)
	}
	onServer := make(map[string]bool, len(copies))
	for _, c := range copies {
		if c.cached {
			onServer[c.key] = true
		}
	}
	if err := m.dropLost(ctx, ref.Name, entries, onServer); err != nil {
		return err
	}
	var gone []string
	for id, e := range entries {
		if e.OnServer && !onServer[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		// The cache is the store of record and keeps its copy.
		if err := m.Cache.MarkOffServer(ctx, ref.Name, gone); err != nil {
			return err
		}
		rep.Vanished = len(gone)
	}

	plan := &downloadPlan{keys: map[string]string{}, names: map[string]string{}, got: map[string]bool{}}
	var need []string
	var needBytes int64
	for _, c := range copies {
		if !c.cached {
			rep.New++
		}
		if !c.cached || !entries[c.key].HasBody || c.refresh {
			need = append(need, c.item.ID)
			needBytes += c.item.Size
			plan.keys[c.item.ID], plan.names[c.item.ID] = c.key, c.item.ServerName()
		}
	}
	if len(need) > 0 {
		n, b, err := m.downloadInto(ctx, src, ref, need, nil, needBytes, opts.Progress, plan)
		rep.Downloaded, rep.Bytes = n, b
		if err != nil {
			return fmt.Errorf("sync %s: %w", ref.Name, err)
		}
	}

	var dele, keys []string
	for _, c := range copies {
		switch {
		case plan.got[c.item.ID] && c.refresh:
			// Its first download counts for retention, not this one.
			if !doomed(entries[c.key].Downloaded) {
				continue
			}
		case plan.got[c.item.ID]:
			if !doomed(nowFunc()) {
				continue
			}
		case c.verified:
			if !doomed(entries[c.key].Downloaded) {
				continue
			}
		default:
			continue // never delete what is not known to be stored
		}
		dele = append(dele, c.item.ID)
		keys = append(keys, c.key)
	}
	n, err := m.deleteStored(ctx, src, ref, dele, keys)
	rep.Deleted = n
	return err
}

// retention returns whether the account's policy deletes from the server
// a message stored at the given time.
func (m *Mailbox) retention() func(downloaded time.Time) bool {
	acct := m.Account
	cutoff := nowFunc().AddDate(0, 0, -acct.KeepDays)
	return func(downloaded time.Time) bool {
		if acct.KeepOnServer && acct.KeepDays <= 0 {
			return false
		}
		return !acct.KeepOnServer || acct.KeepDays > 0 && downloaded.Before(cutoff)
	}
}

// deleteStored deletes from the server messages whose bytes are durably
// in the cache under keys, then ends the session so the server commits
// the deletions (POP3 DELE takes effect at QUIT).
func (m *Mailbox) deleteStored(ctx context.Context, src Source, ref FolderRef, ids, keys []string) (int, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := src.Delete(ctx, ref, ids, DeleteOptions{Expunge: true})
	if err != nil {
		return 0, fmt.Errorf("delete downloaded mail from server: %w", err)
	}
	if res.Pending {
		if err := m.Close(); err != nil {
			return 0, fmt.Errorf("delete downloaded mail from server: %w (the next sync deletes what the server kept)", err)
		}
	}
	if err := m.Cache.MarkOffServer(ctx, ref.Name, keys); err != nil {
		return len(ids), err
	}
	return len(ids), nil
}
