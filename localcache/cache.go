package localcache

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-maildir"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/duomail/duomail/client"
)

var _ client.Cache = (*Cache)(nil)

// Durability selects how Batch.Commit makes message files durable before
// recording them (see the package documentation).
type Durability int

const (
	// DurabilityDefault is DurabilityFsync, whose cost does not depend
	// on what other programs write.
	DurabilityDefault Durability = iota
	// DurabilityFsync calls fsync on every message file (several at a
	// time), then on the Maildir directories after the renames. It
	// flushes only duomail's own data.
	DurabilityFsync
	// DurabilitySyncfs calls syncfs(2) once before and once after the
	// renames: two system calls per batch, but each flushes every dirty
	// page of the whole file system, other programs' included.
	DurabilitySyncfs
)

func (d Durability) String() string {
	switch d {
	case DurabilityFsync:
		return "fsync"
	case DurabilitySyncfs:
		return "syncfs"
	}
	return "default"
}

// ParseDurability accepts "fsync", "syncfs" and "" (the default), e.g. from
// a configuration file or an environment variable in benchmarks.
func ParseDurability(s string) (Durability, error) {
	switch strings.ToLower(s) {
	case "", "default":
		return DurabilityDefault, nil
	case "fsync":
		return DurabilityFsync, nil
	case "syncfs":
		return DurabilitySyncfs, nil
	}
	return DurabilityDefault, fmt.Errorf("unknown durability %q (want fsync or syncfs)", s)
}

// Options tune a Cache; the zero value is right for normal use.
type Options struct {
	Durability Durability
	// LockTimeout bounds how long Lock waits for another process to let
	// go of the sync lock; past it Lock fails with client.ErrLocked. Zero
	// waits as long as the context allows.
	LockTimeout time.Duration
	// LockWaiting, when set, is called once if Lock has waited a second,
	// with what the holder wrote into the lock file.
	LockWaiting func(LockHolder)
	// IndexProgress, when set, is told how the search index's one-time
	// filling from cached bodies advances (see IndexText), which Search
	// runs first when it has anything to do.
	IndexProgress func(done, total int)
}

// Cache is one account's local store. It is safe for concurrent use by
// several goroutines and, through SQLite's locking and the sync lock, by
// several processes.
type Cache struct {
	dir        string
	db         *sql.DB
	durability Durability
	// readOnly, when set, is why the index could only be opened for
	// reading (a read-only file system, a full disk); writes fail with it.
	readOnly error
	lockOpts Options
}

// busyTimeoutMillis is how long a write waits for another process's.
const busyTimeoutMillis = 30000

const (
	indexName = "index.sqlite"
	lockName  = "lock"
	// uncleanName exists while a process holds the sync lock: found by
	// the next holder, it says that one stopped without unlocking
	// (killed, crashed, power lost), so everything is compared.
	uncleanName = "unclean"
	dirPerm     = 0o700
	filePerm    = 0o600
)

// Open opens (creating if needed) the cache rooted at dir: dir/index.sqlite
// and one Maildir per folder. When no other process holds the sync lock it
// also recovers from an interrupted run: it adopts message files whose
// index rows were never written and drops duomail's leftover temporary
// files. Lock does that and more (see recover) after waiting for the lock.
func Open(dir string) (*Cache, error) {
	return OpenWithOptions(dir, Options{})
}

// OpenWithOptions is Open with tuning options.
//
// A cache that cannot be written (a read-only mount or file system, a
// full disk) is opened for reading only, so the mail in it stays
// readable; every write then fails with an error that says why
// (errors.Is(err, ErrReadOnly)).
func OpenWithOptions(dir string, opts Options) (*Cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	c, err := openWritable(abs, opts)
	if err == nil {
		return c, nil
	}
	err = storageError(abs, err)
	if !cannotWrite(err) {
		return nil, err
	}
	c, roErr := openReadOnly(abs, opts)
	if roErr != nil {
		return nil, err
	}
	c.readOnly = err
	return c, nil
}

