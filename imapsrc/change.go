package imapsrc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
)

// Delete moves messages to the Trash folder, or with opts.Expunge (or
// without a Trash folder, or inside Trash) flags them \Deleted and removes
// exactly them: with UID EXPUNGE where the server has UIDPLUS, else with a
// plain EXPUNGE only once UID SEARCH DELETED showed that nothing else would
// go with them (see plainExpunge).
func (s *Source) Delete(ctx context.Context, ref client.FolderRef, ids []string, opts client.DeleteOptions) (client.DeleteResult, error) {
	op := "delete from " + ref.Name
	uids, err := parseIDs(op, ids)
	if err != nil || len(uids) == 0 {
		return client.DeleteResult{}, err
	}
	if !opts.Expunge {
		if err := s.ResolveRoles(ctx); err != nil {
			return client.DeleteResult{}, err
		}
	}
	for retried := false; !opts.Expunge && s.trash != "" && !sameFolder(ref.Name, s.trash); retried = true {
		res := client.DeleteResult{MovedTo: s.trash}
		err := s.run(ctx, op, func() error {
			var err error
			_, res.OthersExpunged, err = s.move(op, ref, uids, s.trash, opts.ExpungeOthers)
			return err
		})
		if err == nil {
			return res, nil
		}
		var (
			missing *client.MissingError
			refused *client.ServerError
		)
		if retried || !errors.As(err, &refused) || errors.As(err, &missing) || s.broken != nil {
			return client.DeleteResult{}, err
		}
		// The server refused the move: the remembered Trash may be gone
		// (renamed, deleted). Look again, and try once more if the
		// server has another one.
		gone := s.trash
		s.forgetRoles()
		if rerr := s.ResolveRoles(ctx); rerr != nil {
			return client.DeleteResult{}, errors.Join(err, rerr)
		}
		if s.trash == "" || s.trash == gone {
			return client.DeleteResult{}, err
		}
	}
	res := client.DeleteResult{Expunged: true}
	err = s.run(ctx, op, func() error {
		if err := s.openTargets(op, ref, uids); err != nil {
			return err
		}
		if s.caps.Has(imap.CapUIDPlus) {
			return s.expunge(op, uids)
		}
		others, err := s.plainExpunge(op, ref.Name, uids, opts.ExpungeOthers, nil)
		res.OthersExpunged = others
		return err
	})
	if err != nil {
		return client.DeleteResult{}, err
	}
	return res, nil
}

// expunge flags the UIDs \Deleted and, once the server confirmed that,
// removes exactly them with UID EXPUNGE (UIDPLUS).
func (s *Source) expunge(op string, uids []imap.UID) error {
	if err := s.storeDeleted(op, uids, imap.StoreFlagsAdd); err != nil {
		return err
	}
	for _, set := range chunkUIDs(uids) {
		if err := s.c.UIDExpunge(set).Close(); err != nil {
			return s.translate(op+": uid expunge", err)
		}
	}
	return nil
}

