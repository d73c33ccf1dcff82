package wizard_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

func volumeExists(name string) bool {
	return exec.Command("docker", "volume", "inspect", name).Run() == nil
}

func stateOf(t *testing.T, p *itest.Project, service string) string {
	t.Helper()
	return itest.Inspect(t, p.ContainerID(service))["State"].(map[string]any)["Status"].(string)
}

// stop, start, restart and down do what they say; start waits through the
// health gate; down --volumes destroys data only with --yes when there is no
// terminal, and otherwise exits 2 with nothing changed.
func TestIntegrationLifecycle(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	p := itest.NewProject(t, `
services:
  web:
    image: stackpilot-fixture:latest
    command: ["serve=:8080"]
    {{http-health}}
  db:
    image: stackpilot-fixture:latest
    command: ["wait"]
    volumes: ["data:/data"]
volumes:
  data: {}
x-stackpilot:
  deploy: {settle: 1s}
`, nil)
	cleanupImages(t, p)
	vol := p.Name + "_data"

	if res := p.Run("start"); res.Code != 1 || !strings.Contains(res.Stderr, "deploy first") {
		t.Fatalf("start before any deploy: exit %d\n%s", res.Code, res.Combined())
	}
	if res := p.Run("deploy"); res.Code != 0 {
		t.Fatalf("deploy: exit %d\n%s", res.Code, res.Combined())
	}
	if res := p.Run("stop", "db"); res.Code != 0 || !strings.Contains(res.Stdout, "Stopped db") {
		t.Fatalf("stop: exit %d\n%s", res.Code, res.Combined())
	}
	if s := stateOf(t, p, "db"); s != "exited" {
		t.Fatalf("db is %s after stop", s)
	}
	if s := stateOf(t, p, "web"); s != "running" {
		t.Fatalf("stop db stopped web too: %s", s)
	}
	res := p.Run("start", "db", "--json")
	if res.Code != 0 || !strings.Contains(res.Stdout, `"waited": true`) || stateOf(t, p, "db") != "running" {
		t.Fatalf("start: exit %d\n%s", res.Code, res.Combined())
	}
	webID := p.ContainerID("web")
	started := itest.Inspect(t, webID)["State"].(map[string]any)["StartedAt"]
	if res := p.Run("restart", "web"); res.Code != 0 || !strings.Contains(res.Stdout, "all ready") {
		t.Fatalf("restart: exit %d\n%s", res.Code, res.Combined())
	}
	if again := itest.Inspect(t, webID)["State"].(map[string]any)["StartedAt"]; again == started {
		t.Fatal("restart did not restart web")
	}

	res = p.Run("down", "--volumes")
	if res.Code != 2 || !strings.Contains(res.Stderr, "--yes") || !strings.Contains(res.Stderr, vol) {
		t.Fatalf("down --volumes without a terminal or --yes: exit %d\n%s", res.Code, res.Combined())
	}
	if !volumeExists(vol) || stateOf(t, p, "db") != "running" {
		t.Fatal("down --volumes without --yes changed something")
	}
	if res := p.Run("down"); res.Code != 0 {
		t.Fatalf("down: exit %d\n%s", res.Code, res.Combined())
	}
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+p.Name).Output(); strings.TrimSpace(string(out)) != "" {
		t.Fatal("down left containers")
	}
	if !volumeExists(vol) {
		t.Fatal("down without --volumes removed the volume")
	}
	if res := p.Run("down", "--volumes", "--yes"); res.Code != 0 || !strings.Contains(res.Stdout, vol) {
		t.Fatalf("down --volumes --yes: exit %d\n%s", res.Code, res.Combined())
	}
	if volumeExists(vol) {
		t.Fatal("down --volumes --yes kept the volume")
	}
}