func openWritable(abs string, opts Options) (*Cache, error) {
	if err := mkdirPrivate(abs); err != nil {
		return nil, fmt.Errorf("open cache: %w", err)
	}
	index := filepath.Join(abs, indexName)
	// SQLite gives the -wal and -shm files the permissions of the database
	// file, so creating it private first keeps all three private.
	f, err := os.OpenFile(index, os.O_RDWR|os.O_CREATE|os.O_EXCL, filePerm)
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(index, os.O_RDWR, filePerm)
	} else if err == nil {
		if err = fsyncPath(abs); err != nil { // SQLite syncs the directory for its -wal, not for this
			f.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("open cache index: %w", err)
	}
	f.Close()
	// An index that another program (or a careless copy) made readable to
	// others is made private again, -wal and -shm included.
	for _, name := range []string{index, index + "-wal", index + "-shm"} {
		fi, err := os.Stat(name)
		if err == nil && fi.Mode().Perm()&0o077 != 0 {
			err = os.Chmod(name, filePerm)
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open cache index: %w", err)
		}
	}

	dsn := "file:" + uriEscape(index) + "?" + strings.Join([]string{
		"_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMillis) + ")", // another duomail may be writing
		"_pragma=journal_mode(WAL)",                                     // readers never block the writer
		"_pragma=synchronous(FULL)",                                     // a committed UIDL survives power loss before DELE
		"_pragma=foreign_keys(1)",
		"_txlock=immediate", // write transactions take the lock up front: no deadlocking upgrades
	}, "&")
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open cache index: %w", err)
	}
	// A few connections let List's callback read (Open a body) while the
	// listing is under way; more would only contend for SQLite's single
	// writer lock.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	c := &Cache{dir: abs, db: db, durability: opts.Durability, lockOpts: opts}
	if c.durability == DurabilityDefault {
		c.durability = DurabilityFsync
	}
	ctx := context.Background()
	if err := migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open cache %s: %w", abs, err)
	}
	// A repair that fails (an unreadable file, say) must not keep the user
	// from reading the cache: nothing is lost by waiting, and Lock, which
	// every sync takes, repairs again and reports the error.
	_ = c.recoverIfUnlocked(ctx)
	return c, nil
}

// openReadOnly opens the index of a cache that cannot be written. SQLite
// reads a WAL database read-only only where its -shm and -wal files exist
// or can be made; where they cannot, and no -wal holds anything, the
// database file alone is complete and is read as immutable (nobody can
// write it either).
func openReadOnly(abs string, opts Options) (*Cache, error) {
	index := filepath.Join(abs, indexName)
	if _, err := os.Stat(index); err != nil {
		return nil, err
	}
	dsns := []string{"file:" + uriEscape(index) + "?mode=ro&_pragma=busy_timeout(30000)"}
	if fi, err := os.Stat(index + "-wal"); errors.Is(err, fs.ErrNotExist) || err == nil && fi.Size() == 0 {
		dsns = append(dsns, "file:"+uriEscape(index)+"?mode=ro&immutable=1")
	}
	var err error
	for _, dsn := range dsns {
		var db *sql.DB
		db, err = sql.Open("sqlite", dsn)
		if err != nil {
			continue
		}
		db.SetMaxOpenConns(4)
		db.SetMaxIdleConns(4)
		var version int
		err = db.QueryRow(`SELECT version FROM schema_version`).Scan(&version)
		if err == nil && version != len(migrations) {
			err = fmt.Errorf("index schema version %d needs an upgrade (to %d), which a cache that cannot be written cannot have", version, len(migrations))
		}
		if err != nil {
			db.Close()
			continue
		}
		c := &Cache{dir: abs, db: db, durability: opts.Durability, lockOpts: opts}
		if c.durability == DurabilityDefault {
			c.durability = DurabilityFsync
		}
		return c, nil
	}
	return nil, err
}

// ReadOnly returns nil for a cache that can be written, else why it can
// only be read.
func (c *Cache) ReadOnly() error { return c.readOnly }

// checkWritable fails once a cache is known to be read-only, before
// anything is attempted.
func (c *Cache) checkWritable() error {
	if c.readOnly != nil {
		return fmt.Errorf("%w: %w", ErrReadOnly, c.readOnly)
	}
	return nil
}

