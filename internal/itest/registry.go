package itest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
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
