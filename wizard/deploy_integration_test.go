package wizard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
)

// deployResult mirrors the documented JSON of `deploy --json` and `rollback --json`.
type deployResult struct {
	ID        string `json:"id"`
	Project   string `json:"project"`
	Operation string `json:"operation"`
	OK        bool   `json:"ok"`
	Result    string `json:"result"`
	Error     string `json:"error"`
	Waited    bool   `json:"waited"`
	TimedOut  bool   `json:"timed_out"`
	Compose   string `json:"compose"`
	Commands  [][]string
	Services  []struct {
		Service      string   `json:"service"`
		ContainerID  string   `json:"container_id"`
		Action       string   `json:"action"`
		Ready        bool     `json:"ready"`
		Failed       bool     `json:"failed"`
		State        string   `json:"state"`
		Health       string   `json:"health"`
		ExitCode     int      `json:"exit_code"`
		Reason       string   `json:"reason"`
		Logs         []string `json:"logs"`
		HealthOutput string   `json:"health_output"`
		ImageBefore  string   `json:"image_before"`
		ImageAfter   string   `json:"image_after"`
	} `json:"services"`
	Hooks []struct {
		Hook     string   `json:"hook"`
		Command  []string `json:"command"`
		ExitCode int      `json:"exit_code"`
		Output   []string `json:"output"`
	} `json:"hooks"`
}

func parseDeploy(t *testing.T, res itest.Result) deployResult {
	t.Helper()
	var out deployResult
	if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
		t.Fatalf("no JSON result on stdout (exit %d): %v\n%s", res.Code, err, res.Combined())
	}
	return out
}

func (r deployResult) service(t *testing.T, name string) int {
	t.Helper()
	for i, s := range r.Services {
		if s.Service == name {
			return i
		}
	}
	t.Fatalf("service %s not in the result: %+v", name, r.Services)
	return -1
}

type historyRecord struct {
	ID           string            `json:"id"`
	Op           string            `json:"op"`
	User         string            `json:"user"`
	Host         string            `json:"host"`
	Services     []string          `json:"services"`
	ImagesBefore map[string]string `json:"images_before"`
	ImagesAfter  map[string]string `json:"images_after"`
	Result       string            `json:"result"`
	Error        string            `json:"error"`
	DurationMS   int64             `json:"duration_ms"`
}

func historyOf(t *testing.T, p *itest.Project) []historyRecord {
	t.Helper()
	res := p.Run("history", "--json")
	var recs []historyRecord
	if err := json.Unmarshal([]byte(res.Stdout), &recs); err != nil || res.Code != 0 {
		t.Fatalf("history --json (exit %d): %v\n%s", res.Code, err, res.Combined())
	}
	return recs
}

