// Package atomicfile writes files whole or not at all: a temporary file in
// the target's directory (created with O_EXCL|O_NOFOLLOW under a random
// name, so nothing planted at that name is followed or overwritten), its
// content fsynced, renamed over the target, the directory fsynced — so after
// a crash the target holds the old content or the new one, never a mix
// (restic writes its files the same way). An existing target's mode and
// owner are kept; a new one gets the mode asked for.
//
// Every file stackpilot writes whole goes through it: .env and its kept
// versions, backup archives (streamed into a File), the backup verification
// record, the interrupted-backup marker, lock holder records, the
// validation cache and the state directory's .gitignore. The deploy history
// is appended to, one fsynced line per record, and is the exception.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// ErrDirSync marks a Commit whose rename was done but whose directory
// could not be fsynced: the new content is in place, but a crash soon after
// could still lose the rename.
var ErrDirSync = errors.New("directory not synced")

// Options tune a write.
type Options struct {
	// Mode is the permission bits of a new file (0600 when zero). A file
	// that exists keeps its mode and owner.
	Mode os.FileMode
	// BeforeRename, when set, runs once the content is on disk, just before
	// the rename; an error abandons the write and leaves the target as it
	// was (a check that the target did not change meanwhile).
	BeforeRename func() error
	// Step, when set, is told each step of the write as it completes:
	// temp-created, temp-written (Write only), temp-synced, renamed,
	// dir-synced. Tests stop the process there.
	Step func(step string)
}

// File is the temporary file of a write in progress. Write to it, then
// Commit (it becomes the target) or Abort (it is removed).
type File struct {
	f        *os.File
	path     string
	mode     os.FileMode
	uid, gid int // the target's owner to keep; -1 when it is ours or new
	o        Options
}

// tempPattern names the temporary files of writes to base, so leftovers of
// killed writers can be found (RemoveTemps) and are hidden from listings.
func tempPattern(base string) string {
	return "." + strings.TrimPrefix(base, ".") + ".stackpilot-*.tmp"
}

// Create starts a write of path: a new temporary file beside it. The
// target's mode and owner, if it exists, are read now and given to the new
// file at Commit.
func Create(path string, o Options) (*File, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	w := &File{path: path, mode: o.Mode, uid: -1, gid: -1, o: o}
	if w.mode == 0 {
		w.mode = 0o600
	}
	if fi, err := os.Stat(path); err == nil {
		w.mode = fi.Mode().Perm()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Geteuid() || int(st.Gid) != os.Getegid()) {
			w.uid, w.gid = int(st.Uid), int(st.Gid)
		}
	}
	f, err := createTemp(dir, base)
	if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	w.f = f
	w.step("temp-created")
	return w, nil
}

// tempSuffix makes a temporary file's name unpredictable; tests replace it.
var tempSuffix = func() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// createTemp creates a new temporary file for base in dir with
// O_EXCL|O_NOFOLLOW: whatever is already at the name — a file, or a symlink
// planted in a directory others can write to — is never opened, followed or
// overwritten; another name is tried instead.
func createTemp(dir, base string) (*os.File, error) {
	prefix, suffix, _ := strings.Cut(tempPattern(base), "*")
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+tempSuffix()+suffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, os.ErrExist) && !errors.Is(err, syscall.ELOOP) || try >= 100 {
			return nil, err
		}
	}
}

func (w *File) step(s string) {
	if w.o.Step != nil {
		w.o.Step(s)
	}
}

// Name is the temporary file's path.
func (w *File) Name() string { return w.f.Name() }

// Write writes to the temporary file.
func (w *File) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		err = fmt.Errorf("write %s: %w", w.path, err)
	}
	return n, err
}

// Abort removes the temporary file; the target stays as it was. It does
// nothing after Commit.
func (w *File) Abort() {
	if w.f == nil {
		return
	}
	w.f.Close()
	os.Remove(w.f.Name())
	w.f = nil
}

// Commit gives the file its mode and owner, fsyncs it, runs BeforeRename,
// renames it over the target and fsyncs the directory. On an error before
// the rename the temporary file is removed and the target left as it was.
func (w *File) Commit() error {
	if w.f == nil {
		return fmt.Errorf("write %s: already committed or aborted", w.path)
	}
	f, tmp := w.f, w.f.Name()
	fail := func(err error) error {
		w.Abort()
		return err
	}
	if err := f.Chmod(w.mode); err != nil {
		return fail(fmt.Errorf("keep the mode of %s: %w", w.path, err))
	}
	if w.uid >= 0 {
		if err := f.Chown(w.uid, w.gid); err != nil {
			return fail(fmt.Errorf("keep the owner (uid %d, gid %d) of %s: %w — run stackpilot as that user", w.uid, w.gid, w.path, err))
		}
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("write %s: %w", w.path, err))
	}
	w.step("temp-synced")
	w.f = nil
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", w.path, err)
	}
	if w.o.BeforeRename != nil {
		if err := w.o.BeforeRename(); err != nil {
			os.Remove(tmp)
			return err
		}
	}
	if err := os.Rename(tmp, w.path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replace %s: %w", w.path, err)
	}
	w.step("renamed")
	if err := SyncDir(filepath.Dir(w.path)); err != nil {
		return fmt.Errorf("%s was replaced but its directory could not be synced: %w: %w", w.path, ErrDirSync, err)
	}
	w.step("dir-synced")
	return nil
}

// Write replaces path with data, atomically and durably (see Create and
// Commit).
func Write(path string, data []byte, o Options) error {
	w, err := Create(path, o)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	w.step("temp-written")
	return w.Commit()
}

// RemoveTemps deletes the temporary files that writers of the files in dir
// whose names match the glob pattern base left when they were killed. Call
// it only while no such write can be running (under the lock its writers
// take).
func RemoveTemps(dir, base string) {
	stale, _ := filepath.Glob(filepath.Join(dir, tempPattern(base)))
	for _, f := range stale {
		_ = os.Remove(f)
	}
}

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
