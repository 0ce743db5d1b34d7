// Package popsrc is the POP3 implementation of client.Source: RFC 1939 with
// CAPA (RFC 2449), STLS (RFC 2595), AUTH PLAIN (RFC 5034) and USER/PASS,
// spoken directly over a buffered connection so messages arrive byte-exact
// and many RETR can be in flight at once.
//
// POP3 has one folder, INBOX, keeps no flags and commits deletions only at
// QUIT. Messages are identified by their UIDL; a server without UIDL gets
// IDs made from a digest of each message's header (fetched with TOP n 0).
package popsrc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/bearer"
	"github.com/duomail/duomail/client/wire"
	"github.com/emersion/go-sasl"
)

// Source is a POP3 session in the TRANSACTION state.
type Source struct {
	acct *client.Account
	opts client.DialOptions
	c    *conn

	capa      []string // the last CAPA answer, as sent
	capaKnown bool     // false when the server does not answer CAPA
	sasl      []string // mechanisms from the last CAPA that listed any
	tlsDesc   string

	uidl  support
	top   support
	drop  *maildrop // message numbers and IDs, loaded once per session
	warns map[string]bool

	deletes int // DELE accepted, waiting for QUIT
	closed  bool
}

var (
	_ client.Source     = (*Source)(nil)
	_ client.Identifier = (*Source)(nil)
)

// support is what we know of an optional command: announced by CAPA,
// refused, or unknown (no CAPA: try it and see).
type support int

const (
	unknown support = iota
	supported
	refused
)

// Dial connects, secures and authenticates a POP3 session for acct. It is a
// client.Dialer.
func Dial(ctx context.Context, acct *client.Account, opts client.DialOptions) (client.Source, error) {
	s, err := dial(ctx, acct, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func dial(ctx context.Context, acct *client.Account, opts client.DialOptions) (*Source, error) {
	nc, raw, err := wire.Dial(ctx, acct, opts)
	if err != nil {
		return nil, err
	}
	s := &Source{acct: acct, opts: opts, c: newConn(nc, raw, opts)}
	end, err := s.c.begin(ctx)
	if err != nil {
		raw.Close()
		return nil, err
	}
	err = s.open(ctx)
	end()
	if err == nil && s.c.broken != nil {
		err = s.c.broken
	}
	if err != nil {
		raw.Close()
		return nil, err
	}
	return s, nil
}

// open runs the AUTHORIZATION state: greeting, CAPA, STLS, login.
func (s *Source) open(ctx context.Context) error {
	addr := s.acct.Address()
	if _, err := s.c.greeting(ctx, "greeting from "+addr, s.acct); err != nil {
		return err
	}
	if err := s.capability(); err != nil {
		return err
	}
	if s.acct.TLS == client.TLSStartTLS {
		if err := s.startTLS(ctx); err != nil {
			return err
		}
	}
	mode := s.acct.TLS
	if !s.c.encrypted() {
		mode = client.TLSNone
	}
	s.tlsDesc = wire.TLSDescription(s.c.nc, mode)
	if err := wire.CheckPlaintextAuth(s.acct, s.c.encrypted(), s.opts); err != nil {
		return err
	}
	if err := s.login(ctx); err != nil {
		return err
	}
	// RFC 2449: what CAPA says after login is what the session offers.
	if s.capaKnown {
		if err := s.capability(); err != nil {
			return err
		}
	}
	s.uidl = s.announced("UIDL")
	s.top = s.announced("TOP")
	return nil
}

// capability asks CAPA; a server that refuses it is an RFC 1939 server
// whose optional commands are tried when needed.
func (s *Source) capability() error {
	if _, err := s.c.cmd("capa", "CAPA"); err != nil {
		var se *client.ServerError
		if errors.As(err, &se) {
			s.capa, s.capaKnown = nil, false
			return nil
		}
		return err
	}
	lines, err := s.c.lines("capa")
	if err != nil {
		return err
	}
	s.capa, s.capaKnown = lines, true
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) > 0 && strings.EqualFold(f[0], "SASL") {
			s.sasl = f[1:]
		}
	}
	return nil
}

func (s *Source) hasCapa(name string) bool {
	for _, l := range s.capa {
		f := strings.Fields(l)
		if len(f) > 0 && strings.EqualFold(f[0], name) {
			return true
		}
	}
	return false
}

func (s *Source) announced(name string) support {
	switch {
	case !s.capaKnown:
		return unknown
	case s.hasCapa(name):
		return supported
	}
	return refused
}

