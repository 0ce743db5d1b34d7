package client

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

var nowFunc = time.Now

// Message is one message being read. It fetches lazily: raw output needs
// no structure, text output fetches the structure and then one part.
// Where the protocol cannot fetch parts (POP3), the whole message is
// downloaded into the cache once and everything is read from there.
type Message struct {
	mb     *Mailbox
	Folder string
	ID     string
	ref    FolderRef

	local bool // the whole message is in the cache
	lost  bool // the cache had the whole message, but its file is gone
	env   *Envelope
	tree  *Part
}

// Message prepares to read one message. It checks the cache first, so a
// cached message is read without connecting.
func (m *Mailbox) Message(ctx context.Context, folder, id string) (*Message, error) {
	folder = FolderName(folder)
	if id == "" {
		return nil, fmt.Errorf("fetch: %w: empty message ID", ErrUsage)
	}
	ref, err := m.ref(ctx, folder)
	if err != nil {
		return nil, err
	}
	msg := &Message{mb: m, Folder: folder, ID: id, ref: ref}
	rc, err := m.Cache.Open(ctx, folder, id)
	if err == nil {
		rc.Close()
		msg.local = true
	} else if errors.Is(err, ErrLocalCopyLost) {
		msg.lost = true
	} else if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("fetch %s: %w", id, err)
	}
	return msg, nil
}

func (msg *Message) op() string { return "fetch " + msg.ID }

// ensureLocal downloads the whole message into the cache when the server
// cannot serve parts of it.
func (msg *Message) ensureLocal(ctx context.Context) error {
	if msg.local {
		return nil
	}
	src, err := msg.mb.Source(ctx)
	if err != nil {
		return err
	}
	unlock, err := msg.mb.Cache.Lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	plan := &downloadPlan{}
	n, _, err := msg.mb.downloadInto(ctx, src, msg.ref, []string{msg.ID}, nil, 0, nil, plan)
	if msg.lost && (errors.Is(err, ErrNotFound) || err == nil && n == 0 && len(plan.incomplete) == 0) {
		return &lostError{op: msg.op(), id: msg.ID}
	}
	if err == nil && n == 0 {
		err = errors.Join(plan.incomplete...)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", msg.op(), err)
	}
	if n != 1 {
		return fmt.Errorf("%s: %w", msg.op(), ErrNotFound)
	}
	msg.local = true
	return nil
}

// lostError: the cache's copy of a message was deleted outside duomail
// and the server no longer has it either. It matches ErrNotFound.
type lostError struct{ op, id string }

func (e *lostError) Error() string {
	return e.op + ": the local copy of message " + e.id + " is missing from the cache (deleted outside duomail?) and it is no longer on the server"
}

func (e *lostError) Is(target error) bool { return target == ErrNotFound || target == ErrLocalCopyLost }

// partial reports whether this message is read part by part from the server.
func (msg *Message) partial(ctx context.Context) (bool, error) {
	if msg.local {
		return false, nil
	}
	if _, err := msg.mb.Source(ctx); err != nil {
		return false, err
	}
	if msg.mb.caps.Has(FeaturePartialFetch) {
		return true, nil
	}
	return false, msg.ensureLocal(ctx)
}

func (msg *Message) openLocal(ctx context.Context) (io.ReadCloser, error) {
	rc, err := msg.mb.Cache.Open(ctx, msg.Folder, msg.ID)
	if err != nil {
		return nil, fmt.Errorf("%s: read cache: %w", msg.op(), err)
	}
	return rc, nil
}

// Info returns the envelope and MIME tree.
func (msg *Message) Info(ctx context.Context) (Envelope, *Part, error) {
	if msg.env != nil {
		return *msg.env, msg.tree, nil
	}
	partial, err := msg.partial(ctx)
	if err != nil {
		return Envelope{}, nil, err
	}
	var env Envelope
	var tree *Part
	if partial {
		env, tree, err = msg.mb.src.Structure(ctx, msg.ref, msg.ID)
		if err != nil {
			return Envelope{}, nil, fmt.Errorf("%s: %w", msg.op(), err)
		}
	} else {
		rc, err := msg.openLocal(ctx)
		if err != nil {
			return Envelope{}, nil, err
		}
		env, tree, err = ParseMessage(rc)
		rc.Close()
		if err != nil {
			return Envelope{}, nil, fmt.Errorf("%s: parse cached message: %w", msg.op(), err)
		}
		// Flags and identity live in the index, not in the file.
		msg.mb.Cache.List(ctx, msg.Folder, ListOptions{IDs: []string{msg.ID}}, func(e Envelope) error {
			env.Flags, env.UIDValidity = e.Flags, e.UIDValidity
			return nil
		})
	}
	env.ID, env.Folder = msg.ID, msg.Folder
	msg.env, msg.tree = &env, tree
	return env, tree, nil
}

