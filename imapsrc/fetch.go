package imapsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/duomail/duomail/client"
)

// listChunk is how many envelopes one FETCH of List asks for: memory stays
// bounded and the first envelopes reach fn early.
const listChunk = 500

var envelopeItems = &imap.FetchOptions{
	UID:           true,
	Flags:         true,
	Envelope:      true,
	RFC822Size:    true,
	InternalDate:  true,
	BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
}

// List calls fn with envelopes newest first (descending UID), fetched in
// chunks from the newest end without a single body byte; another order or
// an offset goes through the search's ordering (see Search).
func (s *Source) List(ctx context.Context, ref client.FolderRef, opts client.ListOptions, fn func(client.Envelope) error) (client.FolderStatus, error) {
	op := "list " + ref.Name
	var st client.FolderStatus
	err := s.run(ctx, op, func() error {
		var uids []imap.UID
		var err error
		if len(opts.IDs) > 0 {
			if uids, err = parseIDs(op, opts.IDs); err != nil {
				return err
			}
		}
		if err := s.useRef(op, ref, false); err != nil {
			return err
		}
		st = s.sel.status
		if mb := s.c.Mailbox(); mb != nil {
			st.Messages = int(mb.NumMessages)
		}
		switch {
		case len(opts.IDs) > 0:
		case st.Messages == 0:
			return nil
		case opts.Sort != "" || opts.Reverse || opts.Offset > 0:
			// An order other than newest UID first, or a page further on:
			// the search's ordering (SORT where offered) does it.
			crit := &imap.SearchCriteria{}
			if opts.Unseen {
				crit.NotFlag = []imap.Flag{imap.FlagSeen}
			}
			useSort := opts.Sort != "" && s.caps.Has(imap.CapSort)
			if uids, _, err = s.runSearch(op, crit, nil, opts, useSort); err != nil {
				return err
			}
			return s.deliverPage(op, ref.Name, uids, useSort, nil, opts, fn)
		case opts.Unseen:
			uids, err = s.searchUIDs(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}})
		default:
			uids, err = s.searchUIDs(&imap.SearchCriteria{})
		}
		if err != nil {
			return s.translate(op, err)
		}
		sort.Slice(uids, func(i, j int) bool { return uids[i] > uids[j] })
		if opts.Limit > 0 && len(opts.IDs) == 0 && len(uids) > opts.Limit {
			uids = uids[:opts.Limit]
		}
		gone, err := s.listPages(op, ref.Name, st.UIDValidity, uids, opts.Known, fn)
		if err != nil {
			return err
		}
		// Mail deleted meanwhile simply is not listed, unless the caller
		// asked for it by ID.
		if len(gone) > 0 && len(opts.IDs) > 0 {
			return s.missing(gone)
		}
		return nil
	})
	return st, err
}

// listWindow is how many chunk FETCHes of a listing are in flight at
// once: the server answers the next chunks while this side decodes and
// hands over the last, instead of the two taking turns; memory stays
// bounded by what imapclient buffers per command.
const listWindow = 4

// knownItems are asked for messages whose envelope the caller holds: the
// flags, and the envelope to recognise a server that reused a UID for
// other content. Size and structure, which cost Dovecot a read of its
// whole UID list or of the message, come from what the caller holds.
var knownItems = &imap.FetchOptions{UID: true, Flags: true, Envelope: true}

// listPage is one chunk of a listing on the wire: envelopes asked for in
// full, and those the caller already knows asked for their flags alone.
type listPage struct {
	uids  []imap.UID // in the order to deliver
	known map[imap.UID]client.Envelope
	cmds  []*pageFetch
	got   map[imap.UID]*imapclient.FetchMessageBuffer
}

// pageFetch is one FETCH of a chunk, read by a goroutine of its own: a
// server may answer pipelined FETCHes interleaved (Dovecot does), and
// imapclient stalls every command when one command's unread answers pile up.
type pageFetch struct {
	cmd  *imapclient.FetchCommand
	got  map[imap.UID]*imapclient.FetchMessageBuffer
	err  error
	done chan struct{}
}

