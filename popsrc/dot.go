package popsrc

import (
	"bufio"
	"bytes"
	"io"
)

// dotReader reads the body of a POP3 multi-line response (RFC 1939 3):
// it removes the dot that stuffs lines starting with "." and stops at the
// terminating "." line, and changes nothing else. Unlike textproto's
// DotReader it keeps line endings as the server sent them (CRLF, bare LF,
// lone CR), so a message comes out byte-exact, and it has no line-length
// limit: it hands out runs of bytes straight from the bufio.Reader's buffer,
// cut only where a line starts with a dot.
type dotReader struct {
	br    *bufio.Reader
	bol   bool   // at the beginning of a line
	chunk []byte // returned by next, not yet consumed
	err   error  // sticky: io.EOF after the terminator, or the failure
	n     int64  // body bytes handed out

	// traced is set when the consumer wrote the body to the debug trace
	// itself, line by line.
	traced bool

	// wrap turns a read failure into the error callers see (naming the
	// command); nil leaves it as is.
	wrap func(error) error
}

func newDotReader(br *bufio.Reader, wrap func(error) error) *dotReader {
	return &dotReader{br: br, bol: true, wrap: wrap}
}

var newlineDot = []byte("\n.")

// next returns the next run of body bytes, a slice of br's buffer valid
// until consume. It blocks only when nothing is buffered.
func (d *dotReader) next() ([]byte, error) {
	if d.err != nil {
		return nil, d.err
	}
	if len(d.chunk) > 0 {
		return d.chunk, nil
	}
	if d.bol {
		b, err := d.br.Peek(1)
		if err != nil {
			return nil, d.fail(err)
		}
		if b[0] == '.' {
			// A dot at the start of a line is either the terminator
			// (".\r\n", or ".\n" from a sloppy server) or stuffing. Peek
			// no further than needed: the terminator may be the last
			// byte the server sends before waiting for the next command.
			if b, err = d.br.Peek(2); err != nil {
				return nil, d.fail(err)
			}
			if b[1] == '\n' {
				d.br.Discard(2)
				d.err = io.EOF
				return nil, io.EOF
			}
			if b[1] == '\r' {
				if b, err = d.br.Peek(3); err != nil {
					return nil, d.fail(err)
				}
				if b[2] == '\n' {
					d.br.Discard(3)
					d.err = io.EOF
					return nil, io.EOF
				}
			}
			d.br.Discard(1)
			d.bol = false
		}
	}
	if d.br.Buffered() == 0 {
		if _, err := d.br.Peek(1); err != nil {
			return nil, d.fail(err)
		}
	}
	buf, _ := d.br.Peek(d.br.Buffered())
	if i := bytes.Index(buf, newlineDot); i >= 0 {
		buf = buf[:i+1]
	}
	d.chunk = buf
	return buf, nil
}

// consume marks the first n bytes of the current chunk as read.
func (d *dotReader) consume(n int) {
	if n == 0 {
		return
	}
	d.bol = d.chunk[n-1] == '\n'
	d.chunk = d.chunk[n:]
	d.br.Discard(n)
	d.n += int64(n)
}

func (d *dotReader) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if d.wrap != nil {
		err = d.wrap(err)
	}
	d.err = err
	return err
}

// enoughBuffered reports whether next can run without blocking: three bytes
// decide any line start, and a line in progress needs one.
func (d *dotReader) enoughBuffered() bool {
	if len(d.chunk) > 0 {
		return true
	}
	buffered := d.br.Buffered()
	if buffered == 0 {
		return false
	}
	if d.bol && buffered < 3 {
		b, _ := d.br.Peek(1)
		return b[0] != '.'
	}
	return true
}

func (d *dotReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if n > 0 && !d.enoughBuffered() {
			return n, nil // hand out what is here rather than wait
		}
		chunk, err := d.next()
		if err != nil {
			return n, err
		}
		c := copy(p[n:], chunk)
		d.consume(c)
		n += c
	}
	return n, nil
}

// WriteTo lets io.Copy write straight from the connection's buffer.
func (d *dotReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		chunk, err := d.next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
		m, werr := w.Write(chunk)
		d.consume(m)
		total += int64(m)
		if werr != nil {
			return total, werr
		}
		if m < len(chunk) {
			return total, io.ErrShortWrite
		}
	}
}

// drain reads to the terminator, so the next response starts in the right
// place whatever the consumer left unread.
func (d *dotReader) drain() error {
	_, err := d.WriteTo(io.Discard)
	return err
}