// uriEscape makes a path safe inside an SQLite file: URI.
func uriEscape(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// mkdirPrivate creates dir and any missing parents (0700), making each new
// entry durable.
func mkdirPrivate(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := mkdirPrivate(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	if err := fsyncPath(parent); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	return nil
}

// Dir returns the cache's root directory.
func (c *Cache) Dir() string { return c.dir }

// Durability reports the strategy Batch.Commit uses.
func (c *Cache) Durability() Durability { return c.durability }

// MaildirPath returns the folder's Maildir (with cur, new and tmp inside),
// for pointing mutt or notmuch at it. It returns "" for a name that cannot
// be stored (empty, or too long).
func (c *Cache) MaildirPath(folder string) string {
	enc, err := EncodeFolder(folder)
	if err != nil {
		return ""
	}
	return filepath.Join(c.dir, enc)
}

func (c *Cache) maildir(folder string) (string, error) {
	enc, err := EncodeFolder(folder)
	if err != nil {
		return "", err
	}
	return filepath.Join(c.dir, enc), nil
}

// initMaildir creates a folder's Maildir, private.
// The new directory entries are made durable at once: the fsyncs of a
// Commit cover the files in cur/ and new/, not the entries that lead there.
func initMaildir(path string) error {
	if fi, err := os.Stat(filepath.Join(path, "tmp")); err == nil && fi.IsDir() {
		return nil
	}
	if err := mkdirPrivate(filepath.Dir(path)); err != nil {
		return err
	}
	if err := maildir.Dir(path).Init(); err != nil {
		return fmt.Errorf("create maildir %s: %w", path, err)
	}
	for _, d := range []string{path, filepath.Dir(path)} {
		if err := fsyncPath(d); err != nil {
			return fmt.Errorf("create maildir %s: %w", path, err)
		}
	}
	return nil
}

// Close closes the index.
func (c *Cache) Close() error {
	if err := c.db.Close(); err != nil {
		return fmt.Errorf("close cache index: %w", err)
	}
	return nil
}

// folderRow is a folder as the index records it.
type folderRow struct {
	id          int64
	name        string
	uidValidity uint32
	path        string   // the Maildir
	discovered  bool     // found on disk by recovery, without a row
	stamp       dirStamp // of cur/ and new/ when last compared with the index
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// lookupFolder returns the folder's row, or ok=false when the index has
// never heard of it.
func (c *Cache) lookupFolder(ctx context.Context, q querier, folder string) (f folderRow, ok bool, err error) {
	path, err := c.maildir(folder)
	if err != nil {
		return f, false, err
	}
	var v int64
	err = q.QueryRowContext(ctx, `SELECT id, uidvalidity, cur_mtime, new_mtime FROM folders WHERE name = ?`, folder).Scan(&f.id, &v, &f.stamp.cur, &f.stamp.new)
	if errors.Is(err, sql.ErrNoRows) {
		return folderRow{name: folder, path: path}, false, nil
	}
	if err != nil {
		return f, false, err
	}
	f.name, f.uidValidity, f.path = folder, uint32(v), path
	return f, true, nil
}

// ensureFolder returns the folder's row, creating it and its Maildir.
func (c *Cache) ensureFolder(ctx context.Context, tx *sql.Tx, folder string) (folderRow, error) {
	f, ok, err := c.lookupFolder(ctx, tx, folder)
	if err != nil {
		return f, err
	}
	if !ok {
		res, err := tx.ExecContext(ctx, `INSERT INTO folders (name) VALUES (?)`, folder)
		if err != nil {
			return f, err
		}
		if f.id, err = res.LastInsertId(); err != nil {
			return f, err
		}
	}
	if err := initMaildir(f.path); err != nil {
		return f, err
	}
	return f, nil
}

// folderHasEntries reports whether any message row exists in the folder.
func folderHasEntries(ctx context.Context, q querier, f folderRow) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM messages WHERE folder_id = ?)`, f.id).Scan(&n)
	return n != 0, err
}

// resolveValidity decides the UIDVALIDITY that IDs given with v belong to:
// 0 means the folder's current one. A folder without any entry takes on
// the first validity it is given; otherwise a different one is stale.
// Within a write transaction, it records a newly adopted validity.
func resolveValidity(ctx context.Context, q querier, f *folderRow, v uint32, write bool) (uint32, error) {
	if v == 0 || v == f.uidValidity {
		return f.uidValidity, nil
	}
	if f.uidValidity == 0 && f.id != 0 {
		has, err := folderHasEntries(ctx, q, *f)
		if err != nil {
			return 0, err
		}
		if has {
			return 0, fmt.Errorf("folder %s: UIDVALIDITY %d, cached entries have none: %w", f.name, v, client.ErrStaleIDs)
		}
	}
	if f.uidValidity != 0 {
		return 0, fmt.Errorf("folder %s: UIDVALIDITY %d, cache has %d: %w", f.name, v, f.uidValidity, client.ErrStaleIDs)
	}
	if write {
		if _, err := q.ExecContext(ctx, `UPDATE folders SET uidvalidity = ? WHERE id = ?`, int64(v), f.id); err != nil {
			return 0, err
		}
		f.uidValidity = v
	}
	return v, nil
}

// begin starts a write transaction; _txlock=immediate makes it take
// SQLite's write lock at once, so it never fails halfway on an upgrade.
func (c *Cache) begin(ctx context.Context) (*sql.Tx, error) {
	if err := c.checkWritable(); err != nil {
		return nil, err
	}
	tx, err := c.db.BeginTx(ctx, nil)
	return tx, storageError(c.dir, err)
}

// State implements client.Cache.
func (c *Cache) State(ctx context.Context, folder string) (client.SyncState, error) {
	var st client.SyncState
	if _, err := EncodeFolder(folder); err != nil {
		return st, fmt.Errorf("read state of %q: %w", folder, err)
	}
	var v, next, modseq, lastSync int64
	err := c.db.QueryRowContext(ctx, `SELECT uidvalidity, uidnext, highestmodseq, messages, last_sync, bodies FROM folders WHERE name = ?`, folder).
		Scan(&v, &next, &modseq, &st.Messages, &lastSync, &st.Bodies)
	if errors.Is(err, sql.ErrNoRows) {
		return client.SyncState{}, nil
	}
	if err != nil {
		return st, fmt.Errorf("read state of %s: %w", folder, err)
	}
	st.UIDValidity, st.UIDNext, st.HighestModSeq = uint32(v), uint32(next), uint64(modseq)
	st.LastSync = fromNanos(lastSync)
	return st, nil
}

// SetState implements client.Cache.
func (c *Cache) SetState(ctx context.Context, folder string, st client.SyncState) error {
	err := c.write(ctx, func(tx *sql.Tx) error {
		f, err := c.ensureFolder(ctx, tx, folder)
		if err != nil {
			return err
		}
		if st.UIDValidity != f.uidValidity {
			// A folder with no validity yet and no entries takes this one;
			// anything else must go through Reset.
			if st.UIDValidity == 0 {
				return fmt.Errorf("UIDVALIDITY 0, cache has %d: %w", f.uidValidity, client.ErrStaleIDs)
			}
			if _, err := resolveValidity(ctx, tx, &f, st.UIDValidity, true); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE folders SET uidnext = ?, highestmodseq = ?, messages = ?, last_sync = ?, bodies = ? WHERE id = ?`,
			int64(st.UIDNext), int64(st.HighestModSeq), st.Messages, toNanos(st.LastSync), st.Bodies, f.id)
		return err
	})
	if err != nil {
		return fmt.Errorf("record state of %s: %w", folder, err)
	}
	return nil
}

