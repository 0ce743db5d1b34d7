package imapsrc

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

// greeter serves every connection with one greeting line (as a server of
// another protocol would), then waits; with cfg set it speaks TLS first.
func greeter(t *testing.T, greeting string, cfg *tls.Config) (host string, port int) {
	t.Helper()
	addr, stop, err := imaptest.Script(func(c net.Conn) {
		if cfg != nil {
			c = tls.Server(c, cfg)
		}
		if greeting != "" {
			io.WriteString(c, greeting+"\r\n")
		}
		io.Copy(io.Discard, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	h, p, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(p)
	return h, n
}

// wrongAccount is an IMAP account for host:port. A server that is waiting
// for TLS is only recognised once the timeout has passed (the probe runs
// in its second half), so the tests expecting that give a short one; the
// others a long one, as Dovecot on a loaded machine can take seconds to
// greet.
func wrongAccount(host string, port int, mode client.TLSMode, caFile string, waits bool) *client.Account {
	acct := scriptAccount(net.JoinHostPort(host, strconv.Itoa(port)))
	acct.TLS, acct.CAFile, acct.Timeout = mode, caFile, 10*time.Second
	if waits {
		acct.Timeout = 3 * time.Second
	}
	return acct
}

// wantWrong checks that dialing failed as a network error (exit 4) whose
// message contains want, never as a protocol parse error.
func wantWrong(t *testing.T, err error, want string) {
	t.Helper()
	if !errors.Is(err, client.ErrNetwork) || errors.Is(err, client.ErrProtocol) || !strings.Contains(err.Error(), want) {
		t.Errorf("err %v\nwant a network error containing %q", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "imapwire") {
		t.Errorf("parser error shown: %v", err)
	}
}

// An IMAP account pointed at a server of another protocol, or with the
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
		{"POP3, tls none", "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>", false, client.TLSNone, `this server greets like POP3 ("+OK POP3 server ready`},
		{"POP3, starttls", "+OK ready", false, client.TLSStartTLS, "this server greets like POP3"},
		{"POP3 over TLS, implicit", "+OK ready", true, client.TLSImplicit, "this server greets like POP3"},
		{"POP3 in plain text, implicit", "+OK ready", false, client.TLSImplicit, "this server answered in plain text, not TLS, and greets like POP3: wrong port?"},
		{"SMTP, tls none", "220 mail.example.com ESMTP", false, client.TLSNone, "this server greets like SMTP"},
		{"IMAP in plain text, implicit", "* OK IMAP4rev1 ready", false, client.TLSImplicit, `this server answered in plain text, not TLS (it greets like IMAP): use tls = "starttls"`},
		{"TLS, tls none", "", true, client.TLSNone, `this server speaks TLS: use tls = "implicit"?`},
		{"TLS, starttls", "", true, client.TLSStartTLS, `this server speaks TLS: use tls = "implicit"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var cfg *tls.Config
			if tc.tls {
				cfg = serverTLS
			}
			host, port := greeter(t, tc.greeting, cfg)
			_, err := Dial(bg, wrongAccount(host, port, tc.mode, ca.PEMFile, tc.greeting == ""), client.DialOptions{})
			wantWrong(t, err, tc.want)
			t.Log(err)
		})
	}
	// A server that says nothing and does not speak TLS either stays a
	// plain timeout.
	host, port := greeter(t, "", nil)
	_, err := Dial(bg, wrongAccount(host, port, client.TLSNone, "", true), client.DialOptions{})
	if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), "timed out") || strings.Contains(err.Error(), "TLS") {
		t.Errorf("silent server: %v", err)
	}
}

// The same against Dovecot with the ports swapped: the IMAP account on
// Dovecot's POP3 ports, and on the IMAP ports with the other tls mode.
func TestWrongPortDovecot(t *testing.T) {
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	for _, tc := range []struct {
		name string
		port int
		mode client.TLSMode
		want string
	}{
		{"POP3 port, tls none", d.POP3Port, client.TLSNone, `this server greets like POP3 ("+OK`},
		{"POP3 port, starttls", d.POP3Port, client.TLSStartTLS, "this server greets like POP3"},
		{"POP3S port, implicit", d.POP3SPort, client.TLSImplicit, "this server greets like POP3"},
		{"POP3 port, implicit", d.POP3Port, client.TLSImplicit, "this server answered in plain text, not TLS, and greets like POP3"},
		{"IMAP port, implicit", d.IMAPPort, client.TLSImplicit, `this server answered in plain text, not TLS (it greets like IMAP): use tls = "starttls"`},
		{"IMAPS port, starttls", d.IMAPSPort, client.TLSStartTLS, `this server speaks TLS: use tls = "implicit"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			waits := strings.Contains(tc.want, "speaks TLS")
			_, err := Dial(bg, wrongAccount(d.Host, tc.port, tc.mode, d.CAFile, waits), client.DialOptions{})
			wantWrong(t, err, tc.want)
			t.Log(err)
		})
	}
}
