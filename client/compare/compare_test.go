package client_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
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

	rep, err := client.Compare(ctxT(t), imb, pmb, client.CompareOptions{WithDelete: true, ListCount: 20})
	if err != nil {
		t.Fatal(err)
	}
	row := func(prefix string) client.CompareRow {
		for _, r := range rep.Rows {
			if strings.HasPrefix(r.Scenario, prefix) {
				return r
			}
		}
		t.Fatalf("no row %q in %+v", prefix, rep.Rows)
		return client.CompareRow{}
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

func TestWatchSeesNewMail(t *testing.T) {
	for _, proto := range []string{client.IMAP, client.POP3} {
		t.Run(proto, func(t *testing.T) {
			var mb *client.Mailbox
			var add func(string)
			if proto == client.IMAP {
				srv := startIMAP(t, imaptest.Options{})
				add = func(s string) { srv.Append("alice", "INBOX", sourcetest.SimpleMessage(s, time.Now()), nil, time.Now()) }
				mb = newMailbox(t, imapAccount(srv), imapDriver, nil)
			} else {
				srv := startPOP(t, pop3test.Options{})
				add = func(s string) { srv.Add("alice", sourcetest.SimpleMessage(s, time.Now())) }
				mb = newMailbox(t, popAccount(srv), popDriver, nil)
			}
			add("already there")
			got := make(chan client.Envelope, 4)
			ctx, cancel := context.WithCancel(ctxT(t))
			done := make(chan error, 1)
			go func() {
				done <- mb.Watch(ctx, client.WatchOptions{Interval: 200 * time.Millisecond, OnMessage: func(e client.Envelope) error {
					got <- e
					return nil
				}})
			}()
			time.Sleep(300 * time.Millisecond)
			add("fresh")
			select {
			case e := <-got:
				if e.Subject != "fresh" {
					t.Errorf("reported %q", e.Subject)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("new mail not reported within 3 s")
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("watch ended with %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("watch did not stop after cancel")
			}
			if len(got) != 0 {
				t.Errorf("extra reports: %v", <-got)
			}
		})
	}
}

// A folder re-created under a new UIDVALIDITY is taken as it is, not
// announced as a flood of new mail; mail after that is reported again.
func TestWatchUIDValidityChange(t *testing.T) {
	srv := startIMAP(t, imaptest.Options{Folders: map[string]string{"Lists": ""}})
	srv.Append("alice", "Lists", sourcetest.SimpleMessage("old", time.Now()), nil, time.Now())
	// Through a proxy, so the watch's connection can be cut and it
	// reconnects to find the new UIDVALIDITY.
	proxy := sourcetest.StartProxy(t, srv.Addr())
	acct := imapAccount(srv)
	_, port, _ := strings.Cut(proxy.Addr(), ":")
	acct.Port, _ = strconv.Atoi(port)
	mb := newMailbox(t, acct, imapDriver, nil)
	got := make(chan string, 8)
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	go mb.Watch(ctx, client.WatchOptions{Folder: "Lists", Interval: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		OnMessage: func(e client.Envelope) error { got <- e.Subject; return nil }})
	time.Sleep(300 * time.Millisecond)
	srv.DeleteFolder("alice", "Lists")
	srv.CreateFolder("alice", "Lists", "")
	for _, subj := range []string{"renumbered a", "renumbered b", "renumbered c"} {
		srv.Append("alice", "Lists", sourcetest.SimpleMessage(subj, time.Now()), nil, time.Now())
	}
	proxy.CutAll()
	time.Sleep(1500 * time.Millisecond)
	srv.Append("alice", "Lists", sourcetest.SimpleMessage("really new", time.Now()), nil, time.Now())
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-got:
			if s == "really new" {
				return
			}
			// UIDs 2 and 3 of the new folder were unknown under the old
			// UIDVALIDITY: reporting them would be the bug.
			t.Fatalf("reported %q", s)
		case <-deadline:
			t.Fatal("mail after the UIDVALIDITY change was not reported")
		}
	}
}
