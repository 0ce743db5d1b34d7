package sourcetest

import "os/exec"

// Mailutils does not run on Windows, and RequireMailutils skips there;
// these exist so that the package compiles.

func ownProcessGroup(cmd *exec.Cmd) {}

func (m *Mailutils) stop() {
	for _, cmd := range m.procs {
		cmd.Process.Kill()
		cmd.Wait()
	}
}