func startPageFetch(cmd *imapclient.FetchCommand, items *imap.FetchOptions, wanted map[imap.UID]bool) *pageFetch {
	f := &pageFetch{cmd: cmd, got: make(map[imap.UID]*imapclient.FetchMessageBuffer), done: make(chan struct{})}
	go func() {
		defer close(f.done)
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			buf, err := msg.Collect()
			if err != nil {
				if f.err == nil {
					f.err = err
				}
				continue
			}
			if wanted[buf.UID] && complete(buf, items) {
				f.got[buf.UID] = buf
			}
		}
		if err := cmd.Close(); err != nil && f.err == nil {
			f.err = err
		}
	}()
	return f
}

// listPages fetches the envelopes of uids in chunks, several chunks in
// flight at a time, and hands them to fn in the order of uids. It returns
// the UIDs expunged meanwhile.
func (s *Source) listPages(op, folder string, uidValidity uint32, uids []imap.UID, known func(uint32, []string) (map[string]client.Envelope, error), fn func(client.Envelope) error) ([]imap.UID, error) {
	var (
		inFlight []*listPage
		gone     []imap.UID
	)
	// An early return must not leave answers on the wire: imapclient
	// would stall on a command nobody reads and hang the next one.
	defer func() {
		for _, p := range inFlight {
			for _, f := range p.cmds {
				<-f.done
			}
		}
	}()
	start := func(chunk []imap.UID) error {
		p := &listPage{uids: chunk, got: make(map[imap.UID]*imapclient.FetchMessageBuffer, len(chunk))}
		if known != nil {
			ids := make([]string, len(chunk))
			for i, u := range chunk {
				ids[i] = uidString(u)
			}
			envs, err := known(uidValidity, ids)
			if err != nil {
				return &callbackError{err}
			}
			p.known = make(map[imap.UID]client.Envelope, len(envs))
			for _, u := range chunk {
				if e, ok := envs[uidString(u)]; ok {
					p.known[u] = e
				}
			}
		}
		wanted := make(map[imap.UID]bool, len(chunk))
		var full, flagsOnly []imap.UID
		for _, u := range chunk {
			wanted[u] = true
			if _, ok := p.known[u]; ok {
				flagsOnly = append(flagsOnly, u)
			} else {
				full = append(full, u)
			}
		}
		for _, part := range []struct {
			uids  []imap.UID
			items *imap.FetchOptions
		}{{full, envelopeItems}, {flagsOnly, knownItems}} {
			if len(part.uids) == 0 {
				continue
			}
			for _, set := range chunkUIDs(part.uids) {
				p.cmds = append(p.cmds, startPageFetch(s.c.Fetch(set, part.items), part.items, wanted))
			}
		}
		inFlight = append(inFlight, p)
		return nil
	}
	// collect waits for the answers of the oldest chunk in flight.
	collect := func() (*listPage, error) {
		p := inFlight[0]
		inFlight = inFlight[1:]
		var first error
		for _, f := range p.cmds {
			<-f.done
			if f.err != nil && first == nil {
				first = f.err
			}
			for u, b := range f.got {
				p.got[u] = b
			}
		}
		p.cmds = nil
		return p, first
	}
	deliver := func(p *listPage) error {
		for u, e := range p.known {
			if buf := p.got[u]; buf != nil && !sameEnvelope(e, buf) {
				// The server reused the UID (against the protocol): what
				// it says now wins, asked for in full below.
				delete(p.known, u)
				delete(p.got, u)
			}
		}
		if missing := missingUIDs(p.uids, p.got); len(missing) > 0 {
			// Asked again one by one kind, with nothing else in flight so
			// that the answers cannot queue behind unread ones.
			var done []*listPage
			for len(inFlight) > 0 {
				q, err := collect()
				if err != nil {
					return s.translate(op, err)
				}
				done = append(done, q)
			}
			var full, flagsOnly []imap.UID
			for _, u := range missing {
				if _, ok := p.known[u]; ok {
					flagsOnly = append(flagsOnly, u)
				} else {
					full = append(full, u)
				}
			}
			for _, part := range []struct {
				uids  []imap.UID
				items *imap.FetchOptions
			}{{full, envelopeItems}, {flagsOnly, knownItems}} {
				if len(part.uids) == 0 {
					continue
				}
				got, err := s.fetchMeta(part.uids, part.items)
				if err != nil {
					return s.translate(op, err)
				}
				for u, b := range got {
					p.got[u] = b
				}
			}
			lost, err := s.unmatched(op, p.uids, p.got)
			if err != nil {
				return err
			}
			gone = append(gone, lost...)
			// The chunks drained above go back in front, in order.
			inFlight = append(done, inFlight...)
			for _, q := range done {
				q.cmds = nil
			}
		}
		for _, u := range p.uids {
			buf := p.got[u]
			if buf == nil {
				continue
			}
			var env client.Envelope
			if e, ok := p.known[u]; ok {
				env = e
				env.Flags = flagsFrom(buf.Flags)
				fresh, _ := envelopeFrom(buf, folder, uidValidity)
				// The header fields as the server gives them, as from an
				// empty cache.
				env.From, env.To, env.Cc, env.Subject, env.Date, env.MessageID, env.InReplyTo = fresh.From, fresh.To, fresh.Cc, fresh.Subject, fresh.Date, fresh.MessageID, fresh.InReplyTo
			} else {
				env, _ = envelopeFrom(buf, folder, uidValidity)
				// fetch shows Reply-To; a listing does not, and the cache
				// that POP3 lists from keeps none.
				env.ReplyTo = nil
			}
			if err := fn(env); err != nil {
				return &callbackError{err}
			}
		}
		return nil
	}
	for len(uids) > 0 || len(inFlight) > 0 {
		for len(uids) > 0 && len(inFlight) < listWindow {
			chunk := uids[:min(listChunk, len(uids))]
			uids = uids[len(chunk):]
			if err := start(chunk); err != nil {
				return nil, err
			}
		}
		if inFlight[0].cmds == nil {
			// Collected already while another chunk was asked again.
			p := inFlight[0]
			inFlight = inFlight[1:]
			if err := deliver(p); err != nil {
				return nil, err
			}
			continue
		}
		p, err := collect()
		if err != nil {
			return nil, s.translate(op, err)
		}
		if err := deliver(p); err != nil {
			return nil, err
		}
	}
	return gone, nil
}

