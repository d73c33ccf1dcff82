// Package atomicfile writes files whole or not at all: a temporary file in
// the target's directory, fsynced, renamed over the target, the directory
// fsynced — so after a crash the target is the old content or the new one,
// never a mix (restic writes its files the same way).
package atomicfile

import (
	"errors"
	"os"
	"syscall"
)

// SyncDir fsyncs a directory so a rename inside it survives a crash.
// Filesystems that cannot sync directories (EINVAL) are not an error.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
