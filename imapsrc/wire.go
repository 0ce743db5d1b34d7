package imapsrc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/wire"
)

// wireConn sits between imapclient and the (TLS) connection. It
//
//   - remembers the first I/O error, because imapclient formats errors with
//     %v and so loses whether the cause was a timeout or a closed socket;
//   - bounds waits only while a command is outstanding: imapclient's reader
//     goroutine always has a Read pending, and an idle Source must not die
//     because nobody talked to it for longer than the timeout;
//   - counts the commands sent and writes the exchange to the debug writer
//     with credentials replaced by [redacted].
type wireConn struct {
	net.Conn
	base    *wire.Conn
	timeout time.Duration

	mu      sync.Mutex
	busy    bool
	armedAt time.Time
	wait    time.Duration // bound in force while busy
	err     error

	out   *outTap
	in    *inTap
	guard sizeGuard

	// selectCode is what the tagged answer to the latest SELECT said about
	// access: imapclient drops the tagged OK's response code, and only
	// there does a server say [READ-ONLY].
	selectCode atomic.Int32
}

const (
	accessUnknown int32 = iota
	accessReadWrite
	accessReadOnly
)

// expectSelect forgets the access code of the previous SELECT; call it
// before sending the next.
func (w *wireConn) expectSelect() { w.selectCode.Store(accessUnknown) }

// selectedReadOnly reports whether the answer to the latest SELECT carried
// [READ-ONLY]. A SELECT answered without a code opened the folder
// read-write (RFC 3501 6.3.1).
func (w *wireConn) selectedReadOnly() bool { return w.selectCode.Load() == accessReadOnly }

// tagged notes the access code of a tagged OK: [READ-ONLY] and
// [READ-WRITE] are sent only in the tagged answer to SELECT and EXAMINE.
func (w *wireConn) tagged(line string) {
	tag, rest, ok := strings.Cut(line, " ")
	if !ok || tag == "*" || tag == "+" {
		return
	}
	status, code, ok := strings.Cut(rest, " ")
	if !ok || !strings.EqualFold(status, "OK") {
		return
	}
	code = strings.ToUpper(code)
	switch {
	case strings.HasPrefix(code, "[READ-ONLY]"):
		w.selectCode.Store(accessReadOnly)
	case strings.HasPrefix(code, "[READ-WRITE]"):
		w.selectCode.Store(accessReadWrite)
	}
}

func newWireConn(c net.Conn, base *wire.Conn, timeout time.Duration, opts client.DialOptions) *wireConn {
	w := &wireConn{Conn: c, base: base, timeout: timeout, wait: timeout}
	w.guard.onLine = w.tagged
	var dbg *debugSink
	if opts.Debug != nil {
		dbg = &debugSink{w: opts.Debug}
	}
	if dbg != nil || opts.Stats != nil {
		w.out = &outTap{sink: dbg, stats: opts.Stats}
	}
	if dbg != nil {
		w.in = &inTap{sink: dbg}
	}
	return w
}

// arm starts bounding waits by d: from now on a server silent for d is gone.
func (w *wireConn) arm(d time.Duration) {
	// Extending the deadline of the Read already pending comes first, so it
	// cannot expire as a leftover from the idle period once busy is set.
	w.base.SetTimeout(d)
	w.base.Conn.SetReadDeadline(time.Now().Add(d))
	w.mu.Lock()
	w.busy, w.armedAt, w.wait = true, time.Now(), d
	w.mu.Unlock()
}

// disarm ends the bound: the connection may now stay silent indefinitely
// (TCP keep-alive still notices a dead peer).
func (w *wireConn) disarm() {
	w.mu.Lock()
	w.busy = false
	w.mu.Unlock()
}

// tolerate reports whether a read timeout belongs to an idle period (or to
// a deadline set before the current command began) and should be retried.
func (w *wireConn) tolerate() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.busy || time.Since(w.armedAt) < w.wait
}

