package wizard_test

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// cancelAPI is api, which waits for db to be healthy, and the deploy
// settings of the cancel tests' stacks.
const cancelAPI = `
  api:
    image: stackpilot-fixture:latest
    command: ["serve=:8080"]
    depends_on: {db: {condition: service_healthy}}
    healthcheck: {test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"], interval: 500ms, timeout: 5s, retries: 120}
x-stackpilot:
  deploy: {timeout: 3m, settle: 1s}
`

// cancelStack is a small stack whose recreate takes a few steps per service:
// api waits for db to be healthy, both have healthchecks.
const cancelStack = `
services:
  db:
    image: stackpilot-fixture:latest
    command: ["serve=:8080"]
    healthcheck: {test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"], interval: 500ms, timeout: 5s, retries: 120}` + cancelAPI

// tempNameRe matches Compose's temporary names during a replacement.
var tempNameRe = regexp.MustCompile(`^[0-9a-f]{12}_`)

// engineEvents streams the project's container lifecycle events (action and
// the container's name) from `docker events`.
type engineEvents struct {
	mu    sync.Mutex
	seen  []string
	added chan struct{}
	cmd   *exec.Cmd
}

func watchEvents(t *testing.T, project string) *engineEvents {
	t.Helper()
	cmd := exec.Command("docker", "events", "--filter", "type=container", "--filter", "label=com.docker.compose.project="+project,
		"--format", "{{.Action}} {{.Actor.Attributes.name}}")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ev := &engineEvents{added: make(chan struct{}, 1), cmd: cmd}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			switch strings.Fields(line + " ")[0] {
			case "create", "kill", "die", "stop", "destroy", "rename", "start":
			default:
				continue
			}
			ev.mu.Lock()
			ev.seen = append(ev.seen, line)
			ev.mu.Unlock()
			select {
			case ev.added <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	time.Sleep(300 * time.Millisecond) // let the stream connect
	return ev
}

// mark returns how many events were seen so far; since returns those after a mark.
func (e *engineEvents) mark() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.seen)
}

func (e *engineEvents) since(m int) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.seen[m:]...)
}

// waitFirst waits for the first lifecycle event after mark m (the
// replacement starting: v2 creates the new container, v1 stops the old one).
func (e *engineEvents) waitFirst(m int, done <-chan struct{}, timeout time.Duration) bool {
	deadline := time.After(timeout)
	for len(e.since(m)) == 0 {
		select {
		case <-e.added:
		case <-done:
			return len(e.since(m)) > 0
		case <-deadline:
			return false
		}
	}
	return true
}

type engineContainer struct {
	ID, Name, State, Health, Service string
}

// projectContainers is what the engine holds for the project, read without stackpilot.
func projectContainers(t *testing.T, project string) []engineContainer {
	t.Helper()
	out, err := exec.Command("docker", "ps", "-aq", "--no-trunc", "--filter", "label=com.docker.compose.project="+project).Output()
	if err != nil {
		t.Fatal(err)
	}
	var list []engineContainer
	for _, id := range strings.Fields(string(out)) {
		b, err := exec.Command("docker", "inspect", "--format",
			`{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}} {{index .Config.Labels "com.docker.compose.service"}}`, id).Output()
		if err != nil {
			continue // removed since it was listed
		}
		f := strings.Fields(string(b))
		if len(f) != 4 {
			t.Fatalf("inspect %s: %q", id, b)
		}
		h := f[2]
		if h == "-" {
			h = ""
		}
		list = append(list, engineContainer{ID: id, Name: strings.TrimPrefix(f[0], "/"), State: f[1], Health: h, Service: f[3]})
	}
	return list
}

// composeProcesses lists processes still running a Compose command on the project.
func composeProcesses(project string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		cmd := strings.ReplaceAll(string(b), "\x00", " ")
		if strings.Contains(cmd, "--project-name "+project+" ") && strings.Contains(cmd, "compose") {
			out = append(out, e.Name()+" "+cmd)
		}
	}
	return out
}

// A deploy stopped at random moments of a recreate — Ctrl-C as a terminal
// sends it (SIGINT to the whole foreground process group), a second Ctrl-C
// shortly after, or SIGTERM — always ends in a state it reports truthfully:
// no temporary or duplicate container is left, the report and `status` say
// which services run and which do not, exactly as the engine has it, no
// Compose process is left behind, and ONE plain deploy brings back a healthy
// stack.
//
// The 20 points (STACKPILOT_CANCEL_POINTS) are shared by four stacks that run
// at once: most of the time is spent waiting on Compose and health checks.
func TestIntegrationDeployCancelDuringRecreate(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own projects; most of the time is spent waiting on Compose
	points := 20
	if n, err := strconv.Atoi(os.Getenv("STACKPILOT_CANCEL_POINTS")); err == nil && n > 0 {
		points = n
	}
	const stacks = 4
	for k := 0; k < stacks; k++ {
		n := points / stacks
		if k < points%stacks {
			n++
		}
		if n == 0 {
			continue
		}
		t.Run(fmt.Sprintf("stack%d", k+1), func(t *testing.T) {
			t.Parallel()
			cancelAtRandomMoments(t, n, uint64(k))
		})
	}
}