// cleanupImages removes what the project's builds and rollbacks tagged,
// after the project is down.
func cleanupImages(t *testing.T, p *itest.Project) {
	t.Cleanup(func() {
		p.Down()
		var refs []string
		for _, pattern := range []string{p.Name + "-*", p.Name + "_*", stackops.RollbackRepoPrefix + "/" + p.Name + "/*"} {
			out, _ := exec.Command("docker", "images", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference="+pattern).Output()
			refs = append(refs, strings.Fields(string(out))...)
		}
		if len(refs) > 0 {
			_ = exec.Command("docker", append([]string{"rmi"}, refs...)...).Run()
		}
	})
}

func containerImage(t *testing.T, p *itest.Project, service string) string {
	t.Helper()
	return itest.Inspect(t, p.ContainerID(service))["Image"].(string)
}

// A healthy deploy: a server with a healthcheck, one without, and a
// one-shot job that exits 0 (which is success, not a failure). A second
// deploy with nothing changed leaves every container alone. Both are in the history.
func TestIntegrationDeployHealthy(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	p := itest.NewProject(t, `
services:
  web:
    image: stackpilot-fixture:latest
    command: ["serve=:8080"]
    {{http-health}}
  worker:
    image: stackpilot-fixture:latest
    command: ["wait"]
  migrate:
    image: stackpilot-fixture:latest
    command: ["print=migrated", "sleep=1s", "exit=0"]
    restart: "no"
x-stackpilot:
  deploy: {settle: 1s}
`, nil)
	cleanupImages(t, p)
	res := p.Run("deploy", "--json")
	if res.Code != 0 {
		t.Fatalf("deploy: exit %d\n%s", res.Code, res.Combined())
	}
	r := parseDeploy(t, res)
	if !r.OK || r.Result != "success" || !r.Waited || r.Project != p.Name {
		t.Fatalf("result %+v", r)
	}
	web := r.Services[r.service(t, "web")]
	if !web.Ready || web.Health != "healthy" || web.Action != "created" {
		t.Errorf("web %+v", web)
	}
	if w := r.Services[r.service(t, "worker")]; !w.Ready || w.State != "running" {
		t.Errorf("worker %+v", w)
	}
	if m := r.Services[r.service(t, "migrate")]; !m.Ready || m.State != "exited" || m.ExitCode != 0 || m.Failed {
		t.Errorf("one-shot job that exited 0 is not a success: %+v", m)
	}
	if len(r.Commands) != 1 || !strings.Contains(strings.Join(r.Commands[0], " "), " up -d --build") {
		t.Errorf("commands %q", r.Commands)
	}
	// Without a terminal: plain progress lines, no escape codes.
	if strings.Contains(res.Stderr, "\x1b[") || !strings.Contains(res.Stderr, "deploy: web: healthy") {
		t.Errorf("progress on stderr:\n%q", res.Stderr)
	}
	webID := p.ContainerID("web")

	res = p.Run("deploy")
	if res.Code != 0 || !strings.Contains(res.Stdout, "web unchanged") || !strings.Contains(res.Stdout, "worker unchanged") {
		t.Fatalf("no-op deploy: exit %d\n%s", res.Code, res.Combined())
	}
	if p.ContainerID("web") != webID {
		t.Errorf("a deploy with nothing changed recreated web")
	}
	recs := historyOf(t, p)
	if len(recs) != 2 || recs[0].Result != "success" || recs[0].Op != "deploy" || recs[1].ID != r.ID {
		t.Fatalf("history %+v", recs)
	}
	if recs[0].ImagesAfter["web"] != containerImage(t, p, "web") || recs[0].User == "" || recs[0].DurationMS <= 0 {
		t.Errorf("record %+v", recs[0])
	}
	text := p.Run("history")
	if text.Code != 0 || strings.Count(text.Stdout, "success") != 2 || !strings.Contains(text.Stdout, r.ID) {
		t.Errorf("history table:\n%s", text.Combined())
	}
}

// A service that exits 1 at start fails the deploy at once — not after the
// timeout — with its exit code and its logs (stdout and stderr) in the report.
func TestIntegrationDeployFailsFastWithLogs(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	p := itest.NewProject(t, `
services:
  ok:
    image: stackpilot-fixture:latest
    command: ["wait"]
  crash:
    image: stackpilot-fixture:latest
    command: ["print=booting crash", "eprint=fatal: config file missing", "exit=1"]
`, nil)
	cleanupImages(t, p)
	start := time.Now()
	res := p.Run("deploy", "--timeout", "5m", "--json")
	took := time.Since(start)
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Combined())
	}
	if took > time.Minute {
		t.Fatalf("fail fast took %s with a 5m timeout", took)
	}
	r := parseDeploy(t, res)
	c := r.Services[0]
	if c.Service != "crash" || !c.Failed || c.ExitCode != 1 || r.Result != "failed" || r.TimedOut {
		t.Fatalf("result %+v", r)
	}
	if logs := strings.Join(c.Logs, "\n"); !strings.Contains(logs, "booting crash") || !strings.Contains(logs, "fatal: config file missing") {
		t.Fatalf("report lacks the logs: %q", logs)
	}
	for _, want := range []string{"crash: exited with status 1", "exit code 1", "fatal: config file missing", "booting crash"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	if recs := historyOf(t, p); len(recs) != 1 || recs[0].Result != "failed" || !strings.Contains(recs[0].Error, "crash") {
		t.Errorf("history %+v", recs)
	}
}

