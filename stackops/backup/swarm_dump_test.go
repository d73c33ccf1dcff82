package backup

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// taskEngine is a node's engine as far as finding a service's task goes:
// it answers the container list with the containers whose labels match
// the label filter and whose state matches the status filter, and records
// every list's filters.
type taskEngine struct {
	mu         sync.Mutex
	containers []engine.ContainerSummary
	filters    []map[string][]string
}

func startTaskEngine(t *testing.T, te *taskEngine) *engine.Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_ping" {
			w.Header().Set("API-Version", "1.41")
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/containers/json") {
			t.Errorf("unexpected request %s %s: nothing but finding the task may happen", r.Method, r.URL)
			http.Error(w, "unexpected", http.StatusInternalServerError)
			return
		}
		f := map[string][]string{}
		if q := r.URL.Query().Get("filters"); q != "" {
			if err := json.Unmarshal([]byte(q), &f); err != nil {
				// The map form ({"label": {"x": true}}) some clients send.
				var m map[string]map[string]bool
				if json.Unmarshal([]byte(q), &m) != nil {
					t.Errorf("filters %q", q)
				}
				for k, vs := range m {
					for v := range vs {
						f[k] = append(f[k], v)
					}
				}
			}
		}
		te.mu.Lock()
		te.filters = append(te.filters, f)
		te.mu.Unlock()
		out := []engine.ContainerSummary{}
	next:
		for _, c := range te.containers {
			for _, l := range f["label"] {
				k, v, hasV := strings.Cut(l, "=")
				if got, ok := c.Labels[k]; !ok || (hasV && got != v) {
					continue next
				}
			}
			if s := f["status"]; len(s) > 0 && s[0] != c.State {
				continue
			}
			out = append(out, c)
		}
		_ = json.NewEncoder(w).Encode(out)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, err := engine.New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func taskSwarm(t *testing.T, eng *engine.Client) *OnSwarm {
	return &OnSwarm{Node: "w1", Engine: eng, TaskLabel: "com.docker.swarm.service.name",
		SwarmService: func(s string) string { return "proj_" + s },
		Pause: func(context.Context, func(string, uint64) error) (func(context.Context) error, error) {
			t.Error("a service was paused before the dump's task was found running")
			return nil, errors.New("paused")
		}}
}

func task(id, swarmService, state string) engine.ContainerSummary {
	return engine.ContainerSummary{ID: id, Names: []string{"/" + swarmService + ".1." + id}, State: state,
		Labels: map[string]string{"com.docker.swarm.service.name": swarmService}}
}

