package stackops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
)

func loadProject(t *testing.T, p *itest.Project) *stackops.Stack {
	t.Helper()
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: p.Dir, Environ: itest.BaseEnv()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestIntegrationHealthGate(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, `
services:
  ok:
    image: stackpilot-fixture:latest
    command: ["serve=:8080"]
    healthcheck: {test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"], interval: 1s, retries: 2}
  plain:
    image: stackpilot-fixture:latest
    command: ["wait"]
  migrate:
    image: stackpilot-fixture:latest
    command: ["print=migrating", "sleep=1s", "exit=0"]
    restart: "no"
  crash:
    image: stackpilot-fixture:latest
    command: ["print=starting up", "eprint=fatal: cannot open /data/db", "sleep=2s", "exit=3"]
    restart: "no"
    profiles: [bad]
`, nil)
	st := loadProject(t, p)
	p.Compose("up", "-d")
	res, err := st.WaitHealthy(context.Background(), stackops.HealthGateOptions{Timeout: time.Minute, Settle: time.Second})
	if err != nil {
		t.Fatalf("healthy stack: %v", err)
	}
	if !res.Ready || len(res.Services) != 3 {
		t.Fatalf("result %+v", res)
	}

	// A service that exits 3 two seconds after start fails the gate fast, with its logs.
	bad, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: p.Dir, Environ: append(itest.BaseEnv(), "COMPOSE_PROFILES=bad")})
	if err != nil {
		t.Fatal(err)
	}
	p.Compose("--profile", "bad", "up", "-d", "crash")
	start := time.Now()
	res, err = bad.WaitHealthy(context.Background(), stackops.HealthGateOptions{Services: []string{"crash", "ok"}, Timeout: 5 * time.Minute})
	if !errors.Is(err, stackops.ErrNotHealthy) {
		t.Fatalf("crashing service passed the gate: %v", err)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("fail fast took %s", took)
	}
	f := res.NotReady()
	if len(f) != 1 || f[0].Service != "crash" || !f[0].Failed || f[0].ExitCode != 3 || !strings.Contains(f[0].Reason, "status 3") {
		t.Fatalf("report %+v", f)
	}
	if logs := strings.Join(f[0].Logs, "\n"); !strings.Contains(logs, "starting up") || !strings.Contains(logs, "cannot open /data/db") {
		t.Fatalf("report lacks stdout and stderr lines: %q", logs)
	}
	if !strings.Contains(err.Error(), "crash: exited with status 3") {
		t.Fatalf("error %q", err)
	}
}

// The gate looks every 200 ms, but reads a running container's restart count
// and start time once per run: its looks cost one list call each, however
// many containers there are. A restart is still caught at once: the new run
// is read, its restart count is past the baseline.
func TestIntegrationHealthGateReadsEachRunOnce(t *testing.T) {
	itest.Require(t)
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range 8 {
		fmt.Fprintf(&b, "  s%d:\n    image: stackpilot-fixture:latest\n    command: [\"wait\"]\n", i)
	}
	b.WriteString(`  ok:
    image: stackpilot-fixture:latest
    command: ["serve=:8080"]
    healthcheck: {test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"], interval: 1s, retries: 2}
  flaky:
    image: stackpilot-fixture:latest
    command: ["print=up for a moment", "sleep=2s", "exit=1"]
    restart: always
    profiles: [flaky]
`)
	p := itest.NewProject(t, b.String(), nil)
	proxy := itest.StartEngineProxy(t)
	env := append(itest.BaseEnv(), "DOCKER_HOST="+proxy.Host, "STACKPILOT_CACHE_DIR="+t.TempDir())
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: p.Dir, Environ: env})
	if err != nil {
		t.Fatal(err)
	}
	p.Compose("up", "-d")
	proxy.Reset()
	res, err := st.WaitHealthy(context.Background(), stackops.HealthGateOptions{Timeout: time.Minute, Settle: 3 * time.Second})
	if err != nil || !res.Ready {
		t.Fatalf("healthy stack: %v %+v", err, res)
	}
	lists, inspects := proxy.Count("GET", `^/containers/json$`), proxy.Count("GET", `^/containers/[0-9a-f]+/json$`)
	t.Logf("%d looks, %d inspects for 9 containers", lists, inspects)
	// Settling takes 3 s of looks; each container is read once, "ok" once
	// more at the end for its health-check output.
	if lists < 5 || inspects > 9+1 {
		t.Fatalf("%d looks and %d inspects for 9 containers: an inspect per container per look?", lists, inspects)
	}

	bad, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: p.Dir, Environ: append(env, "COMPOSE_PROFILES=flaky")})
	if err != nil {
		t.Fatal(err)
	}
	p.Compose("--profile", "flaky", "up", "-d", "flaky")
	start := time.Now()
	res, err = bad.WaitHealthy(context.Background(), stackops.HealthGateOptions{Services: []string{"flaky"}, Timeout: 2 * time.Minute, Settle: 10 * time.Second, Since: start.Add(-time.Minute)})
	if !errors.Is(err, stackops.ErrNotHealthy) {
		t.Fatalf("a service restarting every 2 s passed the gate: %v", err)
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("the restart was caught after %s", took)
	}
	f := res.NotReady()
	if len(f) != 1 || !f[0].Failed || !strings.Contains(f[0].Reason, "restarted (") || f[0].RestartCount < 1 {
		t.Fatalf("report %+v", f)
	}
	if logs := strings.Join(f[0].Logs, "\n"); !strings.Contains(logs, "up for a moment") {
		t.Fatalf("report lacks the log: %q", logs)
	}
}
