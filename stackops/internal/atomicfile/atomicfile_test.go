package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// temps lists the temporary files left in dir.
func temps(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".*.stackpilot-*.tmp"))
	return m
}

func TestWriteNewFileGetsTheModeAsked(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "new.json")
	var steps []string
	if err := Write(p, []byte("hello\n"), Options{Mode: 0o640, Step: func(s string) { steps = append(steps, s) }}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "hello\n" {
		t.Errorf("content %q", got)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if got := strings.Join(steps, " "); got != "temp-created temp-written temp-synced renamed dir-synced" {
		t.Errorf("steps: %s", got)
	}
	if l := temps(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}
	// the default for a new file is private
	q := filepath.Join(dir, "default")
	if err := Write(q, nil, Options{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(q); fi.Mode().Perm() != 0o600 {
		t.Errorf("default mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestWriteKeepsModeAndOwner(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ".env")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o604) // not what a umask would give
	owned := os.Geteuid() == 0
	if owned {
		if err := os.Chown(p, 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	if err := Write(p, []byte("new"), Options{Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, p); got != "new" {
		t.Errorf("content %q", got)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o604 {
		t.Errorf("mode %v, want the old 0604", fi.Mode().Perm())
	}
	if owned {
		st := fi.Sys().(*syscall.Stat_t)
		if st.Uid != 1234 || st.Gid != 5678 {
			t.Errorf("owner %d:%d, want the old 1234:5678", st.Uid, st.Gid)
		}
	} else {
		t.Log("not root: the owner part needs root to give a file away")
	}
}

// A check before the rename that fails, or a write that fails, leaves the
// target as it was, no temporary file, and says why.
func TestFailedWriteLeavesTheTargetAndNoTemp(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	os.WriteFile(p, []byte("old"), 0o600)
	changed := errors.New("changed under us")
	err := Write(p, []byte("new"), Options{BeforeRename: func() error { return changed }})
	if !errors.Is(err, changed) {
		t.Errorf("error %v, want the check's", err)
	}
	if got := readFile(t, p); got != "old" {
		t.Errorf("content %q after a refused write", got)
	}
	if l := temps(t, dir); len(l) != 0 {
		t.Errorf("temporary files left: %v", l)
	}

	w, err := Create(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tmp := w.Name()
	w.f.Close() // the next write fails
	if _, err := w.Write([]byte("x")); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("write to a closed file: %v", err)
	}
	w.Abort()
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Abort left %s", tmp)
	}
	if got := readFile(t, p); got != "old" {
		t.Errorf("content %q after an aborted write", got)
	}

	// a directory that is not there
	if err := Write(filepath.Join(dir, "missing", "f"), []byte("x"), Options{}); err == nil {
		t.Error("a write into a missing directory succeeded")
	}
}

func TestRemoveTempsRemovesOnlyLeftovers(t *testing.T) {
	dir := t.TempDir()
	w, err := Create(filepath.Join(dir, ".env"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.f.Close() // a writer killed mid-write
	other, _ := Create(filepath.Join(dir, "other"), Options{})
	other.f.Close()
	os.WriteFile(filepath.Join(dir, ".env"), []byte("A=1\n"), 0o600)
	RemoveTemps(dir, ".env")
	if _, err := os.Stat(w.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("leftover %s kept", w.Name())
	}
	if _, err := os.Stat(other.Name()); err != nil {
		t.Errorf("another file's temporary was removed: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, ".env")); got != "A=1\n" {
		t.Errorf("the target was touched: %q", got)
	}
}

// A symlink planted at the temporary file's name (in a directory others can
// write to) is never followed: its target keeps its content, the write goes
// to another name and lands in place.
func TestCreateNeverFollowsAPlantedSymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "backup.tar.zst")
	names := []string{"planted", "planted", "fresh"}
	orig := tempSuffix
	t.Cleanup(func() { tempSuffix = orig })
	tempSuffix = func() string {
		n := names[0]
		names = names[1:]
		return n
	}
	prefix, suffix, _ := strings.Cut(tempPattern(filepath.Base(target)), "*")
	if err := os.Symlink(victim, filepath.Join(dir, prefix+"planted"+suffix)); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("archive"), Options{Mode: 0o600}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the planted symlink's target was written: %q", b)
	}
	if b, _ := os.ReadFile(target); string(b) != "archive" {
		t.Fatalf("target holds %q", b)
	}
	if len(names) != 0 {
		t.Fatalf("names left unused: %v (the planted name was not retried past)", names)
	}
	// A dangling symlink at the name is not followed either (O_EXCL alone
	// would create its target).
	names = []string{"dangling", "fresh2"}
	dangling := filepath.Join(t.TempDir(), "created-through-link")
	if err := os.Symlink(dangling, filepath.Join(dir, prefix+"dangling"+suffix)); err != nil {
		t.Fatal(err)
	}
	if err := Write(target, []byte("again"), Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(dangling); !os.IsNotExist(err) {
		t.Fatalf("a file was created through the dangling symlink: %v", err)
	}
}