// sameEnvelope says whether the server's ENVELOPE in buf is the one held
// for the message: the same Message-ID, or without one the same subject
// and date. (A held envelope may come from the parsed message, whose
// addresses can be spelled differently from the server's ENVELOPE.)
func sameEnvelope(held client.Envelope, buf *imapclient.FetchMessageBuffer) bool {
	fresh, _ := envelopeFrom(buf, held.Folder, held.UIDValidity)
	if fresh.MessageID != "" || held.MessageID != "" {
		return fresh.MessageID == held.MessageID
	}
	return fresh.Subject == held.Subject && fresh.Date.Equal(held.Date)
}

// fetchMeta fetches items without body sections for the given UIDs and asks
// once more for those the answer lacked.
func (s *Source) fetchMeta(uids []imap.UID, opts *imap.FetchOptions) (map[imap.UID]*imapclient.FetchMessageBuffer, error) {
	wanted := make(map[imap.UID]bool, len(uids))
	for _, u := range uids {
		wanted[u] = true
	}
	got := make(map[imap.UID]*imapclient.FetchMessageBuffer, len(uids))
	fetch := func(list []imap.UID) error {
		for _, set := range chunkUIDs(list) {
			cmd := s.c.Fetch(set, opts)
			for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
				buf, err := msg.Collect()
				if err != nil {
					cmd.Close()
					return err
				}
				if wanted[buf.UID] && complete(buf, opts) {
					got[buf.UID] = buf
				}
			}
			if err := cmd.Close(); err != nil {
				return err
			}
		}
		return nil
	}
	if err := fetch(uids); err != nil {
		return nil, err
	}
	if missing := missingUIDs(uids, got); len(missing) > 0 {
		if err := fetch(missing); err != nil {
			return nil, err
		}
	}
	return got, nil
}

