package engine

import "syscall"

// dieWithParent has the kernel send ssh SIGTERM when stackpilot dies, so no
// ssh outlives it and ssh still removes its control socket.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGTERM }
