//go:build !unix

package main

import "os"

// rusageMaxRSS: Windows reports no peak resident set for an ended process
// through os.ProcessState, so only the VmHWM poll (Linux) can give one.
func rusageMaxRSS(ps *os.ProcessState) int64 { return 0 }
