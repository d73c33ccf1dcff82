package wizard_test

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// swarmStatus is the part of `status --json` on a Swarm the tests read.
type swarmStatus struct {
	Degraded bool `json:"degraded"`
	Services []struct {
		Name        string `json:"name"`
		Desired     int    `json:"desired"`
		Running     int    `json:"running"`
		Image       string `json:"image"`
		UpdateState string `json:"update_state"`
		Tasks       []struct {
			Node         string `json:"node"`
			State        string `json:"state"`
			DesiredState string `json:"desired_state"`
			Health       string `json:"health"`
		} `json:"tasks"`
	} `json:"services"`
	Nodes []struct {
		Hostname     string `json:"hostname"`
		Availability string `json:"availability"`
		State        string `json:"state"`
		Tasks        int    `json:"tasks"`
	} `json:"nodes"`
}

// swarmStack is the stack of the Swarm walk: web is built here and pushed
// to the registry (two replicas, one per node, a healthcheck loose enough —
// 10 s, 5 retries — that a loaded machine does not fail a healthy task, as
// a 2 s timeout did at load 70 during a rollback; its crash is an exit; dnsrr since
// this kernel has no IPVS for VIPs), db is pinned to a worker with its
// volume (its sleep, PID 1, ignores SIGTERM: each pause of a backup waits
// out its stop_grace_period — long enough to interrupt a backup there, short
// enough not to add up). GREETING and CRASH come from .env.
func swarmStack(registry, dbNode, dbHost string) string {
	return `services:
  web:
    build: ./web
    command: ["print=hello ${GREETING}", "${CRASH:-print=}", "serve=:8080"]
    healthcheck: {test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"], interval: 1s, timeout: 10s, retries: 5}
    deploy:
      replicas: 2
      endpoint_mode: dnsrr
      placement: {max_replicas_per_node: 1}
  db:
    image: ` + itest.BusyboxImage + `
    command: ["sh", "-c", "echo db up; exec sleep 100000"]
    stop_grace_period: 1s
    volumes: [db-data:/data]
    deploy:
      placement: {constraints: ["node.hostname == ` + dbNode + `"]}
volumes:
  db-data: {}
x-stackpilot:
  orchestrator: swarm
  registry: ` + registry + `
  deploy: {timeout: 120s}
  nodes: {` + dbNode + `: "` + dbHost + `"}
`
}

// swarmDump is added to swarmStack's x-stackpilot by the walk.
const swarmDump = `  backup:
    dumps:
      - {service: db, name: f, dump: ["sh", "-c", "cat /data/f"], restore: ["sh", "-c", "cat > /loaded"]}
`

// archiveMember is the content of one member of an unencrypted archive.
func archiveMember(t *testing.T, path, name string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in %s: %v", name, path, err)
		}
		if h.Name == name {
			b, _ := io.ReadAll(tr)
			return string(b)
		}
	}
}

func readSwarmStatus(t *testing.T, p *itest.Project) (swarmStatus, itest.Result) {
	t.Helper()
	res := p.Run("status", "--json")
	var st swarmStatus
	if err := json.Unmarshal([]byte(res.Stdout), &st); err != nil {
		t.Fatalf("status --json: %v (exit %d)\n%s", err, res.Code, res.Combined())
	}
	return st, res
}

func (s swarmStatus) service(name string) (desired, running int, nodes []string) {
	for _, svc := range s.Services {
		if svc.Name == name {
			for _, tk := range svc.Tasks {
				if tk.State == "running" && tk.DesiredState == "running" {
					nodes = append(nodes, tk.Node)
				}
			}
			return svc.Desired, svc.Running, nodes
		}
	}
	return -1, -1, nil
}

