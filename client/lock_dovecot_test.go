package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/localcache"
)

// A POP3 delete that ran while a sync held the cache would remove the
// message from the cache, and the sync would then store it again: back in
// list --offline for good. So delete waits for the sync lock.
func TestPOP3DeleteWaitsForSyncLock(t *testing.T) {
	sourcetest.RequireDovecot(t)
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	user := d.AddUser(t)
	d.Deliver(t, user, client.Inbox, sourcetest.SimpleMessage("keep", time.Now()))
	d.Deliver(t, user, client.Inbox, sourcetest.SimpleMessage("drop", time.Now().Add(time.Minute)))
	acct := &client.Account{Name: "dovecot", Protocol: client.POP3, Host: d.Host, Port: d.POP3Port, TLS: client.TLSStartTLS,
		CAFile: d.CAFile, Username: user, Password: password, KeepOnServer: true}
	mb := newMailbox(t, acct, popDriver, nil)
	envs, err := mb.List(ctxT(t), client.ListRequest{})
	if err != nil {
		t.Fatalf("list: %v\n%s", err, d.Log())
	}
	mb.Close()
	var drop string
	for _, e := range envs {
		if e.Subject == "drop" {
			drop = e.ID
		}
	}

	// Another duomail process syncing this account holds the lock.
	other, err := localcache.Open(acct.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	unlock, err := other.Lock(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := mb.Delete(ctxT(t), client.Inbox, []string{drop}, client.DeleteOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		unlock()
		t.Fatalf("delete finished (%v) while a sync held the cache lock", err)
	case <-time.After(time.Second):
	}
	if n := len(d.Files(user, client.Inbox)); n != 2 {
		t.Errorf("the server has %d messages while delete waits, want 2", n)
	}
	unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := len(d.Files(user, client.Inbox)); n != 1 {
		t.Errorf("the server has %d messages after delete, want 1", n)
	}
	after, err := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if err != nil || len(after) != 1 || after[0].Subject != "keep" {
		t.Errorf("cache after delete: %+v, %v", after, err)
	}

	// And it gives up when its context ends before the lock comes free.
	unlock, err = other.Lock(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := mb.Source(ctxT(t)); err != nil { // connected: only the lock can make it wait
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 200*time.Millisecond)
	defer cancel()
	if _, err := mb.Delete(ctx, client.Inbox, []string{after[0].ID}, client.DeleteOptions{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delete while another process held the lock: %v, want it to give up waiting", err)
	}
	mb.Close()
	if n := len(d.Files(user, client.Inbox)); n != 1 {
		t.Errorf("the server has %d messages after a delete that gave up, want 1", n)
	}
}
