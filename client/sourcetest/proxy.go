package sourcetest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Fault describes how a Proxy misbehaves, to test what a client does when
// the network fails: cut, stall, crawl, or reset.
type Fault struct {
	// CutAfter closes both sides once this many bytes went from the server
	// to the client (0: never).
	CutAfter int64
	// StallAfter stops forwarding anything after this many bytes from the
	// server, keeping the connection open: a silent server (0: never).
	StallAfter int64
	// DripBytesPerSecond slows the server's side down to this rate (0: full speed).
	DripBytesPerSecond int
	// ResetOnHandshake answers the client's first bytes with a TCP reset,
	// as a middlebox killing a TLS handshake would.
	ResetOnHandshake bool
}

// Proxy forwards TCP connections to a server so a test can break them.
type Proxy struct {
	ln     net.Listener
	target string
	fault  Fault

	mu    sync.Mutex
	conns []net.Conn
}

// StartProxy listens on a free loopback port and forwards to target faithfully.
func StartProxy(t testing.TB, target string) *Proxy { return StartFaultyProxy(t, target, Fault{}) }

// StartFaultyProxy forwards to target with the given fault on every connection.
func StartFaultyProxy(t testing.TB, target string, f Fault) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, fault: f}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.CutAll() })
	return p
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

func (p *Proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.fault.ResetOnHandshake {
			go resetAfterFirstBytes(c)
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { io.Copy(s, c); s.Close() }()
		go func() { p.toClient(c, s); c.Close(); s.Close() }()
	}
}

func resetAfterFirstBytes(c net.Conn) {
	buf := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	c.Read(buf)
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0) // close with RST
	}
	c.Close()
}

// toClient copies the server's bytes with the fault applied.
func (p *Proxy) toClient(c, s net.Conn) {
	f := p.fault
	var sent int64
	buf := make([]byte, 32<<10)
	for {
		limit := len(buf)
		if f.DripBytesPerSecond > 0 {
			limit = max(1, min(limit, f.DripBytesPerSecond/10))
		}
		if f.CutAfter > 0 {
			limit = int(min(int64(limit), f.CutAfter-sent))
		}
		if f.StallAfter > 0 {
			limit = int(min(int64(limit), f.StallAfter-sent))
		}
		if limit <= 0 {
			if f.StallAfter > 0 && sent >= f.StallAfter {
				// Silent but open: swallow whatever else arrives.
				io.Copy(io.Discard, s)
			}
			return
		}
		n, err := s.Read(buf[:limit])
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
			sent += int64(n)
			if f.DripBytesPerSecond > 0 {
				time.Sleep(time.Duration(n) * time.Second / time.Duration(f.DripBytesPerSecond))
			}
		}
		if err != nil {
			return
		}
	}
}

// CutAll closes every forwarded connection at once, as a network failure would.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
