package swarm

import (
	"context"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// A backup finds a service's node from its placement constraint: a
// hostname as written, a node id or label only when it matches one node;
// an unpinned service is refused, naming the constraint to add.
func TestPinnedNode(t *testing.T) {
	node := func(id, host string, labels map[string]string) engine.Node {
		var n engine.Node
		n.ID, n.Description.Hostname, n.Spec.Labels = id, host, labels
		return n
	}
	nodes := []engine.Node{node("abc123", "w1", map[string]string{"db": "yes", "zone": "a"}), node("def456", "w2", map[string]string{"zone": "a"})}
	for _, tc := range []struct {
		constraints []string
		want, err   string
	}{
		{[]string{"node.role == worker", "node.hostname == w9"}, "w9", ""},
		{[]string{"node.id==def"}, "w2", ""},
		{[]string{"node.labels.db == yes"}, "w1", ""},
		{[]string{"node.labels.zone == a"}, "", "matches 2 nodes (w1, w2)"},
		{[]string{"node.id == zzz"}, "", "matches 0 nodes"},
		{[]string{"node.role == worker"}, "", `not pinned to a node`},
		{nil, "", `["node.hostname == NODE"]`},
	} {
		got, err := pinnedNode("db", "mounts a volume", tc.constraints, nodes)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("%v: %q, %v; want %q", tc.constraints, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%v: %q, %v; want an error with %q", tc.constraints, got, err, tc.err)
		}
		if needsNodes(tc.constraints) != (tc.want != "w9" && tc.constraints != nil && tc.constraints[0] != "node.role == worker") {
			t.Errorf("%v: needsNodes = %v", tc.constraints, needsNodes(tc.constraints))
		}
	}
}

// A service with a dump is located like one with a volume — its dump runs
// in its task, through the node's engine — but is not paused: unpinned it
// is refused, naming the dump; pinned elsewhere than the volumes, one node
// per run; pinned with them, the job reaches that node.
func TestBackupAccessLocatesDumpServices(t *testing.T) {
	ctx := context.Background()
	stack := func(dbPin, cachePin string) *Cluster {
		t.Helper()
		pin := func(p string) string {
			if p == "" {
				return ""
			}
			return "\n    deploy: {placement: {constraints: [\"node.hostname == " + p + "\"]}}"
		}
		dir := itest.WriteFiles(t, map[string]string{"compose.yaml": `services:
  db:
    image: x
    volumes: [data:/data]` + pin(dbPin) + `
  cache:
    image: x` + pin(cachePin) + `
  web:
    image: x
volumes:
  data: {}
x-stackpilot:
  orchestrator: swarm
  nodes: {w1: "tcp://127.0.0.1:9", w2: "tcp://127.0.0.1:9"}
  backup:
    dumps:
      - {service: cache, name: keys, dump: ["cat", "/k"], restore: ["sh", "-c", "cat > /k"]}
`})
		st, err := stackops.Load(ctx, stackops.LoadOptions{ProjectDir: dir, Environ: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		return &Cluster{Stack: st}
	}
	if _, err := stack("w1", "").BackupAccess(ctx, []string{"cache"}, "backup", 0, nil); err == nil ||
		!strings.Contains(err.Error(), "cache has a dump in x-stackpilot.backup.dumps, which runs in its task, but is not pinned to a node") {
		t.Fatalf("unpinned dump service: %v", err)
	}
	if _, err := stack("w1", "w2").BackupAccess(ctx, nil, "backup", 0, nil); err == nil || !strings.Contains(err.Error(), "a backup job reaches one node — run it once per node with --service") {
		t.Fatalf("dump service on another node than the volume: %v", err)
	}
	c := stack("", "w2")
	sw, err := c.BackupAccess(ctx, []string{"cache"}, "backup", 0, nil)
	if err != nil || sw.Node != "w2" || sw.SwarmService("cache") != c.Stack.Name+"_cache" || sw.TaskLabel != "com.docker.swarm.service.name" {
		t.Fatalf("dump-only service pinned to w2: %+v, %v", sw, err)
	}
	if _, err := stack("w1", "").BackupAccess(ctx, []string{"web"}, "backup", 0, nil); err == nil || !strings.Contains(err.Error(), "web mount no named volume and have no dump in x-stackpilot.backup.dumps") {
		t.Fatalf("service with neither: %v", err)
	}
}