// The Swarm walk, on one three-node Swarm (a manager, two workers) with a
// registry beside it: deploy (build, push, pull on the workers), a rolling
// update of web under a request loop from a client on the stack's overlay
// network, rollback to the previous spec, a crashing update that Swarm rolls
// back with the reason shown, a node drained (tasks move, status shows it),
// logs from tasks on two nodes, history, and the refusals.
func TestIntegrationSwarmStack(t *testing.T) {
	t.Parallel()
	if itest.Variant() == "v1" {
		t.Skip("the Swarm walk runs with Compose v2 (Compose only builds here; the rest is the engine and docker stack)")
	}
	begin := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(begin).Seconds(), what) }
	w := itest.StartSwarm(t, 3)
	registry := w.StartRegistry(t)
	dbNode, other := w.Workers[0], w.Workers[1]
	step(fmt.Sprintf("swarm %s, registry %s", w, registry))

	// db has a dump (its volume's f, as a database's dump tool prints its
	// data): taken in db's running task on its worker, and loaded into the
	// task that runs once db is scaled back after a restore (into /loaded,
	// which only that container has: a load into the paused task would be
	// gone with it).
	p := itest.NewProject(t, swarmStack(registry, dbNode.Name, dbNode.Host())+swarmDump, map[string]string{
		".env":           "GREETING=one",
		"web/Dockerfile": "FROM " + itest.FixtureImage + "\nLABEL stackpilot.test=swarm\n",
	})
	p.Env, p.OnServer = w.Manager.Env(), true
	t.Cleanup(func() { _, _ = w.Manager.Exec("docker", "stack", "rm", p.Name) })

	// A worker is not a manager: refused, naming the manager to use.
	res := itest.Run(t, p.Dir, []string{w.SSH.PathEnv(), "DOCKER_HOST=" + other.Host()}, "status")
	if res.Code == 0 || !strings.Contains(res.Stderr, "Swarm worker") || !strings.Contains(res.Stderr, w.Manager.IP) {
		t.Fatalf("status on a worker: exit %d, want a refusal naming the manager %s\n%s", res.Code, w.Manager.IP, res.Combined())
	}

	res = p.Run("deploy", "--yes")
	if res.Code != 0 {
		t.Fatalf("deploy: exit %d\n%s", res.Code, res.Combined())
	}
	step("deployed")
	st, res := readSwarmStatus(t, p)
	if res.Code != 0 || st.Degraded {
		t.Fatalf("status after deploy: exit %d\n%s", res.Code, res.Stdout)
	}
	desired, running, webNodes := st.service("web")
	if desired != 2 || running != 2 || len(webNodes) != 2 || webNodes[0] == webNodes[1] {
		t.Fatalf("web: %d/%d on %v, want 2/2 on two nodes\n%s", running, desired, webNodes, res.Stdout)
	}
	if _, _, dbNodes := st.service("db"); len(dbNodes) != 1 || dbNodes[0] != dbNode.Name {
		t.Fatalf("db on %v, want pinned to %s", dbNodes, dbNode.Name)
	}
	for _, svc := range st.Services {
		if svc.Name == "web" && !strings.HasPrefix(svc.Image, registry+"/") {
			t.Fatalf("web runs %q, want the image pushed to %s", svc.Image, registry)
		}
	}

	// Rolling update of web (start-first by default) while a client on the
	// overlay network requests it, resolving the name each time.
	client := itest.UniqueName("sphammer")
	other.MustExec(t, "docker", "run", "-d", "--name", client, "--network", p.Name+"_default", itest.FixtureImage, "hammer=http://web:8080/")
	time.Sleep(time.Second)
	p.WriteFile(".env", "GREETING=two\nCOMPOSE_PROJECT_NAME="+p.Name+"\n")
	res = p.Run("deploy", "--yes")
	other.MustExec(t, "docker", "stop", "-t", "5", client)
	hammer := other.MustExec(t, "docker", "logs", client)
	other.MustExec(t, "docker", "rm", client)
	if res.Code != 0 {
		t.Fatalf("rolling update: exit %d\n%s", res.Code, res.Combined())
	}
	step("rolling update: " + strings.TrimSpace(strings.SplitN(hammer, "\n", 2)[0]))
	var requests, failed int
	if _, err := fmt.Sscanf(hammer, "hammer requests=%d failed=%d", &requests, &failed); err != nil || requests < 100 {
		t.Fatalf("client loop: %v\n%s", err, hammer)
	}
	if failed > 0 {
		t.Errorf("%d of %d requests failed during the rolling update:\n%s", failed, requests, hammer)
	}
	if out := w.Manager.MustExec(t, "docker", "service", "inspect", p.Name+"_web", "--format", "{{.Spec.UpdateConfig.Order}} {{.Spec.UpdateConfig.FailureAction}}"); strings.TrimSpace(out) != "start-first rollback" {
		t.Errorf("web update_config = %q, want the defaults start-first rollback", out)
	}

	// rollback: Swarm's previous spec (GREETING=one), through the gate.
	res = p.Run("rollback", "web", "--yes")
	if res.Code != 0 {
		t.Fatalf("rollback: exit %d\n%s", res.Code, res.Combined())
	}
	if env := w.Manager.MustExec(t, "docker", "service", "inspect", p.Name+"_web", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Args}}"); !strings.Contains(env, "hello one") {
		t.Fatalf("after rollback web runs %s, want GREETING=one's command", env)
	}
	step("rolled back")

	// A crashing update: the new task exits 3; the deploy fails fast with
	// the task's node, exit code and logs, and Swarm rolls web back.
	p.WriteFile(".env", "GREETING=three\nCRASH=exit=3\nCOMPOSE_PROJECT_NAME="+p.Name+"\n")
	res = p.Run("deploy", "--yes")
	if res.Code == 0 {
		t.Fatalf("crashing deploy passed:\n%s", res.Combined())
	}
	for _, want := range []string{"non-zero exit (3)", "exit code 3", "hello three", "rolled web back"} {
		if !strings.Contains(res.Stderr, want) {
			t.Errorf("crashing deploy's report lacks %q:\n%s", want, res.Stderr)
		}
	}
	st, _ = readSwarmStatus(t, p)
	if _, running, _ := st.service("web"); running != 2 {
		t.Errorf("web after Swarm's rollback: %d running, want 2", running)
	}
	step("crash rolled back")

	// Drain the worker without db: its tasks move, status shows the node drained.
	w.Manager.MustExec(t, "docker", "node", "update", "--availability", "drain", other.Name)
	itest.Eventually(t, 60*time.Second, "tasks moved off the drained node", func() bool {
		st, _ := readSwarmStatus(t, p)
		_, running, nodes := st.service("web")
		for _, n := range nodes {
			if n == other.Name {
				return false
			}
		}
		return running == 2
	})
	st, res = readSwarmStatus(t, p)
	drained := false
	for _, n := range st.Nodes {
		if n.Hostname == other.Name {
			drained = n.Availability == "drain" && n.Tasks == 0
		}
	}
	if !drained {
		t.Errorf("status does not show %s drained with no tasks:\n%s", other.Name, res.Stdout)
	}
	if text := p.Run("status"); !strings.Contains(text.Stdout, "drain") {
		t.Errorf("status (text) does not show the drained node:\n%s", text.Combined())
	}
	step("drained")

	// Logs from web's tasks on two nodes, traced to them.
	res = p.Run("logs", "web", "--tail", "5")
	if res.Code != 0 {
		t.Fatalf("logs: exit %d\n%s", res.Code, res.Combined())
	}
	_, _, webNodes = st.service("web")
	for _, n := range webNodes {
		if !strings.Contains(res.Stdout, "@"+n+" | hello") {
			t.Errorf("logs lack web's task on %s:\n%s", n, res.Stdout)
		}
	}

	// logs -f streams until stopped: read until db's line arrives (up to
	// 60 s — a loaded machine took more than 4 s to print it), then stop it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	follow := exec.CommandContext(ctx, itest.Binary(t), "logs", "-f", "db")
	follow.Dir, follow.Env = p.Dir, append(itest.BaseEnv(), p.Env...)
	pipe, err := follow.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := follow.Start(); err != nil {
		t.Fatal(err)
	}
	var printed strings.Builder
	found := false
	for sc := bufio.NewScanner(pipe); !found && sc.Scan(); {
		printed.WriteString(sc.Text() + "\n")
		found = strings.Contains(sc.Text(), "@"+dbNode.Name+" | db up")
	}
	cancel()
	_ = follow.Wait()
	if !found {
		t.Errorf("logs -f db printed %q", printed.String())
	}

	// History records the Swarm deploys; jobs without a Swarm meaning refuse.
	hist := p.Run("history", "--json")
	if strings.Count(hist.Stdout, `"orchestrator": "swarm"`) < 4 {
		t.Errorf("history does not record the Swarm deploys and rollback:\n%s", hist.Combined())
	}
	if r := p.Run("stop", "web"); r.Code != 2 || !strings.Contains(r.Stderr, "docker service scale") {
		t.Errorf("stop on a Swarm: exit %d\n%s", r.Code, r.Combined())
	}
	// Backup and restore of db's volume on its worker, through that
	// worker's engine (x-stackpilot.nodes): db scaled to 0 and back.
	dbFile := func(cmd string) string {
		t.Helper()
		return strings.TrimSpace(dbNode.MustExec(t, "sh", "-c", "docker exec $(docker ps -q -f label=com.docker.swarm.service.name="+p.Name+"_db) sh -c '"+cmd+"'"))
	}
	// (8 MB in big: restoring it takes long enough to interrupt, below.)
	dbFile("echo before > /data/f; head -c 8388608 /dev/urandom > /data/big")
	firstBackup := createBackup(t, p)
	// The dump ran in db's running task, before the pause, and follows the volume.
	if got := archiveMember(t, firstBackup, "dumps/db/f/part-000000"); got != "before\n" {
		t.Errorf("dump db/f in the archive holds %q, want db's f (before)", got)
	}
	dbFile("echo after > /data/f; touch /data/new")
	if r := p.Run("backup", "restore", "--latest", "--yes"); r.Code != 0 || !strings.Contains(r.Stderr, "db running and healthy again") || !strings.Contains(r.Stderr, "dump db/f") {
		t.Fatalf("backup restore on a Swarm: exit %d\n%s", r.Code, r.Combined())
	}
	if got := dbFile("cat /data/f; ls /data; wc -c < /data/big"); got != "before\nbig\nf\n8388608" {
		t.Errorf("db's volume on %s after the restore holds %q, want the backup's f=before, big and nothing else", dbNode.Name, got)
	}
	if got := dbFile("cat /loaded"); got != "before" {
		t.Errorf("dump db/f loaded into db's running task as %q, want before", got)
	}
	step("backup and restore of db on " + dbNode.Name + ", with its dump")

	// Interrupted while db is scaled to 0: Ctrl-C scales it back before
	// stackpilot exits; after a SIGKILL the next command does, from the
	// replica count recorded before the scale-down.
	dbReplicas := func() string {
		out, _ := w.Manager.Exec("docker", "service", "inspect", p.Name+"_db", "--format", "{{.Spec.Mode.Replicated.Replicas}}")
		return strings.TrimSpace(out)
	}
	startBackup := func() (*exec.Cmd, *strings.Builder) {
		t.Helper()
		cmd := exec.Command(itest.Binary(t), "backup", "create")
		var stderr strings.Builder
		cmd.Dir, cmd.Env, cmd.Stderr = p.Dir, append(itest.BaseEnv(), p.Env...), &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		itest.Eventually(t, 30*time.Second, "db scaled to 0 by the backup", func() bool { return dbReplicas() == "0" })
		return cmd, &stderr
	}
	for _, sig := range []struct {
		sig  syscall.Signal
		exit int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		cmd, stderr := startBackup()
		_ = cmd.Process.Signal(sig.sig)
		var ee *exec.ExitError
		if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != sig.exit {
			t.Fatalf("%v during a Swarm backup: %v, want exit %d\n%s", sig.sig, err, sig.exit, stderr)
		}
		if got := dbReplicas(); got != "1" || !strings.Contains(stderr.String(), "scaled back to 1") {
			t.Fatalf("after %v db has %s replicas, want 1 again, said so\n%s", sig.sig, got, stderr)
		}
		// Scaled back only once the old task had stopped (its grace period):
		// never two db processes on the volume.
		if ids := strings.Fields(dbNode.MustExec(t, "docker", "ps", "-q", "-f", "label=com.docker.swarm.service.name="+p.Name+"_db")); len(ids) != 1 {
			t.Fatalf("after %v %d db containers run on %s, want 1: the new task started beside the stopping one", sig.sig, len(ids), dbNode.Name)
		}
	}
	step("backup interrupted (SIGINT, SIGTERM): db scaled back")

	// SIGKILL in the middle of the copy (db's volume holds a sparse 1 GiB
	// file, streamed whole; the kill follows the helper container's
	// creation on db's node): the next
	// command removes the helper there — an engine it does not otherwise
	// talk to, recorded in the Swarm marker — and scales db back, returning
	// only once db runs again (the Swarm health gate).
	dbFile("truncate -s 1G /data/big")
	helpers := func() string {
		out, _ := dbNode.Exec("docker", "ps", "-aq", "--filter", "label=io.stackpilot.helper", "--filter", "label=io.stackpilot.project="+p.Name)
		return strings.TrimSpace(out)
	}
	events := exec.Command("docker", "events", "--since", fmt.Sprint(time.Now().Unix()-1), "--format", "{{.Actor.ID}}",
		"--filter", "type=container", "--filter", "event=create", "--filter", "label=io.stackpilot.project="+p.Name)
	events.Env = append(itest.BaseEnv(), dbNode.Env()...)
	created := make(chan string, 1)
	if out, err := events.StdoutPipe(); err != nil {
		t.Fatal(err)
	} else if err := events.Start(); err != nil {
		t.Fatal(err)
	} else {
		go func() {
			sc := bufio.NewScanner(out)
			if sc.Scan() {
				created <- sc.Text()
			}
		}()
	}
	cmd := exec.Command(itest.Binary(t), "backup", "create")
	cmd.Dir, cmd.Env = p.Dir, append(itest.BaseEnv(), p.Env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-created:
	case <-time.After(60 * time.Second):
		t.Fatalf("the backup created no helper container on %s within 60 s", dbNode.Name)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	_ = events.Process.Kill()
	_ = events.Wait()
	if helpers() == "" {
		t.Fatalf("no helper container on %s right after the kill: the copy was over already", dbNode.Name)
	}
	if r := p.Run("status"); !strings.Contains(r.Stderr, "was interrupted while its services were scaled to 0: scaled db to 1 again, and they passed the Swarm health gate") || dbReplicas() != "1" {
		t.Fatalf("after a SIGKILL, status did not scale db back through the gate (replicas %s)\n%s", dbReplicas(), r.Combined())
	}
	if st, _ := readSwarmStatus(t, p); func() int { _, running, _ := st.service("db"); return running }() != 1 {
		t.Errorf("the command that scaled db back returned before db ran again:\n%+v", st)
	}
	if h := helpers(); h != "" {
		t.Errorf("helper containers left on %s after the next command: %s", dbNode.Name, h)
	}
	step("backup killed mid-copy: helper removed on " + dbNode.Name + ", db scaled back through the gate")

	// Ctrl-C while a restore of the first backup replaces db's volume on
	// the worker (8 MB to write): the volume is rolled back from the safety
	// backup, db is scaled back and runs again before stackpilot exits 130.
	dbFile("rm /data/big; echo changed > /data/f")
	hostMarker := filepath.Join(p.Dir, ".stackpilot", "backup-in-progress.json")
	cmd = exec.Command(itest.Binary(t), "backup", "restore", firstBackup, "--yes")
	var stderr strings.Builder
	cmd.Dir, cmd.Env, cmd.Stderr = p.Dir, append(itest.BaseEnv(), p.Env...), &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if b, _ := os.ReadFile(hostMarker); strings.Contains(string(b), `"incomplete"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restore did not start replacing db's volume within 60 s\n%s", stderr.String())
		}
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	var ee *exec.ExitError
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(stderr.String(), "from the safety backup") || !strings.Contains(stderr.String(), "cancelled — volume ") {
		t.Fatalf("Ctrl-C during a Swarm restore: %v, want exit 130 and the volume rolled back\n%s", err, stderr.String())
	}
	if st, _ := readSwarmStatus(t, p); dbReplicas() != "1" || func() int { _, running, _ := st.service("db"); return running }() != 1 {
		t.Fatalf("after Ctrl-C during the restore db is not running again (replicas %s)\n%s", dbReplicas(), stderr.String())
	}
	if got := dbFile("cat /data/f; ls /data"); got != "changed\nf" {
		t.Errorf("after Ctrl-C during the restore db's volume holds %q, want its state before the restore", got)
	}
	for _, m := range []string{hostMarker, filepath.Join(p.Dir, ".stackpilot", "swarm-scaled-to-zero.json")} {
		if _, err := os.Stat(m); err == nil {
			t.Errorf("%s left after Ctrl-C during the restore", m)
		}
	}
	if h := helpers(); h != "" {
		t.Errorf("helper containers left on %s after Ctrl-C: %s", dbNode.Name, h)
	}
	step("restore interrupted (SIGINT): volume rolled back, db running")

	// After a SIGKILL, db's task no longer starts (changed while it was at
	// 0: its command exits 3, and a healthcheck keeps the task from being
	// seen running before that): the next command says db did not come
	// back and why, from the gate — the task, its node, its exit code.
	cmd, _ = startBackup()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	w.Manager.MustExec(t, "docker", "service", "update", "--detach", "--args", `sh -c "echo db broken; exit 3"`,
		"--health-cmd", "true", "--health-interval", "1s", p.Name+"_db")
	if r := p.Run("status"); !strings.Contains(r.Stderr, "scaled db to 1 again, but they did not come back: task db.") ||
		!strings.Contains(r.Stderr, "on node "+dbNode.Name) || !strings.Contains(r.Stderr, "non-zero exit (3)") {
		t.Fatalf("after a SIGKILL with db failing to start, status does not say so:\n%s", r.Combined())
	}
	w.Manager.MustExec(t, "docker", "service", "update", "--detach", "--args", `sh -c "echo db up; exec sleep 100000"`, "--no-healthcheck", p.Name+"_db")
	itest.Eventually(t, 60*time.Second, "db running again", func() bool {
		st, _ := readSwarmStatus(t, p)
		_, running, _ := st.service("db")
		return running == 1
	})
	step("backup killed, db failing: the gate's reason shown")
	// doctor: the manager, the nodes (one drained: a warning), the registry
	// from the manager's engine, db pinned with its volume.
	doc := p.Run("doctor", "--json")
	for _, want := range []string{`"name": "swarm manager"`, `"detail": "3 of 3 ready; not taking tasks: ` + other.Name + ` (drain)"`,
		registry + ` answers`, `"detail": "every service with a volume is pinned to a node"`} {
		if !strings.Contains(doc.Stdout, want) {
			t.Errorf("doctor --json lacks %s:\n%s", want, doc.Combined())
		}
	}
	// The menu on a terminal: the header says swarm · 3 nodes; the Nodes
	// view shows the drained node and where web's tasks run.
	term := itest.StartTerminal(t, p.Dir, p.Env)
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	if !term.ScreenContains("swarm · 3 nodes") {
		t.Errorf("menu header lacks swarm · 3 nodes:\n%s", term.Screen())
	}
	if term.ScreenContains("Stop services") {
		t.Errorf("the menu offers Stop on a Swarm:\n%s", term.Screen())
	}
	if !term.ScreenContains("Backups") {
		t.Errorf("the menu hides Backups on a Swarm, where they work:\n%s", term.Screen())
	}
	time.Sleep(300 * time.Millisecond)
	term.Send("Nodes", itest.KeyEnter)
	term.Expect("AVAILABILITY")
	term.Expect("What do you want to do?")
	screen := term.Screen()
	if !strings.Contains(screen, other.Name) || !strings.Contains(screen, "drain") || !strings.Contains(screen, "web.") {
		t.Errorf("Nodes view lacks the drained node or web's tasks:\n%s", screen)
	}
	// Backups through the menu, as on one host: create one (all services:
	// db's volume, on its worker), change the data, restore it — choosing
	// it from the list and typing the project name back — and the data is
	// back on the worker's volume.
	dbFile("echo menu > /data/f")
	step("menu: Backups")
	menuCreateBackup(term, "menu-swarm")
	step("menu: backup written")
	term.Expect("backup create --tag menu-swarm")
	term.Expect("What do you want to do?")
	dbFile("echo menu-changed > /data/f; touch /data/menu-new")
	term.Send("Backups", itest.KeyEnter)
	term.Expect("Backups — what do you want to do?")
	term.Send("Restore", itest.KeyEnter)
	term.Expect("Which backup do you want to restore?")
	term.Expect("tag menu-swarm")
	term.Send(itest.KeyEnter)
	term.Expect("to confirm")
	answerCursorQuery(term)
	term.SendLine(p.Name)
	term.Expect("restored backup")
	term.Expect("What do you want to do?")
	if got := dbFile("cat /data/f; ls /data; cat /loaded"); got != "menu\nf\nmenu" {
		t.Errorf("db's volume on %s after the menu restore holds %q (then the dump loaded), want the menu backup's f=menu, nothing else, and its dump", dbNode.Name, got)
	}
	step("backup create and restore through the menu")
	term.Expect("Quit")
	time.Sleep(300 * time.Millisecond)
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Errorf("Quit: exit %d\n%s", code, term.Screen())
	}
	step("done")
}
