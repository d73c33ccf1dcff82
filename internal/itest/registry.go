package itest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// RegistryImage is the image registry built by scripts/build-registry-image.sh
// (the CNCF distribution registry, FROM scratch): what gets the images a
// Swarm deploy builds to the worker nodes.
const RegistryImage = "stackpilot-registry:latest"

// StartRegistry runs the registry as a container on the swarm's network (on
// the host's engine, beside the servers) and returns its address, IP:5000:
// every node reaches it there, and trusts it without TLS (the servers'
// engines list the private ranges in insecure-registries). Removed when the
// test ends.
func (w *Swarm) StartRegistry(t testing.TB) string {
	t.Helper()
	if err := exec.Command("docker", "image", "inspect", RegistryImage).Run(); err != nil {
		t.Fatalf("image %s missing (scripts/build-registry-image.sh builds it)", RegistryImage)
	}
	name := UniqueName("spreg")
	out, err := exec.Command("docker", "run", "-d", "--name", name, "--network", w.Network,
		"--label", "stackpilot.itest=server", "--label", ownerLabel, RegistryImage).CombinedOutput()
	if err != nil {
		t.Fatalf("docker run %s: %v: %s", RegistryImage, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", "-v", name).Run() })
	ip, err := exec.Command("docker", "inspect", "-f", `{{(index .NetworkSettings.Networks "`+w.Network+`").IPAddress}}`, name).Output()
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimSpace(string(ip)) + ":5000"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if ctx.Err() != nil {
			logs, _ := exec.Command("docker", "logs", name).CombinedOutput()
			t.Fatalf("registry %s does not answer at %s: %v\n%s", name, addr, err, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// String is the swarm's nodes, for logs.
func (w *Swarm) String() string {
	var names []string
	for _, n := range w.Nodes() {
		names = append(names, fmt.Sprintf("%s@%s", n.Name, n.IP))
	}
	return strings.Join(names, " ")
}

var (
	tcpProxyOnce sync.Once
	tcpProxyPath string
	tcpProxyErr  error
)

// ServeTCP makes the server's engine answer on tcp://IP:2375 too (plain
// HTTP, as `dockerd -H tcp://…` without TLS), through a small proxy run
// inside the server (internal/itest/tcpproxy), and returns that host.
func (s *Server) ServeTCP(t testing.TB) string {
	t.Helper()
	tcpProxyOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stackpilot-tcpproxy-")
		if err != nil {
			tcpProxyErr = err
			return
		}
		tcpProxyPath = filepath.Join(dir, "tcpproxy")
		cmd := exec.Command("go", "build", "-o", tcpProxyPath, "./internal/itest/tcpproxy")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			tcpProxyErr = fmt.Errorf("go build tcpproxy: %v\n%s", err, out)
		}
	})
	if tcpProxyErr != nil {
		t.Fatal(tcpProxyErr)
	}
	if out, err := exec.Command("docker", "cp", tcpProxyPath, s.Name+":/usr/local/bin/tcpproxy").CombinedOutput(); err != nil {
		t.Fatalf("docker cp tcpproxy: %v: %s", err, out)
	}
	if out, err := exec.Command("docker", "exec", "-d", s.Name, "/usr/local/bin/tcpproxy", ":2375", "/var/run/docker.sock").CombinedOutput(); err != nil {
		t.Fatalf("start tcpproxy: %v: %s", err, out)
	}
	addr := s.IP + ":2375"
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return "tcp://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcpproxy in %s does not answer at %s: %v", s.Name, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
