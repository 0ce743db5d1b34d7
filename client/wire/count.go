package wire

import (
	"net"

	"github.com/duomail/duomail/client"
)

// countConn wraps c so every byte read or written is added to s. Wrap the
// raw TCP connection, below TLS, so the figures are wire bytes.
func countConn(c net.Conn, s *client.WireStats) net.Conn {
	if s == nil {
		return c
	}
	return &countingConn{Conn: c, stats: s}
}

type countingConn struct {
	net.Conn
	stats *client.WireStats
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.stats.Record(client.Counts{Received: int64(n)})
	}
	return n, err
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.stats.Record(client.Counts{Sent: int64(n)})
	}
	return n, err
}
