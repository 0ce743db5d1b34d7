package popsrc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
)

// A window of commands in flight, bounded by count and by the bytes their
// answers are expected to carry: enough that the server never waits for
// the next RETR, small enough that the commands always fit in the socket
// buffers (so writing them never blocks while the server blocks writing
// to us) and that draining after an early stop stays cheap.
const (
	maxInFlight      = 64
	maxInFlightBytes = 8 << 20
)

// request is one command of a batch.
type request struct {
	op     string // names the command in errors: "retr 3 (id 0000000a5f1c2b7e)"
	line   string
	multi  bool  // a +OK answer carries a multi-line body
	weight int64 // bytes the answer is expected to carry
}

// response is the answer to one request: text after +OK and, for
// multi-line answers, the body; or the server's refusal.
type response struct {
	text    string
	refusal *client.ServerError
	body    *dotReader
}

// exchange sends the requests, pipelined when the server announced
// PIPELINING and one at a time otherwise, and calls handle for each answer
// in order. handle must not keep the body; what it leaves unread is
// skipped. An error from handle stops sending; the answers already asked
// for are read and dropped so the session stays usable, and that error is
// returned.
func (s *Source) exchange(reqs []request, handle func(i int, r response) error) error {
	window := 1
	if s.hasCapa("PIPELINING") {
		window = maxInFlight
	}
	var (
		sent, done int
		inflight   int64
		stopErr    error
	)
	for done < len(reqs) {
		if stopErr == nil && sent < len(reqs) && (sent == done || sent-done <= window/2) {
			for sent < len(reqs) && (sent == done || sent-done < window && inflight+reqs[sent].weight <= maxInFlightBytes) {
				s.c.send(reqs[sent].line, reqs[sent].line)
				inflight += reqs[sent].weight
				sent++
			}
			if err := s.c.flush(reqs[done].op); err != nil {
				return err
			}
		}
		if done == sent {
			break // stopped early, and every answer asked for is read
		}
		req := reqs[done]
		var resp response
		text, err := s.c.status(req.op)
		if err != nil {
			if !errors.As(err, &resp.refusal) {
				return err
			}
		} else {
			resp.text = text
			if req.multi {
				resp.body = s.c.body(req.op)
			}
		}
		if stopErr == nil {
			stopErr = handle(done, resp)
		}
		if resp.body != nil {
			if err := s.c.endBody(resp.body); err != nil {
				if stopErr != nil {
					return stopErr
				}
				return err
			}
		}
		inflight -= req.weight
		done++
	}
	return stopErr
}

// message is one message of the maildrop as this session knows it.
type message struct {
	num    int
	id     string // unique in the session
	name   string // the server's name (UIDL or header ID), which others may share
	size   int64
	digest string // client.HeaderHash of the header, once fetched
}

// maildrop maps IDs to this session's message numbers. POP3 numbers are
// only valid within a session, so every session learns them afresh, and no
// command names a number whose ID was not checked in this session.
type maildrop struct {
	msgs []*message // oldest first, without those deleted in this session
	byID map[string]*message
}

func (d *maildrop) remove(m *message) {
	delete(d.byID, m.id)
	for i, x := range d.msgs {
		if x == m {
			d.msgs = append(d.msgs[:i], d.msgs[i+1:]...)
			return
		}
	}
}

