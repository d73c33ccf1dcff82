package stackops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// On a remote engine, each bind mount Compose resolved on this machine (a
// relative path, or ~) is named with its service and path; an absolute path
// outside the project and home is taken for the server's own, named volumes
// are no bind mounts, and a local engine warns about nothing.
func TestClientBindMountsOnARemoteEngine(t *testing.T) {
	home := t.TempDir()
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": `services:
  web:
    image: x
    volumes: ["./site:/usr/share/html:ro", "/srv/shared:/shared", "data:/data"]
  api:
    image: x
    volumes: ["~/keys:/keys"]
  db:
    image: x
volumes: {data: {}}
`})
	load := func(host string) *Stack {
		t.Helper()
		st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Host: host, Environ: []string{"HOME=" + home, "DOCKER_CONFIG=" + t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	got := load("ssh://deploy@10.0.0.5").ClientBindMounts()
	// compose-go expands ~ with the process's home, not the environment's.
	realHome, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	want := []ClientBindMount{
		{Service: "api", Source: filepath.Join(realHome, "keys"), Target: "/keys"},
		{Service: "web", Source: filepath.Join(dir, "site"), Target: "/usr/share/html"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if msg := got[1].String(); !strings.Contains(msg, "service web") || !strings.Contains(msg, filepath.Join(dir, "site")) || !strings.Contains(msg, "server") {
		t.Errorf("message: %s", msg)
	}
	if got := load("tcp://203.0.113.7:2376").ClientBindMounts(); len(got) != 2 {
		t.Errorf("tcp:// to another machine: %+v", got)
	}
	for _, local := range []string{"unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"} {
		if got := load(local).ClientBindMounts(); len(got) != 0 {
			t.Errorf("%s is this machine: %+v", local, got)
		}
	}
}
