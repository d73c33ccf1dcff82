package wizard_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// statusRow mirrors the documented JSON of `status --json`, field for field.
type statusRow struct {
	Service       string       `json:"service"`
	Container     string       `json:"container"`
	ContainerID   string       `json:"container_id"`
	Replica       int          `json:"replica"`
	State         string       `json:"state"`
	Health        string       `json:"health"`
	ExitCode      int          `json:"exit_code"`
	RestartCount  int          `json:"restart_count"`
	Ports         []statusPort `json:"ports"`
	Image         string       `json:"image"`
	ImageID       string       `json:"image_id"`
	StartedAt     *time.Time   `json:"started_at"`
	FinishedAt    *time.Time   `json:"finished_at"`
	UptimeSeconds int64        `json:"uptime_seconds"`
	Probe         *struct {
		URL        string  `json:"url"`
		OK         bool    `json:"ok"`
		StatusCode int     `json:"status_code"`
		Error      string  `json:"error"`
		LatencyMS  float64 `json:"latency_ms"`
	} `json:"probe"`
	OK       bool   `json:"ok"`
	Problem  string `json:"problem,omitempty"`
	Endpoint struct {
		Host    string `json:"host"`
		Context string `json:"context"`
		Source  string `json:"source"`
	} `json:"endpoint"`
}

type statusPort struct {
	HostIP        string `json:"host_ip"`
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
	Protocol      string `json:"protocol"`
}

func statusJSON(t *testing.T, p *itest.Project, args ...string) ([]statusRow, itest.Result) {
	t.Helper()
	res := p.Run(append([]string{"status", "--json"}, args...)...)
	var rows []statusRow
	if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil {
		t.Fatalf("status --json printed no JSON array (exit %d): %v\n%s", res.Code, err, res.Combined())
	}
	return rows, res
}

func byService(rows []statusRow, svc string) []statusRow {
	var out []statusRow
	for _, r := range rows {
		if r.Service == svc {
			out = append(out, r)
		}
	}
	return out
}

const statusStack = `
services:
  web:
    image: stackpilot-fixture:latest
    command: ["serve=:8080"]
    ports: ["127.0.0.1:{{webport}}:8080"]
    healthcheck:
      test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 2s
      retries: 2
  worker:
    image: stackpilot-fixture:latest
    command: ["wait"]
  job:
    image: stackpilot-fixture:latest
    command: ["print=migrated", "exit=0"]
    restart: "no"
  later:
    image: stackpilot-fixture:latest
    command: ["wait"]
x-stackpilot:
  probes:
    web: http://127.0.0.1:{{webport}}/health
`

