package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
)

func filesStack(t *testing.T, extra string) (*itest.Project, *stackops.Stack) {
	t.Helper()
	// Volume "data" at /srv of service "files": what every hostile archive holds.
	p := itest.NewProject(t, itest.IdleVolumeService("files", extra), nil)
	p.Compose("up", "-d")
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: p.Dir, Environ: itest.BaseEnv()})
	if err != nil {
		t.Fatal(err)
	}
	dexec(t, p.ContainerID("files"), "cd /srv && echo live > live.txt && mkdir -p dir && echo x > dir/x && ln -s live.txt l")
	return p, st
}

func dexec(t *testing.T, container, script string) {
	t.Helper()
	if out, err := exec.Command("docker", "exec", container, "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("docker exec %s: %v\n%s", script, err, out)
	}
}

// unchanged fails the test if the volume, the container or the backups
// changed since before, or a helper container was left.
type stackState struct {
	files     map[string]string
	container string
	backups   int
}

func stateOf(t *testing.T, p *itest.Project, st *stackops.Stack) stackState {
	t.Helper()
	l, err := List(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	id := p.ContainerID("files")
	return stackState{files: itest.VolumeSnapshot(t, id, "/srv"), container: id, backups: len(l.Backups)}
}

func (s stackState) unchanged(t *testing.T, p *itest.Project, st *stackops.Stack, what string) {
	t.Helper()
	now := stateOf(t, p, st)
	if d := itest.SnapshotDiff(s.files, now.files); len(d) > 0 {
		t.Errorf("%s changed the volume:\n%s", what, strings.Join(d, "\n"))
	}
	if now.container != s.container || !itest.Inspect(t, now.container)["State"].(map[string]any)["Running"].(bool) {
		t.Errorf("%s touched the container", what)
	}
	if now.backups != s.backups {
		t.Errorf("%s wrote a backup (%d → %d)", what, s.backups, now.backups)
	}
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+labelHelperProject+"="+st.Name).Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("%s left helper containers: %s", what, out)
	}
}

func corpusPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(hostileFile(name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Each hostile archive is refused before anything changes: no file of the
// volume, no container, no safety backup, no helper left — and the consent
// is never even asked.
func TestIntegrationRestoreRefusesHostileArchives(t *testing.T) {
	itest.Require(t)
	p, st := filesStack(t, "")
	before := stateOf(t, p, st)
	for name, want := range map[string]string{
		"manifest-command": "x-stackpilot.backup.dumps[].restore",
		"sparse":           "is a sparse file: refused",
		"sparse-pib":       "is a sparse file: refused",
		"symlink-escape":   "is beneath the symlink",
		"hardlink-escape":  "not a clean path inside the volume",
		"hardlink-forward": "not a file of the volume restored before it",
		"device-char":      "is a device node: refused",
		"device-block":     "is a device node: refused",
		"dump-no-services": "must name exactly one service",
		"oversize":         "does not match its checksum",
		"absolute-name":    "escapes the volume",
		"dotdot-name":      "escapes the volume",
		"duplicate":        "appears twice",
		"outside-symlink":  "--allow-outside-links",
	} {
		asked := false
		_, err := Restore(context.Background(), st, RestoreOptions{Ref: corpusPath(t, name), Confirm: func(context.Context, stackops.Confirmation) (bool, error) {
			asked = true
			return true, nil
		}})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: restore said %v, want a refusal saying %q", name, err, want)
			continue
		}
		if strings.ContainsAny(err.Error(), "\x1b\r") {
			t.Errorf("%s: the refusal carries control characters: %q", name, err)
		}
		if asked {
			t.Errorf("%s: consent was asked for an archive that is refused", name)
		}
		before.unchanged(t, p, st, name)
		t.Logf("%s: %v", name, err)
	}
	if _, ok := itest.VolumeSnapshot(t, p.ContainerID("files"), "/srv")["pwned"]; ok {
		t.Error("the archive's restore command ran")
	}
}

// What a real volume may hold is restored by policy: setuid/setgid bits and
// capabilities removed unless KeepSpecialBits, outside symlinks only with
// AllowOutsideLinks, fifos as they are — and the confirmation lists them,
// every archive string escaped.
func TestIntegrationRestoreSpecialFiles(t *testing.T) {
	itest.Require(t)
	p, st := filesStack(t, `
x-stackpilot:
  backup:
    dumps:
      - {service: files, name: notes, dump: ["cat", "/srv/notes"], restore: ["sh", "-c", "cat > /srv/loaded"]}
`)
	restore := func(name string, opts RestoreOptions) (stackops.Confirmation, *RestoreResult, error) {
		t.Helper()
		var seen stackops.Confirmation
		opts.Ref, opts.NoSafetyBackup = corpusPath(t, name), true
		opts.Confirm = func(_ context.Context, c stackops.Confirmation) (bool, error) {
			seen = c
			return true, nil
		}
		res, err := Restore(context.Background(), st, opts)
		text := fmt.Sprintf("%+v", seen)
		if strings.ContainsAny(text, "\x1b\r\u202e\u009b\x07") {
			t.Errorf("%s: the confirmation carries control characters: %q", name, text)
		}
		return seen, res, err
	}
	entry := func(rel string) string { return itest.VolumeSnapshot(t, p.ContainerID("files"), "/srv")[rel] }

	c, res, err := restore("setuid-cap", RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	details := strings.Join(c.Details, "\n")
	for _, want := range []string{`2 setuid/setgid file(s), restored without those bits (--keep-special-bits keeps them): suid\r\x1b[2K, sgid`,
		"1 extended attribute(s) such as capabilities, left out (--keep-special-bits keeps them): capped (security.capability)"} {
		if !strings.Contains(details, want) {
			t.Errorf("the confirmation does not say %q:\n%s", want, details)
		}
	}
	if !strings.Contains(entry("suid\r\x1b[2K"), "mode=755 ") || !strings.Contains(entry("sgid"), "mode=755 ") || !strings.Contains(entry("capped"), "xattrs=[]") {
		t.Errorf("special bits not removed: suid %s, sgid %s, capped %s", entry("suid\r\x1b[2K"), entry("sgid"), entry("capped"))
	}
	if len(res.Volumes) != 1 || res.Volumes[0].Special == nil || res.Volumes[0].Special.SetID.Count != 2 {
		t.Errorf("result: %+v", res.Volumes)
	}
	if _, _, err = restore("setuid-cap", RestoreOptions{KeepSpecialBits: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(entry("suid\r\x1b[2K"), "mode=4755 ") || !strings.Contains(entry("sgid"), "mode=2755 ") || !strings.Contains(entry("capped"), "SCHILY.xattr.security.capability=") {
		t.Errorf("special bits not kept: suid %s, sgid %s, capped %s", entry("suid\r\x1b[2K"), entry("sgid"), entry("capped"))
	}

	c, _, err = restore("outside-symlink", RestoreOptions{AllowOutsideLinks: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := strings.Join(c.Details, "\n"); !strings.Contains(d, "3 symlink(s) pointing outside the volume, restored (--allow-outside-links): shadow -> /etc/shadow, d/up -> ../../etc/passwd, chain -> d/self/../etc") {
		t.Errorf("the confirmation does not list the outside links:\n%s", d)
	}
	if !strings.Contains(entry("shadow"), `link="/etc/shadow"`) || !strings.Contains(entry("abs-inside"), `link="/srv/d"`) {
		t.Errorf("links not restored: %s, %s", entry("shadow"), entry("abs-inside"))
	}

	c, _, err = restore("fifo", RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(entry("pipe"), "type=6") || !strings.Contains(strings.Join(c.Details, "\n"), "1 fifo(s): pipe") {
		t.Errorf("fifo: %s\n%s", entry("pipe"), strings.Join(c.Details, "\n"))
	}

	// The dump is loaded with the compose file's command, never the archive's.
	c, res, err = restore("manifest-command", RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d := strings.Join(c.Details, "\n"); !strings.Contains(d, "sh -c 'cat > /srv/loaded'") || strings.Contains(d, "wget") {
		t.Errorf("the confirmation does not show the compose file's restore command:\n%s", d)
	}
	if !strings.Contains(entry("loaded"), "size=5 ") || entry("pwned") != "" || len(res.Dumps) != 1 {
		t.Errorf("dump: loaded %q, pwned %q, result %+v", entry("loaded"), entry("pwned"), res.Dumps)
	}

	// Strings of the header reach the confirmation escaped.
	var seen stackops.Confirmation
	_, err = Restore(context.Background(), st, RestoreOptions{Ref: corpusPath(t, "control-chars"), Confirm: func(_ context.Context, c stackops.Confirmation) (bool, error) {
		seen = c
		return false, nil
	}})
	if !errors.Is(err, stackops.ErrNotConfirmed) {
		t.Fatalf("control-chars: %v", err)
	}
	text := fmt.Sprintf("%+v", seen)
	if !strings.Contains(text, `hostile\x1b]0;owned\x07\r\x1b[2K`) || strings.ContainsAny(text, "\x1b\r\u202e\x07") {
		t.Errorf("the confirmation of control-chars: %q", text)
	}
}

// Restore restores the file that was verified, through one handle: a file
// rewritten in place or renamed over between the passes is refused before
// anything changes; one rewritten during the pass fails its checksum before
// the volume counts as restored (even with NoReadBack), and is rolled back.
func TestIntegrationRestoreWhatWasVerified(t *testing.T) {
	itest.Require(t)
	p, st := filesStack(t, "")
	id := p.ContainerID("files")
	dexec(t, id, "echo A > /srv/state")
	// Random bytes: zstd stores them as they are, so a byte changed in the
	// file changes the volume's content and nothing else.
	random := make([]byte, 256<<10)
	_, _ = rand.Read(random)
	put := exec.Command("docker", "exec", "-i", id, "sh", "-c", "cat > /srv/random.bin")
	put.Stdin = bytes.NewReader(random)
	if out, err := put.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	x, err := Create(context.Background(), st, CreateOptions{Tag: "a"})
	if err != nil {
		t.Fatal(err)
	}
	dexec(t, id, "echo B > /srv/state")
	y, err := Create(context.Background(), st, CreateOptions{Tag: "b"})
	if err != nil {
		t.Fatal(err)
	}
	xBytes, _ := os.ReadFile(x.Backup.Path)
	yBytes, _ := os.ReadFile(y.Backup.Path)
	dexec(t, id, "echo C > /srv/state")
	state := func() string {
		out, err := exec.Command("docker", "exec", p.ContainerID("files"), "cat", "/srv/state").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}

	// Rewritten in place while the consent is asked: refused, nothing changed.
	before := stateOf(t, p, st)
	_, err = Restore(context.Background(), st, RestoreOptions{Ref: x.Backup.Path, NoSafetyBackup: true, Confirm: func(context.Context, stackops.Confirmation) (bool, error) {
		return true, os.WriteFile(x.Backup.Path, yBytes, 0o600)
	}})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "changed since it was verified") {
		t.Fatalf("rewritten in place: %v", err)
	}
	before.unchanged(t, p, st, "a restore of a file rewritten in place")
	if err := os.WriteFile(x.Backup.Path, xBytes, 0o600); err != nil {
		t.Fatal(err)
	}

	// Another file renamed over it: refused too (the verified bytes are
	// still in the open handle, but a file someone replaced is not restored).
	other := filepath.Join(t.TempDir(), "y.tar.zst")
	if err := os.WriteFile(other, yBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Restore(context.Background(), st, RestoreOptions{Ref: x.Backup.Path, NoSafetyBackup: true, Confirm: func(context.Context, stackops.Confirmation) (bool, error) {
		return true, os.Rename(other, x.Backup.Path)
	}})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "changed since it was verified") {
		t.Fatalf("renamed over: %v", err)
	}
	before.unchanged(t, p, st, "a restore of a file renamed over")
	if err := os.WriteFile(x.Backup.Path, xBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	// Untouched, it restores (the refusals were about the change).
	if _, err := Restore(context.Background(), st, RestoreOptions{Ref: x.Backup.Path, NoSafetyBackup: true, Confirm: stackops.AlwaysConfirm}); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != "A" {
		t.Fatalf("after restoring backup a the volume holds %q", s)
	}

	// Rewritten during the pass, without read-back: the checksum fails
	// before the volume counts as restored, and it is rolled back.
	dexec(t, p.ContainerID("files"), "echo C > /srv/state")
	at := bytes.Index(xBytes, random[100<<10:100<<10+64])
	if at < 0 {
		t.Fatal("the random file's bytes are not stored as they are")
	}
	testBeforeRestorePass = func() {
		f, err := os.OpenFile(x.Backup.Path, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		// Same length, same inode: one byte of the volume's content changed.
		if _, err := f.WriteAt([]byte{xBytes[at+10] ^ 0xff}, int64(at+10)); err != nil {
			t.Error(err)
		}
	}
	defer func() { testBeforeRestorePass = nil }()
	_, err = Restore(context.Background(), st, RestoreOptions{Ref: x.Backup.Path, NoReadBack: true, Confirm: stackops.AlwaysConfirm})
	testBeforeRestorePass = nil
	if err == nil || !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "differs from what was verified") || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("rewritten during the pass: %v, want a damaged entry and a rollback", err)
	}
	if s := state(); s != "C" {
		t.Fatalf("after a failed restore the volume holds %q, want C (rolled back)", s)
	}
}

// What `backup create` makes of a real volume holding symlinks (inside,
// absolute into the volume, outside), hard links, a fifo, setuid/setgid
// files, a capability and a device node: the device is left out with a
// warning, the outside link is warned about, and the archive restores the
// volume exactly with the flags that keep what it holds — and by policy
// without them.
func TestIntegrationCreateRestoreRealVolume(t *testing.T) {
	itest.Require(t)
	p, st := filesStack(t, "")
	id := p.ContainerID("files")
	dexec(t, id, `set -e; cd /srv
mkdir -p sub/deeper shared && chmod 2775 shared
printf 'hello\n' > sub/a.txt
ln -s sub/a.txt rel-link; ln -s /srv/sub abs-inside; ln -s /etc/passwd outside; ln -s ../sub/a.txt shared/up-inside
ln sub/a.txt hard-a
mkfifo pipe
printf '#!/bin/sh\nid\n' > suid.sh && chmod 4755 suid.sh
printf 'g' > sgid.bin && chmod 2755 sgid.bin
mknod null c 1 3
chown 1234:5678 sub/a.txt`)
	// A capability, set the way the engine sets one: from an archive.
	var capTar bytes.Buffer
	tw := tar.NewWriter(&capTar)
	_ = tw.WriteHeader(&tar.Header{Name: "capped", Typeflag: tar.TypeReg, Mode: 0o755, Size: 3, Format: tar.FormatPAX,
		PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}})
	_, _ = tw.Write([]byte("cap"))
	_ = tw.Close()
	cp := exec.Command("docker", "cp", "-", id+":/srv")
	cp.Stdin = &capTar
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("docker cp: %v\n%s", err, out)
	}
	before := itest.VolumeSnapshot(t, id, "/srv")
	if !strings.Contains(before["capped"], "security.capability") || !strings.HasPrefix(before["null"], "type=3") || !strings.HasPrefix(before["pipe"], "type=6") {
		t.Fatalf("setup: capped %s, null %s, pipe %s", before["capped"], before["null"], before["pipe"])
	}
	res, err := Create(context.Background(), st, CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	warnings := strings.Join(res.Warnings, "\n")
	if !strings.Contains(warnings, "1 device node(s) not backed up (null)") || !strings.Contains(warnings, "1 symlink(s) point outside the volume (outside -> /etc/passwd)") {
		t.Errorf("create warnings:\n%s", warnings)
	}
	if _, err := VerifyArchiveFile(context.Background(), res.Backup.Path, ""); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for k, v := range before {
		if k != "null" {
			want[k] = v
		}
	}
	mutate := func() {
		dexec(t, p.ContainerID("files"), "cd /srv && rm -rf sub pipe && echo new > new.txt && chmod 644 suid.sh")
	}
	restore := func(opts RestoreOptions) error {
		opts.Ref, opts.NoSafetyBackup, opts.Confirm = res.Backup.Path, true, stackops.AlwaysConfirm
		_, err := Restore(context.Background(), st, opts)
		return err
	}

	// Refused without --allow-outside-links, before anything changes.
	mutate()
	mutated := stateOf(t, p, st)
	if err := restore(RestoreOptions{}); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "outside -> /etc/passwd") {
		t.Fatalf("restore without --allow-outside-links: %v", err)
	}
	mutated.unchanged(t, p, st, "a refused restore")

	// Exactly, with both flags.
	if err := restore(RestoreOptions{KeepSpecialBits: true, AllowOutsideLinks: true}); err != nil {
		t.Fatal(err)
	}
	if d := itest.SnapshotDiff(want, itest.VolumeSnapshot(t, p.ContainerID("files"), "/srv")); len(d) > 0 {
		t.Errorf("restored with --keep-special-bits --allow-outside-links, the volume differs:\n%s", strings.Join(d, "\n"))
	}

	// By policy: setuid/setgid bits off regular files, no capability; all else the same.
	mutate()
	if err := restore(RestoreOptions{AllowOutsideLinks: true}); err != nil {
		t.Fatal(err)
	}
	policy := map[string]string{}
	for k, v := range want {
		policy[k] = v
	}
	policy["suid.sh"] = strings.Replace(want["suid.sh"], "mode=4755 ", "mode=755 ", 1)
	policy["sgid.bin"] = strings.Replace(want["sgid.bin"], "mode=2755 ", "mode=755 ", 1)
	policy["capped"] = want["capped"][:strings.Index(want["capped"], "xattrs=")] + "xattrs=[]"
	if d := itest.SnapshotDiff(policy, itest.VolumeSnapshot(t, p.ContainerID("files"), "/srv")); len(d) > 0 {
		t.Errorf("restored by policy, the volume differs:\n%s", strings.Join(d, "\n"))
	}
}
