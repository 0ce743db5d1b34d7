package client

import (
	"context"
	"errors"
	"fmt"
)

// FlagResult says where a flag change happened.
type FlagResult struct {
	Local  bool   `json:"local"`            // only in the cache
	Reason string `json:"reason,omitempty"` // why not on the server
}

// Flag adds or removes flags: on the server where it keeps them (every
// device sees the change), else in the cache only, and says so.
func (m *Mailbox) Flag(ctx context.Context, folder string, ids []string, op FlagOp, flags []Flag) (FlagResult, error) {
	defer m.Opts.Stats.Begin("flag")()
	folder = FolderName(folder)
	if len(ids) == 0 || len(flags) == 0 {
		return FlagResult{}, fmt.Errorf("flag: %w: no message or no flag given", ErrUsage)
	}
	serverFlags, err := m.feature(ctx, FeatureServerFlags)
	if err != nil {
		return FlagResult{}, err
	}
	if serverFlags.Supported {
		src, err := m.Source(ctx)
		if err != nil {
			return FlagResult{}, err
		}
		ref, err := m.Ref(ctx, folder)
		if err != nil {
			return FlagResult{}, err
		}
		ref, _ = m.withListed(ctx, ref, ids)
		if err := src.SetFlags(ctx, ref, ids, op, flags); err != nil {
			return FlagResult{}, changeError("flag", ids, err)
		}
		// The cache follows; a message it never saw is fine.
		if err := m.Cache.ChangeFlags(ctx, folder, ids, op, flags); err != nil && !errors.Is(err, ErrNotFound) {
			return FlagResult{}, err
		}
		return FlagResult{}, nil
	}
	entries, err := m.Cache.Entries(ctx, folder)
	if err != nil {
		return FlagResult{}, err
	}
	for _, id := range ids {
		if _, ok := entries[id]; !ok {
			return FlagResult{}, fmt.Errorf("flag %s: %w (not in the cache; run sync first)", id, ErrNotFound)
		}
	}
	if err := m.Cache.ChangeFlags(ctx, folder, ids, op, flags); err != nil {
		return FlagResult{}, fmt.Errorf("flag: %w", err)
	}
	return FlagResult{Local: true, Reason: serverFlags.How}, nil
}

