package popsrc

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// wantWrong checks that dialing failed as a network error (exit 4) whose
// message contains want, never as a protocol violation.
func wantWrong(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, client.ErrNetwork) || errors.Is(err, client.ErrProtocol) || !strings.Contains(err.Error(), want) {
		t.Errorf("err %v\nwant a network error containing %q", err, want)
	}
	t.Log(err)
}

// A POP3 account pointed at a server of another protocol, or with the
// wrong tls mode, is told what the server looks like.
func TestWrongProtocolGreeting(t *testing.T) {
	dir := t.TempDir()
	ca := sourcetest.NewCA(t, dir)
	serverTLS := ca.ServerTLS(t, dir, sourcetest.CertOptions{})
	for _, tc := range []struct {
		name     string
		greeting string
		tls      bool // the server speaks TLS first
		mode     client.TLSMode
		want     string
	}{
		{"IMAP, tls none", "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready", false, client.TLSNone, `this server greets like IMAP ("* OK [CAPABILITY IMAP4rev1`},
		{"IMAP, starttls", "* OK ready", false, client.TLSStartTLS, "this server greets like IMAP"},
		{"IMAP over TLS, implicit", "* OK ready", true, client.TLSImplicit, "this server greets like IMAP"},
		{"IMAP in plain text, implicit", "* OK ready", false, client.TLSImplicit, "this server answered in plain text, not TLS, and greets like IMAP: wrong port?"},
		{"SSH, tls none", "SSH-2.0-OpenSSH_9.6", false, client.TLSNone, "this server greets like SSH"},
		{"POP3 in plain text, implicit", "+OK ready", false, client.TLSImplicit, `this server answered in plain text, not TLS (it greets like POP3): use tls = "starttls"`},
		{"TLS, tls none", "", true, client.TLSNone, `this server speaks TLS: use tls = "implicit"?`},
		{"TLS, starttls", "", true, client.TLSStartTLS, `this server speaks TLS: use tls = "implicit"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acct := script(t, func(c net.Conn, _ *bufio.Reader) {
				if tc.tls {
					c = tls.Server(c, serverTLS)
				}
				if tc.greeting != "" {
					io.WriteString(c, tc.greeting+"\r\n")
				}
				io.Copy(io.Discard, c)
			})
			// Only a server waiting for TLS needs the timeout to pass.
			acct.TLS, acct.CAFile, acct.Timeout = tc.mode, ca.PEMFile, 10*time.Second
			if tc.greeting == "" {
				acct.Timeout = 3 * time.Second
			}
			_, err := Dial(context.Background(), acct, client.DialOptions{})
			wantWrong(t, err, tc.want)
		})
	}
}

// The same against Dovecot with the ports swapped: the POP3 account on
// Dovecot's IMAP ports, and on the POP3 ports with the other tls mode.
func TestWrongPortDovecot(t *testing.T) {
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	for _, tc := range []struct {
		name string
		port int
		mode client.TLSMode
		want string
	}{
		{"IMAP port, tls none", d.IMAPPort, client.TLSNone, `this server greets like IMAP ("* OK [CAPABILITY`},
		{"IMAP port, starttls", d.IMAPPort, client.TLSStartTLS, "this server greets like IMAP"},
		{"IMAPS port, implicit", d.IMAPSPort, client.TLSImplicit, "this server greets like IMAP"},
		{"IMAP port, implicit", d.IMAPPort, client.TLSImplicit, "this server answered in plain text, not TLS, and greets like IMAP"},
		{"POP3 port, implicit", d.POP3Port, client.TLSImplicit, `this server answered in plain text, not TLS (it greets like POP3): use tls = "starttls"`},
		{"POP3S port, starttls", d.POP3SPort, client.TLSStartTLS, `this server speaks TLS: use tls = "implicit"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			acct := account(d.Host, tc.port, tc.mode)
			acct.CAFile, acct.Timeout = d.CAFile, 10*time.Second
			if strings.Contains(tc.want, "speaks TLS") {
				acct.Timeout = 3 * time.Second
			}
			_, err := Dial(context.Background(), acct, client.DialOptions{})
			wantWrong(t, err, tc.want)
		})
	}
}
