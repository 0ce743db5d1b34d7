//go:build darwin || freebsd || netbsd || dragonfly

package localcache

import "golang.org/x/sys/unix"

// fsState asks the file system holding dir whether it is mounted
// read-only or has no block left for an unprivileged writer; both false
// when it cannot tell. The BSDs report the mount flag as MNT_RDONLY where
// Linux has ST_RDONLY.
func fsState(dir string) (readOnly, full bool) {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return false, false
	}
	return uint64(st.Flags)&unix.MNT_RDONLY != 0, st.Bavail == 0
}
