package selfupdate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// binaryFiles names the installed binary and the files kept beside it. They
// live in the binary's own directory because only a rename within one file
// system is atomic: at every instant the binary's path holds either the old
// file or the new one, complete, whatever kills the update.
type binaryFiles struct {
	exe, dir, base string
}

func filesFor(exe string) binaryFiles {
	return binaryFiles{exe: exe, dir: filepath.Dir(exe), base: filepath.Base(exe)}
}

// PreviousPath is where the binary replaced by the last update is kept
// (hidden, beside it): what Rollback puts back.
func PreviousPath(exe string) string { return filesFor(exe).previous() }

func (b binaryFiles) previous() string { return filepath.Join(b.dir, "."+b.base+".previous") }

// newTemp is the new binary while it is written and checked.
func (b binaryFiles) newTemp() string { return filepath.Join(b.dir, "."+b.base+".new") }

// previousTemp is the next previous binary, until it is renamed into place.
func (b binaryFiles) previousTemp() string { return filepath.Join(b.dir, "."+b.base+".previous.new") }

// NotWritableError is ErrNotWritable with the directory and what to do.
type NotWritableError struct {
	Dir string
	Err error
}

func (e *NotWritableError) Error() string {
	return fmt.Sprintf("cannot write to %s (%v) — rerun with sudo, or install stackpilot in a directory you can write (e.g. ~/.local/bin)", e.Dir, e.Err)
}

// Is matches ErrNotWritable.
func (e *NotWritableError) Is(target error) bool { return target == ErrNotWritable }

func (e *NotWritableError) Unwrap() error { return e.Err }

func notWritable(dir string, err error) error {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &NotWritableError{Dir: dir, Err: err}
	}
	return err
}

// checkWritable fails early, before any download, when this user cannot
// create and rename files in dir.
func checkWritable(dir string) error {
	if err := syscall.Access(dir, 0x2 /* W_OK */); err != nil {
		return notWritable(dir, &fs.PathError{Op: "access", Path: dir, Err: err})
	}
	return nil
}

// lockDir serialises self-updates of binaries in dir: a second one fails at
// once with ErrBusy instead of racing the first for the same temporary files.
// The lock is an flock on the directory itself, so nothing is left behind.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked by another stackpilot self-update", ErrBusy, dir)
		}
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// tidy removes what an update killed half-way left behind (called with the
// directory locked). A previous binary caught between its two renames is
// put back in place rather than lost.
func (b binaryFiles) tidy() error {
	if err := os.Remove(b.newTemp()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return notWritable(b.dir, err)
	}
	if _, err := os.Lstat(b.previousTemp()); err == nil {
		if _, err := os.Lstat(b.previous()); errors.Is(err, fs.ErrNotExist) {
			return os.Rename(b.previousTemp(), b.previous())
		}
		if err := os.Remove(b.previousTemp()); err != nil {
			return notWritable(b.dir, err)
		}
	}
	return nil
}

// writeNew writes data to the temporary new binary (created exclusively,
// with the installed binary's mode and, when root, its owner) and syncs it.
func (b binaryFiles) writeNew(data []byte, like fs.FileInfo) (err error) {
	path := b.newTemp()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
	if err != nil {
		return notWritable(b.dir, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(like.Mode().Perm() | 0o100); err != nil {
		return fmt.Errorf("chmod %s: %w", path, err)
	}
	if st, ok := like.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
		_ = f.Chown(int(st.Uid), int(st.Gid))
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return f.Close()
}

// keepPrevious makes the installed binary the previous one: a hard link
// (a copy where links are not allowed), renamed over the last previous.
func (b binaryFiles) keepPrevious() error {
	if err := linkOrCopy(b.exe, b.previousTemp()); err != nil {
		return err
	}
	return os.Rename(b.previousTemp(), b.previous())
}

// swapIn renames the new binary over the installed one and makes the
// directory's new entries durable.
func (b binaryFiles) swapIn() error {
	if err := os.Rename(b.newTemp(), b.exe); err != nil {
		return notWritable(b.dir, err)
	}
	return syncDir(b.dir)
}

func linkOrCopy(from, to string) error {
	err := os.Link(from, to)
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EROFS) {
		return notWritable(filepath.Dir(to), err)
	}
	// Some file systems (and hardened kernels, for files of another user)
	// refuse hard links: copy instead.
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return err
	}
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, st.Mode().Perm())
	if err != nil {
		return notWritable(filepath.Dir(to), err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(to)
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(to)
		return err
	}
	return dst.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