// Reset implements client.Cache. Bodies stored under UIDVALIDITY 0 (POP3)
// are never deleted here: they may be the only copy.
func (c *Cache) Reset(ctx context.Context, folder string, uidValidity uint32) error {
	err := c.write(ctx, func(tx *sql.Tx) error {
		f, err := c.ensureFolder(ctx, tx, folder)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT uidvalidity, id, body_path FROM messages WHERE folder_id = ? AND uidvalidity != ? AND body_path != ''`, f.id, int64(uidValidity))
		if err != nil {
			return err
		}
		var stale []fileRef
		for rows.Next() {
			var r fileRef
			var v int64
			if err := rows.Scan(&v, &r.id, &r.path); err != nil {
				rows.Close()
				return err
			}
			r.uidValidity = uint32(v)
			if r.uidValidity != 0 {
				stale = append(stale, r)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		// Files go before rows: a crash in between leaves rows whose files
		// are gone, which recovery clears, rather than files that
		// recovery would adopt back.
		for _, r := range stale {
			if err := removeMessageFile(f.path, r); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM messages WHERE folder_id = ? AND uidvalidity != ?`, f.id, int64(uidValidity)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE folders SET uidvalidity = ?, uidnext = 0, highestmodseq = 0, messages = 0, last_sync = 0, bodies = 0 WHERE id = ?`, int64(uidValidity), f.id)
		return err
	})
	if err != nil {
		return fmt.Errorf("reset %s to UIDVALIDITY %d: %w", folder, uidValidity, err)
	}
	return nil
}

// write runs fn in one write transaction and commits it.
func (c *Cache) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return storageError(c.dir, err)
	}
	return storageError(c.dir, tx.Commit())
}

// writeNoWait is write that fails at once (SQLITE_BUSY) instead of waiting
// when another connection holds the index's write lock.
func (c *Cache) writeNoWait(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := c.checkWritable(); err != nil {
		return err
	}
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA busy_timeout = 0`); err != nil {
		return err
	}
	// Back to the DSN's value before the connection returns to the pool.
	defer conn.ExecContext(context.Background(), `PRAGMA busy_timeout = `+strconv.Itoa(busyTimeoutMillis))
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Entries implements client.Cache.
func (c *Cache) Entries(ctx context.Context, folder string) (map[string]client.Entry, error) {
	out := map[string]client.Entry{}
	f, ok, err := c.lookupFolder(ctx, c.db, folder)
	if err != nil {
		return nil, fmt.Errorf("read entries of %q: %w", folder, err)
	}
	if !ok {
		return out, nil
	}
	outside, err := c.outsideChanges(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("read entries of %s: %w", folder, err)
	}
	rows, err := c.db.QueryContext(ctx, `SELECT id, flags, size, body_path != '', on_server, downloaded, message_id, server_id, server_size, header_digest, lost != 0 FROM messages WHERE folder_id = ? AND uidvalidity = ?`, f.id, int64(f.uidValidity))
	if err != nil {
		return nil, fmt.Errorf("read entries of %s: %w", folder, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e client.Entry
		var flags string
		var downloaded int64
		if err := rows.Scan(&e.ID, &flags, &e.Size, &e.HasBody, &e.OnServer, &downloaded, &e.MessageID, &e.Origin.ServerID, &e.Origin.ServerSize, &e.Origin.HeaderDigest, &e.Lost); err != nil {
			return nil, fmt.Errorf("read entries of %s: %w", folder, err)
		}
		e.Flags = parseFlags(flags)
		e.Downloaded = fromNanos(downloaded)
		if ch, ok := outside[e.ID]; ok {
			if ch.lost {
				e.Lost, e.HasBody, e.Downloaded = true, false, time.Time{}
			} else {
				e.Flags = ch.flags
			}
		}
		out[e.ID] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read entries of %s: %w", folder, err)
	}
	return out, nil
}

// Counts returns how many messages the index holds for a folder and how
// many of them lack the seen flag, for filling in Folder.Unseen where the
// server cannot tell (POP3) and for offline folder listings.
func (c *Cache) Counts(ctx context.Context, folder string) (total, unseen int, err error) {
	f, ok, err := c.lookupFolder(ctx, c.db, folder)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("count %q: %w", folder, err)
		}
		return 0, 0, err
	}
	outside, err := c.outsideChanges(ctx, f)
	if err != nil {
		return 0, 0, fmt.Errorf("count %s: %w", folder, err)
	}
	if len(outside) > 0 {
		err := c.List(ctx, folder, client.ListOptions{}, func(env client.Envelope) error {
			total++
			if !client.HasFlag(env.Flags, client.FlagSeen) {
				unseen++
			}
			return nil
		})
		return total, unseen, err
	}
	err = c.db.QueryRowContext(ctx, `SELECT count(*), count(*) - coalesce(sum(seen), 0) FROM messages WHERE folder_id = ? AND uidvalidity = ? AND lost = 0`, f.id, int64(f.uidValidity)).Scan(&total, &unseen)
	if err != nil {
		return 0, 0, fmt.Errorf("count %s: %w", folder, err)
	}
	return total, unseen, nil
}

// Folders returns the names of the folders the index knows, sorted, for
// offline folder listings.
func (c *Cache) Folders(ctx context.Context) ([]string, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT name FROM folders ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list cached folders: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list cached folders: %w", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list cached folders: %w", err)
	}
	return out, nil
}

