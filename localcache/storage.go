package localcache

import (
	"errors"
	"fmt"
	"syscall"

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
// result matches syscall.ENOSPC or syscall.EROFS with errors.Is.
func storageError(dir string, err error) error {
	if err == nil || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EDQUOT) {
		return err
	}
	switch sqliteCode(err) {
	case sqliteFull:
		return fmt.Errorf("%w: %w", syscall.ENOSPC, err)
	case sqliteIOErr, sqliteCantOpen, sqliteReadOnly:
	default:
		return err
	}
	switch readOnly, full := fsState(dir); {
	case readOnly:
		return fmt.Errorf("%w: %w", syscall.EROFS, err)
	case full:
		return fmt.Errorf("%w: %w", syscall.ENOSPC, err)
	}
	return err
}

// cannotWrite reports whether err (from storageError) means that the cache
// cannot be written, though it may still be read.
func cannotWrite(err error) bool {
	for _, e := range []error{syscall.ENOSPC, syscall.EROFS, syscall.EDQUOT, syscall.EACCES, syscall.EPERM} {
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
