package localcache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
)

// recover repairs what an interrupted run left behind, in one write
// transaction (so no other duomail process renames or records anything
// meanwhile). The caller holds the sync lock, so no other process is in the
// middle of a Batch whose temporary files it would remove.
//
// Per folder Maildir it:
//   - removes duomail's files in tmp/ (a Batch never committed: the
//     server still has those messages);
//   - adopts files in new/ and cur/ whose rows were never written (a
//     crash between the renames and the index commit), parsing their
//     envelopes, or re-attaches them to an envelope-only row;
//   - removes a second copy of the same message, and files of an old
//     IMAP UIDVALIDITY (an interrupted Reset);
//   - takes the flags in the names of files another tool renamed (mutt
//     marking a message seen moves "new/K" to "cur/K:2,S") into the index;
//     in an IMAP folder it also makes the next sync fetch every flag again,
//     so the server's flags win and the files are renamed back to them;
//   - forgets bodies whose files are gone (deleted by another tool, or an
//     interrupted Remove): the row stays as an envelope while the message
//     is on the server, and is marked lost when it is not, so that it is
//     no longer listed and the next sync tells the user (client.Entry.Lost);
//   - records the times of cur/ and new/, which let the next comparison be
//     skipped when nothing changed (see outsideChanges).
//
// A folder whose Maildir (or its cur/ or new/) is missing is left alone:
// that looks like a moved or unmounted directory, not lost mail.
//
// Comparing a Maildir with the index reads its directories and every row
// of the folder (BenchmarkRecovery measures it), too much for every
// command. So unless full is set, only folders with signs of an
// interrupted write or of another program's work are compared: duomail
// files in tmp/ (an unfinished Batch, or the marker that Commit keeps
// there while it renames), a Maildir without a folder row (a lost index),
// or cur/ or new/ changed since the last comparison. After a lock holder
// stopped uncleanly (see uncleanName), everything is compared.
//
// wait says whether to wait for another connection's write; a reading
// command must not stall behind another process's write.
func (c *Cache) recover(ctx context.Context, full, wait bool) error {
	needs := func(f folderRow) bool {
		if full || f.discovered {
			return true
		}
		if st, err := readStamp(f.path); err != nil || st.proves(f.stamp) {
			dirty, err := hasDuomailFiles(filepath.Join(f.path, "tmp"))
			return err == nil && dirty // an error: no Maildir to repair
		}
		return true
	}
	if !full {
		// Look before taking the write lock, which would make every
		// command wait for a writing process.
		folders, err := c.recoveryFolders(ctx, c.db, nil)
		if err != nil {
			return fmt.Errorf("recover cache: %w", err)
		}
		if !slices.ContainsFunc(folders, needs) {
			return nil
		}
	}
	write := c.write
	if !wait {
		write = c.writeNoWait
	}
	err := write(ctx, func(tx *sql.Tx) error {
		folders, err := c.recoveryFolders(ctx, tx, tx)
		if err != nil {
			return err
		}
		for _, f := range folders {
			if !needs(f) {
				continue
			}
			if err := c.recoverFolder(ctx, tx, f); err != nil {
				return fmt.Errorf("folder %s: %w", f.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover cache: %w", err)
	}
	return nil
}

// recoveryFolders lists the folders the index knows plus Maildirs on disk
// it does not (its rows were lost), creating rows for the latter when tx
// is not nil.
func (c *Cache) recoveryFolders(ctx context.Context, q querier, tx *sql.Tx) ([]folderRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name, uidvalidity, cur_mtime, new_mtime FROM folders`)
	if err != nil {
		return nil, err
	}
	var out []folderRow
	known := map[string]bool{}
	for rows.Next() {
		var f folderRow
		var v int64
		if err := rows.Scan(&f.id, &f.name, &v, &f.stamp.cur, &f.stamp.new); err != nil {
			rows.Close()
			return nil, err
		}
		f.uidValidity = uint32(v)
		if f.path, err = c.maildir(f.name); err != nil {
			continue // cannot have been stored
		}
		known[f.name] = true
		out = append(out, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		name, ok := DecodeFolder(e.Name())
		if !ok || !e.IsDir() || known[name] {
			continue
		}
		if fi, err := os.Stat(filepath.Join(c.dir, e.Name(), "cur")); err != nil || !fi.IsDir() {
			continue
		}
		f := folderRow{name: name, path: filepath.Join(c.dir, e.Name())}
		if tx != nil {
			if f, err = c.ensureFolder(ctx, tx, name); err != nil {
				return nil, err
			}
		}
		f.discovered = true
		out = append(out, f)
	}
	return out, nil
}

// recoveryRow is what recovery needs of an index row.
type recoveryRow struct {
	fileRef
	flags    string
	onServer bool
}

func (c *Cache) recoverFolder(ctx context.Context, tx *sql.Tx, f folderRow) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if fi, err := os.Stat(filepath.Join(f.path, sub)); err != nil || !fi.IsDir() {
			return nil
		}
	}
	// Taken before the directories are read: a change made while they
	// are makes the recorded stamp differ, never match.
	start := time.Now()
	stamp, err := readStamp(f.path)
	if err != nil {
		return err
	}
	tmpNames, err := readNames(filepath.Join(f.path, "tmp"))
	if err != nil {
		return err
	}
	for _, n := range tmpNames {
		if strings.HasPrefix(n, keyPrefix) {
			if err := os.Remove(filepath.Join(f.path, "tmp", n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}

	// Every duomail file in the Maildir, by key. Of two copies, the one the
	// index points to is kept, else the one in cur/ (listed first).
	files := map[string][]string{}
	for _, sub := range []string{"cur", "new"} {
		names, err := readNames(filepath.Join(f.path, sub))
		if err != nil {
			return err
		}
		for _, n := range names {
			if key, _, _, ok := parseFileName(n); ok {
				files[key] = append(files[key], sub+"/"+n)
			}
		}
	}

	rows, err := tx.QueryContext(ctx, `SELECT uidvalidity, id, body_path, flags, on_server FROM messages WHERE folder_id = ?`, f.id)
	if err != nil {
		return err
	}
	byKey := map[string]*recoveryRow{}
	for rows.Next() {
		r := &recoveryRow{}
		var v int64
		if err := rows.Scan(&v, &r.id, &r.path, &r.flags, &r.onServer); err != nil {
			rows.Close()
			return err
		}
		r.uidValidity = uint32(v)
		byKey[r.key()] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	setPath, err := tx.PrepareContext(ctx, `UPDATE messages SET body_path = ? WHERE folder_id = ? AND uidvalidity = ? AND id = ?`)
	if err != nil {
		return err
	}
	defer setPath.Close()
	setPathFlags, err := tx.PrepareContext(ctx, `UPDATE messages SET body_path = ?, flags = ?, seen = ? WHERE folder_id = ? AND uidvalidity = ? AND id = ?`)
	if err != nil {
		return err
	}
	defer setPathFlags.Close()
	// renamed takes the flags of a file that another tool renamed.
	refetchFlags := false
	renamed := func(r *recoveryRow, p string) error {
		old := parseFlags(r.flags)
		flags := mergeLetters(old, p)
		if sameFlagSet(flags, old) {
			_, err := setPath.ExecContext(ctx, p, f.id, int64(r.uidValidity), r.id)
			return err
		}
		if r.uidValidity != 0 && r.uidValidity == f.uidValidity {
			refetchFlags = true
		}
		_, err := setPathFlags.ExecContext(ctx, p, formatFlags(flags), client.HasFlag(flags, client.FlagSeen), f.id, int64(r.uidValidity), r.id)
		return err
	}

	var orphans []adoptee
	for key, paths := range files {
		r := byKey[key]
		keep := paths[0]
		if r != nil && slices.Contains(paths, r.path) {
			keep = r.path
		}
		for _, p := range paths {
			if p != keep {
				if err := os.Remove(filepath.Join(f.path, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
		}
		switch {
		case r != nil && r.path == keep:
		case r != nil && r.path != "":
			// Renamed by another tool (flags, new/ to cur/).
			if err := renamed(r, keep); err != nil {
				return err
			}
		default:
			_, v, id, _ := parseFileName(path.Base(keep))
			a := adoptee{fileRef: fileRef{v, id, keep}, row: r}
			if a.mtime, err = modTime(filepath.Join(f.path, keep)); err != nil {
				return err
			}
			orphans = append(orphans, a)
		}
	}
	if err := c.adopt(ctx, tx, f, byKey, orphans); err != nil {
		return err
	}

	forget, err := tx.PrepareContext(ctx, `UPDATE messages SET body_path = '', downloaded = 0 WHERE folder_id = ? AND uidvalidity = ? AND id = ?`)
	if err != nil {
		return err
	}
	defer forget.Close()
	lose, err := tx.PrepareContext(ctx, `UPDATE messages SET body_path = '', downloaded = 0, lost = ? WHERE folder_id = ? AND uidvalidity = ? AND id = ?`)
	if err != nil {
		return err
	}
	defer lose.Close()
	for key, r := range byKey {
		if r.path == "" || files[key] != nil {
			continue
		}
		// Not seen by the scan; look once more, in case another tool
		// renamed it while the directories were read.
		p, err := locate(f.path, r.fileRef)
		if err != nil {
			return err
		}
		switch {
		case p != "":
			err = renamed(r, p)
		case r.onServer:
			_, err = forget.ExecContext(ctx, f.id, int64(r.uidValidity), r.id)
		default:
			_, err = lose.ExecContext(ctx, start.UnixNano(), f.id, int64(r.uidValidity), r.id)
		}
		if err != nil {
			return err
		}
	}
	if refetchFlags {
		// The server has the last word on an IMAP message's flags: without
		// a HIGHESTMODSEQ the next sync fetches all of them, and SetFlags
		// renames the files back where the server disagrees.
		if _, err := tx.ExecContext(ctx, `UPDATE folders SET highestmodseq = 0 WHERE id = ?`, f.id); err != nil {
			return err
		}
	}
	stamp = stamp.settled(start)
	_, err = tx.ExecContext(ctx, `UPDATE folders SET cur_mtime = ?, new_mtime = ? WHERE id = ?`, stamp.cur, stamp.new, f.id)
	return err
}

type adoptee struct {
	fileRef
	row   *recoveryRow // an envelope-only row, or nil
	mtime int64
}

// adopt records files that have no row (or an envelope-only one), oldest
// first so that POP3 order (insertion order) follows download order.
// Files of another UIDVALIDITY than the folder's are stale IMAP copies
// and removed, except that a folder without validity and without entries
// (a lost index) takes the validity of its files when they agree. Files
// under validity 0 (POP3) are never removed.
func (c *Cache) adopt(ctx context.Context, tx *sql.Tx, f folderRow, byKey map[string]*recoveryRow, orphans []adoptee) error {
	if len(orphans) == 0 {
		return nil
	}
	if f.uidValidity == 0 && len(byKey) == 0 {
		var vs []uint32
		for _, a := range orphans {
			if !slices.Contains(vs, a.uidValidity) {
				vs = append(vs, a.uidValidity)
			}
		}
		if len(vs) == 1 && vs[0] != 0 {
			if _, err := resolveValidity(ctx, tx, &f, vs[0], true); err != nil {
				return err
			}
		}
	}
	slices.SortFunc(orphans, func(a, b adoptee) int {
		if a.mtime != b.mtime {
			if a.mtime < b.mtime {
				return -1
			}
			return 1
		}
		return strings.Compare(a.path, b.path)
	})
	stmt, err := tx.PrepareContext(ctx, commitSQL)
	if err != nil {
		return err
	}
	defer stmt.Close()
	index, err := prepareIndex(ctx, tx)
	if err != nil {
		return err
	}
	defer index.Close()
	for _, a := range orphans {
		switch {
		case a.uidValidity == f.uidValidity:
		case a.uidValidity != 0 && f.uidValidity != 0:
			if err := os.Remove(filepath.Join(f.path, a.path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		default:
			continue // not ours to judge: leave it
		}
		env, err := parseFile(filepath.Join(f.path, a.path))
		if err != nil {
			return err
		}
		flags := flagsFromInfo(a.path)
		if a.row != nil {
			flags = parseFlags(a.row.flags)
		}
		// The text is left to IndexText: recovery should be quick.
		seq, err := execEnvelope(ctx, stmt, f.id, a.fileRef, env, flags, a.mtime, false)
		if err != nil {
			return fmt.Errorf("adopt %s: %w", a.path, err)
		}
		index.message(seq, env, nil)
	}
	if err := index.flush(ctx); err != nil {
		return fmt.Errorf("adopt: %w", err)
	}
	return nil
}

// hasDuomailFiles reports whether a directory holds any file duomail wrote.
func hasDuomailFiles(dir string) (bool, error) {
	d, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer d.Close()
	for {
		names, err := d.Readdirnames(256)
		for _, n := range names {
			if strings.HasPrefix(n, keyPrefix) {
				return true, nil
			}
		}
		if err != nil {
			return false, nil // io.EOF
		}
	}
}

func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

func modTime(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.ModTime().UnixNano(), nil
}

// receivedAt is when a message reached the mailbox: the server's word
// (IMAP INTERNALDATE) when the envelope has it; for POP3, which has no such
// date, when it was downloaded; else unknown (0).
func receivedAt(env client.Envelope, uidValidity uint32, downloaded int64) int64 {
	switch {
	case !env.Received.IsZero():
		return env.Received.UnixNano()
	case uidValidity == 0:
		return downloaded
	}
	return 0
}

// execEnvelope runs commitSQL for a message file and returns its row.
func execEnvelope(ctx context.Context, stmt *sql.Stmt, folderID int64, r fileRef, env client.Envelope, flags []client.Flag, downloaded int64, textIndexed bool) (seq int64, err error) {
	to, err := marshalTo(env.To)
	if err != nil {
		return 0, err
	}
	cc, err := marshalTo(env.Cc)
	if err != nil {
		return 0, err
	}
	err = stmt.QueryRowContext(ctx, folderID, int64(r.uidValidity), r.id, numericUID(r.uidValidity, r.id),
		formatDate(env.Date), env.From, to, env.Subject, env.MessageID, env.Size, env.HasAttachments,
		formatFlags(flags), client.HasFlag(flags, client.FlagSeen), r.path, downloaded, receivedAt(env, r.uidValidity, downloaded),
		cc, env.InReplyTo, strings.Join(env.References, " "), textIndexed).Scan(&seq)
	return seq, err
}
