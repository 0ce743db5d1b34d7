package localcache

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
	"modernc.org/sqlite"
)

// Primary SQLite result codes (https://sqlite.org/rescode.html).
const (
	sqlitePerm     = 3
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteFull     = 13
	sqliteCantOpen = 14
)

// ErrReadOnly: the cache could only be opened for reading, so nothing can
// be stored or changed in it; the error also says why.
var ErrReadOnly = errors.New("the cache can only be read")

// sqliteCode returns the primary SQLite result code of err, 0 if none.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// storageError says in words why a write to the cache at dir failed, where
// SQLite does not: it reports a full disk as "disk I/O error (4874)" when
// it cannot grow its shared-memory file, and a read-only mount as "unable
// to open database file (14)". The file system is asked which it is; the
// result matches unix.ENOSPC or unix.EROFS with errors.Is.
func storageError(dir string, err error) error {
	if err == nil || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EROFS) || errors.Is(err, unix.EDQUOT) {
		return err
	}
	switch sqliteCode(err) {
	case sqliteFull:
		return fmt.Errorf("%w: %w", unix.ENOSPC, err)
	case sqliteIOErr, sqliteCantOpen, sqliteReadOnly:
	default:
		return err
	}
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return err
	}
	switch {
	case st.Flags&unix.ST_RDONLY != 0:
		return fmt.Errorf("%w: %w", unix.EROFS, err)
	case st.Bavail == 0:
		return fmt.Errorf("%w: %w", unix.ENOSPC, err)
	}
	return err
}

// cannotWrite reports whether err (from storageError) means that the cache
// cannot be written, though it may still be read.
func cannotWrite(err error) bool {
	for _, e := range []error{unix.ENOSPC, unix.EROFS, unix.EDQUOT, unix.EACCES, unix.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	switch sqliteCode(err) {
	case sqliteReadOnly, sqliteCantOpen, sqliteIOErr, sqliteFull, sqlitePerm:
		return true
	}
	return false
}
