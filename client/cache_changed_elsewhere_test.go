package client_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/fetch"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
	"github.com/duomail/duomail/localcache"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// These tests treat the cache as mutt does: its Maildirs are changed
// behind duomail's back.

// cacheFile returns the path, relative to the folder's Maildir, of the one
// cached file whose content has the subject.
func cacheFile(t *testing.T, cacheDir, folder, subject string) string {
	t.Helper()
	enc, err := localcache.EncodeFolder(folder)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, sub := range []string{"cur", "new"} {
		names, _ := filepath.Glob(filepath.Join(cacheDir, enc, sub, "*"))
		for _, n := range names {
			data, err := os.ReadFile(n)
			if err == nil && bytes.Contains(data, []byte("Subject: "+subject+"\r\n")) {
				found = append(found, sub+"/"+filepath.Base(n))
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("files with subject %q: %v", subject, found)
	}
	return found[0]
}

// muttSetFlags renames a cached file as mutt does: into cur/, with the
// info letters given.
func muttSetFlags(t *testing.T, cacheDir, folder, subject, letters string) string {
	t.Helper()
	enc, _ := localcache.EncodeFolder(folder)
	mdir := filepath.Join(cacheDir, enc)
	from := cacheFile(t, cacheDir, folder, subject)
	key, _, _ := strings.Cut(filepath.Base(from), ":")
	to := "cur/" + key + ":2," + letters
	if err := os.Rename(filepath.Join(mdir, from), filepath.Join(mdir, to)); err != nil {
		t.Fatal(err)
	}
	return to
}

func bySubject(envs []client.Envelope) map[string]client.Envelope {
	out := map[string]client.Envelope{}
	for _, e := range envs {
		out[e.Subject] = e
	}
	return out
}

func hasFlags(e client.Envelope, flags ...client.Flag) bool {
	for _, f := range flags {
		if !client.HasFlag(e.Flags, f) {
			return false
		}
	}
	return true
}

// TestPOP3FlagsSetByMuttShowInList: mutt marks a cached POP3 message seen
// and flagged; list --offline, list and folders show it, and duomail's own
// flag change afterwards keeps mutt's letters.
func TestPOP3FlagsSetByMuttShowInList(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	for _, s := range []string{"first", "second"} {
		srv.Add("alice", sourcetest.SimpleMessage(s, time.Now()))
	}
	acct := popAccount(srv)
	acct.CacheDir = t.TempDir()
	mb := newMailbox(t, acct, popDriver, nil)
	if _, err := mb.Sync(ctxT(t), "", client.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	muttSetFlags(t, acct.CacheDir, client.Inbox, "first", "FS")

	offline, err := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	first := bySubject(offline)["first"]
	if !hasFlags(first, client.FlagSeen, client.FlagFlagged) {
		t.Errorf("list --offline shows %v for the message mutt marked seen and flagged", first.Flags)
	}
	unseen, err := mb.List(ctxT(t), client.ListRequest{Offline: true, Unseen: true})
	if err != nil || len(unseen) != 1 || unseen[0].Subject != "second" {
		t.Errorf("list --offline --unseen = %+v, %v", unseen, err)
	}
	online, err := mb.List(ctxT(t), client.ListRequest{})
	if err != nil || !hasFlags(bySubject(online)["first"], client.FlagSeen, client.FlagFlagged) {
		t.Errorf("list = %+v, %v", online, err)
	}
	folders, err := mb.Folders(ctxT(t))
	if err != nil || len(folders) != 1 || folders[0].Unseen != 1 {
		t.Errorf("folders = %+v, %v; want 1 unseen", folders, err)
	}

	if _, err := mb.Flag(ctxT(t), "", []string{first.ID}, client.FlagAdd, []client.Flag{client.FlagAnswered}); err != nil {
		t.Fatal(err)
	}
	if got := cacheFile(t, acct.CacheDir, client.Inbox, "first"); !strings.HasSuffix(got, ":2,FRS") {
		t.Errorf("after flag --add answered the file is %s, want mutt's F and S kept (:2,FRS)", got)
	}
	after, _ := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if e := bySubject(after)["first"]; !hasFlags(e, client.FlagSeen, client.FlagFlagged, client.FlagAnswered) {
		t.Errorf("flags after flag --add answered: %v", e.Flags)
	}
}

// TestIMAPServerFlagsWinOverCache: in an IMAP cache the server's flags
// win. list --offline shows what mutt set in the Maildir until the next
// sync, which puts the server's flags back, in the index and in the name.
func TestIMAPServerFlagsWinOverCache(t *testing.T) {
	srv := startIMAP(t, imaptest.Options{})
	for _, s := range []string{"one", "two"} {
		srv.Append("alice", "INBOX", sourcetest.SimpleMessage(s, time.Now()), nil, time.Now())
	}
	acct := imapAccount(srv)
	acct.CacheDir = t.TempDir()
	mb := newMailbox(t, acct, imapDriver, nil)
	if _, err := mb.Sync(ctxT(t), "", client.SyncOptions{Bodies: true}); err != nil {
		t.Fatal(err)
	}
	muttSetFlags(t, acct.CacheDir, client.Inbox, "one", "F")
	offline, _ := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if e := bySubject(offline)["one"]; !hasFlags(e, client.FlagFlagged) {
		t.Errorf("list --offline after mutt flagged it: %v", e.Flags)
	}
	if _, err := mb.Sync(ctxT(t), "", client.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	offline, _ = mb.List(ctxT(t), client.ListRequest{Offline: true})
	if e := bySubject(offline)["one"]; client.HasFlag(e.Flags, client.FlagFlagged) {
		t.Errorf("list --offline after sync still shows mutt's flag %v; the server has none", e.Flags)
	}
	if got := cacheFile(t, acct.CacheDir, client.Inbox, "one"); strings.Contains(got[strings.LastIndex(got, ":")+1:], "F") {
		t.Errorf("after sync the file is %s; the server's flags have no F", got)
	}
}

// TestPOP3LocalCopyDeletedByHand: the cache holds the only copy of a
// POP3 message (the server deleted it after download), and the file is
// deleted by hand. list --offline stops listing it, fetch says what
// happened, sync warns once and forgets it.
func TestPOP3LocalCopyDeletedByHand(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	for _, s := range []string{"kept", "deleted"} {
		srv.Add("alice", sourcetest.SimpleMessage(s, time.Now()))
	}
	acct := popAccount(srv)
	acct.KeepOnServer = false
	acct.CacheDir = t.TempDir()
	var mu sync.Mutex
	var warnings []string
	cache, err := localcache.Open(acct.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	mb := client.NewMailbox(acct, popDriver, cache, client.DialOptions{Warn: func(m string) {
		mu.Lock()
		warnings = append(warnings, m)
		mu.Unlock()
	}})
	t.Cleanup(func() { mb.Close() })
	if _, err := mb.Sync(ctxT(t), "", client.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Messages("alice")); n != 0 {
		t.Fatalf("%d messages left on the server", n)
	}
	before, _ := mb.List(ctxT(t), client.ListRequest{Offline: true})
	id := bySubject(before)["deleted"].ID
	enc, _ := localcache.EncodeFolder(client.Inbox)
	if err := os.Remove(filepath.Join(acct.CacheDir, enc, cacheFile(t, acct.CacheDir, client.Inbox, "deleted"))); err != nil {
		t.Fatal(err)
	}

	offline, err := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if err != nil || len(offline) != 1 || offline[0].Subject != "kept" {
		t.Errorf("list --offline after the file was deleted: %+v, %v", offline, err)
	}
	msg, err := fetch.Open(ctxT(t), mb, "", id)
	if err == nil {
		err = msg.WriteRaw(ctxT(t), new(bytes.Buffer))
	}
	want := "the local copy of message " + id + " is missing from the cache (deleted outside duomail?) and it is no longer on the server"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("fetch of the deleted copy: %v\nwant it to say %q", err, want)
	}

	if _, err := mb.Sync(ctxT(t), "", client.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(warnings, "\n")
	mu.Unlock()
	if !strings.Contains(got, "the local copy of message "+id+" is missing from the cache") {
		t.Errorf("sync warnings %q do not report the missing copy", got)
	}
	entries, _ := cache.Entries(ctxT(t), client.Inbox)
	if _, ok := entries[id]; ok || len(entries) != 1 {
		t.Errorf("entries after sync: %+v", entries)
	}
}

// TestReadingCacheDoesNotWaitForSync: while a sync holds the account's
// lock, list --offline and fetch of a cached message answer at once.
func TestReadingCacheDoesNotWaitForSync(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	srv.Add("alice", sourcetest.SimpleMessage("cached", time.Now()))
	acct := popAccount(srv)
	acct.CacheDir = t.TempDir()
	mb := newMailbox(t, acct, popDriver, nil)
	if _, err := mb.Sync(ctxT(t), "", client.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	mb.Close()

	syncing, err := localcache.Open(acct.CacheDir)
	if err != nil {
		t.Fatal(err)
	}
	defer syncing.Close()
	unlock, err := syncing.Lock(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	srv.Close() // no server either: everything comes from the cache
	reader := newMailbox(t, &client.Account{Name: acct.Name, Protocol: acct.Protocol, Host: acct.Host, Port: acct.Port,
		TLS: acct.TLS, Username: acct.Username, Password: password, CacheDir: acct.CacheDir}, popDriver, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	envs, err := reader.List(ctx, client.ListRequest{Offline: true})
	if err != nil || len(envs) != 1 {
		t.Fatalf("list --offline under a held lock: %+v, %v", envs, err)
	}
	msg, err := fetch.Open(ctx, reader, "", envs[0].ID)
	if err != nil {
		t.Fatalf("fetch under a held lock: %v", err)
	}
	var raw bytes.Buffer
	if err := msg.WriteRaw(ctx, &raw); err != nil || !bytes.Contains(raw.Bytes(), []byte("Subject: cached")) {
		t.Errorf("fetch --raw under a held lock: %v", err)
	}
	if _, _, err := msg.Info(ctx); err != nil {
		t.Errorf("fetch under a held lock: %v", err)
	}
}
