package wizard_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// BenchmarkSwarm is issue 14's figures, on a three-node Swarm with the
// registry (bench/swarm.sh runs it once: -benchtime 1x):
//
//   - failed requests during a rolling update of web (2 replicas,
//     start-first) under a client loop on the stack's overlay network that
//     resolves the service name for each request (target 0 of ≥ 1000);
//   - `stackpilot status --json` against `docker stack services` + `docker
//     stack ps`, taking turns, on the manager itself (unix socket: what the
//     tools cost), from this machine over tcp:// (Server.ServeTCP) and over
//     ssh:// (each docker command pays its own ssh login, stackpilot one) —
//     target ≤ 0.25;
//   - seconds between Swarm marking a crashing task failed (the task's own
//     status timestamp) and stackpilot's deploy reporting it (target ≤ 2 s).
func BenchmarkSwarm(b *testing.B) {
	if itest.Variant() == "v1" {
		b.Skip("the figures are with Compose v2")
	}
	w := itest.StartSwarm(b, 3)
	registry := w.StartRegistry(b)
	p := itest.NewProject(b, swarmStack(registry, w.Workers[0].Name, w.Workers[0].Host()), map[string]string{
		".env":           "GREETING=one",
		"web/Dockerfile": "FROM " + itest.FixtureImage + "\nLABEL stackpilot.test=swarm\n",
	})
	p.Env, p.OnServer = w.Manager.Env(), true
	b.Cleanup(func() { _, _ = w.Manager.Exec("docker", "stack", "rm", p.Name) })
	if res := p.Run("deploy", "--yes"); res.Code != 0 {
		b.Fatalf("deploy: exit %d\n%s", res.Code, res.Combined())
	}

	// 1. Rolling update under load.
	client := itest.UniqueName("sphammer")
	other := w.Workers[1]
	other.MustExec(b, "docker", "run", "-d", "--name", client, "--network", p.Name+"_default", itest.FixtureImage, "hammer=http://web:8080/")
	time.Sleep(2 * time.Second)
	p.WriteFile(".env", "GREETING=two\nCOMPOSE_PROJECT_NAME="+p.Name+"\n")
	start := time.Now()
	res := p.Run("deploy", "--yes")
	took := time.Since(start)
	time.Sleep(2 * time.Second)
	other.MustExec(b, "docker", "stop", "-t", "5", client)
	hammer := other.MustExec(b, "docker", "logs", client)
	other.MustExec(b, "docker", "rm", client)
	if res.Code != 0 {
		b.Fatalf("rolling update: exit %d\n%s", res.Code, res.Combined())
	}
	var requests, failed int
	if _, err := fmt.Sscanf(hammer, "hammer requests=%d failed=%d", &requests, &failed); err != nil {
		b.Fatalf("client loop: %v\n%s", err, hammer)
	}
	fmt.Printf("\nrolling update of web (2 replicas, start-first, dnsrr) took %.1f s under a client loop (a request every 5 ms, name resolved each time):\n", took.Seconds())
	fmt.Printf("  failed requests: %d of %d (target 0 of ≥ 1000)\n", failed, requests)
	for _, l := range strings.Split(hammer, "\n") {
		if strings.HasPrefix(l, "hammer error:") {
			fmt.Printf("    %s\n", l)
		}
	}

	// 2. status --json vs docker stack services + docker stack ps.
	const rounds, perRound = 5, 3
	bin := itest.Binary(b)
	if out, err := exec.Command("docker", "cp", bin, w.Manager.Name+":/usr/local/bin/stackpilot").CombinedOutput(); err != nil {
		b.Fatalf("docker cp: %v: %s", err, out)
	}
	if out, err := exec.Command("docker", "cp", p.Dir, w.Manager.Name+":/proj").CombinedOutput(); err != nil {
		b.Fatalf("docker cp: %v: %s", err, out)
	}
	script := fmt.Sprintf(`cd /proj
t() { s=$(date +%%s%%N); "$@" >/dev/null 2>&1 || echo "FAIL $*"; e=$(date +%%s%%N); echo $(( (e-s)/1000 )); }
for r in $(seq %d); do
  for i in $(seq %d); do echo "sp $(t stackpilot status --json)"; done
  for i in $(seq %d); do echo "dk $(t sh -c 'docker stack services %s && docker stack ps %s')"; done
done`, rounds, perRound, perRound, p.Name, p.Name)
	out := w.Manager.MustExec(b, "sh", "-c", script)
	local := map[string][]time.Duration{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 || f[0] == "FAIL" {
			b.Fatalf("on the manager: %q\n%s", l, out)
		}
		us, _ := strconv.Atoi(f[1])
		local[f[0]] = append(local[f[0]], time.Duration(us)*time.Microsecond)
	}
	// From this machine: over ssh:// (the docker CLI opens an ssh
	// connection per command, stackpilot one) and over tcp:// (no login).
	remote := func(env []string) map[string][]time.Duration {
		times := map[string][]time.Duration{}
		for range rounds {
			for range perRound {
				cmd := exec.Command(bin, "status", "--json")
				cmd.Dir, cmd.Env = p.Dir, env
				s := time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("status: %v\n%s", err, out)
				}
				times["sp"] = append(times["sp"], time.Since(s))
			}
			for range perRound {
				s := time.Now()
				for _, sub := range []string{"services", "ps"} {
					cmd := exec.Command("docker", "stack", sub, p.Name)
					cmd.Env = env
					if out, err := cmd.CombinedOutput(); err != nil {
						b.Fatalf("docker stack %s: %v\n%s", sub, err, out)
					}
				}
				times["dk"] = append(times["dk"], time.Since(s))
			}
		}
		return times
	}
	overSSH := remote(append(itest.BaseEnv(), w.Manager.Env()...))
	tcpHost := w.Manager.ServeTCP(b)
	overTCP := remote(append(itest.BaseEnv(), "DOCKER_HOST="+tcpHost))
	median := func(ts []time.Duration) time.Duration {
		ts = slices.Clone(ts)
		slices.Sort(ts)
		return ts[len(ts)/2]
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Printf("\nstatus --json vs docker stack services + docker stack ps, median of %d runs in %d rounds:\n", rounds*perRound, rounds)
	lr := float64(median(local["sp"])) / float64(median(local["dk"]))
	fmt.Printf("  on the manager (unix socket):  status %7.1f ms   stack services+ps %7.1f ms   ratio %.3f (target ≤ 0.25: %s)\n",
		ms(median(local["sp"])), ms(median(local["dk"])), lr, verdict(lr <= 0.25))
	sr := float64(median(overSSH["sp"])) / float64(median(overSSH["dk"]))
	fmt.Printf("  from here over %s: status %7.1f ms   stack services+ps %7.1f ms   ratio %.3f (one ssh login against two)\n",
		w.Manager.Host(), ms(median(overSSH["sp"])), ms(median(overSSH["dk"])), sr)
	tr := float64(median(overTCP["sp"])) / float64(median(overTCP["dk"]))
	fmt.Printf("  from here over %s: status %7.1f ms   stack services+ps %7.1f ms   ratio %.3f (target ≤ 0.25: %s)\n",
		tcpHost, ms(median(overTCP["sp"])), ms(median(overTCP["dk"])), tr, verdict(tr <= 0.25))
	b.ReportMetric(lr, "ratio-manager")
	b.ReportMetric(tr, "ratio-tcp")
	b.ReportMetric(sr, "ratio-ssh")

	// 3. A crashing update: Swarm's failed timestamp → stackpilot's report.
	p.WriteFile(".env", "GREETING=three\nCRASH=exit=3\nCOMPOSE_PROJECT_NAME="+p.Name+"\n")
	res = p.Run("deploy", "--yes", "--json")
	if res.Code == 0 {
		b.Fatalf("crashing deploy passed:\n%s", res.Combined())
	}
	var dep struct {
		Gate struct {
			Failed struct {
				Since time.Time `json:"since"`
				Error string    `json:"error"`
			} `json:"failed"`
			FailedSeen time.Time `json:"failed_seen"`
			RolledBack []string  `json:"rolled_back"`
		} `json:"gate"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &dep); err != nil || dep.Gate.FailedSeen.IsZero() {
		b.Fatalf("deploy --json: %v\n%s", err, res.Combined())
	}
	lag := dep.Gate.FailedSeen.Sub(dep.Gate.Failed.Since)
	fmt.Printf("\ncrashing update (%s): reported %.2f s after Swarm marked the task failed (target ≤ 2 s: %s); Swarm rolled back %v\n",
		dep.Gate.Failed.Error, lag.Seconds(), verdict(lag <= 2*time.Second), dep.Gate.RolledBack)
	b.ReportMetric(lag.Seconds(), "s-to-report")
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISSED"
}