// numericUID orders IMAP folders; POP3 IDs (UIDVALIDITY 0) all get 0 and
// fall back to insertion order.
func numericUID(uidValidity uint32, id string) int64 {
	if uidValidity == 0 {
		return 0
	}
	n, err := strconv.ParseUint(id, 10, 32)
	if err != nil {
		return 0
	}
	return int64(n)
}

const upsertEnvelopeSQL = `
INSERT INTO messages (folder_id, uidvalidity, id, uid, date, sender, recipients, subject, message_id, size, has_attachments, flags, seen, on_server, received, cc, in_reply_to, refs)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1, ?15, ?16, ?17, ?18)
ON CONFLICT (folder_id, uidvalidity, id) DO UPDATE SET
	received = CASE WHEN excluded.received != 0 THEN excluded.received ELSE received END,
	date = excluded.date, sender = excluded.sender, recipients = excluded.recipients,
	subject = excluded.subject, message_id = excluded.message_id, cc = excluded.cc,
	in_reply_to = CASE WHEN excluded.in_reply_to != '' THEN excluded.in_reply_to ELSE in_reply_to END,
	refs = CASE WHEN excluded.refs != '' THEN excluded.refs ELSE refs END,
	size = CASE WHEN body_path != '' THEN size ELSE excluded.size END,
	has_attachments = CASE WHEN body_path != '' THEN has_attachments ELSE excluded.has_attachments END,
	flags = CASE WHEN ?14 THEN excluded.flags ELSE flags END,
	seen = CASE WHEN ?14 THEN excluded.seen ELSE seen END,
	on_server = 1, lost = 0
RETURNING seq`

