package imapsrc

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

// TestConformance runs the suite every Source passes, on imapmemserver in
// the process and on two real servers, Dovecot and GNU Mailutils imap4d
// (STARTTLS with the test CA).
func TestConformance(t *testing.T) {
	t.Run("imapmemserver", func(t *testing.T) {
		sourcetest.Run(t, sourcetest.Harness{New: func(t testing.TB) *sourcetest.Mailbox {
			srv, err := imaptest.Start(imaptest.Options{InsecureAuth: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { srv.Close() })
			return &sourcetest.Mailbox{
				Addr:     srv.Addr(),
				DialAddr: func(t testing.TB, addr string) client.Source { return dialAddr(t, addr, client.TLSNone, "") },
				// imapmemserver counts RFC822.SIZE before it rewrites a
				// bare-LF header with CRLF; deliver such mail in CRLF, as
				// Dovecot would serve it (bare LF is tested on Dovecot).
				Deliver: func(t testing.TB, folder string, raw []byte) {
					if err := srv.Append("alice", folder, sourcetest.WireForm(raw), nil, time.Now()); err != nil {
						t.Fatal(err)
					}
				},
				Wire:        sourcetest.WireForm,
				OtherFolder: "Archive",
			}
		}})
	})
	t.Run("dovecot", func(t *testing.T) {
		d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
		sourcetest.Run(t, sourcetest.Harness{New: func(t testing.TB) *sourcetest.Mailbox {
			user := d.AddUser(t)
			return &sourcetest.Mailbox{
				Addr: net.JoinHostPort(d.Host, strconv.Itoa(d.IMAPPort)),
				DialAddr: func(t testing.TB, addr string) client.Source {
					src := dialAddr(t, addr, client.TLSStartTLS, d.CAFile, user)
					return src
				},
				Deliver:     func(t testing.TB, folder string, raw []byte) { d.Deliver(t, user, folder, raw) },
				Wire:        sourcetest.WireForm,
				OtherFolder: "Archive",
			}
		}})
	})
	t.Run("mailutils", func(t *testing.T) {
		m := sourcetest.StartMailutils(t)
		sourcetest.Run(t, sourcetest.Harness{New: func(t testing.TB) *sourcetest.Mailbox {
			user := m.AddUser(t)
			return &sourcetest.Mailbox{
				Addr: net.JoinHostPort(m.Host, strconv.Itoa(m.IMAPPort)),
				DialAddr: func(t testing.TB, addr string) client.Source {
					return dialAddr(t, addr, client.TLSStartTLS, m.CAFile, user)
				},
				Deliver:     func(t testing.TB, folder string, raw []byte) { m.Deliver(t, user, folder, raw) },
				Wire:        sourcetest.MailutilsWire,
				OtherFolder: "Archive",
			}
		}})
	})
}

func dialAddr(t testing.TB, addr string, mode client.TLSMode, caFile string, user ...string) client.Source {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	name := "alice"
	if len(user) > 0 {
		name = user[0]
	}
	acct := &client.Account{Name: "conformance", Protocol: client.IMAP, Host: host, Port: p, TLS: mode, CAFile: caFile,
		Username: name, Password: func(context.Context) (string, error) { return sourcetest.Password, nil }, Timeout: 10 * time.Second}
	src, err := Dial(context.Background(), acct, client.DialOptions{})
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return src
}
