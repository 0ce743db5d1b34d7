package imapsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

// Hostile servers: answers built to exhaust memory or confuse the parser.
// imapclient holds every string of a response in memory (quoted strings,
// atoms, and literals outside BODY[] sections) with no limit of its own, so
// the wire must refuse a response too large to hold before imapclient
// reads it.

// flood writes chunk after chunk until total bytes went out or the client
// stops reading, and returns how many were written.
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

const floodBytes = 256 << 20

func TestHostileServerResponseSize(t *testing.T) {
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for _, tc := range []struct {
		name   string
		answer string // sent to UID FETCH, then the flood
		list   bool   // List (ENVELOPE) rather than Download
	}{
		{"literal of 2 GB in ENVELOPE", "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5 ENVELOPE (NIL {2000000000}\r\n", true},
		{"literal of 200 MB in BODYSTRUCTURE", "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5 BODYSTRUCTURE (\"text\" {200000000}\r\n", true},
		{"quoted string without end", "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5 ENVELOPE (NIL \"", true},
		{"line without end", "* OK ", false},
		{"atom without end", "* 1 FETCH (UID 1 FLAGS (", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var written atomic.Int64
			f := &fake{handle: func(p *imaptest.Peer, tag, name, args string) bool {
				if name != "UID FETCH" {
					return false
				}
				p.Conn.Write([]byte(tc.answer))
				written.Store(flood(p.Conn, chunk, floodBytes))
				return true
			}}
			acct := f.start(t)
			acct.Timeout = 5 * time.Second
			src, err := Dial(bg, acct, client.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			start := time.Now()
			if tc.list {
				_, err = src.List(bg, client.FolderRef{Name: "INBOX"}, client.ListOptions{}, func(client.Envelope) error { return nil })
			} else {
				err = src.Download(bg, client.FolderRef{Name: "INBOX"}, []string{"1"}, func(string, int64, io.Reader) error { return nil })
			}
			if !errors.Is(err, client.ErrProtocol) || !strings.Contains(err.Error(), "too large") {
				t.Errorf("err %v, want a protocol error saying the response is too large", err)
			}
			src.Close()
			time.Sleep(100 * time.Millisecond) // let the server see the closed connection
			if n := written.Load(); n > maxResponseBytes+(16<<20) {
				t.Errorf("the client read %d MB of a response it cannot hold (limit %d MB)", n>>20, maxResponseBytes>>20)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// A greeting that never ends is refused the same way, in every TLS mode
// that hands the greeting to imapclient.
func TestHostileGreetingSize(t *testing.T) {
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	var written atomic.Int64
	addr, stop, err := imaptest.Script(func(c net.Conn) {
		c.Write([]byte("* OK "))
		written.Store(flood(c, chunk, floodBytes))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	acct := scriptAccount(addr)
	_, err = Dial(bg, acct, client.DialOptions{})
	if !errors.Is(err, client.ErrProtocol) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("err %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := written.Load(); n > maxResponseBytes+(16<<20) {
		t.Errorf("read %d MB of the greeting", n>>20)
	}
}

func scriptAccount(addr string) *client.Account {
	host, port, _ := net.SplitHostPort(addr)
	var n int
	fmt.Sscan(port, &n)
	return &client.Account{Name: "x", Protocol: client.IMAP, Host: host, Port: n, TLS: client.TLSNone, Username: "alice",
		Timeout: 2 * time.Second, Password: func(context.Context) (string, error) { return "secret", nil }}
}

// A message body may be any size: a literal announced in BODY[] streams
// through without being allocated, and a server that stops sending in the
// middle of it is a timeout, not a hang.
func TestHostileHugeBodyLiteralStreams(t *testing.T) {
	chunk := bytes.Repeat([]byte("b"), 1<<20)
	const sent = 64 << 20
	f := &fake{handle: func(p *imaptest.Peer, tag, name, args string) bool {
		switch {
		case name == "UID FETCH" && strings.Contains(args, "BODY.PEEK[]"):
			p.Conn.Write([]byte("* 1 FETCH (UID 1 RFC822.SIZE 2000000000 BODY[] {2000000000}\r\n"))
			flood(p.Conn, chunk, sent)
			return true // and then silence
		}
		return false
	}}
	acct := f.start(t)
	src, err := Dial(bg, acct, client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var got int64
	start := time.Now()
	err = src.Download(bg, client.FolderRef{Name: "INBOX"}, []string{"1"}, func(_ string, size int64, r io.Reader) error {
		n, err := io.Copy(io.Discard, r)
		got = n
		return err
	})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("err %v, want a timeout", err)
	}
	if got != sent {
		t.Errorf("streamed %d bytes, server sent %d", got, sent)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v with a 1 s timeout", d)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 32<<20 {
		t.Errorf("allocated %d MB to stream a 64 MB body", grew>>20)
	}
}

// Malformed lines end the session with an error naming the operation,
// never a hang or a panic, and the Source reports the same error after.
func TestHostileMalformedLines(t *testing.T) {
	for _, tc := range []struct{ name, answer string }{
		{"NUL bytes", "* 2 EXISTS\x00\x00\r\n* OK [UIDVALIDITY 7] \x00\r\n"},
		{"garbage", "\xff\xfe garbage \x1b[2J\r\n"},
		{"bare LF and CR", "* 2 EXISTS\n\r* OK\r"},
		{"tag of another command", "A999 OK done\r\n"},
		{"unknown untagged response", "* GARBAGE (((((\r\n"},
		{"unbalanced parentheses", "* 1 FETCH (UID 1 FLAGS (((((\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fake{handle: func(p *imaptest.Peer, tag, name, args string) bool {
				if name != "EXAMINE" && name != "SELECT" {
					return false
				}
				p.Conn.Write([]byte(tc.answer))
				return true // and nothing more: the tagged answer never comes
			}}
			acct := f.start(t)
			src, err := Dial(bg, acct, client.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			start := time.Now()
			_, err = src.Status(bg, "INBOX")
			if err == nil || !strings.HasPrefix(err.Error(), "status INBOX") {
				t.Errorf("err %v", err)
			}
			if !errors.Is(err, client.ErrProtocol) && !errors.Is(err, client.ErrNetwork) {
				t.Errorf("err %v is neither a protocol nor a network error", err)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %v", d)
			}
			if _, err2 := src.Folders(bg); err2 == nil {
				t.Errorf("session still usable after %v", err)
			}
		})
	}
}

func TestStreamedSection(t *testing.T) {
	for before, want := range map[string]bool{
		"* 1 FETCH (UID 1 BODY[]":                             true,
		"* 1 FETCH (BODY[1.2.MIME] ":                          true,
		"* 1 FETCH (UID 1 body[header.fields (subject from)]": true,
		"* 1 FETCH (UID 1 BODY[]<0> ":                         true,
		"* 1 FETCH (UID 1 BINARY[1] ~":                        true,
		"* 1 FETCH (UID 1 ENVELOPE (NIL ":                     false,
		"* 1 FETCH (UID 1 XBODY[]":                            false,
		"* 1 FETCH (UID 1 BODYSTRUCTURE (\"text\" ":           false,
		"* 1 FETCH (UID 1 BODY[]<0":                           false,
		"":                                                    false,
	} {
		if got := streamedSection(before); got != want {
			t.Errorf("streamedSection(%q) = %v", before, got)
		}
	}
}

// What a real server legitimately sends passes the guard: a big message
// body (streamed), a long subject (held, under the limit), many responses
// that together exceed the limit.
func TestSizeGuardPassesLegitimateResponses(t *testing.T) {
	var g sizeGuard
	feed := func(s string) {
		t.Helper()
		// In small and odd pieces, as reads split them.
		for len(s) > 0 {
			n := min(len(s), 7777)
			if err := g.feed([]byte(s[:n])); err != nil {
				t.Fatal(err)
			}
			s = s[n:]
		}
	}
	body := strings.Repeat("x", 3*maxResponseBytes)
	feed(fmt.Sprintf("* 1 FETCH (UID 1 BODY[] {%d}\r\n%s)\r\n", len(body), body))
	subject := strings.Repeat("s", maxResponseBytes-1000)
	feed(fmt.Sprintf("* 2 FETCH (UID 2 ENVELOPE (NIL {%d}\r\n%s NIL NIL NIL NIL NIL NIL NIL NIL))\r\n", len(subject), subject))
	line := "* 3 FETCH (UID 3 FLAGS (\\Seen))\r\n"
	feed(strings.Repeat(line, 2*maxResponseBytes/len(line)))
	feed("A1 OK done\r\n")
	if g.held != 0 || g.literal != 0 {
		t.Errorf("guard state after complete responses: %+v", g)
	}
}

// FETCH items in an order no server uses (UID last, flags first): the
// listing is still complete and right, or fails loudly; a message is
// never silently missing or given another's envelope.
func TestHostileFetchItemOrder(t *testing.T) {
	bs := `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1 NIL NIL NIL NIL)`
	env := func(subject string) string {
		return `ENVELOPE ("Mon, 02 Jan 2023 15:04:05 +0000" "` + subject + `" NIL NIL NIL NIL NIL NIL NIL NIL)`
	}
	for name, answer := range map[string][]string{
		"UID last": {
			"* 1 FETCH (FLAGS () RFC822.SIZE 5 " + env("one") + " BODYSTRUCTURE " + bs + " UID 1)",
			"* 2 FETCH (BODYSTRUCTURE " + bs + " " + env("two") + " RFC822.SIZE 5 FLAGS (\\Seen) UID 2)",
		},
		"reversed messages": {
			"* 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE 5 " + env("two") + " BODYSTRUCTURE " + bs + ")",
			"* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5 " + env("one") + " BODYSTRUCTURE " + bs + ")",
		},
		"split over two responses": {
			"* 1 FETCH (UID 1 FLAGS ())",
			"* 1 FETCH (UID 1 RFC822.SIZE 5 " + env("one") + " BODYSTRUCTURE " + bs + ")",
			"* 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE 5 " + env("two") + " BODYSTRUCTURE " + bs + ")",
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := &fake{handle: func(p *imaptest.Peer, tag, cmd, args string) bool {
				if cmd != "UID FETCH" {
					return false
				}
				p.Send(append(answer, tag+" OK done")...)
				return true
			}}
			src, err := Dial(bg, f.start(t), client.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			got := map[string]string{}
			_, err = src.List(bg, client.FolderRef{Name: "INBOX"}, client.ListOptions{}, func(e client.Envelope) error {
				got[e.ID] = e.Subject
				return nil
			})
			switch {
			case err != nil && !errors.Is(err, client.ErrProtocol):
				t.Errorf("err %v, want success or a protocol error", err)
			case err == nil && (got["1"] != "one" || got["2"] != "two" || len(got) != 2):
				t.Errorf("listed %v", got)
			}
			t.Logf("%s: listed %v, err %v", name, got, err)
		})
	}
}

// The common case of a split answer: another device marks a message seen
// while the listing runs, and the flag change (with its UID, as Dovecot
// sends it) comes just before the message's own answer. The message is
// asked for again and listed with its envelope.
func TestFlagChangeDuringList(t *testing.T) {
	bs := `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1 NIL NIL NIL NIL)`
	var fetches atomic.Int32
	f := &fake{handle: func(p *imaptest.Peer, tag, cmd, args string) bool {
		if cmd != "UID FETCH" {
			return false
		}
		var lines []string
		if fetches.Add(1) == 1 {
			lines = append(lines, `* 1 FETCH (UID 1 FLAGS (\Seen))`)
		}
		for _, u := range []string{"1", "2"} {
			if strings.Contains(args, u) || strings.Contains(args, "1:2") {
				lines = append(lines, "* "+u+" FETCH (UID "+u+` FLAGS (\Seen) RFC822.SIZE 5 ENVELOPE ("Mon, 02 Jan 2023 15:04:05 +0000" "subject `+u+`" NIL NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE `+bs+")")
			}
		}
		p.Send(append(lines, tag+" OK done")...)
		return true
	}}
	src, err := Dial(bg, f.start(t), client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	got := map[string]string{}
	if _, err := src.List(bg, client.FolderRef{Name: "INBOX"}, client.ListOptions{}, func(e client.Envelope) error {
		got[e.ID] = e.Subject
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got["1"] != "subject 1" || got["2"] != "subject 2" {
		t.Errorf("listed %v after %d fetches", got, fetches.Load())
	}
}
