package swarm

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// ServiceReport is one service of the stack on the Swarm.
type ServiceReport struct {
	Name    string   `json:"name"`
	Created bool     `json:"created"` // false: in the compose file, not deployed
	Mode    string   `json:"mode"`    // replicated, global
	Desired int      `json:"desired"`
	Running int      `json:"running"`
	Image   string   `json:"image,omitempty"`
	Ports   []string `json:"ports,omitempty"`
	// UpdateState is Swarm's word on the last update: updating, paused,
	// completed, rollback_started, rollback_paused, rollback_completed.
	UpdateState   string       `json:"update_state,omitempty"`
	UpdateMessage string       `json:"update_message,omitempty"`
	Healthcheck   bool         `json:"healthcheck"`
	Placement     []string     `json:"placement,omitempty"`
	Tasks         []TaskReport `json:"tasks"`
	// Degraded says why the service is not fully running, "" when it is.
	Degraded string `json:"degraded,omitempty"`
}

// NodeReport is one node of the Swarm.
type NodeReport struct {
	ID           string `json:"id"`
	Hostname     string `json:"hostname"`
	Role         string `json:"role"`
	Leader       bool   `json:"leader,omitempty"`
	State        string `json:"state"`        // ready, down, unknown, disconnected
	Availability string `json:"availability"` // active, pause, drain
	Addr         string `json:"addr,omitempty"`
	Engine       string `json:"engine,omitempty"`
	// Tasks counts the stack's running tasks on the node; Running names them (web.1).
	Tasks   int      `json:"tasks"`
	Running []string `json:"running"`
}

// Status is the stack on the Swarm: services with their tasks, and nodes.
type Status struct {
	Project  string          `json:"project"`
	Manager  string          `json:"manager"`
	Services []ServiceReport `json:"services"`
	Nodes    []NodeReport    `json:"nodes"`
	Degraded bool            `json:"degraded"`
	At       time.Time       `json:"at"`
}

// Status reads the stack's services, tasks and the nodes: three calls to the
// manager (services, tasks, nodes), whatever the number of nodes.
func (c *Cluster) Status(ctx context.Context, names []string) (*Status, error) {
	if len(names) == 0 {
		names = c.Stack.ServiceNames()
	}
	out := &Status{Project: c.Stack.Name, Manager: c.Engine.Host(), At: time.Now()}
	type nodesRes struct {
		nodes []engine.Node
		err   error
	}
	ch := make(chan nodesRes, 1)
	listNodes := func() {
		n, err := c.Engine.ListNodes(ctx)
		ch <- nodesRes{n, err}
	}
	if c.Engine.ParallelFriendly() {
		go listNodes()
	} else {
		listNodes()
	}
	svcs, tasks, err := c.read(ctx)
	nr := <-ch
	if err != nil {
		return nil, err
	}
	if nr.err != nil {
		return nil, c.explain(ctx, nr.err)
	}
	hostnames := map[string]string{}
	for _, n := range nr.nodes {
		hostnames[n.ID] = n.Description.Hostname
	}
	out.Services = reports(c.Stack.Name, names, svcs, tasks, hostnames)
	perNode := map[string]int{}
	tasksOn := map[string][]string{}
	svcName := map[string]string{}
	for _, s := range svcs {
		svcName[s.ID] = composeName(c.Stack.Name, s.Spec.Name)
	}
	for _, t := range tasks {
		if t.DesiredState == "running" && t.Status.State == "running" {
			perNode[t.NodeID]++
			tasksOn[t.NodeID] = append(tasksOn[t.NodeID], fmt.Sprintf("%s.%d", svcName[t.ServiceID], t.Slot))
		}
	}
	for _, n := range nr.nodes {
		r := NodeReport{ID: n.ID, Hostname: n.Description.Hostname, Role: n.Spec.Role, State: n.Status.State,
			Availability: n.Spec.Availability, Addr: n.Status.Addr, Engine: n.Description.Engine.EngineVersion, Tasks: perNode[n.ID], Running: tasksOn[n.ID]}
		sort.Strings(r.Running)
		if r.Running == nil {
			r.Running = []string{}
		}
		if n.ManagerStatus != nil {
			r.Leader = n.ManagerStatus.Leader
		}
		out.Nodes = append(out.Nodes, r)
	}
	sort.Slice(out.Nodes, func(i, j int) bool {
		if out.Nodes[i].Role != out.Nodes[j].Role {
			return out.Nodes[i].Role == "manager"
		}
		return out.Nodes[i].Hostname < out.Nodes[j].Hostname
	})
	for _, s := range out.Services {
		if s.Degraded != "" {
			out.Degraded = true
		}
	}
	return out, nil
}