func (s *Source) hasSASL(mech string) bool {
	for _, m := range s.sasl {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// startTLS upgrades the connection with STLS. Any failure aborts: the
// account asked for TLS, so there is no falling back to plaintext.
func (s *Source) startTLS(ctx context.Context) error {
	addr := s.acct.Address()
	if !s.hasCapa("STLS") {
		return fmt.Errorf("stls: %w: %s does not offer STLS, and the account requires TLS (tls = \"starttls\"); refusing to continue without encryption", client.ErrTLS, addr)
	}
	if _, err := s.c.cmd("stls", "STLS"); err != nil {
		var se *client.ServerError
		if errors.As(err, &se) {
			return fmt.Errorf("%w: %w", client.ErrTLS, se)
		}
		return err
	}
	// Bytes already waiting were sent before the handshake, in plaintext,
	// yet would be read as if they came over TLS: someone may be injecting
	// responses (CVE-2011-0411 style).
	if n := s.c.br.Buffered(); n > 0 {
		err := fmt.Errorf("stls: %w: %s sent %d unexpected bytes after accepting STLS, before the TLS handshake (possible injection attack); aborting", client.ErrTLS, addr, n)
		s.c.breakWith(err)
		return err
	}
	tc, err := wire.StartTLS(ctx, s.c.raw, s.acct)
	if err != nil {
		s.c.breakWith(err)
		return err
	}
	s.c.setNetConn(tc)
	// What CAPA said in plaintext may have been forged: ask again.
	s.capa, s.capaKnown, s.sasl = nil, false, nil
	return s.capability()
}

func (s *Source) login(ctx context.Context) error {
	if s.acct.Auth == client.AuthOAuth2 {
		return s.loginOAuth(ctx)
	}
	if s.acct.Password == nil {
		return fmt.Errorf("login to %s: %w: no password configured", s.acct.Address(), client.ErrAuth)
	}
	usePlain := s.hasSASL(sasl.Plain)
	if !usePlain && s.capaKnown && !s.hasCapa("USER") {
		return fmt.Errorf("login to %s: %w: server offers neither USER nor SASL PLAIN (SASL: %s)", s.acct.Address(), client.ErrUnsupported, strings.Join(s.sasl, " "))
	}
	password, err := s.acct.Password(ctx)
	if err != nil {
		return fmt.Errorf("login to %s: password: %w", s.acct.Address(), err)
	}
	if usePlain {
		return s.authPlain(password)
	}
	if err := s.loginStep("USER "+s.acct.Username, "USER "+s.acct.Username); err != nil {
		return err
	}
	return s.loginStep("PASS "+password, "PASS [redacted]")
}

func (s *Source) authPlain(password string) error {
	_, ir, err := sasl.NewPlainClient("", s.acct.Username, password).Start()
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	const op = "login"
	s.c.send("AUTH PLAIN "+base64.StdEncoding.EncodeToString(ir), "AUTH PLAIN [redacted]")
	if err := s.c.flush(op); err != nil {
		return err
	}
	line, err := s.c.readLine(op)
	if err != nil {
		return err
	}
	if line == "+" || strings.HasPrefix(line, "+ ") {
		// RFC 5034 servers take the initial response; this one asks
		// again. Cancel rather than guess.
		s.c.send("*", "*")
		if err := s.c.flush(op); err != nil {
			return err
		}
		if _, err := s.c.status(op); err == nil {
			return s.c.violation(op, "server accepted a cancelled AUTH PLAIN")
		}
		return fmt.Errorf("login: %w: server did not accept the AUTH PLAIN initial response", client.ErrProtocol)
	}
	if s.c.debug != nil {
		fmt.Fprintf(s.c.debug, "S: %s\n", line)
	}
	return s.loginResult(op, line)
}

// loginOAuth authenticates with the account's OAuth2 token by the
// mechanism the server prefers of the two. A refused token is renewed once
// and tried again: POP3 stays in the AUTHORIZATION state after -ERR.
func (s *Source) loginOAuth(ctx context.Context) error {
	addr := s.acct.Address()
	mech := bearer.Choose(s.sasl)
	if mech == "" {
		offered := "none"
		switch {
		case !s.capaKnown:
			offered = "the server does not answer CAPA"
		case len(s.sasl) > 0:
			offered = strings.Join(s.sasl, " ")
		}
		return fmt.Errorf("login to %s: %w", addr, client.Unsupported("",
			fmt.Sprintf("%s offers neither OAUTHBEARER nor XOAUTH2, and the account signs in with OAuth2 (SASL mechanisms offered: %s)", addr, offered)))
	}
	if s.acct.Token == nil {
		return fmt.Errorf("login to %s: %w: no OAuth2 token source configured", addr, client.ErrAuth)
	}
	for attempt := 0; ; attempt++ {
		tok, err := s.acct.Token(ctx, attempt > 0)
		if err != nil {
			return fmt.Errorf("login to %s: %w", addr, err)
		}
		sc := bearer.NewClient(mech, s.acct.Username, tok, s.acct.Host, s.acct.Port)
		err = s.authenticate(sc)
		var se *client.ServerError
		if err != nil && errors.As(err, &se) && se.Auth {
			if attempt == 0 {
				continue
			}
			se.Op = "login as " + s.acct.Username + " with " + mech
			if f := sc.Failure(); f != nil {
				se.Text += " (" + f.String() + ")"
			}
		}
		return err
	}
}

// maxAuthLine is RFC 2449's limit on a command line, CRLF included: an
// AUTH whose initial response would exceed it sends the response after
// the server's empty challenge instead (RFC 5034 section 4). Tokens from
// Microsoft are well over it.
const maxAuthLine = 255

// authenticate runs one SASL exchange (RFC 5034). Every client response is
// redacted from the debug trace: each may carry the secret.
func (s *Source) authenticate(sc sasl.Client) error {
	const op = "login"
	mech, ir, err := sc.Start()
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	encoded := base64.StdEncoding.EncodeToString(ir)
	if ir != nil && len("AUTH "+mech+" "+encoded+"\r\n") <= maxAuthLine {
		s.c.send("AUTH "+mech+" "+encoded, "AUTH "+mech+" [redacted]")
		ir = nil
	} else {
		s.c.send("AUTH "+mech, "AUTH "+mech)
	}
	if err := s.c.flush(op); err != nil {
		return err
	}
	for {
		line, err := s.c.readLine(op)
		if err != nil {
			return err
		}
		if s.c.debug != nil {
			fmt.Fprintf(s.c.debug, "S: %s\n", line)
		}
		if line != "+" && !strings.HasPrefix(line, "+ ") {
			return s.loginResult(op, line)
		}
		var resp []byte
		challenge := strings.TrimSpace(strings.TrimPrefix(line, "+"))
		if ir != nil && challenge == "" {
			resp, ir = ir, nil
		} else {
			data, derr := base64.StdEncoding.DecodeString(challenge)
			if derr != nil {
				return s.c.violation(op, "SASL challenge is not base64: %q", clip(line))
			}
			if resp, err = sc.Next(data); err != nil {
				// Cancel, as RFC 5034 says, and report why.
				s.c.send("*", "*")
				if ferr := s.c.flush(op); ferr != nil {
					return ferr
				}
				s.c.readLine(op)
				return fmt.Errorf("login: %w", err)
			}
		}
		s.c.send(base64.StdEncoding.EncodeToString(resp), "[redacted]")
		if err := s.c.flush(op); err != nil {
			return err
		}
	}
}

func (s *Source) loginStep(line, shown string) error {
	const op = "login"
	s.c.send(line, shown)
	if err := s.c.flush(op); err != nil {
		return err
	}
	resp, err := s.c.readLine(op)
	if err != nil {
		return err
	}
	if s.c.debug != nil {
		fmt.Fprintf(s.c.debug, "S: %s\n", resp)
	}
	return s.loginResult(op, resp)
}

// loginResult turns the answer to a login step into an error. A refusal is
// an authentication failure unless an RFC 3206 response code says the
// cause is elsewhere (a locked maildrop, a server problem).
func (s *Source) loginResult(op, line string) error {
	switch {
	case hasPrefixFold(line, "+OK"):
		return nil
	case hasPrefixFold(line, "-ERR"):
		text := strings.TrimSpace(line[4:])
		auth := true
		for _, code := range []string{"[SYS/", "[IN-USE]", "[LOGIN-DELAY]"} {
			if strings.HasPrefix(strings.ToUpper(text), code) {
				auth = false
			}
		}
		return &client.ServerError{Op: op, Text: text, Auth: auth}
	}
	return s.c.violation(op, "expected +OK or -ERR, got %q", clip(line))
}

// warnOnce sends a warning to the user the first time in this session.
func (s *Source) warnOnce(msg string) {
	if s.warns[msg] {
		return
	}
	if s.warns == nil {
		s.warns = map[string]bool{}
	}
	s.warns[msg] = true
	s.opts.Warnf("%s", msg)
}

// Capabilities reports what the server announced, as features: the
// protocol's limits (Baseline) and what CAPA said.
func (s *Source) Capabilities() client.Capabilities {
	caps := Baseline()
	caps.Announced = append([]string{}, s.capa...)
	caps.Auth = append([]string{}, s.sasl...)
	caps.TLS = s.tlsDesc
	switch s.top {
	case supported:
		caps.Set(client.FeatureHeadersOnly, true, "TOP n 0")
	case unknown:
		caps.Set(client.FeatureHeadersOnly, true, "TOP n 0 (not announced; tried when needed)")
	default:
		caps.Set(client.FeatureHeadersOnly, false, "server lacks TOP")
	}
	caps.Set(client.FeatureDeleteNoDownload, true, "DELE (committed at QUIT)")
	caps.Set(client.FeatureExpunge, true, "DELE")
	if s.hasCapa("PIPELINING") {
		caps.Set(client.FeaturePipelining, true, "CAPA PIPELINING")
	} else {
		caps.Set(client.FeaturePipelining, false, "server does not announce PIPELINING; one command at a time")
	}
	return caps
}

// checkFolder accepts INBOX (and the empty name, meaning the only folder).
func checkFolder(op, name string) error {
	if name == "" || strings.EqualFold(name, client.Inbox) {
		return nil
	}
	return client.Unsupported(op+" "+name, "POP3 has only INBOX")
}

func checkRef(op string, ref client.FolderRef) error {
	if err := checkFolder(op, ref.Name); err != nil {
		return err
	}
	if ref.UIDValidity != 0 {
		return fmt.Errorf("%s: %w (POP3 has no UIDVALIDITY, got %d)", op, client.ErrStaleIDs, ref.UIDValidity)
	}
	return nil
}

// stat counts the messages not marked deleted.
func (s *Source) stat() (int, error) {
	text, err := s.c.cmd("stat", "STAT")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(text)
	if len(f) < 1 {
		return 0, s.c.violation("stat", "malformed STAT answer %q", clip(text))
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 0 {
		return 0, s.c.violation("stat", "malformed STAT answer %q", clip(text))
	}
	return n, nil
}

func (s *Source) Folders(ctx context.Context) ([]client.Folder, error) {
	end, err := s.c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	n, err := s.stat()
	if err != nil {
		return nil, err
	}
	return []client.Folder{{Name: client.Inbox, Role: client.RoleInbox, Total: n, Unseen: -1}}, nil
}

func (s *Source) Status(ctx context.Context, folder string) (client.FolderStatus, error) {
	if err := checkFolder("status", folder); err != nil {
		return client.FolderStatus{}, err
	}
	end, err := s.c.begin(ctx)
	if err != nil {
		return client.FolderStatus{}, err
	}
	defer end()
	n, err := s.stat()
	if err != nil {
		return client.FolderStatus{}, err
	}
	return client.FolderStatus{Name: client.Inbox, Messages: n, Unseen: -1}, nil
}

func (s *Source) Structure(ctx context.Context, ref client.FolderRef, id string) (client.Envelope, *client.Part, error) {
	return client.Envelope{}, nil, client.Unsupported("structure", "POP3 downloads whole messages")
}

func (s *Source) FetchPart(ctx context.Context, ref client.FolderRef, id, path string, w io.Writer) (int64, error) {
	return 0, client.Unsupported("fetch --part", "POP3 downloads whole messages")
}

func (s *Source) Move(ctx context.Context, ref client.FolderRef, ids []string, dest string, opts client.MoveOptions) (map[string]string, error) {
	return nil, client.Unsupported("move", "POP3 has no folders")
}

func (s *Source) SetFlags(ctx context.Context, ref client.FolderRef, ids []string, op client.FlagOp, flags []client.Flag) error {
	return client.Unsupported("flag", "POP3 keeps no flags on the server")
}

// Close sends QUIT, which commits the session's DELE commands, and closes
// the connection. After a failure it sends nothing and returns the failure.
func (s *Source) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.c.broken != nil {
		s.c.raw.Close()
		return s.uncommitted(s.c.broken)
	}
	s.c.send("QUIT", "QUIT")
	err := s.c.flush("quit")
	sent := err == nil
	if sent {
		_, err = s.c.status("quit")
	}
	s.c.nc.Close()
	switch {
	case err == nil:
		return nil
	case sent && s.deletes == 0:
		// Nothing to commit: every command had its answer, so losing
		// the goodbye loses nothing (as a lost LOGOUT answer over IMAP).
		return nil
	case sent:
		// The server commits when it reads QUIT, before it answers: a
		// lost answer leaves the deletions unknown, not undone.
		return fmt.Errorf("%d deletion(s) not confirmed (QUIT was sent but its answer did not arrive; the server may have deleted the messages or kept them): %w", s.deletes, err)
	}
	return s.uncommitted(err)
}

func (s *Source) uncommitted(err error) error {
	if s.deletes == 0 {
		// Nothing was pending, and the call that broke the session has
		// already reported why.
		return nil
	}
	return fmt.Errorf("%d deletion(s) not committed (QUIT could not be sent; the messages stay on the server): %w", s.deletes, err)
}