// load learns the maildrop with LIST and UIDL (or, without UIDL, a header
// digest per message). The maildrop does not change during a POP3 session
// except by our own DELE, so this happens once.
func (s *Source) load() error {
	if s.drop != nil {
		return nil
	}
	var (
		sizes  = map[int]int64{}
		order  []int
		uids   = map[int]string{}
		noUIDL string
	)
	// UIDL before LIST: GNU Mailutils pop3d makes a message's UIDL up
	// the first time it is asked for, as an X-UIDL header added to the
	// message, and a LIST sent before that counts the message without
	// the header that RETR will send and the next session's LIST will
	// count. Asked in this order, its sizes agree with the bytes and
	// stay the same from session to session.
	var reqs []request
	if s.uidl != refused {
		reqs = append(reqs, request{op: "uidl", line: "UIDL", multi: true})
	}
	reqs = append(reqs, request{op: "list", line: "LIST", multi: true})
	err := s.exchange(reqs, func(i int, r response) error {
		if reqs[i].op == "uidl" {
			if r.refusal != nil {
				noUIDL = r.refusal.Text
				return nil
			}
			return s.readListing(r.body, "uidl", func(num int, arg string) error {
				if !validUIDL(arg) {
					return fmt.Errorf("uidl: %w: invalid unique-id %q for message %d", client.ErrProtocol, clip(arg), num)
				}
				uids[num] = arg
				return nil
			})
		}
		if r.refusal != nil {
			return r.refusal
		}
		return s.readListing(r.body, "list", func(num int, arg string) error {
			size, err := strconv.ParseInt(arg, 10, 64)
			if err != nil || size < 0 {
				return fmt.Errorf("list: %w: invalid size %q for message %d", client.ErrProtocol, clip(arg), num)
			}
			if _, dup := sizes[num]; !dup {
				order = append(order, num)
			}
			sizes[num] = size
			return nil
		})
	})
	if err != nil {
		return err
	}
	var digests map[int]string
	if s.uidl == refused || noUIDL != "" {
		s.uidl = refused
		if digests, err = s.headerDigests(order, noUIDL); err != nil {
			return err
		}
		uids = make(map[int]string, len(digests))
		for num, d := range digests {
			uids[num] = "hdr-" + d
		}
	}
	// Messages that share a name (a server's duplicate UIDLs, or headers
	// alike) each get an ID of their own: the first keeps the name, the
	// others add "-2", "-3"... skipping names the server uses itself.
	taken := make(map[string]bool, len(uids))
	for _, id := range uids {
		taken[id] = true
	}
	drop := &maildrop{byID: make(map[string]*message, len(order))}
	next := map[string]int{} // the next counter to try for a name seen before
	var unidentified, duplicates int
	for _, num := range order {
		name, ok := uids[num]
		if !ok {
			unidentified++
			continue
		}
		id := name
		if k, dup := next[name]; dup {
			duplicates++
			for ; taken[name+"-"+strconv.Itoa(k)]; k++ {
			}
			id = name + "-" + strconv.Itoa(k)
			taken[id] = true
			next[name] = k + 1
		} else {
			next[name] = 2
		}
		m := &message{num: num, id: id, name: name, size: sizes[num], digest: digests[num]}
		drop.msgs = append(drop.msgs, m)
		drop.byID[id] = m
	}
	if unidentified > 0 {
		s.warnOnce(fmt.Sprintf("%s: %d message(s) have no unique ID on the server and are left alone", s.acct.Address(), unidentified))
	}
	if duplicates > 0 && s.uidl != refused {
		s.warnOnce(fmt.Sprintf("%s: %d message(s) share a unique ID (UIDL) with another; each is downloaded and kept under an ID of its own, and deleted from the server only once its own copy is stored", s.acct.Address(), duplicates))
	}
	s.drop = drop
	return nil
}

// readListing parses the "number argument" lines of LIST and UIDL.
func (s *Source) readListing(body *dotReader, op string, fn func(num int, arg string) error) error {
	body.traced = s.c.debug != nil
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 4096), maxLineLength)
	sc.Split(wholeLines)
	lines, size := 0, 0
	for sc.Scan() {
		if s.c.debug != nil {
			fmt.Fprintf(s.c.debug, "S: %s\n", sc.Text())
		}
		// A listing that never ends would otherwise be read, and its
		// entries kept, for as long as the server cares to send.
		if lines, size = lines+1, size+len(sc.Bytes()); lines > maxListingLines || size > maxListingBytes {
			// Broken, not drained: draining would read it all the same.
			return s.c.violation(op, "listing longer than %d messages or %d MB", maxListingLines, maxListingBytes>>20)
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		numText, arg, _ := strings.Cut(line, " ")
		num, err := strconv.Atoi(numText)
		if err != nil || num < 1 {
			return fmt.Errorf("%s: %w: malformed line %q", op, client.ErrProtocol, clip(line))
		}
		if err := fn(num, strings.TrimSpace(arg)); err != nil {
			return err
		}
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return s.c.violation(op, "line longer than %d bytes", maxLineLength)
	}
	return sc.Err()
}

