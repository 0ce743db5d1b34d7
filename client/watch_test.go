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
