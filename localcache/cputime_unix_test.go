//go:build unix

package localcache

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used: on a
// machine shared with other work it varies less than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
