package wizard_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// remoteJobsStack runs on a server: web serves on the SERVER's loopback
// (127.0.0.1:{{port}}, a port free on this machine, so a probe made from
// here could not pass), keeps data in a named volume, and takes its image tag
// and its last step from .env — WEB_STEP=exit=3 makes a deploy fail fast,
// WEB_TAG=v2 is a second image for a rollback. site (busybox) has sh and
// wget, which a probe over tcp:// needs on the server, and a relative bind
// mount, which Compose resolves on this machine.
const remoteJobsStack = `services:
  web:
    image: stackpilot-fixture:${WEB_TAG:-latest}
    command: ["serve=:8080", "print=web started", "${WEB_STEP:-wait}"]
    ports: ["127.0.0.1:{{port}}:8080"]
    volumes: ["data:/data"]
    healthcheck:
      test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"]
      interval: 1s
      timeout: 2s
      retries: 3
  site:
    image: ` + itest.BusyboxImage + `
    command: ["sh", "-c", "mkdir -p /www && echo ok >/www/index.html && exec httpd -f -p 8081 -h /www"]
    ports: ["127.0.0.1:{{siteport}}:8081"]
    volumes: ["./conf:/conf:ro"]
volumes:
  data: {}
x-stackpilot:
  deploy: {timeout: 120s, settle: 1s}
  probes:
    web: http://127.0.0.1:{{port}}/health
    site: http://127.0.0.1:{{siteport}}/
`

// remoteWay is one way to point stackpilot at the server.
type remoteWay struct {
	name string
	args []string // global flags
	env  []string
	host string // the endpoint status names
}