// cancelAtRandomMoments stops `deploy --force-recreate` of its own stack at
// points random moments, checking after each (see TestIntegrationDeployCancelDuringRecreate).
func cancelAtRandomMoments(t *testing.T, points int, seed uint64) {
	p := itest.NewProject(t, cancelStack, nil)
	if res := p.Run("deploy"); res.Code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", res.Code, res.Combined())
	}
	ev := watchEvents(t, p.Name)

	// One recreate, not stopped, counts the engine events of a replacement
	// (create, kill, die, stop, destroy, rename, start: 14 for this stack on
	// either Compose) and how long Compose takes to begin (lead). A moment is
	// then "a random time up to 400 ms after the k-th of those events", k
	// random: spread over the whole replacement however slow the host is.
	m := ev.mark()
	started := time.Now()
	cal := startBackground(t, p.Dir, "deploy", "--force-recreate")
	done := make(chan struct{})
	go func() { _ = cal.Wait(); close(done) }()
	if !ev.waitFirst(m, done, 3*time.Minute) {
		t.Fatal("the calibration deploy replaced nothing")
	}
	lead := time.Since(started)
	select {
	case <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("the calibration deploy did not end")
	}
	time.Sleep(time.Second) // the last events
	steps := len(ev.since(m))
	if cal.ProcessState.ExitCode() != 0 || steps < 6 {
		t.Fatalf("calibration deploy: exit %d, events %q\n%s", cal.ProcessState.ExitCode(), ev.since(m), cal.Stderr)
	}
	t.Logf("compose %s: replacing begins %s after the deploy starts and takes %d engine events: %q", itest.Variant(),
		lead.Round(time.Millisecond), steps, ev.since(m))

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), seed))
	var outcomes []string
	repaired, restored, unhandled := 0, 0, 0
	for i, attempts := 0, 0; i < points; attempts++ {
		if attempts > points*2 {
			t.Fatalf("only %d of %d cancels landed while the deploy ran", i, points)
		}
		mode := "Ctrl-C"
		switch j := i + int(seed); {
		case j%5 == 4:
			mode = "SIGTERM"
		case j%3 == 2:
			mode = "Ctrl-C twice"
		}
		m := ev.mark()
		cmd := startBackground(t, p.Dir, "deploy", "--force-recreate")
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		var moment string
		if (i+int(seed))%7 == 0 {
			// Before Compose begins replacing (it is starting, or comparing).
			at := time.Duration(rng.Int64N(int64(lead)))
			moment = fmt.Sprintf("%s after the start", at.Round(time.Millisecond))
			time.Sleep(at)
		} else {
			k := 1 + rng.IntN(steps)
			at := time.Duration(rng.Int64N(int64(400 * time.Millisecond)))
			deadline := time.After(3 * time.Minute)
			for len(ev.since(m)) < k {
				select {
				case <-ev.added:
				case <-done:
				case <-deadline:
					t.Fatalf("point %d: event %d of the replacement never came: %q", i, k, ev.since(m))
				}
				if cmd.ProcessState != nil {
					break
				}
			}
			if evs := ev.since(m); len(evs) >= k {
				moment = fmt.Sprintf("%s after %q (event %d)", at.Round(time.Millisecond), evs[k-1], k)
			}
			time.Sleep(at)
		}
		select {
		case <-done:
			continue // it ended first: that moment does not count
		default:
		}
		switch mode {
		case "SIGTERM":
			_ = cmd.Process.Signal(syscall.SIGTERM) // a service manager signals the process
		default:
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // a terminal signals the foreground group
		}
		if mode == "Ctrl-C twice" {
			gap := time.Duration(rng.Int64N(int64(400 * time.Millisecond)))
			moment += fmt.Sprintf(", again %s later", gap.Round(time.Millisecond))
			time.Sleep(gap)
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		}
		select {
		case <-done:
		case <-time.After(3 * time.Minute):
			t.Fatalf("point %d (%s, %s): the deploy did not stop\n%s", i, mode, moment, cmd.Stderr)
		}
		stderr := cmd.Stderr.(*bytes.Buffer).String()
		code := cmd.ProcessState.ExitCode()
		early := false
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			// The signal came before stackpilot's handler was installed (the
			// first milliseconds of the process): the default action ended
			// it, which a shell reports as 128+signal — what a user sees.
			// Nothing was started, said or recorded.
			code = 128 + int(ws.Signal())
			early = true
		}
		want := 130
		if mode == "SIGTERM" {
			want = 143
		}
		if code != want {
			t.Fatalf("point %d (%s, %s): exit %d, want %d\n%s", i, mode, moment, code, want, stderr)
		}
		if left := composeProcesses(p.Name); len(left) > 0 {
			t.Fatalf("point %d (%s, %s): Compose still running after stackpilot exited: %q", i, mode, moment, left)
		}
		if early {
			if evs := ev.since(m); len(evs) > 0 || strings.TrimSpace(stderr) != "" {
				t.Fatalf("point %d (%s, %s): ended by the signal before its handler, yet it acted or spoke: events %q\n%s", i, mode, moment, evs, stderr)
			}
			outcomes = append(outcomes, fmt.Sprintf("%2d %-13s %-60s %s", i, mode, moment, "ended by the signal before stackpilot could handle it: nothing done"))
			i++
			unhandled++
			continue
		}
		healthy := checkTruthfulAfterCancel(t, p, fmt.Sprintf("point %d (%s, %s)", i, mode, moment), stderr, ev.since(m))
		if strings.Contains(stderr, "put it right") {
			repaired++
		}
		outcomes = append(outcomes, fmt.Sprintf("%2d %-13s %-60s %s", i, mode, moment, cancelSummary(stderr)))
		i++
		if healthy && !strings.Contains(stderr, "put it right") && i < points {
			// Every service runs and is healthy, untouched by a repair:
			// nothing to restore (the next point recreates them all anyway).
			continue
		}
		restored++
		if res := p.Run("deploy"); res.Code != 0 {
			t.Fatalf("point %d (%s, %s): the deploy after the cancel failed: exit %d\n%s\n--- the cancel said ---\n%s", i-1, mode, moment, res.Code, res.Combined(), stderr)
		}
		if rows, res := statusJSON(t, p); res.Code != 0 || len(rows) != 2 {
			t.Fatalf("point %d: after one deploy the stack is not healthy: exit %d\n%s", i-1, res.Code, res.Combined())
		}
	}
	t.Logf("%d cancels (%d needed a repair; %d times one deploy then brought the stack back to healthy):\n%s", len(outcomes), repaired, restored, strings.Join(outcomes, "\n"))
	recs := historyOf(t, p)
	cancelled := 0
	for _, r := range recs {
		if r.Result == "cancelled" {
			cancelled++
		}
	}
	if cancelled != points-unhandled {
		t.Errorf("%d deploys recorded as cancelled, want %d", cancelled, points-unhandled)
	}
}

