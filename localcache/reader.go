package localcache

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// readerBusyMillis is how long OpenReader's queries wait for a writer;
// in WAL mode readers wait only while another process rebuilds the
// write-ahead log's index, and an answer that must be instant would
// rather be empty.
const readerBusyMillis = 250

// errReader is why a cache from OpenReader refuses writes.
var errReader = errors.New("opened for reading only")

// OpenReader opens an existing cache to read its index and nothing else:
// unlike Open it creates, migrates and repairs nothing, takes no lock, and
// waits for a writer only a moment. It serves answers that must be instant
// and free of side effects, such as shell completion. A directory with no
// index gives an error that matches fs.ErrNotExist; an index of another
// schema version is refused (a normal Open upgrades it).
func OpenReader(dir string) (*Cache, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	index := filepath.Join(abs, indexName)
	if _, err := os.Stat(index); err != nil {
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	db, err := sql.Open("sqlite", fmt.Sprintf("file:%s?mode=ro&_pragma=busy_timeout(%d)", uriEscape(index), readerBusyMillis))
	if err != nil {
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	db.SetMaxOpenConns(2)
	var version int
	err = db.QueryRow(`SELECT version FROM schema_version`).Scan(&version)
	if err == nil && version != len(migrations) {
		err = fmt.Errorf("index schema version %d, this duomail reads %d", version, len(migrations))
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open cache %s: %w", dir, err)
	}
	return &Cache{dir: abs, db: db, durability: DurabilityFsync, readOnly: errReader}, nil
}
