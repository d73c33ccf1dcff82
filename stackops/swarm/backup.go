package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// taskServiceLabel is the label Swarm puts on a task's container, valued
// with the service's name.
const taskServiceLabel = "com.docker.swarm.service.name"

// pauseWait bounds how long the tasks of a paused service may take to stop.
const pauseWait = 2 * time.Minute

// BackupAccess prepares a backup or restore of services (every service with
// a named volume when empty) on the Swarm: it finds the node that holds
// their volumes from their placement constraint (node.hostname == X or
// node.id == Y) — and the node of the services with a dump, which runs in
// their task there — connects to that node's own engine through
// x-stackpilot.nodes, and returns the access package backup uses — with a
// pause that scales the services to 0 through the manager and a resume that
// scales them back and waits on the Swarm health gate (timeout). Services
// on different nodes are refused: one node per run (--service).
func (c *Cluster) BackupAccess(ctx context.Context, services []string, op string, timeout time.Duration, sink stackops.EventSink) (*backup.OnSwarm, error) {
	st := c.Stack
	if sink == nil {
		sink = stackops.NopSink{}
	}
	if timeout == 0 {
		timeout = stackops.DefaultGateTimeout
	}
	names, err := st.ResolveServices(services)
	if err != nil {
		return nil, err
	}
	cfg, err := backup.ConfigOf(st)
	if err != nil {
		return nil, err
	}
	hasDump := map[string]bool{}
	for _, d := range cfg.Dumps {
		hasDump[d.Service] = true
	}
	// stateful services mount a volume (paused for the copy); located ones
	// have a volume or a dump (run in their task): all must be on the node.
	var stateful, located []string
	pinned := map[string]string{} // service → node hostname
	var nodes []engine.Node
	for _, n := range names {
		svc := st.Project.Services[n]
		hasVolume := false
		for _, v := range svc.Volumes {
			if v.Type == "volume" && v.Source != "" {
				hasVolume = true
			}
		}
		if !hasVolume && !hasDump[n] {
			continue
		}
		located = append(located, n)
		what := "has a dump in " + stackops.ConfigExtension + ".backup.dumps, which runs in its task,"
		if hasVolume {
			stateful = append(stateful, n)
			what = "mounts a volume"
		}
		var constraints []string
		if svc.Deploy != nil {
			constraints = svc.Deploy.Placement.Constraints
		}
		if nodes == nil && needsNodes(constraints) {
			if nodes, err = c.Engine.ListNodes(ctx); err != nil {
				return nil, c.explain(ctx, err)
			}
		}
		hostname, err := pinnedNode(n, what, constraints, nodes)
		if err != nil {
			return nil, err
		}
		pinned[n] = hostname
	}
	if len(located) == 0 {
		return nil, fmt.Errorf("%w: %s mount no named volume and have no dump in %s.backup.dumps", backup.ErrNothingToBackUp, strings.Join(names, ", "), stackops.ConfigExtension)
	}
	node := pinned[located[0]]
	for _, n := range located[1:] {
		if pinned[n] != node {
			return nil, fmt.Errorf("%s is pinned to node %s and %s to %s (their volumes and dumps are there): a backup job reaches one node — run it once per node with --service", located[0], node, n, pinned[n])
		}
	}
	host, err := st.NodeHost(node)
	if err != nil {
		return nil, err
	}
	eng, err := engine.New(host)
	if err != nil {
		return nil, fmt.Errorf("node %s (%s): %w", node, host, err)
	}
	sw := &backup.OnSwarm{Node: node, Engine: eng, TaskLabel: taskServiceLabel,
		SwarmService: func(s string) string { return serviceName(st.Name, s) }}
	// The image a task of the service ran on the node makes the helper
	// containers: it is there, whatever registry it came from.
	for _, n := range stateful {
		list, err := eng.ListContainers(ctx, true, engine.Filters{"label": {taskServiceLabel + "=" + serviceName(st.Name, n)}})
		if err != nil {
			return nil, fmt.Errorf("node %s (%s): %w", node, host, stackops.DockerError(err))
		}
		if len(list) > 0 {
			sw.Image = list[0].ImageID
			break
		}
	}
	sw.Pause = func(ctx context.Context, record func(string, uint64) error) (func(context.Context) error, error) {
		return c.pause(ctx, op, stateful, timeout, sink, record)
	}
	sw.Gate = c.holdGate(op, timeout, sink)
	return sw, nil
}

