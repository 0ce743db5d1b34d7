//go:build !linux

package main

import (
	"errors"
	"os"
)

// openPTY is written for Linux's /dev/ptmx ioctls; the terminal tests run
// on Linux in CI and fail elsewhere with this error.
func openPTY(cols, rows uint16) (master, slave *os.File, err error) {
	return nil, nil, errors.New("the pseudo-terminal tests need Linux")
}
