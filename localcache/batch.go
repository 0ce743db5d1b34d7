package localcache

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/iocount"
	"github.com/duomail/duomail/client/mimepart"
)

// Batch implements client.Batch. It is not safe for concurrent use, and
// should be used while holding the Cache's Lock: recovery in another
// process that holds it removes duomail's temporary files, which makes a
// Commit running outside the lock fail (without losing anything: nothing
// was recorded, so the server copies are still needed and kept).
type Batch struct {
	c      *Cache
	folder string
	mdir   string
	items  []*pendingMessage
	keys   map[string]bool
	bytes  int64

	// validity caches the folder's UIDVALIDITY for Add; Commit checks
	// every message again, so a Reset in between is still refused.
	validity     uint32
	haveValidity bool

	w *bufio.Writer // reused for every message: allocating one each time costs more than writing
}

var _ client.Batch = (*Batch)(nil)

type pendingMessage struct {
	fileRef
	flags []client.Flag // nil: not known (POP3)
	tmp   string        // absolute path in tmp/
	// file stays open from Add to Commit, so making it durable needs no
	// second open (opens wait on the journal while other files sync).
	file   *os.File
	env    client.Envelope
	text   string        // the readable text, for the search index
	origin client.Origin // ServerSize -1: none given
}

// NewBatch implements client.Cache. It creates the folder's Maildir.
func (c *Cache) NewBatch(ctx context.Context, folder string) (client.Batch, error) {
	if err := c.checkWritable(); err != nil {
		return nil, fmt.Errorf("start storing into %s: %w", folder, err)
	}
	mdir, err := c.maildir(folder)
	if err != nil {
		return nil, fmt.Errorf("start storing into %q: %w", folder, err)
	}
	if err := initMaildir(mdir); err != nil {
		return nil, fmt.Errorf("start storing into %s: %w", folder, err)
	}
	return &Batch{c: c, folder: folder, mdir: mdir, keys: map[string]bool{}}, nil
}

// Add implements client.Batch: it streams r into tmp/<key> (never holding
// the message in memory) and parses the envelope back from that file.
// uidValidity 0 means the folder's current UIDVALIDITY.
func (b *Batch) Add(ctx context.Context, id string, uidValidity uint32, flags []client.Flag, r io.Reader) error {
	if err := b.add(ctx, id, uidValidity, flags, r); err != nil {
		return fmt.Errorf("store %s in %s: %w", id, b.folder, err)
	}
	return nil
}

func (b *Batch) add(ctx context.Context, id string, uidValidity uint32, flags []client.Flag, r io.Reader) error {
	if err := checkID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The folder's UIDVALIDITY is looked up once per batch (a stale one
	// is refused here early, and again at Commit in case of a Reset).
	if !b.haveValidity || uidValidity != 0 && uidValidity != b.validity {
		f, _, err := b.c.lookupFolder(ctx, b.c.db, b.folder)
		if err != nil {
			return err
		}
		v, err := resolveValidity(ctx, b.c.db, &f, uidValidity, false)
		if err != nil {
			return err
		}
		b.validity, b.haveValidity = v, true
	}
	v := b.validity
	m := &pendingMessage{fileRef: fileRef{uidValidity: v, id: id}, flags: flags, origin: client.Origin{ServerSize: -1}}
	key := m.key()
	if b.keys[key] {
		return errors.New("already added to this batch")
	}
	m.tmp = filepath.Join(b.mdir, "tmp", key)
	file, err := os.OpenFile(m.tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("temporary file %s exists: another duomail process is storing this message", m.tmp)
	}
	if err != nil {
		return err
	}
	// One pass: the envelope is parsed from the bytes as they are written,
	// so a message is neither held in memory nor read back from disk.
	if b.w == nil {
		b.w = bufio.NewWriterSize(file, 256<<10)
	} else {
		b.w.Reset(file)
	}
	w := b.w
	tee := &iocount.Writer{W: w}
	m.env, _, m.text, err = mimepart.ParseMessageText(io.TeeReader(ctxReader{ctx, r}, tee), maxIndexText)
	if err == nil {
		err = w.Flush()
	}
	n := tee.N
	if err == nil && m.env.Size != n {
		err = fmt.Errorf("stored %d bytes but parsed %d", n, m.env.Size)
	}
	if err != nil {
		file.Close()
		os.Remove(m.tmp)
		return err
	}
	m.file = file
	b.items = append(b.items, m)
	b.keys[key] = true
	b.bytes += n
	return nil
}

