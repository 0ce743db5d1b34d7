package localcache

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncfs flushes the whole file system holding path. Since Linux 5.8 it
// reports write-back errors of any file on it, like fsync does.
func syncfs(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", path, err)
	}
	return nil
}
