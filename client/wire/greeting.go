package wire

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
)

// What a server's first bytes say about it. A greeting in the wrong
// protocol is nearly always a wrong port or tls setting in the account, so
// the error says that, in the configuration's own words, instead of
// reporting a syntax error deep in a protocol parser.

// greetsLike names the protocol whose greeting b (the first bytes a server
// sent, at least five when the server sent that many) starts like, or "".
func greetsLike(b []byte) string {
	has := func(prefix string) bool {
		return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
	}
	switch {
	case has("+OK"), has("-ERR"):
		return "POP3"
	case has("* OK"), has("* PRE"), has("* BYE"):
		return "IMAP"
	case has("220 "), has("220-"):
		return "SMTP"
	case has("SSH-"):
		return "SSH"
	case has("HTTP/"):
		return "HTTP"
	case len(b) >= 2 && (b[0] == 0x15 || b[0] == 0x16) && b[1] == 0x03:
		return "TLS" // a handshake or alert record
	}
	return ""
}

func protocolName(acct *client.Account) string { return strings.ToUpper(acct.Protocol) }

// usualPort says which port acct's protocol and tls mode normally use.
func usualPort(acct *client.Account) string {
	article := "a"
	if acct.Protocol == client.IMAP {
		article = "an"
	}
	return fmt.Sprintf("%s %s account with tls = %q usually uses port %d", article, protocolName(acct), acct.TLS, client.DefaultPort(acct.Protocol, acct.TLS))
}

// quoteGreeting shows a server's first line in an error, shortened.
func quoteGreeting(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	s := strings.TrimRight(string(line), "\r")
	if len(s) > 60 {
		s = s[:60] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// WrongGreeting returns nil when first, what the server sent before
// anything was asked, can be a greeting of acct's protocol (or is not
// recognised), and otherwise an error wrapping client.ErrNetwork (client.ErrTLS for a
// TLS record) that says what the server looks like.
func WrongGreeting(op string, acct *client.Account, first []byte) error {
	proto := greetsLike(first)
	switch proto {
	case "", protocolName(acct):
		return nil
	case "TLS":
		return fmt.Errorf("%s: %w: this server speaks TLS: use tls = %q?", op, client.ErrTLS, client.TLSImplicit)
	}
	return fmt.Errorf("%s: %w: this server greets like %s (%s): wrong port? (%s)", op, client.ErrNetwork, proto, quoteGreeting(first), usualPort(acct))
}

// PlainAnswer explains a TLS handshake (tls = "implicit") that got
// plaintext back: header is the start of what the server sent. It returns
// nil when the bytes do not look like any greeting.
func PlainAnswer(op string, acct *client.Account, header []byte) error {
	switch proto := greetsLike(header); proto {
	case "", "TLS":
		return nil
	case protocolName(acct):
		return fmt.Errorf("%s: %w: this server answered in plain text, not TLS (it greets like %s): use tls = %q (or %q on a trusted network)?",
			op, client.ErrTLS, proto, client.TLSStartTLS, client.TLSNone)
	default:
		return fmt.Errorf("%s: %w: this server answered in plain text, not TLS, and greets like %s: wrong port? (%s)",
			op, client.ErrTLS, proto, usualPort(acct))
	}
}

// TLSProbe finds out, beside a plaintext connection still waiting for its
// greeting, whether the server is one that waits for a TLS handshake
// instead. It runs in the background so that its answer is ready when the
// wait for the greeting times out, and adds nothing to that wait.
type TLSProbe struct {
	cancel context.CancelFunc
	done   chan struct{}
	tls    bool
}

// ProbeTLSLater starts a TLSProbe that connects once half the account's
// timeout has passed without a greeting (a server that greets never sees
// it) and gives up when the wait for the greeting does. It returns nil for
// tls = "implicit", where the question does not arise.
func ProbeTLSLater(ctx context.Context, acct *client.Account) *TLSProbe {
	if acct.TLS == client.TLSImplicit {
		return nil
	}
	wait := acct.EffectiveTimeout()
	ctx, cancel := context.WithTimeout(ctx, wait)
	p := &TLSProbe{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTimer(wait / 2)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.tls = speaksTLS(ctx, acct)
	}()
	return p
}

// Stop ends the probe: the greeting came, or something else went wrong.
func (p *TLSProbe) Stop() {
	if p != nil {
		p.cancel()
	}
}

// NoGreeting is the error for a plaintext connection on which the server
// sent nothing before err (a timeout): when the server speaks TLS, that is
// said; otherwise err stands.
func (p *TLSProbe) NoGreeting(op string, err error) error {
	if p == nil {
		return err
	}
	<-p.done // bounded: the probe ends with the wait it runs beside
	p.cancel()
	if !p.tls {
		return err
	}
	return fmt.Errorf("%s: %w: no greeting, but this server speaks TLS: use tls = %q?", op, client.ErrTLS, client.TLSImplicit)
}

// speaksTLS reports whether the server at acct's address completes a TLS
// handshake. The certificate is not checked: nothing but the handshake is
// sent, and the answer only chooses an error message.
func speaksTLS(ctx context.Context, acct *client.Account) bool {
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", acct.Address())
	if err != nil {
		return false
	}
	defer raw.Close()
	tc := tls.Client(raw, &tls.Config{ServerName: acct.Host, InsecureSkipVerify: true})
	return tc.HandshakeContext(ctx) == nil
}
