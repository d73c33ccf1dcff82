package engine

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stackpilot/stackpilot/internal/testcerts"
	"github.com/stackpilot/stackpilot/stackops/endpoint"
)

// fakeEngine is a Go HTTP server on a unix socket, like dockerd: it answers
// /_ping and /containers/{id}/json, counting requests and connections.
type fakeEngine struct {
	requests, conns atomic.Int64
	// closeAfter makes the server drop each connection after this many
	// inspects (0: never), as a proxy that does not keep connections would.
	closeAfter int64
	mu         sync.Mutex
	perConn    map[net.Conn]int64
}

func startFakeEngine(t *testing.T, f *fakeEngine) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := f.server("")
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, err := New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// server is the fake engine's HTTP server; prefix is a path the daemon is
// reached under (tcp://host/prefix).
func (f *fakeEngine) server(prefix string) *http.Server {
	f.perConn = map[net.Conn]int64{}
	return &http.Server{
		ConnState: func(c net.Conn, s http.ConnState) {
			if s == http.StateNew {
				f.conns.Add(1)
			}
		},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context { return context.WithValue(ctx, connKey{}, c) },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			path, ok := strings.CutPrefix(r.URL.Path, prefix)
			if !ok {
				http.Error(w, "not under "+prefix, http.StatusNotFound)
				return
			}
			if path == "/_ping" {
				w.Header().Set("API-Version", "1.41")
				return
			}
			f.requests.Add(1)
			id, ok := strings.CutSuffix(strings.TrimPrefix(path, "/v1.41/containers/"), "/json")
			if !ok {
				http.Error(w, "unexpected "+r.URL.Path, http.StatusBadRequest)
				return
			}
			if f.closeAfter > 0 {
				c := r.Context().Value(connKey{}).(net.Conn)
				f.mu.Lock()
				f.perConn[c]++
				n := f.perConn[c]
				f.mu.Unlock()
				if n >= f.closeAfter {
					w.Header().Set("Connection", "close")
				}
			}
			switch {
			case strings.HasPrefix(id, "gone"):
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprintf(w, `{"message":"No such container: %s"}`, id)
			case strings.HasPrefix(id, "broken"):
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"message":"the daemon is sad"}`)
			default:
				fmt.Fprintf(w, `{"Id":%q,"Name":"/%s-name","RestartCount":%d,"State":{"Status":"running","Running":true}}`+"\n", id, id, len(id))
			}
		}),
	}
}

type connKey struct{}

func TestInspectContainersPipelinesOnFewConnections(t *testing.T) {
	f := &fakeEngine{}
	c := startFakeEngine(t, f)
	var ids []string
	for i := range 200 {
		ids = append(ids, fmt.Sprintf("c%03d", i))
	}
	ids[17] = "gone17"
	got, err := c.InspectContainers(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		switch {
		case id == "gone17":
			if got[i] != nil {
				t.Fatalf("a removed container was not nil: %+v", got[i])
			}
		case got[i] == nil || got[i].ID != id || got[i].Name != "/"+id+"-name" || got[i].RestartCount != len(id):
			t.Fatalf("answer %d for %s: %+v", i, id, got[i])
		}
	}
	if n := f.requests.Load(); n != 200 {
		t.Fatalf("%d inspect requests, want 200", n)
	}
	// 200 inspects on at most batchMaxConns connections (plus the ping's).
	if n := f.conns.Load(); n > batchMaxConns+1 {
		t.Fatalf("%d connections for one batch", n)
	}
}

func TestInspectContainersFailsOnEngineError(t *testing.T) {
	c := startFakeEngine(t, &fakeEngine{})
	_, err := c.InspectContainers(context.Background(), []string{"a", "broken", "b"})
	if err == nil || !strings.Contains(err.Error(), "the daemon is sad") {
		t.Fatalf("err %v", err)
	}
}

// A connection closed halfway (a proxy that does not pipeline) costs
// speed, never answers: the rest is asked one by one.
func TestInspectContainersFallsBackWhenTheConnectionCloses(t *testing.T) {
	f := &fakeEngine{closeAfter: 3}
	c := startFakeEngine(t, f)
	var ids []string
	for i := range 40 {
		ids = append(ids, fmt.Sprintf("c%02d", i))
	}
	got, err := c.InspectContainers(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if got[i] == nil || got[i].ID != id {
			t.Fatalf("answer %d for %s: %+v", i, id, got[i])
		}
	}
	// Each container was asked for once: the answered ones were not asked again.
	if n := f.requests.Load(); n != 40 {
		t.Fatalf("%d inspect requests for 40 containers", n)
	}
}

func TestInspectContainersCancelled(t *testing.T) {
	c := startFakeEngine(t, &fakeEngine{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.InspectContainers(ctx, []string{"a", "b", "c"}); err == nil {
		t.Fatal("a cancelled batch succeeded")
	}
}

// Over tcp:// with TLS, under a path prefix, the batch speaks to the daemon
// exactly as the client's other requests do.
func TestInspectContainersOverTLS(t *testing.T) {
	ca := testcerts.NewCA(t)
	f := &fakeEngine{}
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = f.server("/docker")
	srv.TLS = ca.ServerTLS(t, ca, "127.0.0.1")
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cert, key := ca.Client(t)
	c, err := NewEndpoint(&endpoint.Endpoint{Host: "tcp://" + srv.Listener.Addr().String() + "/docker", TLS: &endpoint.TLS{CA: ca.PEM, Cert: cert, Key: key, Origin: "test"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ids := []string{"a1", "b22", "gone", "c333"}
	got, err := c.InspectContainers(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		if (id == "gone") != (got[i] == nil) || (got[i] != nil && got[i].RestartCount != len(id)) {
			t.Fatalf("answer %d for %s: %+v", i, id, got[i])
		}
	}
	if n := f.requests.Load(); n != 4 {
		t.Fatalf("%d inspect requests", n)
	}
}
