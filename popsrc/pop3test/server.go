// Package pop3test is a small POP3 server on loopback for tests and for
// `duomail demo`: RFC 1939 with CAPA, STLS, AUTH PLAIN and PIPELINING,
// mailboxes in memory, DELE committed only by QUIT, a log of the commands
// each session sent, and switches that hide extensions or inject faults.
package pop3test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// Options shape the server. The zero value is a plaintext server with
// every extension.
type Options struct {
	// Listen is the address to listen on; default "127.0.0.1:0".
	Listen string
	// TLS, when set, makes every connection implicit TLS (like port 995).
	TLS *tls.Config
	// STLS, when set, offers STLS with this configuration.
	STLS *tls.Config

	// Hide* drop an extension from CAPA and make the server refuse it.
	HideUIDL, HideTOP, HidePipelining, HideUSER, HideSASLPlain bool
	// NoCAPA makes CAPA itself fail, like an RFC 1939-only server.
	NoCAPA bool

	// CutRETRAfter, when > 0, closes the connection after that many bytes
	// of a RETR answer (counted from its status line), without committing.
	CutRETRAfter int
	// StallOn names a command (such as "RETR") that is never answered: the
	// session goes silent, keeping the connection open until Close.
	StallOn string
	// STLSError answers -ERR to STLS.
	STLSError bool
	// STLSInject is sent right after "+OK" to STLS, in the same write,
	// as a man in the middle would inject a forged response.
	STLSInject []byte

	// UnstableUIDL gives every message a new UIDL in every session, as
	// some servers do after a migration.
	UnstableUIDL bool
	// TruncateRETR, when > 0, makes RETR send only the first that many
	// bytes of longer messages (a well-formed answer, but short of what
	// LIST announced), as a server that lost part of a message.
	TruncateRETR int
	// ListSize, when set, is the size LIST and STAT announce for a
	// message instead of its size on the wire, as servers that count
	// line ends their own way.
	ListSize func(raw []byte) int
}

// Server is a running test server.
type Server struct {
	opts Options
	ln   net.Listener

	mu        sync.Mutex
	users     map[string]*mailbox
	seq       int
	sessions  []*sessionLog
	conns     map[net.Conn]bool
	pipelined int
	closed    bool

	done chan struct{}
	wg   sync.WaitGroup
}

type mailbox struct {
	password string
	msgs     []*message
}

type message struct {
	uidl string
	raw  []byte
}

// size is the message's size as sent: its bytes, plus the CRLF the server
// adds when the last line has no ending.
func (m *message) size() int {
	if len(m.raw) > 0 && m.raw[len(m.raw)-1] != '\n' {
		return len(m.raw) + 2
	}
	return len(m.raw)
}

type sessionLog struct {
	mu       sync.Mutex
	commands []string
}

// Start listens and serves until Close.
func Start(opts Options) (*Server, error) {
	addr := opts.Listen
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pop3test: listen: %w", err)
	}
	s := &Server{opts: opts, ln: ln, users: map[string]*mailbox{}, conns: map[net.Conn]bool{}, done: make(chan struct{})}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Host and Port split Addr for account settings.
func (s *Server) Host() string { h, _, _ := net.SplitHostPort(s.Addr()); return h }

func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.Addr())
	n, _ := strconv.Atoi(p)
	return n
}

// Close stops the server and drops every connection (stalled ones too),
// which rolls back their uncommitted DELE.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

// AddUser creates a user with an empty mailbox (or changes the password).
func (s *Server) AddUser(name, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mb := s.users[name]; mb != nil {
		mb.password = password
		return
	}
	s.users[name] = &mailbox{password: password}
}

// Add appends a message to a user's mailbox and returns its UIDL. The
// bytes are served exactly as given (dot-stuffed on the wire).
func (s *Server) Add(user string, raw []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.users[user]
	if mb == nil {
		mb = &mailbox{}
		s.users[user] = mb
	}
	s.seq++
	m := &message{uidl: fmt.Sprintf("uid%08d.%x", s.seq, len(raw)), raw: bytes.Clone(raw)}
	mb.msgs = append(mb.msgs, m)
	return m.uidl
}

// AddWithUIDL appends a message under a UIDL of the caller's choosing,
// which other messages may share, or which may be one a deleted message
// had, as misbehaving servers do.
func (s *Server) AddWithUIDL(user, uidl string, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.users[user]
	if mb == nil {
		mb = &mailbox{}
		s.users[user] = mb
	}
	mb.msgs = append(mb.msgs, &message{uidl: uidl, raw: bytes.Clone(raw)})
}

