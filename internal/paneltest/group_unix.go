//go:build unix

package paneltest

import (
	"os/exec"
	"syscall"
)

// ownGroup starts cmd in a process group of its own and has its
// cancellation kill the group: PHP's server forks its workers, which
// outlive a killed parent.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}
