// Package fetch reads one message of a client.Mailbox the cheapest way its
// server allows: the structure and single parts where the server serves
// parts (IMAP), else the whole message downloaded into the cache once and
// read from there (POP3). It writes the message raw, its header, its
// readable text, one decoded part, or its attachments into a folder.
package fetch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
)

// Message is one message being read. It fetches lazily: raw output needs
// no structure, text output fetches the structure and then one part.
// Where the protocol cannot fetch parts (POP3), the whole message is
// downloaded into the cache once and everything is read from there.
type Message struct {
	mb     *client.Mailbox
	Folder string
	ID     string
	ref    client.FolderRef

	local bool // the whole message is in the cache
	lost  bool // the cache had the whole message, but its file is gone
	env   *client.Envelope
	tree  *client.Part

	// RenderHTML renders an HTML part (decoded to UTF-8) as text for
	// WriteText; nil for htmltext at its default width.
	RenderHTML func(ctx context.Context, html io.Reader, w io.Writer) error
	// PreferHTML makes WriteText show the HTML part of a message that
	// has a plain one too.
	PreferHTML bool
}

// Open prepares to read one message. It checks the cache first, so a
// cached message is read without connecting.
func Open(ctx context.Context, mb *client.Mailbox, folder, id string) (*Message, error) {
	if id == "" {
		return nil, fmt.Errorf("fetch: %w: empty message ID", client.ErrUsage)
	}
	ref, err := mb.Ref(ctx, folder)
	if err != nil {
		return nil, err
	}
	msg := &Message{mb: mb, Folder: ref.Name, ID: id, ref: ref}
	rc, err := mb.Cache.Open(ctx, ref.Name, id)
	if err == nil {
		if err := rc.Close(); err != nil {
			return nil, fmt.Errorf("fetch %s: %w", id, err)
		}
		msg.local = true
	} else if errors.Is(err, client.ErrLocalCopyLost) {
		msg.lost = true
	} else if !errors.Is(err, client.ErrNotFound) {
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
	n, err := msg.mb.DownloadToCache(ctx, msg.ref, []string{msg.ID})
	if msg.lost && (errors.Is(err, client.ErrNotFound) || err == nil && n == 0) {
		return &lostError{op: msg.op(), id: msg.ID}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", msg.op(), err)
	}
	if n != 1 {
		return fmt.Errorf("%s: %w", msg.op(), client.ErrNotFound)
	}
	msg.local = true
	return nil
}

// lostError: the cache's copy of a message was deleted outside duomail
// and the server no longer has it either. It matches client.ErrNotFound.
type lostError struct{ op, id string }

func (e *lostError) Error() string {
	return e.op + ": the local copy of message " + e.id + " is missing from the cache (deleted outside duomail?) and it is no longer on the server"
}

func (e *lostError) Is(target error) bool {
	return target == client.ErrNotFound || target == client.ErrLocalCopyLost
}

// source returns the connected Source when this message is read part by
// part from the server, and nil when it is read from the cache (after
// downloading it there if the server cannot serve parts).
func (msg *Message) source(ctx context.Context) (client.Source, error) {
	if msg.local {
		return nil, nil
	}
	src, err := msg.mb.Source(ctx)
	if err != nil {
		return nil, err
	}
	caps, err := msg.mb.Capabilities(ctx)
	if err != nil {
		return nil, err
	}
	if caps.Has(client.FeaturePartialFetch) {
		return src, nil
	}
	return nil, msg.ensureLocal(ctx)
}

func (msg *Message) openLocal(ctx context.Context) (io.ReadCloser, error) {
	rc, err := msg.mb.Cache.Open(ctx, msg.Folder, msg.ID)
	if err != nil {
		return nil, fmt.Errorf("%s: read cache: %w", msg.op(), err)
	}
	return rc, nil
}

// Info returns the envelope and MIME tree.
func (msg *Message) Info(ctx context.Context) (client.Envelope, *client.Part, error) {
	if msg.env != nil {
		return *msg.env, msg.tree, nil
	}
	src, err := msg.source(ctx)
	if err != nil {
		return client.Envelope{}, nil, err
	}
	var env client.Envelope
	var tree *client.Part
	if src != nil {
		env, tree, err = src.Structure(ctx, msg.ref, msg.ID)
		if err != nil {
			return client.Envelope{}, nil, fmt.Errorf("%s: %w", msg.op(), err)
		}
	} else {
		if env, tree, err = msg.parseLocal(ctx); err != nil {
			return client.Envelope{}, nil, err
		}
	}
	env.ID, env.Folder = msg.ID, msg.Folder
	msg.env, msg.tree = &env, tree
	return env, tree, nil
}

// parseLocal parses the cached copy; flags and identity live in the
// index, not in the file.
func (msg *Message) parseLocal(ctx context.Context) (client.Envelope, *client.Part, error) {
	rc, err := msg.openLocal(ctx)
	if err != nil {
		return client.Envelope{}, nil, err
	}
	env, tree, err := mimepart.ParseMessage(rc)
	if cerr := rc.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return client.Envelope{}, nil, fmt.Errorf("%s: parse cached message: %w", msg.op(), err)
	}
	err = msg.mb.Cache.List(ctx, msg.Folder, client.ListOptions{IDs: []string{msg.ID}}, func(e client.Envelope) error {
		env.Flags, env.UIDValidity, env.Received = e.Flags, e.UIDValidity, e.Received
		return nil
	})
	if err != nil {
		return client.Envelope{}, nil, fmt.Errorf("%s: read flags from cache: %w", msg.op(), err)
	}
	return env, tree, nil
}

