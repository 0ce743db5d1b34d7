package localcache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

// rename moves a message file as mutt does when it changes flags.
func rename(t *testing.T, c *Cache, folder, from, to string) {
	t.Helper()
	mdir := c.MaildirPath(folder)
	if err := os.Rename(filepath.Join(mdir, from), filepath.Join(mdir, to)); err != nil {
		t.Fatal(err)
	}
}

func listed(t *testing.T, c *Cache, folder string, opts client.ListOptions) map[string][]client.Flag {
	t.Helper()
	out := map[string][]client.Flag{}
	err := c.List(context.Background(), folder, opts, func(e client.Envelope) error {
		out[e.ID] = e.Flags
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func indexFlags(t *testing.T, c *Cache, folder, id string) []client.Flag {
	t.Helper()
	var flags string
	err := c.db.QueryRow(`SELECT m.flags FROM messages m JOIN folders f ON f.id = m.folder_id WHERE f.name = ? AND m.id = ?`, folder, id).Scan(&flags)
	if err != nil {
		t.Fatal(err)
	}
	return parseFlags(flags)
}

// TestFlagsSetByAnotherProgramAreRead: mutt marks a message seen and
// flagged by renaming new/K to cur/K:2,FS. Reading commands show it at
// once, even while a sync holds the lock (so nothing could update the
// index yet), and the next Lock records it in the index.
func TestFlagsSetByAnotherProgramAreRead(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir)
	ctx := context.Background()
	store(t, c, client.Inbox, 0, nil, []string{"a", "b", "c"}, func(id string) []byte { return testMessage(id, 300) })
	c.Close()

	syncing := openCache(t, dir)
	unlock, err := syncing.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c = openCache(t, dir)
	rename(t, c, client.Inbox, "new/"+fileKey(0, "b"), "cur/"+fileKey(0, "b")+":2,FS")

	want := []client.Flag{client.FlagFlagged, client.FlagSeen}
	if got := listed(t, c, client.Inbox, client.ListOptions{})["b"]; !sameFlagSet(got, want) {
		t.Errorf("List shows flags %v, want %v", got, want)
	}
	if got := listIDs(t, c, client.Inbox, client.ListOptions{Unseen: true}); !slices.Equal(got, []string{"c", "a"}) {
		t.Errorf("List --unseen = %v, want [c a]", got)
	}
	if got := listIDs(t, c, client.Inbox, client.ListOptions{Unseen: true, Limit: 1}); !slices.Equal(got, []string{"c"}) {
		t.Errorf("List --unseen --limit 1 = %v, want [c]", got)
	}
	if got := listIDs(t, c, client.Inbox, client.ListOptions{IDs: []string{"b"}}); !slices.Equal(got, []string{"b"}) {
		t.Errorf("List by ID = %v", got)
	}
	if got := entries(t, c, client.Inbox)["b"].Flags; !sameFlagSet(got, want) {
		t.Errorf("Entries shows flags %v, want %v", got, want)
	}
	if total, unseen, err := c.Counts(ctx, client.Inbox); err != nil || total != 3 || unseen != 2 {
		t.Errorf("Counts = %d, %d, %v; want 3, 2", total, unseen, err)
	}
	if got := indexFlags(t, c, client.Inbox, "b"); len(got) != 0 {
		t.Fatalf("the index changed while a sync held the lock: %v", got)
	}

	unlock()
	syncing.Close()
	unlock, err = c.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if got := indexFlags(t, c, client.Inbox, "b"); !sameFlagSet(got, want) {
		t.Errorf("index flags after Lock = %v, want %v", got, want)
	}
}

// TestOwnRenameKeepsLettersSetElsewhere: a flag change by duomail starts
// from the flags in the file's present name, so it keeps what mutt set
// (F, S) as well as letters duomail does not manage (P).
func TestOwnRenameKeepsLettersSetElsewhere(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	store(t, c, client.Inbox, 0, nil, []string{"p"}, func(id string) []byte { return testMessage(id, 300) })
	if err := c.ChangeFlags(ctx, client.Inbox, []string{"p"}, client.FlagAdd, []client.Flag{"$Work"}); err != nil {
		t.Fatal(err)
	}
	rename(t, c, client.Inbox, "new/"+fileKey(0, "p"), "cur/"+fileKey(0, "p")+":2,FPS")
	if err := c.ChangeFlags(ctx, client.Inbox, []string{"p"}, client.FlagAdd, []client.Flag{client.FlagAnswered}); err != nil {
		t.Fatal(err)
	}
	if sub, info := infoOf(t, c, client.Inbox, "p", 0); sub != "cur" || info != "2,FPRS" {
		t.Errorf("after adding answered: %s/ %q, want cur/ 2,FPRS", sub, info)
	}
	want := []client.Flag{"$Work", client.FlagFlagged, client.FlagAnswered, client.FlagSeen}
	if got := indexFlags(t, c, client.Inbox, "p"); !sameFlagSet(got, want) {
		t.Errorf("index flags = %v, want %v", got, want)
	}
}

// TestIMAPFlagsFromFileNamesAreRefetched: in an IMAP folder the server's
// flags win, so a flag change made in the Maildir makes the next sync
// fetch every flag again (no HIGHESTMODSEQ to start from).
func TestIMAPFlagsFromFileNamesAreRefetched(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	store(t, c, client.Inbox, 9, []client.Flag{client.FlagSeen}, []string{"1", "2"}, func(id string) []byte { return testMessage(id, 300) })
	if err := c.SetState(ctx, client.Inbox, client.SyncState{UIDValidity: 9, UIDNext: 3, HighestModSeq: 40, LastSync: time.Now()}); err != nil {
		t.Fatal(err)
	}
	unlock, err := c.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if st, _ := c.State(ctx, client.Inbox); st.HighestModSeq != 40 {
		t.Fatalf("HIGHESTMODSEQ = %d after a Lock with nothing changed", st.HighestModSeq)
	}
	rename(t, c, client.Inbox, "cur/"+fileKey(9, "2")+":2,S", "cur/"+fileKey(9, "2")+":2,FS")
	unlock, err = c.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	if st, _ := c.State(ctx, client.Inbox); st.HighestModSeq != 0 {
		t.Errorf("HIGHESTMODSEQ = %d, want 0 so that the next sync fetches all flags", st.HighestModSeq)
	}
}

// TestLostCopyIsNotListed: the only copy of a POP3 message (off the
// server) deleted by hand is neither listed nor counted; opening it says
// that the local copy is missing, and Lock marks it for the next sync.
func TestLostCopyIsNotListed(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir)
	ctx := context.Background()
	store(t, c, client.Inbox, 0, nil, []string{"kept", "gone", "onserver"}, func(id string) []byte { return testMessage(id, 300) })
	if err := c.MarkOffServer(ctx, client.Inbox, []string{"kept", "gone"}); err != nil {
		t.Fatal(err)
	}
	syncing := openCache(t, dir)
	unlock, err := syncing.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mdir := c.MaildirPath(client.Inbox)
	for _, id := range []string{"gone", "onserver"} {
		if err := os.Remove(filepath.Join(mdir, "new", fileKey(0, id))); err != nil {
			t.Fatal(err)
		}
	}
	if got := listIDs(t, c, client.Inbox, client.ListOptions{}); !slices.Equal(got, []string{"onserver", "kept"}) {
		t.Errorf("List = %v, want [onserver kept]", got)
	}
	if total, _, err := c.Counts(ctx, client.Inbox); err != nil || total != 2 {
		t.Errorf("Counts = %d, %v; want 2", total, err)
	}
	_, err = c.Open(ctx, client.Inbox, "gone")
	if !errors.Is(err, client.ErrLocalCopyLost) || !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Open of a lost copy: %v, want ErrLocalCopyLost", err)
	}
	// Still on the server: the body is fetched from there, nothing is lost.
	if _, err := c.Open(ctx, client.Inbox, "onserver"); errors.Is(err, client.ErrLocalCopyLost) || !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Open of a copy still on the server: %v, want ErrNotFound only", err)
	}
	if e := entries(t, c, client.Inbox); !e["gone"].Lost || e["gone"].HasBody || e["onserver"].Lost || e["kept"].Lost {
		t.Errorf("Entries = %+v", e)
	}
	unlock()
	syncing.Close()

	unlock, err = c.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	var lost int64
	var path string
	if err := c.db.QueryRow(`SELECT lost, body_path FROM messages WHERE id = 'gone'`).Scan(&lost, &path); err != nil || lost == 0 || path != "" {
		t.Errorf("row after Lock: lost=%d path=%q, %v", lost, path, err)
	}
	if got := listIDs(t, c, client.Inbox, client.ListOptions{}); !slices.Equal(got, []string{"onserver", "kept"}) {
		t.Errorf("List after Lock = %v", got)
	}
	// The server offers it again (a restored mailbox): it is stored afresh.
	store(t, c, client.Inbox, 0, nil, []string{"gone"}, func(id string) []byte { return testMessage(id, 300) })
	if e := entries(t, c, client.Inbox); e["gone"].Lost || !e["gone"].HasBody {
		t.Errorf("entry after a new download: %+v", e["gone"])
	}
}

