package popsrc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

// Hostile POP3 servers, scripted byte by byte: silence, garbage, NUL
// bytes, lines that never end, answers that never end. Each must end in an
// error that names the step, within the timeout, in bounded memory.

// script serves each connection with handler on a loopback port.
func script(t *testing.T, handler func(c net.Conn, br *bufio.Reader)) *client.Account {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns sync.Map
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handler(c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	acct := account("127.0.0.1", ln.Addr().(*net.TCPAddr).Port, client.TLSNone)
	acct.Timeout = time.Second
	return acct
}

// answer plays a normal server up to the command named stop (case
// insensitive, "" for none), which gets hostile instead.
func answer(c net.Conn, br *bufio.Reader, stop string, hostile func()) {
	io.WriteString(c, "+OK ready\r\n")
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		verb, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		verb = strings.ToUpper(verb)
		if verb == stop {
			hostile()
			return
		}
		switch verb {
		case "CAPA":
			io.WriteString(c, "+OK\r\nUIDL\r\nTOP\r\nUSER\r\n.\r\n")
		case "LIST":
			io.WriteString(c, "+OK\r\n1 40\r\n.\r\n")
		case "UIDL":
			io.WriteString(c, "+OK\r\n1 abc\r\n.\r\n")
		case "STAT":
			io.WriteString(c, "+OK 1 40\r\n")
		case "QUIT":
			io.WriteString(c, "+OK bye\r\n")
			return
		default:
			io.WriteString(c, "+OK\r\n")
		}
	}
}

// flood sends chunk until total bytes went out or the client hung up.
func flood(c net.Conn, chunk []byte, total int64) int64 {
	var n int64
	c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	for n < total {
		k, err := c.Write(chunk)
		n += int64(k)
		if err != nil {
			break
		}
	}
	return n
}

// dialAndInventory logs in and lists the maildrop: every step a hostile
// server can break before any message is read.
func dialAndInventory(acct *client.Account) error {
	s, err := dial(context.Background(), acct, client.DialOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	_, _, err = s.Inventory(context.Background(), client.FolderRef{Name: client.Inbox}, client.InventoryOptions{})
	return err
}

func TestHostileSilentGreeting(t *testing.T) {
	for name, h := range map[string]func(net.Conn, *bufio.Reader){
		"nothing at all":        func(c net.Conn, br *bufio.Reader) { io.Copy(io.Discard, br) },
		"half a greeting":       func(c net.Conn, br *bufio.Reader) { io.WriteString(c, "+OK rea"); io.Copy(io.Discard, br) },
		"greeting then silence": func(c net.Conn, br *bufio.Reader) { io.WriteString(c, "+OK hi\r\n"); io.Copy(io.Discard, br) },
	} {
		t.Run(name, func(t *testing.T) {
			acct := script(t, h)
			start := time.Now()
			err := dialAndInventory(acct)
			if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), "timed out") {
				t.Errorf("err %v", err)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %v with a 1 s timeout", d)
			}
		})
	}
}

