package backup

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// pauseSwarm writes each replica count to the Swarm marker before Pause
// scales the service down, removes the marker once resume brought them
// back, keeps it when resume failed (the next command scales them back),
// and refuses a second run while the first holds the lock.
func TestPauseSwarmMarker(t *testing.T) {
	st := &stackops.Stack{Dir: t.TempDir()}
	path := filepath.Join(st.Dir, ".stackpilot", swarmMarkerName)
	var seen []string
	resumeErr := errors.New("gate failed")
	var failResume bool
	eng, err := engine.New("tcp://127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	sw := &OnSwarm{Node: "w1", Engine: eng, SwarmService: func(s string) string { return "proj_" + s }}
	sw.Pause = func(ctx context.Context, record func(string, uint64) error) (func(context.Context) error, error) {
		// The node is on disk before anything is scaled (or a helper created on it).
		if d, err := readSwarmMarker(path); err != nil || d.Node != "w1" || d.Host != "tcp://127.0.0.1:9" || len(d.Scaled) != 0 {
			t.Fatalf("marker before Pause: %+v, %v — want the node and its engine recorded", d, err)
		}
		if err := record("db", 3); err != nil {
			return nil, err
		}
		d, err := readSwarmMarker(path)
		if err != nil || len(d.Scaled) != 1 || d.Scaled[0] != (swarmScaled{Service: "db", SwarmService: "proj_db", Replicas: 3}) || !strings.HasPrefix(d.Op, "backup ") || d.Node != "w1" {
			t.Fatalf("marker before the scale-down: %+v, %v", d, err)
		}
		return func(ctx context.Context) error {
			if ctx.Err() != nil {
				t.Error("resume got a cancelled context")
			}
			seen = append(seen, "resumed")
			if failResume {
				return resumeErr
			}
			return nil
		}, nil
	}

	ctx, cancel := context.WithCancel(context.Background())
	resume, err := pauseSwarm(ctx, st, sw, "backup create")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pauseSwarm(context.Background(), st, sw, "backup create"); err == nil || !strings.Contains(err.Error(), "another stackpilot") {
		t.Fatalf("second run while the first holds the marker: %v", err)
	}
	cancel() // a Ctrl-C: the services still come back
	if err := resume(ctx); err != nil || len(seen) != 1 {
		t.Fatalf("resume: %v %v", err, seen)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("marker left after a good resume: %v", err)
	}

	failResume = true
	resume, err = pauseSwarm(context.Background(), st, sw, "backup restore")
	if err != nil {
		t.Fatal(err)
	}
	if err := resume(context.Background()); !errors.Is(err, resumeErr) {
		t.Fatalf("resume: %v", err)
	}
	if d, err := readSwarmMarker(path); err != nil || len(d.Scaled) != 1 {
		t.Fatalf("marker after a failed resume: %+v, %v — want it kept for the next command", d, err)
	}
	_ = os.Remove(path)

	// A failed Pause: what it recorded is checked again through the
	// manager — unreachable here, so the record stays for the next command.
	sw.Pause = func(ctx context.Context, record func(string, uint64) error) (func(context.Context) error, error) {
		_ = record("db", 1)
		return nil, errors.New("task still running")
	}
	if _, err := pauseSwarm(context.Background(), st, sw, "backup create"); err == nil || err.Error() != "task still running" {
		t.Fatalf("want Pause's error, got %v", err)
	}
	d, err := readSwarmMarker(path)
	if err != nil || len(d.Scaled) != 1 || d.Scaled[0].Replicas != 1 {
		t.Fatalf("marker after a failed pause that could not be checked: %+v, %v", d, err)
	}
	// The next run keeps that record (a service Recover held at 0) next to its own.
	sw.Pause = func(ctx context.Context, record func(string, uint64) error) (func(context.Context) error, error) {
		if err := record("cache", 2); err != nil {
			return nil, err
		}
		return func(context.Context) error { return nil }, nil
	}
	resume, err = pauseSwarm(context.Background(), st, sw, "backup restore")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := readSwarmMarker(path); err != nil || len(d.Scaled) != 2 || d.Scaled[0].Service != "db" || d.Scaled[1].Service != "cache" {
		t.Fatalf("marker with an earlier run's record: %+v, %v", d, err)
	}
	if err := resume(context.Background()); err == nil || !strings.Contains(err.Error(), "could not scale db back") {
		t.Fatalf("resume with the earlier service unreachable: %v", err)
	}
	if d, err := readSwarmMarker(path); err != nil || len(d.Scaled) != 1 || d.Scaled[0].Service != "db" {
		t.Fatalf("marker after resume: %+v, %v — want only db left", d, err)
	}
}