// Messages returns what remains in a user's mailbox, oldest first.
func (s *Server) Messages(user string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	if mb := s.users[user]; mb != nil {
		for _, m := range mb.msgs {
			out = append(out, bytes.Clone(m.raw))
		}
	}
	return out
}

// Sessions returns the commands of every session so far, one slice per
// connection in the order they connected. PASS and AUTH arguments are
// logged as "[redacted]".
func (s *Server) Sessions() [][]string {
	s.mu.Lock()
	logs := append([]*sessionLog(nil), s.sessions...)
	s.mu.Unlock()
	out := make([][]string, len(logs))
	for i, l := range logs {
		l.mu.Lock()
		out[i] = append([]string(nil), l.commands...)
		l.mu.Unlock()
	}
	return out
}

// Commands returns the commands of the latest session (nil before any).
func (s *Server) Commands() []string {
	all := s.Sessions()
	if len(all) == 0 {
		return nil
	}
	return all[len(all)-1]
}

// Pipelined counts commands that arrived while an earlier one was still
// unanswered: a client that waits for each answer leaves it at 0.
func (s *Server) Pipelined() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pipelined
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		log := &sessionLog{}
		s.sessions = append(s.sessions, log)
		num := len(s.sessions)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				c.Close()
			}()
			var nc net.Conn = c
			if s.opts.TLS != nil {
				tc := tls.Server(c, s.opts.TLS)
				if tc.Handshake() != nil {
					return
				}
				nc = tc
			}
			sess := &session{srv: s, log: log, num: num}
			sess.setConn(nc)
			sess.serve()
		}()
	}
}

// session is one connection's state.
type session struct {
	srv *Server
	log *sessionLog
	num int // counts from 1 in the order sessions connected
	nc  net.Conn
	br  *bufio.Reader
	bw  *bufio.Writer
	tls bool

	user    string // after USER
	mb      *mailbox
	msgs    []*message // the maildrop as of login
	deleted map[int]bool
}

var errQuit = errors.New("quit")

func (ss *session) setConn(nc net.Conn) {
	ss.nc = nc
	ss.br = bufio.NewReaderSize(nc, 4096)
	ss.bw = bufio.NewWriterSize(nc, 64<<10)
	_, ss.tls = nc.(*tls.Conn)
}

func (ss *session) serve() {
	ss.reply("+OK duomail pop3test ready")
	ss.bw.Flush()
	for {
		line, err := ss.br.ReadString('\n')
		if err != nil {
			return
		}
		if ss.br.Buffered() > 0 {
			ss.srv.mu.Lock()
			ss.srv.pipelined++
			ss.srv.mu.Unlock()
		}
		line = strings.TrimRight(line, "\r\n")
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		ss.record(verb, arg)
		if ss.srv.opts.StallOn != "" && strings.EqualFold(verb, ss.srv.opts.StallOn) {
			ss.bw.Flush()
			<-ss.srv.done
			return
		}
		if err := ss.command(verb, arg); err != nil {
			ss.bw.Flush()
			return
		}
		// Answers to pipelined commands go out together.
		if ss.br.Buffered() == 0 {
			if ss.bw.Flush() != nil {
				return
			}
		}
	}
}

func (ss *session) record(verb, arg string) {
	entry := verb
	switch {
	case verb == "PASS":
		entry += " [redacted]"
	case verb == "AUTH":
		mech, _, _ := strings.Cut(arg, " ")
		entry += " " + mech + " [redacted]"
	case arg != "":
		entry += " " + arg
	}
	ss.log.mu.Lock()
	ss.log.commands = append(ss.log.commands, entry)
	ss.log.mu.Unlock()
}

func (ss *session) reply(format string, args ...any) {
	fmt.Fprintf(ss.bw, format, args...)
	ss.bw.WriteString("\r\n")
}

