package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/fetch"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc"
	"github.com/duomail/duomail/imapsrc/imaptest"
	"github.com/duomail/duomail/localcache"
	"github.com/duomail/duomail/popsrc"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// These tests run the orchestration on the real Sources and the real cache,
// against the in-process servers; the Dovecot runs are in the command tests.

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func password(context.Context) (string, error) { return "secret", nil }

func newMailbox(t *testing.T, acct *client.Account, drv client.Driver, stats *client.WireStats) *client.Mailbox {
	t.Helper()
	if acct.CacheDir == "" {
		acct.CacheDir = t.TempDir()
	}
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

var popDriver = client.Driver{Dial: popsrc.Dial, Baseline: popsrc.Baseline()}
var imapDriver = client.Driver{Dial: imapsrc.Dial, Baseline: imapsrc.Baseline()}

func retrCount(cmds []string) int {
	n := 0
	for _, c := range cmds {
		if strings.HasPrefix(strings.ToUpper(c), "RETR") {
			n++
		}
	}
	return n
}

func TestPOP3ListSyncsOnceAndNeverTwice(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	base := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	for i, s := range []string{"oldest", "middle", "newest"} {
		srv.Add("alice", sourcetest.SimpleMessage(s, base.Add(time.Duration(i)*time.Hour)))
	}
	mb := newMailbox(t, popAccount(srv), popDriver, nil)
	envs, err := mb.List(ctxT(t), client.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var subjects []string
	for _, e := range envs {
		subjects = append(subjects, e.Subject)
	}
	if !slices.Equal(subjects, []string{"newest", "middle", "oldest"}) {
		t.Fatalf("list = %v, want newest first", subjects)
	}
	if n := retrCount(srv.Commands()); n != 3 {
		t.Errorf("first list sent %d RETR, want 3", n)
	}
	if err := mb.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := mb.Sync(ctxT(t), "", client.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Downloaded != 0 || retrCount(srv.Commands()) != 0 {
		t.Errorf("second sync downloaded %d, sent %v", rep.Downloaded, srv.Commands())
	}
	if len(srv.Messages("alice")) != 3 {
		t.Errorf("keep_on_server = true, yet the server lost mail")
	}
}

func TestPOP3DeleteAfterDownloadKeepsOnlyCopy(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	msgs := sourcetest.TrickyMessages()
	for _, m := range msgs {
		srv.Add("alice", m.Raw)
	}
	acct := popAccount(srv)
	acct.KeepOnServer = false
	mb := newMailbox(t, acct, popDriver, nil)
	rep, err := mb.Sync(ctxT(t), client.Inbox, client.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Downloaded != len(msgs) || rep.Deleted != len(msgs) {
		t.Errorf("report %+v", rep)
	}
	if left := srv.Messages("alice"); len(left) != 0 {
		t.Fatalf("%d messages left on the server", len(left))
	}
	// DELE came after every RETR of the session.
	cmds := srv.Commands()
	lastRetr, firstDele := -1, len(cmds)
	for i, c := range cmds {
		if strings.HasPrefix(c, "RETR") {
			lastRetr = i
		}
		if strings.HasPrefix(c, "DELE") && i < firstDele {
			firstDele = i
		}
	}
	if firstDele < lastRetr {
		t.Errorf("DELE before the last RETR: %v", cmds)
	}
	// The cache now holds the only copy, byte for byte, readable offline.
	srv.Close()
	envs, err := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if err != nil || len(envs) != len(msgs) {
		t.Fatalf("offline list: %d, %v", len(envs), err)
	}
	for i, e := range envs {
		msg, err := fetch.Open(ctxT(t), mb, client.Inbox, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		var raw bytes.Buffer
		if err := msg.WriteRaw(ctxT(t), &raw); err != nil {
			t.Fatal(err)
		}
		// pop3test sends bytes as given, only ending the last line.
		want := msgs[len(msgs)-1-i].Raw
		if !bytes.HasSuffix(want, []byte("\n")) {
			want = append(want[:len(want):len(want)], '\r', '\n')
		}
		if !bytes.Equal(raw.Bytes(), want) {
			t.Errorf("cached %s differs from what the server had", msgs[len(msgs)-1-i].Name)
		}
	}
}

func TestPOP3KeepDays(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	srv.Add("alice", sourcetest.SimpleMessage("old", time.Now()))
	acct := popAccount(srv)
	acct.KeepDays = 3
	mb := newMailbox(t, acct, popDriver, nil)
	if _, err := mb.Sync(ctxT(t), "", client.SyncOptions{}); err != nil {
		t.Fatal(err)
	}
	mb.Close()
	if len(srv.Messages("alice")) != 1 {
		t.Fatal("keep_days deleted a message downloaded just now")
	}
	restore := client.SetNowForTest(func() time.Time { return time.Now().AddDate(0, 0, 4) })
	defer restore()
	rep, err := mb.Sync(ctxT(t), "", client.SyncOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Deleted != 1 || len(srv.Messages("alice")) != 0 || rep.Downloaded != 0 {
		t.Errorf("after 4 days: report %+v, %d left on server", rep, len(srv.Messages("alice")))
	}
}

func TestPOP3ConnectionCutKeepsServerMail(t *testing.T) {
	srv := startPOP(t, pop3test.Options{CutRETRAfter: 3000})
	for i := 0; i < 3; i++ {
		srv.Add("alice", sourcetest.AttachmentMessage("big", "a.bin", 10_000))
	}
	acct := popAccount(srv)
	acct.KeepOnServer = false
	mb := newMailbox(t, acct, popDriver, nil)
	_, err := mb.Sync(ctxT(t), "", client.SyncOptions{})
	if !errors.Is(err, client.ErrNetwork) {
		t.Fatalf("sync over a cut connection: %v, want a network error", err)
	}
	if len(srv.Messages("alice")) != 3 {
		t.Errorf("a failed session deleted mail")
	}
	entries, _ := mb.Cache.Entries(ctxT(t), client.Inbox)
	for id, e := range entries {
		if e.HasBody {
			t.Errorf("partial message %s stored", id)
		}
	}
}

func TestPOP3CommandsSayWhatPOP3Cannot(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	srv.Add("alice", sourcetest.SimpleMessage("x", time.Now()))
	mb := newMailbox(t, popAccount(srv), popDriver, nil)
	envs, err := mb.List(ctxT(t), client.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	mb.Close()
	before := len(srv.Sessions())
	_, err = mb.Move(ctxT(t), "", []string{envs[0].ID}, "Archive", client.MoveOptions{})
	if !errors.Is(err, client.ErrUnsupported) || err.Error() != "move: POP3 has no folders" {
		t.Errorf("move: %v", err)
	}
	if len(srv.Sessions()) != before {
		t.Error("move connected to the server only to refuse")
	}
	res, err := mb.Flag(ctxT(t), "", []string{envs[0].ID}, client.FlagAdd, []client.Flag{client.FlagFlagged})
	if err != nil || !res.Local || res.Reason == "" {
		t.Errorf("flag: %+v, %v", res, err)
	}
	after, _ := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if !client.HasFlag(after[0].Flags, client.FlagFlagged) {
		t.Errorf("local flag not recorded: %v", after[0].Flags)
	}
}

func TestPOP3DeleteRemovesFromServerAndCache(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	srv.Add("alice", sourcetest.SimpleMessage("keep", time.Now()))
	srv.Add("alice", sourcetest.SimpleMessage("drop", time.Now()))
	mb := newMailbox(t, popAccount(srv), popDriver, nil)
	envs, err := mb.List(ctxT(t), client.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	drop := envs[0].ID
	if _, err := mb.Delete(ctxT(t), "", []string{drop}, client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if left := srv.Messages("alice"); len(left) != 1 || !bytes.Contains(left[0], []byte("keep")) {
		t.Errorf("server has %d messages", len(left))
	}
	after, _ := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if len(after) != 1 || after[0].Subject != "keep" {
		t.Errorf("cache after delete: %+v", after)
	}
	if _, err := mb.Delete(ctxT(t), "", []string{"no-such-uidl"}, client.DeleteOptions{}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("delete unknown: %v", err)
	}
}

func TestFetchTextPartsAndAttachmentsPOP3(t *testing.T) {
	srv := startPOP(t, pop3test.Options{})
	raw := sourcetest.AttachmentMessage("Report", "../../etc/report.pdf", 5000)
	srv.Add("alice", raw)
	mb := newMailbox(t, popAccount(srv), popDriver, nil)
	checkFetch(t, mb, 5000)
}

func checkFetch(t *testing.T, mb *client.Mailbox, attSize int) {
	t.Helper()
	envs, err := mb.List(ctxT(t), client.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := fetch.Open(ctxT(t), mb, "", envs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if _, err := msg.WriteText(ctxT(t), &text); err != nil {
		t.Fatal(err)
	}
	if text.String() != "See the attachment." {
		t.Errorf("text = %q", text.String())
	}
	var part bytes.Buffer
	p, _, err := msg.WritePart(ctxT(t), "2", &part)
	if err != nil || p.Type != "application/pdf" || part.Len() != attSize {
		t.Errorf("part 2: %+v, %d bytes, %v", p, part.Len(), err)
	}
	dir := t.TempDir()
	saved, err := msg.SaveAttachments(ctxT(t), dir, false)
	if err != nil || len(saved) != 1 {
		t.Fatalf("save: %+v, %v", saved, err)
	}
	if filepath.Dir(saved[0].Path) != dir || filepath.Base(saved[0].Path) != "report.pdf" {
		t.Errorf("saved to %s", saved[0].Path)
	}
	data, _ := os.ReadFile(saved[0].Path)
	if !bytes.Equal(data, part.Bytes()) {
		t.Error("saved attachment differs from the decoded part")
	}
	if again, err := msg.SaveAttachments(ctxT(t), dir, false); err != nil || len(again) != 1 || again[0].Status != fetch.StatusIdentical || again[0].Path != saved[0].Path {
		t.Errorf("saving the same file again: %+v, %v", again, err)
	}
	if err := os.WriteFile(saved[0].Path, []byte("the user's own"), 0o600); err != nil {
		t.Fatal(err)
	}
	kept, err := msg.SaveAttachments(ctxT(t), dir, false)
	if err != nil || len(kept) != 1 || kept[0].Status != fetch.StatusRenamed || filepath.Base(kept[0].Path) != "report (2).pdf" {
		t.Errorf("a different file with the name: %+v, %v", kept, err)
	}
	if mine, _ := os.ReadFile(saved[0].Path); string(mine) != "the user's own" {
		t.Errorf("the user's file was replaced without force: %q", mine)
	}
	forced, err := msg.SaveAttachments(ctxT(t), dir, true)
	if err != nil || len(forced) != 1 || forced[0].Status != fetch.StatusReplaced || forced[0].Path != saved[0].Path {
		t.Errorf("force: %+v, %v", forced, err)
	}
	if data, _ := os.ReadFile(saved[0].Path); !bytes.Equal(data, part.Bytes()) {
		t.Error("force did not replace the file with the attachment")
	}
	if err := msg.MarkSeen(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	after, _ := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if !client.HasFlag(after[0].Flags, client.FlagSeen) {
		t.Errorf("not marked seen: %v", after[0].Flags)
	}
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

func TestFetchTextPartsAndAttachmentsIMAP(t *testing.T) {
	srv := startIMAP(t, imaptest.Options{})
	raw := sourcetest.AttachmentMessage("Report", "..\\report.pdf", 200_000)
	srv.Append("alice", "INBOX", raw, nil, time.Now())
	stats := client.NewWireStats(client.IMAP)
	mb := newMailbox(t, imapAccount(srv), imapDriver, stats)
	envs, err := mb.List(ctxT(t), client.ListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	before := stats.Total().Received
	msg, _ := fetch.Open(ctxT(t), mb, "", envs[0].ID)
	var text bytes.Buffer
	if _, err := msg.WriteText(ctxT(t), &text); err != nil {
		t.Fatal(err)
	}
	if got := stats.Total().Received - before; got > 10_000 {
		t.Errorf("reading the text received %d bytes: the 270 KB attachment came along", got)
	}
	checkFetch(t, mb, 200_000)
}

func TestIMAPListOfflineAndUIDValidity(t *testing.T) {
	srv := startIMAP(t, imaptest.Options{Folders: map[string]string{"Lists": ""}})
	for i := 0; i < 3; i++ {
		srv.Append("alice", "Lists", sourcetest.SimpleMessage("list mail "+string(rune('a'+i)), time.Now()), nil, time.Now())
	}
	mb := newMailbox(t, imapAccount(srv), imapDriver, nil)
	envs, err := mb.List(ctxT(t), client.ListRequest{Folder: "Lists", Limit: 2})
	if err != nil || len(envs) != 2 || envs[0].Subject != "list mail c" {
		t.Fatalf("list: %+v, %v", envs, err)
	}
	offline, err := mb.List(ctxT(t), client.ListRequest{Folder: "Lists", Offline: true})
	if err != nil || len(offline) != 2 || offline[0].ID != envs[0].ID {
		t.Fatalf("offline: %+v, %v", offline, err)
	}
	// The folder is re-created: its UIDs now name other messages.
	mb.Close()
	srv.DeleteFolder("alice", "Lists")
	srv.CreateFolder("alice", "Lists", "")
	srv.Append("alice", "Lists", sourcetest.SimpleMessage("impostor", time.Now()), nil, time.Now())
	_, err = mb.Delete(ctxT(t), "Lists", []string{envs[0].ID}, client.DeleteOptions{Expunge: true})
	if !errors.Is(err, client.ErrStaleIDs) {
		t.Fatalf("delete with stale UID: %v", err)
	}
	// A new list re-keys the cache; the impostor is listed and survives.
	fresh, err := mb.List(ctxT(t), client.ListRequest{Folder: "Lists"})
	if err != nil || len(fresh) != 1 || fresh[0].Subject != "impostor" {
		t.Fatalf("list after UIDVALIDITY change: %+v, %v", fresh, err)
	}
}

func TestIMAPSyncBodiesAndFlagsFromAnotherDevice(t *testing.T) {
	srv := startIMAP(t, imaptest.Options{})
	for i := 0; i < 4; i++ {
		srv.Append("alice", "INBOX", sourcetest.SimpleMessage("m"+string(rune('0'+i)), time.Now()), nil, time.Now())
	}
	mb := newMailbox(t, imapAccount(srv), imapDriver, nil)
	rep, err := mb.Sync(ctxT(t), "", client.SyncOptions{})
	if err != nil || rep.New != 4 || rep.Downloaded != 0 {
		t.Fatalf("envelope sync: %+v, %v", rep, err)
	}
	rep, err = mb.Sync(ctxT(t), "", client.SyncOptions{Bodies: true})
	if err != nil || rep.Downloaded != 4 {
		t.Fatalf("bodies sync: %+v, %v", rep, err)
	}
	// Another device flags a message.
	other := newMailbox(t, imapAccount(srv), imapDriver, nil)
	envs, _ := other.List(ctxT(t), client.ListRequest{})
	if _, err := other.Flag(ctxT(t), "", []string{envs[1].ID}, client.FlagAdd, []client.Flag{client.FlagFlagged}); err != nil {
		t.Fatal(err)
	}
	srv.Append("alice", "INBOX", sourcetest.SimpleMessage("m4", time.Now()), nil, time.Now())
	rep, err = mb.Sync(ctxT(t), "", client.SyncOptions{})
	if err != nil || rep.New != 1 || rep.FlagChanges != 1 {
		t.Fatalf("incremental sync: %+v, %v", rep, err)
	}
	cached, _ := mb.List(ctxT(t), client.ListRequest{Offline: true})
	if len(cached) != 5 || !client.HasFlag(cached[2].Flags, client.FlagFlagged) {
		t.Errorf("cache after sync: %+v", cached)
	}
}

func TestCheckCountsNewMail(t *testing.T) {
	for _, proto := range []string{client.IMAP, client.POP3} {
		t.Run(proto, func(t *testing.T) {
			var mb *client.Mailbox
			var add func(subject string)
			if proto == client.IMAP {
				srv := startIMAP(t, imaptest.Options{})
				add = func(s string) { srv.Append("alice", "INBOX", sourcetest.SimpleMessage(s, time.Now()), nil, time.Now()) }
				mb = newMailbox(t, imapAccount(srv), imapDriver, nil)
			} else {
				srv := startPOP(t, pop3test.Options{})
				add = func(s string) { srv.Add("alice", sourcetest.SimpleMessage(s, time.Now())) }
				mb = newMailbox(t, popAccount(srv), popDriver, nil)
			}
			add("one")
			add("two")
			res, st, err := mb.Check(ctxT(t), "", client.CheckState{})
			if err != nil || res.Total != 2 || res.Unseen != 2 || res.New != 2 {
				t.Fatalf("first check: %+v, %v", res, err)
			}
			mb.Close()
			res, st, err = mb.Check(ctxT(t), "", st)
			if err != nil || res.New != 0 || res.Total != 2 {
				t.Fatalf("second check: %+v, %v", res, err)
			}
			mb.Close()
			add("three")
			res, _, err = mb.Check(ctxT(t), "", st)
			if err != nil || res.New != 1 || res.Total != 3 {
				t.Fatalf("after new mail: %+v, %v", res, err)
			}
		})
	}
}
