package swarm

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
)

// Doctor checks what a stack on a Swarm needs beyond one engine: a manager
// to talk to, nodes ready, the registry reachable (from the manager's
// engine, as the nodes reach it), and each service that keeps data in a
// volume pinned to one node (a volume lives on one node; a task moved
// elsewhere starts on an empty one).
func Doctor(ctx context.Context, st *stackops.Stack) []stackops.DoctorCheck {
	c, err := Open(ctx, st)
	if err != nil {
		return []stackops.DoctorCheck{{Name: "swarm manager", Detail: err.Error(),
			Fix: "run `docker swarm init` on the machine that manages the Swarm, or point -H/--context at a manager"}}
	}
	detail := c.Engine.Host()
	if info, err := c.Engine.SwarmInfo(ctx); err == nil {
		detail += fmt.Sprintf(" · %d nodes, %d managers", info.Nodes, info.Managers)
	}
	checks := []stackops.DoctorCheck{{Name: "swarm manager", OK: true, Detail: detail}}
	checks = append(checks, c.nodesCheck(ctx))
	checks = append(checks, c.registryCheck(ctx))
	checks = append(checks, pinnedCheck(st))
	return checks
}

func (c *Cluster) nodesCheck(ctx context.Context) stackops.DoctorCheck {
	nodes, err := c.Engine.ListNodes(ctx)
	if err != nil {
		return stackops.DoctorCheck{Name: "swarm nodes", Detail: err.Error()}
	}
	var down, drained []string
	for _, n := range nodes {
		if n.Status.State != "ready" {
			down = append(down, fmt.Sprintf("%s (%s)", n.Description.Hostname, n.Status.State))
		}
		if n.Spec.Availability != "active" {
			drained = append(drained, fmt.Sprintf("%s (%s)", n.Description.Hostname, n.Spec.Availability))
		}
	}
	sort.Strings(down)
	sort.Strings(drained)
	ch := stackops.DoctorCheck{Name: "swarm nodes", OK: len(down) == 0, Detail: fmt.Sprintf("%d of %d ready", len(nodes)-len(down), len(nodes))}
	if len(down) > 0 {
		ch.Detail += "; not ready: " + strings.Join(down, ", ")
		ch.Fix = "start the engine on those machines, or remove them (`docker node rm NODE` on a manager)"
	}
	if len(drained) > 0 {
		ch.Detail += "; not taking tasks: " + strings.Join(drained, ", ")
		ch.Warning = true
		if ch.Fix == "" {
			ch.Fix = "`docker node update --availability active NODE` when it may take tasks again"
		}
	}
	return ch
}

func (c *Cluster) registryCheck(ctx context.Context) stackops.DoctorCheck {
	st := c.Stack
	registry, err := st.Registry()
	if err != nil {
		return stackops.DoctorCheck{Name: "registry", Detail: err.Error()}
	}
	var built []string
	for _, n := range st.ServiceNames() {
		if st.Project.Services[n].Build != nil {
			built = append(built, n)
		}
	}
	if registry == "" {
		if len(built) == 0 {
			return stackops.DoctorCheck{Name: "registry", OK: true, Detail: "none needed: no service is built here"}
		}
		return stackops.DoctorCheck{Name: "registry", Detail: strings.Join(built, ", ") + " have build: and no registry is named",
			Fix: "set x-stackpilot.registry to a registry every node can pull from (nothing else gets a built image to the other nodes)"}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = c.Engine.DistributionInspect(ctx, registry+"/stackpilot-doctor-probe:none")
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	low := strings.ToLower(msg)
	switch {
	case err == nil, strings.Contains(low, "manifest unknown"), strings.Contains(low, "not found"), strings.Contains(low, "name unknown"):
		return stackops.DoctorCheck{Name: "registry", OK: true, Detail: registry + " answers (asked by the manager's engine)"}
	}
	return stackops.DoctorCheck{Name: "registry", Detail: fmt.Sprintf("%s does not answer the manager's engine: %s", registry, msg),
		Fix: "check that the registry runs and listens there; a registry without TLS must be in every node's insecure-registries (/etc/docker/daemon.json)"}
}

// pinnedCheck warns about services that keep data on one node without a
// placement constraint naming that node: a service that mounts a named
// volume, and one with a dump in x-stackpilot.backup.dumps (a backup runs
// the dump in its task, on the node it is pinned to; unpinned, the backup
// refuses it).
func pinnedCheck(st *stackops.Stack) stackops.DoctorCheck {
	dumps := map[string][]string{}
	if cfg, err := backup.ConfigOf(st); err == nil {
		for _, d := range cfg.Dumps {
			dumps[d.Service] = append(dumps[d.Service], d.Name)
		}
	}
	var loose []string
	for _, n := range st.ServiceNames() {
		svc := st.Project.Services[n]
		var holds []string
		var vols []string
		for _, v := range svc.Volumes {
			if v.Type == "volume" && v.Source != "" {
				vols = append(vols, v.Source)
			}
		}
		if len(vols) > 0 {
			holds = append(holds, "volume "+strings.Join(vols, ", "))
		}
		if d := dumps[n]; len(d) > 0 {
			holds = append(holds, "dump "+strings.Join(d, ", "))
		}
		if len(holds) == 0 {
			continue
		}
		pinned := false
		if svc.Deploy != nil {
			for _, c := range svc.Deploy.Placement.Constraints {
				c = strings.ReplaceAll(c, " ", "")
				if strings.HasPrefix(c, "node.hostname==") || strings.HasPrefix(c, "node.id==") || strings.HasPrefix(c, "node.labels.") {
					pinned = true
				}
			}
		}
		if !pinned {
			loose = append(loose, fmt.Sprintf("%s (%s)", n, strings.Join(holds, "; ")))
		}
	}
	if len(loose) == 0 {
		return stackops.DoctorCheck{Name: "stateful services pinned", OK: true, Detail: "every service with a volume is pinned to a node"}
	}
	return stackops.DoctorCheck{Name: "stateful services pinned", OK: true, Warning: true,
		Detail: "not pinned: " + strings.Join(loose, ", ") + " — a volume lives on one node (a task moved to another starts on an empty one), and a backup runs a dump in the service's task on the node it is pinned to (it refuses an unpinned one)",
		Fix:    "pin each with deploy.placement.constraints: [\"node.hostname == NODE\"] (or a node label)"}
}