// PutEnvelopes implements client.Cache. An envelope with nil Flags keeps
// the stored flags (POP3 envelopes carry none; local flags survive), a
// non-nil one replaces them. Envelope.UIDValidity 0 means the folder's
// current one; another value than the folder's is refused with
// ErrStaleIDs. Size and HasAttachments of a message whose body is stored
// stay as measured from the body.
func (c *Cache) PutEnvelopes(ctx context.Context, folder string, envs []client.Envelope) error {
	if len(envs) == 0 {
		return nil
	}
	err := c.write(ctx, func(tx *sql.Tx) error {
		f, err := c.ensureFolder(ctx, tx, folder)
		if err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, upsertEnvelopeSQL)
		if err != nil {
			return err
		}
		defer stmt.Close()
		index, err := prepareIndex(ctx, tx)
		if err != nil {
			return err
		}
		defer index.Close()
		for _, env := range envs {
			if err := checkID(env.ID); err != nil {
				return err
			}
			v, err := resolveValidity(ctx, tx, &f, env.UIDValidity, true)
			if err != nil {
				return fmt.Errorf("id %s: %w", env.ID, err)
			}
			to, err := marshalTo(env.To)
			if err != nil {
				return err
			}
			cc, err := marshalTo(env.Cc)
			if err != nil {
				return err
			}
			var seq int64
			if err := stmt.QueryRowContext(ctx, f.id, int64(v), env.ID, numericUID(v, env.ID),
				formatDate(env.Date), env.From, to, env.Subject, env.MessageID,
				env.Size, env.HasAttachments, formatFlags(env.Flags), client.HasFlag(env.Flags, client.FlagSeen),
				env.Flags != nil, nanos(env.Received), cc, env.InReplyTo, strings.Join(env.References, " ")).Scan(&seq); err != nil {
				return fmt.Errorf("id %s: %w", env.ID, err)
			}
			index.message(seq, env, nil)
		}
		return index.flush(ctx)
	})
	if err != nil {
		return fmt.Errorf("store %d envelopes in %s: %w", len(envs), folder, err)
	}
	return nil
}

const envelopeColumns = `id, uidvalidity, date, sender, recipients, subject, message_id, size, has_attachments, flags, received, cc, in_reply_to, refs`

