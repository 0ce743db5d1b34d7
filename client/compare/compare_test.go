package compare_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/compare"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc"
	"github.com/duomail/duomail/imapsrc/imaptest"
	"github.com/duomail/duomail/localcache"
	"github.com/duomail/duomail/popsrc"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// The same mail on an IMAP and a POP3 server, compared: the rows must show
// the difference the protocols make, in measured bytes.
func TestCompareIMAPWithPOP3(t *testing.T) {
	isrv := startIMAP(t, imaptest.Options{})
	psrv := startPOP(t, pop3test.Options{})
	const attSize = 300_000
	mail := [][]byte{
		sourcetest.SimpleMessage("small one", time.Now().Add(-3*time.Hour)),
		sourcetest.AttachmentMessage("the big one", "big.pdf", attSize),
		sourcetest.SimpleMessage("small two", time.Now().Add(-time.Hour)),
	}
	for _, m := range mail {
		isrv.Append("alice", "INBOX", m, nil, time.Now())
		psrv.Add("alice", m)
	}
	istats, pstats := client.NewWireStats(client.IMAP), client.NewWireStats(client.POP3)
	imb := newMailbox(t, imapAccount(isrv), imapDriver, istats)
	pmb := newMailbox(t, popAccount(psrv), popDriver, pstats)

	rep, err := compare.Compare(ctxT(t), imb, pmb, compare.Options{WithDelete: true, ListCount: 20})
	if err != nil {
		t.Fatal(err)
	}
	row := func(prefix string) compare.Row {
		for _, r := range rep.Rows {
			if strings.HasPrefix(r.Scenario, prefix) {
				return r
			}
		}
		t.Fatalf("no row %q in %+v", prefix, rep.Rows)
		return compare.Row{}
	}
	for _, r := range rep.Rows {
		for i, s := range r.Sides {
			if s.Error != "" {
				t.Errorf("%s side %d: %s", r.Scenario, i, s.Error)
			}
			if s.Supported && s.Commands > 0 && (s.Sent == 0 || s.Received == 0) {
				t.Errorf("%s side %d: %d commands but %d/%d bytes: not measured", r.Scenario, i, s.Commands, s.Sent, s.Received)
			}
		}
	}
	whole := int64(len(mail[1]))
	read := row("read the text")
	if im, pop := read.Sides[0], read.Sides[1]; im.Received >= whole/10 || pop.Received < whole {
		t.Errorf("reading the text: IMAP received %d, POP3 %d, message %d bytes", im.Received, pop.Received, whole)
	}
	att := row("download one attachment")
	if im := att.Sides[0]; im.Received < attSize || im.Received > whole+2000 {
		t.Errorf("attachment over IMAP received %d bytes for a %d-byte attachment", im.Received, attSize)
	}
	if f := row("see the other folders"); !f.Sides[0].Supported || f.Sides[1].Supported || !strings.Contains(f.Sides[1].Did, "no folders") {
		t.Errorf("folders row: %+v", f.Sides)
	}
	if d := row("a change made on a second device"); !strings.Contains(d.Sides[0].Result, "saw the change") || d.Sides[1].Supported {
		t.Errorf("second device row: %+v", d.Sides)
	}
	del := row("delete a message")
	if !strings.HasPrefix(del.Sides[0].Result, "deleted") || !strings.HasPrefix(del.Sides[1].Result, "deleted") {
		t.Errorf("delete row: %+v", del.Sides)
	}
	if n := len(psrv.Messages("alice")); n != 2 {
		t.Errorf("POP3 server holds %d messages after one deletion, want 2", n)
	}
	// Everything measured in rows is part of what the connection counted.
	var rowsRecv int64
	for _, r := range rep.Rows {
		rowsRecv += r.Sides[1].Received
	}
	if total := pstats.Total().Received; rowsRecv > total {
		t.Errorf("rows claim %d bytes received, the connection counted %d", rowsRecv, total)
	}
}

