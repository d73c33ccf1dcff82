package wizard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops/backup"
)

// Demo images under a tag of this test's own, built once per test process
// from examples/demo (FROM scratch + the demo binary).
const demoTag = "stackpilot-demo-bktest"

var (
	demoOnce sync.Once
	demoErr  error
)

func buildDemoImages(t *testing.T) {
	t.Helper()
	demoOnce.Do(func() {
		ctx := t.TempDir()
		root := itest.RepoRoot()
		build := exec.Command("go", "build", "-o", filepath.Join(ctx, "bin", "demoapp"), "./examples/demo/app")
		build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
		if out, err := build.CombinedOutput(); err != nil {
			demoErr = fmt.Errorf("build demoapp: %v\n%s", err, out)
			return
		}
		df, err := os.ReadFile(filepath.Join(root, "examples", "demo", "Dockerfile"))
		if err != nil {
			demoErr = err
			return
		}
		_ = os.WriteFile(filepath.Join(ctx, "Dockerfile"), df, 0o644)
		for _, target := range []string{"db", "api", "web"} {
			cmd := exec.Command("docker", "build", "-q", "--target", target, "-t", demoTag+"/"+target+":latest", ctx)
			cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				demoErr = fmt.Errorf("docker build %s: %v\n%s", target, err, out)
				return
			}
		}
	})
	if demoErr != nil {
		t.Fatal(demoErr)
	}
}

// demoProject is examples/demo/compose.yaml (with its x-stackpilot.backup
// block) on free ports, plus a busybox "files" service whose volume holds
// files with modes, owners, symlinks, hard links and empty directories.
func demoProject(t *testing.T) (*itest.Project, int) {
	t.Helper()
	buildDemoImages(t)
	b, err := os.ReadFile(filepath.Join(itest.RepoRoot(), "examples", "demo", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	compose := strings.ReplaceAll(string(b), "image: stackpilot-demo/", "image: "+demoTag+"/")
	files := `  files:
    image: stackpilot-busybox:latest
    {{idle}}
    {{healthy}}
    volumes:
      - files-data:/srv

volumes:
  files-data:
`
	if !strings.Contains(compose, "\nvolumes:\n") {
		t.Fatal("examples/demo/compose.yaml has no top-level volumes: block")
	}
	compose = strings.Replace(compose, "\nvolumes:\n", "\n"+files, 1)
	apiPort := itest.FreePort(t)
	env := fmt.Sprintf("WEB_PORT=%d\nAPI_PORT=%d\nDB_PORT=%d\nDB_PASSWORD=test-pw\n", itest.FreePort(t), apiPort, itest.FreePort(t))
	p := itest.NewProject(t, compose, map[string]string{".env": env})
	return p, apiPort
}

func waitUp(t *testing.T, p *itest.Project) {
	t.Helper()
	itest.Eventually(t, 90*time.Second, "every service up and healthy", func() bool {
		return p.Run("status", "--no-probes").Code == 0
	})
}

func addNote(t *testing.T, apiPort int, text string) {
	t.Helper()
	resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/api/notes", apiPort), "text/plain", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("add note: %s", resp.Status)
	}
}

func sh(t *testing.T, container, script string) {
	t.Helper()
	if out, err := exec.Command("docker", "exec", container, "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("docker exec %s: %v\n%s", script, err, out)
	}
}

func dbDump(t *testing.T, p *itest.Project) string {
	t.Helper()
	out, err := exec.Command("docker", "exec", p.ContainerID("db"), "/demoapp", "db-dump").Output()
	if err != nil {
		t.Fatalf("db-dump: %v", err)
	}
	return string(out)
}

// snapshot describes every entry of a directory in a container (itest.VolumeSnapshot).
func snapshot(t *testing.T, container, dir string) map[string]string {
	t.Helper()
	return itest.VolumeSnapshot(t, container, dir)
}

func withoutTimes(snap map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range snap {
		if i := strings.Index(v, " mtime="); i >= 0 {
			j := strings.Index(v[i+1:], " ")
			v = v[:i] + v[i+1+j:]
		}
		out[k] = v
	}
	return out
}

func diffSnapshots(a, b map[string]string) []string { return itest.SnapshotDiff(a, b) }

type listJSON struct {
	Dir     string `json:"dir"`
	Backups []struct {
		ID        string   `json:"id"`
		Path      string   `json:"path"`
		Tag       string   `json:"tag"`
		Size      int64    `json:"size"`
		Volumes   []string `json:"volumes"`
		Dumps     []string `json:"dumps"`
		Encrypted bool     `json:"encrypted"`
		Verified  *struct {
			OK bool `json:"ok"`
		} `json:"verified"`
	} `json:"backups"`
}

func backupList(t *testing.T, p *itest.Project) listJSON {
	t.Helper()
	res := p.Run("backup", "list", "--json")
	var l listJSON
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &l) != nil {
		t.Fatalf("backup list --json: exit %d\n%s", res.Code, res.Combined())
	}
	return l
}

