package localcache

import (
	"errors"
	"math"
	"os"

	"golang.org/x/sys/windows"
)

// lockFile tries once to take an exclusive LockFileEx lock on all of f
// without waiting. Unlike flock(2), the Windows lock is mandatory: while
// it is held no other process can read or write the locked range of the
// lock file, so a waiting process cannot read the holder's PID from it
// and names it "another duomail process". Closing the handle releases
// it, as closing the descriptor releases a flock. held=false with a nil
// error means another process holds it.
func lockFile(f *os.File) (held bool, err error) {
	var ol windows.Overlapped
	err = windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY,
		0, math.MaxUint32, math.MaxUint32, &ol)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return false, nil
	}
	return false, err
}