func (ss *session) command(verb, arg string) error {
	opts := ss.srv.opts
	if verb == "QUIT" {
		return ss.quit()
	}
	if verb == "CAPA" {
		return ss.capa()
	}
	if ss.mb == nil {
		switch verb {
		case "STLS":
			return ss.stls()
		case "USER":
			if opts.HideUSER {
				ss.reply("-ERR USER not allowed")
				return nil
			}
			ss.user = arg
			ss.reply("+OK send PASS")
		case "PASS":
			if opts.HideUSER || ss.user == "" {
				ss.reply("-ERR USER first")
				return nil
			}
			ss.login(ss.user, arg)
		case "AUTH":
			return ss.auth(arg)
		default:
			ss.reply("-ERR %s not allowed before login", verb)
		}
		return nil
	}
	switch verb {
	case "STAT":
		n, size := 0, 0
		for i, m := range ss.msgs {
			if !ss.deleted[i] {
				n++
				size += ss.listSize(m)
			}
		}
		ss.reply("+OK %d %d", n, size)
	case "LIST":
		ss.listing(arg, "scan listing", func(m *message) string { return strconv.Itoa(ss.listSize(m)) })
	case "UIDL":
		if opts.HideUIDL {
			ss.reply("-ERR UIDL not supported")
			return nil
		}
		ss.listing(arg, "unique-id listing", func(m *message) string {
			if opts.UnstableUIDL {
				return fmt.Sprintf("%s.s%d", m.uidl, ss.num)
			}
			return m.uidl
		})
	case "RETR":
		m, ok := ss.message(arg)
		if !ok {
			return nil
		}
		var w io.Writer = ss.bw
		var cut *cutWriter
		if opts.CutRETRAfter > 0 {
			cut = &cutWriter{w: ss.bw, left: opts.CutRETRAfter}
			w = cut
		}
		fmt.Fprintf(w, "+OK %d octets\r\n", ss.listSize(m))
		raw := m.raw
		if n := opts.TruncateRETR; n > 0 && len(raw) > n {
			raw = raw[:n]
		}
		writeDotStuffed(w, raw, -1)
		if cut != nil && cut.cut {
			ss.bw.Flush()
			return errCut
		}
	case "TOP":
		if opts.HideTOP {
			ss.reply("-ERR TOP not supported")
			return nil
		}
		numText, linesText, _ := strings.Cut(arg, " ")
		lines, err := strconv.Atoi(strings.TrimSpace(linesText))
		if err != nil || lines < 0 {
			ss.reply("-ERR syntax: TOP msg n")
			return nil
		}
		m, ok := ss.message(numText)
		if !ok {
			return nil
		}
		ss.reply("+OK top of message follows")
		writeDotStuffed(ss.bw, m.raw, lines)
	case "DELE":
		num, ok := ss.number(arg)
		if !ok {
			return nil
		}
		ss.deleted[num-1] = true
		ss.reply("+OK message %d deleted", num)
	case "NOOP":
		ss.reply("+OK")
	case "RSET":
		ss.deleted = map[int]bool{}
		ss.reply("+OK")
	default:
		ss.reply("-ERR unknown command %s", verb)
	}
	return nil
}

func (ss *session) capa() error {
	opts := ss.srv.opts
	if opts.NoCAPA {
		ss.reply("-ERR unknown command CAPA")
		return nil
	}
	ss.reply("+OK capability list follows")
	if !opts.HideTOP {
		ss.reply("TOP")
	}
	if !opts.HideUIDL {
		ss.reply("UIDL")
	}
	if !opts.HidePipelining {
		ss.reply("PIPELINING")
	}
	ss.reply("RESP-CODES")
	if ss.mb == nil {
		if !opts.HideUSER {
			ss.reply("USER")
		}
		if !opts.HideSASLPlain {
			ss.reply("SASL PLAIN")
		}
		if opts.STLS != nil && !ss.tls {
			ss.reply("STLS")
		}
	}
	ss.reply("IMPLEMENTATION duomail-pop3test")
	ss.reply(".")
	return nil
}

func (ss *session) stls() error {
	opts := ss.srv.opts
	if opts.STLS == nil || ss.tls {
		ss.reply("-ERR STLS not available")
		return nil
	}
	if opts.STLSError {
		ss.reply("-ERR [SYS/TEMP] TLS is broken today")
		return nil
	}
	ss.bw.WriteString("+OK begin TLS negotiation\r\n")
	ss.bw.Write(opts.STLSInject)
	if err := ss.bw.Flush(); err != nil {
		return err
	}
	tc := tls.Server(ss.nc, opts.STLS)
	if err := tc.Handshake(); err != nil {
		return err
	}
	ss.setConn(tc)
	return nil
}

func (ss *session) auth(arg string) error {
	mech, ir, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") || ss.srv.opts.HideSASLPlain {
		ss.reply("-ERR unsupported mechanism")
		return nil
	}
	if ir == "" {
		ss.reply("+ ")
		if err := ss.bw.Flush(); err != nil {
			return err
		}
		line, err := ss.br.ReadString('\n')
		if err != nil {
			return err
		}
		ir = strings.TrimRight(line, "\r\n")
		if ir == "*" {
			ss.reply("-ERR authentication cancelled")
			return nil
		}
	}
	data, err := base64.StdEncoding.DecodeString(ir)
	parts := strings.Split(string(data), "\x00")
	if err != nil || len(parts) != 3 {
		ss.reply("-ERR malformed PLAIN response")
		return nil
	}
	ss.login(parts[1], parts[2])
	return nil
}