func (w *wireConn) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// ioErr returns the first I/O error seen, or nil.
func (w *wireConn) ioErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

func (w *wireConn) Read(p []byte) (int, error) {
	// A failure is final: imapclient's decoder, through bufio, would read
	// again after an error and so wait out the timeout several times.
	if err := w.ioErr(); err != nil {
		return 0, err
	}
	for {
		n, err := w.Conn.Read(p)
		if n > 0 {
			if gerr := w.guard.feed(p[:n]); gerr != nil {
				w.fail(gerr)
				w.Conn.Close()
				return 0, gerr
			}
		}
		if n > 0 && w.in != nil {
			w.in.Write(p[:n])
		}
		if err != nil && n == 0 && isTimeout(err) && w.tolerate() {
			continue
		}
		if err != nil {
			w.fail(err)
		}
		return n, err
	}
}

// maxGreetingPeek bounds what firstLine reads looking for a line end.
const maxGreetingPeek = 4096

// firstLine reads the server's first line (or the first maxGreetingPeek
// bytes, or what came before an error), for a look at the greeting before
// imapclient parses it.
func (w *wireConn) firstLine() ([]byte, error) {
	buf := make([]byte, 0, 512)
	for len(buf) < maxGreetingPeek {
		n, err := w.Read(buf[len(buf):min(cap(buf), maxGreetingPeek)])
		buf = buf[:len(buf)+n]
		if bytes.IndexByte(buf, '\n') >= 0 {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, len(buf))
		}
	}
	return buf, nil
}

func (w *wireConn) Write(p []byte) (int, error) {
	// Traced before it is sent, so the trace never shows an answer before
	// its command.
	if w.out != nil {
		w.out.Write(p)
	}
	n, err := w.Conn.Write(p)
	if err != nil {
		w.fail(err)
	}
	return n, err
}

// The deadlines that count are wire.Conn's; imapclient's are dropped.
func (w *wireConn) SetDeadline(time.Time) error      { return nil }
func (w *wireConn) SetReadDeadline(time.Time) error  { return nil }
func (w *wireConn) SetWriteDeadline(time.Time) error { return nil }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// prefixConn serves a few bytes before the connection's own: the greeting
// imapclient expects after we did STARTTLS ourselves.
type prefixConn struct {
	net.Conn
	r io.Reader
}

func (c *prefixConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func withPrefix(c net.Conn, prefix string) net.Conn {
	return &prefixConn{Conn: c, r: io.MultiReader(strings.NewReader(prefix), c)}
}

// debugSink writes whole lines, "C: " for what we send and "S: " for what
// the server sends, so both directions stay readable when interleaved.
type debugSink struct {
	mu sync.Mutex
	w  io.Writer
}

func (d *debugSink) line(prefix string, b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	io.WriteString(d.w, prefix)
	d.w.Write(b)
	if len(b) == 0 || b[len(b)-1] != '\n' {
		io.WriteString(d.w, "\n")
	}
}

// maxDebugLine bounds what is buffered waiting for a line end; a longer
// line is written in pieces.
const maxDebugLine = 64 << 10

// maxDebugLiteral is how much of each literal from the server the trace
// shows: enough for headers and structure, not whole mailboxes.
const maxDebugLiteral = 2048

// inTap copies server output to the debug sink line by line, showing only
// the start of long literals (message bodies).
type inTap struct {
	sink    *debugSink
	buf     []byte
	literal int64 // literal bytes still to come
	shown   int64 // bytes of the current literal shown
	hidden  bool  // some of the current literal was not shown
}

func (t *inTap) Write(p []byte) {
	for len(p) > 0 {
		if t.literal > 0 {
			n := min(int64(len(p)), t.literal)
			show := max(0, min(n, maxDebugLiteral-t.shown))
			t.text(p[:show])
			t.shown += show
			t.hidden = t.hidden || show < n
			t.literal -= n
			p = p[n:]
			if t.literal == 0 && t.hidden {
				t.flush()
				t.sink.line("S: ", []byte("[rest of the literal not shown]"))
			}
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.text(p)
			return
		}
		t.buf = append(t.buf, p[:i+1]...)
		n, isLiteral := literalSize(strings.TrimRight(string(t.buf), "\r\n"))
		t.flush()
		if isLiteral {
			t.literal, t.shown, t.hidden = n, 0, false
		}
		p = p[i+1:]
	}
}

// text adds bytes to the current line, writing out every complete line
// (and overlong pieces).
func (t *inTap) text(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.buf = append(t.buf, p...)
			if len(t.buf) >= maxDebugLine {
				t.flush()
			}
			return
		}
		t.buf = append(t.buf, p[:i+1]...)
		t.flush()
		p = p[i+1:]
	}
}

