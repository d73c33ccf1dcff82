package steps

import (
	"os"

	"golang.org/x/sys/unix"
)

// withEchoOff runs fn with the terminal's echo turned off, when ios reads
// from a terminal. Each survey prompt switches the terminal to raw mode and
// back; between two hidden prompts (a secret typed twice) echo would be on
// again for a moment, and keys typed or pasted ahead in that moment would be
// shown by the terminal itself. With echo off for the whole exchange, survey
// saves and restores the echo-off state and nothing typed is ever shown.
func withEchoOff(ios *IOStreams, fn func() error) error {
	f, ok := ios.In.(*os.File)
	if !ok || !ios.IsStdinTTY() {
		return fn()
	}
	fd := int(f.Fd())
	saved, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		return fn()
	}
	quiet := *saved
	quiet.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &quiet); err != nil {
		return fn()
	}
	defer func() { _ = unix.IoctlSetTermios(fd, ioctlSetTermios, saved) }()
	return fn()
}