// compare promises to change nothing: when the seen flag it set for the
// second-device row cannot be put back (the connection broke meanwhile),
// the comparison fails saying so instead of leaving the mailbox changed
// silently.
func TestCompareReportsFailedFlagRestore(t *testing.T) {
	isrv := startIMAP(t, imaptest.Options{})
	psrv := startPOP(t, pop3test.Options{})
	for _, m := range [][]byte{
		sourcetest.AttachmentMessage("with attachment", "a.pdf", 2000),
		sourcetest.SimpleMessage("plain", time.Now()),
	} {
		isrv.Append("alice", "INBOX", m, nil, time.Now())
		psrv.Add("alice", m)
	}
	// The session compare works on goes through a proxy; the second
	// device connects directly and, as it does, the proxy cuts the first
	// session, so the restore that follows cannot reach the server.
	proxy := sourcetest.StartProxy(t, isrv.Addr())
	acct := imapAccount(isrv)
	_, port, _ := strings.Cut(proxy.Addr(), ":")
	acct.Port, _ = strconv.Atoi(port)
	dials := 0
	drv := client.Driver{Baseline: imapDriver.Baseline, Dial: func(ctx context.Context, a *client.Account, opts client.DialOptions) (client.Source, error) {
		dials++
		if dials == 1 {
			return imapDriver.Dial(ctx, a, opts)
		}
		proxy.CutAll()
		direct := *a
		direct.Port = isrv.Port()
		return imapDriver.Dial(ctx, &direct, opts)
	}}
	imb := newMailbox(t, acct, drv, client.NewWireStats(client.IMAP))
	pmb := newMailbox(t, popAccount(psrv), popDriver, client.NewWireStats(client.POP3))

	rep, err := compare.Compare(ctxT(t), imb, pmb, compare.Options{ListCount: 5})
	if err == nil || !strings.Contains(err.Error(), "could not restore the seen flag") || !strings.Contains(err.Error(), acct.Name) {
		t.Fatalf("Compare returned %v, want the failed restore on account %s", err, acct.Name)
	}
	for _, r := range rep.Rows {
		if strings.HasPrefix(r.Scenario, "a change made on a second device") {
			if !strings.Contains(r.Sides[0].Error, "could not restore the seen flag") {
				t.Errorf("second device row, IMAP side: error %q, want the failed restore", r.Sides[0].Error)
			}
			return
		}
	}
	t.Fatalf("no second-device row in %+v", rep.Rows)
}

// The in-process servers, the real Sources and the real cache, as the
// orchestration tests in package client use them.

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func password(context.Context) (string, error) { return "secret", nil }

var (
	popDriver  = client.Driver{Dial: popsrc.Dial, Baseline: popsrc.Baseline()}
	imapDriver = client.Driver{Dial: imapsrc.Dial, Baseline: imapsrc.Baseline()}
)

func newMailbox(t *testing.T, acct *client.Account, drv client.Driver, stats *client.WireStats) *client.Mailbox {
	t.Helper()
	acct.CacheDir = t.TempDir()
	cache, err := localcache.Open(acct.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	mb := client.NewMailbox(acct, drv, cache, client.DialOptions{Stats: stats})
	t.Cleanup(func() { mb.Close() })
	return mb
}

func startPOP(t *testing.T, opts pop3test.Options) *pop3test.Server {
	t.Helper()
	srv, err := pop3test.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.AddUser("alice", "secret")
	return srv
}

func popAccount(srv *pop3test.Server) *client.Account {
	return &client.Account{Name: "pop", Protocol: client.POP3, Host: srv.Host(), Port: srv.Port(), TLS: client.TLSNone,
		Username: "alice", Password: password, KeepOnServer: true}
}

func startIMAP(t *testing.T, opts imaptest.Options) *imaptest.Server {
	t.Helper()
	opts.InsecureAuth = true
	srv, err := imaptest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func imapAccount(srv *imaptest.Server) *client.Account {
	return &client.Account{Name: "imap", Protocol: client.IMAP, Host: "127.0.0.1", Port: srv.Port(), TLS: client.TLSNone,
		Username: "alice", Password: password}
}
