package backup

import (
	"context"
	"fmt"
	"strings"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// OnSwarm is how a backup or restore reaches a stack on a Docker Swarm
// (built by package stackops/swarm): a volume lives on the node that runs
// its service's task, so the volumes are read and replaced through that
// node's own engine instead of the manager's, and the services that mount
// them are paused by scaling them to 0 through the manager (Swarm would
// restart a stopped task's container elsewhere or at once) and resumed —
// scaled back and held to the Swarm health gate — afterwards.
type OnSwarm struct {
	// Node is the node's hostname, for messages.
	Node string
	// Engine is the node's engine.
	Engine *engine.Client
	// Image is a local image on the node to build helper containers from
	// (the image the service's task ran).
	Image string
	// TaskLabel is the container label Swarm puts on a task's container,
	// valued with its service's name: those containers are Swarm's, and are
	// removed (after the pause) before a volume they mount is replaced.
	TaskLabel string
	// Pause scales the services mounting the volumes to 0 and waits until
	// their tasks are gone; the returned resume scales them back and waits
	// until they run (and are healthy) again. It calls record with each
	// service's replica count before scaling it down, and does not scale a
	// service whose record failed: the count is on disk before it is lost.
	Pause func(ctx context.Context, record func(service string, replicas uint64) error) (resume func(ctx context.Context) error, err error)
	// SwarmService maps a compose service to its Swarm service name.
	SwarmService func(service string) string
	// Gate holds services scaled back outside Pause's resume (those an
	// earlier, killed restore left at 0) to the Swarm health gate.
	Gate SwarmGate
}

// SwarmGate holds services scaled back on a Swarm to the health gate a
// Swarm deploy uses (package stackops/swarm provides it). It is called
// before the services are scaled, so that the gate tells the tasks the
// scale-up starts from earlier ones; the wait it returns blocks until the
// services have their desired replicas running — healthy, where they have
// a healthcheck — and returns the gate's failure otherwise: the failing
// task's node, error, exit code and logs, or what was still not running
// when its timeout passed.
type SwarmGate func(ctx context.Context) (wait func(ctx context.Context, services []string) error, err error)

// swarmEngine is the engine a backup job uses: the node's on a Swarm, the stack's otherwise.
func swarmEngine(sw *OnSwarm, eng *engine.Client) *engine.Client {
	if sw != nil {
		return sw.Engine
	}
	return eng
}

// removeTaskContainers removes the (stopped) task containers of services
// on the node, so that their volume can be removed and created again.
func removeTaskContainers(ctx context.Context, sw *OnSwarm, services []string) error {
	for _, svc := range services {
		list, err := sw.Engine.ListContainers(ctx, true, engine.Filters{"label": {sw.TaskLabel + "=" + sw.SwarmService(svc)}})
		if err != nil {
			return err
		}
		for _, c := range list {
			if err := sw.Engine.RemoveContainer(ctx, c.ID, true, false); err != nil {
				return fmt.Errorf("remove %s's old task container on %s: %w", svc, sw.Node, err)
			}
		}
	}
	return nil
}

// swarmHelperImage is the image helper containers are made from on the node ("" off a Swarm).
func swarmHelperImage(sw *OnSwarm) string {
	if sw == nil {
		return ""
	}
	return sw.Image
}

// swarmTasks lists the running task containers of services on the node,
// each as a container of its compose service: on a Swarm a dump runs in
// one of them, through the node's engine, as it runs in the service's
// container on one host (found there by Compose's labels, here by Swarm's).
func swarmTasks(ctx context.Context, sw *OnSwarm, services []string) ([]*stackops.Container, error) {
	var out []*stackops.Container
	for _, svc := range dedupe(services) {
		list, err := sw.Engine.ListContainers(ctx, false, engine.Filters{"label": {sw.TaskLabel + "=" + sw.SwarmService(svc)}, "status": {"running"}})
		if err != nil {
			return nil, fmt.Errorf("node %s: %w", sw.Node, stackops.DockerError(err))
		}
		for _, c := range list {
			name := engine.ShortID(c.ID)
			if len(c.Names) > 0 {
				name = strings.TrimPrefix(c.Names[0], "/")
			}
			out = append(out, &stackops.Container{ID: c.ID, Name: name, Service: svc, Labels: c.Labels, State: c.State, Image: c.Image, ImageID: c.ImageID})
		}
	}
	return out, nil
}

// swarmDumpDown says that a dump's service has no running task on the
// node, and what to do: a dump's command runs in one.
func swarmDumpDown(sw *OnSwarm, service, name string) error {
	return fmt.Errorf("dump %s/%s needs %s running on node %s (its command runs in the service's task there) — scale it up (docker service scale %s=1) or leave it out (--service)",
		service, name, service, sw.Node, sw.SwarmService(service))
}

// dumpServices are the services of dumps.
func dumpServices(dumps []DumpConfig) []string {
	var out []string
	for _, d := range dumps {
		out = append(out, d.Service)
	}
	return dedupe(out)
}
