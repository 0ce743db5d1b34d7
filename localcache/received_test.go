package localcache

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

// An index from before arrival times were kept takes a POP3 message's
// download time as its arrival; IMAP rows learn theirs from the server.
func TestReceivedMigratedFromDownloadTime(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := sql.Open("sqlite", "file:"+filepath.Join(dir, indexName))
	if err != nil {
		t.Fatal(err)
	}
	downloaded := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	tx, err := old.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return migrateCreate(ctx, tx) },
		func() error { return migrateOrigin(ctx, tx) },
		func() error { return migrateMaildirWatch(ctx, tx) },
		func() error {
			_, err := tx.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (3);
INSERT INTO folders (id, name) VALUES (1, 'INBOX');
INSERT INTO messages (folder_id, uidvalidity, id, uid, size, downloaded) VALUES (1, 0, 'legacy', 0, 42, ?)`, downloaded.UnixNano())
			return err
		},
		tx.Commit, old.Close,
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	c := openCache(t, dir)
	var got []client.Envelope
	if err := c.List(ctx, client.Inbox, client.ListOptions{}, func(e client.Envelope) error {
		got = append(got, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Received.Equal(downloaded) {
		t.Fatalf("after migration: %+v, want received %v", got, downloaded)
	}

	arrived := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	env := client.Envelope{ID: "7", UIDValidity: 9, Subject: "s", Received: arrived}
	if err := c.SetState(ctx, "Archive", client.SyncState{UIDValidity: 9}); err != nil {
		t.Fatal(err)
	}
	if err := c.PutEnvelopes(ctx, "Archive", []client.Envelope{env}); err != nil {
		t.Fatal(err)
	}
	// An envelope that does not carry the time keeps the stored one.
	env.Received = time.Time{}
	if err := c.PutEnvelopes(ctx, "Archive", []client.Envelope{env}); err != nil {
		t.Fatal(err)
	}
	got = nil
	c.List(ctx, "Archive", client.ListOptions{}, func(e client.Envelope) error {
		got = append(got, e)
		return nil
	})
	if len(got) != 1 || !got[0].Received.Equal(arrived) {
		t.Fatalf("IMAP envelope: %+v, want received %v", got, arrived)
	}
}