// A service whose healthcheck fails turns unhealthy: the deploy fails with
// the last health-check output.
func TestIntegrationDeployUnhealthy(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	p := itest.NewProject(t, `
services:
  api:
    image: stackpilot-fixture:latest
    command: ["serve=:8080", "print=api up", "unhealthy"]
    healthcheck: {test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"], interval: 1s, retries: 2}
`, nil)
	cleanupImages(t, p)
	res := p.Run("deploy", "--timeout", "2m")
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Combined())
	}
	for _, want := range []string{"api: unhealthy", "last health check: check: HTTP 500", "api up"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	if strings.Contains(res.Stderr, "not ready after") {
		t.Errorf("reported as a timeout, not as unhealthy:\n%s", res.Stderr)
	}
}

// On --timeout the report covers every service not ready yet, with its
// last health-check output and logs.
func TestIntegrationDeployTimeout(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	p := itest.NewProject(t, `
services:
  slow:
    image: stackpilot-fixture:latest
    command: ["print=warming up", "sleep=120s", "serve=:8080"]
    healthcheck: {test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"], interval: 1s, retries: 200}
`, nil)
	cleanupImages(t, p)
	res := p.Run("deploy", "--timeout", "3s", "--json")
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Combined())
	}
	r := parseDeploy(t, res)
	if !r.TimedOut || r.Result != "failed" || len(r.Services) != 1 || r.Services[0].Ready || r.Services[0].Failed {
		t.Fatalf("result %+v", r)
	}
	for _, want := range []string{"not ready after 3s", "slow: health check starting", "connection refused", "warming up"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
}

// Two deploys at once: the second fails at once naming the holder. A third
// waits with --lock-wait; when the holder is killed with SIGKILL the kernel
// frees the lock and the waiting deploy goes ahead.
func TestIntegrationDeployLock(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	p := itest.NewProject(t, `
services:
  slow:
    image: stackpilot-fixture:latest
    command: ["sleep=4s", "serve=:8080"]
    healthcheck: {test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"], interval: 1s, retries: 60}
`, nil)
	cleanupImages(t, p)
	holder := startBackground(t, p.Dir, "deploy")
	holderFile := stackops.HolderFile(filepath.Join(p.Dir, ".stackpilot", "stack.lock"))
	itest.Eventually(t, time.Minute, "the first deploy to take the lock", func() bool {
		b, _ := os.ReadFile(holderFile)
		return bytes.Contains(b, []byte(`"pid":`+strconv.Itoa(holder.Process.Pid)))
	})
	// Let its Compose finish starting the container (the holder is killed
	// later, in its health gate, and must not leave a Compose running).
	itest.Eventually(t, 2*time.Minute, "the first deploy to start the container", func() bool {
		out, _ := exec.Command("docker", "ps", "-q", "--filter", "label=com.docker.compose.project="+p.Name, "--filter", "status=running").Output()
		return len(bytes.TrimSpace(out)) > 0
	})

	second := p.Run("deploy")
	if second.Code != 1 {
		t.Fatalf("second deploy: exit %d, want 1\n%s", second.Code, second.Combined())
	}
	host, _ := os.Hostname()
	for _, want := range []string{"locked", "deploy by", "@" + host, "pid " + strconv.Itoa(holder.Process.Pid), "deploy", "since", "--lock-wait"} {
		if !strings.Contains(second.Stderr, want) {
			t.Errorf("the second deploy does not name the holder (%q missing):\n%s", want, second.Stderr)
		}
	}

	third := startBackground(t, p.Dir, "deploy", "--lock-wait", "2m")
	done := make(chan error, 1)
	go func() { done <- third.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("the deploy with --lock-wait did not wait for the lock: %v\n%s", err, third.Stderr)
	case <-time.After(1500 * time.Millisecond):
	}
	time.Sleep(500 * time.Millisecond) // the holder's Compose returns right after starting the container
	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = holder.Wait()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the waiting deploy failed after the holder was killed: %v\n%s", err, third.Stderr)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the waiting deploy never got the lock")
	}
	recs := historyOf(t, p)
	if len(recs) < 1 || recs[0].Result != "success" {
		t.Fatalf("history %+v", recs)
	}
}

