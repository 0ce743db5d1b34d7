package popsrc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/wire"
)

// Buffer sizes: large reads keep the RETR loop near raw socket speed; the
// reader's size also bounds a status or listing line.
const (
	readBufferSize  = 256 << 10
	writeBufferSize = 4 << 10
	maxLineLength   = 64 << 10
	// maxShortResponse bounds a multi-line answer read whole (CAPA).
	maxShortResponse = 1 << 20
)

// conn is the POP3 wire: commands out, status lines and multi-line bodies
// in. Every failure breaks it for good, because after a lost byte the
// responses no longer line up with the commands.
type conn struct {
	nc    net.Conn   // what we talk through (TLS or plain)
	raw   *wire.Conn // the TCP connection below, closed to interrupt
	br    *bufio.Reader
	bw    *bufio.Writer
	debug io.Writer
	stats *client.WireStats

	ctx    context.Context // of the operation in progress
	broken error
}

func newConn(nc net.Conn, raw *wire.Conn, opts client.DialOptions) *conn {
	c := &conn{raw: raw, debug: opts.Debug, stats: opts.Stats, ctx: context.Background()}
	c.setNetConn(nc)
	return c
}

func (c *conn) setNetConn(nc net.Conn) {
	c.nc = nc
	c.br = bufio.NewReaderSize(nc, readBufferSize)
	c.bw = bufio.NewWriterSize(nc, writeBufferSize)
}

func (c *conn) encrypted() bool {
	_, ok := c.nc.(*tls.Conn)
	return ok
}

// begin starts an operation under ctx: cancelling ctx closes the connection,
// which ends any blocked read or write at once. The returned function must
// be called when the operation is over.
func (c *conn) begin(ctx context.Context) (end func(), err error) {
	if c.broken != nil {
		return nil, c.broken
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.ctx = ctx
	stop := context.AfterFunc(ctx, func() { c.raw.Close() })
	return func() {
		if !stop() && c.broken == nil {
			// The connection was closed under a command that may have
			// finished anyway; it is gone all the same.
			c.broken = fmt.Errorf("connection closed: %w", ctx.Err())
		}
		c.ctx = context.Background()
	}, nil
}

// fail breaks the connection with an I/O error, naming the operation.
func (c *conn) fail(op string, err error) error {
	if c.broken != nil && errors.Is(err, net.ErrClosed) {
		return c.broken
	}
	if cerr := c.ctx.Err(); cerr != nil {
		err = cerr
	}
	e := wire.NetError(op, err)
	c.breakWith(e)
	return e
}

// violation breaks the connection because the server broke the protocol.
func (c *conn) violation(op, format string, args ...any) error {
	e := fmt.Errorf("%s: %w: %s", op, client.ErrProtocol, fmt.Sprintf(format, args...))
	c.breakWith(e)
	return e
}

func (c *conn) breakWith(err error) {
	if c.broken == nil {
		c.broken = err
	}
	c.raw.Close()
}

// send queues one command; flush sends what is queued. shown is what the
// debug trace prints instead of the line (credentials redacted).
func (c *conn) send(line, shown string) {
	c.stats.Command()
	if c.debug != nil {
		fmt.Fprintf(c.debug, "C: %s\n", shown)
	}
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
}

func (c *conn) flush(op string) error {
	if err := c.bw.Flush(); err != nil {
		return c.fail(op, err)
	}
	return nil
}

// readLine reads one line without its line ending, bounded in length.
func (c *conn) readLine(op string) (string, error) {
	line, err := c.br.ReadSlice('\n')
	return c.endLine(op, line, err)
}

// endLine finishes a line read with ReadSlice.
func (c *conn) endLine(op string, line []byte, err error) (string, error) {
	switch {
	case err == bufio.ErrBufferFull:
		return "", c.violation(op, "response line longer than %d bytes", len(line))
	case err != nil:
		return "", c.fail(op, err)
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte("\r"))
	if len(line) > maxLineLength {
		return "", c.violation(op, "response line longer than %d bytes", maxLineLength)
	}
	return string(line), nil
}

// status reads a status line. +OK returns its text; -ERR returns a
// *client.ServerError with the server's words; anything else breaks the
// connection.
func (c *conn) status(op string) (string, error) {
	line, err := c.readLine(op)
	if err != nil {
		return "", err
	}
	return c.parseStatus(op, line)
}

// greeting reads the server's greeting as a status line, first making sure
// the server is not one of another protocol (a wrong port), and, when it
// says nothing at all, whether it waits for a TLS handshake.
func (c *conn) greeting(ctx context.Context, op string, acct *client.Account) (string, error) {
	probe := wire.ProbeTLSLater(ctx, acct)
	raw, rerr := c.br.ReadSlice('\n')
	var ne net.Error
	if len(raw) == 0 && errors.As(rerr, &ne) && ne.Timeout() && c.ctx.Err() == nil {
		_, err := c.endLine(op, raw, rerr)
		err = probe.NoGreeting(op, err)
		c.broken = err
		return "", err
	}
	probe.Stop()
	if werr := wire.WrongGreeting(op, acct, raw); werr != nil {
		if c.debug != nil {
			fmt.Fprintf(c.debug, "S: %s\n", bytes.TrimRight(raw, "\r\n"))
		}
		c.breakWith(werr)
		return "", werr
	}
	line, err := c.endLine(op, raw, rerr)
	if err != nil {
		return "", err
	}
	return c.parseStatus(op, line)
}

func (c *conn) parseStatus(op, line string) (string, error) {
	if c.debug != nil {
		fmt.Fprintf(c.debug, "S: %s\n", line)
	}
	switch {
	case hasPrefixFold(line, "+OK"):
		return strings.TrimSpace(line[3:]), nil
	case hasPrefixFold(line, "-ERR"):
		return "", &client.ServerError{Op: op, Text: strings.TrimSpace(line[4:])}
	}
	return "", c.violation(op, "expected +OK or -ERR, got %q", clip(line))
}

// cmd sends one command and reads its status line.
func (c *conn) cmd(op, line string) (string, error) {
	c.send(line, line)
	if err := c.flush(op); err != nil {
		return "", err
	}
	return c.status(op)
}

// lines reads the body of a short multi-line response (CAPA, UIDL, LIST)
// as lines, un-stuffed.
func (c *conn) lines(op string) ([]string, error) {
	var out []string
	size := 0
	for {
		line, err := c.readLine(op)
		if err != nil {
			return nil, err
		}
		if size += len(line) + 2; size > maxShortResponse {
			return nil, c.violation(op, "answer longer than %d KB", maxShortResponse>>10)
		}
		if c.debug != nil {
			fmt.Fprintf(c.debug, "S: %s\n", line)
		}
		if line == "." {
			return out, nil
		}
		out = append(out, strings.TrimPrefix(line, "."))
	}
}

// body returns a reader for the body of a multi-line response whose +OK was
// just read; errors it meets break the connection and name op.
func (c *conn) body(op string) *dotReader {
	return newDotReader(c.br, func(err error) error { return c.fail(op, err) })
}

// endBody drains what the consumer left of a body and notes its size in the
// debug trace (bodies themselves are not traced).
func (c *conn) endBody(b *dotReader) error {
	err := b.drain()
	switch {
	case c.debug == nil || err != nil:
	case b.traced:
		fmt.Fprintf(c.debug, "S: .\n")
	default:
		fmt.Fprintf(c.debug, "S: [%d bytes]\nS: .\n", b.n)
	}
	return err
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) &&
		(len(s) == len(prefix) || s[len(prefix)] == ' ')
}

// clip shortens server text quoted in errors.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