func createBackup(t *testing.T, p *itest.Project, args ...string) string {
	t.Helper()
	res := p.Run(append([]string{"backup", "create", "--json"}, args...)...)
	var out struct {
		Backup struct {
			ID   string `json:"id"`
			Path string `json:"path"`
		} `json:"backup"`
	}
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &out) != nil || out.Backup.ID == "" {
		t.Fatalf("backup create: exit %d\n%s", res.Code, res.Combined())
	}
	return out.Backup.Path
}

// helperContainers lists the project's helper containers left behind (the
// daemon is shared: other projects' backups may have theirs running now).
// helperContainers lists the project's helper containers still there after
// up to 10 s: a helper killed with its stackpilot is removed by the engine
// (auto-remove) or by the next command, and on a loaded machine the engine
// finishes that removal a moment after the command returned.
func helperContainers(t *testing.T, p *itest.Project) string {
	t.Helper()
	var left string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.stackpilot.helper", "--filter", "label=io.stackpilot.project="+p.Name).Output()
		if left = strings.TrimSpace(string(out)); left == "" || time.Now().After(deadline) {
			return left
		}
	}
}

const filesSetup = `set -e
cd /srv
mkdir -p docs/empty sub/deeper
chmod 700 docs/empty
printf 'hello\n' > docs/a.txt && chmod 640 docs/a.txt
printf '#!/bin/sh\necho hi\n' > run.sh && chmod 4755 run.sh
ln -s docs/a.txt link-to-a
ln -s /nowhere dangling
ln docs/a.txt hard-a
head -c 300000 /dev/urandom > sub/deeper/random.bin
printf 'owned' > owned.txt && chown 1234:5678 owned.txt
touch -d '2020-01-02 03:04:05' docs/a.txt
`

const filesMutate = `set -e
cd /srv
rm docs/a.txt
printf 'changed' > owned.txt
echo new > new-top.txt
mkdir new-dir && echo x > new-dir/f
rm -r docs/empty
chmod 600 run.sh
rm link-to-a && ln -s run.sh link-to-a
echo more >> sub/deeper/random.bin
`

