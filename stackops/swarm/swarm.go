// Package swarm runs a stack on a Docker Swarm: the same compose file and
// the same jobs as on one engine, with Swarm placing, restarting and rolling
// the services (`docker stack deploy`) and stackpilot making that safe and
// visible — images built and pushed to a registry every node can pull, the
// compose model rendered with .env already interpolated, rolling-update
// defaults, and a health gate that follows the tasks on every node.
//
// A stack is in Swarm mode when x-stackpilot.orchestrator is "swarm" (or
// --swarm): stackops.Stack.SwarmMode. Every operation needs the engine to be
// a Swarm manager (Open). One file per operation: deploy, status, logs,
// rollback, doctor, nodes; render is the stack file, gate the health gate.
//
// Like stackops, this package never prints or prompts: progress goes to a
// stackops.EventSink and results are returned.
package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// ErrNotManager means the engine stackpilot talks to is not a Swarm manager:
// not in a Swarm at all, or a worker.
var ErrNotManager = errors.New("not a Swarm manager")

// StackLabel is the label `docker stack deploy` puts on every service,
// network, volume and task of a stack, valued with the stack's name.
const StackLabel = "com.docker.stack.namespace"

// Cluster is a stack on a Swarm, reached through a manager's engine.
type Cluster struct {
	Stack  *stackops.Stack
	Engine *engine.Client
}

// Open connects to the stack's engine and checks that it is a Swarm
// manager; anything else is an ErrNotManager error saying what to do:
// `docker swarm init`, or the managers to point -H/--context at.
func Open(ctx context.Context, st *stackops.Stack) (*Cluster, error) {
	eng, err := st.Engine()
	if err != nil {
		return nil, err
	}
	// /swarm answers only on a manager, in a millisecond; /info, which says
	// why not, takes far longer, so it is asked only then.
	if err := eng.SwarmManager(ctx); err != nil {
		var apiErr *engine.APIError
		if !errors.As(err, &apiErr) {
			return nil, err
		}
		info, ierr := eng.SwarmInfo(ctx)
		if ierr != nil {
			return nil, err
		}
		if merr := managerError(eng.Host(), info); merr != nil {
			return nil, merr
		}
		return nil, err
	}
	return &Cluster{Stack: st, Engine: eng}, nil
}

// Connect is Open without the manager check, for a read that explains a
// refusal itself (Status): the first call to a Swarm endpoint tells a
// manager from anything else, one round trip less.
func Connect(st *stackops.Stack) (*Cluster, error) {
	eng, err := st.Engine()
	if err != nil {
		return nil, err
	}
	return &Cluster{Stack: st, Engine: eng}, nil
}

// explain turns a Swarm endpoint's refusal (503: not a manager) into
// Open's error, saying what to do; other errors are returned as they are.
func (c *Cluster) explain(ctx context.Context, err error) error {
	var apiErr *engine.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 503 {
		return err
	}
	info, ierr := c.Engine.SwarmInfo(ctx)
	if ierr != nil {
		return err
	}
	if merr := managerError(c.Engine.Host(), info); merr != nil {
		return merr
	}
	return err
}

// managerError explains why an engine with this Swarm state cannot run a
// Swarm stack, or returns nil for an active manager.
func managerError(host string, info *engine.SwarmState) error {
	switch {
	case info.LocalNodeState == "active" && info.ControlAvailable:
		return nil
	case info.LocalNodeState == "active":
		var addrs []string
		for _, m := range info.RemoteManagers {
			addrs = append(addrs, m.Addr)
		}
		hint := "point -H (e.g. -H ssh://root@MANAGER) or --context at a manager"
		if len(addrs) > 0 {
			hint = fmt.Sprintf("point -H or --context at a manager (managers: %s; e.g. -H ssh://root@%s)",
				strings.Join(addrs, ", "), strings.Split(addrs[0], ":")[0])
		}
		return fmt.Errorf("%w: the engine at %s is a Swarm worker; Swarm stacks are deployed and read through a manager — %s", ErrNotManager, host, hint)
	case info.LocalNodeState == "locked":
		return fmt.Errorf("%w: the Swarm manager at %s is locked — run `docker swarm unlock` on it", ErrNotManager, host)
	case info.LocalNodeState == "pending":
		return fmt.Errorf("%w: the engine at %s is still joining a Swarm — try again in a moment (`docker info` shows its state)", ErrNotManager, host)
	case info.LocalNodeState == "error":
		return fmt.Errorf("%w: the engine at %s has a Swarm error: %s", ErrNotManager, host, info.Error)
	}
	return fmt.Errorf("%w: the engine at %s is not part of a Swarm (x-stackpilot.orchestrator or --swarm asks for one) — run `docker swarm init` on the machine that should manage it, or point -H/--context at an existing manager",
		ErrNotManager, host)
}

// serviceName is the Swarm service name of a compose service: the stack's
// name, an underscore, the service's.
func serviceName(stack, service string) string { return stack + "_" + service }

// composeName is the compose service a Swarm service of the stack is, "" when it is not the stack's.
func composeName(stack, name string) string {
	s, ok := strings.CutPrefix(name, stack+"_")
	if !ok {
		return ""
	}
	return s
}

// stackFilter selects the stack's objects.
func stackFilter(stack string) engine.Filters {
	return engine.Filters{"label": {StackLabel + "=" + stack}}
}