func TestIntegrationStatus(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	port := itest.FreePort(t)
	p := itest.NewProject(t, strings.ReplaceAll(statusStack, "{{webport}}", fmt.Sprint(port)), nil)

	// Nothing running yet: every service "not created", exit 3, no stack trace.
	rows, res := statusJSON(t, p)
	if res.Code != 3 {
		t.Fatalf("empty stack: exit %d, want 3\n%s", res.Code, res.Combined())
	}
	if len(rows) != 4 {
		t.Fatalf("want 4 rows, got %d", len(rows))
	}
	for _, r := range rows {
		if r.State != "not created" || r.OK {
			t.Errorf("%s: state %q ok=%v, want not created", r.Service, r.State, r.OK)
		}
	}
	if plain := p.Run("status"); plain.Code != 3 || !strings.Contains(plain.Stdout, "not created") || strings.Contains(plain.Combined(), "goroutine") {
		t.Fatalf("plain status of an empty stack: exit %d\n%s", plain.Code, plain.Combined())
	}

	p.Compose("up", "-d", "--scale", "worker=2", "web", "worker", "job")
	itest.Eventually(t, 60*time.Second, "web healthy and job exited", func() bool {
		rows, _ := statusJSON(t, p, "web", "job")
		w, j := byService(rows, "web"), byService(rows, "job")
		return len(w) == 1 && w[0].Health == "healthy" && len(j) == 1 && j[0].State == "exited"
	})

	rows, res = statusJSON(t, p)
	if res.Code != 3 {
		t.Fatalf("'later' never created: exit %d, want 3\n%s", res.Code, res.Stderr)
	}
	// Every running container's fields agree with docker inspect.
	for _, r := range rows {
		if r.State == "not created" {
			continue
		}
		in := itest.Inspect(t, r.ContainerID)
		state := in["State"].(map[string]any)
		if r.State != state["Status"] {
			t.Errorf("%s: state %q, inspect %q", r.Container, r.State, state["Status"])
		}
		if int(state["ExitCode"].(float64)) != r.ExitCode {
			t.Errorf("%s: exit_code %d, inspect %v", r.Container, r.ExitCode, state["ExitCode"])
		}
		if strings.TrimPrefix(in["Name"].(string), "/") != r.Container {
			t.Errorf("container name %q vs inspect %q", r.Container, in["Name"])
		}
		if in["Image"] != r.ImageID || r.Image != "stackpilot-fixture:latest" {
			t.Errorf("%s: image %q %q vs inspect %v", r.Container, r.Image, r.ImageID, in["Image"])
		}
		started, _ := time.Parse(time.RFC3339Nano, state["StartedAt"].(string))
		if r.StartedAt == nil || !r.StartedAt.Equal(started) {
			t.Errorf("%s: started_at %v vs inspect %v", r.Container, r.StartedAt, started)
		}
		if h, ok := state["Health"].(map[string]any); ok {
			if r.Health != h["Status"] {
				t.Errorf("%s: health %q vs inspect %v", r.Container, r.Health, h["Status"])
			}
		} else if r.Health != "" {
			t.Errorf("%s: health %q without a healthcheck", r.Container, r.Health)
		}
	}
	web := byService(rows, "web")[0]
	if len(web.Ports) == 0 || web.Ports[0].HostPort != port || web.Ports[0].ContainerPort != 8080 || web.Ports[0].Protocol != "tcp" || web.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("web ports %+v, want 127.0.0.1:%d->8080/tcp", web.Ports, port)
	}
	if web.Probe == nil || !web.Probe.OK || web.Probe.StatusCode != 200 {
		t.Errorf("web probe %+v", web.Probe)
	}
	workers := byService(rows, "worker")
	if len(workers) != 2 || workers[0].Replica != 1 || workers[1].Replica != 2 {
		t.Errorf("worker replicas: %+v", workers)
	}
	job := byService(rows, "job")[0]
	if job.State != "exited" || job.ExitCode != 0 || !job.OK {
		t.Errorf("one-shot job: %+v", job)
	}
	if later := byService(rows, "later"); len(later) != 1 || later[0].State != "not created" {
		t.Errorf("later: %+v", later)
	}

	// The selected services are all up: exit 0.
	if _, res := statusJSON(t, p, "web", "worker", "job"); res.Code != 0 {
		t.Fatalf("selected services up: exit %d\n%s", res.Code, res.Stderr)
	}
	// A table for people, with the replica rows.
	table := p.Run("status", "web", "worker")
	if table.Code != 0 || !strings.Contains(table.Stdout, "worker #2") || !strings.Contains(table.Stdout, fmt.Sprintf("127.0.0.1:%d->8080/tcp", port)) {
		t.Fatalf("table:\n%s", table.Combined())
	}
	if strings.Contains(table.Combined(), "\x1b[") {
		t.Fatalf("escape codes without a terminal:\n%q", table.Combined())
	}

	// Stop one service: exit 3, and the summary names it.
	p.Compose("stop", "-t", "1", "worker")
	res = p.Run("status", "web", "worker")
	if res.Code != 3 || !strings.Contains(res.Stderr, "worker") || !strings.Contains(res.Stderr, "degraded") {
		t.Fatalf("stopped worker: exit %d\n%s", res.Code, res.Combined())
	}

	// Unknown service: the valid names.
	res = p.Run("status", "wrokre")
	if res.Code != 2 || !strings.Contains(res.Stderr, "job, later, web, worker") {
		t.Fatalf("unknown service: exit %d\n%s", res.Code, res.Stderr)
	}
}

func TestIntegrationStatusUnhealthyAndProbes(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	dead := itest.FreePort(t) // nothing listens here
	slow := itest.FreePort(t)
	p := itest.NewProject(t, fmt.Sprintf(`
services:
  sick:
    image: stackpilot-fixture:latest
    command: ["serve=:8080", "unhealthy"]
    healthcheck:
      test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 2s
      retries: 1
  dead:
    image: stackpilot-fixture:latest
    command: ["wait"]
  slow:
    image: stackpilot-fixture:latest
    command: ["serve=:8080"]
    ports: ["127.0.0.1:%d:8080"]
x-stackpilot:
  probes:
    dead: http://127.0.0.1:%d/health
    slow: {url: "http://127.0.0.1:%d/slow/10s", timeout: 700ms}
`, slow, dead, slow), nil)
	p.Compose("up", "-d")
	itest.Eventually(t, 60*time.Second, "sick to turn unhealthy", func() bool {
		rows, _ := statusJSON(t, p, "sick")
		return len(rows) == 1 && rows[0].Health == "unhealthy"
	})
	start := time.Now()
	rows, res := statusJSON(t, p)
	took := time.Since(start)
	if res.Code != 3 {
		t.Fatalf("exit %d, want 3", res.Code)
	}
	if took > 5*time.Second {
		t.Fatalf("status took %s: the 700ms probe timeout was not applied", took)
	}
	sick := byService(rows, "sick")[0]
	if sick.OK || sick.Problem != "unhealthy" {
		t.Errorf("sick: %+v", sick)
	}
	d := byService(rows, "dead")[0]
	if d.Probe == nil || d.Probe.OK || !strings.Contains(d.Probe.Error, "refused") {
		t.Errorf("probe of a dead port: %+v", d.Probe)
	}
	s := byService(rows, "slow")[0]
	if s.Probe == nil || s.Probe.OK || !strings.Contains(s.Probe.Error, "no answer within 700ms") {
		t.Errorf("probe of a slow URL: %+v", s.Probe)
	}
	table := p.Run("status")
	if !strings.Contains(table.Stdout, "unhealthy") || !strings.Contains(table.Stdout, "✗ connection refused") {
		t.Errorf("table:\n%s", table.Stdout)
	}
}