// holdGate is backup.SwarmGate on this cluster: the deploy's health gate,
// over the tasks read before the services are scaled back.
func (c *Cluster) holdGate(op string, timeout time.Duration, sink stackops.EventSink) backup.SwarmGate {
	return func(ctx context.Context) (func(context.Context, []string) error, error) {
		before, err := c.marks(ctx)
		if err != nil {
			return nil, c.explain(ctx, err)
		}
		return func(ctx context.Context, names []string) error {
			g, err := c.gate(ctx, op, names, before, timeout, sink)
			if err != nil {
				return err
			}
			return gateError(g, timeout)
		}, nil
	}
}

// RecoveryGate is the health gate backup.Recover holds services to when
// it scales back what a killed backup or restore left at 0 replicas: the
// deploy's gate on the stack's manager, bounded by x-stackpilot
// deploy.timeout. It connects only when called (when there is something to
// scale back).
func RecoveryGate(st *stackops.Stack) backup.SwarmGate {
	return func(ctx context.Context) (func(context.Context, []string) error, error) {
		c, err := Open(ctx, st)
		if err != nil {
			return nil, err
		}
		cfg, err := st.DeployConfig()
		if err != nil {
			return nil, err
		}
		return c.holdGate("recover", cfg.Timeout.Or(stackops.DefaultGateTimeout), stackops.NopSink{})(ctx)
	}
}

// pause scales services to 0 and waits until none of their tasks runs; the
// returned resume scales each back to its replica count and holds them to
// the gate. A service already at 0 stays so.
func (c *Cluster) pause(ctx context.Context, op string, names []string, timeout time.Duration, sink stackops.EventSink, record func(string, uint64) error) (func(context.Context) error, error) {
	replicas := map[string]uint64{}
	var paused []string
	resume := func(ctx context.Context) error {
		if len(paused) == 0 {
			return nil
		}
		wait, err := c.holdGate(op, timeout, sink)(ctx)
		if err != nil {
			return err
		}
		for _, n := range paused {
			// Interrupted while its task was stopping: Swarm would start the
			// new task beside the old container, two processes on one volume.
			if err := c.waitStopped(ctx, n, time.Now().Add(pauseWait)); err != nil {
				return fmt.Errorf("scale %s back to %d: %w", n, replicas[n], err)
			}
			s, err := c.Engine.InspectService(ctx, serviceName(c.Stack.Name, n))
			if err != nil {
				return fmt.Errorf("scale %s back to %d: %w", n, replicas[n], c.explain(ctx, err))
			}
			sink.Event(stackops.Event{Op: op, Service: n, Phase: "starting", Message: fmt.Sprintf("scaled back to %d", replicas[n]), Time: time.Now()})
			if err := c.Engine.ScaleService(ctx, s, replicas[n]); err != nil {
				return fmt.Errorf("scale %s back to %d (docker service scale %s=%d): %w", n, replicas[n], s.Spec.Name, replicas[n], err)
			}
		}
		return wait(ctx, paused)
	}
	for _, n := range names {
		s, err := c.Engine.InspectService(ctx, serviceName(c.Stack.Name, n))
		if err != nil {
			if errors.Is(err, engine.ErrNotFound) {
				continue
			}
			return c.undo(resume, c.explain(ctx, err))
		}
		if s.Spec.Mode.Replicated == nil {
			return c.undo(resume, fmt.Errorf("%s is a global service: stackpilot pauses a service by scaling it to 0 — make it replicated (deploy.mode: replicated) to back it up", n))
		}
		want := uint64(s.Spec.Replicas())
		if want == 0 {
			continue
		}
		if record != nil {
			if err := record(n, want); err != nil {
				return c.undo(resume, err)
			}
		}
		sink.Event(stackops.Event{Op: op, Service: n, Phase: "stopping", Message: "scaled to 0 for a consistent copy", Time: time.Now()})
		if err := c.Engine.ScaleService(ctx, s, 0); err != nil {
			return c.undo(resume, fmt.Errorf("scale %s to 0: %w", n, err))
		}
		replicas[n] = want
		paused = append(paused, n)
	}
	deadline := time.Now().Add(pauseWait)
	for _, n := range paused {
		if err := c.waitStopped(ctx, n, deadline); err != nil {
			return c.undo(resume, err)
		}
		sink.Event(stackops.Event{Op: op, Service: n, Phase: "stopped", Time: time.Now()})
	}
	return resume, nil
}