// Every job against one server container and one stack, the jobs spread
// over the three ways to reach it — ssh:// (-H), a docker context, and
// tcp:// with TLS (certificates made in the test) — and status with probes
// through each: deploy failing fast, env edit and redeploy, status with
// probes made on the server's side, backup create (archive on this machine)
// + verify + restore (data back on the server's volume), a second image and
// a rollback, logs -f across a dropped connection and Ctrl-C/kill without an
// ssh process left, a changed host key ending logs -f, and stop. On the way:
// Compose is given the same engine (nothing lands on this machine's), one
// ssh connection per status, and the engine picked as the docker CLI picks
// it (DOCKER_HOST, -H over it, DOCKER_CONTEXT, docker context use, --context
// default, an unknown context listing the known ones).
func TestIntegrationRemoteJobs(t *testing.T) {
	t.Parallel() // a server of its own; most of the time is waiting on it
	srv := itest.StartServer(t, itest.ServerOptions{TLS: true})
	cfg := remoteDockerConfig(t)
	base := []string{srv.SSH.PathEnv(), "DOCKER_CONFIG=" + cfg}
	dockerWith(t, base, "context", "create", "srv", "--docker", "host="+srv.Host())
	srv.MustExec(t, "sh", "-c", `printf 'FROM stackpilot-fixture:latest\nLABEL stackpilot.test=v2\n' | docker build -q -t stackpilot-fixture:v2 - >/dev/null`)
	imageID := func(ref string) string {
		return strings.TrimSpace(srv.Docker(t, "image", "inspect", "-f", "{{.Id}}", ref))
	}
	v1ID, v2ID := imageID("stackpilot-fixture:latest"), imageID("stackpilot-fixture:v2")

	port, siteport := itest.FreePort(t), itest.FreePort(t)
	stack := strings.NewReplacer("{{port}}", fmt.Sprint(port), "{{siteport}}", fmt.Sprint(siteport)).Replace(remoteJobsStack)
	p := itest.NewProject(t, stack, map[string]string{".env": "WEB_STEP=exit=3"})
	p.OnServer = true
	p.Env = base

	// The parts that never run Compose are the same for both variants:
	// checked on v2 only (v1 over ssh makes every Compose command slow).
	engineOnly := itest.Variant() == "v2"
	ssh := remoteWay{"ssh://", []string{"-H", srv.Host()}, base, srv.Host()}
	byContext := remoteWay{"context", []string{"--context", "srv"}, base, srv.Host()}
	// REQUESTS_CA_BUNDLE pointing at the system's bundle, as on many
	// machines: Compose v1 (python-requests) would verify the daemon against
	// it instead of DOCKER_CERT_PATH's CA, had stackpilot not cleared it.
	tlsWay := remoteWay{"tcp:// with TLS", nil, append(append([]string{"REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt"}, base...), srv.TLSEnv()...), srv.TLSHost()}
	run := func(w remoteWay, args ...string) itest.Result {
		t.Helper()
		return itest.Run(t, p.Dir, w.env, append(append([]string{}, w.args...), args...)...)
	}
	webContainer := func() string {
		return strings.TrimSpace(srv.Docker(t, "ps", "-q", "--filter", "label=com.docker.compose.project="+p.Name, "--filter", "label=com.docker.compose.service=web"))
	}

	// Deploy fails fast: web exits 3 at once and the gate says so.
	start := time.Now()
	res := run(ssh, "deploy", "--yes", "--json")
	dep := parseDeploy(t, res)
	if res.Code != 1 || dep.OK {
		t.Fatalf("deploy with web exiting 3: exit %d\n%s", res.Code, res.Combined())
	}
	for _, argv := range dep.Commands {
		if got := strings.Join(argv[:3], " "); got != "docker --host "+srv.Host() && got != "docker-compose --host "+srv.Host() {
			t.Errorf("Compose was not pointed at the server: %q", argv)
		}
	}
	// Fail fast: well before the gate's 120 s (which would come on top of
	// Compose's own time; v1 over ssh is slow to create containers).
	var timing struct {
		DurationMS int64 `json:"duration_ms"`
	}
	_ = json.Unmarshal([]byte(res.Stdout), &timing)
	if took := time.Duration(timing.DurationMS) * time.Millisecond; took <= 0 || took >= 120*time.Second || !strings.Contains(res.Stderr, "web: exited with status 3") {
		t.Fatalf("the failing deploy took %s (%s in all) and said:\n%s", took, time.Since(start), res.Stderr)
	}

	// The .env edit and a redeploy, through the context.
	if res := run(byContext, "env", "set", "WEB_STEP=wait"); res.Code != 0 {
		t.Fatalf("env set: exit %d\n%s", res.Code, res.Combined())
	}
	res = run(byContext, "deploy", "--yes")
	if res.Code != 0 {
		t.Fatalf("deploy --context srv after the .env edit: exit %d\n%s", res.Code, res.Combined())
	}
	bindWarning := "service site mounts " + filepath.Join(p.Dir, "conf") + " at /conf"
	if !strings.Contains(res.Stderr, bindWarning) || !strings.Contains(res.Stderr, "the server's own") {
		t.Errorf("deploy on a remote engine does not warn about the relative bind mount:\n%s", res.Stderr)
	}
	if got := onEngine(t, nil, p.Name); len(got) != 0 {
		t.Fatalf("the deploy created containers on this machine's engine: %v", got)
	}

	// Status with probes, each way: the probes reach the server's loopback.
	for _, w := range []remoteWay{ssh, byContext, tlsWay} {
		before := srv.SSHLogins(t)
		res := run(w, "status", "--json")
		var rows []statusRow
		if err := json.Unmarshal([]byte(res.Stdout), &rows); err != nil || res.Code != 0 {
			t.Fatalf("status --json through %s: exit %d, %v\n%s", w.name, res.Code, err, res.Combined())
		}
		for _, r := range rows {
			if !r.OK || r.Probe == nil || !r.Probe.OK {
				t.Errorf("through %s: %s not ok or its probe failed: %+v %+v", w.name, r.Service, r, r.Probe)
			}
			if r.Endpoint.Host != w.host {
				t.Errorf("through %s: the row names endpoint %+v, want %s", w.name, r.Endpoint, w.host)
			}
		}
		if w.name == "context" && (len(rows) == 0 || rows[0].Endpoint.Context != "srv") {
			t.Errorf("through the context: endpoint %+v", rows)
		}
		if logins := srv.SSHLogins(t) - before; w.name != tlsWay.name && logins != 1 {
			t.Errorf("status through %s opened %d ssh connections, want 1", w.name, logins)
		}
	}
	if out, _ := exec.Command("pgrep", "-a", "-f", "ControlPath=.*stackpilot-ssh.*"+srv.IP).Output(); len(out) > 0 {
		t.Errorf("ssh processes left behind after status: %s", out)
	}
	// The plain table's summary says whose containers it shows.
	if res := run(byContext, "status"); res.Code != 0 || !strings.Contains(res.Stderr, "are up · on srv ("+byContext.host+")") {
		t.Errorf("plain status through the context does not name the engine: exit %d\n%s", res.Code, res.Combined())
	}

	// The engine as the docker CLI picks it: DOCKER_HOST alone; -H over
	// DOCKER_HOST (this machine's socket, where the project does not exist);
	// DOCKER_CONTEXT; `docker context use`; --context default; a context
	// nobody made.
	hostEnv := append(append([]string{}, base...), "DOCKER_HOST="+srv.Host())
	if res := itest.Run(t, p.Dir, hostEnv, "status"); res.Code != 0 || !strings.Contains(res.Stdout, "healthy") {
		t.Fatalf("status with DOCKER_HOST=%s: exit %d\n%s", srv.Host(), res.Code, res.Combined())
	}
	if res := itest.Run(t, p.Dir, hostEnv, "-H", "unix:///var/run/docker.sock", "status"); res.Code != 3 || !strings.Contains(res.Stdout, "not created") {
		t.Fatalf("-H unix:// with DOCKER_HOST=ssh://: exit %d\n%s", res.Code, res.Combined())
	}
	if res := itest.Run(t, p.Dir, append(append([]string{}, base...), "DOCKER_CONTEXT=srv"), "status"); res.Code != 0 {
		t.Fatalf("status with DOCKER_CONTEXT=srv: exit %d\n%s", res.Code, res.Combined())
	}
	dockerWith(t, base, "context", "use", "srv")
	if res := itest.Run(t, p.Dir, base, "restart", "--yes"); res.Code != 0 {
		t.Fatalf("restart after docker context use srv: exit %d\n%s", res.Code, res.Combined())
	}
	if res := itest.Run(t, p.Dir, base, "--context", "default", "status"); res.Code != 3 {
		t.Fatalf("status --context default (this machine, where nothing runs): exit %d\n%s", res.Code, res.Combined())
	}
	dockerWith(t, base, "context", "use", "default")
	if res := itest.Run(t, p.Dir, base, "--context", "prdo", "status"); res.Code != 2 || !strings.Contains(res.Stderr, `docker context "prdo" not found`) || !strings.Contains(res.Stderr, "default, srv") {
		t.Fatalf("an unknown --context: exit %d\n%s", res.Code, res.Combined())
	}

	// What follows up to doctor does not involve Compose: checked once, on v2.
	if engineOnly {
		// A CA that did not sign the server's certificate, and no client
		// certificate at all: refused either way, saying which side refused.
		for _, c := range []struct {
			what, certs, says string
		}{
			{"another CA", srv.TLS.OtherCA(t), "certificate was rejected"},
			{"no client certificate", onlyCA(t, srv.TLS.Dir), "refused the TLS connection"},
		} {
			start := time.Now()
			res := itest.Run(t, p.Dir, append(append([]string{}, base...), "DOCKER_HOST="+srv.TLSHost(), "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+c.certs), "status")
			if res.Code != 1 || !strings.Contains(res.Stderr, c.says) || time.Since(start) > 15*time.Second {
				t.Errorf("TLS with %s: exit %d after %s\n%s", c.what, res.Code, time.Since(start).Round(time.Millisecond), res.Combined())
			}
		}
	}

	// doctor names the endpoint too, and warns about the bind mount.
	if res := run(tlsWay, "doctor", "--json"); !strings.Contains(res.Stdout, `"host": "`+srv.TLSHost()+`"`) {
		t.Errorf("doctor --json through TLS does not name the endpoint: exit %d\n%s", res.Code, res.Combined())
	}
	if res := run(byContext, "doctor"); !strings.Contains(res.Stdout, "reachable at "+srv.Host()+" (context srv)") || !strings.Contains(res.Stdout, bindWarning) {
		t.Errorf("doctor through the context: exit %d\n%s", res.Code, res.Combined())
	}

	// Backup over TLS: the archive lands here; verify over ssh; restore
	// through the context puts the data back on the server's volume.
	srv.Docker(t, "exec", webContainer(), "/fixture", "write=/data/note.txt:before the backup")
	res = run(tlsWay, "backup", "create", "--json")
	var created struct {
		Backup struct {
			ID   string `json:"id"`
			Path string `json:"path"`
		} `json:"backup"`
	}
	if res.Code != 0 || json.Unmarshal([]byte(res.Stdout), &created) != nil || created.Backup.ID == "" {
		t.Fatalf("backup create over TLS: exit %d\n%s", res.Code, res.Combined())
	}
	if _, err := os.Stat(created.Backup.Path); err != nil || !strings.HasPrefix(created.Backup.Path, p.Dir) {
		t.Fatalf("the archive %s is not on this machine in the project: %v", created.Backup.Path, err)
	}
	if res := run(ssh, "backup", "verify", created.Backup.ID); res.Code != 0 {
		t.Fatalf("backup verify over ssh: exit %d\n%s", res.Code, res.Combined())
	}
	srv.Docker(t, "exec", webContainer(), "/fixture", "write=/data/note.txt:changed after")
	if res := run(byContext, "backup", "restore", created.Backup.ID, "--yes", "--no-safety-backup"); res.Code != 0 {
		t.Fatalf("backup restore through the context: exit %d\n%s", res.Code, res.Combined())
	}
	if got := srv.Docker(t, "exec", webContainer(), "/fixture", "cat=/data/note.txt"); got != "before the backup" {
		t.Fatalf("after the restore the server's volume holds %q", got)
	}

	// A second image through an .env edit, and a rollback over TLS.
	if res := run(ssh, "env", "set", "WEB_TAG=v2"); res.Code != 0 {
		t.Fatalf("env set WEB_TAG: exit %d\n%s", res.Code, res.Combined())
	}
	if res := run(ssh, "deploy", "--yes"); res.Code != 0 {
		t.Fatalf("deploy v2 over ssh: exit %d\n%s", res.Code, res.Combined())
	}
	webImage := func() string {
		return strings.TrimSpace(srv.Docker(t, "inspect", "-f", "{{.Image}}", webContainer()))
	}
	if got := webImage(); got != v2ID {
		t.Fatalf("after deploying v2 web runs %s, want %s", got, v2ID)
	}
	if res := run(tlsWay, "rollback", "--yes"); res.Code != 0 {
		t.Fatalf("rollback over TLS: exit %d\n%s", res.Code, res.Combined())
	}
	if got := webImage(); got != v1ID {
		t.Fatalf("after the rollback web runs %s, want %s", got, v1ID)
	}

	if engineOnly { // logs -f involves no Compose: checked once, on v2
		// logs -f over ssh: the connection drops (the server's sshd sessions
		// killed); it says so, reconnects and shows the next start's line.
		lf := startLogsFollow(t, p.Dir, ssh)
		lf.waitOut(t, "web started", 1)
		srv.MustExec(t, "pkill", "-f", "sshd: root")
		lf.waitErr(t, "lost")
		lf.waitErr(t, "reconnected")
		srv.Docker(t, "restart", "-t", "1", webContainer())
		lf.waitOut(t, "web started", 2)
		lf.signal(t, syscall.SIGINT)
		if code := lf.wait(t); code != 130 {
			t.Errorf("logs -f after Ctrl-C: exit %d, want 130\n%s", code, lf.stderr.String())
		}
		noSSHOf(t, lf.cmd.Process.Pid)

		// Killed outright, it leaves no ssh process either (the master dies with it).
		lf = startLogsFollow(t, p.Dir, ssh)
		lf.waitOut(t, "web started", 1)
		lf.signal(t, syscall.SIGKILL)
		lf.wait(t)
		noSSHOf(t, lf.cmd.Process.Pid)

		// A changed host key ends logs -f with the error, no retrying.
		lf = startLogsFollow(t, p.Dir, ssh)
		lf.waitOut(t, "web started", 1)
		srv.MustExec(t, "sh", "-c", `pkill -x sshd; rm -f /etc/ssh/ssh_host_ed25519_key*; ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key && /usr/sbin/sshd -E /var/log/sshd.log -o HostKey=/etc/ssh/ssh_host_ed25519_key`)
		if code := lf.wait(t); code != 1 || !strings.Contains(lf.stderr.String(), "CHANGED") || !strings.Contains(lf.stderr.String(), "ssh-keygen -R "+srv.IP) {
			t.Errorf("logs -f after the host key changed: exit %d\n%s", code, lf.stderr.String())
		}
		noSSHOf(t, lf.cmd.Process.Pid)
	}

	// With the new key recorded, stop through Compose acts on the server.
	if err := srv.SSH.Trust(srv.IP, strings.TrimSpace(srv.MustExec(t, "sh", "-c", "cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub"))); err != nil {
		t.Fatal(err)
	}
	if res := run(ssh, "stop", "--yes"); res.Code != 0 {
		t.Fatalf("stop -H: exit %d\n%s", res.Code, res.Combined())
	}
	if out := srv.Docker(t, "ps", "-q", "--filter", "label=com.docker.compose.project="+p.Name); strings.TrimSpace(out) != "" {
		t.Fatalf("stop -H left the server's containers running: %q", out)
	}
}

// onlyCA is a DOCKER_CERT_PATH with the CA of dir and no client certificate.
func onlyCA(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "ca.pem"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// remoteDockerConfig is a docker config directory of the test's own, with
// the Compose v2 plugin and a config.json (Compose v1 reads contexts only
// beside one).
func remoteDockerConfig(t *testing.T) string {
	t.Helper()
	cfg := t.TempDir()
	if home, err := os.UserHomeDir(); err == nil {
		if _, err := os.Stat(filepath.Join(home, ".docker", "cli-plugins")); err == nil {
			if err := os.Symlink(filepath.Join(home, ".docker", "cli-plugins"), filepath.Join(cfg, "cli-plugins")); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// dockerWith runs the docker CLI with env added, failing the test on error.
func dockerWith(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	cmd.Env = append(itest.BaseEnv(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// followRun is a `stackpilot logs -f` running in the background.
type followRun struct {
	cmd            *exec.Cmd
	stdout, stderr *itest.SyncBuffer
	done           chan int
	once           sync.Once
	code           int
}

func startLogsFollow(t *testing.T, dir string, w remoteWay) *followRun {
	t.Helper()
	f := &followRun{stdout: &itest.SyncBuffer{}, stderr: &itest.SyncBuffer{}, done: make(chan int, 1)}
	f.cmd = exec.Command(itest.Binary(t), append(append([]string{}, w.args...), "logs", "-f", "web")...)
	f.cmd.Dir = dir
	f.cmd.Env = append(itest.BaseEnv(), w.env...)
	f.cmd.Stdout, f.cmd.Stderr = f.stdout, f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := f.cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		f.done <- code
	}()
	t.Cleanup(func() { _ = f.cmd.Process.Kill(); f.wait(t) })
	return f
}

func (f *followRun) waitOut(t *testing.T, s string, n int) {
	t.Helper()
	itest.Eventually(t, 60*time.Second, fmt.Sprintf("%d× %q on logs -f's stdout (stderr: %s)", n, s, f.stderr.String()), func() bool {
		return strings.Count(f.stdout.String(), s) >= n
	})
}

func (f *followRun) waitErr(t *testing.T, s string) {
	t.Helper()
	itest.Eventually(t, 60*time.Second, fmt.Sprintf("%q on logs -f's stderr (stderr: %s)", s, f.stderr.String()), func() bool {
		return strings.Contains(f.stderr.String(), s)
	})
}

func (f *followRun) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := f.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait returns the exit code (-1 for a signal), failing after 60 s.
func (f *followRun) wait(t *testing.T) int {
	t.Helper()
	f.once.Do(func() {
		select {
		case f.code = <-f.done:
		case <-time.After(60 * time.Second):
			t.Errorf("logs -f did not end within 60 s\n%s", f.stderr.String())
			_ = f.cmd.Process.Kill()
			f.code = <-f.done
		}
	})
	return f.code
}

// noSSHOf fails when an ssh process started by the stackpilot process pid
// (its control socket names the pid) is still there a few seconds on.
func noSSHOf(t *testing.T, pid int) {
	t.Helper()
	pattern := fmt.Sprintf("stackpilot-ssh-[0-9]+/ssh-%d-", pid)
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, _ := exec.Command("pgrep", "-a", "-f", pattern).Output()
		if len(bytes.TrimSpace(out)) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("ssh processes of stackpilot %d left behind:\n%s", pid, out)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
