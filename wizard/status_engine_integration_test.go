package wizard_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// busyboxServices is a compose file of n long-running busybox services
// s000, s001, …: a sleep loop that ends on TERM.
func busyboxServices(n int, extra string) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := range n {
		fmt.Fprintf(&b, "  s%03d:\n    image: %s\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 3600 & wait $$!; done\"]\n", i, itest.BusyboxImage)
		if extra != "" {
			b.WriteString(extra)
		}
	}
	return b.String()
}

// statusCalls runs `status --json` through the proxy and returns its rows,
// its exact JSON and what it asked the engine.
type statusCalls struct {
	rows     []statusRow
	raw      string
	requests []itest.ProxiedRequest
	turns    int
	inspects int
}

func statusThroughProxy(t *testing.T, p *itest.Project, proxy *itest.EngineProxy, env []string) statusCalls {
	t.Helper()
	proxy.Reset()
	res := itest.Run(t, p.Dir, append([]string{"DOCKER_HOST=" + proxy.Host}, env...), "status", "--json")
	if res.Code != 0 {
		t.Fatalf("status: exit %d\n%s", res.Code, res.Combined())
	}
	var out statusCalls
	if err := json.Unmarshal([]byte(res.Stdout), &out.rows); err != nil {
		t.Fatalf("status --json: %v\n%s", err, res.Stdout)
	}
	out.raw = res.Stdout
	out.requests, out.turns = proxy.Requests(), proxy.Turns()
	out.inspects = proxy.Count("GET", `^/containers/[0-9a-f]+/json$`)
	return out
}

func (s statusCalls) String() string {
	var parts []string
	for _, r := range s.requests {
		parts = append(parts, fmt.Sprintf("%s %s (conn %d)", r.Method, r.Path, r.Conn))
	}
	return fmt.Sprintf("%d requests in %d round trips: %s", len(s.requests), s.turns, strings.Join(parts, ", "))
}

// What `status` asks the engine does not grow with the stack: the same
// round trips for 2 containers as for 20, and — once a container's current
// run was read — the same requests: a ping and one list.
func TestIntegrationStatusEngineCallsDoNotGrowWithContainers(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	proxy := itest.StartEngineProxy(t)
	env := []string{"STACKPILOT_CACHE_DIR=" + t.TempDir()}
	small := itest.NewProject(t, busyboxServices(2, ""), nil)
	big := itest.NewProject(t, busyboxServices(20, "    restart: always\n"), nil)
	small.Compose("up", "-d")
	big.Compose("up", "-d")

	coldSmall, coldBig := statusThroughProxy(t, small, proxy, env), statusThroughProxy(t, big, proxy, env)
	warmSmall, warmBig := statusThroughProxy(t, small, proxy, env), statusThroughProxy(t, big, proxy, env)
	t.Logf("2 containers, first run: %s", coldSmall)
	t.Logf("20 containers, first run: %s", coldBig)
	t.Logf("20 containers, again: %s", warmBig)
	if len(coldBig.rows) != 20 || len(coldSmall.rows) != 2 {
		t.Fatalf("rows: %d and %d", len(coldSmall.rows), len(coldBig.rows))
	}

	// First run: one list, each container inspected once, all in one batch.
	for _, run := range []statusCalls{coldSmall, coldBig} {
		lists := 0
		for _, r := range run.requests {
			if r.Path == "/containers/json" {
				lists++
			}
		}
		if lists != 1 || run.inspects != len(run.rows) {
			t.Fatalf("%d lists and %d inspects for %d containers: %s", lists, run.inspects, len(run.rows), run)
		}
	}
	// ping, list, one batch: a round trip per container would make 22.
	if coldBig.turns > coldSmall.turns+1 || coldBig.turns > 6 {
		t.Fatalf("round trips grow with the containers: %d for 2, %d for 20", coldSmall.turns, coldBig.turns)
	}
	// Again: the runs are known, nothing is inspected; 2 or 20 alike.
	want := []string{"GET /_ping", "GET /containers/json"}
	for _, run := range []statusCalls{warmSmall, warmBig} {
		var got []string
		for _, r := range run.requests {
			got = append(got, r.Method+" "+r.Path)
		}
		if strings.Join(got, ", ") != strings.Join(want, ", ") {
			t.Fatalf("second status of %d containers: %s, want %v", len(run.rows), run, want)
		}
	}
	// ... and the same answer, field for field.
	if a, b := normalizeUptime(t, coldBig.raw), normalizeUptime(t, warmBig.raw); a != b {
		t.Fatalf("the second status differs from the first:\n%s\n---\n%s", a, b)
	}

	// logs finds the containers the same way: one list, no inspect once
	// their runs are known; then one log stream per container.
	proxy.Reset()
	if res := itest.Run(t, big.Dir, append([]string{"DOCKER_HOST=" + proxy.Host}, env...), "logs", "--tail", "1"); res.Code != 0 {
		t.Fatalf("logs: exit %d\n%s", res.Code, res.Combined())
	}
	lists, inspects, streams := proxy.Count("GET", "^/containers/json$"), proxy.Count("GET", `^/containers/[0-9a-f]+/json$`), proxy.Count("GET", `^/containers/[0-9a-f]+/logs$`)
	if lists != 1 || inspects != 0 || streams != 20 {
		t.Fatalf("logs of 20 containers: %d lists, %d inspects, %d log streams", lists, inspects, streams)
	}

	// A restart makes a new run: that container alone is read again, and
	// its new start time and restart count are right — by `docker restart`,
	// and by its restart policy after its process ended.
	big.Compose("restart", "-t", "1", "s005")
	id7 := big.ContainerID("s007")
	// (The kill itself may be killed with the container it ends: its exit
	// status says nothing; the restart count below does.)
	// On a loaded machine an exec can be lost (one CI run waited 30 s for a
	// restart that never came): while the first run is still the one
	// running, the TERM is sent again every few seconds.
	var lastKill time.Time
	var seen string
	itest.Eventually(t, 60*time.Second, "s007 restarted by its policy", func() bool {
		in := itest.Inspect(t, id7)
		restarts, status := int(in["RestartCount"].(float64)), in["State"].(map[string]any)["Status"]
		seen = fmt.Sprintf("restart count %d, status %v", restarts, status)
		if restarts == 0 && status == "running" && time.Since(lastKill) > 5*time.Second {
			lastKill = time.Now()
			if out, err := exec.Command("docker", "exec", id7, "kill", "-TERM", "1").CombinedOutput(); err != nil {
				t.Logf("docker exec kill -TERM 1: %v %s", err, out)
			}
		}
		return restarts == 1 && status == "running"
	})
	t.Logf("s007: %s", seen)
	after := statusThroughProxy(t, big, proxy, env)
	if after.inspects != 2 {
		t.Fatalf("after restarting 2 of 20 containers, %d inspects: %s", after.inspects, after)
	}
	assertRowsMatchInspect(t, after.rows)
	for _, r := range byService(after.rows, "s007") {
		if r.RestartCount != 1 {
			t.Fatalf("s007 restart_count %d after its policy restarted it", r.RestartCount)
		}
	}
}

