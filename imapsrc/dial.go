// Package imapsrc is the IMAP implementation of client.Source, on
// go-imap v2's imapclient.
package imapsrc

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-message/charset"
	"github.com/emersion/go-sasl"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/bearer"
	"github.com/duomail/duomail/client/wire"
)

var (
	_ client.Dialer  = Dial
	_ client.Source  = (*Source)(nil)
	_ client.Watcher = (*Source)(nil)
)

// Dial connects to the account's IMAP server, secures the connection as the
// account says, logs in and learns what the server can do.
func Dial(ctx context.Context, acct *client.Account, opts client.DialOptions) (client.Source, error) {
	s, err := dial(ctx, acct, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// The account comes checked by package client/config (the TLS mode is one
// of three, the port is set), so dial does not judge it again. What keeps
// a password off a plaintext connection is not the account's word but the
// connection itself: login asks whether it really is TLS, so even an
// Account built wrongly by a program fails closed.
func dial(ctx context.Context, acct *client.Account, opts client.DialOptions) (*Source, error) {
	addr := acct.Address()
	conn, base, err := wire.Dial(ctx, acct, opts)
	if err != nil {
		return nil, err
	}
	// Until the session is up, cancelling ctx drops the connection.
	stop := context.AfterFunc(ctx, func() { base.Close() })
	defer stop()
	var s *Source
	fail := func(op string, err error) (*Source, error) {
		base.Close()
		if s != nil && s.c != nil {
			go s.c.Close() // lets imapclient's reader finish
		}
		if ctx.Err() != nil {
			return nil, wire.NetError(op, ctx.Err())
		}
		return nil, err
	}

	s = &Source{
		acct:    acct,
		opts:    opts,
		base:    base,
		timeout: acct.EffectiveTimeout(),
		events:  make(chan struct{}, 1),
	}
	greeting := ""
	if acct.TLS == client.TLSStartTLS {
		tc, err := startTLS(ctx, conn, acct, opts)
		if err != nil {
			return fail("STARTTLS with "+addr, err)
		}
		conn = tc
		// imapclient expects a greeting; the real one came in plaintext and
		// is worth nothing now. Without capabilities in it, imapclient asks
		// for them again, over TLS.
		greeting = "* OK TLS established\r\n"
	}
	s.tlsDesc = wire.TLSDescription(conn, acct.TLS)
	_, s.encrypted = conn.(*tls.Conn)
	s.wire = newWireConn(conn, base, s.timeout, opts)
	s.wire.arm(s.timeout)
	if greeting == "" {
		// Read before imapclient does, to recognise a server of another
		// protocol (a wrong port) instead of failing on its syntax.
		op := "greeting from " + addr
		probe := wire.ProbeTLSLater(ctx, acct)
		first, err := s.wire.firstLine()
		if err != nil && len(first) == 0 && isTimeout(err) {
			return fail("connect "+addr, probe.NoGreeting(op, s.translate(op, err)))
		}
		probe.Stop()
		if werr := wire.WrongGreeting(op, acct, first); werr != nil {
			return fail("connect "+addr, werr)
		}
		if err != nil {
			return fail("connect "+addr, s.translate(op, err))
		}
		greeting = string(first)
	}
	var ic net.Conn = s.wire
	if greeting != "" {
		ic = withPrefix(s.wire, greeting)
	}
	s.c = imapclient.New(newMendConn(ic), &imapclient.Options{
		WordDecoder:           &mime.WordDecoder{CharsetReader: charset.Reader},
		UnilateralDataHandler: s.unilateralHandler(),
	})

	if err := s.c.WaitGreeting(); err != nil {
		return fail("connect "+addr, s.translate("greeting from "+addr, err))
	}
	preCaps := s.c.Caps()
	if preCaps == nil {
		return fail("capability", s.translate("capabilities of "+addr, s.lostErr()))
	}
	if s.c.State() != imap.ConnStateAuthenticated {
		if err := s.login(ctx, preCaps); err != nil {
			return fail("login", err)
		}
	}
	caps := s.c.Caps()
	if caps == nil {
		return fail("capability", s.translate("capabilities of "+addr, s.lostErr()))
	}
	s.caps, s.preCaps = caps, preCaps
	if opts.Roles != nil {
		// A failure to read what was remembered only means a listing
		// when a role is needed.
		if roles, known, err := opts.Roles.Roles(ctx); err == nil && known {
			trash := roles[client.RoleTrash]
			s.trash, s.trashByName, s.rolesKnown = trash.Folder, trash.ByName, true
		}
	}
	s.capabilities = buildCapabilities(preCaps, caps, s.tlsDesc, s.trash, s.trashByName, s.rolesKnown)
	s.wire.disarm()
	return s, nil
}

// lostErr is the error to report when imapclient gave up without one.
func (s *Source) lostErr() error {
	if err := s.wire.ioErr(); err != nil {
		return err
	}
	return io.ErrUnexpectedEOF
}

// login sends the credentials: SASL PLAIN where offered, else LOGIN.
func (s *Source) login(ctx context.Context, preCaps imap.CapSet) error {
	acct := s.acct
	if err := wire.CheckPlaintextAuth(acct, s.encrypted, s.opts); err != nil {
		return err
	}
	if acct.Auth == client.AuthOAuth2 {
		return s.loginOAuth(ctx, preCaps)
	}
	plain := preCaps.Has(imap.Cap("AUTH=PLAIN"))
	if !plain && preCaps.Has(imap.CapLoginDisabled) {
		return client.Unsupported("login", fmt.Sprintf("%s disables LOGIN and offers no SASL PLAIN (mechanisms: %s)",
			acct.Address(), strings.Join(preCaps.AuthMechanisms(), " ")))
	}
	if acct.Password == nil {
		return fmt.Errorf("login to %s: %w: no password configured", acct.Address(), client.ErrAuth)
	}
	// Asking for the password may take a while (a password_cmd prompting
	// for a key's passphrase); the server's silence meanwhile is no fault.
	s.wire.disarm()
	pass, err := acct.Password(ctx)
	s.wire.arm(s.timeout)
	if err != nil {
		return fmt.Errorf("login to %s: password: %w", acct.Address(), err)
	}
	if plain {
		err = s.c.Authenticate(sasl.NewPlainClient("", acct.Username, pass))
	} else {
		err = s.c.Login(acct.Username, pass).Wait()
	}
	if err == nil {
		return nil
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return &client.ServerError{Op: "login as " + acct.Username, Text: ie.Text, Auth: ie.Type == imap.StatusResponseTypeNo}
	}
	return s.translate("login to "+acct.Address(), err)
}

// loginOAuth authenticates with the account's OAuth2 token, by the
// mechanism the server prefers of the two. A refused token is renewed once
// and tried again on the same connection (IMAP allows another AUTHENTICATE
// after NO): a token revoked or expired early is then replaced without the
// user noticing, while a second refusal is final.
func (s *Source) loginOAuth(ctx context.Context, preCaps imap.CapSet) error {
	acct := s.acct
	offered := preCaps.AuthMechanisms()
	mech := bearer.Choose(offered)
	if mech == "" {
		return client.Unsupported("login", fmt.Sprintf("%s offers neither OAUTHBEARER nor XOAUTH2, and the account signs in with OAuth2 (mechanisms offered: %s)",
			acct.Address(), mechList(offered)))
	}
	if acct.Token == nil {
		return fmt.Errorf("login to %s: %w: no OAuth2 token source configured", acct.Address(), client.ErrAuth)
	}
	for attempt := 0; ; attempt++ {
		// A token may take a while (a broker asking the user, a refresh):
		// the server's silence meanwhile is no fault.
		s.wire.disarm()
		tok, err := acct.Token(ctx, attempt > 0)
		s.wire.arm(s.timeout)
		if err != nil {
			return fmt.Errorf("login to %s: %w", acct.Address(), err)
		}
		sc := bearer.NewClient(mech, acct.Username, tok, acct.Host, acct.Port)
		err = s.c.Authenticate(sc)
		if err == nil {
			return nil
		}
		var ie *imap.Error
		if !errors.As(err, &ie) {
			return s.translate("login to "+acct.Address(), err)
		}
		refused := ie.Type == imap.StatusResponseTypeNo
		if refused && attempt == 0 {
			continue
		}
		text := ie.Text
		if f := sc.Failure(); f != nil {
			text += " (" + f.String() + ")"
		}
		return &client.ServerError{Op: "login as " + acct.Username + " with " + mech, Text: text, Auth: refused}
	}
}

func mechList(m []string) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(m, " ")
}

// maxPlainLine bounds one line of the plaintext exchange before STARTTLS.
const maxPlainLine = 16 << 10

// startTLS reads the greeting, checks that STARTTLS is offered, asks for it
// and completes a verified handshake, all before imapclient sees the
// connection. Doing it here guarantees that nothing the server (or someone
// in the middle) sent in plaintext after the OK is ever read as IMAP: such
// bytes abort the connection (the "NO STARTTLS" class of attacks), and the
// capabilities are learned again over TLS.
func startTLS(ctx context.Context, conn net.Conn, acct *client.Account, opts client.DialOptions) (*tls.Conn, error) {
	addr := acct.Address()
	var dbg *debugSink
	if opts.Debug != nil {
		dbg = &debugSink{w: opts.Debug}
	}
	br := bufio.NewReaderSize(conn, 4096)
	var readErr error // the last read's own error, before it is explained
	readLine := func() (string, error) {
		var line []byte
		for {
			chunk, err := br.ReadSlice('\n')
			line = append(line, chunk...)
			if err == bufio.ErrBufferFull && len(line) < maxPlainLine {
				continue
			}
			if err == bufio.ErrBufferFull {
				return "", fmt.Errorf("STARTTLS with %s: %w: line longer than %d bytes", addr, client.ErrProtocol, maxPlainLine)
			}
			if err != nil {
				readErr = err
				return "", wire.NetError("STARTTLS with "+addr, err)
			}
			if dbg != nil {
				dbg.line("S: ", line)
			}
			return strings.TrimRight(string(line), "\r\n"), nil
		}
	}
	send := func(cmd string) error {
		if dbg != nil {
			dbg.line("C: ", []byte(cmd))
		}
		opts.Stats.Command()
		if _, err := io.WriteString(conn, cmd+"\r\n"); err != nil {
			return wire.NetError("STARTTLS with "+addr, err)
		}
		return nil
	}
	// command sends one command and returns its untagged lines and its
	// tagged status line (without the tag).
	command := func(tag, cmd string) ([]string, string, error) {
		if err := send(tag + " " + cmd); err != nil {
			return nil, "", err
		}
		var untagged []string
		for {
			line, err := readLine()
			if err != nil {
				return nil, "", err
			}
			if rest, ok := strings.CutPrefix(line, tag+" "); ok {
				return untagged, rest, nil
			}
			untagged = append(untagged, line)
		}
	}

	probe := wire.ProbeTLSLater(ctx, acct)
	greeting, err := readLine()
	if err != nil && br.Buffered() == 0 && isTimeout(readErr) {
		return nil, probe.NoGreeting("greeting from "+addr, err)
	}
	probe.Stop()
	if werr := wire.WrongGreeting("greeting from "+addr, acct, []byte(greeting)); werr != nil {
		return nil, werr
	}
	if err != nil {
		return nil, err
	}
	status, _, _ := strings.Cut(strings.TrimPrefix(greeting, "* "), " ")
	switch strings.ToUpper(status) {
	case "OK":
	case "PREAUTH":
		return nil, fmt.Errorf("STARTTLS with %s: %w: server sent PREAUTH on a plaintext connection, so TLS can no longer be started", addr, client.ErrTLS)
	default:
		return nil, fmt.Errorf("STARTTLS with %s: %w: unexpected greeting %q", addr, client.ErrProtocol, greeting)
	}
	offered := hasCapability(greeting, "STARTTLS")
	if !strings.Contains(strings.ToUpper(greeting), "[CAPABILITY ") {
		untagged, st, err := command("P1", "CAPABILITY")
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(strings.ToUpper(st), "OK") {
			return nil, &client.ServerError{Op: "capability", Text: st}
		}
		for _, l := range untagged {
			if strings.HasPrefix(strings.ToUpper(l), "* CAPABILITY ") && hasCapability(l, "STARTTLS") {
				offered = true
			}
		}
	}
	if !offered {
		return nil, fmt.Errorf("STARTTLS with %s: %w: the server does not offer STARTTLS (use tls = \"implicit\" on port 993, or \"none\" only on a trusted network)", addr, client.ErrTLS)
	}
	_, st, err := command("P2", "STARTTLS")
	if err != nil {
		return nil, err
	}
	if word, text, _ := strings.Cut(st, " "); !strings.EqualFold(word, "OK") {
		return nil, fmt.Errorf("STARTTLS with %s: %w: server refused STARTTLS: %s %s", addr, client.ErrTLS, word, text)
	}
	if n := br.Buffered(); n > 0 {
		return nil, fmt.Errorf("STARTTLS with %s: %w: server sent %d bytes of plaintext after accepting STARTTLS (possible injection attack); connection dropped", addr, client.ErrTLS, n)
	}
	return wire.StartTLS(ctx, conn, acct)
}

// hasCapability reports whether a CAPABILITY line or greeting lists name.
func hasCapability(line, name string) bool {
	line = strings.NewReplacer("[", " ", "]", " ").Replace(line)
	for _, f := range strings.Fields(line) {
		if strings.EqualFold(f, name) {
			return true
		}
	}
	return false
}