func (t *inTap) flush() {
	if len(t.buf) > 0 {
		t.sink.line("S: ", t.buf)
		t.buf = t.buf[:0]
	}
}

// outTap follows what we send command by command: it counts each command
// for WireStats and writes the debug copy with the arguments of LOGIN and
// the payloads of AUTHENTICATE replaced. It parses literals ({n} and {n+})
// so literal bytes are never mistaken for a command line.
type outTap struct {
	sink  *debugSink
	stats *client.WireStats

	line     []byte
	literal  int64 // literal bytes still to come
	inCmd    bool  // the current command continues after a literal
	redactIt bool  // the current command's arguments are secret
	sasl     bool  // an AUTHENTICATE exchange is running
}

func (t *outTap) Write(p []byte) {
	for len(p) > 0 {
		if t.literal > 0 {
			n := int64(len(p))
			if n > t.literal {
				n = t.literal
			}
			if t.sink != nil {
				if t.redactIt {
					// nothing: secret
				} else {
					t.sink.line("C: ", []byte("<"+strconv.FormatInt(n, 10)+" literal bytes>"))
				}
			}
			t.literal -= n
			p = p[n:]
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.line = append(t.line, p...)
			if len(t.line) > maxDebugLine {
				// Not a line we understand: show it unless it may be secret.
				t.emit(t.line, false)
				t.line = t.line[:0]
			}
			return
		}
		t.line = append(t.line, p[:i+1]...)
		t.emit(t.line, true)
		t.line = t.line[:0]
		p = p[i+1:]
	}
}

// emit handles one complete line (or a piece of an overlong one).
func (t *outTap) emit(line []byte, complete bool) {
	text := strings.TrimRight(string(line), "\r\n")
	shown := text
	if !t.inCmd {
		tag, rest, tagged := strings.Cut(text, " ")
		if tagged && tag != "" && !strings.ContainsAny(tag, "+*") {
			t.stats.Command()
			t.sasl = false
			t.redactIt = false
			verb, args, _ := strings.Cut(rest, " ")
			switch strings.ToUpper(verb) {
			case "LOGIN":
				t.redactIt = true
				shown = tag + " " + verb + " [redacted]"
			case "AUTHENTICATE":
				t.sasl = true
				if mech, ir, ok := strings.Cut(args, " "); ok && ir != "" {
					shown = tag + " " + verb + " " + mech + " [redacted]"
				}
			}
		} else if t.sasl {
			// A client response in a SASL exchange.
			shown = "[redacted]"
		}
	} else if t.redactIt {
		shown = ""
	}
	// A line ending in {n} or {n+} announces a literal that continues
	// the same command.
	t.inCmd = false
	if complete {
		if n, ok := literalSize(text); ok {
			t.literal = n
			t.inCmd = true
		}
	}
	if t.sink != nil && shown != "" {
		t.sink.line("C: ", []byte(shown))
	}
}

