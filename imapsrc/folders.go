package imapsrc

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/duomail/duomail/client"
)

// Folders lists every selectable folder with its role and counts: one LIST
// with RETURN (STATUS) where the server has LIST-STATUS, else LIST and then
// all STATUS commands pipelined.
func (s *Source) Folders(ctx context.Context) ([]client.Folder, error) {
	var out []client.Folder
	err := s.run(ctx, "list folders", func() error {
		listStatus := s.caps.Has(imap.CapListStatus)
		var opts *imap.ListOptions
		statusOpts := &imap.StatusOptions{NumMessages: true, NumUnseen: true}
		if listStatus {
			opts = &imap.ListOptions{ReturnStatus: statusOpts}
			if s.caps.Has(imap.CapSpecialUse) {
				opts.ReturnSpecialUse = true
			}
		} else if s.caps.Has(imap.CapSpecialUse) && s.caps.Has(imap.CapListExtended) {
			opts = &imap.ListOptions{ReturnSpecialUse: true}
		}
		list, err := s.listAll(opts)
		if err != nil {
			return s.translate("list folders", err)
		}
		var usable []*imap.ListData
		for _, l := range list {
			if hasAttr(l.Attrs, imap.MailboxAttrNoSelect) || hasAttr(l.Attrs, imap.MailboxAttrNonExistent) {
				continue
			}
			usable = append(usable, l)
		}
		roles := s.decideRoles(list)
		if opts != nil && opts.ReturnSpecialUse || !s.caps.Has(imap.CapSpecialUse) {
			s.learnRoles(roles)
		}

		// Without LIST-STATUS (or where the server left a folder out),
		// ask with STATUS, all commands in flight at once.
		pending := make(map[int]*imapclient.StatusCommand)
		for i, l := range usable {
			if l.Status == nil || l.Status.NumMessages == nil {
				pending[i] = s.c.Status(l.Mailbox, statusOpts)
			}
		}
		var firstErr error
		for i, l := range usable {
			f := client.Folder{Name: l.Mailbox, Total: 0, Unseen: -1}
			f.Role, f.RoleGuessed = roles.of(l.Mailbox)
			st := l.Status
			if cmd := pending[i]; cmd != nil {
				data, err := cmd.Wait()
				if err != nil {
					if firstErr == nil {
						firstErr = s.translate("status "+l.Mailbox, err)
					}
					continue
				}
				st = data
			}
			if st != nil && st.NumMessages != nil {
				f.Total = int(*st.NumMessages)
			}
			if st != nil && st.NumUnseen != nil {
				f.Unseen = int(*st.NumUnseen)
			}
			out = append(out, f)
		}
		return firstErr
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		// INBOX first, the rest in the server's order by name.
		ii, ji := out[i].Role == client.RoleInbox, out[j].Role == client.RoleInbox
		if ii != ji {
			return ii
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// roleOf maps RFC 6154 special-use attributes to duomail roles.
func roleOf(l *imap.ListData) string {
	if strings.EqualFold(l.Mailbox, client.Inbox) {
		return client.RoleInbox
	}
	for _, a := range l.Attrs {
		switch imap.MailboxAttr(strings.ToLower(string(a))) {
		case "\\trash":
			return client.RoleTrash
		case "\\sent":
			return client.RoleSent
		case "\\drafts":
			return client.RoleDrafts
		case "\\junk":
			return client.RoleJunk
		case "\\archive":
			return client.RoleArchive
		case "\\all":
			return client.RoleAll
		case "\\flagged":
			return client.RoleFlagged
		}
	}
	return ""
}

// Every folder is opened with a read-write SELECT, never EXAMINE, and
// every read of message text uses BODY.PEEK (as mutt, mbsync and
// Thunderbird do), so opening marks nothing \Seen. Courier and GNU
// Mailutils imap4d save a folder's UID list only when a client SELECTs it
// read-write: after EXAMINE alone they report a new UIDVALIDITY (and
// Mailutils new UIDs for mail still in new/) in every session, so no ID a
// listing showed would still name its message a second later. A folder
// the server will only open read-only ([READ-ONLY] on the SELECT) is read
// as such and refuses changes before anything is sent.

// selectFolder makes name the selected folder. An already selected folder
// is kept; write refuses a folder the server opened read-only.
func (s *Source) selectFolder(op, name string, write bool) error {
	// s.sel, not s.c.Mailbox(): imapclient records the selected mailbox
	// only after Wait has returned, and reselect clears s.sel before
	// every attempt, so a failed SELECT (which leaves nothing selected)
	// is not mistaken for a selection.
	if s.sel.name != name {
		if err := s.reselect(name); err != nil {
			return err
		}
	}
	if write && s.sel.readOnly {
		return fmt.Errorf("%s: %w: the server opens %s read-only for this account ([READ-ONLY] on SELECT); nothing was changed",
			op, client.ErrServer, name)
	}
	return nil
}

func (s *Source) reselect(name string) error {
	s.sel = selection{}
	s.wire.expectSelect()
	data, err := s.c.Select(name, s.selectOptions()).Wait()
	if err != nil {
		err = s.translate("select "+name, err)
		if isNotFound(err) {
			return s.noFolder(name)
		}
		return err
	}
	s.opened(name, data)
	return nil
}

// opened records a successful SELECT of name and says in the --debug
// trace how the folder was opened.
func (s *Source) opened(name string, data *imap.SelectData) {
	readOnly := s.wire.selectedReadOnly()
	s.sel = selection{name: name, readOnly: readOnly, status: statusFromSelect(name, data)}
	if readOnly {
		s.note("imap: open " + name + " read-only: the server answered SELECT with [READ-ONLY], so duomail reads it but changes nothing there, and its UIDs may not be kept")
		return
	}
	s.note("imap: open " + name + " read-write (SELECT; reads use BODY.PEEK) so the server keeps its UIDs")
}

func (s *Source) selectOptions() *imap.SelectOptions {
	return &imap.SelectOptions{CondStore: s.caps.Has(imap.CapCondStore)}
}

func statusFromSelect(name string, d *imap.SelectData) client.FolderStatus {
	return client.FolderStatus{
		Name:          name,
		Messages:      int(d.NumMessages),
		Unseen:        -1,
		UIDValidity:   d.UIDValidity,
		UIDNext:       uint32(d.UIDNext),
		HighestModSeq: d.HighestModSeq,
	}
}

// useRef selects the folder of ref and refuses when its UIDVALIDITY is not
// the one the caller's IDs belong to, before any UID is sent.
func (s *Source) useRef(op string, ref client.FolderRef, write bool) error {
	if err := s.selectFolder(op, ref.Name, write); err != nil {
		return err
	}
	return s.checkValidity(ref)
}

// checkValidity refuses IDs listed under another UIDVALIDITY than the
// selected folder's. The error is a whole sentence on its own: the
// caller's op would add nothing to it.
func (s *Source) checkValidity(ref client.FolderRef) error {
	if ref.UIDValidity != 0 && ref.UIDValidity != s.sel.status.UIDValidity {
		return &client.StaleIDsError{Folder: ref.Name, Listed: ref.UIDValidity, Now: s.sel.status.UIDValidity}
	}
	return nil
}

// Status selects the folder afresh and counts unseen mail with SEARCH,
// pipelined behind the SELECT.
func (s *Source) Status(ctx context.Context, folder string) (client.FolderStatus, error) {
	var st client.FolderStatus
	err := s.run(ctx, "status "+folder, func() error {
		s.sel = selection{}
		s.wire.expectSelect()
		selCmd := s.c.Select(folder, s.selectOptions())
		var searchOpts *imap.SearchOptions
		if s.caps.Has(imap.CapESearch) {
			searchOpts = &imap.SearchOptions{ReturnCount: true}
		}
		searchCmd := s.c.Search(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, searchOpts)
		data, selErr := selCmd.Wait()
		sdata, searchErr := searchCmd.Wait()
		if selErr != nil {
			return s.translate("status "+folder, selErr)
		}
		s.opened(folder, data)
		s.freshAt = s.ops
		if searchErr != nil {
			return s.translate("status "+folder+": search unseen", searchErr)
		}
		st = s.sel.status
		if searchOpts != nil {
			st.Unseen = int(sdata.Count)
		} else {
			st.Unseen = len(sdata.AllSeqNums())
		}
		return nil
	})
	return st, err
}

// Examine implements client.Examiner: a fresh selection and nothing more
// (a SELECT, like every open: see selectFolder).
func (s *Source) Examine(ctx context.Context, folder string) (client.FolderStatus, error) {
	var st client.FolderStatus
	err := s.run(ctx, "status "+folder, func() error {
		if err := s.reselect(folder); err != nil {
			return err
		}
		s.freshAt = s.ops
		st = s.sel.status
		return nil
	})
	return st, err
}

// fresh reports whether the previous operation just selected folder
// (Status, Examine), so its counts and markers are still current.
func (s *Source) fresh(folder string) bool {
	// Not s.c.Mailbox(): imapclient sets it only after Wait has returned.
	return s.freshAt == s.ops-1 && s.sel.name == folder
}

// Inventory lists every message with size and flags: UID FETCH 1:* (UID
// FLAGS RFC822.SIZE), or with CONDSTORE and FlagsChangedSince the full UID
// list from UID SEARCH plus only the changed flags.
func (s *Source) Inventory(ctx context.Context, ref client.FolderRef, opts client.InventoryOptions) (client.FolderStatus, []client.Item, error) {
	var (
		st    client.FolderStatus
		items []client.Item
	)
	op := "inventory " + ref.Name
	err := s.run(ctx, op, func() error {
		// A fresh selection, so counts and markers are current.
		if !s.fresh(ref.Name) {
			if err := s.reselect(ref.Name); err != nil {
				return err
			}
		}
		if err := s.useRef(op, ref, false); err != nil {
			return err
		}
		st = s.sel.status
		if st.Messages == 0 {
			items = []client.Item{}
			st.Unseen = 0
			return nil
		}
		var err error
		if opts.FromUID > 0 {
			items, err = s.inventoryFrom(op, imap.UID(opts.FromUID))
			st.Unseen = -1
		} else if opts.FlagsChangedSince > 0 && s.caps.Has(imap.CapCondStore) {
			items, err = s.inventoryChanged(op, opts.FlagsChangedSince)
			st.Unseen = -1
		} else {
			items, err = s.inventoryFull(op)
			st.Unseen = 0
			for _, it := range items {
				if !client.HasFlag(it.Flags, client.FlagSeen) {
					st.Unseen++
				}
			}
		}
		if mb := s.c.Mailbox(); mb != nil {
			st.Messages = int(mb.NumMessages)
		}
		return err
	})
	if err != nil {
		return client.FolderStatus{}, nil, err
	}
	return st, items, nil
}

var allUIDs = imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}

func (s *Source) inventoryFull(op string) ([]client.Item, error) {
	byUID := make(map[imap.UID]client.Item)
	fetch := func(set imap.UIDSet) error {
		cmd := s.c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true})
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			buf, err := msg.Collect()
			if err != nil {
				cmd.Close()
				return err
			}
			if buf.UID == 0 {
				continue
			}
			byUID[buf.UID] = client.Item{ID: uidString(buf.UID), Size: buf.RFC822Size, Flags: flagsFrom(buf.Flags)}
		}
		return cmd.Close()
	}
	if err := fetch(allUIDs); err != nil {
		return nil, s.translate(op, err)
	}
	// A FETCH response imapclient could not match (items in an unusual
	// order, duplicates) is silently routed elsewhere: compare with the
	// number of messages the server says the folder has, and fetch what
	// is missing by UID.
	if mb := s.c.Mailbox(); mb != nil && int(mb.NumMessages) != len(byUID) {
		uids, err := s.searchUIDs(&imap.SearchCriteria{})
		if err != nil {
			return nil, s.translate(op, err)
		}
		var missing []imap.UID
		for _, u := range uids {
			if _, ok := byUID[u]; !ok {
				missing = append(missing, u)
			}
		}
		if len(missing) > 0 {
			for _, chunk := range chunkUIDs(missing) {
				if err := fetch(chunk); err != nil {
					return nil, s.translate(op, err)
				}
			}
			if err := s.checkMissing(op, missing, func(u imap.UID) bool { _, ok := byUID[u]; return ok }); err != nil {
				return nil, err
			}
		}
	}
	return sortedItems(byUID), nil
}