// assertRowsMatchInspect checks the fields only an inspect gives against docker inspect.
func assertRowsMatchInspect(t *testing.T, rows []statusRow) {
	t.Helper()
	for _, r := range rows {
		in := itest.Inspect(t, r.ContainerID)
		state := in["State"].(map[string]any)
		started, _ := time.Parse(time.RFC3339Nano, state["StartedAt"].(string))
		if r.StartedAt == nil || !r.StartedAt.Equal(started) {
			t.Errorf("%s: started_at %v, inspect %v", r.Container, r.StartedAt, started)
		}
		if n := int(in["RestartCount"].(float64)); r.RestartCount != n {
			t.Errorf("%s: restart_count %d, inspect %d", r.Container, r.RestartCount, n)
		}
	}
}

// normalizeUptime replaces each uptime_seconds (which moves with the clock)
// after checking it against started_at.
func normalizeUptime(t *testing.T, raw string) string {
	t.Helper()
	var rows []map[string]any
	if err := json.Unmarshal([]byte(raw), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		// A container with a process (running, paused, restarting) has an uptime.
		if s, ok := r["started_at"].(string); ok && (r["state"] == "running" || r["state"] == "paused" || r["state"] == "restarting") {
			up, _ := r["uptime_seconds"].(float64)
			started, _ := time.Parse(time.RFC3339Nano, s)
			since := time.Since(started).Seconds()
			if up > since+1 || up < since-60 {
				t.Errorf("%s: uptime_seconds %v, started %.0fs ago", r["container"], up, since)
			}
			r["uptime_seconds"] = "N"
		}
	}
	b, _ := json.MarshalIndent(rows, "", "  ")
	return string(b)
}