// literalSize parses a trailing {n} or {n+} (LITERAL+ and LITERAL-).
func literalSize(line string) (int64, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	open := strings.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	num := strings.TrimSuffix(line[open+1:len(line)-1], "+")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// maxResponseBytes bounds what one server response may make imapclient hold
// in memory: its lines and the literals it reads whole (everything but
// BODY[...] and BINARY[...] sections, which stream). imapclient has no
// limit of its own, so without this a server (or someone in the middle of
// a plaintext connection) could announce a 2 GB subject, or send one line
// forever, and make duomail take all the memory there is.
const maxResponseBytes = 32 << 20

// sizeGuard follows the server's byte stream response by response, counting
// what imapclient will hold of the current one, and refuses a response
// before it grows past maxResponseBytes.
type sizeGuard struct {
	held    int64  // bytes of the current response imapclient keeps
	literal int64  // literal bytes still to come
	tail    []byte // the end of the current line, where a literal is announced
	// whole: the current line began a response and no literal interrupted
	// it, so tail holds all of it when it is short.
	whole bool
	// onLine, when set, is given every short response that is one whole
	// line (status responses are never longer), without its line end.
	onLine func(line string)
}

// guardTail is how much of a line's end is kept to read a literal
// announcement and the section name before it.
const guardTail = 1024

func (g *sizeGuard) feed(p []byte) error {
	for len(p) > 0 {
		if g.literal > 0 {
			n := min(int64(len(p)), g.literal)
			g.literal -= n
			p = p[n:]
			continue
		}
		seg := p
		i := bytes.IndexByte(p, '\n')
		if i >= 0 {
			seg = p[:i+1]
		}
		p = p[len(seg):]
		if g.held == 0 {
			g.whole = true
		}
		g.held += int64(len(seg))
		if g.held > maxResponseBytes {
			return fmt.Errorf("%w: server response too large: over %d MB without a line end", client.ErrProtocol, maxResponseBytes>>20)
		}
		if len(seg) >= guardTail {
			g.tail = append(g.tail[:0], seg[len(seg)-guardTail:]...)
		} else {
			if over := len(g.tail) + len(seg) - guardTail; over > 0 {
				g.tail = append(g.tail[:0], g.tail[over:]...)
			}
			g.tail = append(g.tail, seg...)
		}
		if i < 0 {
			continue
		}
		line := strings.TrimRight(string(g.tail), "\r\n")
		g.tail = g.tail[:0]
		n, isLiteral := literalSize(line)
		if !isLiteral {
			if g.whole && g.onLine != nil && g.held < guardTail {
				g.onLine(line)
			}
			g.held = 0 // the response is complete
			continue
		}
		g.whole = false
		g.literal = n
		if streamedSection(line[:strings.LastIndexByte(line, '{')]) {
			continue
		}
		g.held += n
		if g.held > maxResponseBytes {
			return fmt.Errorf("%w: server response too large: a literal of %d bytes outside a message body (at most %d MB are accepted)", client.ErrProtocol, n, maxResponseBytes>>20)
		}
	}
	return nil
}

// streamedSection reports whether a literal announced after before belongs
// to a BODY[...] or BINARY[...] section, which imapclient streams to the
// caller instead of holding.
func streamedSection(before string) bool {
	s := strings.TrimSuffix(strings.TrimRight(before, " "), "~")
	s = strings.TrimRight(s, " ")
	if strings.HasSuffix(s, ">") { // partial: BODY[]<0>
		open := strings.LastIndexByte(s, '<')
		if open < 0 {
			return false
		}
		s = s[:open]
	}
	if !strings.HasSuffix(s, "]") {
		return false
	}
	open := strings.LastIndexByte(s, '[')
	if open < 0 {
		return false
	}
	name := strings.ToUpper(s[:open])
	for _, item := range []string{"BODY", "BINARY"} {
		if rest, ok := strings.CutSuffix(name, item); ok && (rest == "" || strings.HasSuffix(rest, " ") || strings.HasSuffix(rest, "(")) {
			return true
		}
	}
	return false
}
