package localcache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/duomail/duomail/client"
)

// SetFlags implements client.Cache. IDs the index does not know are
// skipped (the server may report messages not cached yet), and so are nil
// flag lists, which an inventory reports for messages whose flags did not
// change (CONDSTORE) or are not kept on the server; an empty, non-nil list
// clears the flags.
func (c *Cache) SetFlags(ctx context.Context, folder string, flags map[string][]client.Flag) error {
	if len(flags) == 0 {
		return nil
	}
	ids := make([]string, 0, len(flags))
	for id, fl := range flags {
		if fl != nil {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	_, err := c.updateFlags(ctx, folder, ids, func(id string, _ []client.Flag) []client.Flag { return flags[id] })
	if err != nil {
		return fmt.Errorf("store flags in %s: %w", folder, err)
	}
	return nil
}

// ChangeFlags implements client.Cache. Every ID the index knows is
// changed; unknown ones are then reported with an error wrapping
// ErrNotFound (the server may have messages the cache never saw).
func (c *Cache) ChangeFlags(ctx context.Context, folder string, ids []string, op client.FlagOp, flags []client.Flag) error {
	if len(ids) == 0 {
		return nil
	}
	change := func(_ string, old []client.Flag) []client.Flag {
		out := make([]client.Flag, 0, len(old)+len(flags))
		for _, fl := range old {
			if op == client.FlagAdd || !client.HasFlag(flags, fl) {
				out = append(out, fl)
			}
		}
		if op == client.FlagAdd {
			for _, fl := range flags {
				if !client.HasFlag(out, fl) {
					out = append(out, fl)
				}
			}
		}
		return out
	}
	missing, err := c.updateFlags(ctx, folder, ids, change)
	if err == nil && len(missing) > 0 {
		err = fmt.Errorf("%s: %w", strings.Join(missing, ", "), client.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("change flags in %s: %w", folder, err)
	}
	return nil
}

// updateFlags gives each message the flags change returns. What succeeded
// is committed even when some message failed: its file was renamed
// already, and a rollback would leave the index disagreeing with the file
// name. It returns the IDs the index does not know.
func (c *Cache) updateFlags(ctx context.Context, folder string, ids []string, change func(id string, old []client.Flag) []client.Flag) (missing []string, err error) {
	var errs []error
	err = c.write(ctx, func(tx *sql.Tx) error {
		f, ok, err := c.lookupFolder(ctx, tx, folder)
		if err != nil {
			return err
		}
		if !ok {
			missing = ids
			return nil
		}
		u, err := newFlagUpdater(ctx, tx, f)
		if err != nil {
			return err
		}
		defer u.close()
		for _, id := range ids {
			found, err := u.update(ctx, id, func(old []client.Flag) []client.Flag { return change(id, old) })
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("id %s: %w", id, err))
			case !found:
				missing = append(missing, id)
			}
		}
		return nil
	})
	return missing, errors.Join(append(errs, err)...)
}

// flagUpdater rewrites the flags of messages in one folder: index row and
// Maildir file name together, inside the caller's write transaction, so
// recovery in another process never sees one without the other.
type flagUpdater struct {
	f        folderRow
	sel, upd *sql.Stmt
}

func newFlagUpdater(ctx context.Context, tx *sql.Tx, f folderRow) (*flagUpdater, error) {
	sel, err := tx.PrepareContext(ctx, `SELECT flags, body_path FROM messages WHERE folder_id = ? AND uidvalidity = ? AND id = ?`)
	if err != nil {
		return nil, err
	}
	upd, err := tx.PrepareContext(ctx, `UPDATE messages SET flags = ?, seen = ?, body_path = ? WHERE folder_id = ? AND uidvalidity = ? AND id = ?`)
	if err != nil {
		sel.Close()
		return nil, err
	}
	return &flagUpdater{f: f, sel: sel, upd: upd}, nil
}

func (u *flagUpdater) close() {
	u.sel.Close()
	u.upd.Close()
}

func (u *flagUpdater) update(ctx context.Context, id string, change func([]client.Flag) []client.Flag) (found bool, err error) {
	var old, path string
	err = u.sel.QueryRowContext(ctx, u.f.id, int64(u.f.uidValidity), id).Scan(&old, &path)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	oldFlags := parseFlags(old)
	if path != "" {
		// Another tool may have renamed the file since the index saw it:
		// its letters are the flags to change from, or the rename below
		// would undo what the user did there.
		ref := fileRef{u.f.uidValidity, id, path}
		if cur, err := locateFlags(u.f.path, ref, nil, true); err == nil && cur != "" && cur != path {
			oldFlags, path = mergeLetters(oldFlags, cur), cur
		}
	}
	flags := change(oldFlags)
	if path != "" {
		if path, err = renameForFlags(u.f.path, fileRef{u.f.uidValidity, id, path}, flags); err != nil {
			return true, err
		}
	}
	_, err = u.upd.ExecContext(ctx, formatFlags(flags), client.HasFlag(flags, client.FlagSeen), path, u.f.id, int64(u.f.uidValidity), id)
	return true, err
}

// renameForFlags gives a message file the info letters of flags, moving it
// from new/ to cur/ when it gets any, and returns its new location. A file
// that has vanished keeps its recorded path: recovery deals with it.
func renameForFlags(mdir string, r fileRef, flags []client.Flag) (string, error) {
	for try := 0; try < 2; try++ {
		cur, err := locate(mdir, r)
		if err != nil {
			return r.path, err
		}
		if cur == "" {
			return r.path, nil
		}
		want := bodyPath(r.key(), flags, cur)
		if want == cur {
			return cur, nil
		}
		err = os.Rename(filepath.Join(mdir, cur), filepath.Join(mdir, want))
		if err == nil {
			return want, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return r.path, fmt.Errorf("rename message file: %w", err)
		}
		r.path = "" // renamed under us: look again
	}
	return r.path, nil
}
