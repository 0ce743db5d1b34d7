//go:build unix

package fetch

import "syscall"

// oNoFollow makes the O_EXCL create fail on a symbolic link planted at the
// name, dangling or not, instead of writing through it.
const oNoFollow = syscall.O_NOFOLLOW
