package client

import (
	"context"
	"fmt"
	"strconv"
)

// FolderCheck is what check reports for one folder.
type FolderCheck struct {
	Account string `json:"account"`
	Folder  string `json:"folder"`
	Total   int    `json:"total"`
	Unseen  int    `json:"unseen"`
	New     int    `json:"new"` // arrived since the last check
}

// CheckState is what check remembers of a folder between runs.
type CheckState struct {
	UIDValidity uint32 `json:"uidvalidity,omitempty"`
	UIDNext     uint32 `json:"uidnext,omitempty"`
	// Known lists the IDs present at the last check, for servers whose IDs
	// carry no order (POP3 UIDLs).
	Known []string `json:"known,omitempty"`
	// Checked is false for a folder never checked before.
	Checked bool `json:"checked"`
}

// Check counts a folder's mail without downloading any. New is what arrived
// since prev; on a first check, it is the unseen mail. A server with
// ordered IDs (UIDNEXT) is asked for its status and, only when UIDNEXT
// moved, for the UIDs above the old one; otherwise the ID list (POP3 UIDL)
// is compared with the previous one and with the cache.
func (m *Mailbox) Check(ctx context.Context, folder string, prev CheckState) (FolderCheck, CheckState, error) {
	defer m.Opts.Stats.Begin("check")()
	folder = FolderName(folder)
	res := FolderCheck{Account: m.Account.Name, Folder: folder}
	src, err := m.Source(ctx)
	if err != nil {
		return res, prev, err
	}
	st, err := src.Status(ctx, folder)
	if err != nil {
		return res, prev, fmt.Errorf("check %s: %w", folder, err)
	}
	res.Total, res.Unseen = st.Messages, st.Unseen
	next := CheckState{Checked: true, UIDValidity: st.UIDValidity, UIDNext: st.UIDNext}

	if st.UIDValidity != 0 && st.UIDNext != 0 && res.Unseen >= 0 {
		switch {
		case !prev.Checked || prev.UIDValidity != st.UIDValidity:
			res.New = res.Unseen
		case st.UIDNext > prev.UIDNext:
			_, items, err := src.Inventory(ctx, FolderRef{Name: folder, UIDValidity: st.UIDValidity}, InventoryOptions{FromUID: prev.UIDNext})
			if err != nil {
				return res, prev, fmt.Errorf("check %s: %w", folder, err)
			}
			for _, it := range items {
				if uid, err := strconv.ParseUint(it.ID, 10, 32); err == nil && uint32(uid) >= prev.UIDNext {
					res.New++
				}
			}
		}
		return res, next, nil
	}

	_, items, err := src.Inventory(ctx, FolderRef{Name: folder}, InventoryOptions{})
	if err != nil {
		return res, prev, fmt.Errorf("check %s: %w", folder, err)
	}
	entries, err := m.Cache.Entries(ctx, folder)
	if err != nil {
		return res, prev, err
	}
	known := make(map[string]bool, len(prev.Known))
	for _, id := range prev.Known {
		known[id] = true
	}
	res.Total, res.Unseen = len(items), 0
	for _, it := range items {
		next.Known = append(next.Known, it.ID)
		e, cached := entries[it.ID]
		unseen := !cached || !HasFlag(e.Flags, FlagSeen)
		if unseen {
			res.Unseen++
		}
		if prev.Checked && !known[it.ID] && !cached || !prev.Checked && unseen {
			res.New++
		}
	}
	return res, next, nil
}
