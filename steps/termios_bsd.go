//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package steps

import "golang.org/x/sys/unix"

// The ioctls that read and set a terminal's attributes (golang.org/x/term
// picks them the same way).
const (
	ioctlGetTermios = unix.TIOCGETA
	ioctlSetTermios = unix.TIOCSETA
)
