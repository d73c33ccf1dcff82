package wizard_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// builtStack is a service built here, without an image: key, so Compose
// names its image PROJECT-app (v2) or PROJECT_app (v1).
const builtStack = `
services:
  app:
    build: .
    {{http-health}}
  worker:
    image: stackpilot-fixture:latest
    command: ["wait"]
x-stackpilot:
  deploy: {settle: 1s}
`

func appDockerfile(p *itest.Project, version string, cmd string) string {
	return "FROM stackpilot-fixture:latest\nLABEL stackpilot.test=" + p.Name + " version=" + version + "\nCMD " + cmd + "\n"
}

// Rollback brings back the image the service ran before the last deploy
// (checked with docker inspect), even after `docker image prune`; the name
// Compose uses points back at it, and the rollback is in the history.
func TestIntegrationRollback(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	p := itest.NewProject(t, builtStack, nil)
	cleanupImages(t, p)
	p.WriteFile("Dockerfile", appDockerfile(p, "1", `["serve=:8080"]`))
	if res := p.Run("deploy"); res.Code != 0 {
		t.Fatalf("deploy v1: exit %d\n%s", res.Code, res.Combined())
	}
	v1 := containerImage(t, p, "app")

	if res := p.Run("rollback"); res.Code != 1 || !strings.Contains(res.Stderr, "nothing to roll back") {
		t.Fatalf("rollback with nothing older: exit %d\n%s", res.Code, res.Combined())
	}

	p.WriteFile("Dockerfile", appDockerfile(p, "2", `["serve=:8080", "print=v2"]`))
	res := p.Run("deploy", "--json")
	if res.Code != 0 {
		t.Fatalf("deploy v2: exit %d\n%s", res.Code, res.Combined())
	}
	v2 := containerImage(t, p, "app")
	if v2 == v1 {
		t.Fatal("the second build did not change the image; the test proves nothing")
	}
	r := parseDeploy(t, res)
	if app := r.Services[r.service(t, "app")]; app.ImageBefore != v1 || app.ImageAfter != v2 || app.Action != "recreated" {
		t.Fatalf("app in the result: %+v", app)
	}
	// v1 is no longer tagged by Compose; the rollback tag keeps it through a prune.
	if out, err := exec.Command("docker", "image", "prune", "-f", "--filter", "label=stackpilot.test="+p.Name).CombinedOutput(); err != nil {
		t.Fatalf("prune: %v\n%s", err, out)
	}

	plan := p.Run("rollback", "--dry-run", "--json")
	var raw []map[string]any
	if err := json.Unmarshal([]byte(plan.Stdout), &raw); err != nil || plan.Code != 0 {
		t.Fatalf("rollback --dry-run: exit %d %v\n%s", plan.Code, err, plan.Combined())
	}
	if len(raw) != 1 || raw[0]["service"] != "app" || raw[0]["target_image"] != v1 || raw[0]["current_image"] != v2 || raw[0]["available"] != true {
		t.Fatalf("rollback plan %v", raw)
	}
	if containerImage(t, p, "app") != v2 {
		t.Fatal("rollback --dry-run changed the container")
	}

	res = p.Run("rollback", "--json")
	if res.Code != 0 {
		t.Fatalf("rollback: exit %d\n%s", res.Code, res.Combined())
	}
	if got := containerImage(t, p, "app"); got != v1 {
		t.Fatalf("after rollback app runs %s, want the previous image %s", got, v1)
	}
	rr := parseDeploy(t, res)
	if rr.Operation != "rollback" || !rr.OK || len(rr.Services) != 1 || rr.Services[0].Service != "app" || !rr.Services[0].Ready {
		t.Fatalf("rollback result %+v", rr)
	}
	ref := p.Name + "-app"
	if itest.Variant() == "v1" {
		ref = p.Name + "_app"
	}
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{.Id}}", ref).Output()
	if err != nil || strings.TrimSpace(string(out)) != v1 {
		t.Fatalf("%s points at %s (%v), want %s", ref, out, err, v1)
	}
	recs := historyOf(t, p)
	if len(recs) != 3 || recs[0].Op != "rollback" || recs[0].ImagesBefore["app"] != v2 || recs[0].ImagesAfter["app"] != v1 {
		t.Fatalf("history %+v", recs)
	}
	// A plain deploy without building keeps the rolled-back image.
	if res := p.Run("deploy", "--no-build"); res.Code != 0 || containerImage(t, p, "app") != v1 {
		t.Fatalf("deploy --no-build after rollback: exit %d, image %s\n%s", res.Code, containerImage(t, p, "app"), res.Combined())
	}
}
