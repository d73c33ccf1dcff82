package stackops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
)

// LockHolder says who holds a lock. The holder writes it beside the lock
// file, in HolderFile(lock), whole (atomicfile): the lock file itself is the
// flock's inode and is never replaced.
type LockHolder struct {
	User    string    `json:"user"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Op      string    `json:"op"`
	Since   time.Time `json:"since"`
}

func (h LockHolder) String() string {
	return fmt.Sprintf("%s by %s@%s (pid %d, %q) since %s", h.Op, h.User, h.Host, h.PID, h.Command, h.Since.Local().Format("2006-01-02 15:04:05"))
}

// LockedError is ErrLocked with the holder's identity.
type LockedError struct {
	Path   string
	Holder *LockHolder // nil when the holder wrote nothing (yet)
}

func (e *LockedError) Error() string {
	if e.Holder == nil {
		return fmt.Sprintf("the stack is locked by another stackpilot (%s) — wait for it to finish, or pass --lock-wait", e.Path)
	}
	return fmt.Sprintf("the stack is locked: %s — wait for it to finish, or pass --lock-wait 5m", e.Holder)
}

// Is matches ErrLocked.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// FileLock is an exclusive flock on a persistent sidecar file. The kernel
// releases it when the holder exits, however it exits, so a killed holder
// never leaves a stale lock; the file itself stays (deleting it would let two
// processes lock two different inodes).
type FileLock struct {
	f    *os.File
	path string
}

// AcquireFileLock takes an exclusive lock on path, creating it 0600. With
// wait 0 it fails at once with a *LockedError; otherwise it retries until
// wait has passed or ctx ends. op describes the holder's job ("deploy").
func AcquireFileLock(ctx context.Context, path, op string, wait time.Duration) (*FileLock, error) {
	return AcquireFileLockWith(ctx, path, op, FileLockOptions{Wait: wait})
}

// FileLockOptions tune AcquireFileLockWith.
type FileLockOptions struct {
	// Wait is how long to retry while another process holds the lock;
	// 0 or less fails at once.
	Wait time.Duration
	// Poll is the pause before retry n (counted from 0); 100ms when nil.
	Poll func(n int) time.Duration
	// Command is the holder's command line as recorded in the lock file;
	// this process's arguments (values of KEY=VALUE left out) when empty.
	Command string
}

// AcquireFileLockWith is AcquireFileLock with the retry pace and the
// recorded command chosen by the caller. It fails with a *LockedError when
// the lock is still held at the end of the wait.
func AcquireFileLockWith(ctx context.Context, path, op string, o FileLockOptions) (*FileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	deadline := time.Now().Add(o.Wait)
	for n := 0; ; n++ {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if o.Wait <= 0 || time.Now().After(deadline) {
			holder := readLockHolder(path)
			f.Close()
			return nil, &LockedError{Path: path, Holder: holder}
		}
		pause := 100 * time.Millisecond
		if o.Poll != nil {
			pause = o.Poll(n)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, context.Cause(ctx)
		case <-time.After(pause):
		}
	}
	l := &FileLock{f: f, path: path}
	command := o.Command
	if command == "" {
		command = commandLine(os.Args)
	}
	l.writeHolder(op, command)
	return l, nil
}

// HolderFile is where the holder of the lock at path records who it is.
func HolderFile(path string) string { return path + ".holder" }

// writeHolder records who holds the lock. A record that cannot be written
// leaves the lock held but anonymous (waiters say "another stackpilot").
func (l *FileLock) writeHolder(op, command string) {
	h := LockHolder{PID: os.Getpid(), Op: op, Since: time.Now().UTC(), Command: command}
	if u, err := user.Current(); err == nil {
		h.User = u.Username
	}
	h.Host, _ = os.Hostname()
	b, _ := json.Marshal(h)
	_ = atomicfile.Write(HolderFile(l.path), append(b, '\n'), atomicfile.Options{Mode: 0o600})
}

func readLockHolder(path string) *LockHolder {
	b, err := os.ReadFile(HolderFile(path))
	if err != nil || len(b) == 0 {
		return nil
	}
	var h LockHolder
	if json.Unmarshal(b, &h) != nil || h.PID == 0 {
		return nil
	}
	return &h
}

// Release unlocks. The holder record is removed first so a later reader does
// not mistake it for a live holder.
func (l *FileLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = os.Remove(HolderFile(l.path))
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	cerr := l.f.Close()
	l.f = nil
	if err != nil {
		return err
	}
	return cerr
}

// LockStack takes the stack lock that keeps deploys, restores and other
// state-changing operations from interleaving. It lives in .stackpilot/stack.lock.
func (s *Stack) LockStack(ctx context.Context, op string, wait time.Duration) (*FileLock, error) {
	dir, err := s.StateDir()
	if err != nil {
		return nil, err
	}
	return AcquireFileLock(ctx, filepath.Join(dir, "stack.lock"), op, wait)
}

// commandLine is argv as recorded for other processes to read in a lock
// file: the values of KEY=VALUE arguments (env set) are left out, since
// they may be secrets and the lock file outlives the command.
func commandLine(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if k, _, ok := strings.Cut(a, "="); ok && i > 0 && !strings.HasPrefix(a, "-") {
			a = k + "=…"
		}
		out[i] = a
	}
	if len(out) > 0 {
		out[0] = filepath.Base(out[0])
	}
	return strings.Join(out, " ")
}
