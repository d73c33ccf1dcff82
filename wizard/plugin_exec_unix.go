//go:build unix

package wizard

import (
	"fmt"
	"syscall"
)

// execPlugin replaces stackpilot with the plugin (execve), as kubectl does
// on Unix: the plugin then is the process the shell started — same pid,
// same terminal and process group — so stdin, stdout, stderr, every
// signal (from the terminal or from kill) and the exit code are its own,
// with nothing in between to forward them or to get them wrong. It
// returns only when the exec failed.
func execPlugin(path string, args, env []string) error {
	argv := append([]string{path}, args...)
	if err := syscall.Exec(path, argv, env); err != nil {
		return fmt.Errorf("run plugin %s: %w", path, err)
	}
	return nil
}
