package swarm

import (
	"context"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
)

// doctor warns about each service that keeps data on one node without being
// pinned there: a named volume, or a dump a backup runs in its task; a
// service pinned by hostname, id or label, and one with neither, pass.
func TestPinnedCheck(t *testing.T) {
	load := func(services string) *stackops.Stack {
		t.Helper()
		dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n" + services + `
volumes:
  data: {}
x-stackpilot:
  orchestrator: swarm
  backup:
    dumps:
      - {service: cache, name: keys, dump: ["cat", "/k"], restore: ["sh", "-c", "cat > /k"]}
`})
		st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	c := pinnedCheck(load(`  db: {image: x, volumes: ["data:/data"]}
  cache: {image: x}
  web: {image: x}`))
	if !c.Warning || !strings.Contains(c.Detail, "not pinned: cache (dump keys), db (volume data) — ") || !strings.Contains(c.Fix, "node.hostname == NODE") {
		t.Fatalf("unpinned volume and dump services: %+v", c)
	}
	c = pinnedCheck(load(`  db: {image: x, volumes: ["data:/data"], deploy: {placement: {constraints: ["node.labels.db == yes"]}}}
  cache: {image: x, volumes: ["data:/more"], deploy: {placement: {constraints: ["node.hostname == w1"]}}}
  web: {image: x}`))
	if c.Warning || !c.OK {
		t.Fatalf("pinned services: %+v", c)
	}
	c = pinnedCheck(load(`  db: {image: x, volumes: ["data:/data"], deploy: {placement: {constraints: ["node.id == abc"]}}}
  cache: {image: x, deploy: {placement: {constraints: ["node.role == worker"]}}}
  web: {image: x}`))
	if !c.Warning || !strings.Contains(c.Detail, "not pinned: cache (dump keys) — ") {
		t.Fatalf("a dump service constrained to a role, not a node: %+v", c)
	}
}
