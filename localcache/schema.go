package localcache

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// migrations[i] brings the schema from version i to version i+1. Append to
// change the schema; never edit a migration that has shipped, since indexes
// written by older duomail versions replay the list from where they are.
var migrations = []func(ctx context.Context, tx *sql.Tx) error{
	migrateCreate,
	migrateOrigin,
	migrateMaildirWatch,
	migrateReceived,
	migrateSearch,
	migrateRolesAndBodies,
	migrateRolesByName,
	migrateLazyHeaderIndex,
}

// migrateCreate is the first schema.
//
// messages.seq is the insertion order (POP3 lists newest first as the
// reverse of it); uid is the numeric IMAP UID (0 for POP3). body_path is the
// message file relative to the folder's Maildir, "" when only the envelope
// is cached; it is a hint, as other tools rename files when they change
// flags, and the key in the name is what finds a file. Times are Unix
// nanoseconds, 0 for none, except date, which keeps the sender's zone as
// RFC 3339 text.
func migrateCreate(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `
CREATE TABLE folders (
	id            INTEGER PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	uidvalidity   INTEGER NOT NULL DEFAULT 0,
	uidnext       INTEGER NOT NULL DEFAULT 0,
	highestmodseq INTEGER NOT NULL DEFAULT 0,
	messages      INTEGER NOT NULL DEFAULT 0,
	last_sync     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE messages (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	folder_id       INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
	uidvalidity     INTEGER NOT NULL,
	id              TEXT NOT NULL,
	uid             INTEGER NOT NULL,
	date            TEXT NOT NULL DEFAULT '',
	sender          TEXT NOT NULL DEFAULT '',
	recipients      TEXT NOT NULL DEFAULT '',
	subject         TEXT NOT NULL DEFAULT '',
	message_id      TEXT NOT NULL DEFAULT '',
	size            INTEGER NOT NULL DEFAULT 0,
	has_attachments INTEGER NOT NULL DEFAULT 0,
	flags           TEXT NOT NULL DEFAULT '',
	seen            INTEGER NOT NULL DEFAULT 0,
	on_server       INTEGER NOT NULL DEFAULT 1,
	body_path       TEXT NOT NULL DEFAULT '',
	downloaded      INTEGER NOT NULL DEFAULT 0,
	UNIQUE (folder_id, uidvalidity, id)
);
CREATE INDEX messages_order ON messages (folder_id, uidvalidity, uid, seq);
`)
	return err
}

// migrateOrigin records where each POP3 message came from (client.Origin):
// the server's name for it, the size the server announced and a digest of
// its header, so a later session can tell whether a UIDL still names the
// stored message. Rows from before have none (” and -1).
func migrateOrigin(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `
ALTER TABLE messages ADD COLUMN server_id TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN server_size INTEGER NOT NULL DEFAULT -1;
ALTER TABLE messages ADD COLUMN header_digest TEXT NOT NULL DEFAULT '';
`)
	return err
}

// migrateMaildirWatch lets the index follow what other programs do in the
// Maildirs. folders.cur_mtime and new_mtime are the modification times
// (Unix nanoseconds) of cur/ and new/ when their file names were last
// compared with the index, 0 for "compare again": a rename or removal by
// mutt changes them, so an unchanged pair proves without reading the
// directories that the index is up to date. messages.lost is when a stored
// body was found missing while the server no longer had the message (0
// while not lost): the row stays until a sync has told the user.
func migrateMaildirWatch(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `
ALTER TABLE folders ADD COLUMN cur_mtime INTEGER NOT NULL DEFAULT 0;
ALTER TABLE folders ADD COLUMN new_mtime INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN lost INTEGER NOT NULL DEFAULT 0;
`)
	return err
}

// migrateReceived records when each message reached the mailbox (Unix
// nanoseconds, 0 for unknown): IMAP's INTERNALDATE, or for POP3 the time
// it was downloaded, which rows from before have as downloaded.
func migrateReceived(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `
ALTER TABLE messages ADD COLUMN received INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET received = downloaded WHERE uidvalidity = 0;
`)
	return err
}