// WriteRaw writes the message byte-exact.
func (msg *Message) WriteRaw(ctx context.Context, w io.Writer) error {
	if msg.local {
		return msg.copyLocal(ctx, w)
	}
	if _, err := msg.mb.Source(ctx); err != nil {
		return err
	}
	if !msg.mb.caps.Has(FeaturePartialFetch) {
		if err := msg.ensureLocal(ctx); err != nil {
			return err
		}
		return msg.copyLocal(ctx, w)
	}
	got := false
	err := msg.mb.src.Download(ctx, msg.ref, []string{msg.ID}, func(id string, size int64, r io.Reader) error {
		got = true
		_, err := io.Copy(w, r)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", msg.op(), err)
	}
	if !got {
		return fmt.Errorf("%s: %w", msg.op(), ErrNotFound)
	}
	return nil
}

func (msg *Message) copyLocal(ctx context.Context, w io.Writer) error {
	rc, err := msg.openLocal(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("%s: %w", msg.op(), err)
	}
	return nil
}

// WriteHeader writes the message's header block as stored.
func (msg *Message) WriteHeader(ctx context.Context, w io.Writer) error {
	partial, err := msg.partial(ctx)
	if err != nil {
		return err
	}
	if partial {
		if _, err := msg.mb.src.FetchPart(ctx, msg.ref, msg.ID, "HEADER", w); err != nil {
			return fmt.Errorf("%s: header: %w", msg.op(), err)
		}
		return nil
	}
	rc, err := msg.openLocal(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	br := bufio.NewReader(rc)
	for {
		line, err := br.ReadSlice('\n')
		if _, werr := w.Write(line); werr != nil {
			return werr
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil || len(line) <= 2 && (string(line) == "\r\n" || string(line) == "\n") {
			return nil
		}
	}
}

// writePartRaw writes one part's body, still transfer-encoded.
func (msg *Message) writePartRaw(ctx context.Context, path string, w io.Writer) error {
	if !msg.local {
		if _, err := msg.mb.src.FetchPart(ctx, msg.ref, msg.ID, path, w); err != nil {
			return fmt.Errorf("%s: part %s: %w", msg.op(), path, err)
		}
		return nil
	}
	rc, err := msg.openLocal(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := CopyPart(rc, path, w); err != nil {
		return fmt.Errorf("%s: %w", msg.op(), err)
	}
	return nil
}

// streamPart runs writePartRaw into a pipe so the decoder reads as the
// bytes arrive, without holding the part in memory.
func (msg *Message) streamPart(ctx context.Context, path string, consume func(io.Reader) error) error {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := msg.writePartRaw(ctx, path, pw)
		pw.CloseWithError(err)
		done <- err
	}()
	cerr := consume(pr)
	// Drain what the consumer left so the protocol session stays in step
	// (an IMAP literal must be read to its end).
	io.Copy(io.Discard, pr)
	ferr := <-done
	if ferr != nil {
		return ferr
	}
	return cerr
}

// WriteText writes the readable text: the plain part, or the HTML part
// rendered to text when there is no plain one. Only that part is fetched
// where the server allows. Warnings name what could not be decoded.
func (msg *Message) WriteText(ctx context.Context, w io.Writer) (warnings []string, err error) {
	_, tree, err := msg.Info(ctx)
	if err != nil {
		return nil, err
	}
	p := tree.TextPart()
	if p == nil {
		return []string{"message has no text part; see its parts with --json or save attachments with --save-attachments"}, nil
	}
	err = msg.streamPart(ctx, p.Path, func(r io.Reader) error {
		warn, err := WriteText(p, r, w)
		if warn != nil {
			warnings = append(warnings, warn.Error())
		}
		return err
	})
	return warnings, err
}

// WritePart writes one part decoded from its transfer encoding (text parts
// also converted to UTF-8).
func (msg *Message) WritePart(ctx context.Context, path string, w io.Writer) (*Part, []string, error) {
	if _, ok := ParsePartPath(path); !ok {
		return nil, nil, fmt.Errorf("%s: %w: part %q: a part is numbered like 1 or 1.2", msg.op(), ErrUsage, path)
	}
	_, tree, err := msg.Info(ctx)
	if err != nil {
		return nil, nil, err
	}
	p := tree.Find(path)
	if p == nil {
		return nil, nil, fmt.Errorf("%s: part %s: %w", msg.op(), path, ErrNotFound)
	}
	var warnings []string
	err = msg.streamPart(ctx, path, func(r io.Reader) error {
		dr, warn := DecodePart(p, r)
		if warn != nil {
			warnings = append(warnings, warn.Error())
		}
		if _, err := io.Copy(w, dr); err != nil {
			// A corrupt encoding or a failed write: name what was written.
			return fmt.Errorf("%s: part %s: %w", msg.op(), path, err)
		}
		return nil
	})
	return p, warnings, err
}

// SavedAttachment says where one attachment went.
type SavedAttachment struct {
	Part     string `json:"part"`
	Filename string `json:"filename"` // as the sender named it
	Path     string `json:"path"`     // where it was written
	Size     int64  `json:"size"`     // decoded bytes written
	Error    string `json:"error,omitempty"`
}

// SaveAttachments writes every attachment into dir, fetching only the
// attachment parts where the server allows. Names are sanitised so nothing
// is written outside dir, and an existing file is never replaced unless
// force is set. It tries every attachment and returns the first error.
func (msg *Message) SaveAttachments(ctx context.Context, dir string, force bool) ([]SavedAttachment, error) {
	_, tree, err := msg.Info(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("save attachments: %w", err)
	}
	var out []SavedAttachment
	var first error
	used := make(map[string]bool)
	for _, p := range tree.Attachments() {
		name := uniqueName(SafeFilename(p.Filename, p), used)
		sa := SavedAttachment{Part: p.Path, Filename: p.Filename, Path: filepath.Join(dir, name)}
		// The file is claimed before anything is fetched, so a name that
		// is taken costs no download.
		pf, err := CreateFileIn(dir, name, force)
		if err == nil {
			err = msg.streamPart(ctx, p.Path, func(r io.Reader) error {
				dr, _ := DecodePart(p, r)
				n, err := io.Copy(pf, dr)
				sa.Size = n
				return err
			})
			err = pf.Finish(err)
		}
		if err != nil {
			err = fmt.Errorf("%s: save part %s as %s: %w", msg.op(), p.Path, name, err)
			sa.Error = err.Error()
			if first == nil {
				first = err
			}
		}
		out = append(out, sa)
	}
	return out, first
}

// MarkSeen records that the message was read: on the server where flags
// live there, else in the cache.
func (msg *Message) MarkSeen(ctx context.Context) error {
	if msg.env != nil && HasFlag(msg.env.Flags, FlagSeen) {
		return nil
	}
	_, err := msg.mb.Flag(ctx, msg.Folder, []string{msg.ID}, FlagAdd, []Flag{FlagSeen})
	return err
}

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
		ref, err := m.ref(ctx, folder)
		if err != nil {
			return FlagResult{}, err
		}
		if err := src.SetFlags(ctx, ref, ids, op, flags); err != nil {
			return FlagResult{}, fmt.Errorf("flag: %w", err)
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
	ref, err := m.ref(ctx, folder)
	if err != nil {
		return DeleteResult{}, err
	}
	if m.caps.Has(FeatureMailOnServer) {
		res, err := src.Delete(ctx, ref, ids, opts)
		if err != nil {
			return res, fmt.Errorf("delete: %w", err)
		}
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
	res := DeleteResult{Expunged: true}
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
func (m *Mailbox) Move(ctx context.Context, folder string, ids []string, dest string, opts MoveOptions) error {
	defer m.Opts.Stats.Begin("move")()
	folder = FolderName(folder)
	if len(ids) == 0 {
		return fmt.Errorf("move: %w: no message given", ErrUsage)
	}
	if err := m.require(ctx, "move", FeatureServerMove); err != nil {
		return err
	}
	src, err := m.Source(ctx)
	if err != nil {
		return err
	}
	ref, err := m.ref(ctx, folder)
	if err != nil {
		return err
	}
	if err := src.Move(ctx, ref, ids, FolderName(dest), opts); err != nil {
		return fmt.Errorf("move: %w", err)
	}
	return m.Cache.Remove(ctx, folder, ids)
}