// A dump on a Swarm runs in its service's task on the node: swarmTasks
// finds the running task containers by Swarm's service label (Compose's
// labels are not on them), as containers of the compose service.
func TestSwarmTasksFindTheRunningTask(t *testing.T) {
	te := &taskEngine{containers: []engine.ContainerSummary{
		task("old", "proj_db", "exited"), // the task before a scale-back
		task("new", "proj_db", "running"),
		task("web1", "proj_web", "running"),
		task("other", "other_db", "running"), // another stack's db
	}}
	sw := taskSwarm(t, startTaskEngine(t, te))
	got, err := swarmTasks(context.Background(), sw, []string{"db", "db"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "new" || got[0].Service != "db" || !got[0].Running() || got[0].Name != "proj_db.1.new" {
		t.Fatalf("swarmTasks(db) = %+v, want only db's running task, as a container of db", got)
	}
	if c := runningContainer(got, "db"); c == nil || c.ID != "new" {
		t.Fatalf("runningContainer: %+v", c)
	}
	if len(te.filters) != 1 {
		t.Fatalf("want one list for db (deduplicated), got %v", te.filters)
	}
	if f := te.filters[0]; len(f["label"]) != 1 || f["label"][0] != "com.docker.swarm.service.name=proj_db" || len(f["status"]) != 1 || f["status"][0] != "running" {
		t.Fatalf("filters %v", f)
	}
}

func dumpStack(t *testing.T) *stackops.Stack {
	t.Helper()
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": `services:
  db:
    image: x
x-stackpilot:
  backup:
    dir: ./bk
    dumps:
      - {service: db, name: f, dump: ["cat", "/data/f"], restore: ["sh", "-c", "cat > /data/f"]}
`})
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A backup on a Swarm whose dump's service has no running task on the node
// (scaled to 0, or its task failing) is refused before anything happens —
// no service paused, no archive written — saying what to do.
func TestSwarmDumpNeedsARunningTask(t *testing.T) {
	st := dumpStack(t)
	te := &taskEngine{containers: []engine.ContainerSummary{task("old", "proj_db", "exited")}}
	sw := taskSwarm(t, startTaskEngine(t, te))
	_, err := Create(context.Background(), st, CreateOptions{Swarm: sw})
	want := "dump db/f needs db running on node w1 (its command runs in the service's task there) — scale it up (docker service scale proj_db=1) or leave it out (--service)"
	if err == nil || err.Error() != want {
		t.Fatalf("Create: %v\nwant %s", err, want)
	}
	if entries, _ := os.ReadDir(filepath.Join(st.Dir, "bk")); len(entries) > 1 || (len(entries) == 1 && entries[0].Name() != ".gitignore") {
		t.Fatalf("the refused backup left %v", entries)
	}
}

// A restore on a Swarm loads a dump into its service's running task: with
// none running, it is refused before it asks — nothing changed.
func TestSwarmRestoreDumpNeedsARunningTask(t *testing.T) {
	st := dumpStack(t)
	bk := filepath.Join(st.Dir, "bk")
	if err := os.MkdirAll(bk, 0o700); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(bk, backupFileName(st.Name, "20261207-000000", "", false))
	w, err := createArchive(p, ArchiveHeader{Tool: "stackpilot", ID: "20261207-000000", Project: st.Name, Services: []string{"db"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.addDump(ManifestEntry{Kind: EntryDump, Path: "dumps/db/f/", Services: []string{"db"}, Dump: "f"}, strings.NewReader("before\n"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := w.commit(); err != nil {
		t.Fatal(err)
	}
	te := &taskEngine{}
	sw := taskSwarm(t, startTaskEngine(t, te))
	_, err = Restore(context.Background(), st, RestoreOptions{Ref: "latest", Swarm: sw, Confirm: func(context.Context, stackops.Confirmation) (bool, error) {
		t.Error("asked to confirm a restore that cannot load its dump")
		return false, nil
	}})
	if err == nil || !strings.Contains(err.Error(), "dump db/f needs db running on node w1") || !strings.Contains(err.Error(), "docker service scale proj_db=1") || !strings.HasSuffix(err.Error(), "nothing was changed") {
		t.Fatalf("Restore: %v", err)
	}
}

// Dumps taken before a Swarm pause wait in a spool that never holds them in
// the clear, go into the archive after the volumes in the order taken, and
// leave nothing behind.
func TestDumpSpool(t *testing.T) {
	dir := t.TempDir()
	s, err := newDumpSpool()
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.Repeat("row 42: canary-5b1e\n", 1000)
	for _, name := range []string{"a", "b"} {
		e := ManifestEntry{Kind: EntryDump, Path: "dumps/db/" + name + "/", Services: []string{"db"}, Dump: name}
		if err := s.store(dir, "proj", "20261207-000000", e, strings.NewReader(name+":"+secret)); err != nil {
			t.Fatal(err)
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, ".proj_*.tmp")) // what removeStaleTemps removes
	if len(files) != 2 {
		t.Fatalf("spool files %v", files)
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), "canary-5b1e") {
			t.Fatalf("%s holds the dump in the clear", f)
		}
	}
	w, err := createArchive(filepath.Join(dir, "proj_x.tar.zst"), ArchiveHeader{Tool: "stackpilot", ID: "x", Project: "proj"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.writeTo(w); err != nil {
		t.Fatal(err)
	}
	if len(w.manifest.Entries) != 2 || w.manifest.Entries[0].Dump != "a" || w.manifest.Entries[1].Dump != "b" || w.manifest.Entries[1].Size != int64(len("b:"+secret)) {
		t.Fatalf("archive entries %+v", w.manifest.Entries)
	}
	w.abort()
	s.remove()
	if left, _ := filepath.Glob(filepath.Join(dir, ".proj_*.tmp")); len(left) != 0 {
		t.Fatalf("spool left %v", left)
	}
}
