//go:build !unix

package wizard

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
)

// execPlugin runs the plugin as a child where a process cannot be
// replaced, and ends with its exit code.
func execPlugin(path string, args, env []string) error {
	cmd := exec.Command(path, args...)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return silentExit(ee.ExitCode())
	}
	if err != nil {
		return fmt.Errorf("run plugin %s: %w", path, err)
	}
	return nil
}
