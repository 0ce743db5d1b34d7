package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/termtext"
)

// envelopeStream writes a listing as its rows arrive, so that memory stays
// flat however large the folder: piped, one TSV line per message; with
// --json on a pipe, the same single JSON document as a held result would
// be, written piece by piece (its "stats" field and closing brace come at
// finish). On a terminal the table is aligned, and indented JSON is
// written whole, so there the rows are held.
type envelopeStream struct {
	p    *printer
	f    *format
	res  *listResult // the held result (terminal), and what the listing is of
	w    *bufio.Writer
	n    int
	open bool // the JSON document's messages array is open
	enc  bytes.Buffer
}

func (p *printer) envelopeStream(res *listResult) *envelopeStream {
	s := &envelopeStream{p: p, f: p.format(), res: res}
	if !p.tty {
		s.w = bufio.NewWriterSize(p.out, 32<<10)
	}
	return s
}

// add shows one envelope, or holds it for the terminal.
func (s *envelopeStream) add(e client.Envelope) error {
	s.n++
	if s.w == nil {
		s.res.Messages = append(s.res.Messages, e)
		return nil
	}
	if !s.p.json {
		f := s.f
		fields := []string{f.text(e.ID), f.date(e.ListDate()), f.text(e.From), f.text(e.Subject), f.size(e.Size), f.flags(e.Flags, e.HasAttachments)}
		s.w.WriteString(strings.Join(fields, "\t"))
		return s.w.WriteByte('\n')
	}
	if err := s.begin(); err != nil {
		return err
	}
	if s.n > 1 {
		s.w.WriteByte(',')
	}
	return s.writeValue(e.JSON())
}

// begin opens the JSON document up to its messages array.
func (s *envelopeStream) begin() error {
	if s.open {
		return nil
	}
	s.open = true
	s.w.WriteString(`{"folder":`)
	if err := s.writeValue(s.res.Folder); err != nil {
		return err
	}
	_, err := s.w.WriteString(`,"messages":[`)
	return err
}

// writeValue encodes v compactly, as writeJSON would inside a document.
func (s *envelopeStream) writeValue(v any) error {
	s.enc.Reset()
	enc := json.NewEncoder(&s.enc)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := s.w.Write(termtext.EscapeJSON(bytes.TrimSuffix(s.enc.Bytes(), []byte("\n"))))
	return err
}

// end finishes the listing: the held forms are printed now; a streamed
// JSON document is left for finish (or abandon) to close.
func (s *envelopeStream) end() error {
	if s.w == nil {
		return s.p.print(s.res)
	}
	if s.p.json {
		if err := s.begin(); err != nil {
			return err
		}
		s.w.WriteByte(']')
		s.p.pending = &jsonTail{}
	} else if s.n == 0 {
		// Nothing was written: the piped form of an empty table.
		if err := s.w.Flush(); err != nil {
			return err
		}
		return s.p.print(s.res)
	}
	return s.w.Flush()
}

// jsonTail is a JSON document already written up to its last field, whose
// "stats" field and closing brace finish writes.
type jsonTail struct{ jsonStats }

func (t *jsonTail) jsonObject() any { return t }

// close writes the end of a streamed document.
func (t *jsonTail) close(p *printer, stats *statsJSON) error {
	var b bytes.Buffer
	if stats != nil {
		b.WriteString(`,"stats":`)
		if err := writeJSON(&b, stats, false); err != nil {
			return err
		}
		b.Truncate(b.Len() - 1) // writeJSON's newline
	}
	b.WriteString("}\n")
	_, err := p.out.Write(b.Bytes())
	return err
}
