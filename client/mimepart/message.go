// Package mimepart reads Internet messages as MIME trees: it parses a
// message into its envelope and client.Part tree with bounded memory,
// copies one part out of a raw message, decodes a part's transfer encoding
// and charset, renders its readable text (HTML turned into plain text),
// decodes RFC 2047/2231 header words and parameters, and turns a sender's
// attachment name into a safe file name. It never touches the network or
// the cache: Sources, the cache and the orchestration hand it bytes.
package mimepart

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"
	"sync"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/htmltext"
	"github.com/duomail/duomail/client/iocount"
	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // header words and bodies in every charset go-message knows
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Limits that keep hostile mail from exhausting memory. Beyond them the
// excess is skipped, not an error: the readable rest still shows.
const (
	MaxHeaderBytes = 1 << 20 // per entity; the rest of a longer header is skipped
	MaxMIMEDepth   = 64      // deeper multiparts are treated as opaque parts
)

// ParseMessage reads a whole message from r, streaming with bounded memory,
// and returns its envelope (Size is the number of bytes read) and its MIME
// tree. Malformed structure is tolerated as far as possible: the error is
// non-nil only when r itself fails.
func ParseMessage(r io.Reader) (client.Envelope, *client.Part, error) {
	w := &walker{src: &iocount.Reader{R: r}}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(w.src)
	defer func() { br.Reset(nil); readerPool.Put(br) }()
	h, err := ReadHeaderBounded(br)
	if err != nil {
		return client.Envelope{}, nil, err
	}
	env := EnvelopeFromHeader(h)
	root, err := w.entity(h, br, nil, 0, false)
	if err != nil {
		return env, root, err
	}
	// Whatever the structure left unread still counts towards the size.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return env, root, err
	}
	env.Size = w.src.N
	env.HasAttachments = root.HasAttachments()
	return env, root, nil
}

// readerPool reuses ParseMessage's read buffers: a sync parses thousands
// of messages, and a fresh 64 KB buffer each time is mostly clearing memory.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 64<<10) }}

// CopyPart finds the part at path in the message read from r and writes its
// body, still in its transfer encoding, to w. A message/rfc822 part is
// written whole (header and body of the embedded message).
func CopyPart(r io.Reader, path string, out io.Writer) (*client.Part, error) {
	if _, ok := client.ParsePartPath(path); !ok {
		return nil, fmt.Errorf("part %q: %w: a part is numbered like 1 or 1.2", path, client.ErrUsage)
	}
	var found *client.Part
	w := &walker{src: &iocount.Reader{R: r}}
	w.visit = func(p *client.Part, body io.Reader) (bool, error) {
		if found != nil || p.Path != path {
			return false, nil
		}
		found = p
		cr := &iocount.Reader{R: body}
		_, err := io.Copy(out, cr)
		p.Size = cr.N
		if err != nil && w.structural(err) {
			err = nil // a truncated part still gives what it has
		}
		return true, err
	}
	br := bufio.NewReaderSize(w.src, 64<<10)
	h, err := ReadHeaderBounded(br)
	if err != nil {
		return nil, err
	}
	if _, err := w.entity(h, br, nil, 0, false); err != nil {
		return found, err
	}
	if found == nil {
		return nil, fmt.Errorf("part %s: %w", path, client.ErrNotFound)
	}
	return found, nil
}

// ReadHeaderBounded reads a header block up to its blank line. Only the
// first MaxHeaderBytes are parsed; the rest is read and dropped so the body
// still starts in the right place, however long the header or its lines.
// Malformed header lines end the parsed part of the header, not the message.
func ReadHeaderBounded(br *bufio.Reader) (textproto.Header, error) {
	var kept bytes.Buffer
	for {
		line, err := readLineBounded(br, &kept, MaxHeaderBytes)
		if err == io.EOF {
			break
		}
		if err != nil {
			return textproto.Header{}, err
		}
		if line {
			break
		}
	}
	kept.WriteString("\r\n")
	h, _ := textproto.ReadHeader(bufio.NewReader(&kept)) // a malformed line keeps the fields before it
	return h, nil
}

// readLineBounded reads one line, appending to kept while kept is under max.
// blank reports whether the line was empty (the end of a header).
func readLineBounded(br *bufio.Reader, kept *bytes.Buffer, max int) (blank bool, err error) {
	n := 0
	for {
		chunk, err := br.ReadSlice('\n')
		n += len(chunk)
		if kept.Len()+len(chunk) <= max {
			kept.Write(chunk)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF && n > 0 {
				return false, nil
			}
			return false, err
		}
		trimmed := bytes.TrimRight(chunk, "\r\n")
		return n == len(chunk) && len(trimmed) == 0, nil
	}
}

// visitFunc is offered every part before its body is examined; returning
// true means it consumed the body.
type visitFunc func(p *client.Part, body io.Reader) (bool, error)

// walker walks one message's MIME structure.
type walker struct {
	src      *iocount.Reader
	visit    visitFunc
	visitErr error
}