// complete reports whether buf carries the items a listing shows. A server
// may split one message's items over several FETCH responses, and a flag
// change made by another session arrives as a FETCH of its own (with the
// UID, from Dovecot); imapclient hands only the first response for a
// message to the command. An incomplete one counts as not delivered, so
// the message is asked for again, and fails loudly if it stays incomplete,
// instead of being listed with an empty envelope.
func complete(buf *imapclient.FetchMessageBuffer, opts *imap.FetchOptions) bool {
	return (!opts.Envelope || buf.Envelope != nil) && (opts.BodyStructure == nil || buf.BodyStructure != nil)
}

func missingUIDs[T any](asked []imap.UID, got map[imap.UID]T) []imap.UID {
	var out []imap.UID
	for _, u := range asked {
		if _, ok := got[u]; !ok {
			out = append(out, u)
		}
	}
	return out
}

// unmatched looks at UIDs that were asked for and not delivered. Those the
// server still has mean its answer could not be matched (FETCH items in an
// unusual order, duplicates): that fails loudly instead of losing mail.
// The others were deleted meanwhile and are returned.
func (s *Source) unmatched(op string, asked []imap.UID, got map[imap.UID]*imapclient.FetchMessageBuffer) ([]imap.UID, error) {
	missing := missingUIDs(asked, got)
	if len(missing) == 0 {
		return nil, nil
	}
	if err := s.checkMissing(op, missing, func(imap.UID) bool { return false }); err != nil && !isNotFound(err) {
		return nil, err
	}
	return missing, nil
}

// Structure returns the envelope and MIME tree from ENVELOPE and
// BODYSTRUCTURE, numbered exactly as mimepart.ParseMessage numbers the parts.
func (s *Source) Structure(ctx context.Context, ref client.FolderRef, id string) (client.Envelope, *client.Part, error) {
	op := "structure uid " + id
	var (
		env  client.Envelope
		root *client.Part
	)
	err := s.run(ctx, op, func() error {
		uids, err := parseIDs(op, []string{id})
		if err != nil {
			return err
		}
		if err := s.useRef(op, ref, false); err != nil {
			return err
		}
		got, err := s.fetchMeta(uids, envelopeItems)
		if err != nil {
			return s.translate(op, err)
		}
		buf := got[uids[0]]
		if buf == nil {
			return s.checkMissing(op, uids, func(imap.UID) bool { return false })
		}
		env, root = envelopeFrom(buf, ref.Name, s.sel.status.UIDValidity)
		if root == nil {
			return fmt.Errorf("%s: %w: the server sent no BODYSTRUCTURE", op, client.ErrProtocol)
		}
		return nil
	})
	return env, root, err
}

