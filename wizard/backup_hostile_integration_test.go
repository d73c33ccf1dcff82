package wizard_test

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

func hostileArchive(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(itest.RepoRoot(), "stackops", "backup", "testdata", "hostile", "hostile_"+name+".tar.zst")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// noRawControl fails when output carries a control character an archive
// put there (the escapes of stackpilot's own colors are off without a terminal).
func noRawControl(t *testing.T, what, out string) {
	t.Helper()
	if i := strings.IndexAny(out, "\x1b\r\x07\u009b\u202e"); i >= 0 {
		t.Errorf("%s carries a raw control character at %d: %q", what, i, out)
	}
}

// What an archive says reaches the terminal and --json escaped, from the
// commands a person runs on a copy brought from elsewhere.
func TestIntegrationBackupHostileOutput(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, itest.IdleVolumeService("files", ""), nil)
	cc := hostileArchive(t, "control-chars")
	r := p.Run("backup", "verify", cc)
	if r.Code != 0 || !strings.Contains(r.Combined(), `20260102-030405\x1b[8m`) {
		t.Fatalf("verify: exit %d\n%q", r.Code, r.Combined())
	}
	noRawControl(t, "verify", r.Combined())
	r = p.Run("backup", "verify", cc, "--json")
	var v struct {
		Backup struct {
			ID, Tag, Host, Project string
		}
		OK bool
	}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &v) != nil || !v.OK {
		t.Fatalf("verify --json: exit %d\n%s", r.Code, r.Combined())
	}
	// The JSON carries the escaped text, not a JSON-escaped ESC that jq -r would print raw.
	if strings.Contains(r.Stdout, `\u001b`) || v.Backup.Tag != `ok\r\x1b[2K\x1b]0;owned\x07` || v.Backup.Host != `host\u202egnp.exe` {
		t.Errorf("verify --json: %q\n%s", v.Backup, r.Stdout)
	}
	noRawControl(t, "verify --json", r.Combined())

	// A file named with escapes in the backup directory, not an archive.
	if err := os.MkdirAll(filepath.Join(p.Dir, "backups"), 0o700); err != nil {
		t.Fatal(err)
	}
	p.WriteFile("backups/evil\x1b[2J\x1b[H.tar.zst", "not an archive")
	r = p.Run("backup", "list")
	if r.Code != 0 || !strings.Contains(r.Combined(), `evil\x1b[2J\x1b[H.tar.zst`) {
		t.Errorf("list: exit %d\n%q", r.Code, r.Combined())
	}
	noRawControl(t, "list", r.Combined())
	r = p.Run("backup", "list", "--json")
	var l struct {
		Unreadable []struct{ File, Error string }
	}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &l) != nil || len(l.Unreadable) != 1 || l.Unreadable[0].File != `evil\x1b[2J\x1b[H.tar.zst` {
		t.Errorf("list --json: exit %d\n%s", r.Code, r.Combined())
	}
	noRawControl(t, "list --json", r.Combined())

	// The restore command recorded in the archive is never run: refused,
	// naming the key to set.
	p.Compose("up", "-d")
	r = p.Run("backup", "restore", hostileArchive(t, "manifest-command"), "--yes")
	if r.Code != 1 || !strings.Contains(r.Stderr, "x-stackpilot.backup.dumps[].restore") {
		t.Fatalf("restore of a dump with no restore command in the compose file: exit %d\n%s", r.Code, r.Combined())
	}
	noRawControl(t, "restore", r.Combined())
	if out, _ := exec.Command("docker", "exec", p.ContainerID("files"), "ls", "/srv").Output(); strings.Contains(string(out), "pwned") {
		t.Error("the archive's command ran")
	}
	// Damaged archives are named with the entry, escaped.
	r = p.Run("backup", "verify", hostileArchive(t, "symlink-escape"))
	if r.Code != 1 || !strings.Contains(r.Stderr, "beneath the symlink") {
		t.Fatalf("verify symlink-escape: exit %d\n%s", r.Code, r.Combined())
	}
}

// Ctrl-C stops a verify of an archive that decompresses to gigabytes
// without reading the file (a 256 KiB file holding 8 GiB of zeros) within
// 100 ms, with exit status 130; the sparse one is refused in well under a
// second, the whole command included.
func TestIntegrationBackupVerifyInterrupted(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, `
services:
  files:
    image: stackpilot-busybox:latest
    command: ["sleep", "1000"]
`, nil)
	start := time.Now()
	r := p.Run("backup", "verify", hostileArchive(t, "sparse-pib"))
	took := time.Since(start)
	if r.Code != 1 || !strings.Contains(r.Stderr, "sparse file: refused") {
		t.Fatalf("verify of a sparse archive: exit %d\n%s", r.Code, r.Combined())
	}
	t.Logf("sparse (1 PiB of holes): refused by the command in %s", took.Round(time.Millisecond))
	if took > 5*time.Second { // process start and the stack's load included
		t.Errorf("the sparse archive took %s to refuse", took)
	}

	bomb := hostileArchive(t, "bomb")
	var worst time.Duration
	for i := 0; i < 3; i++ {
		cmd := exec.Command(itest.Binary(t), "backup", "verify", bomb)
		cmd.Dir, cmd.Env = p.Dir, itest.BaseEnv()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		time.Sleep(1500 * time.Millisecond) // the stack is loaded and the archive being read
		select {
		case err := <-done:
			t.Fatalf("verify of the bomb ended before the interrupt: %v\n%s", err, stderr.String())
		default:
		}
		sent := time.Now()
		_ = cmd.Process.Signal(syscall.SIGINT)
		err := <-done
		late := time.Since(sent)
		worst = max(worst, late)
		code := -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 130 {
			t.Fatalf("interrupted verify: exit %d (%v), want 130\n%s", code, err, stderr.String())
		}
		t.Logf("interrupt %d: the process exited %s after SIGINT", i+1, late.Round(time.Microsecond))
	}
	if worst > 100*time.Millisecond {
		t.Errorf("an interrupted verify took up to %s to exit, want ≤ 100 ms", worst)
	}
}