// parseFile parses a stored message's envelope; Size is the file's size.
func parseFile(path string) (client.Envelope, error) {
	f, err := os.Open(path)
	if err != nil {
		return client.Envelope{}, err
	}
	defer f.Close()
	env, _, err := mimepart.ParseMessage(f)
	if err != nil {
		return env, fmt.Errorf("parse %s: %w", filepath.Base(path), err)
	}
	return env, nil
}

// ctxReader lets a cancelled context stop a long copy.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// SetOrigin implements client.Batch. An ID not added since the last
// Commit is ignored.
func (b *Batch) SetOrigin(id string, o client.Origin) {
	for i := len(b.items) - 1; i >= 0; i-- {
		if b.items[i].id == id {
			b.items[i].origin = o
			return
		}
	}
}

// Pending implements client.Batch.
func (b *Batch) Pending() (messages int, bytes int64) { return len(b.items), b.bytes }

// Abort implements client.Batch.
func (b *Batch) Abort() error {
	var errs []error
	closeFiles(b.items)
	for _, m := range b.items {
		if err := os.Remove(m.tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	b.reset()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("abort storing into %s: %w", b.folder, err)
	}
	return nil
}

func (b *Batch) reset() {
	b.items, b.bytes = nil, 0
	clear(b.keys)
}

// commitHook, when set by tests, is called at each stage of Commit; an
// error return stops Commit right there, as a crash would: nothing is
// cleaned up and the open transaction is never committed.
var commitHook func(stage string) error

func hook(stage string) error {
	if commitHook == nil {
		return nil
	}
	return commitHook(stage)
}

const commitSQL = `
INSERT INTO messages (folder_id, uidvalidity, id, uid, date, sender, recipients, subject, message_id, size, has_attachments, flags, seen, on_server, body_path, downloaded, received, cc, in_reply_to, refs, text_indexed)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 1, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
ON CONFLICT (folder_id, uidvalidity, id) DO UPDATE SET
	received = CASE WHEN excluded.received != 0 AND (received = 0 OR excluded.uidvalidity != 0) THEN excluded.received ELSE received END,
	date = excluded.date, sender = excluded.sender, recipients = excluded.recipients,
	subject = excluded.subject, message_id = excluded.message_id,
	cc = excluded.cc, in_reply_to = excluded.in_reply_to, refs = excluded.refs, text_indexed = excluded.text_indexed,
	size = excluded.size, has_attachments = excluded.has_attachments,
	flags = excluded.flags, seen = excluded.seen, on_server = 1, lost = 0,
	downloaded = CASE WHEN body_path != '' AND downloaded != 0 THEN downloaded ELSE excluded.downloaded END,
	body_path = excluded.body_path
RETURNING seq`

// originSQL records a message's origin, when one was given.
const originSQL = `UPDATE messages SET server_id = ?4, server_size = ?5, header_digest = ?6 WHERE folder_id = ?1 AND uidvalidity = ?2 AND id = ?3`

// Commit implements client.Batch:
//
//  1. make the files in tmp/ durable (fsync each, or one syncfs);
//  2. take the index's write lock, then rename each file into new/ (cur/
//     with info letters when it has flags), onto an existing copy of the
//     same message if there is one, so there is never a second copy;
//  3. make the renames durable (fsync new/ and cur/, or syncfs again);
//  4. record everything in the same, single transaction and commit it.
//
// Renaming under the index's write lock keeps recovery in another process,
// which holds that lock while it scans, from seeing a half-done commit.
// A crash before 2 leaves only temporary files (removed by recovery), one
// after 2 leaves durable files without rows, which recovery adopts.
func (b *Batch) Commit(ctx context.Context) ([]client.Envelope, error) {
	if len(b.items) == 0 {
		return []client.Envelope{}, nil
	}
	n := len(b.items)
	envs, err := b.commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("commit %d messages to %s: %w", n, b.folder, storageError(b.c.dir, err))
	}
	b.reset()
	return envs, nil
}

