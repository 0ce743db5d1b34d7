//go:build !unix

package localcache

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