// Delete removes messages without downloading them. On a server that keeps
// mail the server decides (Trash, or expunge) and the cache forgets them.
// Where the cache is the store of record (POP3), the message is deleted on
// the server if still there — the session is ended so the server commits
// it — and then from the cache.
func (m *Mailbox) Delete(ctx context.Context, folder string, ids []string, opts DeleteOptions) (DeleteResult, error) {
	defer m.Opts.Stats.Begin("delete")()
	folder = FolderName(folder)
	if len(ids) == 0 {
		return DeleteResult{}, fmt.Errorf("delete: %w: no message given", ErrUsage)
	}
	src, err := m.Source(ctx)
	if err != nil {
		return DeleteResult{}, err
	}
	if err := m.caps.Require("delete", FeatureDeleteNoDownload); err != nil {
		return DeleteResult{}, err
	}
	ref, err := m.Ref(ctx, folder)
	if err != nil {
		return DeleteResult{}, err
	}
	if m.caps.Has(FeatureMailOnServer) {
		ref, known := m.withListed(ctx, ref, ids)
		acted := m.describe(ctx, src, ref, ids, known)
		res, err := src.Delete(ctx, ref, ids, opts)
		if err != nil {
			return res, changeError("delete", ids, err)
		}
		res.Messages = acted
		if err := m.Cache.Remove(ctx, folder, ids); err != nil {
			return res, err
		}
		return res, nil
	}

	// A sync running meanwhile would store the message again after it is
	// removed here, and it would come back for good.
	unlock, err := m.Cache.Lock(ctx)
	if err != nil {
		return DeleteResult{}, fmt.Errorf("delete: %w", err)
	}
	defer unlock()
	_, items, err := src.Inventory(ctx, ref, InventoryOptions{})
	if err != nil {
		return DeleteResult{}, fmt.Errorf("delete: %w", err)
	}
	entries, err := m.Cache.Entries(ctx, folder)
	if err != nil {
		return DeleteResult{}, err
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	copies, err := m.identify(ctx, src, ref, items, entries, func(e Entry) bool { return want[e.ID] })
	if err != nil {
		return DeleteResult{}, fmt.Errorf("delete: %w", err)
	}
	// IDs are cache keys; the server's copy under the same name is deleted
	// only if it is the stored message (a server ID never stored is taken
	// as given, as shown by list --headers-only).
	serverID := make(map[string]string, len(copies))
	for _, c := range copies {
		if c.cached {
			serverID[c.key] = c.item.ID
		}
	}
	for _, c := range copies {
		if _, stored := entries[c.item.ID]; !stored && serverID[c.item.ID] == "" {
			serverID[c.item.ID] = c.item.ID
		}
	}
	var serverIDs []string
	for _, id := range ids {
		_, cached := entries[id]
		switch {
		case serverID[id] != "":
			serverIDs = append(serverIDs, serverID[id])
		case !cached:
			return DeleteResult{}, fmt.Errorf("delete %s: %w (neither on the server nor in the cache)", id, ErrNotFound)
		}
	}
	res := DeleteResult{Expunged: true, Messages: m.describe(ctx, src, ref, ids, m.cachedEnvelopes(ctx, ref.Name, ids))}
	if len(serverIDs) > 0 {
		r, err := src.Delete(ctx, ref, serverIDs, opts)
		if err != nil {
			return r, fmt.Errorf("delete: %w", err)
		}
		if r.Pending {
			// The Source says whether the deletion is undone or, with
			// the answer to QUIT lost, unknown.
			if err := m.Close(); err != nil {
				return r, fmt.Errorf("delete: %w", err)
			}
		}
	}
	if err := m.Cache.Remove(ctx, folder, ids); err != nil {
		return res, err
	}
	return res, nil
}

// Move moves messages to another folder on the server.
func (m *Mailbox) Move(ctx context.Context, folder string, ids []string, dest string, opts MoveOptions) (MoveResult, error) {
	defer m.Opts.Stats.Begin("move")()
	folder = FolderName(folder)
	if len(ids) == 0 {
		return MoveResult{}, fmt.Errorf("move: %w: no message given", ErrUsage)
	}
	if err := m.require(ctx, "move", FeatureServerMove); err != nil {
		return MoveResult{}, err
	}
	src, err := m.Source(ctx)
	if err != nil {
		return MoveResult{}, err
	}
	ref, err := m.Ref(ctx, folder)
	if err != nil {
		return MoveResult{}, err
	}
	ref, known := m.withListed(ctx, ref, ids)
	acted := m.describe(ctx, src, ref, ids, known)
	moved, err := src.Move(ctx, ref, ids, FolderName(dest), opts)
	if err != nil {
		return MoveResult{}, changeError("move", ids, err)
	}
	for i := range acted {
		acted[i].NewID = moved[acted[i].ID]
	}
	return MoveResult{Messages: acted}, m.Cache.Remove(ctx, folder, ids)
}

// changeError names the command, and for a renumbered folder the IDs
// given too, whose sentence names only the folder.
func changeError(verb string, ids []string, err error) error {
	var stale *StaleIDsError
	if errors.As(err, &stale) {
		return fmt.Errorf("%s %s: %w", verb, idList(ids), err)
	}
	return fmt.Errorf("%s: %w", verb, err)
}

// cachedEnvelopes returns what the cache holds of ids in folder, best
// effort: an ID the cache does not know (or cannot read) is left out.
func (m *Mailbox) cachedEnvelopes(ctx context.Context, folder string, ids []string) map[string]Envelope {
	known := make(map[string]Envelope, len(ids))
	m.Cache.List(ctx, folder, ListOptions{IDs: ids}, func(e Envelope) error {
		known[e.ID] = e
		return nil
	})
	return known
}

// withListed adds to ref what the cache recorded of ids when they were
// listed, so the Source acts only on the messages the user chose; it also
// returns the cached envelopes. Only a Source whose IDs live on the server
// (IMAP UIDs) is handed these: POP3 proves identity its own way (identify).
func (m *Mailbox) withListed(ctx context.Context, ref FolderRef, ids []string) (FolderRef, map[string]Envelope) {
	known := m.cachedEnvelopes(ctx, ref.Name, ids)
	ref.Listed = make(map[string]Identity, len(known))
	for id, e := range known {
		ref.Listed[id] = IdentityOf(e)
	}
	return ref, known
}

// describe names the messages about to be acted on, from known (the
// cache) or else the server's envelopes. It is best effort: an ID neither
// knows is listed bare, and the action itself reports what is missing.
func (m *Mailbox) describe(ctx context.Context, src Source, ref FolderRef, ids []string, known map[string]Envelope) []Acted {
	var rest []string
	for _, id := range ids {
		if _, ok := known[id]; !ok {
			rest = append(rest, id)
		}
	}
	if len(rest) > 0 && m.caps.Has(FeatureHeadersFirst) {
		src.List(ctx, ref, ListOptions{IDs: rest}, func(e Envelope) error {
			known[e.ID] = e
			return nil
		})
	}
	out := make([]Acted, len(ids))
	for i, id := range ids {
		e := known[id]
		out[i] = Acted{ID: id, Subject: e.Subject, From: e.From}
	}
	return out
}