func (b *Batch) commit(ctx context.Context) ([]client.Envelope, error) {
	// The marker tells the next Open that files may be in new/ or cur/
	// without rows. It is made durable with the data, before any rename,
	// and removed only once the rows are committed.
	marker := filepath.Join(b.mdir, "tmp", fmt.Sprintf("%scommit-%d-%d", keyPrefix, os.Getpid(), time.Now().UnixNano()))
	if err := os.WriteFile(marker, nil, filePerm); err != nil {
		return nil, err
	}
	keepMarker := false
	defer func() {
		if !keepMarker {
			os.Remove(marker)
		}
	}()
	if err := b.syncData(); err != nil {
		return nil, err
	}
	if err := hook("data-synced"); err != nil {
		keepMarker = true // a crash cleans nothing up
		return nil, err
	}
	tx, err := b.c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	f, err := b.c.ensureFolder(ctx, tx, b.folder)
	if err != nil {
		return nil, err
	}
	// Check everything before the first rename, so a stale batch (the
	// folder was Reset since Add) is refused without touching the Maildir.
	for _, m := range b.items {
		if _, err := resolveValidity(ctx, tx, &f, m.uidValidity, true); err != nil {
			b.Abort()
			return nil, fmt.Errorf("id %s: %w", m.id, err)
		}
	}
	// What the index has of these messages, in one query per batch
	// rather than one per message.
	known, err := knownRows(ctx, tx, f.id, b.items)
	if err != nil {
		return nil, err
	}
	for _, m := range b.items {
		if r, ok := known[m.fileRef.key()]; ok {
			m.path = r.path
			if m.flags == nil {
				m.flags = parseFlags(r.flags) // keep flags set locally before the download
			}
		}
		if m.flags == nil {
			m.flags = []client.Flag{}
		}
	}
	keepMarker = true
	for i, m := range b.items {
		dest, err := b.place(m)
		if err != nil {
			// Files renamed so far are durable and will be adopted;
			// the rest stay in tmp/ for Abort or recovery.
			b.items = b.items[i:]
			clear(b.keys)
			b.bytes = 0
			for _, m := range b.items {
				b.keys[m.key()] = true
				b.bytes += m.env.Size
			}
			return nil, fmt.Errorf("id %s: %w", m.id, err)
		}
		m.path = dest
	}
	if err := hook("renamed"); err != nil {
		return nil, err
	}
	if err := b.syncNames(); err != nil {
		return nil, err
	}
	if err := hook("names-synced"); err != nil {
		return nil, err
	}
	stmt, err := tx.PrepareContext(ctx, commitSQL)
	if err != nil {
		return nil, err
	}
	defer stmt.Close()
	origin, err := tx.PrepareContext(ctx, originSQL)
	if err != nil {
		return nil, err
	}
	defer origin.Close()
	index, err := prepareIndex(ctx, tx)
	if err != nil {
		return nil, err
	}
	defer index.Close()
	now := time.Now().UnixNano()
	envs := make([]client.Envelope, len(b.items))
	for i, m := range b.items {
		env := m.env
		env.ID, env.Folder, env.UIDValidity, env.Flags = m.id, b.folder, m.uidValidity, m.flags
		seq, err := execEnvelope(ctx, stmt, f.id, m.fileRef, env, m.flags, now, true)
		if err != nil {
			return nil, fmt.Errorf("id %s: %w", m.id, err)
		}
		index.message(seq, env, &m.text)
		if o := m.origin; o.ServerSize >= 0 {
			if _, err := origin.ExecContext(ctx, f.id, int64(m.uidValidity), m.id, o.ServerID, o.ServerSize, o.HeaderDigest); err != nil {
				return nil, fmt.Errorf("id %s: %w", m.id, err)
			}
		}
		envs[i] = env
	}
	if err := index.flush(ctx); err != nil {
		return nil, err
	}
	if err := hook("before-index-commit"); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	// Failing to remove it costs the next Open a scan of this folder.
	os.Remove(marker)
	return envs, nil
}

