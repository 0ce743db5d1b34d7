package imapsrc

import (
	"context"
	"encoding/base64"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

func init() {
	suite = append(suite, []struct {
		name string
		f    func(*testing.T, *backend)
	}{
		{"DovecotTLS", testDovecotTLS},
		{"PasswordNeverInTrace", testPasswordNeverInTrace},
		{"LoginFailure", testLoginFailure},
	}...)
}

// Every TLS mode of imapmemserver, certificates verified for real.
func TestTLSModes(t *testing.T) {
	check := func(t *testing.T, acct *client.Account, want string) {
		t.Helper()
		src, err := Dial(bg, acct, client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if got := src.Capabilities().TLS; !strings.Contains(got, want) {
			t.Errorf("TLS %q, want %q", got, want)
		}
		if _, err := src.Folders(bg); err != nil {
			t.Error(err)
		}
	}
	check(t, memBackend(t, imaptest.Options{ImplicitTLS: true}).account("alice"), "(implicit)")
	check(t, memBackend(t, imaptest.Options{}).account("alice"), "(starttls)")
	check(t, memBackend(t, imaptest.Options{InsecureAuth: true}).account("alice"), "none")
}

// testDovecotTLS: implicit TLS and plaintext next to STARTTLS, and without
// ca_file the test CA is unknown either way (the password never asked for).
func testDovecotTLS(t *testing.T, b *backend) {
	if b.dovecot == nil {
		t.Skip("Dovecot ports; imapmemserver in TestTLSModes")
	}
	check := func(acct *client.Account, want string) {
		t.Helper()
		src, err := Dial(bg, acct, client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		if got := src.Capabilities().TLS; !strings.Contains(got, want) {
			t.Errorf("TLS %q, want %q", got, want)
		}
		if _, err := src.Folders(bg); err != nil {
			t.Error(err)
		}
	}
	acct := b.account("alice")
	check(acct, "(starttls)")
	acct.TLS, acct.Port = client.TLSImplicit, b.dovecot.IMAPSPort
	check(acct, "TLS 1.3 (implicit)")
	acct.TLS, acct.Port = client.TLSNone, b.dovecot.IMAPPort
	check(acct, "none")

	// A name the certificate does not carry: 127.0.0.2 forwarded to
	// Dovecot (its certificate names localhost and 127.0.0.1).
	for _, mode := range []client.TLSMode{client.TLSImplicit, client.TLSStartTLS} {
		target := b.dovecot.IMAPPort
		if mode == client.TLSImplicit {
			target = b.dovecot.IMAPSPort
		}
		p, err := sourcetest.ListenProxy(t, "127.0.0.2", net.JoinHostPort(b.host, strconv.Itoa(target)), sourcetest.Fault{})
		if err != nil {
			t.Logf("cannot listen on 127.0.0.2 (%v); wrong-host test against Dovecot skipped", err)
			break
		}
		acct := b.account("alice")
		acct.Host, acct.Port, acct.TLS = "127.0.0.2", p.Port(), mode
		asked := countPassword(acct)
		_, err = Dial(bg, acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "not valid for host") || asked.Load() != 0 {
			t.Errorf("%s, wrong host name: %v (password asked %d times)", mode, err, asked.Load())
		}
	}

	for _, mode := range []client.TLSMode{client.TLSImplicit, client.TLSStartTLS} {
		acct := b.account("alice")
		acct.CAFile, acct.TLS = "", mode
		if mode == client.TLSImplicit {
			acct.Port = b.dovecot.IMAPSPort
		}
		asked := countPassword(acct)
		_, err := Dial(bg, acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "unknown authority") {
			t.Errorf("%s without ca_file: %v", mode, err)
		}
		if asked.Load() != 0 {
			t.Errorf("%s: password asked for before TLS was up", mode)
		}
	}
}

// countPassword makes the account count how often its password is asked for.
func countPassword(acct *client.Account) *atomic.Int32 {
	var n atomic.Int32
	acct.Password = func(context.Context) (string, error) {
		n.Add(1)
		return sourcetest.Password, nil
	}
	return &n
}

func TestTLSVerificationFails(t *testing.T) {
	dir := t.TempDir()
	ca := sourcetest.NewCA(t, dir)
	wrongHost := ca.ServerTLS(t, dir, sourcetest.CertOptions{Hosts: []string{"mail.example.org"}})
	for _, implicit := range []bool{true, false} {
		b := memBackend(t, imaptest.Options{TLSConfig: wrongHost, ImplicitTLS: implicit})
		b.caFile = ca.PEMFile
		acct := b.account("alice")
		asked := countPassword(acct)
		_, err := Dial(bg, acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "not valid for host") {
			t.Errorf("implicit=%v, wrong host name: %v", implicit, err)
		}
		acct.CAFile = ""
		_, err = Dial(bg, acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) {
			t.Errorf("implicit=%v, no ca_file: %v", implicit, err)
		}
		if asked.Load() != 0 {
			t.Errorf("password asked for over a failed TLS connection")
		}
	}

	// STARTTLS required but not offered: no fallback to plaintext.
	srv, err := imaptest.Start(imaptest.Options{InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	acct := &client.Account{Name: "x", Protocol: client.IMAP, Host: "127.0.0.1", Port: srv.Port(), TLS: client.TLSStartTLS, Username: "alice"}
	asked := countPassword(acct)
	_, err = Dial(bg, acct, client.DialOptions{})
	if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "does not offer STARTTLS") || asked.Load() != 0 {
		t.Errorf("STARTTLS not offered: %v (password asked %d times)", err, asked.Load())
	}
}

// The password never reaches the debug trace, in any encoding.
func testPasswordNeverInTrace(t *testing.T, b *backend) {
	secrets := []string{sourcetest.Password, base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + sourcetest.Password))}
	{
		var trace syncBuffer
		s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
		s.Folders(bg)
		s.Close()
		out := trace.String()
		for _, secret := range secrets {
			if strings.Contains(out, secret) {
				t.Errorf("trace contains %q:\n%s", secret, out)
			}
		}
		if !strings.Contains(out, "[redacted]") || !strings.Contains(out, "C: ") || !strings.Contains(out, "S: ") {
			t.Errorf("trace:\n%s", out)
		}
	}
}

func testLoginFailure(t *testing.T, b *backend) {
	{
		acct := b.account("alice")
		acct.Password = func(context.Context) (string, error) { return "wrong", nil }
		_, err := Dial(bg, acct, client.DialOptions{})
		var se *client.ServerError
		if !errors.Is(err, client.ErrAuth) || !errors.As(err, &se) || se.Text == "" {
			t.Errorf("wrong password: %v", err)
		}
		if !strings.Contains(strings.ToLower(err.Error()), "authentication failed") {
			t.Errorf("server text missing: %v", err)
		}
	}
}

// Every command sent is counted, and the bytes on the wire too.
func TestStatsCountCommands(t *testing.T) {
	b := memBackend(t, imaptest.Options{})
	b.newBox(t)
	b.deliver(t, "alice", b.box, []byte(msgPlain))
	var trace syncBuffer
	stats := client.NewWireStats(client.IMAP)
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace, Stats: stats})
	ids := inventoryIDs(t, s, b.box)
	if _, err := s.Folders(bg); err != nil {
		t.Fatal(err)
	}
	if _, _, err := download(t, s, client.FolderRef{Name: b.box}, ids); err != nil {
		t.Fatal(err)
	}
	s.Close()
	tagged := 0
	for _, line := range strings.Split(trace.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, "C: "); ok && strings.Contains(rest, " ") {
			tagged++
		}
	}
	tot := stats.Total()
	if tot.Commands != tagged || tagged < 8 {
		t.Errorf("counted %d commands, trace shows %d:\n%s", tot.Commands, tagged, trace.String())
	}
	if tot.Sent == 0 || tot.Received < int64(len(msgPlain)) {
		t.Errorf("bytes %+v", tot)
	}
}

// An Account whose TLS mode is none of the three (a program's mistake: the
// configuration never hands one out) still never sends a password over a
// connection that is not TLS: login goes by the connection, not the word.
func TestUnknownTLSModeSendsNoPassword(t *testing.T) {
	var cmds []string
	var mu sync.Mutex
	addr, stop, err := imaptest.Script(func(c net.Conn) {
		p := imaptest.NewPeer(c)
		p.Send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready")
		for {
			tag, name, _, err := p.ReadCommand()
			if err != nil {
				return
			}
			mu.Lock()
			cmds = append(cmds, name)
			mu.Unlock()
			p.Sendf("%s OK done", tag)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []client.TLSMode{"", "ssl"} {
		acct := scriptAccount(addr)
		acct.TLS = mode
		_, err := Dial(context.Background(), acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "without TLS") {
			t.Errorf("tls %q: err %v", mode, err)
		}
	}
	stop()
	mu.Lock()
	defer mu.Unlock()
	for _, c := range cmds {
		if c == "LOGIN" || c == "AUTHENTICATE" {
			t.Fatalf("credentials sent in plaintext: %v", cmds)
		}
	}
}
