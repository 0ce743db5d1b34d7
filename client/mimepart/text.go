package mimepart

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/iocount"
)

// MaxIndexText bounds the text ParseMessageText keeps of one message: a
// search index gains little from the 40th megabyte of a log file, and the
// message is read in one pass while the text is held in memory.
const MaxIndexText = 1 << 20

// ParseMessageText is ParseMessage that also returns the readable text of
// the message, for a search index: every text/plain and text/html part
// (HTML rendered to text), decoded to UTF-8, except that of a
// multipart/alternative only the plain version counts when there is one
// (the HTML one says the same). At most max bytes are kept (MaxIndexText
// when max is 0). Decoding trouble is not an error: whatever could be
// decoded is returned.
func ParseMessageText(r io.Reader, max int) (client.Envelope, *client.Part, string, error) {
	if max <= 0 {
		max = MaxIndexText
	}
	texts := map[string]*bytes.Buffer{}
	total := 0
	w := &walker{src: &iocount.Reader{R: r}}
	w.visit = func(p *client.Part, body io.Reader) (bool, error) {
		if p.Type != "text/plain" && p.Type != "text/html" {
			return false, nil
		}
		buf := &bytes.Buffer{}
		texts[p.Path] = buf
		lw := &boundedWriter{w: buf, left: max - total}
		_, err := WriteText(p, body, lw)
		total += buf.Len()
		return true, err
	}
	br := readerPool.Get().(*bufio.Reader)
	br.Reset(w.src)
	defer func() { br.Reset(nil); readerPool.Put(br) }()
	h, err := ReadHeaderBounded(br)
	if err != nil {
		return client.Envelope{}, nil, "", err
	}
	env := EnvelopeFromHeader(h)
	root, err := w.entity(h, br, nil, 0, false)
	if err != nil {
		return env, root, "", err
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return env, root, "", err
	}
	env.Size = w.src.N
	env.HasAttachments = root.HasAttachments()
	return env, root, joinTexts(root, texts), nil
}

// joinTexts puts the kept texts together in tree order, skipping the HTML
// alternative of a part that has a plain one.
func joinTexts(root *client.Part, texts map[string]*bytes.Buffer) string {
	var b strings.Builder
	var walk func(p *client.Part)
	walk = func(p *client.Part) {
		if p == nil {
			return
		}
		if t, ok := texts[p.Path]; ok && len(p.Children) == 0 {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.Write(t.Bytes())
			return
		}
		plain := false
		if p.Type == "multipart/alternative" {
			for _, c := range p.Children {
				if c.Type == "text/plain" && texts[c.Path] != nil && texts[c.Path].Len() > 0 {
					plain = true
				}
			}
		}
		for _, c := range p.Children {
			if plain && c.Type == "text/html" {
				continue
			}
			walk(c)
		}
	}
	walk(root)
	return b.String()
}

// boundedWriter keeps the first left bytes and drops the rest without an
// error, so the part is still read to its end.
type boundedWriter struct {
	w    io.Writer
	left int
}

func (b *boundedWriter) Write(p []byte) (int, error) {
	n := len(p)
	if b.left <= 0 {
		return n, nil
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	b.left -= len(p)
	if _, err := b.w.Write(p); err != nil {
		return 0, err
	}
	return n, nil
}
