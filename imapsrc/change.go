package imapsrc

import (
	"context"
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
)

const noUIDPlusReason = "server lacks UIDPLUS; a plain EXPUNGE would also remove other clients' \\Deleted mail"

// Delete moves messages to the Trash folder, or with opts.Expunge (or
// without a Trash folder, or inside Trash) flags them \Deleted and removes
// exactly them with UID EXPUNGE. A plain EXPUNGE is never sent.
func (s *Source) Delete(ctx context.Context, ref client.FolderRef, ids []string, opts client.DeleteOptions) (client.DeleteResult, error) {
	op := "delete from " + ref.Name
	uids, err := parseIDs(op, ids)
	if err != nil || len(uids) == 0 {
		return client.DeleteResult{}, err
	}
	if !opts.Expunge && s.trash != "" && !sameFolder(ref.Name, s.trash) {
		err := s.run(ctx, op, func() error { return s.move(op, ref, uids, s.trash) })
		if err != nil {
			return client.DeleteResult{}, err
		}
		return client.DeleteResult{MovedTo: s.trash}, nil
	}
	if !s.caps.Has(imap.CapUIDPlus) {
		if opts.Expunge {
			return client.DeleteResult{}, client.Unsupported("delete --expunge", noUIDPlusReason)
		}
		return client.DeleteResult{}, client.Unsupported("delete", "no Trash folder to move to, and the "+noUIDPlusReason)
	}
	err = s.run(ctx, op, func() error {
		if err := s.useRef(op, ref, true); err != nil {
			return err
		}
		if err := s.requireExisting(op, uids); err != nil {
			return err
		}
		return s.expunge(op, uids)
	})
	if err != nil {
		return client.DeleteResult{}, err
	}
	return client.DeleteResult{Expunged: true}, nil
}

// expunge flags the UIDs \Deleted and, once the server confirmed that,
// removes exactly them with UID EXPUNGE (UIDPLUS).
func (s *Source) expunge(op string, uids []imap.UID) error {
	sets := chunkUIDs(uids)
	for _, set := range sets {
		store := s.c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil)
		if err := store.Close(); err != nil {
			return s.translate(op+": store \\Deleted", err)
		}
	}
	for _, set := range sets {
		if err := s.c.UIDExpunge(set).Close(); err != nil {
			return s.translate(op+": uid expunge", err)
		}
	}
	return nil
}

// Move moves messages to dest: UID MOVE where the server has MOVE, else
// UID COPY and, only after the copy succeeded, \Deleted + UID EXPUNGE of
// exactly those UIDs. (imapclient's own fallback would flag and expunge
// even after a failed COPY, and with a plain EXPUNGE.)
func (s *Source) Move(ctx context.Context, ref client.FolderRef, ids []string, dest string) error {
	op := "move from " + ref.Name + " to " + dest
	uids, err := parseIDs(op, ids)
	if err != nil || len(uids) == 0 {
		return err
	}
	if sameFolder(ref.Name, dest) {
		return fmt.Errorf("%s: %w: source and destination are the same folder", op, client.ErrUsage)
	}
	return s.run(ctx, op, func() error { return s.move(op, ref, uids, dest) })
}

func (s *Source) move(op string, ref client.FolderRef, uids []imap.UID, dest string) error {
	if err := s.useRef(op, ref, true); err != nil {
		return err
	}
	if err := s.requireExisting(op, uids); err != nil {
		return err
	}
	sets := chunkUIDs(uids)
	if s.caps.Has(imap.CapMove) {
		for _, set := range sets {
			if _, err := s.c.Move(set, dest).Wait(); err != nil {
				return s.translate(op, err)
			}
		}
		return nil
	}
	for _, set := range sets {
		if _, err := s.c.Copy(set, dest).Wait(); err != nil {
			return fmt.Errorf("%w; nothing was moved", s.translate(op+": copy", err))
		}
	}
	if !s.caps.Has(imap.CapUIDPlus) {
		return fmt.Errorf("%s: %w: copied to %s, but the originals remain in %s (not flagged \\Deleted): the server lacks MOVE and UIDPLUS, and a plain EXPUNGE would also remove other clients' \\Deleted mail",
			op, client.ErrUnsupported, dest, ref.Name)
	}
	if err := s.expunge(op, uids); err != nil {
		return fmt.Errorf("%w (the messages were copied to %s; the originals may remain in %s)", err, dest, ref.Name)
	}
	return nil
}

// SetFlags adds or removes flags with UID STORE +FLAGS.SILENT/-FLAGS.SILENT.
func (s *Source) SetFlags(ctx context.Context, ref client.FolderRef, ids []string, op client.FlagOp, flags []client.Flag) error {
	name := "flag in " + ref.Name
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
		if err := s.useRef(name, ref, true); err != nil {
			return err
		}
		if err := s.requireExisting(name, uids); err != nil {
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
	if missing := missingUIDs(uids, found); len(missing) > 0 {
		return fmt.Errorf("%s: uid %s: %w", op, formatUIDs(missing), client.ErrNotFound)
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