// knownRows returns the stored flags and body path of the batch's
// messages that the index has, by file key.
func knownRows(ctx context.Context, tx *sql.Tx, folderID int64, items []*pendingMessage) (map[string]struct{ flags, path string }, error) {
	out := make(map[string]struct{ flags, path string }, len(items))
	const chunk = 400 // bound on SQL parameters
	for start := 0; start < len(items); start += chunk {
		part := items[start:min(start+chunk, len(items))]
		var q strings.Builder
		q.WriteString(`SELECT uidvalidity, id, flags, body_path FROM messages WHERE folder_id = ? AND (uidvalidity, id) IN (VALUES `)
		args := []any{folderID}
		for i, m := range part {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?, ?)")
			args = append(args, int64(m.uidValidity), m.id)
		}
		q.WriteByte(')')
		rows, err := tx.QueryContext(ctx, q.String(), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r fileRef
			var v int64
			var flags string
			if err := rows.Scan(&v, &r.id, &flags, &r.path); err != nil {
				rows.Close()
				return nil, err
			}
			r.uidValidity = uint32(v)
			out[r.key()] = struct{ flags, path string }{flags, r.path}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// place moves a message from tmp/ to its place in new/ or cur/. An existing
// copy of the message (a re-download) is replaced in place first, so that
// at no moment two files carry the same message. A message the index
// holds no body of is renamed without looking: recovery, which runs under
// the same lock, has adopted any copy an interrupted run left behind.
func (b *Batch) place(m *pendingMessage) (string, error) {
	if m.path == "" {
		want := bodyPath(m.key(), m.flags, "")
		return want, os.Rename(m.tmp, filepath.Join(b.mdir, want))
	}
	existing, err := locateFlags(b.mdir, m.fileRef, m.flags, true)
	if err != nil {
		return "", err
	}
	want := bodyPath(m.key(), m.flags, existing)
	if existing != "" && existing != want {
		if err := os.Rename(m.tmp, filepath.Join(b.mdir, existing)); err != nil {
			return "", err
		}
		return want, os.Rename(filepath.Join(b.mdir, existing), filepath.Join(b.mdir, want))
	}
	return want, os.Rename(m.tmp, filepath.Join(b.mdir, want))
}

// closeFiles closes what Add left open.
func closeFiles(items []*pendingMessage) {
	for _, m := range items {
		if m.file != nil {
			m.file.Close()
			m.file = nil
		}
	}
}

// syncData makes the contents of the temporary files durable, and closes them.
func (b *Batch) syncData() error {
	if b.c.durability == DurabilitySyncfs {
		closeFiles(b.items)
		return syncfs(filepath.Join(b.mdir, "tmp"))
	}
	if err := fsyncFiles(b.items); err != nil {
		return err
	}
	return fsyncPath(filepath.Join(b.mdir, "tmp")) // the marker's entry
}

// syncNames makes the renamed directory entries durable.
func (b *Batch) syncNames() error {
	if b.c.durability == DurabilitySyncfs {
		return syncfs(filepath.Join(b.mdir, "tmp"))
	}
	for _, d := range []string{"new", "cur", "tmp"} {
		if err := fsyncPath(filepath.Join(b.mdir, d)); err != nil {
			return err
		}
	}
	return nil
}

// fsyncParallelism bounds concurrent fsync calls: file systems with a
// journal (ext4, xfs) merge concurrent fsyncs into fewer journal commits.
// A variable so that benchmarks can compare with one at a time.
var fsyncParallelism = 16

func fsyncFiles(items []*pendingMessage) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, fsyncParallelism)
	)
	for _, m := range items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := fsyncOpen(m); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// fsyncOpen syncs a message file through the descriptor Add kept open,
// and closes it.
func fsyncOpen(m *pendingMessage) error {
	if m.file == nil {
		return fsyncPath(m.tmp)
	}
	err := m.file.Sync()
	if cerr := m.file.Close(); err == nil {
		err = cerr
	}
	m.file = nil
	if err != nil {
		return fmt.Errorf("fsync %s: %w", m.tmp, err)
	}
	return nil
}

func fsyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsync %s: %w", path, err)
	}
	return nil
}
