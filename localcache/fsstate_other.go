//go:build !linux && !darwin && !freebsd && !netbsd && !dragonfly && !openbsd

package localcache

// fsState cannot ask the file system on this platform (Windows has no
// statfs mount flags); storageError then keeps the error from the write
// attempt itself, which still says the cache cannot be written.
func fsState(dir string) (readOnly, full bool) { return false, false }
