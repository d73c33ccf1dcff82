package stackops

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// x-stackpilot.nodes: a node's endpoint is read as given; a missing node's
// error names the key to add, a value without a scheme says what to give.
func TestNodeHost(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  db:\n    image: x\nx-stackpilot:\n  orchestrator: swarm\n  nodes: {w1: ssh://root@10.0.0.7, w2: 10.0.0.8}\n"})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := st.NodeHost("w1"); err != nil || h != "ssh://root@10.0.0.7" {
		t.Fatalf("NodeHost(w1) = %q, %v", h, err)
	}
	_, err = st.NodeHost("w3")
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "x-stackpilot.nodes names no endpoint for node w3") || !strings.Contains(err.Error(), "w3: ssh://root@w3") {
		t.Fatalf("NodeHost(w3): %v", err)
	}
	if _, err := st.NodeHost("w2"); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "ssh://root@w2") {
		t.Fatalf("NodeHost(w2): %v", err)
	}
}