// waitStopped waits until no task of service n (scaled to 0) still runs
// (its container stopped, the stop grace period included), until deadline.
func (c *Cluster) waitStopped(ctx context.Context, n string, deadline time.Time) error {
	for {
		tasks, err := c.Engine.ListTasks(ctx, engine.Filters{"service": {serviceName(c.Stack.Name, n)}})
		if err != nil {
			return err
		}
		live := 0
		for _, t := range tasks {
			if t.Live() {
				live++
			}
		}
		if live == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d task(s) still running %s after it was scaled to 0", n, live, pauseWait)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(gatePoll):
		}
	}
}

// undo resumes what a failed pause scaled down, and returns the failure.
func (c *Cluster) undo(resume func(context.Context) error, err error) (func(context.Context) error, error) {
	_ = resume(context.Background())
	return nil, err
}

// needsNodes says whether pinnedNode needs the node list for these constraints.
func needsNodes(constraints []string) bool {
	for _, con := range constraints {
		if strings.HasPrefix(strings.ReplaceAll(con, " ", ""), "node.hostname==") {
			return false
		}
	}
	for _, con := range constraints {
		con = strings.ReplaceAll(con, " ", "")
		if strings.HasPrefix(con, "node.id==") || strings.HasPrefix(con, "node.labels.") {
			return true
		}
	}
	return false
}

// pinnedNode is the hostname of the one node a service's placement
// constraints pin it to: node.hostname == X, or the node a node.id == or
// node.labels.K == V constraint matches — which must be exactly one.
func pinnedNode(service, what string, constraints []string, nodes []engine.Node) (string, error) {
	var id, label string
	for _, con := range constraints {
		con = strings.ReplaceAll(con, " ", "")
		if h, ok := strings.CutPrefix(con, "node.hostname=="); ok {
			return h, nil
		} else if i, ok := strings.CutPrefix(con, "node.id=="); ok {
			id = i
		} else if l, ok := strings.CutPrefix(con, "node.labels."); ok && strings.Contains(l, "==") {
			label = l
		}
	}
	if id == "" && label == "" {
		return "", fmt.Errorf("%s %s but is not pinned to a node, so its task may be on any node — pin it with deploy.placement.constraints: [\"node.hostname == NODE\"] and deploy again, or leave it out (--service)", service, what)
	}
	k, v, _ := strings.Cut(label, "==")
	pin := "node.labels." + k + " == " + v
	if id != "" {
		pin = "node.id == " + id
	}
	var match []string
	for _, nd := range nodes {
		if (id != "" && strings.HasPrefix(nd.ID, id)) || (id == "" && nd.Spec.Labels[k] == v) {
			match = append(match, nd.Description.Hostname)
		}
	}
	if len(match) != 1 {
		return "", fmt.Errorf("%s is pinned to %s, which matches %d nodes (%s), and its volume or dump is on one — pin it to exactly one node (`docker node ls`)", service, pin, len(match), strings.Join(match, ", "))
	}
	return match[0], nil
}