// startBackground starts stackpilot without a terminal, in its own process group.
func startBackground(t *testing.T, dir string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(itest.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = itest.BaseEnv()
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &bytes.Buffer{}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			_ = cmd.Wait()
		}
	})
	return cmd
}

// --dry-run says what would change (the service whose configuration
// changed is recreated, the other left alone) and changes nothing.
func TestIntegrationDeployDryRun(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	compose := `
services:
  a:
    image: stackpilot-fixture:latest
    command: ["wait"]
  b:
    image: stackpilot-fixture:latest
    command: ["wait"]
    environment: {LEVEL: "%s"}
x-stackpilot:
  deploy: {settle: 1s}
`
	p := itest.NewProject(t, strings.Replace(compose, "%s", "1", 1), nil)
	cleanupImages(t, p)
	if res := p.Run("deploy"); res.Code != 0 {
		t.Fatalf("deploy: exit %d\n%s", res.Code, res.Combined())
	}
	idA, idB := p.ContainerID("a"), p.ContainerID("b")
	p.WriteFile("compose.yaml", strings.Replace(compose, "%s", "2", 1))

	res := p.Run("deploy", "--dry-run", "--json")
	if res.Code != 0 {
		t.Fatalf("dry run: exit %d\n%s", res.Code, res.Combined())
	}
	var plan struct {
		Services []struct {
			Service, Action, Reason string
		} `json:"services"`
		Commands [][]string `json:"commands"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &plan); err != nil {
		t.Fatalf("plan JSON: %v\n%s", err, res.Stdout)
	}
	got := map[string]string{}
	for _, s := range plan.Services {
		got[s.Service] = s.Action + " (" + s.Reason + ")"
	}
	if got["a"] != "leave (up to date)" || got["b"] != "recreate (configuration changed)" {
		t.Errorf("plan %v", got)
	}
	if len(plan.Commands) != 1 || !strings.Contains(strings.Join(plan.Commands[0], " "), "up -d --build") {
		t.Errorf("commands %q", plan.Commands)
	}
	if text := p.Run("deploy", "--dry-run"); text.Code != 0 || !strings.Contains(text.Stdout, "recreate") || !strings.Contains(text.Stderr, "nothing was changed") {
		t.Errorf("dry run text:\n%s", text.Combined())
	}
	if p.ContainerID("a") != idA || p.ContainerID("b") != idB {
		t.Fatal("--dry-run changed a container")
	}
	if b := itest.Inspect(t, idB); !strings.Contains(strings.Join(toStrings(b["Config"].(map[string]any)["Env"]), " "), "LEVEL=1") {
		t.Fatal("--dry-run changed b's configuration")
	}
	if recs := historyOf(t, p); len(recs) != 1 {
		t.Fatalf("--dry-run was recorded in the history: %+v", recs)
	}
}

func toStrings(v any) []string {
	var out []string
	if list, ok := v.([]any); ok {
		for _, x := range list {
			out = append(out, x.(string))
		}
	}
	return out
}

// A failing pre-deploy hook stops the deploy before anything changes; a
// post-deploy hook gets the STACKPILOT_* variables.
func TestIntegrationDeployHooks(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	compose := `
services:
  app:
    image: stackpilot-fixture:latest
    command: ["wait"]
x-stackpilot:
  deploy:
    settle: 1s
    pre-deploy: ["./pre.sh", "first arg"]
    post-deploy: [["./post.sh"]]
`
	p := itest.NewProject(t, compose, map[string]string{
		"pre.sh":  "#!/bin/sh\necho \"checking $1\"\necho 'migrations are not ready' >&2\nexit 3\n",
		"post.sh": "#!/bin/sh\nenv | grep '^STACKPILOT_' | sort > post.env\n",
	})
	cleanupImages(t, p)
	for _, f := range []string{"pre.sh", "post.sh"} {
		if err := os.Chmod(filepath.Join(p.Dir, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	res := p.Run("deploy")
	if res.Code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.Code, res.Combined())
	}
	for _, want := range []string{"pre-deploy hook", "exit status 3", "checking first arg", "migrations are not ready", "nothing was changed"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, res.Stderr)
		}
	}
	if out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+p.Name).Output(); len(bytes.TrimSpace(out)) > 0 {
		t.Fatal("a container was created although the pre-deploy hook failed")
	}
	if recs := historyOf(t, p); len(recs) != 1 || recs[0].Result != "failed" {
		t.Fatalf("history %+v", recs)
	}

	p.WriteFile("pre.sh", "#!/bin/sh\nexit 0\n")
	res = p.Run("deploy")
	if res.Code != 0 {
		t.Fatalf("deploy: exit %d\n%s", res.Code, res.Combined())
	}
	env, err := os.ReadFile(filepath.Join(p.Dir, "post.env"))
	if err != nil {
		t.Fatalf("post-deploy hook did not run: %v", err)
	}
	for _, want := range []string{"STACKPILOT_OPERATION=deploy", "STACKPILOT_PROJECT=" + p.Name, "STACKPILOT_SERVICES=app",
		"STACKPILOT_RESULT=success", "STACKPILOT_COMPOSE=" + itest.Variant(), "STACKPILOT_IMAGES_AFTER=app=sha256:", "STACKPILOT_DEPLOY_ID="} {
		if !strings.Contains(string(env), want) {
			t.Errorf("post-deploy env lacks %q:\n%s", want, env)
		}
	}
}

// Ctrl-C in the middle of a deploy (Compose is building): Compose gets the
// interrupt once from the terminal, stackpilot waits for it, exits 130,
// releases the lock, records the deploy as cancelled and leaves no process behind.
func TestIntegrationDeployCtrlC(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	marker := strconv.Itoa(900 + int(time.Now().UnixNano()%99))
	p := itest.NewProject(t, `
services:
  slow:
    build: .
    command: ["wait"]
`, map[string]string{"Dockerfile": "FROM stackpilot-busybox:latest\nRUN [\"/bin/sleep\", \"" + marker + "\"]\nENTRYPOINT [\"/bin/sleep\"]\n"})
	cleanupImages(t, p)
	term := itest.StartTerminal(t, p.Dir, nil, "deploy")
	pid := term.PID()
	term.Expect("building")
	itest.Eventually(t, 2*time.Minute, "the build to run", func() bool {
		out, _ := exec.Command("docker", "ps", "--no-trunc", "--format", "{{.Command}}").Output()
		return strings.Contains(string(out), "sleep "+marker)
	})
	term.Send(itest.KeyCtrlC)
	start := time.Now()
	if code := term.Wait(90 * time.Second); code != 130 {
		t.Fatalf("exit %d after Ctrl-C, want 130\n%s", code, term.Screen())
	}
	t.Logf("stopped %s after Ctrl-C", time.Since(start).Round(time.Millisecond))
	if left := sessionProcesses(pid); len(left) > 0 {
		t.Fatalf("processes left behind after Ctrl-C: %v", left)
	}
	l, err := stackops.AcquireFileLock(context.Background(), filepath.Join(p.Dir, ".stackpilot", "stack.lock"), "test", 0)
	if err != nil {
		t.Fatalf("lock not released: %v", err)
	}
	_ = l.Release()
	recs := historyOf(t, p)
	if len(recs) != 1 || recs[0].Result != "cancelled" {
		t.Fatalf("history %+v", recs)
	}
	if !term.ScreenContains("cancelled") {
		t.Errorf("screen does not say cancelled:\n%s", term.Screen())
	}
}

// sessionProcesses lists the processes still in the session sid (the
// stackpilot under test was its leader).
func sessionProcesses(sid int) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndex(s, ")")
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		// fields after the name: state ppid pgrp session …
		if len(f) > 3 && f[3] == strconv.Itoa(sid) && f[0] != "Z" {
			cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			out = append(out, strconv.Itoa(pid)+" "+strings.ReplaceAll(string(cmd), "\x00", " "))
		}
	}
	return out
}
