package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
	"github.com/duomail/duomail/popsrc/pop3test"
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

// fakeIMAPMessage is one message a scripted IMAP server serves.
type fakeIMAPMessage struct {
	uid       int
	subject   string
	body      string
	messageID string // without angle brackets; none when ""
	received  string // INTERNALDATE; default "03-Jan-2023 10:00:00 +0000"
}

func (m fakeIMAPMessage) raw() string {
	id := ""
	if m.messageID != "" {
		id = "Message-ID: <" + m.messageID + ">\r\n"
	}
	return "From: Sender <sender@example.org>\r\nSubject: " + m.subject + "\r\nDate: Tue, 03 Jan 2023 10:00:00 +0000\r\n" + id +
		"Content-Type: text/plain; charset=utf-8\r\n\r\n" + m.body + "\r\n"
}

// inUIDSet reports whether uid is in a UID set as a client sends it
// ("1", "2:4,7", "5:*"); highest stands for *.
func inUIDSet(set string, uid, highest int) bool {
	num := func(s string) int {
		if s == "*" {
			return highest
		}
		n, _ := strconv.Atoi(s)
		return n
	}
	for _, r := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(r, ":")
		a, b := num(lo), num(lo)
		if isRange {
			b = num(hi)
		}
		if a > b {
			a, b = b, a
		}
		if uid >= a && uid <= b {
			return true
		}
	}
	return false
}

// scriptIMAP is an IMAP server written out command by command, enough for
// list, sync and fetch: each session serves the messages msgs returns for
// that session (counted from 1), and hook may answer a command itself.
type scriptIMAP struct {
	greeting string
	caps     string
	msgs     func(session int) []fakeIMAPMessage
	hook     func(p *imaptest.Peer, tag, name, args string) bool
	silent   bool // never greet
	// uidValidity gives each session's UIDVALIDITY; 7 when nil.
	uidValidity func(session int) uint32

	mu       sync.Mutex
	sessions int
	commands []string
}

func (f *scriptIMAP) saw(names ...string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.commands {
		if slices.Contains(names, c) {
			out = append(out, c)
		}
	}
	return out
}

func (f *scriptIMAP) start(t *testing.T) int {
	t.Helper()
	addr, stop, err := imaptest.Script(f.serve)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return n
}

