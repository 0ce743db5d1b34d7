package imapsrc

import (
	"context"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
)

var _ client.ChangeReader = (*Source)(nil)

// Changes implements client.ChangeReader with at most three commands, none
// of which walks the whole folder unless mail vanished: UID FETCH
// UIDNEXT:* for new mail, FETCH CHANGEDSINCE for flags (only when the
// HIGHESTMODSEQ moved), and UID SEARCH ALL (compact with ESEARCH) only when
// the message count says something was expunged.
func (s *Source) Changes(ctx context.Context, ref client.FolderRef, since client.SyncState, st client.FolderStatus) (client.Changes, error) {
	var ch client.Changes
	op := "changes in " + ref.Name
	err := s.run(ctx, op, func() error {
		if !s.fresh(ref.Name) {
			if err := s.reselect(ref.Name); err != nil {
				return err
			}
		}
		if err := s.useRef(op, ref, false); err != nil {
			return err
		}
		cur := s.sel.status
		if mb := s.c.Mailbox(); mb != nil {
			cur.Messages = int(mb.NumMessages)
		}
		if cur.Messages == 0 {
			ch.All = []string{}
			return nil
		}
		var err error
		if since.UIDNext == 0 || cur.UIDNext == 0 || cur.UIDNext > since.UIDNext {
			from := max(since.UIDNext, 1)
			if ch.New, err = s.inventoryFrom(op, imap.UID(from)); err != nil {
				return err
			}
		}
		if s.caps.Has(imap.CapCondStore) && cur.HighestModSeq != since.HighestModSeq {
			if ch.Flags, err = s.changedFlags(op, since.HighestModSeq, imap.UID(since.UIDNext)); err != nil {
				return err
			}
		}
		if cur.Messages-len(ch.New) != since.Messages {
			uids, err := s.searchUIDs(&imap.SearchCriteria{})
			if err != nil {
				return s.translate(op, err)
			}
			ch.All = make([]string, len(uids))
			for i, u := range uids {
				ch.All[i] = uidString(u)
			}
		}
		return nil
	})
	return ch, err
}

// changedFlags fetches the flags of messages below before whose mod-sequence
// is above since.
func (s *Source) changedFlags(op string, since uint64, before imap.UID) ([]client.Item, error) {
	changed, err := s.flagsChangedSince(op, since)
	if err != nil {
		return nil, err
	}
	byUID := make(map[imap.UID]client.Item, len(changed))
	for u, flags := range changed {
		if before == 0 || u < before {
			byUID[u] = client.Item{ID: uidString(u), Flags: flags}
		}
	}
	return sortedItems(byUID), nil
}

// flagsChangedSince is one FETCH (FLAGS) CHANGEDSINCE over the folder: the
// flags of every message whose mod-sequence is above since.
func (s *Source) flagsChangedSince(op string, since uint64) (map[imap.UID][]client.Flag, error) {
	changed := make(map[imap.UID][]client.Flag)
	cmd := s.c.Fetch(allUIDs, &imap.FetchOptions{UID: true, Flags: true, ChangedSince: since})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf, err := msg.Collect()
		if err != nil {
			cmd.Close()
			return nil, s.translate(op, err)
		}
		if buf.UID != 0 {
			changed[buf.UID] = flagsFrom(buf.Flags)
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, s.translate(op, err)
	}
	return changed, nil
}