// cancelSummary is the report's lines about the repair and the services' states.
func cancelSummary(stderr string) string {
	var parts []string
	for _, l := range strings.Split(stderr, "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "not running:") || strings.HasPrefix(l, "running:") || strings.HasPrefix(l, "· ") {
			parts = append(parts, strings.TrimPrefix(l, "· "))
		}
	}
	return strings.Join(parts, " | ")
}

// checkTruthfulAfterCancel checks the engine against the cancel's report and
// `status`, and reports whether every service runs and is healthy.
func checkTruthfulAfterCancel(t *testing.T, p *itest.Project, what, stderr string, events []string) bool {
	t.Helper()
	list := projectContainers(t, p.Name)
	perService := map[string][]engineContainer{}
	for _, c := range list {
		if tempNameRe.MatchString(c.Name) {
			t.Fatalf("%s: Compose's temporary container %s (%s) is left behind\nevents: %q\n%s", what, c.Name, c.State, events, stderr)
		}
		perService[c.Service] = append(perService[c.Service], c)
	}
	var report string
	for _, l := range strings.Split(stderr, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "not running:") || strings.HasPrefix(t, "running:") {
			report += t + "\n"
		}
	}
	rows, _ := statusJSON(t, p)
	after := projectContainers(t, p.Name)
	healthy := true
	for _, svc := range []string{"db", "api"} {
		cs := perService[svc]
		if len(cs) != 1 {
			t.Fatalf("%s: %s has %d containers, want 1: %+v\nevents: %q\n%s", what, svc, len(cs), cs, events, stderr)
		}
		c := cs[0]
		// The report: the service under "running:" when it runs, else under "not running:".
		line := "running:"
		if c.State != "running" {
			line = "not running:"
		}
		found := false
		for _, l := range strings.Split(report, "\n") {
			if strings.HasPrefix(l, line) && strings.Contains(l, " "+svc+" (") {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the report does not list %s (%s) under %q:\n%s\nevents: %q", what, svc, c.State, line, stderr, events)
		}
		// status: one row, the engine's state (health may move on between the looks).
		sr := byService(rows, svc)
		if len(sr) != 1 {
			t.Fatalf("%s: status shows %d rows for %s: %+v", what, len(sr), svc, sr)
		}
		var now engineContainer
		for _, a := range after {
			if a.ID == c.ID {
				now = a
			}
		}
		if !strings.HasPrefix(c.ID, sr[0].ContainerID) || sr[0].ContainerID == "" || (sr[0].State != c.State && sr[0].State != now.State) {
			t.Errorf("%s: status says %s is %s (%s), the engine %s (%s)", what, svc, sr[0].State, sr[0].ContainerID, c.State, c.ID)
		}
		if sr[0].Health != c.Health && sr[0].Health != now.Health {
			t.Errorf("%s: status says %s's health is %q, the engine %q then %q", what, svc, sr[0].Health, c.Health, now.Health)
		}
		healthy = healthy && now.State == "running" && now.Health == "healthy"
	}
	return healthy
}
