package imaptest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
)

// Script listens on a free loopback port and runs handler for every
// connection, in its own goroutine; the connection is closed when handler
// returns. It serves misbehaving servers for trap tests: silence after the
// greeting, FETCH items in an odd order, data injected after STARTTLS.
// stop closes the listener and every open connection and waits for the
// handlers to return.
func Script(handler func(conn net.Conn)) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	var (
		mu    sync.Mutex
		conns = make(map[net.Conn]bool)
		wg    sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handler(c)
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
			}()
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ln.Close()
			mu.Lock()
			for c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		})
	}
	return ln.Addr().String(), stop, nil
}

// Peer is the server's end of a scripted connection, line by line.
type Peer struct {
	Conn net.Conn
	R    *bufio.Reader
}

// NewPeer wraps a connection accepted by Script.
func NewPeer(c net.Conn) *Peer { return &Peer{Conn: c, R: bufio.NewReader(c)} }

// Send writes lines, each ended with CRLF, in one write.
func (p *Peer) Send(lines ...string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	_, err := p.Conn.Write([]byte(b.String()))
	return err
}

// Sendf writes one formatted line ended with CRLF.
func (p *Peer) Sendf(format string, args ...any) error {
	return p.Send(fmt.Sprintf(format, args...))
}

// ReadCommand reads one command line from the client and returns its tag,
// its command name in upper case, and the rest of the line.
func (p *Peer) ReadCommand() (tag, name, args string, err error) {
	line, err := p.R.ReadString('\n')
	if err != nil {
		return "", "", "", err
	}
	line = strings.TrimRight(line, "\r\n")
	tag, rest, _ := strings.Cut(line, " ")
	name, args, _ = strings.Cut(rest, " ")
	name = strings.ToUpper(name)
	if name == "UID" {
		sub, more, _ := strings.Cut(args, " ")
		name, args = "UID "+strings.ToUpper(sub), more
	}
	return tag, name, args, nil
}