// FetchPart streams one part, still transfer-encoded, with BODY.PEEK so
// \Seen is never set. path "HEADER" is the message's header.
func (s *Source) FetchPart(ctx context.Context, ref client.FolderRef, id, path string, w io.Writer) (int64, error) {
	op := "fetch uid " + id + " part " + path
	var written int64
	err := s.run(ctx, op, func() error {
		uids, err := parseIDs(op, []string{id})
		if err != nil {
			return err
		}
		section := &imap.FetchItemBodySection{Peek: true}
		if strings.EqualFold(path, "HEADER") {
			section.Specifier = imap.PartSpecifierHeader
		} else if nums, ok := client.ParsePartPath(path); ok {
			section.Part = nums
		} else {
			return fmt.Errorf("%s: %w: a part is numbered like 1 or 1.2, or HEADER", op, client.ErrUsage)
		}
		if err := s.useRef(op, ref, false); err != nil {
			return err
		}
		uid := uids[0]
		cmd := s.c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
		found, nilPart := false, false
		var writeErr error
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			var got imap.UID
			for item := msg.Next(); item != nil; item = msg.Next() {
				switch it := item.(type) {
				case imapclient.FetchItemDataUID:
					got = it.UID
				case imapclient.FetchItemDataBodySection:
					if got != uid || found || !it.MatchCommand(section) {
						continue
					}
					found = true
					if it.Literal == nil {
						nilPart = true
						continue
					}
					lit := newLiteralGuard(it.Literal)
					var copyErr error
					written, copyErr = io.Copy(w, lit)
					if lit.err != nil {
						// As in deliver: the literal must not be read
						// again once it failed.
						out := s.translate(op, lit.err)
						s.breakWith(out)
						return out
					}
					// The literal was read whole, so what failed is the
					// caller's writer.
					writeErr = copyErr
				}
			}
		}
		if err := cmd.Close(); err != nil {
			return s.translate(op, err)
		}
		if writeErr != nil {
			return fmt.Errorf("%s: %w", op, writeErr)
		}
		if nilPart {
			return fmt.Errorf("%s: %w (the message has no such part)", op, client.ErrNotFound)
		}
		if !found {
			return s.checkMissing(op, uids, func(imap.UID) bool { return false })
		}
		return nil
	})
	return written, err
}

// literalGuard remembers a failed read of a literal. io.EOF is the normal
// end only once the announced size has arrived: imapclient reads a literal
// through an io.LimitReader, so a connection closed in the middle of one
// looks like its normal end, and a cut message would pass for whole.
type literalGuard struct {
	r    io.Reader
	left int64 // bytes announced and not yet read
	err  error
}

func newLiteralGuard(lit imap.LiteralReader) *literalGuard {
	return &literalGuard{r: lit, left: lit.Size()}
}

func (g *literalGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	g.left -= int64(n)
	if err == io.EOF && g.left > 0 {
		err = fmt.Errorf("literal cut short, %d bytes missing: %w", g.left, io.ErrUnexpectedEOF)
	}
	if err != nil && err != io.EOF {
		g.err = err
	}
	return n, err
}

// Download streams whole messages with one UID FETCH (UID RFC822.SIZE
// BODY.PEEK[]) for all of them; each literal goes straight from the
// connection to fn.
func (s *Source) Download(ctx context.Context, ref client.FolderRef, ids []string, fn func(id string, size int64, r io.Reader) error) error {
	op := "download from " + ref.Name
	uids, err := parseIDs(op, ids)
	if err != nil {
		return err
	}
	if len(uids) == 0 {
		return nil
	}
	return s.run(ctx, op, func() error {
		if err := s.useRef(op, ref, false); err != nil {
			return err
		}
		wanted := make(map[imap.UID]bool, len(uids))
		for _, u := range uids {
			wanted[u] = true
		}
		delivered := make(map[imap.UID]bool, len(uids))
		stream := func(list []imap.UID) error {
			for _, set := range chunkUIDs(list) {
				cmd := s.c.Fetch(set, &imap.FetchOptions{
					UID:         true,
					RFC822Size:  true,
					BodySection: []*imap.FetchItemBodySection{{Peek: true}},
				})
				if err := s.deliver(op, cmd, wanted, delivered, fn); err != nil {
					return err
				}
			}
			return nil
		}
		if err := stream(uids); err != nil {
			return err
		}
		if missing := missingUIDs(uids, delivered); len(missing) > 0 {
			if err := stream(missing); err != nil {
				return err
			}
		}
		return s.checkMissing(op, uids, func(u imap.UID) bool { return delivered[u] })
	})
}