func TestHostileMalformedResponses(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(c net.Conn, br *bufio.Reader)
		want    error
	}{
		{"garbage greeting", func(c net.Conn, br *bufio.Reader) { io.WriteString(c, "\xff\xfe\x00HELLO \x1b[2J\r\n") }, client.ErrProtocol},
		{"NUL in status", func(c net.Conn, br *bufio.Reader) {
			answer(c, br, "CAPA", func() { io.WriteString(c, "\x00+OK\r\n") })
		}, client.ErrProtocol},
		{"status neither +OK nor -ERR", func(c net.Conn, br *bufio.Reader) {
			answer(c, br, "USER", func() { io.WriteString(c, "+OKAY\r\n") })
		}, client.ErrProtocol},
		{"UIDL with controls", func(c net.Conn, br *bufio.Reader) {
			answer(c, br, "UIDL", func() { io.WriteString(c, "+OK\r\n1 a\x1b[2Jb\r\n.\r\n") })
		}, client.ErrProtocol},
		{"UIDL with NUL", func(c net.Conn, br *bufio.Reader) {
			answer(c, br, "UIDL", func() { io.WriteString(c, "+OK\r\n1 a\x00b\r\n.\r\n") })
		}, client.ErrProtocol},
		{"LIST size not a number", func(c net.Conn, br *bufio.Reader) {
			answer(c, br, "LIST", func() { io.WriteString(c, "+OK\r\n1 -5\r\n.\r\n") })
		}, client.ErrProtocol},
		{"listing never terminated", func(c net.Conn, br *bufio.Reader) {
			answer(c, br, "LIST", func() { io.WriteString(c, "+OK\r\n1 40\r\n"); io.Copy(io.Discard, br) })
		}, client.ErrNetwork},
		{"connection closed in a listing", func(c net.Conn, br *bufio.Reader) {
			answer(c, br, "LIST", func() { io.WriteString(c, "+OK\r\n1 40\r\n") })
		}, client.ErrNetwork},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acct := script(t, tc.handler)
			start := time.Now()
			err := dialAndInventory(acct)
			if !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// Lines and listings without end: the client stops reading long before the
// server stops sending.
func TestHostileEndlessAnswers(t *testing.T) {
	line := bytes.Repeat([]byte("a"), 1<<20)
	var lines bytes.Buffer
	for lines.Len() < 1<<20 {
		lines.WriteString("X-CAPABILITY-" + strconv.Itoa(lines.Len()) + "\r\n")
	}
	var listing bytes.Buffer
	for i := 1; listing.Len() < 1<<20; i++ {
		listing.WriteString(strconv.Itoa(i) + " 40\r\n")
	}
	const total = 512 << 20
	for _, tc := range []struct {
		name   string
		stop   string
		prefix string
		chunk  []byte
	}{
		{"greeting without line end", "", "+OK ", line},
		{"status line without end", "CAPA", "+OK ", line},
		{"capability lines without end", "CAPA", "+OK\r\n", lines.Bytes()},
		{"listing without end", "LIST", "+OK\r\n", listing.Bytes()},
		{"listing line without end", "LIST", "+OK\r\n1 ", line},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var written atomic.Int64
			acct := script(t, func(c net.Conn, br *bufio.Reader) {
				hostile := func() {
					io.WriteString(c, tc.prefix)
					written.Store(flood(c, tc.chunk, total))
				}
				if tc.stop == "" {
					hostile()
					return
				}
				answer(c, br, tc.stop, hostile)
			})
			acct.Timeout = 5 * time.Second
			start := time.Now()
			err := dialAndInventory(acct)
			if !errors.Is(err, client.ErrProtocol) {
				t.Errorf("err %v, want a protocol error", err)
			}
			time.Sleep(100 * time.Millisecond)
			if n := written.Load(); n > 96<<20 {
				t.Errorf("the client read %d MB of an answer without end", n>>20)
			}
			if d := time.Since(start); d > 20*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// A connection cut inside the last line of a listing is a network error:
// the start of the line ("2 ") is not taken for a whole one, which would
// read as a message with an empty UIDL or size, a protocol violation.
func TestListingCutInsideALine(t *testing.T) {
	for _, tc := range []struct{ verb, partial string }{
		{"UIDL", "+OK\r\n1 abc\r\n2 "},
		{"LIST", "+OK\r\n1 40\r\n2 "},
	} {
		t.Run(tc.verb, func(t *testing.T) {
			acct := script(t, func(c net.Conn, br *bufio.Reader) {
				answer(c, br, tc.verb, func() { io.WriteString(c, tc.partial) })
			})
			err := dialAndInventory(acct)
			if !errors.Is(err, client.ErrNetwork) || errors.Is(err, client.ErrProtocol) {
				t.Errorf("got %v, want a network error (connection closed) and no protocol violation", err)
			}
		})
	}
}
