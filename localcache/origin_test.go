package localcache

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/duomail/duomail/client"
)

// An index written before origins were recorded keeps its rows, which
// report no origin; new downloads and SetOrigins record one.
func TestOriginMigratedAndRecorded(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old, err := sql.Open("sqlite", "file:"+filepath.Join(dir, indexName))
	if err != nil {
		t.Fatal(err)
	}
	tx, err := old.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error { return migrateCreate(ctx, tx) },
		func() error {
			_, err := tx.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (1);
INSERT INTO folders (id, name) VALUES (1, 'INBOX');
INSERT INTO messages (folder_id, uidvalidity, id, uid, size) VALUES (1, 0, 'legacy', 0, 42)`)
			return err
		},
		tx.Commit, old.Close,
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}

	c := openCache(t, dir)
	e := entries(t, c, client.Inbox)
	if got, want := e["legacy"].Origin, (client.Origin{ServerSize: -1}); got != want || e["legacy"].Size != 42 {
		t.Fatalf("legacy row after migration: %+v, want origin %+v", e["legacy"], want)
	}

	b, err := c.NewBatch(ctx, client.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	origin := client.Origin{ServerID: "AAA", ServerSize: 1234, HeaderDigest: "00112233445566778899aabbccddeeff"}
	for _, id := range []string{"AAA", "AAA-2"} {
		if err := b.Add(ctx, id, 0, nil, bytes.NewReader(testMessage(id, 500))); err != nil {
			t.Fatal(err)
		}
	}
	b.SetOrigin("AAA-2", origin)
	if _, err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e = entries(t, c, client.Inbox)
	if e["AAA-2"].Origin != origin || e["AAA"].Origin.ServerSize != -1 {
		t.Errorf("origins after commit: %+v, %+v", e["AAA"].Origin, e["AAA-2"].Origin)
	}
	if e["AAA"].MessageID != "AAA@example.org" {
		t.Errorf("message ID %q", e["AAA"].MessageID)
	}

	if err := c.MarkOffServer(ctx, client.Inbox, []string{"AAA"}); err != nil {
		t.Fatal(err)
	}
	renamed := client.Origin{ServerID: "BBB", ServerSize: 510, HeaderDigest: "ffeeddccbbaa99887766554433221100"}
	if err := c.SetOrigins(ctx, client.Inbox, map[string]client.Origin{"AAA": renamed, "unknown": renamed}); err != nil {
		t.Fatal(err)
	}
	e = entries(t, c, client.Inbox)
	if e["AAA"].Origin != renamed || !e["AAA"].OnServer || len(e) != 3 {
		t.Errorf("after SetOrigins: %+v", e["AAA"])
	}
}
