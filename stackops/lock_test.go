package stackops

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFileLockExcludesAndNamesHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stack.lock")
	l1, err := AcquireFileLock(context.Background(), path, "deploy", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = AcquireFileLock(context.Background(), path, "restore", 0)
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	if le.Holder == nil || le.Holder.PID != os.Getpid() || le.Holder.Op != "deploy" || !strings.Contains(err.Error(), "deploy by") {
		t.Fatalf("holder %+v / %v", le.Holder, err)
	}
	// --lock-wait: the waiter gets the lock once it is released.
	go func() {
		time.Sleep(300 * time.Millisecond)
		l1.Release()
	}()
	l2, err := AcquireFileLock(context.Background(), path, "restore", 5*time.Second)
	if err != nil {
		t.Fatalf("waiting lock: %v", err)
	}
	l2.Release()
}

// A holder killed with SIGKILL leaves no stale lock: the kernel drops the flock.
func TestFileLockReleasedWhenHolderIsKilled(t *testing.T) {
	if _, err := exec.LookPath("flock"); err != nil {
		t.Fatal("flock(1) not found: install util-linux (it holds the lock from another process, the only way to test a SIGKILLed holder)")
	}
	path := filepath.Join(t.TempDir(), "stack.lock")
	os.WriteFile(path, nil, 0o600)
	cmd := exec.Command("flock", "-o", path, "sleep", "30") // -o: the lock stays with flock itself, not sleep
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := AcquireFileLock(context.Background(), path, "probe", 0)
		if err != nil {
			break // held by the child now
		}
		l.Release()
		if time.Now().After(deadline) {
			t.Fatal("child never took the lock")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := AcquireFileLock(context.Background(), path, "deploy", 0)
	if err != nil {
		t.Fatalf("lock after the holder was killed: %v", err)
	}
	l.Release()
}

// A lock file names the command that holds it, never a value given on it.
func TestCommandLineLeavesOutValues(t *testing.T) {
	got := commandLine([]string{"/usr/local/bin/stackpilot", "env", "set", "DB_PASSWORD=hunter2", "A=b=c", "--since=10m", "-C", "/srv/app"})
	want := "stackpilot env set DB_PASSWORD=… A=… --since=10m -C /srv/app"
	if got != want {
		t.Fatalf("commandLine = %q, want %q", got, want)
	}
}