func (f *scriptIMAP) serve(c net.Conn) {
	if f.silent {
		io.Copy(io.Discard, c)
		return
	}
	f.mu.Lock()
	f.sessions++
	session := f.sessions
	f.mu.Unlock()
	var msgs []fakeIMAPMessage
	if f.msgs != nil {
		msgs = f.msgs(session)
	}
	p := imaptest.NewPeer(c)
	greeting, caps := f.greeting, f.caps
	if greeting == "" {
		greeting = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] scripted"
	}
	if caps == "" {
		caps = "IMAP4rev1 UIDPLUS"
	}
	p.Send(greeting)
	for {
		tag, name, args, err := p.ReadCommand()
		if err != nil {
			return
		}
		// Literal arguments (a LOGIN password with odd characters).
		for strings.HasSuffix(args, "}") && strings.LastIndexByte(args, '{') >= 0 {
			spec := args[strings.LastIndexByte(args, '{')+1 : len(args)-1]
			n, err := strconv.Atoi(strings.TrimSuffix(spec, "+"))
			if err != nil {
				break
			}
			if !strings.HasSuffix(spec, "+") {
				p.Send("+ go ahead")
			}
			lit := make([]byte, n)
			if _, err := io.ReadFull(p.R, lit); err != nil {
				return
			}
			rest, err := p.R.ReadString('\n')
			if err != nil {
				return
			}
			args += "\r\n" + string(lit) + strings.TrimRight(rest, "\r\n")
		}
		f.mu.Lock()
		f.commands = append(f.commands, name)
		f.mu.Unlock()
		if f.hook != nil && f.hook(p, tag, name, args) {
			continue
		}
		switch name {
		case "CAPABILITY":
			p.Send("* CAPABILITY "+caps, tag+" OK done")
		case "LOGIN", "AUTHENTICATE":
			p.Send(tag + " OK [CAPABILITY " + caps + "] logged in")
		case "LIST":
			p.Send(`* LIST () "/" INBOX`, tag+" OK done")
		case "SELECT", "EXAMINE", "STATUS":
			next := 1
			if len(msgs) > 0 {
				next = msgs[len(msgs)-1].uid + 1
			}
			validity := uint32(7)
			if f.uidValidity != nil {
				validity = f.uidValidity(session)
			}
			access := "[READ-WRITE]"
			if name != "SELECT" {
				access = "[READ-ONLY]"
			}
			p.Send(fmt.Sprintf("* %d EXISTS", len(msgs)), fmt.Sprintf("* OK [UIDVALIDITY %d] ok", validity), fmt.Sprintf("* OK [UIDNEXT %d] ok", next), tag+" OK "+access+" done")
		case "SEARCH", "UID SEARCH":
			var uids []string
			for _, m := range msgs {
				uids = append(uids, strconv.Itoa(m.uid))
			}
			p.Send(strings.TrimSpace("* SEARCH "+strings.Join(uids, " ")), tag+" OK done")
		case "UID FETCH":
			var lines []string
			set, _, _ := strings.Cut(args, " ")
			highest := 0
			if len(msgs) > 0 {
				highest = msgs[len(msgs)-1].uid
			}
			for i, m := range msgs {
				if !inUIDSet(set, m.uid, highest) {
					continue
				}
				raw := m.raw()
				items := fmt.Sprintf("UID %d FLAGS () RFC822.SIZE %d", m.uid, len(raw))
				if strings.Contains(args, "ENVELOPE") {
					received, id := m.received, "NIL"
					if received == "" {
						received = "03-Jan-2023 10:00:00 +0000"
					}
					if m.messageID != "" {
						id = `"<` + m.messageID + `>"`
					}
					items += fmt.Sprintf(` INTERNALDATE %q ENVELOPE ("Tue, 03 Jan 2023 10:00:00 +0000" %q (("Sender" NIL "sender" "example.org")) NIL NIL NIL NIL NIL NIL %s)`, received, m.subject, id)
				}
				if strings.Contains(args, "BODYSTRUCTURE") {
					items += fmt.Sprintf(` BODYSTRUCTURE ("text" "plain" ("charset" "utf-8") NIL NIL "7bit" %d 1 NIL NIL NIL NIL)`, len(m.body)+2)
				}
				if strings.Contains(args, "BODY.PEEK[]") {
					items += fmt.Sprintf(" BODY[] {%d}\r\n%s", len(raw), raw)
				} else if strings.Contains(args, "BODY.PEEK[1]") {
					items += fmt.Sprintf(" BODY[1] {%d}\r\n%s\r\n", len(m.body)+2, m.body)
				}
				lines = append(lines, fmt.Sprintf("* %d FETCH (%s)", i+1, items))
			}
			p.Send(append(lines, tag+" OK done")...)
		case "LOGOUT":
			p.Send("* BYE bye", tag+" OK done")
			return
		default:
			p.Send(tag + " OK done")
		}
	}
}

func scriptIMAPURL(port int, query string) string {
	return fmt.Sprintf("imap://alice@127.0.0.1:%d?tls=none&timeout=2s%s", port, query)
}

