//go:build unix

package sourcetest

import (
	"os/exec"
	"syscall"
	"time"
)

// ownProcessGroup makes cmd the leader of a new process group, so that
// stopping it reaches the children it forks for connections too.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// stop ends each daemon's process group: the masters and the sessions
// they forked, which a test that left a connection open would keep alive.
func (m *Mailutils) stop() {
	for _, cmd := range m.procs {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	for _, cmd := range m.procs {
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}