// oracleStatus is what `status --json` printed before it read the list: a row
// per container built from `docker inspect` alone, the way status did it
// then, frozen here as the reference.
func oracleStatus(t *testing.T, p *itest.Project, oneShot map[string]bool) string {
	t.Helper()
	ids, err := exec.Command("docker", "ps", "-aq", "--no-trunc", "--filter", "label=com.docker.compose.project="+p.Name).Output()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("docker", append([]string{"inspect"}, strings.Fields(string(ids))...)...).Output()
	if err != nil {
		t.Fatalf("docker inspect: %v", err)
	}
	type binding struct{ HostIp, HostPort string }
	var cs []struct {
		ID           string `json:"Id"`
		Name         string
		Image        string
		RestartCount int
		State        struct {
			Status                string
			Running, OOMKilled    bool
			ExitCode              int
			StartedAt, FinishedAt time.Time
			Health                *struct{ Status string }
		}
		Config struct {
			Image  string
			Labels map[string]string
		}
		NetworkSettings struct{ Ports map[string][]binding }
	}
	if err := json.Unmarshal(out, &cs); err != nil {
		t.Fatal(err)
	}
	var rows []statusRow
	for _, c := range cs {
		if strings.EqualFold(c.Config.Labels["com.docker.compose.oneoff"], "true") {
			continue
		}
		r := statusRow{Service: c.Config.Labels["com.docker.compose.service"], Container: strings.TrimPrefix(c.Name, "/"), ContainerID: c.ID[:12],
			State: c.State.Status, ExitCode: c.State.ExitCode, RestartCount: c.RestartCount, Image: c.Config.Image, ImageID: c.Image,
			Ports: []statusPort{}}
		r.Replica, _ = strconv.Atoi(c.Config.Labels["com.docker.compose.container-number"])
		if c.State.Health != nil {
			r.Health = c.State.Health.Status
		}
		if t := c.State.StartedAt; t.Year() > 1 {
			r.StartedAt = &t
			if c.State.Running {
				r.UptimeSeconds = int64(time.Since(t).Seconds())
			}
		}
		if t := c.State.FinishedAt; t.Year() > 1 {
			r.FinishedAt = &t
		}
		for spec, bs := range c.NetworkSettings.Ports {
			num, proto, _ := strings.Cut(spec, "/")
			n, _ := strconv.Atoi(num)
			if len(bs) == 0 {
				r.Ports = append(r.Ports, statusPort{ContainerPort: n, Protocol: proto})
			}
			for _, b := range bs {
				hp, _ := strconv.Atoi(b.HostPort)
				r.Ports = append(r.Ports, statusPort{HostIP: b.HostIp, HostPort: hp, ContainerPort: n, Protocol: proto})
			}
		}
		sort.Slice(r.Ports, func(i, j int) bool {
			a, b := r.Ports[i], r.Ports[j]
			if a.ContainerPort != b.ContainerPort {
				return a.ContainerPort < b.ContainerPort
			}
			if a.Protocol != b.Protocol {
				return a.Protocol < b.Protocol
			}
			if a.HostIP != b.HostIP {
				return a.HostIP < b.HostIP
			}
			return a.HostPort < b.HostPort
		})
		switch {
		case r.State == "running" && r.Health == "unhealthy":
			r.Problem = "unhealthy"
		case r.State == "running" && r.Health == "starting":
			r.Problem = "health check still starting"
		case r.State == "running":
			r.OK = true
		case r.State == "exited" && r.ExitCode == 0 && oneShot[r.Service]:
			r.OK = true
		case r.State == "exited":
			r.Problem = fmt.Sprintf("exited (%d)", r.ExitCode)
			if c.State.OOMKilled {
				r.Problem += ", out of memory"
			}
		case r.State == "restarting":
			r.Problem = fmt.Sprintf("restarting (exit %d, %d restarts)", r.ExitCode, r.RestartCount)
		default:
			r.Problem = r.State
		}
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Service != rows[j].Service {
			return rows[i].Service < rows[j].Service
		}
		if rows[i].Replica != rows[j].Replica {
			return rows[i].Replica < rows[j].Replica
		}
		return rows[i].Container < rows[j].Container
	})
	// The tests talk to the machine's own engine, chosen by default.
	for i := range rows {
		rows[i].Endpoint.Host, rows[i].Endpoint.Context, rows[i].Endpoint.Source = "unix:///var/run/docker.sock", "default", "default"
	}
	b, _ := json.Marshal(rows)
	return normalizeUptime(t, string(b))
}

// goldenStatus runs status --json twice (a first run, then one answered
// from what it remembers of each run) and compares both with the oracle.
func goldenStatus(t *testing.T, p *itest.Project, env []string, oneShot map[string]bool) {
	t.Helper()
	want := oracleStatus(t, p, oneShot)
	for _, run := range []string{"first", "second"} {
		res := itest.Run(t, p.Dir, env, "status", "--json")
		if res.Code != 0 && res.Code != 3 {
			t.Fatalf("status: exit %d\n%s", res.Code, res.Combined())
		}
		if got := normalizeUptime(t, res.Stdout); got != want {
			t.Fatalf("%s status --json differs from the inspect-built reference:\n%s", run, lineDiff(want, got))
		}
	}
}

