package imapsrc

import (
	"bytes"
	"net"
	"strings"
)

// mendConn mends two misspellings of one server on the way to imapclient,
// GNU Mailutils imap4d (3.15):
//
//   - it answers EXPUNGE with "* 3 EXPUNGED" where RFC 3501 says
//     "* 3 EXPUNGE". imapclient knows no response "EXPUNGED" and fails the
//     command with a protocol error, after the server has removed the
//     messages, so a delete or move would be reported as failed although
//     it happened. No server means anything else by "EXPUNGED" as a
//     response to a message number, so the line is rewritten for every
//     server.
//   - it answers STATUS with the folder's name unquoted even when it holds
//     a space ("* STATUS Sent Items (MESSAGES 2)"), which imapclient cannot
//     parse, so folders failed on any account with such a folder. The
//     name runs to the status list that ends the line; it is quoted.
//
// Lines are held until their end (a short line; a long one passes on, its
// end kept to read a literal's announcement), and literals (message bodies
// above all) pass through untouched, so bytes inside a message are never
// rewritten.
type mendConn struct {
	net.Conn
	in      []byte // read from Conn, not yet looked at
	out     []byte // looked at, ready for imapclient
	line    []byte // the current line, or the end of a long one
	long    bool   // some of the current line was handed on already
	literal int64  // literal bytes still to pass through
	err     error  // the read error to return once out is empty
	buf     [4096]byte
}

// maxHeldLine bounds how much of a line is held back waiting for its end;
// an "EXPUNGED" or STATUS line is far shorter, and a literal's announcement "{n}"
// fits in what is kept of a longer one.
const maxHeldLine = 256

func newMendConn(c net.Conn) *mendConn { return &mendConn{Conn: c} }

func (c *mendConn) Read(p []byte) (int, error) {
	for {
		if len(c.out) > 0 {
			n := copy(p, c.out)
			c.out = c.out[n:]
			return n, nil
		}
		if len(c.in) == 0 {
			if c.err != nil {
				if len(c.line) > 0 { // what came before the error
					c.out, c.line = append(c.out, c.line...), c.line[:0]
					continue
				}
				return 0, c.err
			}
			if c.literal > 0 && len(c.line) == 0 {
				// A message body: straight through, without a copy.
				n, err := c.Conn.Read(p[:min(int64(len(p)), c.literal)])
				c.literal -= int64(n)
				return n, err
			}
			n, err := c.Conn.Read(c.buf[:])
			c.in, c.err = c.buf[:n], err
			if n == 0 && err == nil {
				return 0, nil
			}
		}
		c.scan()
	}
}

// scan moves what was read to out, a line at a time, outside literals.
func (c *mendConn) scan() {
	for len(c.in) > 0 {
		if c.literal > 0 {
			n := min(int64(len(c.in)), c.literal)
			c.out = append(c.out, c.in[:n]...)
			c.in, c.literal = c.in[n:], c.literal-n
			continue
		}
		i := bytes.IndexByte(c.in, '\n')
		if i < 0 {
			c.line = append(c.line, c.in...)
			c.in = nil
			if over := len(c.line) - maxHeldLine; over > 0 {
				c.out = append(c.out, c.line[:over]...)
				c.line = append(c.line[:0], c.line[over:]...)
				c.long = true
			}
			return
		}
		c.line = append(c.line, c.in[:i+1]...)
		c.in = c.in[i+1:]
		line := c.line
		if !c.long {
			line = mendStatus(mendExpunged(line))
		}
		if n, ok := literalSize(strings.TrimRight(string(c.line), "\r\n")); ok {
			c.literal = n
		}
		c.out = append(c.out, line...)
		c.line, c.long = c.line[:0], false
	}
}

// mendExpunged turns "* 3 EXPUNGED" into "* 3 EXPUNGE"; any other line is
// returned as it is.
func mendExpunged(line []byte) []byte {
	rest, ok := bytes.CutPrefix(line, []byte("* "))
	if !ok {
		return line
	}
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	if digits == 0 || digits >= len(rest) || rest[digits] != ' ' {
		return line
	}
	word := bytes.TrimRight(rest[digits+1:], "\r\n")
	if !bytes.EqualFold(word, []byte("EXPUNGED")) {
		return line
	}
	return []byte("* " + string(rest[:digits]) + " EXPUNGE\r\n")
}

// mendStatus quotes the folder name of "* STATUS name with spaces (...)";
// a name already quoted, sent as a literal, or a single atom is left as it
// is, as is any other line.
func mendStatus(line []byte) []byte {
	const prefix = "* STATUS "
	if len(line) < len(prefix) || !strings.EqualFold(string(line[:len(prefix)]), prefix) {
		return line
	}
	rest := bytes.TrimRight(line[len(prefix):], "\r\n")
	if len(rest) == 0 || rest[0] == '"' || rest[0] == '{' || rest[len(rest)-1] != ')' {
		return line
	}
	// The status list holds no parentheses of its own, so the name ends
	// before the last " (".
	end := bytes.LastIndex(rest, []byte(" ("))
	if end <= 0 || !bytes.ContainsAny(rest[:end], " \t") {
		return line
	}
	name := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(string(rest[:end]))
	return []byte(string(line[:len(prefix)]) + `"` + name + `"` + string(rest[end:]) + "\r\n")
}
