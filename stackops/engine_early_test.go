package stackops

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// fakeDaemon serves a unix socket that answers /_ping and /containers/json,
// counting each; unix://PATH is its address.
type fakeDaemon struct {
	host  string
	mu    sync.Mutex
	calls map[string]int
}

func startFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDaemon{host: "unix://" + sock, calls: map[string]int{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.mu.Lock()
		d.calls[r.URL.Path]++
		d.mu.Unlock()
		w.Header().Set("API-Version", "1.41")
		if r.URL.Path != "/_ping" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte("[]"))
		}
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return d
}

func (d *fakeDaemon) count(path string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[path]
}

// A stack loaded with WarmEngine uses the client its load started — one
// ping for the whole command, made while the project loaded — when its own
// endpoint is the same; with another endpoint (a variable the stack's
// environment sets differently) it resolves its own, and an ssh:// endpoint
// is never dialled early.
func TestWarmEngine(t *testing.T) {
	ctx := context.Background()
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: x\n"})
	d := startFakeDaemon(t)
	environ := []string{"DOCKER_HOST=" + d.host, "HOME=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir()}

	st, err := Load(ctx, LoadOptions{WorkDir: dir, Environ: environ, WarmEngine: true})
	if err != nil {
		t.Fatal(err)
	}
	early := st.engineEarly
	if early == nil {
		t.Fatal("no early engine")
	}
	eng, err := st.Engine()
	if err != nil || eng != early.client {
		t.Fatalf("the stack did not take the early client: %v", err)
	}
	if _, err := eng.ListContainers(ctx, true, nil); err != nil {
		t.Fatal(err)
	}
	if ep, err := st.Endpoint(); err != nil || ep.Host != d.host {
		t.Fatalf("endpoint %+v, %v", ep, err)
	}
	if n := d.count("/_ping"); n != 1 {
		t.Fatalf("%d pings, want 1", n)
	}
	st.Close()

	// The stack's environment names another engine: the early client is
	// closed, the stack's own is used.
	other := startFakeDaemon(t)
	e := startEarlyEngine(ctx, LoadOptions{}, environ)
	if ep, c := e.take(LoadOptions{}, append(append([]string{}, environ...), "DOCKER_HOST="+other.host)); c != nil {
		t.Fatalf("took an early client for %s while the stack resolves %s", ep.Host, other.host)
	}
	if ep, c := startEarlyEngine(ctx, LoadOptions{}, environ).take(LoadOptions{Host: other.host}, environ); c != nil {
		t.Fatalf("took an early client for %s while -H says %s", ep.Host, other.host)
	}

	// ssh:// is not warmed (it would log in before the command needs it).
	e = startEarlyEngine(ctx, LoadOptions{Host: "ssh://nobody@192.0.2.1"}, environ)
	if _, c := e.take(LoadOptions{Host: "ssh://nobody@192.0.2.1"}, environ); c != nil {
		t.Fatal("an ssh:// endpoint was warmed")
	}

	// Never taken: Close releases it.
	st, err = Load(ctx, LoadOptions{WorkDir: dir, Environ: environ, WarmEngine: true})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if st.engineEarly != nil {
		t.Fatal("Close left the early engine")
	}
}
