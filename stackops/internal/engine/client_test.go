package engine

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
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

// ListContainersFirst sends the list while the version is negotiated, at
// the oldest version, without waiting for /_ping; later calls use the
// negotiated version; a daemon too old for stackpilot is still refused
// with the negotiation's error, not the list's answer.
func TestListContainersFirstGoesAlongsideThePing(t *testing.T) {
	serve := func(t *testing.T, apiVersion string) (*Client, chan string) {
		sock := filepath.Join(t.TempDir(), "docker.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		paths := make(chan string, 10)
		listed := make(chan struct{})
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			paths <- r.URL.Path
			w.Header().Set("API-Version", apiVersion)
			switch {
			case r.URL.Path == "/_ping":
				// Answer the ping only once the list has arrived: a list
				// that waited for the ping would never come.
				<-listed
				w.WriteHeader(http.StatusOK)
			case strings.HasSuffix(r.URL.Path, "/containers/json"):
				if r.URL.Path == "/v"+minAPIVersion+"/containers/json" {
					select {
					case <-listed:
					default:
						close(listed)
					}
				}
				w.Write([]byte(`[{"Id":"abc","Names":["/x"]}]`))
			}
		})}
		go srv.Serve(l)
		t.Cleanup(func() { srv.Close() })
		c, err := New("unix://" + sock)
		if err != nil {
			t.Fatal(err)
		}
		return c, paths
	}

	c, paths := serve(t, "1.44")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := c.ListContainersFirst(ctx, false, nil)
	if err != nil || len(list) != 1 || list[0].ID != "abc" {
		t.Fatalf("first list: %v %v", list, err)
	}
	if _, err := c.ListContainers(ctx, false, nil); err != nil {
		t.Fatal(err)
	}
	close(paths)
	var got []string
	for p := range paths {
		got = append(got, p)
	}
	sort.Strings(got)
	if want := []string{"/_ping", "/v1.41/containers/json", "/v1.44/containers/json"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("requests %v, want %v", got, want)
	}

	old, _ := serve(t, "1.40")
	if _, err := old.ListContainersFirst(ctx, false, nil); err == nil || !strings.Contains(err.Error(), "speaks API 1.40") {
		t.Fatalf("a daemon too old: %v", err)
	}
}