func (s *Source) storeDeleted(op string, uids []imap.UID, how imap.StoreFlagsOp) error {
	for _, set := range chunkUIDs(uids) {
		store := s.c.Store(set, &imap.StoreFlags{Op: how, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil)
		if err := store.Close(); err != nil {
			return s.translate(op+": store \\Deleted", err)
		}
	}
	return nil
}

// deletedUIDs returns the messages of the selected folder that carry
// \Deleted.
func (s *Source) deletedUIDs(op string) ([]imap.UID, error) {
	flagged, err := s.searchUIDs(&imap.SearchCriteria{Flag: []imap.Flag{imap.FlagDeleted}})
	if err != nil {
		return nil, s.translate(op+": search deleted", err)
	}
	return flagged, nil
}

// othersDeleted returns the messages of the selected folder, other than
// uids, that carry \Deleted: what a plain EXPUNGE would remove besides.
func (s *Source) othersDeleted(op string, uids []imap.UID) ([]imap.UID, error) {
	flagged, err := s.deletedUIDs(op)
	if err != nil {
		return nil, err
	}
	return missingUIDs(flagged, setOf(uids)), nil
}

// deletedBefore reads, before anything is changed, which messages of the
// selected folder carry \Deleted, and refuses (unless allowOthers) when a
// plain EXPUNGE of uids would take others along. The list it returns is
// never nil, so plainExpunge can tell it was read.
func (s *Source) deletedBefore(op, folder string, uids []imap.UID, allowOthers bool) ([]imap.UID, error) {
	flagged, err := s.deletedUIDs(op)
	if err != nil {
		return nil, err
	}
	if others := missingUIDs(flagged, setOf(uids)); len(others) > 0 && !allowOthers {
		return nil, refuseOthers(op, folder, others, "")
	}
	if flagged == nil {
		flagged = []imap.UID{}
	}
	return flagged, nil
}

// refuseOthers is the error for a plain EXPUNGE that would take others'
// \Deleted mail along; done says what already happened ("" for nothing).
func refuseOthers(op, folder string, others []imap.UID, done string) error {
	n := len(others)
	what := fmt.Sprintf("%d other messages in %s carry", n, folder)
	if n == 1 {
		what = fmt.Sprintf("1 other message in %s carries", folder)
	}
	if done == "" {
		done = "nothing was changed"
	}
	return client.Unsupported(op, fmt.Sprintf("%s \\Deleted (uid %s, flagged by another client?) and the server lacks UIDPLUS, "+
		"so EXPUNGE would remove them too; %s (--expunge-others removes them as well)", what, formatUIDs(others), done))
}

// plainExpunge removes uids from the selected folder on a server without
// UIDPLUS, whose EXPUNGE removes every message carrying \Deleted. It is
// done only when that can be shown to remove exactly uids (plus the
// others already flagged, when allowOthers): the others are looked for
// before anything is changed and again after STORE, just before EXPUNGE;
// afterwards the folder is listed again to prove which messages went. It
// returns how many of the removed messages were others. flagged is the
// folder's \Deleted list as deletedBefore read it; nil means the caller
// has not read it yet. It also says which of uids were \Deleted already,
// to leave them so if the flag is taken back: read off that list rather
// than asked with a UID search key, which GNU Mailutils (3.15) matches
// against message numbers.
func (s *Source) plainExpunge(op, folder string, uids []imap.UID, allowOthers bool, flagged []imap.UID) (int, error) {
	if flagged == nil {
		var err error
		if flagged, err = s.deletedBefore(op, folder, uids, allowOthers); err != nil {
			return 0, err
		}
	}
	// Sequence numbers follow UID order, so this list, read before
	// EXPUNGE, turns the EXPUNGE responses back into UIDs.
	before, err := s.searchUIDs(&imap.SearchCriteria{})
	if err != nil {
		return 0, s.translate(op+": search", err)
	}
	sort.Slice(before, func(i, j int) bool { return before[i] < before[j] })
	if err := s.storeDeleted(op, uids, imap.StoreFlagsAdd); err != nil {
		return 0, err
	}
	// Another client may have flagged mail since the first look.
	now, err := s.othersDeleted(op, uids)
	if err != nil {
		return 0, err
	}
	if len(now) > 0 && !allowOthers {
		undo := missingUIDs(uids, setOf(flagged))
		if err := s.storeDeleted(op, undo, imap.StoreFlagsDel); err != nil {
			return 0, fmt.Errorf("%w (while taking back \\Deleted from uid %s after finding others flagged)", err, formatUIDs(undo))
		}
		return 0, refuseOthers(op, folder, now, "\\Deleted was taken back and nothing was removed")
	}
	cmd := s.c.Expunge()
	seqs, err := cmd.Collect()
	if err != nil {
		return 0, s.translate(op+": expunge", err)
	}
	after, err := s.searchUIDs(&imap.SearchCriteria{})
	if err != nil {
		return 0, s.translate(op+": search after expunge", err)
	}
	return checkExpunged(op, folder, uids, now, before, seqs, after)
}

// checkExpunged compares what EXPUNGE removed with what was meant to go:
// uids and the others allowed along. The listings before and after say
// what is gone; the EXPUNGE responses, turned back into UIDs, must say the
// same.
func checkExpunged(op, folder string, uids, others, before []imap.UID, seqs []uint32, after []imap.UID) (int, error) {
	want := setOf(uids)
	for _, u := range others {
		want[u] = true
	}
	left := setOf(after)
	var stayed, gone, extra []imap.UID
	for _, u := range uids {
		if left[u] {
			stayed = append(stayed, u)
		}
	}
	for _, u := range before {
		if !left[u] {
			gone = append(gone, u)
			if !want[u] {
				extra = append(extra, u)
			}
		}
	}
	switch {
	case len(extra) > 0:
		return 0, fmt.Errorf("%s: EXPUNGE also removed uid %s from %s, which was not asked for (flagged \\Deleted or expunged by another client meanwhile)",
			op, formatUIDs(extra), folder)
	case len(stayed) > 0:
		return 0, fmt.Errorf("%s: uid %s still in %s after EXPUNGE (another client took \\Deleted away meanwhile?)", op, formatUIDs(stayed), folder)
	}
	// Each EXPUNGE response numbers the folder as it is after the ones
	// before it.
	seq := append([]imap.UID(nil), before...)
	var responded []imap.UID
	for _, n := range seqs {
		if n == 0 || int(n) > len(seq) {
			return 0, fmt.Errorf("%s: %w: EXPUNGE response for message %d, but %s had %d messages", op, client.ErrProtocol, n, folder, len(before))
		}
		responded = append(responded, seq[n-1])
		seq = append(seq[:n-1], seq[n:]...)
	}
	sort.Slice(responded, func(i, j int) bool { return responded[i] < responded[j] })
	if !slices.Equal(responded, gone) {
		return 0, fmt.Errorf("%s: %w: the EXPUNGE responses name uid %s, but uid %s are gone from %s",
			op, client.ErrProtocol, formatUIDs(responded), formatUIDs(gone), folder)
	}
	n := 0
	for _, u := range others {
		if !left[u] {
			n++
		}
	}
	return n, nil
}

func setOf(uids []imap.UID) map[imap.UID]bool {
	m := make(map[imap.UID]bool, len(uids))
	for _, u := range uids {
		m[u] = true
	}
	return m
}

// Move moves messages to dest: UID MOVE where the server has MOVE, else
// UID COPY and, only after the copy succeeded, \Deleted + UID EXPUNGE of
// exactly those UIDs, or on a server without UIDPLUS the guarded plain
// EXPUNGE of plainExpunge. (imapclient's own fallback would flag and
// expunge even after a failed COPY, and with an unguarded EXPUNGE.)
func (s *Source) Move(ctx context.Context, ref client.FolderRef, ids []string, dest string, opts client.MoveOptions) (map[string]string, error) {
	op := "move from " + ref.Name + " to " + dest
	uids, err := parseIDs(op, ids)
	if err != nil || len(uids) == 0 {
		return nil, err
	}
	if sameFolder(ref.Name, dest) {
		return nil, fmt.Errorf("%s: %w: source and destination are the same folder", op, client.ErrUsage)
	}
	var moved map[string]string
	err = s.run(ctx, op, func() error {
		var err error
		moved, _, err = s.move(op, ref, uids, dest, opts.ExpungeOthers)
		return err
	})
	return moved, err
}

// move returns the new UIDs the server reported (COPYUID), by old UID,
// and how many messages besides uids a plain EXPUNGE removed.
func (s *Source) move(op string, ref client.FolderRef, uids []imap.UID, dest string, allowOthers bool) (map[string]string, int, error) {
	if err := s.openTargets(op, ref, uids); err != nil {
		return nil, 0, err
	}
	moved := map[string]string{}
	sets := chunkUIDs(uids)
	if s.caps.Has(imap.CapMove) {
		for _, set := range sets {
			data, err := s.c.Move(set, dest).Wait()
			if err != nil {
				return moved, 0, s.translate(op, err)
			}
			if data != nil {
				src, _ := data.SourceUIDs.(imap.UIDSet)
				dst, _ := data.DestUIDs.(imap.UIDSet)
				pairUIDs(moved, src, dst)
			}
		}
		return moved, 0, nil
	}
	uidplus := s.caps.Has(imap.CapUIDPlus)
	var flagged []imap.UID
	if !uidplus {
		// Refused before the copy, so a refusal leaves no duplicates.
		var err error
		if flagged, err = s.deletedBefore(op, ref.Name, uids, allowOthers); err != nil {
			return nil, 0, err
		}
	}
	for _, set := range sets {
		data, err := s.c.Copy(set, dest).Wait()
		if err != nil {
			return nil, 0, fmt.Errorf("%w; nothing was moved", s.translate(op+": copy", err))
		}
		if data != nil {
			pairUIDs(moved, data.SourceUIDs, data.DestUIDs)
		}
	}
	var (
		n   int
		err error
	)
	if uidplus {
		err = s.expunge(op, uids)
	} else {
		n, err = s.plainExpunge(op, ref.Name, uids, allowOthers, flagged)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%w (the messages were copied to %s; the originals may remain in %s)", err, dest, ref.Name)
	}
	return moved, n, nil
}

// pairUIDs records COPYUID's answer: the n-th source UID became the n-th
// destination UID (RFC 4315). Sets that do not pair up are ignored.
func pairUIDs(into map[string]string, src, dst imap.UIDSet) {
	from, ok1 := src.Nums()
	to, ok2 := dst.Nums()
	if !ok1 || !ok2 || len(from) != len(to) {
		return
	}
	for i := range from {
		into[uidString(from[i])] = uidString(to[i])
	}
}

// SetFlags adds or removes flags with UID STORE +FLAGS.SILENT/-FLAGS.SILENT.
func (s *Source) SetFlags(ctx context.Context, ref client.FolderRef, ids []string, op client.FlagOp, flags []client.Flag) error {
	name := "store flags in " + ref.Name
	uids, err := parseIDs(name, ids)
	if err != nil {
		return err
	}
	iflags, err := imapFlags(name, flags)
	if err != nil || len(uids) == 0 || len(iflags) == 0 {
		return err
	}
	storeOp := imap.StoreFlagsAdd
	if op == client.FlagRemove {
		storeOp = imap.StoreFlagsDel
	}
	return s.run(ctx, name, func() error {
		if err := s.openTargets(name, ref, uids); err != nil {
			return err
		}
		for _, set := range chunkUIDs(uids) {
			cmd := s.c.Store(set, &imap.StoreFlags{Op: storeOp, Silent: true, Flags: iflags}, nil)
			if err := cmd.Close(); err != nil {
				return s.translate(name, err)
			}
		}
		return nil
	})
}

// requireExisting fails with ErrNotFound, before anything changes, when a
// UID is not in the selected folder: IMAP silently ignores such UIDs in
// STORE, COPY and MOVE, so the user would be told a change happened that
// did not.
func (s *Source) requireExisting(op string, uids []imap.UID) error {
	found := make(map[imap.UID]bool, len(uids))
	for _, set := range chunkUIDs(uids) {
		got, err := s.searchUIDs(&imap.SearchCriteria{UID: []imap.UIDSet{set}})
		if err != nil {
			return s.translate(op, err)
		}
		for _, u := range got {
			found[u] = true
		}
	}
	gone, err := s.confirmMissing(missingUIDs(uids, found))
	if err != nil {
		return s.translate(op, err)
	}
	if len(gone) > 0 {
		return s.missing(gone)
	}
	return nil
}

// sameFolder compares folder names; INBOX is case-insensitive (RFC 3501 5.1).
func sameFolder(a, b string) bool {
	if strings.EqualFold(a, client.Inbox) {
		return strings.EqualFold(b, client.Inbox)
	}
	return a == b
}
