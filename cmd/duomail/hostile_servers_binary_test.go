package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client/sourcetest"
)

// Scripted servers for the binary: a POP3 server that streams messages
// generated on the fly (100 MB headers without 100 MB in the test), and an
// IMAP server whose every answer a test writes.

// streamMessage is a message a scripted POP3 server generates when asked.
type streamMessage struct {
	uidl  string
	size  int64
	write func(w io.Writer) error
}

// scriptPOP3 is a small POP3 server (USER/PASS, CAPA, STAT, LIST, UIDL,
// RETR, TOP, NOOP, RSET, DELE, QUIT) serving generated messages. Messages
// must not have lines starting with a dot.
type scriptPOP3 struct {
	ln   net.Listener
	msgs []streamMessage
	// greet, when set, replaces the greeting; with silent the server says nothing at all.
	silent bool

	mu       sync.Mutex
	commands []string
	wg       sync.WaitGroup
}

func startScriptPOP3(t *testing.T, s *scriptPOP3) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln = ln
	var conns sync.Map
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Store(c, true)
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		conns.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		s.wg.Wait()
	})
	return ln.Addr().(*net.TCPAddr).Port
}

func (s *scriptPOP3) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

func (s *scriptPOP3) serve(c net.Conn) {
	br := bufio.NewReader(c)
	bw := bufio.NewWriterSize(c, 64<<10)
	if s.silent {
		io.Copy(io.Discard, br)
		return
	}
	reply := func(format string, args ...any) { fmt.Fprintf(bw, format+"\r\n", args...) }
	reply("+OK scripted")
	bw.Flush()
	num := func(arg string) (int, bool) {
		n, err := strconv.Atoi(strings.TrimSpace(arg))
		if err != nil || n < 1 || n > len(s.msgs) {
			reply("-ERR no such message")
			return 0, false
		}
		return n, true
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		verb = strings.ToUpper(verb)
		s.mu.Lock()
		s.commands = append(s.commands, verb)
		s.mu.Unlock()
		switch verb {
		case "CAPA":
			reply("+OK")
			reply("TOP")
			reply("UIDL")
			reply("USER")
			reply(".")
		case "USER", "PASS", "NOOP", "RSET", "DELE":
			reply("+OK")
		case "STAT":
			var total int64
			for _, m := range s.msgs {
				total += m.size
			}
			reply("+OK %d %d", len(s.msgs), total)
		case "LIST", "UIDL":
			value := func(i int) string {
				if verb == "LIST" {
					return strconv.FormatInt(s.msgs[i].size, 10)
				}
				return s.msgs[i].uidl
			}
			if arg != "" {
				if n, ok := num(arg); ok {
					reply("+OK %d %s", n, value(n-1))
				}
				break
			}
			reply("+OK")
			for i := range s.msgs {
				reply("%d %s", i+1, value(i))
			}
			reply(".")
		case "RETR", "TOP":
			n, ok := num(strings.Fields(arg + " x")[0])
			if !ok {
				break
			}
			reply("+OK")
			var w io.Writer = bw
			if verb == "TOP" {
				w = &headerOnly{w: bw}
			}
			if err := s.msgs[n-1].write(w); err != nil {
				return
			}
			reply(".")
		case "QUIT":
			reply("+OK bye")
			bw.Flush()
			return
		default:
			reply("-ERR unknown")
		}
		if bw.Flush() != nil {
			return
		}
	}
}

// headerOnly passes on a message up to and including its blank line.
type headerOnly struct {
	w    io.Writer
	last [4]byte
	done bool
}

