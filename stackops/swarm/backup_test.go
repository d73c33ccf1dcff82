package swarm

import (
	"strings"
	"testing"

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
