package popsrc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// quitEater starts a proxy to srv that passes QUIT on but hangs up
// instead of passing the answer back, and returns an account that goes
// through it.
func quitEater(t *testing.T, srv *pop3test.Server) *client.Account {
	t.Helper()
	p := sourcetest.StartFaultyProxy(t, srv.Addr(), sourcetest.Fault{HangUpAfter: "QUIT"})
	return account("127.0.0.1", p.Port(), client.TLSNone)
}

// A server commits DELE when it reads QUIT, before it answers; when the
// answer is lost, the deletions did happen, and Close must not claim that
// the messages stay on the server.
func TestQuitAnswerLost(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	for i := 1; i <= 3; i++ {
		srv.Add("alice", testMessage(i))
	}
	s := mustDial(t, quitEater(t, srv), client.DialOptions{})
	ids := inventoryIDs(t, s)
	if _, err := s.Delete(context.Background(), client.FolderRef{Name: client.Inbox}, ids[:2], client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := s.Close()
	if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), "2 deletion(s) not confirmed") ||
		!strings.Contains(err.Error(), "may have deleted") || strings.Contains(err.Error(), "stay on the server") {
		t.Fatalf("close: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.Messages("alice")) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(srv.Messages("alice")); n != 1 {
		t.Fatalf("%d messages on the server, want 1: the server committed at QUIT", n)
	}
}

// Without deletions, a lost answer to QUIT changes nothing: every command
// before it was answered, so Close succeeds (a command that did all its
// work does not fail at the goodbye).
func TestQuitAnswerLostNothingToCommit(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	srv.Add("alice", testMessage(1))
	s := mustDial(t, quitEater(t, srv), client.DialOptions{})
	if _, bodies, err := download(t, s, inventoryIDs(t, s)); err != nil || len(bodies) != 1 {
		t.Fatalf("download: %d messages, %v", len(bodies), err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
}