// inventoryFrom lists the messages with a UID of at least from. "n:*"
// always matches the highest UID, even below n (RFC 3501 6.4.8), so the
// answer is filtered.
func (s *Source) inventoryFrom(op string, from imap.UID) ([]client.Item, error) {
	byUID := make(map[imap.UID]client.Item)
	cmd := s.c.Fetch(imap.UIDSet{imap.UIDRange{Start: from, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		buf, err := msg.Collect()
		if err != nil {
			cmd.Close()
			return nil, s.translate(op, err)
		}
		if buf.UID >= from {
			byUID[buf.UID] = client.Item{ID: uidString(buf.UID), Size: buf.RFC822Size, Flags: flagsFrom(buf.Flags)}
		}
	}
	if err := cmd.Close(); err != nil {
		return nil, s.translate(op, err)
	}
	return sortedItems(byUID), nil
}

func (s *Source) inventoryChanged(op string, since uint64) ([]client.Item, error) {
	uids, err := s.searchUIDs(&imap.SearchCriteria{})
	if err != nil {
		return nil, s.translate(op, err)
	}
	byUID := make(map[imap.UID]client.Item, len(uids))
	for _, u := range uids {
		byUID[u] = client.Item{ID: uidString(u)}
	}
	if len(uids) == 0 {
		return []client.Item{}, nil
	}
	changed, err := s.flagsChangedSince(op, since)
	if err != nil {
		return nil, err
	}
	for u, flags := range changed {
		if it, ok := byUID[u]; ok {
			it.Flags = flags
			byUID[u] = it
		}
	}
	return sortedItems(byUID), nil
}

func sortedItems(byUID map[imap.UID]client.Item) []client.Item {
	uids := make([]imap.UID, 0, len(byUID))
	for u := range byUID {
		uids = append(uids, u)
	}
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	out := make([]client.Item, 0, len(uids))
	for _, u := range uids {
		out = append(out, byUID[u])
	}
	return out
}

// searchUIDs runs UID SEARCH, asking for the compact ESEARCH answer where
// the server has it.
func (s *Source) searchUIDs(criteria *imap.SearchCriteria) ([]imap.UID, error) {
	var opts *imap.SearchOptions
	if s.caps.Has(imap.CapESearch) {
		opts = &imap.SearchOptions{ReturnAll: true}
	}
	data, err := s.c.UIDSearch(criteria, opts).Wait()
	if err != nil {
		return nil, err
	}
	return uidsOf(data.All), nil
}

func uidsOf(set imap.NumSet) []imap.UID {
	switch set := set.(type) {
	case imap.UIDSet:
		uids, _ := set.Nums()
		return uids
	case imap.SeqSet: // a server answering UID SEARCH with the wrong kind
		nums, _ := set.Nums()
		out := make([]imap.UID, len(nums))
		for i, n := range nums {
			out[i] = imap.UID(n)
		}
		return out
	}
	return nil
}

// checkMissing decides about UIDs a FETCH did not deliver even when asked
// again: those the server no longer has are not found; those it still has
// mean the server answered in a way this client cannot match, which must
// fail loudly rather than lose mail silently.
func (s *Source) checkMissing(op string, asked []imap.UID, got func(imap.UID) bool) error {
	var missing []imap.UID
	for _, u := range asked {
		if !got(u) {
			missing = append(missing, u)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	var set imap.UIDSet
	set.AddNum(missing...)
	found, err := s.searchUIDs(&imap.SearchCriteria{UID: []imap.UIDSet{set}})
	if err != nil {
		return s.translate(op, err)
	}
	var exist []imap.UID
	for _, u := range found {
		if set.Contains(u) {
			exist = append(exist, u)
		}
	}
	unfound := missingUIDs(missing, setOf(exist))
	gone, err := s.confirmMissing(unfound)
	if err != nil {
		return s.translate(op, err)
	}
	exist = append(exist, missingUIDs(unfound, setOf(gone))...)
	if len(exist) > 0 {
		return fmt.Errorf("%s: %w: the server did not deliver uid %s in a form this client can match (FETCH items out of order or duplicated)",
			op, client.ErrProtocol, formatUIDs(exist))
	}
	return s.missing(gone)
}

// noFolder explains a folder the server does not have, offering one
// whose name differs only in case: folder names other than INBOX are
// case-sensitive, and "archive" for "Archive" is the usual slip.
func (s *Source) noFolder(name string) error {
	nf := &client.MissingFolderError{Name: name}
	list, lerr := s.c.List("", "*", nil).Collect()
	if lerr != nil {
		return s.translate("list", lerr)
	}
	for _, d := range list {
		if d.Mailbox != name && strings.EqualFold(d.Mailbox, name) {
			nf.Suggest = d.Mailbox
			break
		}
	}
	return nf
}

// missing explains UIDs the selected folder does not have. A UID at or
// above the folder's UIDNEXT was never given to any message, so it was
// mistyped or meant for another folder; a lower one was there once.
func (s *Source) missing(uids []imap.UID) error {
	e := &client.MissingError{Folder: s.sel.name}
	for _, u := range uids {
		id := strconv.FormatUint(uint64(u), 10)
		if next := s.sel.status.UIDNext; next > 0 && uint32(u) >= next {
			e.Never = append(e.Never, id)
		} else {
			e.Gone = append(e.Gone, id)
		}
	}
	return e
}
