package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// signalExec sends sig to an exec'd process. The engine API can start,
// resize and inspect an exec but not signal it; what it does tell is the
// process's pid as the engine's machine sees it. When stackpilot runs on
// that machine, in the same pid namespace, that pid is the process — which
// is checked, not assumed: the process must still be running and belong to
// the container (its cgroup names the container's id), so a pid reused by
// another process, or a remote engine's pid that means something else
// here, is never signalled. Otherwise the caller says it could not.
func signalExec(ctx context.Context, eng *engine.Client, execID, containerID string, sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("%v cannot be forwarded", sig)
	}
	st, err := eng.ExecInspect(ctx, execID)
	if err != nil {
		return err
	}
	if !st.Running || st.Pid <= 0 {
		return errors.New("it is not running")
	}
	cg, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", st.Pid))
	if err != nil || !bytes.Contains(cg, []byte(containerID)) {
		return errors.New("the engine's processes are not visible from here (a remote or rootless engine)")
	}
	if err := syscall.Kill(st.Pid, s); err != nil {
		if errors.Is(err, syscall.EPERM) {
			return errors.New("not permitted: the task runs as another user (stackpilot would need to run as root)")
		}
		return err
	}
	return nil
}
