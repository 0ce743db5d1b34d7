package client_test

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/fetch"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/localcache"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// A POP3 server's UIDLs prove nothing about the bytes behind them: these
// servers reuse them, share them, rename every message, or send less than
// they announce. None of that may cost a message.

type warnLog struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnLog) add(m string) { w.mu.Lock(); w.msgs = append(w.msgs, m); w.mu.Unlock() }

// with returns the warnings that contain s.
func (w *warnLog) with(s string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, m := range w.msgs {
		if strings.Contains(m, s) {
			out = append(out, m)
		}
	}
	return out
}

func warnedMailbox(t *testing.T, acct *client.Account) (*client.Mailbox, *warnLog) {
	t.Helper()
	if acct.CacheDir == "" {
		acct.CacheDir = t.TempDir()
	}
	cache, err := localcache.Open(acct.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	w := &warnLog{}
	mb := client.NewMailbox(acct, popDriver, cache, client.DialOptions{Warn: w.add})
	t.Cleanup(func() { mb.Close() })
	return mb, w
}

func syncPOP(t *testing.T, mb *client.Mailbox) client.SyncReport {
	t.Helper()
	rep, err := mb.Sync(ctxT(t), client.Inbox, client.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mb.Close()
	return rep
}

// cachedBodies returns every body in the cache, byte-exact.
func cachedBodies(t *testing.T, mb *client.Mailbox) [][]byte {
	t.Helper()
	envs, err := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range envs {
		msg, err := fetch.Open(ctxT(t), mb, client.Inbox, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		var raw bytes.Buffer
		if err := msg.WriteRaw(ctxT(t), &raw); err != nil {
			t.Fatalf("read %s from cache: %v", e.ID, err)
		}
		out = append(out, raw.Bytes())
	}
	return out
}

// checkNothingLost fails unless every message given to the server is
// still on it or stored whole in the cache.
func checkNothingLost(t *testing.T, srv *pop3test.Server, mb *client.Mailbox, sent [][]byte) {
	t.Helper()
	have := append(srv.Messages("alice"), cachedBodies(t, mb)...)
	for _, raw := range sent {
		found := false
		for _, h := range have {
			if bytes.Equal(h, raw) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("message lost: neither on the server nor in the cache:\n%s", raw)
		}
	}
}

// popMessage is a message whose header and body are chosen by the test.
func popMessage(subject, body string) []byte {
	return []byte("From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: " + subject +
		"\r\nMessage-ID: <" + subject + "@example.org>\r\nDate: Wed, 01 May 2024 08:00:00 +0000\r\n\r\n" + body + "\r\n")
}

func TestPOP3SharedUIDLEveryMessageStoredBeforeDelete(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	sent := [][]byte{popMessage("first", "one"), popMessage("second", "two, longer"), popMessage("third", "three")}
	srv.AddWithUIDL("alice", "AAA", sent[0])
	srv.AddWithUIDL("alice", "AAA", sent[1])
	srv.AddWithUIDL("alice", "BBB", sent[2])
	acct := popAccount(srv)
	acct.KeepOnServer = false
	mb, warns := warnedMailbox(t, acct)
	rep := syncPOP(t, mb)
	if rep.Downloaded != 3 || rep.Deleted != 3 {
		t.Errorf("first sync: %+v, want 3 downloaded and deleted", rep)
	}
	if len(warns.with("share a unique ID")) != 1 {
		t.Errorf("warnings %q, want one about the shared UIDL", warns.msgs)
	}
	syncPOP(t, mb)
	checkNothingLost(t, srv, mb, sent)
	if n := len(cachedBodies(t, mb)); n != 3 {
		t.Errorf("cache holds %d messages, want 3", n)
	}
}

func TestPOP3SharedUIDLKeptOnServerDownloadedOnce(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	sent := [][]byte{popMessage("first", "one"), popMessage("second", "two"), popMessage("third", "three")}
	srv.AddWithUIDL("alice", "AAA", sent[0])
	srv.AddWithUIDL("alice", "AAA", sent[1])
	srv.AddWithUIDL("alice", "AAA-2", sent[2]) // the name duomail would give the second AAA
	mb, _ := warnedMailbox(t, popAccount(srv))
	syncPOP(t, mb)
	rep := syncPOP(t, mb)
	if rep.Downloaded != 0 || retrCount(srv.Commands()) != 0 {
		t.Errorf("second sync downloaded again: %+v, %v", rep, srv.Commands())
	}
	bodies := cachedBodies(t, mb)
	if len(bodies) != 3 {
		t.Errorf("cache holds %d messages, want 3", len(bodies))
	}
	checkNothingLost(t, srv, mb, sent)
}

func TestPOP3ReusedUIDLDownloadedBeforeDelete(t *testing.T) {
	for name, second := range map[string][]byte{
		// The same size: only the header tells them apart.
		"same size":  popMessage("omega", "the first one's twin"),
		"other size": popMessage("omega", "a body of another length altogether"),
	} {
		t.Run(name, func(t *testing.T) {
			srv := startPOP(t, pop3test.Options{})
			first := popMessage("alpha", "the first one's twin")
			srv.AddWithUIDL("alice", "1", first)
			acct := popAccount(srv)
			acct.KeepOnServer = false
			mb, _ := warnedMailbox(t, acct)
			syncPOP(t, mb)
			if len(srv.Messages("alice")) != 0 {
				t.Fatal("first sync left the message on the server")
			}
			srv.AddWithUIDL("alice", "1", second)
			rep := syncPOP(t, mb)
			if rep.Downloaded != 1 || rep.Deleted != 1 {
				t.Errorf("second sync: %+v, want the new message downloaded, then deleted", rep)
			}
			checkNothingLost(t, srv, mb, [][]byte{first, second})
			cmds := srv.Commands()
			if retr, dele := indexOf(cmds, "RETR 1"), indexOf(cmds, "DELE 1"); retr < 0 || dele < retr {
				t.Errorf("second session %v: want RETR 1 before DELE 1", cmds)
			}
		})
	}
}

func indexOf(cmds []string, cmd string) int {
	for i, c := range cmds {
		if c == cmd {
			return i
		}
	}
	return -1
}

func TestPOP3SharedHeaderWithoutUIDLDownloadedBeforeDelete(t *testing.T) {
	srv := startPOP(t, pop3test.Options{HideUIDL: true})
	first := popMessage("same", "short")
	second := popMessage("same", "a longer body under the very same header")
	srv.Add("alice", first)
	acct := popAccount(srv)
	acct.KeepOnServer = false
	mb, _ := warnedMailbox(t, acct)
	syncPOP(t, mb)
	srv.Add("alice", second)
	rep := syncPOP(t, mb)
	if rep.Downloaded != 1 {
		t.Errorf("second sync: %+v, want the new message downloaded", rep)
	}
	checkNothingLost(t, srv, mb, [][]byte{first, second})
}

func TestPOP3TruncatedDownloadStaysOnServer(t *testing.T) {
	srv := startPOP(t, pop3test.Options{TruncateRETR: 2000})
	small := sourcetest.SimpleMessage("small", time.Now())
	big := sourcetest.AttachmentMessage("big", "a.bin", 20_000)
	srv.Add("alice", small)
	bigID := srv.Add("alice", big)
	acct := popAccount(srv)
	acct.KeepOnServer = false
	mb, warns := warnedMailbox(t, acct)
	for i := 0; i < 2; i++ {
		rep := syncPOP(t, mb)
		if rep.Downloaded != 1-i {
			t.Errorf("sync %d: %+v", i+1, rep)
		}
	}
	left := srv.Messages("alice")
	if len(left) != 1 || !bytes.Equal(left[0], big) {
		t.Fatalf("server keeps %d messages, want the truncated one", len(left))
	}
	if w := warns.with("arrived incomplete"); len(w) != 2 {
		t.Errorf("warnings %q, want one per sync about the short message", warns.msgs)
	}
	bodies := cachedBodies(t, mb)
	if len(bodies) != 1 || !bytes.Equal(bodies[0], small) {
		t.Errorf("cache holds %d messages, want only the complete one", len(bodies))
	}
	// Reading it says why it cannot be shown.
	msg, err := fetch.Open(ctxT(t), mb, client.Inbox, bigID)
	if err != nil {
		t.Fatal(err)
	}
	if err := msg.WriteRaw(ctxT(t), io.Discard); !errors.Is(err, client.ErrIncomplete) {
		t.Errorf("fetch of the truncated message: %v", err)
	}
}

// Servers count sizes their own way; none of them is a truncation, and a
// later session still recognises what was stored.
func TestPOP3ServerSizeCountingItsOwnWay(t *testing.T) {
	lines := func(raw []byte) int { return bytes.Count(raw, []byte("\n")) }
	for name, size := range map[string]func([]byte) int{
		"LF counted once":  func(raw []byte) int { return len(raw) - lines(raw) },
		"less than sent":   func(raw []byte) int { return len(raw) - lines(raw) - 7 },
		"exactly as sent":  func(raw []byte) int { return len(raw) },
		"one short a line": func(raw []byte) int { return len(raw) - 1 },
	} {
		t.Run(name, func(t *testing.T) {
			srv := startPOP(t, pop3test.Options{ListSize: size})
			sent := [][]byte{sourcetest.SimpleMessage("a", time.Now()), sourcetest.AttachmentMessage("b", "b.bin", 30_000)}
			for _, raw := range sent {
				srv.Add("alice", raw)
			}
			acct := popAccount(srv)
			acct.KeepDays = 3
			mb, warns := warnedMailbox(t, acct)
			if rep := syncPOP(t, mb); rep.Downloaded != 2 || rep.Deleted != 0 {
				t.Errorf("first sync: %+v", rep)
			}
			if w := warns.with("incomplete"); len(w) != 0 {
				t.Errorf("warned %q", w)
			}
			restore := client.SetNowForTest(func() time.Time { return time.Now().AddDate(0, 0, 4) })
			defer restore()
			if rep := syncPOP(t, mb); rep.Downloaded != 0 || rep.Deleted != 2 {
				t.Errorf("after 4 days: %+v, want both deleted without downloading again", rep)
			}
			checkNothingLost(t, srv, mb, sent)
		})
	}
}

func TestPOP3UnstableUIDLsDownloadedOnce(t *testing.T) {
	srv := startPOP(t, pop3test.Options{UnstableUIDL: true})
	var sent [][]byte
	for i := 0; i < 3; i++ {
		raw := popMessage(fmt.Sprintf("message%d", i), strings.Repeat("x", 10*i))
		sent = append(sent, raw)
		srv.Add("alice", raw)
	}
	acct := popAccount(srv)
	acct.KeepDays = 3
	mb, warns := warnedMailbox(t, acct)
	syncPOP(t, mb)
	for i := 0; i < 2; i++ {
		rep := syncPOP(t, mb)
		if rep.Downloaded != 0 || retrCount(srv.Commands()) != 0 {
			t.Errorf("sync %d under new UIDLs downloaded again: %+v", i+2, rep)
		}
	}
	if n := len(cachedBodies(t, mb)); n != 3 {
		t.Errorf("cache holds %d messages, want 3", n)
	}
	if w := warns.with("UIDLs are unstable"); len(w) != 2 {
		t.Errorf("warnings %q, want one per sync about unstable UIDLs", warns.msgs)
	}
	// Recognised copies count as stored: retention deletes them unread.
	restore := client.SetNowForTest(func() time.Time { return time.Now().AddDate(0, 0, 4) })
	defer restore()
	rep := syncPOP(t, mb)
	if rep.Downloaded != 0 || rep.Deleted != 3 {
		t.Errorf("after 4 days: %+v, want 3 deleted without downloading", rep)
	}
	checkNothingLost(t, srv, mb, sent)
}

// A sync killed after it renamed downloaded files into the Maildir but
// before it committed their index rows leaves files that the next run's
// recovery adopts without the size the server announced for them. A
// message whose stored bytes differ from that size (Dovecot does not count
// the CRLF it adds to a last line without one) is still the stored one: it
// may be downloaded again into its own place before its DELE, never stored
// a second time. The same holds for an entry without that size that an
// earlier session believed gone from the server.
func TestPOP3MessageAdoptedAfterCrashStoredOnce(t *testing.T) {
	for name, crash := range map[string]string{
		"rows never committed":        `DELETE FROM messages`,
		"believed gone, size unknown": `UPDATE messages SET on_server = 0, server_id = '', server_size = -1, header_digest = ''`,
	} {
		t.Run(name, func(t *testing.T) { testAdoptedStoredOnce(t, crash) })
	}
}

func testAdoptedStoredOnce(t *testing.T, crash string) {
	srv := startPOP(t, pop3test.Options{ListSize: func(raw []byte) int { return len(raw) }})
	noNewline := []byte("From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: no final newline\r\n" +
		"Message-ID: <nfn@example.org>\r\nDate: Wed, 01 May 2024 08:00:00 +0000\r\n\r\nlast line without newline")
	plain := popMessage("plain", "an ordinary body")
	srv.Add("alice", noNewline)
	srv.Add("alice", plain)
	acct := popAccount(srv)
	mb, _ := warnedMailbox(t, acct)

	// The interrupted run: both messages downloaded and in the Maildir,
	// their index rows (and with them the announced sizes) lost, no DELE
	// sent.
	if rep := syncPOP(t, mb); rep.Downloaded != 2 {
		t.Fatalf("first sync: %+v", rep)
	}
	db, err := sql.Open("sqlite", filepath.Join(acct.CacheDir, "index.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(crash); err != nil {
		t.Fatal(err)
	}
	db.Close()

	acct.KeepOnServer = false
	rep := syncPOP(t, mb)
	if rep.New != 0 || rep.Deleted != 2 {
		t.Errorf("sync after the crash: %+v, want no new message and both deleted", rep)
	}
	if left := srv.Messages("alice"); len(left) != 0 {
		t.Errorf("%d message(s) left on the server", len(left))
	}
	bodies := cachedBodies(t, mb)
	if len(bodies) != 2 {
		t.Errorf("cache holds %d messages, want 2", len(bodies))
	}
	for _, want := range [][]byte{sourcetest.POP3WireForm(noNewline), plain} {
		n := 0
		for _, b := range bodies {
			if bytes.Equal(b, want) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("cache holds %d copies of %q, want 1", n, want[len(want)-30:])
		}
	}
	if rep := syncPOP(t, mb); rep.Downloaded != 0 {
		t.Errorf("third sync: %+v, want nothing downloaded", rep)
	}
}