// structural reports whether err is the message's own malformation (a
// missing closing boundary, a broken part header), which is tolerated, as
// opposed to a failure of the reader or of the visitor, which ends the walk.
func (w *walker) structural(err error) bool {
	return err != nil && w.src.Err == nil && w.visitErr == nil
}

func (w *walker) offer(p *client.Part, body io.Reader) (bool, error) {
	if w.visit == nil {
		return false, nil
	}
	done, err := w.visit(p, body)
	if err != nil {
		w.visitErr = err
	}
	return done, err
}

// entity builds the tree of one entity. path is its IMAP section number
// (nil for the message itself); inner marks the body of a message/rfc822
// part, which IMAP numbers like a top-level message below that part.
func (w *walker) entity(h textproto.Header, body io.Reader, path []int, depth int, inner bool) (*client.Part, error) {
	p := partFromHeader(h)
	isRoot := path == nil
	if p.IsMultipart() && depth < MaxMIMEDepth && p.Params["boundary"] != "" {
		if !isRoot {
			p.Path = client.FormatPartPath(path)
		}
		if p.Path != "" && !inner {
			if done, err := w.offer(p, body); done || err != nil {
				return p, err
			}
		}
		mr := textproto.NewMultipartReader(body, p.Params["boundary"])
		for i := 1; ; i++ {
			child, err := mr.NextPart()
			if err != nil {
				if err != io.EOF && !w.structural(err) {
					return p, err
				}
				// io.EOF is the closing boundary; anything else is a
				// malformed multipart (no closing boundary, junk): keep
				// the parts found so far.
				break
			}
			cp, err := w.entity(child.Header, child, client.ChildPartPath(path, i), depth+1, false)
			if cp != nil {
				p.Children = append(p.Children, cp)
			}
			if err != nil {
				if !w.structural(err) {
					return p, err
				}
				break
			}
		}
		if _, err := io.Copy(io.Discard, body); err != nil && !w.structural(err) {
			return p, err
		}
		return p, nil
	}
	if p.IsMultipart() {
		// Too deep or no boundary: show as an opaque leaf.
		p.Type = "application/octet-stream"
	}
	if isRoot {
		path = []int{1}
	} else if inner {
		path = client.ChildPartPath(path, 1)
	}
	p.Path = client.FormatPartPath(path)
	cr := &iocount.Reader{R: body}
	if done, err := w.offer(p, cr); done || err != nil {
		return p, err
	}
	if p.Type == "message/rfc822" && depth < MaxMIMEDepth {
		br := bufio.NewReader(cr)
		if ih, err := ReadHeaderBounded(br); err == nil {
			env := EnvelopeFromHeader(ih)
			p.Envelope = &env
			in, err := w.entity(ih, br, path, depth+1, true)
			if in != nil {
				p.Children = []*client.Part{in}
			}
			if err != nil && !w.structural(err) {
				return p, err
			}
		} else if !w.structural(err) {
			return p, err
		}
	}
	_, err := io.Copy(io.Discard, cr)
	p.Size = cr.N
	if p.Envelope != nil {
		p.Envelope.Size = p.Size
	}
	if err != nil && !w.structural(err) {
		return p, err
	}
	return p, nil
}

func partFromHeader(h textproto.Header) *client.Part {
	p := &client.Part{Type: "text/plain", Params: map[string]string{}}
	if ct := h.Get("Content-Type"); ct != "" {
		t, raw := parseHeaderParams(ct)
		if strings.Count(t, "/") == 1 && !strings.ContainsAny(t, " \t") {
			p.Type = t
			p.Params = DecodeParams(raw)
		}
	}
	if strings.HasPrefix(p.Type, "text/") && p.Params["charset"] == "" {
		// RFC 2045 5.2's default, which IMAP's BODYSTRUCTURE spells out:
		// the tree must read the same on both protocols.
		p.Params["charset"] = "us-ascii"
	}
	if cd := h.Get("Content-Disposition"); cd != "" {
		d, raw := parseHeaderParams(cd)
		p.Disposition = d
		p.Filename = DecodeParams(raw)["filename"]
	}
	if p.Filename == "" {
		p.Filename = p.Params["name"]
	}
	if p.Filename != "" {
		p.Filename = decodeWords(p.Filename)
	}
	p.Encoding = strings.ToLower(strings.TrimSpace(h.Get("Content-Transfer-Encoding")))
	if p.Encoding == "" && !p.IsMultipart() {
		p.Encoding = "7bit" // RFC 2045 6.1, and what IMAP's BODYSTRUCTURE reports
	}
	return p
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	return message.CharsetReader(charset, input)
}

// decodeWords decodes RFC 2047 encoded words, keeping the raw text where a
// word cannot be decoded.
func decodeWords(s string) string {
	if out, err := wordDecoder.DecodeHeader(s); err == nil {
		return out
	}
	return s
}

