package sourcetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Dovecot does not run on Windows, and RequireDovecot skips there; these
// exist so that the package compiles. Windows has neither user
// credentials on a started process nor process groups to signal.

func runAs(cmd *exec.Cmd, uid, gid int) {}

// stop kills the master process only.
func (d *Dovecot) stop() {
	data, err := os.ReadFile(filepath.Join(d.Dir, "run", "master.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return
	}
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}