// wholeLines splits like bufio.ScanLines but never hands on the start of a
// line that the stream ended inside: a connection cut after "9 " would
// otherwise read as message 9 with an empty UIDL (a protocol violation)
// instead of the network error it is. The reader's error, when there is
// one, is what the scan reports.
func wholeLines(data []byte, atEOF bool) (int, []byte, error) {
	if bytes.IndexByte(data, '\n') >= 0 {
		return bufio.ScanLines(data, false)
	}
	if atEOF && len(data) > 0 {
		return 0, nil, fmt.Errorf("%w: the listing ends inside a line", client.ErrProtocol)
	}
	return 0, nil, nil
}

// Bounds of a LIST or UIDL answer: far above any real maildrop (a UIDL
// line is at most about 80 bytes), far below what exhausts memory.
const (
	maxListingLines = 2_000_000
	maxListingBytes = 192 << 20
)

// validUIDL checks RFC 1939 7: 1 to 70 characters from 0x21 to 0x7E.
func validUIDL(id string) bool {
	if len(id) == 0 || len(id) > 70 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// headerDigests identifies messages on a server without UIDL, as fetchmail
// does: by a digest of each message's header, fetched with TOP n 0. The
// header carries Received, Message-ID and Date fields that make it unique in
// practice; load gives exact copies a counter.
func (s *Source) headerDigests(order []int, why string) (map[int]string, error) {
	if s.top == refused {
		return nil, client.Unsupported("identify messages",
			"the server has neither UIDL nor TOP, so duomail cannot identify messages safely between sessions (it could download or delete the wrong ones)")
	}
	detail := "it does not announce UIDL"
	if why != "" {
		detail = "it refused UIDL: " + why
	}
	s.warnOnce(fmt.Sprintf("%s: server has no UIDL (%s); identifying messages by a digest of their headers (TOP n 0), as fetchmail does; this costs one TOP per message and cannot tell exact copies apart", s.acct.Address(), detail))

	reqs := make([]request, len(order))
	for i, num := range order {
		reqs[i] = request{op: fmt.Sprintf("top %d 0", num), line: fmt.Sprintf("TOP %d 0", num), multi: true}
	}
	ids := make(map[int]string, len(order))
	var refusedTOP *client.ServerError
	h := client.NewHeaderHash()
	err := s.exchange(reqs, func(i int, r response) error {
		if r.refusal != nil {
			if i == 0 && s.top == unknown {
				refusedTOP = r.refusal
				return r.refusal
			}
			return nil // this message stays unidentified
		}
		h.Reset()
		if _, err := io.Copy(h, r.body); err != nil {
			return err
		}
		ids[order[i]] = h.Sum()
		return nil
	})
	if refusedTOP != nil {
		s.top = refused
		return nil, client.Unsupported("identify messages",
			"the server has neither UIDL nor TOP ("+refusedTOP.Error()+"), so duomail cannot identify messages safely between sessions")
	}
	if err != nil {
		return nil, err
	}
	if len(order) > 0 {
		s.top = supported
	}
	return ids, nil
}

func (s *Source) Inventory(ctx context.Context, ref client.FolderRef, opts client.InventoryOptions) (client.FolderStatus, []client.Item, error) {
	if err := checkRef("inventory", ref); err != nil {
		return client.FolderStatus{}, nil, err
	}
	end, err := s.c.begin(ctx)
	if err != nil {
		return client.FolderStatus{}, nil, err
	}
	defer end()
	if err := s.load(); err != nil {
		return client.FolderStatus{}, nil, err
	}
	items := make([]client.Item, len(s.drop.msgs))
	for i, m := range s.drop.msgs {
		items[i] = client.Item{ID: m.id, Size: m.size}
		if m.name != m.id {
			items[i].Name = m.name
		}
	}
	return s.folderStatus(), items, nil
}

func (s *Source) folderStatus() client.FolderStatus {
	return client.FolderStatus{Name: client.Inbox, Messages: len(s.drop.msgs), Unseen: -1}
}

// lookup maps IDs to messages, keeping the order given, and reports the
// IDs that are not on the server.
func (s *Source) lookup(ids []string) (found []*message, missing []string) {
	for _, id := range ids {
		if m := s.drop.byID[id]; m != nil {
			found = append(found, m)
		} else {
			missing = append(missing, id)
		}
	}
	return found, missing
}

func notFound(op string, missing []string) error {
	if len(missing) == 0 {
		return nil
	}
	shown := missing
	if len(shown) > 10 {
		shown = shown[:10]
	}
	more := ""
	if len(missing) > len(shown) {
		more = fmt.Sprintf(" and %d more", len(missing)-len(shown))
	}
	return fmt.Errorf("%s: %w: %d message(s) not on the server: %s%s", op, client.ErrNotFound, len(missing), strings.Join(shown, " "), more)
}

func msgOp(verb string, m *message) string {
	return fmt.Sprintf("%s %d (id %s)", verb, m.num, m.id)
}

func (s *Source) List(ctx context.Context, ref client.FolderRef, opts client.ListOptions, fn func(client.Envelope) error) (client.FolderStatus, error) {
	if err := checkRef("list", ref); err != nil {
		return client.FolderStatus{}, err
	}
	if opts.Unseen {
		return client.FolderStatus{}, client.Unsupported("list --unseen", "a POP3 server does not know which messages were read; only duomail's cache does")
	}
	if s.top == refused {
		return client.FolderStatus{}, client.Unsupported("list --headers-only", "server lacks TOP")
	}
	end, err := s.c.begin(ctx)
	if err != nil {
		return client.FolderStatus{}, err
	}
	defer end()
	if err := s.load(); err != nil {
		return client.FolderStatus{}, err
	}
	var msgs []*message
	var missing []string
	if opts.IDs != nil {
		// Newest first here too, whatever order the IDs came in.
		want := make(map[string]bool, len(opts.IDs))
		for _, id := range opts.IDs {
			want[id] = true
		}
		for i := len(s.drop.msgs) - 1; i >= 0; i-- {
			if m := s.drop.msgs[i]; want[m.id] {
				msgs = append(msgs, m)
				delete(want, m.id)
			}
		}
		for _, id := range opts.IDs {
			if want[id] {
				missing = append(missing, id)
				delete(want, id)
			}
		}
	} else {
		for i := len(s.drop.msgs) - 1; i >= 0; i-- {
			if opts.Limit > 0 && len(msgs) == opts.Limit {
				break
			}
			msgs = append(msgs, s.drop.msgs[i])
		}
	}
	err = s.headers(msgs, "list --headers-only", func(i int, header io.Reader) error {
		env, err := envelope(header)
		if err != nil {
			return err
		}
		env.ID, env.Size = msgs[i].id, msgs[i].size
		return fn(env)
	})
	if err != nil {
		return client.FolderStatus{}, err
	}
	return s.folderStatus(), notFound("list", missing)
}

// envelope reads a header (the answer to TOP n 0) into an envelope.
func envelope(r io.Reader) (client.Envelope, error) {
	h, err := mimepart.ReadHeaderBounded(bufio.NewReader(r))
	if err != nil {
		return client.Envelope{}, err
	}
	env := mimepart.EnvelopeFromHeader(h)
	env.Folder = client.Inbox
	env.ReplyTo = nil // fetch shows it; listings do not (as IMAP's)
	// Only the header is known: a mixed multipart is the usual shape of
	// a message with attachments.
	if t, _, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil {
		env.HasAttachments = strings.EqualFold(t, "multipart/mixed")
	}
	return env, nil
}

func (s *Source) Download(ctx context.Context, ref client.FolderRef, ids []string, fn func(id string, size int64, r io.Reader) error) error {
	if err := checkRef("download", ref); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	end, err := s.c.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if err := s.load(); err != nil {
		return err
	}
	msgs, missing := s.lookup(ids)
	reqs := make([]request, len(msgs))
	for i, m := range msgs {
		reqs[i] = request{op: msgOp("retr", m), line: "RETR " + strconv.Itoa(m.num), multi: true, weight: m.size}
	}
	var errs []error
	err = s.exchange(reqs, func(i int, r response) error {
		if r.refusal != nil {
			errs = append(errs, r.refusal)
			return nil
		}
		return fn(msgs[i].id, msgs[i].size, &sizeCheck{r: r.body, op: msgOp("retr", msgs[i]), announced: msgs[i].size})
	})
	if err != nil {
		return err
	}
	return errors.Join(append(errs, notFound("download", missing))...)
}

func (s *Source) Delete(ctx context.Context, ref client.FolderRef, ids []string, opts client.DeleteOptions) (client.DeleteResult, error) {
	if err := checkRef("delete", ref); err != nil {
		return client.DeleteResult{}, err
	}
	if len(ids) == 0 {
		return client.DeleteResult{}, nil
	}
	end, err := s.c.begin(ctx)
	if err != nil {
		return client.DeleteResult{}, err
	}
	defer end()
	if err := s.load(); err != nil {
		return client.DeleteResult{}, err
	}
	msgs, missing := s.lookup(ids)
	reqs := make([]request, len(msgs))
	for i, m := range msgs {
		reqs[i] = request{op: msgOp("dele", m), line: "DELE " + strconv.Itoa(m.num)}
	}
	var errs []error
	marked := 0
	err = s.exchange(reqs, func(i int, r response) error {
		if r.refusal != nil {
			errs = append(errs, r.refusal)
			return nil
		}
		s.drop.remove(msgs[i])
		s.deletes++
		marked++
		return nil
	})
	res := client.DeleteResult{Expunged: marked > 0, Pending: marked > 0}
	if err != nil {
		return res, err
	}
	return res, errors.Join(append(errs, notFound("delete", missing))...)
}

// sizeCheck fails a message that ends much shorter than LIST announced: a
// server that lost part of it. Servers count sizes their own way (GNU
// Mailutils announces less than it sends, some count LF line ends where
// CRLF go out), so only fewer bytes than the announced size less one per
// line received is taken as a truncation.
type sizeCheck struct {
	r         io.Reader
	op        string
	announced int64
	got       int64
	lines     int64
}

func (c *sizeCheck) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.got += int64(n)
	c.lines += int64(bytes.Count(p[:n], []byte{'\n'}))
	if err == io.EOF && c.got < c.announced-c.lines {
		return n, fmt.Errorf("%s: %w: %d bytes arrived, but the server announced %d (LIST)", c.op, client.ErrIncomplete, c.got, c.announced)
	}
	return n, err
}

