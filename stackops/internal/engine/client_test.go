package engine

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"testing"
)

// A first ping cut short by its caller (Ctrl-C as a command starts) is not
// remembered: the clean-up that follows, with its own context, reaches the
// daemon. (It was remembered once, and a deploy cancelled in its first
// milliseconds reported every running service as "no container".)
func TestCancelledPingIsNotRemembered(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	pings := 0
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pings++
		w.Header().Set("API-Version", "1.41")
		w.WriteHeader(http.StatusOK)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	c, err := New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.APIVersion(cancelled); err == nil {
		t.Fatal("a ping with a cancelled context succeeded")
	}
	v, err := c.APIVersion(context.Background())
	if err != nil || v != "1.41" {
		t.Fatalf("after a cancelled ping: %q, %v", v, err)
	}
	if _, err := c.APIVersion(context.Background()); err != nil || pings != 1 {
		t.Fatalf("the answer was not remembered: %d pings, %v", pings, err)
	}
}