// WriteRaw writes the message byte-exact.
func (msg *Message) WriteRaw(ctx context.Context, w io.Writer) error {
	src, err := msg.source(ctx)
	if err != nil {
		return err
	}
	if src == nil {
		return msg.copyLocal(ctx, w)
	}
	got := false
	err = src.Download(ctx, msg.ref, []string{msg.ID}, func(id string, size int64, r io.Reader) error {
		got = true
		_, err := io.Copy(w, r)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", msg.op(), err)
	}
	if !got {
		return fmt.Errorf("%s: %w", msg.op(), client.ErrNotFound)
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
	src, err := msg.source(ctx)
	if err != nil {
		return err
	}
	if src != nil {
		if _, err := src.FetchPart(ctx, msg.ref, msg.ID, "HEADER", w); err != nil {
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
		if err == io.EOF || len(line) <= 2 && (string(line) == "\r\n" || string(line) == "\n") {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: header: %w", msg.op(), err)
		}
	}
}

// writePartRaw writes one part's body, still transfer-encoded.
func (msg *Message) writePartRaw(ctx context.Context, path string, w io.Writer) error {
	if !msg.local {
		src, err := msg.mb.Source(ctx)
		if err != nil {
			return err
		}
		if _, err := src.FetchPart(ctx, msg.ref, msg.ID, path, w); err != nil {
			return fmt.Errorf("%s: part %s: %w", msg.op(), path, err)
		}
		return nil
	}
	rc, err := msg.openLocal(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	if _, err := mimepart.CopyPart(rc, path, w); err != nil {
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
	// (an IMAP literal must be read to its end). A failure here is the
	// producer's, which done reports.
	_, _ = io.Copy(io.Discard, pr)
	ferr := <-done
	if ferr != nil {
		return ferr
	}
	return cerr
}

// WriteText writes the readable text: the plain part, or the HTML part
// rendered to text when there is no plain one (or PreferHTML is set).
// Only that part is fetched where the server allows. Warnings name what
// could not be decoded.
func (msg *Message) WriteText(ctx context.Context, w io.Writer) (warnings []string, err error) {
	_, tree, err := msg.Info(ctx)
	if err != nil {
		return nil, err
	}
	p := tree.TextPart()
	if h := tree.HTMLPart(); msg.PreferHTML && h != nil {
		p = h
	}
	if p == nil {
		return []string{"message has no text part; see its parts with --json or save attachments with --save-attachments"}, nil
	}
	return msg.WritePartText(ctx, p, w)
}

// WritePartText writes the readable text of p, a text part of this
// message's tree (a forwarded message's text too): decoded, HTML rendered.
func (msg *Message) WritePartText(ctx context.Context, p *client.Part, w io.Writer) (warnings []string, err error) {
	var render mimepart.HTMLRenderer
	if msg.RenderHTML != nil {
		render = func(html io.Reader, w io.Writer) error { return msg.RenderHTML(ctx, html, w) }
	}
	err = msg.streamPart(ctx, p.Path, func(r io.Reader) error {
		warn, err := mimepart.WriteTextWith(p, r, w, render)
		if warn != nil {
			warnings = append(warnings, warn.Error())
		}
		return err
	})
	return warnings, err
}

// WritePart writes one part decoded from its transfer encoding (text parts
// also converted to UTF-8).
func (msg *Message) WritePart(ctx context.Context, path string, w io.Writer) (*client.Part, []string, error) {
	if _, ok := client.ParsePartPath(path); !ok {
		return nil, nil, fmt.Errorf("%s: %w: part %q: a part is numbered like 1 or 1.2", msg.op(), client.ErrUsage, path)
	}
	_, tree, err := msg.Info(ctx)
	if err != nil {
		return nil, nil, err
	}
	p := tree.Find(path)
	if p == nil {
		return nil, nil, fmt.Errorf("%s: part %s: %w", msg.op(), path, client.ErrNotFound)
	}
	var warnings []string
	err = msg.streamPart(ctx, path, func(r io.Reader) error {
		dr, warn := mimepart.DecodePart(p, r)
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

// SavedAttachment says what became of one part --save-attachments saves.
type SavedAttachment struct {
	Part     string `json:"part"`
	Filename string `json:"filename"` // as the sender named it ("" for none)
	Type     string `json:"type"`
	Path     string `json:"path"`   // where it is (or would have gone, when it failed)
	Size     int64  `json:"size"`   // decoded bytes
	Status   string `json:"status"` // StatusSaved, StatusRenamed, StatusIdentical, StatusReplaced or StatusFailed
	Error    string `json:"error,omitempty"`
}

// Saveable lists what --save-attachments saves, in tree order: every
// attachment, and every message/rfc822 part (a forwarded message, saved
// whole as .eml), whose own attachments are saved as well.
func Saveable(tree *client.Part) []*client.Part {
	var out []*client.Part
	tree.Walk(func(q *client.Part) bool {
		switch {
		case q.Type == "message/rfc822":
			out = append(out, q)
			return true
		case q.IsAttachment():
			out = append(out, q)
			return false
		}
		return true
	})
	return out
}

// SaveName is the file name a part is saved under: the sender's name made
// safe, or for a forwarded message without one its subject and ".eml".
func SaveName(p *client.Part) string {
	if p.Type != "message/rfc822" || p.Filename != "" {
		return mimepart.SafeFilename(p.Filename, p)
	}
	subject := ""
	if p.Envelope != nil {
		subject = p.Envelope.Subject
	}
	if name := mimepart.SafeFilename(subject, nil); subject != "" && name != "attachment" {
		return name + ".eml"
	}
	return "message-" + strings.ReplaceAll(p.Path, ".", "-") + ".eml"
}

// SaveAttachments writes every part Saveable lists into dir, fetching only
// those parts where the server allows. Names are made safe, so nothing is
// written outside dir. A file already there with the same content counts
// as saved; a different one is kept and the part saved under a free name
// ("photo (2).png"), or with force replaced. Every part is tried and gets
// one entry; the error is the first failure. An encoding or charset it
// does not understand leaves the file undecoded and is reported through
// the Mailbox's DialOptions.Warn.
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
	for _, p := range Saveable(tree) {
		name := SaveName(p)
		sa := SavedAttachment{Part: p.Path, Filename: p.Filename, Type: p.Type}
		sa.Path, sa.Status, sa.Size, err = saveFile(dir, name, force, func(f io.Writer) (n int64, err error) {
			err = msg.streamPart(ctx, p.Path, func(r io.Reader) error {
				dr, warn := mimepart.DecodePart(p, r)
				if warn != nil {
					msg.mb.Opts.Warnf("%s: %s: %v", msg.op(), name, warn)
				}
				n, err = io.Copy(f, dr)
				return err
			})
			return n, err
		})
		if err != nil {
			err = fmt.Errorf("%s: save part %s as %s: %w", msg.op(), p.Path, name, err)
			sa.Status, sa.Error = StatusFailed, err.Error()
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
	if msg.env != nil && client.HasFlag(msg.env.Flags, client.FlagSeen) {
		return nil
	}
	_, err := msg.mb.Flag(ctx, msg.Folder, []string{msg.ID}, client.FlagAdd, []client.Flag{client.FlagSeen})
	return err
}