// migrateSearch adds what search and threads need.
//
// messages.cc is stored like recipients (a JSON array); in_reply_to is one
// Message-ID and refs the References, space-separated, all without angle
// brackets. sort_date is the Date header (arrival when there is none) in
// Unix seconds, for date ranges and sorting; unixepoch() reads the stored
// RFC 3339 text whatever zone it keeps.
//
// header_index is a trigram index of sender, recipients, cc and subject:
// a trigram index answers any substring of three or more characters,
// which is what IMAP SEARCH FROM/TO/CC/SUBJECT mean, and costs little as
// headers are short. text_index indexes the decoded text of cached bodies
// by words (unicode61, diacritics folded); trigrams of whole bodies would
// cost several times the text. Both are contentless (the index's rowid is
// messages.seq), so no text is stored twice. The code that writes a row
// writes its index rows after it (an FTS5 table written from a trigger
// flushes a segment per row); triggers only drop index rows with their
// message or its body, whoever deletes them.
// text_indexed says whether a row's body text is in text_index: rows
// cached before this migration have 0 and are indexed by IndexText, which
// reads their files (that is the slow part, done outside this transaction
// with progress reported).
func migrateSearch(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `
ALTER TABLE messages ADD COLUMN cc TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN in_reply_to TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN refs TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN text_indexed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN sort_date INTEGER GENERATED ALWAYS AS
	(CASE WHEN date != '' THEN unixepoch(date) ELSE received / 1000000000 END) VIRTUAL;
CREATE INDEX messages_date ON messages (folder_id, uidvalidity, sort_date);
CREATE INDEX messages_unindexed ON messages (text_indexed) WHERE text_indexed = 0 AND body_path != '';
CREATE VIRTUAL TABLE header_index USING fts5(sender, recipients, cc, subject,
	content='', contentless_delete=1, tokenize='trigram remove_diacritics 1');
CREATE VIRTUAL TABLE text_index USING fts5(body,
	content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
CREATE TRIGGER messages_index_delete AFTER DELETE ON messages BEGIN
	DELETE FROM header_index WHERE rowid = old.seq;
	DELETE FROM text_index WHERE rowid = old.seq;
END;
CREATE TRIGGER messages_text_drop AFTER UPDATE OF body_path ON messages
WHEN new.body_path = '' AND old.text_indexed != 0 BEGIN
	DELETE FROM text_index WHERE rowid = old.seq;
	UPDATE messages SET text_indexed = 0 WHERE seq = old.seq;
END;
INSERT INTO header_index (rowid, sender, recipients, cc, subject)
	SELECT seq, sender, `+addressText("recipients")+`, '', subject FROM messages;
`)
	return err
}

// migrateRolesAndBodies remembers the account's special-use folders
// (client.RoleStore): folder_roles maps a role to the server's folder, and
// roles_known has one row once they were looked up (none found is then an
// answer too). folders.bodies records that the last sync stored every
// message whole, so that an unchanged folder needs no sync --bodies either;
// triggers clear it whenever a row without body appears or a body is
// forgotten (recovery, another tool deleting a file), whoever does it.
func migrateRolesAndBodies(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `
CREATE TABLE folder_roles (
	role   TEXT PRIMARY KEY,
	folder TEXT NOT NULL
);
CREATE TABLE roles_known (looked_up INTEGER NOT NULL);
ALTER TABLE folders ADD COLUMN bodies INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER bodies_incomplete_insert AFTER INSERT ON messages WHEN new.body_path = '' BEGIN
	UPDATE folders SET bodies = 0 WHERE id = new.folder_id AND bodies != 0;
END;
CREATE TRIGGER bodies_incomplete_update AFTER UPDATE OF body_path ON messages WHEN new.body_path = '' BEGIN
	UPDATE folders SET bodies = 0 WHERE id = new.folder_id AND bodies != 0;
END;
`)
	return err
}

// migrateRolesByName records whether a role's folder was chosen by its
// name (a server without SPECIAL-USE) rather than by the server's
// attribute. Roles remembered before cannot say, so they are forgotten and
// looked up again at the next operation that needs one: one LIST.
func migrateRolesByName(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `
ALTER TABLE folder_roles ADD COLUMN by_name INTEGER NOT NULL DEFAULT 0;
DELETE FROM folder_roles;
DELETE FROM roles_known;
`)
	return err
}

// migrateLazyHeaderIndex lets the header index rows of new messages wait
// until a search needs them: every messages row at or below
// header_index_mark.seq has its header_index row (as every row had until
// now), no row above it has. Writing them message by message was about 40%
// of what storing a listing cost (BenchmarkPutEnvelopes: 2,000 at a time
// into a growing cache, 69 against 44 ms); a search writes those missing in
// one statement (see Cache.indexHeaders).
func migrateLazyHeaderIndex(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, `
CREATE TABLE header_index_mark (seq INTEGER NOT NULL);
INSERT INTO header_index_mark (seq) SELECT coalesce(max(seq), 0) FROM messages;
`)
	return err
}

// addressText is SQL that turns a stored address list (a JSON array, or
// "") into the text the header index sees: "Ann <a@x>, Bob <b@y>" rather
// than JSON with its escapes (json.Marshal writes < as \u003c).
func addressText(col string) string {
	return `CASE WHEN json_valid(` + col + `) THEN (SELECT group_concat(value, ', ') FROM json_each(` + col + `)) ELSE ` + col + ` END`
}

// migrate brings the index to the newest schema in one transaction, so a
// crash mid-migration leaves the old schema intact. An index written by a
// newer duomail is refused rather than misread.
func migrate(ctx context.Context, db *sql.DB) error {
	// The usual case, an index at the current version, needs no write lock
	// (which would make every command wait for a writing process).
	var version int
	err := db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	if err == nil && version == len(migrations) {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate index: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate index: %w", err)
	}
	version = 0
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("migrate index: %w", err)
		}
	case err != nil:
		return fmt.Errorf("migrate index: read schema version: %w", err)
	}
	if version > len(migrations) {
		return fmt.Errorf("migrate index: schema version %d is newer than this duomail understands (%d)", version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	for v := version; v < len(migrations); v++ {
		if err := migrations[v](ctx, tx); err != nil {
			return fmt.Errorf("migrate index from schema version %d: %w", v, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, len(migrations)); err != nil {
		return fmt.Errorf("migrate index: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate index: %w", err)
	}
	return nil
}