// serviceReports is Status's services alone (the gate's final picture).
func (c *Cluster) serviceReports(ctx context.Context, names []string) ([]ServiceReport, error) {
	svcs, tasks, err := c.read(ctx)
	if err != nil {
		return nil, err
	}
	return reports(c.Stack.Name, names, svcs, tasks, c.nodeNames(ctx)), nil
}

// reports builds a ServiceReport per name. A service's tasks are its
// current ones (desired running) plus, per slot, the latest that ended
// otherwise when it is newer than the running one (a crash just now).
func reports(stack string, names []string, svcs []engine.Service, tasks []engine.Task, hostnames map[string]string) []ServiceReport {
	byName := map[string]*engine.Service{}
	for i := range svcs {
		byName[composeName(stack, svcs[i].Spec.Name)] = &svcs[i]
	}
	tasksOf := map[string][]engine.Task{}
	for _, t := range tasks {
		tasksOf[t.ServiceID] = append(tasksOf[t.ServiceID], t)
	}
	var out []ServiceReport
	for _, name := range names {
		s := byName[name]
		if s == nil {
			out = append(out, ServiceReport{Name: name, Degraded: "not deployed", Tasks: []TaskReport{}})
			continue
		}
		r := ServiceReport{Name: name, Created: true, Mode: "replicated", Desired: s.Spec.Replicas(), Image: stripDigest(s.Spec.TaskTemplate.ContainerSpec.Image), Tasks: []TaskReport{}}
		if r.Desired < 0 {
			r.Mode = "global"
			r.Desired = desiredTasks(tasksOf[s.ID])
		}
		hc := s.Spec.TaskTemplate.ContainerSpec.Healthcheck
		r.Healthcheck = hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE"
		for _, p := range s.Endpoint.Ports {
			mode := ""
			if p.PublishMode == "host" {
				mode = " (host)"
			}
			r.Ports = append(r.Ports, fmt.Sprintf("%d->%d/%s%s", p.PublishedPort, p.TargetPort, p.Protocol, mode))
		}
		if r.Ports == nil && s.Spec.EndpointSpec != nil {
			for _, p := range s.Spec.EndpointSpec.Ports {
				r.Ports = append(r.Ports, fmt.Sprintf("%d->%d/%s (host)", p.PublishedPort, p.TargetPort, p.Protocol))
			}
		}
		if s.UpdateStatus != nil {
			r.UpdateState, r.UpdateMessage = s.UpdateStatus.State, s.UpdateStatus.Message
		}
		if s.Spec.TaskTemplate.Placement != nil {
			r.Placement = s.Spec.TaskTemplate.Placement.Constraints
		}
		c := &Cluster{}
		latestEnded := map[int]engine.Task{}
		for _, t := range tasksOf[s.ID] {
			if t.DesiredState == "running" || t.Status.State == "running" {
				tr := c.taskReport(nil, name, t, hostnames)
				if t.Status.State == "running" && r.Healthcheck {
					tr.Health = "healthy" // Swarm reports a task with a healthcheck running once it is healthy
				} else if t.Status.State == "starting" && r.Healthcheck {
					tr.Health = "starting"
				}
				if t.Status.State == "running" && t.DesiredState == "running" {
					r.Running++
				}
				r.Tasks = append(r.Tasks, tr)
				continue
			}
			if prev, ok := latestEnded[t.Slot]; !ok || t.Status.Timestamp.After(prev.Status.Timestamp) {
				latestEnded[t.Slot] = t
			}
		}
		for _, t := range latestEnded {
			if t.Status.State == "failed" || t.Status.State == "rejected" {
				if time.Since(t.Status.Timestamp) < 10*time.Minute {
					r.Tasks = append(r.Tasks, c.taskReport(nil, name, t, hostnames))
				}
			}
		}
		sort.Slice(r.Tasks, func(i, j int) bool {
			if r.Tasks[i].Slot != r.Tasks[j].Slot {
				return r.Tasks[i].Slot < r.Tasks[j].Slot
			}
			return r.Tasks[i].Since.After(r.Tasks[j].Since)
		})
		switch {
		case r.Running < r.Desired:
			r.Degraded = fmt.Sprintf("%d/%d running", r.Running, r.Desired)
		case strings.HasPrefix(r.UpdateState, "rollback_started") || strings.HasSuffix(r.UpdateState, "paused"):
			r.Degraded = "update " + strings.ReplaceAll(r.UpdateState, "_", " ")
		}
		out = append(out, r)
	}
	return out
}

// stripDigest drops the @sha256:… Swarm pins an image reference with.
func stripDigest(ref string) string {
	if i := strings.Index(ref, "@"); i > 0 {
		return ref[:i]
	}
	return ref
}