// STARTTLS and STLS abuse through the binary: a refusal, and responses
// injected in plaintext right after the OK, both end the command with exit
// 4 before any credential is sent.
func TestBinaryStartTLSAbuse(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	var tally hostileTally
	starttls := "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready"
	for _, tc := range []struct{ name, answer, want string }{
		{"IMAP NO to STARTTLS", "%s NO not today", "refused STARTTLS"},
		{"IMAP BAD to STARTTLS", "%s BAD no", "refused STARTTLS"},
		{"IMAP injection after OK", "%s OK begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\nA1 OK [CAPABILITY IMAP4rev1] LOGIN completed", "injection"},
		{"IMAP tagged response injected", "%s OK begin TLS\r\nT1 OK AUTHENTICATE completed", "injection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &scriptIMAP{greeting: starttls, hook: func(p *imaptest.Peer, tag, name, args string) bool {
				if name == "STARTTLS" {
					p.Send(fmt.Sprintf(tc.answer, tag)) // one write: the injection arrives with the OK
					return true
				}
				return false
			}}
			port := f.start(t)
			r := c.runChecked(runOptions{}, "--url", fmt.Sprintf("imap://alice@127.0.0.1:%d?timeout=2s", port), "list")
			tally.clean(t, r, exitNetwork)
			if !strings.Contains(r.stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q: %v", tc.want, r)
			}
			time.Sleep(50 * time.Millisecond)
			if sent := f.saw("LOGIN", "AUTHENTICATE", "SELECT", "EXAMINE", "LIST"); len(sent) > 0 {
				t.Errorf("sent %v after STARTTLS went wrong", sent)
			}
		})
	}
	dir := t.TempDir()
	ca := sourcetest.NewCA(t, dir)
	cfg := ca.ServerTLS(t, dir, sourcetest.CertOptions{})
	for _, tc := range []struct {
		name string
		opts pop3test.Options
		want string
	}{
		{"POP3 -ERR to STLS", pop3test.Options{STLS: cfg, STLSError: true}, "TLS is broken today"},
		{"POP3 injection after +OK", pop3test.Options{STLS: cfg, STLSInject: []byte("+OK injected\r\n+OK logged in\r\n")}, "injection"},
		{"POP3 STLS not offered", pop3test.Options{}, "does not offer STLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := pop3test.Start(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			srv.AddUser("alice", "secret")
			r := c.runChecked(runOptions{}, "--url", fmt.Sprintf("pop3://alice@127.0.0.1:%d?ca_file=%s&timeout=2s", srv.Port(), ca.PEMFile), "list")
			tally.clean(t, r, exitNetwork)
			if !strings.Contains(r.stderr.String(), tc.want) {
				t.Errorf("stderr does not say %q: %v", tc.want, r)
			}
			time.Sleep(50 * time.Millisecond)
			for _, cmd := range srv.Commands() {
				if v, _, _ := strings.Cut(cmd, " "); v == "USER" || v == "PASS" || v == "AUTH" || v == "STAT" || v == "LIST" {
					t.Errorf("sent %q after STLS went wrong: %v", cmd, srv.Commands())
				}
			}
		})
	}
}

// A server that accepts the connection and never greets: exit 4 with a
// clear message, after the account's timeout.
func TestBinarySilentGreeting(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	var tally hostileTally
	imapPort := (&scriptIMAP{silent: true}).start(t)
	popPort := startScriptPOP3(t, &scriptPOP3{silent: true})
	for _, u := range []string{
		fmt.Sprintf("imap://alice@127.0.0.1:%d?tls=none&timeout=1s", imapPort),
		fmt.Sprintf("imap://alice@127.0.0.1:%d?timeout=1s", imapPort),
		fmt.Sprintf("imaps://alice@127.0.0.1:%d?timeout=1s", imapPort),
		fmt.Sprintf("pop3://alice@127.0.0.1:%d?tls=none&timeout=1s", popPort),
		fmt.Sprintf("pop3://alice@127.0.0.1:%d?timeout=1s", popPort),
		fmt.Sprintf("pop3s://alice@127.0.0.1:%d?timeout=1s", popPort),
	} {
		t.Run(u, func(t *testing.T) {
			t.Parallel()
			cmds := [][]string{{"list"}}
			if strings.Contains(u, "tls=none") {
				cmds = append(cmds, []string{"folders"}, []string{"sync"})
			}
			for _, cmd := range cmds {
				r := c.runChecked(runOptions{timeout: 20 * time.Second}, append([]string{"--url", u}, cmd...)...)
				tally.clean(t, r, exitNetwork)
				if !strings.Contains(r.stderr.String(), "timed out") {
					t.Errorf("no clear timeout message: %v", r)
				}
				if r.elapsed > 6*time.Second {
					t.Errorf("took %v with a 1 s timeout: %v", r.elapsed, r)
				}
			}
		})
	}
}