// HeaderDigests implements client.Identifier with TOP n 0, pipelined,
// for the messages whose digest this session does not know yet.
func (s *Source) HeaderDigests(ctx context.Context, ref client.FolderRef, ids []string) (map[string]string, error) {
	if err := checkRef("identify", ref); err != nil {
		return nil, err
	}
	if s.top == refused {
		return nil, client.Unsupported("identify messages", "server lacks TOP")
	}
	end, err := s.c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	if err := s.load(); err != nil {
		return nil, err
	}
	found, _ := s.lookup(ids)
	var ask []*message
	for _, m := range found {
		if m.digest == "" {
			ask = append(ask, m)
		}
	}
	h := client.NewHeaderHash()
	err = s.headers(ask, "identify messages", func(i int, header io.Reader) error {
		h.Reset()
		if _, err := io.Copy(h, header); err != nil {
			return err
		}
		ask[i].digest = h.Sum()
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(found))
	for _, m := range found {
		out[m.id] = m.digest
	}
	return out, nil
}

// headers sends TOP n 0 for msgs, pipelined, and calls fn with each header
// in order. The first refusal of a server not yet known to have TOP marks it
// as lacking TOP for the session, so op fails as unsupported from then on
// without asking again.
func (s *Source) headers(msgs []*message, op string, fn func(i int, header io.Reader) error) error {
	reqs := make([]request, len(msgs))
	for i, m := range msgs {
		reqs[i] = request{op: msgOp("top", m), line: fmt.Sprintf("TOP %d 0", m.num), multi: true}
	}
	var refusedTOP bool
	err := s.exchange(reqs, func(i int, r response) error {
		if r.refusal != nil {
			if s.top == unknown {
				refusedTOP = true
			}
			return r.refusal
		}
		s.top = supported
		return fn(i, r.body)
	})
	if refusedTOP {
		s.top = refused
		return client.Unsupported(op, "server lacks TOP")
	}
	return err
}
