//go:build !linux

package engine

import "syscall"

// dieWithParent: only Linux has a parent-death signal; elsewhere the master
// ends with Close, or when the server notices the connection gone.
func dieWithParent(*syscall.SysProcAttr) {}