func scanEnvelope(rows interface{ Scan(...any) error }, folder string) (client.Envelope, error) {
	var env client.Envelope
	var v int64
	var date, to, flags, cc, refs string
	var received int64
	if err := rows.Scan(&env.ID, &v, &date, &env.From, &to, &env.Subject, &env.MessageID, &env.Size, &env.HasAttachments, &flags, &received, &cc, &env.InReplyTo, &refs); err != nil {
		return env, err
	}
	if cc != "" {
		if err := json.Unmarshal([]byte(cc), &env.Cc); err != nil {
			return env, fmt.Errorf("id %s: cc: %w", env.ID, err)
		}
	}
	env.References = strings.Fields(refs)
	if received != 0 {
		env.Received = time.Unix(0, received)
	}
	env.Folder = folder
	env.UIDValidity = uint32(v)
	env.Date = parseDate(date)
	if to != "" {
		if err := json.Unmarshal([]byte(to), &env.To); err != nil {
			return env, fmt.Errorf("id %s: recipients: %w", env.ID, err)
		}
	}
	env.Flags = parseFlags(flags)
	return env, nil
}

// List implements client.Cache. With opts.IDs, envelopes come in the order
// of the IDs and unknown IDs are skipped; opts.Unseen still applies.
func (c *Cache) List(ctx context.Context, folder string, opts client.ListOptions, fn func(client.Envelope) error) error {
	f, ok, err := c.lookupFolder(ctx, c.db, folder)
	if err != nil {
		return fmt.Errorf("list %q: %w", folder, err)
	}
	if !ok {
		return nil
	}
	outside, err := c.outsideChanges(ctx, f)
	if err != nil {
		return fmt.Errorf("list %s: %w", folder, err)
	}
	// Lost messages are not listed. Flags another program changed in the
	// file names decide --unseen, so with such changes the filter and the
	// limit apply here rather than in SQL.
	filter := " AND lost = 0"
	if opts.Unseen && len(outside) == 0 {
		filter += " AND seen = 0"
	}
	limit, offset := opts.Limit, opts.Offset
	fn = applyOutside(outside, opts.Unseen, &limit, &offset, fn)
	if len(opts.IDs) > 0 {
		return c.listIDs(ctx, f, opts.IDs, filter, fn)
	}
	order, err := orderBy(opts)
	if err != nil {
		return fmt.Errorf("list %s: %w", folder, err)
	}
	query, args := limitOffset(`SELECT `+envelopeColumns+` FROM messages WHERE folder_id = ? AND uidvalidity = ?`+filter+` `+order,
		[]any{f.id, int64(f.uidValidity)}, limit, offset)
	return c.each(ctx, "list", folder, query, args, fn)
}

// errListDone ends a listing early without an error.
var errListDone = errors.New("listing done")

// applyOutside wraps a List callback so that it sees the flags and losses
// that outsideChanges found, applying --unseen, the offset and the limit
// itself when there are any (it then sets *limit and *offset to 0 for the
// query).
func applyOutside(outside map[string]outsideChange, unseen bool, limit, offset *int, fn func(client.Envelope) error) func(client.Envelope) error {
	if len(outside) == 0 {
		return fn
	}
	max, n, skip := *limit, 0, *offset
	*limit, *offset = 0, 0
	return func(env client.Envelope) error {
		if ch, ok := outside[env.ID]; ok {
			if ch.lost {
				return nil
			}
			env.Flags = ch.flags
		}
		if unseen && client.HasFlag(env.Flags, client.FlagSeen) {
			return nil
		}
		if skip > 0 {
			skip--
			return nil
		}
		if err := fn(env); err != nil {
			return err
		}
		if n++; max > 0 && n >= max {
			return errListDone
		}
		return nil
	}
}

func (c *Cache) listIDs(ctx context.Context, f folderRow, ids []string, unseen string, fn func(client.Envelope) error) error {
	conn, err := c.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("list %s: %w", f.name, err)
	}
	defer conn.Close()
	stmt, err := conn.PrepareContext(ctx, `SELECT `+envelopeColumns+` FROM messages WHERE folder_id = ? AND uidvalidity = ? AND id = ?`+unseen)
	if err != nil {
		return fmt.Errorf("list %s: %w", f.name, err)
	}
	defer stmt.Close()
	for _, id := range ids {
		env, err := scanEnvelope(stmt.QueryRowContext(ctx, f.id, int64(f.uidValidity), id), f.name)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("list %s: %w", f.name, err)
		}
		if err := fn(env); err == errListDone {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}

