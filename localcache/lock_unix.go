//go:build unix

package localcache

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockFile tries once to take an exclusive flock(2) on f without waiting.
// It reports held=false with a nil error when another process holds it
// (or the call was interrupted), so the caller polls again.
func lockFile(f *os.File) (held bool, err error) {
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, unix.EWOULDBLOCK) || errors.Is(err, unix.EINTR) {
		return false, nil
	}
	return false, err
}
