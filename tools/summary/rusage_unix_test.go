//go:build unix

package summary

import (
	"syscall"
	"time"
)

// cpuTime is the process's user+system CPU time, a figure less disturbed
// than wall time by other processes sharing the machine.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