// deliver hands each message of a running FETCH to fn.
func (s *Source) deliver(op string, cmd *imapclient.FetchCommand, wanted, delivered map[imap.UID]bool, fn func(string, int64, io.Reader) error) error {
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var uid imap.UID
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil || !wanted[uid] || delivered[uid] ||
					it.Section.Specifier != imap.PartSpecifierNone || len(it.Section.Part) > 0 {
					continue // Next discards an unread literal
				}
				delivered[uid] = true
				lit := newLiteralGuard(it.Literal)
				err := fn(uidString(uid), it.Literal.Size(), lit)
				if lit.err != nil {
					// The connection failed under fn. imapclient's reader
					// has moved on and owns the buffer now: the literal
					// must not be read again, not even to discard it, so
					// cmd is left alone; the reader ends by itself on the
					// closed connection.
					if err == nil {
						err = lit.err
					}
					out := s.translate(fmt.Sprintf("%s: uid %d", op, uid), err)
					s.breakWith(out)
					return out
				}
				if err != nil {
					// Stop now: draining the rest of a large FETCH could
					// take minutes, so the connection is dropped; closing
					// cmd then ends at once and releases imapclient's
					// reader, which waits for the literal to be consumed.
					s.breakWith(fmt.Errorf("download stopped: %w", err))
					cmd.Close()
					return fmt.Errorf("%s: uid %d: %w", op, uid, &callbackError{err})
				}
			}
		}
	}
	if err := cmd.Close(); err != nil {
		return s.translate(op, err)
	}
	return nil
}

func uidString(u imap.UID) string { return strconv.FormatUint(uint64(u), 10) }

// parseIDs turns message IDs into UIDs (sorted, without duplicates); an ID
// that is not a positive number is a usage error.
func parseIDs(op string, ids []string) ([]imap.UID, error) {
	seen := make(map[imap.UID]bool, len(ids))
	out := make([]imap.UID, 0, len(ids))
	for _, id := range ids {
		n, err := strconv.ParseUint(id, 10, 32)
		if err != nil || n == 0 || strconv.FormatUint(n, 10) != id {
			return nil, fmt.Errorf("%s: %w: message ID %q is not an IMAP UID (a positive number)", op, client.ErrUsage, id)
		}
		if u := imap.UID(n); !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// maxSetChars bounds the text of one UID set, so a command line stays far
// below the servers' limits (Dovecot: 64 KiB).
const maxSetChars = 8000

// chunkUIDs packs UIDs into sets of ranges, as few as fit under maxSetChars.
// It never returns an empty set: imapclient closes the connection on one.
func chunkUIDs(uids []imap.UID) []imap.UIDSet {
	u := append([]imap.UID(nil), uids...)
	sort.Slice(u, func(i, j int) bool { return u[i] < u[j] })
	var (
		out []imap.UIDSet
		cur imap.UIDSet
		n   int
	)
	for i := 0; i < len(u); {
		j := i
		for j+1 < len(u) && (u[j+1] == u[j] || u[j+1] == u[j]+1) {
			j++
		}
		r := imap.UIDRange{Start: u[i], Stop: u[j]}
		l := len(uidString(u[i])) + 1
		if u[j] != u[i] {
			l += len(uidString(u[j])) + 1
		}
		if n+l > maxSetChars && len(cur) > 0 {
			out = append(out, cur)
			cur, n = nil, 0
		}
		cur = append(cur, r)
		n += l
		i = j + 1
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func formatUIDs(uids []imap.UID) string {
	var set imap.UIDSet
	set.AddNum(uids...)
	return set.String()
}

func isNotFound(err error) bool {
	return errors.Is(err, client.ErrNotFound) && !errors.Is(err, client.ErrProtocol)
}

// callbackError carries an error returned by the caller's function through
// run untouched: it is not a connection failure.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }
func (e *callbackError) Unwrap() error { return e.err }