// Round trip: known files (modes, owners, symlinks, hard links, empty dirs)
// and the demo db's notes are backed up, changed and deleted, restored, and
// come back exactly — files created since are gone.
func TestIntegrationBackupRoundTrip(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	p, apiPort := demoProject(t)
	p.Compose("up", "-d")
	waitUp(t, p)
	for _, n := range []string{"first", "second", "third"} {
		addNote(t, apiPort, "note "+n)
	}
	sh(t, p.ContainerID("files"), filesSetup)
	beforeFiles := snapshot(t, p.ContainerID("files"), "/srv")
	// The demo's dump is loaded after its volume is restored: db-load rewrites
	// the note files, so their times are the load's; content, modes and
	// owners must match.
	beforeDB := withoutTimes(snapshot(t, p.ContainerID("db"), "/data"))
	beforeDump := dbDump(t, p)
	if strings.Count(beforeDump, "\n") != 3 || len(beforeFiles) < 10 {
		t.Fatalf("setup: %d notes, %d files", strings.Count(beforeDump, "\n"), len(beforeFiles))
	}

	path := createBackup(t, p, "--tag", "before")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("archive %s: %v %v (want mode 0600)", path, err, fi)
	}
	// api (x-stackpilot.backup.stop) was stopped for the copy and is back.
	waitUp(t, p)
	if v := p.Run("backup", "verify", "--latest"); v.Code != 0 || !strings.Contains(v.Stderr, "every checksum matches") {
		t.Fatalf("verify: exit %d\n%s", v.Code, v.Combined())
	}
	l := backupList(t, p)
	if len(l.Backups) != 1 || l.Backups[0].Tag != "before" || l.Backups[0].Verified == nil || !l.Backups[0].Verified.OK ||
		strings.Join(l.Backups[0].Volumes, ",") != "db-data,files-data" || strings.Join(l.Backups[0].Dumps, ",") != "db/notes" {
		t.Fatalf("list: %+v", l)
	}
	id := l.Backups[0].ID

	// Change everything.
	addNote(t, apiPort, "written after the backup")
	sh(t, p.ContainerID("files"), filesMutate)
	if len(diffSnapshots(beforeFiles, snapshot(t, p.ContainerID("files"), "/srv"))) == 0 {
		t.Fatal("the mutation changed nothing")
	}
	dbBefore := p.ContainerID("db")

	// Without a terminal and without --yes: refused at once, nothing changed.
	if r := p.Run("backup", "restore", id); r.Code != 2 || !strings.Contains(r.Stderr, "--yes") {
		t.Fatalf("restore without --yes: exit %d\n%s", r.Code, r.Combined())
	}
	if p.ContainerID("db") != dbBefore {
		t.Fatal("a refused restore touched the db container")
	}

	// The files volume holds a symlink to /nowhere (outside the volume):
	// refused before anything changes unless --allow-outside-links.
	if r := p.Run("backup", "restore", id, "--yes"); r.Code != 1 || !strings.Contains(r.Stderr, "dangling -> /nowhere") || !strings.Contains(r.Stderr, "--allow-outside-links") {
		t.Fatalf("restore of a volume with an outside symlink: exit %d\n%s", r.Code, r.Combined())
	}
	if p.ContainerID("db") != dbBefore || len(backupList(t, p).Backups) != 1 {
		t.Fatal("a refused restore touched the db container or wrote a safety backup")
	}
	// Exactly, setuid bit included, with both flags.
	r := p.Run("backup", "restore", id, "--yes", "--allow-outside-links", "--keep-special-bits")
	if r.Code != 0 {
		t.Fatalf("restore: exit %d\n%s", r.Code, r.Combined())
	}
	if d := diffSnapshots(beforeFiles, snapshot(t, p.ContainerID("files"), "/srv")); len(d) > 0 {
		t.Errorf("files volume after restore differs:\n%s", strings.Join(d, "\n"))
	}
	if d := diffSnapshots(beforeDB, withoutTimes(snapshot(t, p.ContainerID("db"), "/data"))); len(d) > 0 {
		t.Errorf("db volume after restore differs:\n%s", strings.Join(d, "\n"))
	}
	if got := dbDump(t, p); got != beforeDump {
		t.Errorf("db notes after restore:\n%s\nwant:\n%s", got, beforeDump)
	}
	// Back up and healthy, no helper left, and a safety backup of the state before.
	if s := p.Run("status"); s.Code != 0 {
		t.Errorf("status after restore: exit %d\n%s", s.Code, s.Combined())
	}
	if h := helperContainers(t, p); h != "" {
		t.Errorf("helper containers left: %s", h)
	}
	l = backupList(t, p)
	if len(l.Backups) != 2 || l.Backups[0].Tag != "pre-restore" {
		t.Fatalf("after restore: %+v", l.Backups)
	}
	// The safety backup holds the changed state: restoring it (files only) brings it back.
	if r := p.Run("backup", "restore", l.Backups[0].ID, "--yes", "--no-safety-backup", "--service", "files", "--allow-outside-links"); r.Code != 0 {
		t.Fatalf("restore the safety backup: exit %d\n%s", r.Code, r.Combined())
	}
	if _, ok := snapshot(t, p.ContainerID("files"), "/srv")["new-top.txt"]; !ok {
		t.Errorf("the safety backup did not hold the state before the restore")
	}
	if got := dbDump(t, p); got != beforeDump {
		t.Errorf("restoring files only changed the db:\n%s", got)
	}
	if len(backupList(t, p).Backups) != 2 {
		t.Error("--no-safety-backup still wrote a backup")
	}

	// A volume whose container is gone is read through a helper container
	// made from the service's own image (never started).
	current := snapshot(t, p.ContainerID("files"), "/srv")
	p.Compose("rm", "-s", "-f", "files")
	helperPath := createBackup(t, p, "--service", "files")
	m, err := backup.VerifyArchiveFile(context.Background(), helperPath, "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range m.Entries {
		if e.Kind == backup.EntryVolume && e.Volume == "files-data" && e.Files == len(current) {
			found = true
		}
	}
	if !found {
		t.Errorf("helper-read archive: %+v", m.Entries)
	}
	if h := helperContainers(t, p); h != "" {
		t.Errorf("helper containers left: %s", h)
	}
}