// Open implements client.Cache.
func (c *Cache) Open(ctx context.Context, folder, id string) (io.ReadCloser, error) {
	f, ok, err := c.lookupFolder(ctx, c.db, folder)
	if err != nil {
		return nil, fmt.Errorf("open %s in %q: %w", id, folder, err)
	}
	if !ok {
		return nil, fmt.Errorf("open %s in %s: %w", id, folder, client.ErrNotFound)
	}
	var path string
	var onServer, lost bool
	err = c.db.QueryRowContext(ctx, `SELECT body_path, on_server, lost != 0 FROM messages WHERE folder_id = ? AND uidvalidity = ? AND id = ?`, f.id, int64(f.uidValidity), id).Scan(&path, &onServer, &lost)
	if err == nil && lost {
		return nil, fmt.Errorf("open %s in %s: %w", id, folder, client.ErrLocalCopyLost)
	}
	if errors.Is(err, sql.ErrNoRows) || err == nil && path == "" {
		return nil, fmt.Errorf("open %s in %s: no cached body: %w", id, folder, client.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s in %s: %w", id, folder, err)
	}
	ref := fileRef{uidValidity: f.uidValidity, id: id, path: path}
	// The file may be renamed (flags) by another process between finding
	// and opening it: look again once.
	for try := 0; ; try++ {
		p, err := locate(f.path, ref)
		if err != nil {
			return nil, fmt.Errorf("open %s in %s: %w", id, folder, err)
		}
		if p == "" && !onServer {
			return nil, fmt.Errorf("open %s in %s: %w", id, folder, client.ErrLocalCopyLost)
		}
		if p == "" {
			return nil, fmt.Errorf("open %s in %s: message file is missing from %s: %w", id, folder, f.path, client.ErrNotFound)
		}
		file, err := os.Open(filepath.Join(f.path, p))
		if errors.Is(err, fs.ErrNotExist) && try == 0 {
			ref.path = ""
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("open %s in %s: %w", id, folder, err)
		}
		return file, nil
	}
}

// MarkOffServer implements client.Cache. Unknown IDs are skipped.
func (c *Cache) MarkOffServer(ctx context.Context, folder string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := c.write(ctx, func(tx *sql.Tx) error {
		f, ok, err := c.lookupFolder(ctx, tx, folder)
		if err != nil || !ok {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, `UPDATE messages SET on_server = 0 WHERE folder_id = ? AND uidvalidity = ? AND id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, id := range ids {
			if _, err := stmt.ExecContext(ctx, f.id, int64(f.uidValidity), id); err != nil {
				return fmt.Errorf("id %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d messages off server in %s: %w", len(ids), folder, err)
	}
	return nil
}

// Remove implements client.Cache. Unknown IDs are skipped. Files are
// deleted before the rows, inside the same write transaction: after a
// crash in between, recovery finds rows without files (and clears them)
// instead of files without rows (which it would adopt back).
func (c *Cache) Remove(ctx context.Context, folder string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	err := c.write(ctx, func(tx *sql.Tx) error {
		f, ok, err := c.lookupFolder(ctx, tx, folder)
		if err != nil || !ok {
			return err
		}
		sel, err := tx.PrepareContext(ctx, `SELECT body_path FROM messages WHERE folder_id = ? AND uidvalidity = ? AND id = ?`)
		if err != nil {
			return err
		}
		defer sel.Close()
		del, err := tx.PrepareContext(ctx, `DELETE FROM messages WHERE folder_id = ? AND uidvalidity = ? AND id = ?`)
		if err != nil {
			return err
		}
		defer del.Close()
		for _, id := range ids {
			var path string
			err := sel.QueryRowContext(ctx, f.id, int64(f.uidValidity), id).Scan(&path)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return fmt.Errorf("id %s: %w", id, err)
			}
			if path != "" {
				if err := removeMessageFile(f.path, fileRef{f.uidValidity, id, path}); err != nil {
					return fmt.Errorf("id %s: %w", id, err)
				}
			}
			if _, err := del.ExecContext(ctx, f.id, int64(f.uidValidity), id); err != nil {
				return fmt.Errorf("id %s: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %d messages from %s: %w", len(ids), folder, err)
	}
	return nil
}

func toNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339Nano)
}

// nanos stores a time as Unix nanoseconds, 0 for none.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func parseDate(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// marshalTo stores the recipients as a JSON array ("" for none): addresses
// may contain any separator.
func marshalTo(to []string) (string, error) {
	if len(to) == 0 {
		return "", nil
	}
	b, err := json.Marshal(to)
	return string(b), err
}
