//go:build unix

package main

import (
	"os"
	"runtime"
	"syscall"
)

// rusageMaxRSS returns the peak resident set getrusage reported for the
// ended process, in bytes, or 0. ru_maxrss is in kilobytes on Linux and
// the BSDs, in bytes on darwin.
func rusageMaxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) << 10
}
