package sourcetest

import (
	"bufio"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
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
	// HangUpAfter is a command (a line's first word, any case). When the
	// client sends it, the proxy hangs up on the client and then passes
	// the command on: the server acts on it, and its answer is lost, as
	// when a connection dies between a command and its answer.
	HangUpAfter string
	// Rewrite, when set, carries each connection instead of the byte
	// copy, for a test that changes the exchange on its way (hides a
	// capability, refuses a command); the faults above do not apply.
	// Both connections are closed when it returns.
	Rewrite func(client, server net.Conn)
}

// Proxy forwards TCP connections to a server so a test can break them.
type Proxy struct {
	ln     net.Listener
	target string
	fault  Fault

	received atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
}

// StartProxy listens on a free loopback port and forwards to target faithfully.
func StartProxy(t testing.TB, target string) *Proxy { return StartFaultyProxy(t, target, Fault{}) }

// StartFaultyProxy forwards to target with the given fault on every connection.
func StartFaultyProxy(t testing.TB, target string, f Fault) *Proxy {
	t.Helper()
	p, err := ListenProxy(t, "127.0.0.1", target, f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// ListenProxy is StartFaultyProxy listening on a free port of host, which
// need not be loopback (a test of what a client does on a network). The
// error says the address cannot be listened on here.
func ListenProxy(t testing.TB, host, target string, f Fault) (*Proxy, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, fault: f}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.CutAll() })
	return p, nil
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the port of Addr.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Received is how many bytes went from the server to clients so far (not
// counted under Rewrite).
func (p *Proxy) Received() int64 { return p.received.Load() }

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
		if p.fault.Rewrite != nil {
			go func() { p.fault.Rewrite(c, s); c.Close(); s.Close() }()
			continue
		}
		go func() { p.toServer(c, s); s.Close() }()
		go func() { p.toClient(c, s); c.Close(); s.Close() }()
	}
}

// toServer copies the client's bytes, line by line when a command is to
// lose its answer.
func (p *Proxy) toServer(c, s net.Conn) {
	if p.fault.HangUpAfter == "" {
		io.Copy(s, c)
		return
	}
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.EqualFold(verb, p.fault.HangUpAfter) {
			// Hang up first, so that no part of the answer can reach
			// the client.
			c.Close()
		}
		if _, err := io.WriteString(s, line); err != nil {
			return
		}
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
			p.received.Add(int64(n))
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
