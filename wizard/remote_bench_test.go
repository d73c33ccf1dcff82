package wizard_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops/backup"
)

// BenchmarkRemote is issue 13's figures, all over the same ssh:// endpoint
// (a server container) in one run:
//
//   - `status --json` against `docker compose ps --format json` (target ≤ 0.25);
//   - the ssh connections one `status` opens, counted in the server's sshd log (target 1);
//   - `backup create` of a 1 GiB volume against `docker cp` of it piped to
//     `gzip -1` (target ≥ 1.0: the pipeline's time over stackpilot's).
//
// bench/remote.sh runs it (once: -benchtime 1x). SIZE_MIB changes the
// volume's size, RUNS the repetitions of each backup (median).
func BenchmarkRemote(b *testing.B) {
	if v := itest.Variant(); v != "v2" {
		b.Skipf("the figures are against Compose v2 (STACKPILOT_COMPOSE=%s)", v)
	}
	sizeMiB, runs := envInt("SIZE_MIB", 1024), envInt("RUNS", 3)
	srv := itest.StartServer(b, itest.ServerOptions{Images: []string{itest.BusyboxImage}})
	// Compose opens an ssh connection per concurrent API call; let sshd take them all.
	srv.MustExec(b, "sh", "-c", "echo 'MaxStartups 1000' >>/etc/ssh/sshd_config && kill -HUP $(cat /run/sshd.pid)")
	time.Sleep(time.Second)
	p := itest.NewProject(b, busyboxServices(10, "")+`  data:
    image: `+itest.BusyboxImage+`
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $$!; done"]
    volumes: ["bulk:/srv"]
volumes:
  bulk: {}
`, nil)
	p.Env, p.OnServer = srv.Env(), true
	p.Compose("up", "-d")
	env := srv.Env()
	timed := func(what string, argv ...string) time.Duration {
		b.Helper()
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Dir = p.Dir
		cmd.Env = append(itest.BaseEnv(), env...)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", what, err, out)
		}
		return time.Since(start)
	}
	median := func(ts []time.Duration) time.Duration {
		ts = slices.Clone(ts)
		slices.Sort(ts)
		return ts[len(ts)/2]
	}
	bin := itest.Binary(b)

	// status against compose ps, taking turns.
	var status, ps []time.Duration
	for range 8 {
		status = append(status, timed("status", bin, "status", "--json"))
		ps = append(ps, timed("compose ps", "docker", "compose", "ps", "--format", "json"))
	}
	before := srv.SSHLogins(b)
	if res := itest.Run(b, p.Dir, env, "status", "--json"); res.Code != 0 {
		b.Fatalf("status: exit %d\n%s", res.Code, res.Combined())
	}
	logins := srv.SSHLogins(b) - before

	// 1 GiB of mixed data in the volume, written on the server (as bench/backup.sh does).
	q := sizeMiB / 4
	fill := fmt.Sprintf(`set -e; cd /srv
head -c %d /dev/urandom > random.bin
head -c %d /dev/urandom | base64 -w 0 > base64.txt
seq 1 300000000 | head -c %d > numbers.txt
mkdir small; i=0; while [ $i -lt %d ]; do seq $i $((i + 20000)) | head -c 65536 > small/f$i.txt; i=$((i + 1)); done`,
		q<<20, q*3/4<<20, (sizeMiB-2*q-sizeMiB/8)<<20, sizeMiB*2)
	srv.Docker(b, "exec", p.ContainerID("data"), "sh", "-c", fill)

	dir := b.TempDir()
	var backups, cps []time.Duration
	for i := range runs {
		backups = append(backups, timed("backup create", bin, "backup", "create", "--service", "data"))
		out := filepath.Join(dir, fmt.Sprintf("cp%d.tar.gz", i))
		cps = append(cps, timed("docker cp | gzip -1", "sh", "-c", "docker cp "+p.ContainerID("data")+":/srv - | gzip -1 > "+out))
		_ = os.Remove(out)
		_ = os.RemoveAll(filepath.Join(p.Dir, backup.DefaultDir))
	}
	st, ps50 := median(status), median(ps)
	bk, cp := median(backups), median(cps)
	fmt.Printf("status --json over ssh://              %8.3fs  (median of %d)\n", st.Seconds(), len(status))
	fmt.Printf("docker compose ps --format json        %8.3fs\n", ps50.Seconds())
	fmt.Printf("  ratio status / compose ps            %8.3f   (target ≤ 0.25)\n", st.Seconds()/ps50.Seconds())
	fmt.Printf("ssh connections for one status         %8d   (target 1; the server's sshd log)\n", logins)
	fmt.Printf("backup create, %d MiB volume over ssh  %8.3fs  (median of %d)\n", sizeMiB, bk.Seconds(), runs)
	fmt.Printf("docker cp | gzip -1 over ssh           %8.3fs\n", cp.Seconds())
	fmt.Printf("  ratio docker cp+gzip / backup        %8.3f   (target ≥ 1.0)\n", cp.Seconds()/bk.Seconds())
	if raw, err := json.Marshal(map[string]any{"status_s": st.Seconds(), "compose_ps_s": ps50.Seconds(), "ssh_logins": logins, "backup_s": bk.Seconds(), "docker_cp_gzip_s": cp.Seconds()}); err == nil {
		fmt.Println(string(raw))
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