func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b bytes.Buffer
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, c string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			c = g[i]
		}
		if a != c {
			fmt.Fprintf(&b, "line %d:\n  want %s\n  got  %s\n", i+1, a, c)
			if b.Len() > 4000 {
				break
			}
		}
	}
	return b.String()
}

// status --json is what it was when every field came from an inspect: on
// one service, in every state a container settles in, and on 200 services.
func TestIntegrationStatusGoldenAgainstInspect(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	env := []string{"STACKPILOT_CACHE_DIR=" + t.TempDir()}

	t.Run("one service", func(t *testing.T) {
		p := itest.NewProject(t, busyboxServices(1, ""), nil)
		p.Compose("up", "-d")
		goldenStatus(t, p, env, nil)
	})

	t.Run("every state", func(t *testing.T) {
		moved := itest.UniqueName("spit-moved")
		if out, err := exec.Command("docker", "tag", itest.BusyboxImage, moved+":latest").CombinedOutput(); err != nil {
			t.Fatalf("docker tag: %v\n%s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("docker", "rmi", moved+":latest").Run() })
		loop := `["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $$!; done"]`
		p := itest.NewProject(t, fmt.Sprintf(`
services:
  plain:
    image: %[1]s
    command: %[2]s
    ports: ["127.0.0.1::8080", "127.0.0.1::9090/udp"]
    expose: ["7070"]
  healthy:
    image: %[1]s
    command: %[2]s
    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 1}
  sick:
    image: %[1]s
    command: %[2]s
    healthcheck: {test: ["CMD", "false"], interval: 1s, retries: 1}
  starting:
    image: %[1]s
    command: %[2]s
    healthcheck: {test: ["CMD", "true"], interval: 1h, start_period: 1h}
  job:
    image: %[1]s
    command: ["true"]
    restart: "no"
  crashed:
    image: %[1]s
    command: ["sh", "-c", "exit 3"]
  paused:
    image: %[1]s
    command: %[2]s
    healthcheck: {test: ["CMD", "true"], interval: 1s, retries: 1}
  created:
    image: %[1]s
    command: %[2]s
  moved:
    image: %[3]s:latest
    command: %[2]s
`, itest.BusyboxImage, loop, moved), nil)
		p.Compose("up", "-d", "--scale", "plain=2", "plain", "healthy", "sick", "starting", "job", "crashed", "paused", "moved")
		p.Compose("create", "created")
		itest.Eventually(t, 60*time.Second, "health checks to settle", func() bool {
			rows, _ := statusJSON(t, p, "healthy", "sick", "paused", "job", "crashed")
			settled := len(rows) == 5
			for _, r := range rows {
				switch r.Service {
				case "healthy", "paused":
					settled = settled && r.Health == "healthy"
				case "sick":
					settled = settled && r.Health == "unhealthy"
				default:
					settled = settled && r.State == "exited"
				}
			}
			return settled
		})
		if out, err := exec.Command("docker", "pause", p.ContainerID("paused")).CombinedOutput(); err != nil {
			t.Fatalf("docker pause: %v\n%s", err, out)
		}
		t.Cleanup(func() { _ = exec.Command("docker", "unpause", p.ContainerID("paused")).Run() })
		// Its health checks fail while it is paused: wait until it says so.
		itest.Eventually(t, 30*time.Second, "the paused container to turn unhealthy", func() bool {
			h, _ := itest.Inspect(t, p.ContainerID("paused"))["State"].(map[string]any)["Health"].(map[string]any)
			return h != nil && h["Status"] == "unhealthy"
		})
		// The tag now names another image: the engine lists "moved"'s image by ID.
		if out, err := exec.Command("docker", "tag", itest.FixtureImage, moved+":latest").CombinedOutput(); err != nil {
			t.Fatalf("docker tag: %v\n%s", err, out)
		}
		goldenStatus(t, p, env, map[string]bool{"job": true})
		rows, _ := statusJSON(t, p)
		// The list hides a paused container's health, the image reference
		// of one whose tag moved, and a created one's start: all there.
		states := map[string]string{}
		for _, r := range rows {
			states[r.Service] = r.State + "/" + r.Health + "/" + r.Image
		}
		for svc, want := range map[string]string{"paused": "paused/unhealthy/", "created": "created//", "moved": "running//" + moved + ":latest"} {
			if !strings.HasPrefix(states[svc], want) {
				t.Errorf("%s: %q, want %q", svc, states[svc], want)
			}
		}
	})

	t.Run("200 services", func(t *testing.T) {
		if itest.Variant() == "v1" {
			t.Skip("the engine labels v1's containers like v2's; 200 containers are created once, with Compose v2 (v1 takes minutes)")
		}
		p := itest.NewProject(t, busyboxServices(200, ""), nil)
		p.Compose("up", "-d")
		goldenStatus(t, p, env, nil)
	})
}
