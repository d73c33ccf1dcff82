//go:build unix

package stackops

import (
	"os/exec"
	"syscall"
)

// newProcessGroup makes cmd's process lead a process group of its own.
func newProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
