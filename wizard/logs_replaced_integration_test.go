package wizard_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// logSummary mirrors the documented JSON of `logs --summary --json`.
type logSummary struct {
	Services []struct {
		Service    string `json:"service"`
		Containers int    `json:"containers"`
		Lines      int64  `json:"lines"`
		Levels     struct {
			Error int64 `json:"error"`
		} `json:"levels"`
		Restarts int `json:"restarts"`
		Replaced []struct {
			Container string    `json:"container"`
			ID        string    `json:"id"`
			RemovedAt time.Time `json:"removed_at"`
			By        string    `json:"by"`
			Restarts  int       `json:"restarts"`
			State     string    `json:"state"`
			ExitCode  int       `json:"exit_code"`
		} `json:"replaced"`
		TopErrors []struct {
			Message string `json:"message"`
			Count   int64  `json:"count"`
		} `json:"top_errors"`
	} `json:"services"`
}

func summaryOf(t *testing.T, p *itest.Project, service string, args ...string) (int, logSummary, itest.Result) {
	t.Helper()
	res := p.Run(append([]string{"logs", "--summary", "--json"}, args...)...)
	var sum logSummary
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil {
		t.Fatalf("logs --summary --json %v: exit %d, no JSON: %v\n%s", args, res.Code, err, res.Combined())
	}
	for i, s := range sum.Services {
		if s.Service == service {
			return i, sum, res
		}
	}
	t.Fatalf("no %s in the summary: %s", service, res.Stdout)
	return 0, sum, res
}

func restartCount(t *testing.T, id string) int {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "--format", "{{.RestartCount}}", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// A service in a crash loop (restart: always; it prints an error line and
// exits 1) is counted while it loops — and still after a deploy replaced the
// crashing container: its restarts and error lines come from the end of its
// log stackpilot kept when it replaced it. Searches with no match say so;
// -i makes --grep ignore case.
func TestIntegrationLogsSummaryCountsReplacedCrashLoop(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on the crash loop
	compose := `
services:
  worker:
    image: stackpilot-fixture:latest
    command: %s
    restart: always
  calm:
    image: stackpilot-fixture:latest
    command: ["print=calm ready", "wait"]
x-stackpilot:
  deploy: {settle: 1s, timeout: 2m}
`
	p := itest.NewProject(t, fmt.Sprintf(compose, `["sleep=100ms", "print=ERROR: cannot reach the database", "exit=1"]`), nil)
	p.Compose("up", "-d")
	id := p.ContainerID("worker")
	itest.Eventually(t, 3*time.Minute, "the worker to restart 4 times", func() bool { return restartCount(t, id) >= 4 })

	// While it loops: one container, its restarts and its error lines.
	i, sum, _ := summaryOf(t, p, "worker")
	if w := sum.Services[i]; w.Restarts < 4 || w.Levels.Error < 4 || w.Containers != 1 || len(w.Replaced) != 0 {
		t.Fatalf("crash loop summary: %+v", w)
	}

	// The fix is deployed: the crash-looping container is replaced and its
	// log is gone from the engine.
	seen := restartCount(t, id)
	p.WriteFile("compose.yaml", fmt.Sprintf(compose, `["print=worker ready", "wait"]`))
	deployed := time.Now()
	if res := p.Run("deploy"); res.Code != 0 {
		t.Fatalf("deploy of the fix: exit %d\n%s", res.Code, res.Combined())
	}
	if err := exec.Command("docker", "inspect", id).Run(); err == nil {
		t.Fatal("the crashing container was not replaced")
	}
	i, sum, _ = summaryOf(t, p, "worker")
	w := sum.Services[i]
	if w.Restarts < seen || w.Levels.Error < int64(seen) || w.Containers != 1 || len(w.Replaced) != 1 {
		t.Fatalf("after the replacement the summary lost the crash loop (%d restarts seen before the deploy): %+v", seen, w)
	}
	r := w.Replaced[0]
	if r.ID != id || r.Restarts < seen || !strings.HasPrefix(r.By, "deploy ") || r.RemovedAt.Before(deployed.Add(-time.Second)) {
		t.Errorf("replaced container %+v, want %s with ≥ %d restarts, replaced by the deploy", r, id, seen)
	}
	if len(w.TopErrors) == 0 || w.TopErrors[0].Message != "cannot reach the database" || w.TopErrors[0].Count < int64(seen) {
		t.Errorf("top errors %+v", w.TopErrors)
	}
	text := p.Run("logs", "--summary", "worker")
	if text.Code != 0 || !strings.Contains(text.Stdout, "replaced container") || !strings.Contains(text.Stdout, "cannot reach the database") {
		t.Errorf("text summary:\n%s", text.Combined())
	}

	// A window after the replacement does not count the replaced container.
	time.Sleep(1100 * time.Millisecond)
	since := time.Now().UTC().Format(time.RFC3339Nano)
	if i, sum, _ := summaryOf(t, p, "worker", "--since", since); len(sum.Services[i].Replaced) != 0 || sum.Services[i].Restarts != 0 || sum.Services[i].Levels.Error != 0 {
		t.Errorf("--since after the replacement still counts it: %+v", sum.Services[i])
	}

	// --grep in the summary reaches the kept log; -i ignores case; no match is said.
	if i, sum, _ := summaryOf(t, p, "worker", "--grep", "CANNOT REACH", "-i"); sum.Services[i].Lines < int64(seen) {
		t.Errorf("--grep -i in the summary: %+v", sum.Services[i])
	}
	i, sum, res := summaryOf(t, p, "worker", "--grep", "CANNOT REACH")
	if sum.Services[i].Lines != 0 || res.Code != 0 || !strings.Contains(res.Stderr, "no line matched --grep 'CANNOT REACH'") {
		t.Errorf("a summary search without a match: exit %d, %+v\n%s", res.Code, sum.Services[i], res.Stderr)
	}
	res = p.Run("logs", "--grep", "no such words")
	if res.Code != 0 || res.Stdout != "" || !strings.Contains(res.Stderr, "no line of calm, worker matched --grep 'no such words'") {
		t.Errorf("a search without a match: exit %d\nstdout %q\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	res = p.Run("logs", "--grep", "CALM READY", "-i", "--no-prefix")
	if res.Code != 0 || strings.TrimSpace(res.Stdout) != "calm ready" || res.Stderr != "" {
		t.Errorf("--grep -i: exit %d\nstdout %q\nstderr %s", res.Code, res.Stdout, res.Stderr)
	}
	if res := p.Run("logs", "-i"); res.Code != 2 || !strings.Contains(res.Stderr, "applies to --grep") {
		t.Errorf("-i alone: exit %d\n%s", res.Code, res.Stderr)
	}
}