// EnvelopeFromHeader fills the header fields of an envelope: decoded
// subject, addresses, date and Message-ID. Fields that do not parse are
// shown as their decoded raw text rather than dropped.
func EnvelopeFromHeader(h textproto.Header) client.Envelope {
	mh := mail.Header{Header: message.Header{Header: h}}
	var env client.Envelope
	if s, err := mh.Subject(); err == nil {
		env.Subject = s
	} else {
		env.Subject = decodeWords(h.Get("Subject"))
	}
	if from := formatAddresses(mh, "From"); len(from) > 0 {
		env.From = from[0]
	}
	env.To = formatAddresses(mh, "To")
	env.Cc = formatAddresses(mh, "Cc")
	env.ReplyTo = formatAddresses(mh, "Reply-To")
	env.NormalizeReplyTo()
	if d, err := mh.Date(); err == nil {
		env.Date = d
	}
	if id, err := mh.MessageID(); err == nil {
		env.MessageID = id
	}
	if ids, err := mh.MsgIDList("In-Reply-To"); err == nil && len(ids) > 0 {
		// A reply names one parent; a few mailers list its ancestors
		// too, the parent last.
		env.InReplyTo = ids[len(ids)-1]
	}
	if ids, err := mh.MsgIDList("References"); err == nil && len(ids) > 0 {
		env.References = ids
	}
	return env
}

func formatAddresses(h mail.Header, key string) []string {
	raw := h.Get(key)
	if raw == "" {
		return nil
	}
	list, err := h.AddressList(key)
	if err != nil || len(list) == 0 {
		return []string{decodeWords(raw)}
	}
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, FormatAddress(a.Name, a.Address))
	}
	return out
}

// FormatAddress renders an address the way list prints it.
func FormatAddress(name, addr string) string {
	switch {
	case name == "":
		return addr
	case addr == "":
		return name
	}
	return name + " <" + addr + ">"
}

// DecodePart returns the body of p decoded from its transfer encoding and,
// for text parts, converted to UTF-8. An unknown encoding or charset is not
// fatal: the body is returned as it is and warning says what was not
// understood, so the caller can tell the user and still show the text.
func DecodePart(p *client.Part, body io.Reader) (r io.Reader, warning error) {
	var h message.Header
	h.Set("Content-Type", mime.FormatMediaType(p.Type, p.Params))
	if h.Get("Content-Type") == "" { // params that cannot be formatted
		h.Set("Content-Type", p.Type)
	}
	if p.Encoding != "" {
		h.Set("Content-Transfer-Encoding", p.Encoding)
	}
	e, err := message.New(h, body)
	if e == nil {
		return body, err
	}
	if err != nil {
		err = fmt.Errorf("part %s: %w (shown undecoded)", p.Path, err)
	}
	return e.Body, err
}

// HTMLRenderer turns an HTML document, decoded to UTF-8, into text.
type HTMLRenderer func(html io.Reader, w io.Writer) error

// WriteText writes the readable text of p (decoded; HTML rendered to plain
// text by htmltext at its default width) to w. warning is set when a
// charset or encoding was not understood; the text is still written.
//
// A transfer encoding that breaks off (corrupt base64) is the sender's
// mistake, like an unknown charset: the text decoded up to that point is
// written and the rest reported in warning. Only failures of body or w are
// errors.
func WriteText(p *client.Part, body io.Reader, w io.Writer) (warning, err error) {
	return WriteTextWith(p, body, w, nil)
}

// WriteTextWith is WriteText with HTML rendered by render (nil: htmltext
// at its default width). A failure of render itself, such as an external
// filter that exits non-zero, is an error, unlike a body that breaks off.
func WriteTextWith(p *client.Part, body io.Reader, w io.Writer, render HTMLRenderer) (warning, err error) {
	src := &iocount.Reader{R: body}
	dst := &iocount.Writer{W: w}
	r, warning := DecodePart(p, src)
	// corrupt tells a decoding failure (tolerated) from a failure of the
	// body's reader or of w (returned).
	corrupt := func(err error) error {
		if err == nil || src.Err != nil || dst.Err != nil {
			return err
		}
		if warning == nil {
			warning = fmt.Errorf("part %s: %w (the rest of the text is not shown)", p.Path, err)
		} else {
			warning = fmt.Errorf("%w; %w (the rest of the text is not shown)", warning, err)
		}
		// Keep a stream aligned; a failure here is the body's reader's.
		_, err = io.Copy(io.Discard, src)
		return err
	}
	if p.Type != "text/html" {
		_, err = io.Copy(dst, r)
		return warning, corrupt(err)
	}
	if render == nil {
		render = func(html io.Reader, w io.Writer) error {
			return htmltext.Render(html, w, htmltext.Options{})
		}
	}
	decoded := &iocount.Reader{R: r}
	err = render(decoded, dst)
	if err != nil && decoded.Err == nil && src.Err == nil && dst.Err == nil {
		return warning, err // the renderer's own failure
	}
	if err = corrupt(err); err != nil {
		return warning, err
	}
	// Drain what the renderer left so callers reading a stream stay aligned.
	_, err = io.Copy(io.Discard, r)
	return warning, corrupt(err)
}
