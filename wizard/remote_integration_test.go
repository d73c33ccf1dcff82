package wizard_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// remoteStack is a one-service stack that passes the deploy gate quickly.
const remoteStack = `services:
  app:
    image: ` + itest.BusyboxImage + `
    command: ["sleep", "600"]
    healthcheck: {test: ["CMD", "true"], interval: 1s, timeout: 2s, retries: 3}
x-stackpilot:
  deploy: {timeout: 60s, settle: 1s}
`

// onEngine lists the project's containers on the host's engine (env nil) or
// through env (a server's).
func onEngine(t *testing.T, env []string, project string) []string {
	t.Helper()
	cmd := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+project)
	cmd.Env = append(itest.BaseEnv(), env...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("docker ps (%v): %v", env, err)
	}
	return strings.Fields(string(out))
}

// Every way an ssh:// engine can be out of reach ends in seconds with what
// to do — never a hang, never a prompt.
func TestIntegrationRemoteErrors(t *testing.T) {
	srv := itest.StartServer(t, itest.ServerOptions{Images: []string{}})
	p := itest.NewProject(t, remoteStack, nil)
	status := func(c *itest.SSHClient, host string) (itest.Result, time.Duration) {
		t.Helper()
		start := time.Now()
		res := itest.Run(t, p.Dir, []string{c.PathEnv()}, "-H", host, "status")
		return res, time.Since(start)
	}
	expect := func(what string, res itest.Result, took, max time.Duration, says ...string) {
		t.Helper()
		if res.Code != 1 {
			t.Errorf("%s: exit %d, want 1\n%s", what, res.Code, res.Combined())
		}
		for _, s := range says {
			if !strings.Contains(res.Stderr, s) {
				t.Errorf("%s: the message does not say %q:\n%s", what, s, res.Stderr)
			}
		}
		if took > max {
			t.Errorf("%s took %s (max %s)", what, took.Round(time.Millisecond), max)
		}
		t.Logf("%s (%s): %s", what, took.Round(time.Millisecond), strings.TrimSpace(res.Stderr))
	}

	emptyKnown := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(emptyKnown, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	res, took := status(srv.SSH.With(t, "", emptyKnown), srv.Host())
	expect("unknown host key", res, took, 15*time.Second, "not in known_hosts", "`ssh root@"+srv.IP+"`")

	stranger := itest.NewSSHClient(t).With(t, "", srv.SSH.KnownHosts)
	res, took = status(stranger, srv.Host())
	expect("a key the server refuses", res, took, 15*time.Second, "refused the login as root", "authorized_keys")

	// Nothing at this address on the server's network: no route.
	nobody := srv.IP[:strings.LastIndexByte(srv.IP, '.')] + ".250"
	res, took = status(srv.SSH, "ssh://root@"+nobody)
	expect("no host at the address", res, took, 20*time.Second, "No route to host", nobody)

	// A port whose packets are dropped: ssh's connect timeout, not a hang.
	srv.MustExec(t, "iptables", "-I", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "DROP")
	res, took = status(srv.SSH, "ssh://root@"+srv.IP+":2222")
	expect("a port that drops packets", res, took, 25*time.Second, "timed out", "-p 2222 root@"+srv.IP)

	// The server has no docker command.
	srv.MustExec(t, "mv", "/usr/bin/docker", "/usr/bin/docker.off")
	res, took = status(srv.SSH, srv.Host())
	expect("no docker on the server", res, took, 15*time.Second, "no docker command", "install Docker on the server")
	srv.MustExec(t, "mv", "/usr/bin/docker.off", "/usr/bin/docker")

	// The login works but the user may not use the server's docker socket.
	srv.MustExec(t, "sh", "-c", "useradd -m -s /bin/sh deploy && install -d -m 700 -o deploy /home/deploy/.ssh && install -m 600 -o deploy /root/.ssh/authorized_keys /home/deploy/.ssh/authorized_keys")
	res, took = status(srv.SSH, "ssh://deploy@"+srv.IP)
	expect("permission denied on the server's socket", res, took, 15*time.Second, "permission denied on the server's docker socket", "usermod -aG docker deploy")

	// Compose v1 without paramiko (hidden here by a package of that name
	// that fails to import) cannot reach ssh:// at all: said as such.
	if _, err := exec.LookPath("docker-compose"); err == nil {
		fake := t.TempDir()
		if err := os.MkdirAll(filepath.Join(fake, "paramiko"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fake, "paramiko", "__init__.py"), []byte("raise ImportError('hidden by the test')\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res := itest.Run(t, p.Dir, []string{srv.SSH.PathEnv(), "STACKPILOT_COMPOSE=v1", "PYTHONPATH=" + fake}, "-H", srv.Host(), "deploy", "--yes")
		if res.Code != 1 || !strings.Contains(res.Stderr, "Compose v1 (docker-compose) reaches ssh:// engines only through the Python package paramiko") {
			t.Errorf("Compose v1 without paramiko over ssh://: exit %d\n%s", res.Code, res.Combined())
		}
	}

	// It works with all of that put right.
	if res, _ := status(srv.SSH, srv.Host()); res.Code != 3 || !strings.Contains(res.Stdout, "not created") {
		t.Fatalf("status on the server: exit %d\n%s", res.Code, res.Combined())
	}
}