// A server answering with more than duomail can hold, or a line that never
// ends: a protocol error (exit 1), quickly, in bounded memory.
func TestBinaryHostileIMAPServer(t *testing.T) {
	t.Parallel()
	chunk := []byte(strings.Repeat("a", 1<<20))
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	var tally hostileTally
	for _, tc := range []struct{ name, answer string }{
		{"2 GB literal in ENVELOPE", "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5 ENVELOPE (NIL {2000000000}\r\n"},
		{"endless line", "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5 ENVELOPE (NIL \""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &scriptIMAP{
				msgs: func(int) []fakeIMAPMessage { return []fakeIMAPMessage{{uid: 1, subject: "x", body: "y"}} },
				hook: func(p *imaptest.Peer, tag, name, args string) bool {
					if name == "UID FETCH" && strings.Contains(args, "ENVELOPE") {
						p.Conn.Write([]byte(tc.answer))
						for i := 0; i < 1024; i++ { // up to 1 GB, while the client reads
							p.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
							if _, err := p.Conn.Write(chunk); err != nil {
								break
							}
						}
						return true
					}
					return false
				},
			}
			port := f.start(t)
			r := c.runChecked(runOptions{timeout: 30 * time.Second}, "--url", scriptIMAPURL(port, ""), "list")
			tally.clean(t, r, exitError)
			if !strings.Contains(r.stderr.String(), "too large") {
				t.Errorf("stderr: %v", r)
			}
			if r.maxRSS > 200<<20 || r.elapsed > 10*time.Second {
				t.Errorf("peak RSS %d MB, %v: %v", r.maxRSS>>20, r.elapsed, r)
			}
			t.Logf("FIGURES hostile imap server: case=%q exit=%d rss_mb=%d seconds=%.1f", tc.name, r.code, r.maxRSS>>20, r.elapsed.Seconds())
		})
	}
}

// A UID the server reuses for different content under the same
// UIDVALIDITY breaks the IMAP contract; duomail cannot know which content is
// right, but the cache never holds the UID twice, listing shows what the
// server says now, and nothing crashes.
func TestBinaryUIDReused(t *testing.T) {
	t.Parallel()
	f := &scriptIMAP{msgs: func(session int) []fakeIMAPMessage {
		return []fakeIMAPMessage{
			{uid: 1, subject: fmt.Sprintf("version %d of uid 1", session), body: fmt.Sprintf("body of version %d", session)},
			{uid: 2, subject: "stable", body: "stable body"},
		}
	}}
	port := f.start(t)
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	u := scriptIMAPURL(port, "")
	var tally hostileTally
	subjects := func(r hostileRun) []string {
		var out []string
		for _, row := range tsv(r.stdout.String()) {
			out = append(out, row[0]+":"+row[3])
		}
		slices.Sort(out)
		return out
	}
	for session := 1; session <= 4; session++ {
		var r hostileRun
		switch session {
		case 1, 2:
			r = c.runChecked(runOptions{}, "--url", u, "list")
		case 3:
			r = c.runChecked(runOptions{}, "--url", u, "sync", "--bodies")
		case 4:
			r = c.runChecked(runOptions{}, "--url", u, "fetch", "--peek", "1")
			t.Logf("fetch after the UID was reused: %q", r.stdout.String())
			tally.clean(t, r)
			continue
		}
		tally.clean(t, r)
		off := c.runChecked(runOptions{}, "--url", u, "list", "--offline")
		tally.clean(t, off)
		got := subjects(off)
		if len(got) != 2 || got[1] != "2:stable" || !strings.HasPrefix(got[0], "1:version ") {
			t.Errorf("session %d: cache lists %q", session, got)
		}
		if session <= 2 {
			if want := fmt.Sprintf("1:version %d of uid 1", session); got[0] != want {
				t.Errorf("session %d: cache shows %q, the server said %q", session, got[0], want)
			}
		}
	}
}