// TestUnchangedMaildirIsNotRead: once the names are compared, reading
// needs no directory listing until cur/ or new/ change.
func TestUnchangedMaildirIsNotRead(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	store(t, c, client.Inbox, 0, nil, []string{"a"}, func(id string) []byte { return testMessage(id, 300) })
	// Old enough to be trusted.
	old := time.Now().Add(-time.Hour)
	mdir := c.MaildirPath(client.Inbox)
	for _, sub := range []string{"cur", "new"} {
		if err := os.Chtimes(filepath.Join(mdir, sub), old, old); err != nil {
			t.Fatal(err)
		}
	}
	unlock, err := c.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	f, _, err := c.lookupFolder(ctx, c.db, client.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := c.outsideChanges(ctx, f); err != nil || ch != nil {
		t.Fatalf("outsideChanges = %v, %v", ch, err)
	}
	if st, err := readStamp(mdir); err != nil || !st.proves(f.stamp) {
		t.Errorf("stamp %+v does not prove the recorded %+v: %v", st, f.stamp, err)
	}
	// A change by another program moves the stamp.
	rename(t, c, client.Inbox, "new/"+fileKey(0, "a"), "cur/"+fileKey(0, "a")+":2,S")
	if ch, err := c.outsideChanges(ctx, f); err != nil || len(ch) != 1 {
		t.Errorf("outsideChanges after a rename = %v, %v", ch, err)
	}
}
