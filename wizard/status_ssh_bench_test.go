package wizard_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// BenchmarkStatusOverSSH is issue 18's remote figure: `status --json` against
// `docker compose ps --format json` over the same ssh:// endpoint (a server
// container, itest.StartServer), on 60 running services, the commands taking
// turns in rounds. "cold" is the first status after the containers changed
// (each run inspected once, in one round trip); BASE=/path/to/stackpilot also
// measures another build. bench/status-ssh.sh runs it (once: -benchtime 1x).
func BenchmarkStatusOverSSH(b *testing.B) {
	const services, rounds, perRound = 60, 5, 4
	srv := itest.StartServer(b, itest.ServerOptions{Images: []string{itest.BusyboxImage}})
	p := itest.NewProject(b, busyboxServices(services, ""), nil)
	p.Env, p.OnServer = srv.Env(), true
	if v := itest.Variant(); v != "v2" {
		b.Skipf("the figure is against Compose v2 (STACKPILOT_COMPOSE=%s)", v)
	}
	// Compose opens an ssh connection per concurrent API call (a few dozen
	// for `up` or `ps` of 60 containers); sshd's default MaxStartups drops
	// unauthenticated connections past 10. Let the server take them all, so
	// Compose is measured at its best.
	srv.MustExec(b, "sh", "-c", "echo 'MaxStartups 1000' >>/etc/ssh/sshd_config && kill -HUP $(cat /run/sshd.pid)")
	time.Sleep(time.Second)
	p.Compose("up", "-d")
	cache := b.TempDir()
	env := append([]string{"STACKPILOT_CACHE_DIR=" + cache}, srv.Env()...)
	if res := itest.Run(b, p.Dir, env, "status", "--json"); res.Code != 0 {
		b.Fatalf("status over ssh: exit %d\n%s", res.Code, res.Combined())
	} else if rows := []statusRow{}; json.Unmarshal([]byte(res.Stdout), &rows) != nil || len(rows) != services {
		b.Fatalf("status over ssh: %d rows\n%s", len(rows), res.Combined())
	}

	type command struct {
		name    string
		argv    []string
		prepare func()
	}
	bin := itest.Binary(b)
	commands := []command{
		{name: "stackpilot status --json", argv: []string{bin, "status", "--json"}},
		{name: "stackpilot status --json, cold", argv: []string{bin, "status", "--json"}, prepare: func() { _ = os.RemoveAll(filepath.Join(cache, "runs")) }},
		{name: "docker compose ps --format json", argv: []string{"docker", "compose", "ps", "--format", "json"}},
	}
	if base := os.Getenv("BASE"); base != "" {
		commands = append(commands, command{name: "BASE status --json", argv: []string{base, "status", "--json"}})
	}
	times := map[string][]time.Duration{}
	for range rounds {
		for _, c := range commands {
			for range perRound {
				if c.prepare != nil {
					c.prepare()
				}
				cmd := exec.Command(c.argv[0], c.argv[1:]...)
				cmd.Dir = p.Dir
				cmd.Env = append(itest.BaseEnv(), env...)
				start := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%s: %v\n%s", c.name, err, out)
				}
				times[c.name] = append(times[c.name], time.Since(start))
			}
		}
	}
	median := func(name string) time.Duration {
		ts := slices.Clone(times[name])
		slices.Sort(ts)
		return ts[len(ts)/2]
	}
	compose := median("docker compose ps --format json")
	fmt.Printf("\n%d services over %s, median of %d runs in %d rounds:\n", services, srv.Host(), rounds*perRound, rounds)
	for _, c := range commands {
		m := median(c.name)
		fmt.Printf("  %-34s %8.1f ms   ratio to compose ps %.3f\n", c.name, float64(m.Microseconds())/1000, float64(m)/float64(compose))
	}
	ratio := float64(median("stackpilot status --json")) / float64(compose)
	verdict := "ok"
	if ratio > 0.25 {
		verdict = "MISSED"
	}
	fmt.Printf("ratio status / compose v2 ps over ssh: %.3f (target ≤ 0.25: %s)\n", ratio, verdict)
	b.ReportMetric(ratio, "ratio")
}
