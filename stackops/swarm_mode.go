package stackops

import (
	"fmt"
	"strings"
)

// The orchestrators a stack can run on: Compose on one engine (the default),
// or a Docker Swarm through `docker stack deploy` (package stackops/swarm).
const (
	OrchestratorCompose = "compose"
	OrchestratorSwarm   = "swarm"
)

// Orchestrator says what runs the stack: "swarm" when --swarm was given or
// x-stackpilot.orchestrator says so, else "compose". Any other value of the
// key is an error naming the two accepted.
func (s *Stack) Orchestrator() (string, error) {
	if s.opts.Swarm {
		return OrchestratorSwarm, nil
	}
	var o string
	if err := s.config.Section("orchestrator", &o); err != nil {
		return "", err
	}
	switch strings.TrimSpace(o) {
	case "", OrchestratorCompose:
		return OrchestratorCompose, nil
	case OrchestratorSwarm:
		return OrchestratorSwarm, nil
	}
	return "", fmt.Errorf("%w: %s.orchestrator is %q; use %q (one engine, the default) or %q (a Docker Swarm)",
		ErrInvalidConfig, ConfigExtension, o, OrchestratorCompose, OrchestratorSwarm)
}

// SwarmMode reports whether the stack runs on a Docker Swarm (Orchestrator).
func (s *Stack) SwarmMode() (bool, error) {
	o, err := s.Orchestrator()
	return o == OrchestratorSwarm, err
}

// Registry is x-stackpilot.registry: where a Swarm deploy pushes the images
// it builds (host[:port][/path]), so that every node can pull them. "" when
// unset.
func (s *Stack) Registry() (string, error) {
	var r string
	if err := s.config.Section("registry", &r); err != nil {
		return "", err
	}
	r = strings.TrimSuffix(strings.TrimSpace(r), "/")
	if strings.Contains(r, "://") {
		return "", fmt.Errorf("%w: %s.registry is %q; give it without a scheme, as images name it (e.g. registry.example.com:5000)",
			ErrInvalidConfig, ConfigExtension, r)
	}
	return r, nil
}

// RecordHistory appends a deploy or rollback done outside this package (a
// Swarm deploy, package stackops/swarm) to the stack's history.
func (s *Stack) RecordHistory(r HistoryRecord) error { return s.appendHistory(r) }

// NodeHost is x-stackpilot.nodes[node]: the engine endpoint (ssh://user@host,
// tcp://…) of one Swarm node's own engine, the way a backup reaches the
// volume that lives on that node (a manager's API cannot read a worker's
// volumes). Without an entry, the error names the key to add.
func (s *Stack) NodeHost(node string) (string, error) {
	var nodes map[string]string
	if err := s.config.Section("nodes", &nodes); err != nil {
		return "", err
	}
	h := strings.TrimSpace(nodes[node])
	if h == "" {
		return "", fmt.Errorf("%w: stackpilot reaches a Swarm volume through the engine of the node that holds it, and %s.nodes names no endpoint for node %s — add it, e.g.\n  %s:\n    nodes:\n      %s: ssh://root@%s",
			ErrInvalidConfig, ConfigExtension, node, ConfigExtension, node, node)
	}
	if !strings.Contains(h, "://") {
		return "", fmt.Errorf("%w: %s.nodes.%s is %q; give an engine endpoint such as ssh://root@%s or tcp://%s:2376", ErrInvalidConfig, ConfigExtension, node, h, node, node)
	}
	return h, nil
}