func (ss *session) login(user, password string) {
	srv := ss.srv
	srv.mu.Lock()
	defer srv.mu.Unlock()
	mb := srv.users[user]
	if mb == nil || mb.password != password {
		ss.reply("-ERR [AUTH] invalid user name or password")
		return
	}
	ss.mb = mb
	ss.msgs = append([]*message(nil), mb.msgs...)
	ss.deleted = map[int]bool{}
	ss.reply("+OK logged in, %d messages", len(ss.msgs))
}

// quit commits deletions in the TRANSACTION state (RFC 1939 6).
func (ss *session) quit() error {
	if ss.mb != nil && len(ss.deleted) > 0 {
		gone := map[*message]bool{}
		for i := range ss.deleted {
			gone[ss.msgs[i]] = true
		}
		ss.srv.mu.Lock()
		kept := ss.mb.msgs[:0:0]
		for _, m := range ss.mb.msgs {
			if !gone[m] {
				kept = append(kept, m)
			}
		}
		ss.mb.msgs = kept
		ss.srv.mu.Unlock()
	}
	ss.reply("+OK bye")
	return errQuit
}

func (ss *session) listSize(m *message) int {
	if f := ss.srv.opts.ListSize; f != nil {
		return f(m.raw)
	}
	return m.size()
}

// number parses a message number and checks it names a live message.
func (ss *session) number(arg string) (int, bool) {
	num, err := strconv.Atoi(strings.TrimSpace(arg))
	switch {
	case err != nil:
		ss.reply("-ERR invalid message number")
		return 0, false
	case num < 1 || num > len(ss.msgs):
		ss.reply("-ERR no such message")
		return 0, false
	case ss.deleted[num-1]:
		ss.reply("-ERR message %d already deleted", num)
		return 0, false
	}
	return num, true
}

func (ss *session) message(arg string) (*message, bool) {
	num, ok := ss.number(arg)
	if !ok {
		return nil, false
	}
	return ss.msgs[num-1], true
}

func (ss *session) listing(arg, what string, value func(*message) string) {
	if arg != "" {
		num, ok := ss.number(arg)
		if ok {
			ss.reply("+OK %d %s", num, value(ss.msgs[num-1]))
		}
		return
	}
	ss.reply("+OK %s follows", what)
	for i, m := range ss.msgs {
		if !ss.deleted[i] {
			ss.reply("%d %s", i+1, value(m))
		}
	}
	ss.reply(".")
}

// writeDotStuffed writes a message as a multi-line answer body: a dot
// doubled at the start of every line that has one, lines of any length and
// their endings kept as they are, CRLF added if the last line lacks an
// ending, and the terminating line. lines >= 0 stops after the header and
// that many body lines (TOP).
func writeDotStuffed(w io.Writer, raw []byte, lines int) error {
	inBody, bodyLines := false, 0
	newline := true
	for len(raw) > 0 {
		if inBody && lines >= 0 && bodyLines >= lines {
			break
		}
		end := bytes.IndexByte(raw, '\n') + 1
		if end == 0 {
			end = len(raw)
		}
		line := raw[:end]
		if line[0] == '.' {
			if _, err := w.Write([]byte{'.'}); err != nil {
				return err
			}
		}
		if _, err := w.Write(line); err != nil {
			return err
		}
		newline = line[len(line)-1] == '\n'
		if inBody {
			bodyLines++
		} else if len(bytes.TrimRight(line, "\r\n")) == 0 {
			inBody = true
		}
		raw = raw[end:]
	}
	term := ".\r\n"
	if !newline {
		term = "\r\n.\r\n"
	}
	_, err := io.WriteString(w, term)
	return err
}

// cutWriter passes on the first left bytes and drops the rest, noting that
// it did, so the server can hang up mid-answer.
type cutWriter struct {
	w    io.Writer
	left int
	cut  bool
}

var errCut = errors.New("pop3test: connection cut")

func (c *cutWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		c.w.Write(p[:c.left])
		c.left = 0
		c.cut = true
		return 0, errCut
	}
	c.left -= len(p)
	return c.w.Write(p)
}
