package itest

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test bed itself: a server container is another machine the docker CLI
// and Compose reach over ssh://, with an engine that is not the host's.
func TestIntegrationServer(t *testing.T) {
	srv := StartServer(t, ServerOptions{})
	t.Logf("server %s at %s started in %s (storage driver %s)", srv.Name, srv.IP, srv.Started.Round(time.Millisecond), srv.Driver)

	hostID, err := exec.Command("docker", "info", "--format", "{{.ID}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	serverID := srv.Docker(t, "info", "--format", "{{.ID}}")
	if strings.TrimSpace(serverID) == "" || strings.TrimSpace(serverID) == strings.TrimSpace(string(hostID)) {
		t.Fatalf("engine over %s has ID %q, the host's is %q: want another engine", srv.Host(), serverID, hostID)
	}
	if out := srv.Docker(t, "ps", "-a", "-q"); strings.TrimSpace(out) != "" {
		t.Fatalf("a new server has containers: %q", out)
	}
	if out := srv.Docker(t, "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"); !strings.Contains(out, BusyboxImage) || !strings.Contains(out, FixtureImage) {
		t.Fatalf("fixture images not loaded into the server's engine: %q", out)
	}

	// Compose (the variant under test) over ssh:// starts the service on the
	// server's engine only.
	p := NewProjectOn(t, srv, `services:
  box:
    image: `+BusyboxImage+`
    command: ["sleep", "300"]
`)
	p.Compose("up", "-d")
	onServer := srv.Docker(t, "ps", "-q", "--filter", "label=com.docker.compose.project="+p.Name)
	if len(strings.Fields(onServer)) != 1 {
		t.Fatalf("compose up -d over %s: containers on the server = %q, want 1", srv.Host(), onServer)
	}
	onHost, err := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+p.Name).Output()
	if err != nil || strings.TrimSpace(string(onHost)) != "" {
		t.Fatalf("the project's containers appeared on the host's engine: %q (%v)", onHost, err)
	}
	// The same container, seen from inside the server (not through ssh).
	if out := srv.MustExec(t, "docker", "ps", "-q", "--filter", "label=com.docker.compose.project="+p.Name); strings.TrimSpace(out) == "" {
		t.Fatal("the server's own docker CLI does not see the container")
	}
	if n := srv.SSHLogins(t); n < 1 {
		t.Fatalf("the server's sshd accepted %d logins, want at least one", n)
	}
}

func TestIntegrationSwarm(t *testing.T) {
	w := StartSwarm(t, 3)
	t.Logf("3-node swarm started in %s", w.Started.Round(time.Millisecond))
	out := w.Manager.Docker(t, "node", "ls", "--format", "{{.Hostname}} {{.Status}} {{.ManagerStatus}}")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("docker node ls over ssh: %q, want 3 nodes", out)
	}
	managers := 0
	for _, l := range lines {
		if !strings.Contains(l, " Ready") {
			t.Errorf("node not Ready: %q", l)
		}
		if strings.HasSuffix(l, "Leader") {
			managers++
		}
	}
	if managers != 1 {
		t.Errorf("want one leader: %q", out)
	}
	for _, s := range w.Workers {
		if state := strings.TrimSpace(s.MustExec(t, "docker", "info", "--format", "{{.Swarm.LocalNodeState}}")); state != "active" {
			t.Errorf("worker %s: swarm state %q", s.Name, state)
		}
	}
}
