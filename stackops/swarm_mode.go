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
