//go:build !linux

package localcache

import "fmt"

// syncfs(2) exists only on Linux. Elsewhere DurabilitySyncfs cannot be
// honoured without silently weakening it (sync(2) on the BSDs and darwin
// only schedules the write-back and reports no error), so it fails and
// says to use the default, which fsyncs each file and directory. On
// darwin that fsync is the plain one, not F_FULLFSYNC: it reaches the
// drive but not past the drive's own cache.
func syncfs(path string) error {
	return fmt.Errorf("syncfs %s: durability syncfs is only available on Linux; use fsync", path)
}
