package localcache

import "golang.org/x/sys/unix"

// fsState asks the file system holding dir whether it is mounted
// read-only or has no block left for an unprivileged writer; both false
// when it cannot tell. OpenBSD names the statfs fields F_flags and
// F_bavail, and its read-only mount flag MNT_RDONLY.
func fsState(dir string) (readOnly, full bool) {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return false, false
	}
	return uint64(st.F_flags)&unix.MNT_RDONLY != 0, st.F_bavail == 0
}