// Damage: every single-byte change and every truncation fails verify, and
// restore refuses before the live volume changes.
func TestIntegrationBackupCorruption(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	p := itest.NewProject(t, itest.IdleVolumeService("files", `
x-stackpilot:
  backup:
    dumps:
      - {service: files, name: listing, dump: ["ls", "-lR", "/srv"], restore: ["sh", "-c", "cat >/dev/null"]}
`), nil)
	p.Compose("up", "-d")
	id := p.ContainerID("files")
	sh(t, id, "cd /srv && mkdir -p a/b && head -c 200000 /dev/urandom > a/b/r.bin && seq 1 20000 > a/n.txt && ln -s a/n.txt l")
	path := createBackup(t, p)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d, archive %d bytes", seed, len(orig))
	rnd := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	bad := filepath.Join(dir, filepath.Base(path))
	corrupt := func(b []byte) {
		if err := os.WriteFile(bad, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	flip := func(off int) []byte {
		b := append([]byte(nil), orig...)
		b[off] ^= byte(1 + rnd.Intn(255))
		return b
	}
	// 150 random offsets, plus the header, the body's start and the end marker.
	offsets := []int{0, 9, 40, 200, len(orig) - 1, len(orig) - 60, len(orig) - 130}
	for len(offsets) < 157 {
		offsets = append(offsets, rnd.Intn(len(orig)))
	}
	for _, off := range offsets {
		corrupt(flip(off))
		if _, err := backup.VerifyArchiveFile(context.Background(), bad, ""); !errors.Is(err, backup.ErrDamaged) {
			t.Fatalf("byte %d changed: verify said %v", off, err)
		}
	}
	for _, n := range []int{0, 7, 100, len(orig) / 3, len(orig) - 124, len(orig) - 1} {
		corrupt(orig[:n])
		if _, err := backup.VerifyArchiveFile(context.Background(), bad, ""); !errors.Is(err, backup.ErrDamaged) {
			t.Fatalf("cut to %d bytes: verify said %v", n, err)
		}
	}
	// The command: exit 1 naming the damage.
	for i := 0; i < 5; i++ {
		corrupt(flip(300 + rnd.Intn(len(orig)-600)))
		if r := p.Run("backup", "verify", bad); r.Code != 1 || !strings.Contains(r.Stderr, "damaged") {
			t.Fatalf("verify of a damaged archive: exit %d\n%s", r.Code, r.Combined())
		}
	}

	// Restore refuses, and the live volume is untouched.
	sh(t, id, "echo live > /srv/live.txt")
	live := snapshot(t, id, "/srv")
	before := len(backupList(t, p).Backups)
	for _, b := range [][]byte{flip(len(orig) / 2), flip(20), flip(len(orig) - 10), orig[:len(orig)/2]} {
		corrupt(b)
		r := p.Run("backup", "restore", bad, "--yes")
		if r.Code != 1 || !strings.Contains(r.Stderr, "damaged") {
			t.Fatalf("restore of a damaged archive: exit %d\n%s", r.Code, r.Combined())
		}
		if d := diffSnapshots(live, snapshot(t, id, "/srv")); len(d) > 0 {
			t.Fatalf("a refused restore changed the volume:\n%s", strings.Join(d, "\n"))
		}
		if p.ContainerID("files") != id || !itest.Inspect(t, id)["State"].(map[string]any)["Running"].(bool) {
			t.Fatal("a refused restore touched the container")
		}
	}
	if n := len(backupList(t, p).Backups); n != before {
		t.Errorf("a refused restore wrote a safety backup (%d → %d)", before, n)
	}
	// The intact archive still restores (the refusals were about the damage).
	if r := p.Run("backup", "restore", path, "--yes", "--no-safety-backup"); r.Code != 0 {
		t.Fatalf("restore of the intact archive: exit %d\n%s", r.Code, r.Combined())
	}
	if _, ok := snapshot(t, p.ContainerID("files"), "/srv")["live.txt"]; ok {
		t.Error("a file created after the backup survived the restore")
	}
}

// SIGKILL at random moments of `backup create`: no partial archive is ever
// listed, and the service stopped for the backup is running again after the
// next stackpilot command at the latest.
func TestIntegrationBackupKilled(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	p := itest.NewProject(t, `
services:
  app:
    image: stackpilot-busybox:latest
    {{idle}}
    {{healthy}}
  data:
    image: stackpilot-busybox:latest
    {{idle}}
    volumes: ["data:/srv"]
volumes:
  data:
x-stackpilot:
  backup:
    stop: [app]
`, nil)
	p.Compose("up", "-d")
	sh(t, p.ContainerID("data"), "cd /srv && for i in 1 2 3 4; do head -c 4000000 /dev/urandom > r$i.bin; seq 1 400000 > s$i.txt; done")
	appRunning := func() bool {
		return itest.Inspect(t, p.ContainerID("app"))["State"].(map[string]any)["Running"].(bool)
	}
	start := time.Now()
	createBackup(t, p)
	full := time.Since(start)
	t.Logf("a whole backup takes %s", full)

	checkListed := func(when string) {
		t.Helper()
		for _, b := range backupList(t, p).Backups {
			if _, err := backup.VerifyArchiveFile(context.Background(), b.Path, ""); err != nil {
				t.Fatalf("%s: a listed archive is not complete: %v", when, err)
			}
		}
	}
	kill := func(wait func(cmd *exec.Cmd)) (stoppedAtKill bool) {
		t.Helper()
		cmd := exec.Command(itest.Binary(t), "backup", "create")
		cmd.Dir, cmd.Env = p.Dir, itest.BaseEnv()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wait(cmd)
		stoppedAtKill = !appRunning()
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		return stoppedAtKill
	}
	after := func(when string) {
		t.Helper()
		checkListed(when)
		// The next command, whatever it is, puts the service back.
		if r := p.Run("status"); !strings.Contains(r.Stderr, "interrupted") && !appRunning() {
			t.Fatalf("%s: status did not mention the interrupted backup\n%s", when, r.Combined())
		}
		if !appRunning() {
			t.Fatalf("%s: app is not running after the next stackpilot command", when)
		}
		if _, err := os.Stat(filepath.Join(p.Dir, ".stackpilot", "backup-in-progress.json")); err == nil {
			t.Fatalf("%s: the marker is still there", when)
		}
	}

	// Once exactly while app is stopped for the copy (the window that matters).
	if !kill(func(cmd *exec.Cmd) {
		itest.Eventually(t, 30*time.Second, "app stopped by the backup", func() bool { return !appRunning() })
	}) {
		t.Fatal("app was running again when the backup was killed")
	}
	if appRunning() {
		t.Fatal("app came back before any command ran: the kill test proves nothing")
	}
	// Loading the stack does no work: a command that only reads it (history,
	// logs, env) leaves the service to the next one that acts on the stack.
	if r := p.Run("history"); r.Code != 0 || strings.Contains(r.Stderr, "interrupted") || appRunning() {
		t.Fatalf("history recovered the interrupted backup (exit %d, app running %v)\n%s", r.Code, appRunning(), r.Combined())
	}
	after("killed while app was stopped")

	// Then at random moments.
	seed := time.Now().UnixNano()
	rnd := rand.New(rand.NewSource(seed))
	stoppedHits := 0
	const trials = 4
	for i := 0; i < trials; i++ {
		d := time.Duration(rnd.Int63n(int64(full)))
		if kill(func(*exec.Cmd) { time.Sleep(d) }) {
			stoppedHits++
		}
		after(fmt.Sprintf("killed after %s (seed %d)", d, seed))
	}
	t.Logf("seed %d: %d of %d random kills hit the stopped window", seed, stoppedHits, trials)

	// Ctrl-C (SIGINT) while app is stopped: the backup stops, exits 130, and
	// has started app again before it exits — no other command needed.
	cmd := exec.Command(itest.Binary(t), "backup", "create")
	cmd.Dir, cmd.Env = p.Dir, itest.BaseEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 30*time.Second, "app stopped by the backup", func() bool { return !appRunning() })
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("Ctrl-C: %v, want exit 130", err)
	}
	if !appRunning() {
		t.Fatal("after Ctrl-C the backup exited with app still stopped")
	}
	if _, err := os.Stat(filepath.Join(p.Dir, ".stackpilot", "backup-in-progress.json")); err == nil {
		t.Fatal("after Ctrl-C the marker is still there")
	}
	checkListed("after Ctrl-C")

	// Temporary files of killed runs are never listed, and the next backup clears them.
	createBackup(t, p)
	l := backupList(t, p)
	entries, _ := os.ReadDir(l.Dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") && e.Name() != ".gitignore" {
			t.Errorf("temporary file left after a good backup: %s", e.Name())
		}
	}
	if b, err := os.ReadFile(filepath.Join(l.Dir, ".gitignore")); err != nil || !strings.Contains(string(b), "*") {
		t.Errorf("the backup directory has no .gitignore: %v %q", err, b)
	}
	checkListed("at the end")
	if h := helperContainers(t, p); h != "" {
		t.Errorf("helper containers left: %s", h)
	}
}

