package localcache

import (
	"context"
	"database/sql"
	"maps"
	"path/filepath"
	"testing"

	"github.com/duomail/duomail/client"
)

// Roles come back as stored, with whether each was chosen by name, across
// a reopen; forgetting them makes them unknown again.
func TestRolesRememberedWithHowTheyWereFound(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openCache(t, dir)
	if _, known, err := c.Roles(ctx); err != nil || known {
		t.Fatalf("new cache: known %v, %v", known, err)
	}
	want := map[string]client.RoleFolder{
		client.RoleTrash: {Folder: "INBOX.Trash", ByName: true},
		client.RoleSent:  {Folder: "Sent"},
	}
	if err := c.SetRoles(ctx, want); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c = openCache(t, dir)
	got, known, err := c.Roles(ctx)
	if err != nil || !known || !maps.Equal(got, want) {
		t.Fatalf("roles %v (known %v, %v), want %v", got, known, err, want)
	}
	if err := c.SetRoles(ctx, map[string]client.RoleFolder{}); err != nil {
		t.Fatal(err)
	}
	if got, known, _ := c.Roles(ctx); !known || len(got) != 0 {
		t.Errorf("no roles found: %v known %v, want none, known", got, known)
	}
	if err := c.SetRoles(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, known, _ := c.Roles(ctx); known {
		t.Error("forgotten roles still known")
	}
}

// Roles remembered before the cache recorded how they were found cannot
// say whether the Trash was a guess: they are looked up again.
func TestRolesFromBeforeByNameAreLookedUpAgain(t *testing.T) {
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
	const before = 6 // the schema of migrateRolesAndBodies
	for i, m := range migrations[:before] {
		if err := m(ctx, tx); err != nil {
			t.Fatalf("migration %d: %v", i, err)
		}
	}
	if _, err := tx.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (?);
INSERT INTO folder_roles (role, folder) VALUES ('trash', 'INBOX.Trash');
INSERT INTO roles_known (looked_up) VALUES (1);`, before); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	old.Close()

	c := openCache(t, dir)
	if roles, known, err := c.Roles(ctx); err != nil || known {
		t.Errorf("after migration: roles %v known %v (%v), want unknown", roles, known, err)
	}
}