func (h *headerOnly) Write(p []byte) (int, error) {
	for i, c := range p {
		if h.done {
			return len(p), nil
		}
		h.last = [4]byte{h.last[1], h.last[2], h.last[3], c}
		if h.last == [4]byte{'\r', '\n', '\r', '\n'} {
			h.done = true
			if _, err := h.w.Write(p[:i+1]); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return h.w.Write(p)
}

// hugeHeaderMessages are the two 100 MB header cases, generated on demand.
func hugeHeaderMessages(t *testing.T, size int64) []streamMessage {
	var out []streamMessage
	for i, kind := range []sourcetest.HugeHeaderKind{sourcetest.OneHugeField, sourcetest.ManyFields} {
		marker := fmt.Sprintf("MARKER-huge-%d", i)
		n, err := sourcetest.HugeHeaderMessage(io.Discard, kind, size, marker)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, streamMessage{
			uidl: fmt.Sprintf("huge%d", i),
			size: n,
			write: func(w io.Writer) error {
				_, err := sourcetest.HugeHeaderMessage(w, kind, size, marker)
				return err
			},
		})
	}
	// And a 100 MB text body, for the commands that show the text.
	body := func(w io.Writer) (int64, error) {
		bw := bufio.NewWriterSize(w, 64<<10)
		n, _ := io.WriteString(bw, "From: Big <big@example.org>\r\nSubject: hostile huge body\r\nContent-Type: text/plain\r\n\r\nMARKER-huge-2\r\n")
		total := int64(n)
		line := strings.Repeat("body text \x1b[2J\x9b1m ", 40) + "\r\n"
		for total < size {
			n, _ := io.WriteString(bw, line)
			total += int64(n)
		}
		return total, bw.Flush()
	}
	n, _ := body(io.Discard)
	out = append(out, streamMessage{uidl: "huge2", size: n, write: func(w io.Writer) error { _, err := body(w); return err }})
	return out
}

// TestBinaryHugeHeader: a header of 100 MB, as one field and as many, over
// POP3 (the protocol where duomail itself reads every header byte: sync
// downloads the whole message, the cache parses it, fetch reads it back;
// over IMAP the server computes ENVELOPE and duomail never parses the
// header, see TestBinaryHostileIMAPServer for huge server answers). Every
// command stays under 200 MB of memory, shows the text, and leaks no
// control byte from the header.
func TestBinaryHugeHeader(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 100 MB messages")
	}
	t.Parallel()
	const size = 100 << 20
	const limit = 200 << 20
	srv := &scriptPOP3{msgs: hugeHeaderMessages(t, size)}
	port := startScriptPOP3(t, srv)
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	c.timeout = 3 * time.Minute
	u := popURL(port)
	var tally hostileTally
	check := func(r hostileRun, allowed ...int) hostileRun {
		t.Helper()
		tally.clean(t, r, allowed...)
		if r.maxRSS > limit {
			t.Errorf("peak RSS %d MB, limit %d MB: %v", r.maxRSS>>20, limit>>20, r)
		}
		t.Logf("FIGURES huge header: cmd=%q exit=%d rss_mb=%d stdout_bytes=%d seconds=%.1f", strings.Join(r.args[2:], " "), r.code, r.maxRSS>>20, r.stdout.n, r.elapsed.Seconds())
		return r
	}
	r := check(c.runChecked(runOptions{}, "--url", u, "list", "--headers-only"))
	if rows := tsv(r.stdout.String()); len(rows) != 3 || !strings.HasPrefix(rows[2][3], "hostile huge header") {
		t.Errorf("--headers-only rows %q", rows)
	}
	r = check(c.runChecked(runOptions{}, "--url", u, "list"))
	rows := tsv(r.stdout.String())
	if len(rows) != 3 || !strings.HasPrefix(rows[2][3], "hostile huge header") {
		t.Fatalf("list rows %q", rows)
	}
	check(c.runChecked(runOptions{tty: true}, "--url", u, "list"))
	for i, m := range srv.msgs {
		marker := fmt.Sprintf("MARKER-huge-%d", i)
		r := check(c.runChecked(runOptions{}, "--url", u, "fetch", "--peek", m.uidl))
		if !strings.Contains(r.stdout.String(), marker) {
			t.Errorf("text lost: %v", r)
		}
		if i == 0 { // streaming 100 MB to stdout once is enough
			r = check(c.runChecked(runOptions{keep: 1 << 20}, "--url", u, "fetch", "--headers", m.uidl))
			if r.stdout.n < size/2 {
				t.Errorf("--headers wrote %d bytes of a %d byte header", r.stdout.n, size)
			}
		}
		r = check(c.runChecked(runOptions{}, "--url", u, "fetch", "--peek", "--json", m.uidl))
		if !strings.Contains(r.stdout.String(), marker) {
			t.Errorf("--json text lost: %v", r)
		}
		if i == 2 && !strings.Contains(r.stderr.String(), "text is longer than") {
			t.Errorf("no warning that the text was cut: %v", r)
		}
		// --json holds what it prints: cut, with a warning.
		r = check(c.runChecked(runOptions{keep: 1 << 20}, "--url", u, "fetch", "--headers", "--json", m.uidl))
		if i < 2 && !strings.Contains(r.stderr.String(), "header is longer than") {
			t.Errorf("no warning that the header was cut: %v", r)
		}
	}
	check(c.runChecked(runOptions{}, "--url", u, "sync"))
}
