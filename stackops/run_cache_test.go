package stackops

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func runningContainer(id, service, endpoint string, listedAt time.Time, status string) *Container {
	c := &Container{ID: id, Service: service, State: StateRunning, status: parseStatusText(status), listedAt: listedAt}
	if endpoint != "" {
		c.run = id + "/" + endpoint
	}
	return c
}

func TestRunCache(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs", "x.json")
	header := runCacheHeader{Format: runCacheFormat, Host: "unix:///var/run/docker.sock", Project: "shop"}
	newCache := func() *runCache { return &runCache{path: path, header: header, runs: map[string]cachedRun{}} }
	listed := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	started := listed.Add(-3*time.Minute - 10*time.Second)

	rc := newCache()
	c := runningContainer("c1", "api", "ep1", listed, "Up 3 minutes")
	if _, ok := rc.get(c); ok {
		t.Fatal("hit in an empty cache")
	}
	c.Detail = &ContainerDetail{Fresh: true, Created: started.Add(-time.Second), StartedAt: started, RestartCount: 2, Tty: true, ConfigImage: "shop/api:1"}
	rc.put(c)
	rc.save()

	rc = newCache()
	d, ok := rc.get(runningContainer("c1", "api", "ep1", listed, "Up 3 minutes"))
	if !ok || !d.StartedAt.Equal(started) || d.RestartCount != 2 || !d.Tty || d.ConfigImage != "shop/api:1" || d.Fresh {
		t.Fatalf("from the file: %+v ok=%v", d, ok)
	}
	for name, other := range map[string]*Container{
		"another run (new endpoint)":               runningContainer("c1", "api", "ep2", listed, "Up 3 minutes"),
		"no endpoint of its own":                   runningContainer("c1", "api", "", listed, "Up 3 minutes"),
		"the engine's uptime says it restarted":    runningContainer("c1", "api", "ep1", listed, "Up 5 seconds"),
		"an uptime text this parser does not read": runningContainer("c1", "api", "ep1", listed, "Up a while"),
		"no daemon clock to check the uptime with": runningContainer("c1", "api", "ep1", time.Time{}, "Up 3 minutes"),
		"another container":                        runningContainer("c2", "api", "ep1", listed, "Up 3 minutes"),
	} {
		if _, ok := rc.get(other); ok {
			t.Errorf("%s: hit", name)
		}
	}

	// A file for another engine or project, or that does not parse, is not read.
	for name, hdr := range map[string]runCacheHeader{
		"another engine":  {Format: runCacheFormat, Host: "ssh://root@server", Project: "shop"},
		"another project": {Format: runCacheFormat, Host: header.Host, Project: "blog"},
		"another format":  {Format: "stackpilot-runs-v0", Host: header.Host, Project: "shop"},
	} {
		other := &runCache{path: path, header: hdr, runs: map[string]cachedRun{}}
		if _, ok := other.get(runningContainer("c1", "api", "ep1", listed, "Up 3 minutes")); ok {
			t.Errorf("%s read the file", name)
		}
	}
	if err := os.WriteFile(path, []byte(`{"format": "stackpilot-runs-v1", "runs": {`), 0o600); err != nil {
		t.Fatal(err)
	}
	rc = newCache()
	if _, ok := rc.get(runningContainer("c1", "api", "ep1", listed, "Up 3 minutes")); ok {
		t.Fatal("a corrupt file was read")
	}
	// ... and is replaced by the next write.
	rc.put(c)
	rc.save()
	if _, ok := newCache().get(runningContainer("c1", "api", "ep1", listed, "Up 3 minutes")); !ok {
		t.Fatal("the corrupt file was not replaced")
	}
}

// Containers of a fully listed service that are gone are dropped from the
// file; those of services not listed are kept.
func TestRunCacheForgetsRemovedContainers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs.json")
	header := runCacheHeader{Format: runCacheFormat, Host: "h", Project: "p"}
	listed := time.Now().Truncate(time.Second)
	rc := &runCache{path: path, header: header, runs: map[string]cachedRun{}}
	for _, id := range []string{"a1", "a2", "b1"} {
		c := runningContainer(id, id[:1], "ep", listed, "Up Less than a second")
		c.Detail = &ContainerDetail{Fresh: true, StartedAt: listed}
		rc.put(c)
	}
	rc.save()

	rc = &runCache{path: path, header: header, runs: map[string]cachedRun{}}
	a2 := runningContainer("a2", "a", "ep", listed, "Up Less than a second")
	rc.sawAll([]string{"a"}, []*Container{a2})
	c := runningContainer("a3", "a", "ep", listed, "Up Less than a second")
	c.Detail = &ContainerDetail{Fresh: true, StartedAt: listed}
	rc.put(c)
	rc.save()

	rc = &runCache{path: path, header: header, runs: map[string]cachedRun{}}
	rc.load()
	for id, want := range map[string]bool{"a1": false, "a2": true, "a3": true, "b1": true} {
		if _, ok := rc.runs[id]; ok != want {
			t.Errorf("%s kept=%v, want %v", id, ok, want)
		}
	}
}
