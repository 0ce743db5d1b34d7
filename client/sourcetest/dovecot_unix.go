//go:build unix

package sourcetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runAs makes cmd run as uid:gid; the test runs as root.
func runAs(cmd *exec.Cmd, uid, gid int) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
}

// stop ends the whole Dovecot process group: after SIGTERM the master can
// wait for seconds on its children, which a test run need not pay for.
func (d *Dovecot) stop() {
	data, err := os.ReadFile(filepath.Join(d.Dir, "run", "master.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 20; i++ {
		if syscall.Kill(pid, 0) != nil {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	// The master leads its own process group (it daemonizes with setsid).
	if pgid, err := syscall.Getpgid(pid); err == nil && pgid == pid {
		syscall.Kill(-pgid, syscall.SIGKILL)
	} else {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