// SIGKILL in the middle of replacing a volume: the next command does not
// start the service on half its files, says what to do, and running the
// restore again finishes the job.
func TestIntegrationBackupRestoreKilled(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	p := itest.NewProject(t, itest.IdleVolumeService("data", ""), nil)
	p.Compose("up", "-d")
	sh(t, p.ContainerID("data"), "cd /srv && for i in 1 2 3 4 5 6 7 8; do head -c 8000000 /dev/urandom > r$i.bin; done")
	want := snapshot(t, p.ContainerID("data"), "/srv")
	path := createBackup(t, p)
	sh(t, p.ContainerID("data"), "rm /srv/r1.bin && echo later > /srv/later.txt")

	marker := filepath.Join(p.Dir, ".stackpilot", "backup-in-progress.json")
	cmd := exec.Command(itest.Binary(t), "backup", "restore", path, "--yes", "--no-safety-backup")
	cmd.Dir, cmd.Env = p.Dir, itest.BaseEnv()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	itest.Eventually(t, 60*time.Second, "the restore to be replacing the volume", func() bool {
		b, _ := os.ReadFile(marker)
		return strings.Contains(string(b), `"incomplete"`)
	})
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()

	r := p.Run("status")
	if !strings.Contains(r.Stderr, "may be incomplete") || !strings.Contains(r.Stderr, "backup restore") {
		t.Fatalf("the next command did not warn about the half-replaced volume:\n%s", r.Combined())
	}
	out, _ := exec.Command("docker", "ps", "-q", "--filter", "label=com.docker.compose.project="+p.Name, "--filter", "status=running").Output()
	if strings.TrimSpace(string(out)) != "" {
		t.Fatal("the service was started on a half-replaced volume")
	}
	if h := helperContainers(t, p); h != "" {
		t.Errorf("helper containers left: %s", h)
	}
	// Running the restore again finishes it.
	if r := p.Run("backup", "restore", path, "--yes", "--no-safety-backup"); r.Code != 0 {
		t.Fatalf("restore again: exit %d\n%s", r.Code, r.Combined())
	}
	if d := diffSnapshots(want, snapshot(t, p.ContainerID("data"), "/srv")); len(d) > 0 {
		t.Errorf("after the second restore:\n%s", strings.Join(d, "\n"))
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the marker is still there after a good restore")
	}
	if r := p.Run("status"); r.Code != 0 || strings.Contains(r.Stderr, "interrupted") {
		t.Errorf("status after the second restore: exit %d\n%s", r.Code, r.Combined())
	}
}
