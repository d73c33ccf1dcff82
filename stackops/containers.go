package stackops

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// What a command reads of the stack's containers costs the same number of
// engine round trips for 3 containers as for 200: one list call gives every
// container's state, health, exit code, ports, labels, image and mounts
// (ProjectContainers). What the list does not carry — the exact start and
// finish times, the restart count, whether it has a terminal, the health
// check's output, OOM — only an inspect gives, one container per call; Inspect
// fetches those for the containers a caller needs them for, all in one round
// trip, and a running container's run facts (which do not change while it
// runs) at most once per run (see runCache).

// Container is one service container of the project as the engine's list
// shows it, with Detail when the caller asked Inspect for it. After a fresh
// inspect the list fields are the inspect's, so a row is one moment's view.
type Container struct {
	ID      string
	Name    string // without the leading slash
	Service string
	Number  int // replica number, from the container-number label
	Labels  map[string]string
	// State is the engine's: created, running, paused, restarting, removing, exited, dead.
	State string
	// Health is healthy, unhealthy, starting, or "" without a healthcheck.
	// The list hides a paused container's health: Inspect reads it.
	Health string
	// ExitCode is the last exit code of an exited or restarting container
	// (0 while running). The list shows none for created, dead and removing
	// containers: Inspect reads it.
	ExitCode int
	// Image is the reference the container was created from; "" when the
	// list shows only the image ID (the tag was moved since): Detail has it.
	Image   string
	ImageID string
	Created time.Time // whole seconds; Detail has it exactly
	Ports   []PortMapping
	Mounts  []engine.Mount
	// Detail is what only an inspect tells; nil unless Inspect filled it.
	Detail *ContainerDetail

	status   statusText
	run      string    // the run's fingerprint; "" when it has none (see runKey)
	listedAt time.Time // the daemon's clock when it listed the container
}

// ContainerDetail is what only an inspect tells about a container.
type ContainerDetail struct {
	Created      time.Time
	StartedAt    time.Time // zero when never started
	FinishedAt   time.Time // zero when never stopped
	RestartCount int
	Tty          bool
	// ConfigImage is the image reference the container was created from.
	ConfigImage string
	// Fresh is true when the container was inspected just now. A detail from
	// the run cache (an inspect of this same run earlier) has only the run's
	// facts above; the fields below are then zero.
	Fresh        bool
	OOMKilled    bool
	Error        string
	HealthOutput string // the last health check's output
}

// Running reports whether the container has a process: running, paused or
// restarting — the engine's State.Running.
func (c *Container) Running() bool {
	return c.State == StateRunning || c.State == "paused" || c.State == "restarting"
}

// DetailNeed says what a caller needs to know of one container beyond its list row.
type DetailNeed int

const (
	// NoDetail: the list row will do.
	NoDetail DetailNeed = iota
	// RunDetail: the run's facts (start time, restart count, terminal, image
	// reference); an earlier inspect of the same run will do.
	RunDetail
	// FreshDetail: inspect now (the health check's output, OOM, error).
	FreshDetail
)

// ProjectContainers lists the selected services' containers in any state
// (one-off `run` containers left out), in one engine call, sorted by service
// and replica. Detail is nil: see Inspect.
func (s *Stack) ProjectContainers(ctx context.Context, eng *engine.Client, services []string) ([]*Container, error) {
	filters := engine.Filters{"label": {LabelProject + "=" + s.Name}}
	if len(services) == 1 {
		filters["label"] = append(filters["label"], LabelService+"="+services[0])
	}
	list, at, err := eng.ListContainersAt(ctx, true, filters)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("list containers: %w", DockerError(err))
	}
	wanted := map[string]bool{}
	for _, n := range services {
		wanted[n] = true
	}
	var out []*Container
	for i := range list {
		sum := &list[i]
		if strings.EqualFold(sum.Labels[LabelOneOff], "true") || !wanted[sum.Labels[LabelService]] {
			continue
		}
		out = append(out, containerFromSummary(sum, at))
	}
	sortContainers(out)
	s.runCache(eng).sawAll(services, out)
	return out, nil
}

// Inspect fills Detail of the containers for which need asks for it, in one
// round trip for all of them, and returns the containers that still exist
// (one removed since it was listed is left out). A running container's run
// facts come from the run cache when this same run was inspected before.
func (s *Stack) Inspect(ctx context.Context, eng *engine.Client, cs []*Container, need func(*Container) DetailNeed) ([]*Container, error) {
	cache := s.runCache(eng)
	var ids []string
	var targets []*Container
	for _, c := range cs {
		switch need(c) {
		case NoDetail:
			continue
		case RunDetail:
			if d, ok := cache.get(c); ok {
				c.Detail = d
				continue
			}
		}
		ids = append(ids, c.ID)
		targets = append(targets, c)
	}
	if len(ids) == 0 {
		return cs, nil
	}
	details, err := eng.InspectContainers(ctx, ids)
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("inspect containers: %w", DockerError(err))
	}
	gone := map[*Container]bool{}
	for i, cj := range details {
		if cj == nil {
			gone[targets[i]] = true
			continue
		}
		targets[i].fromInspect(cj)
		cache.put(targets[i])
	}
	cache.save()
	if len(gone) == 0 {
		return cs, nil
	}
	kept := make([]*Container, 0, len(cs)-len(gone))
	for _, c := range cs {
		if !gone[c] {
			kept = append(kept, c)
		}
	}
	return kept, nil
}

// InspectContainer reads one container by ID, with a fresh Detail. A
// container that does not exist is an error matching engine.ErrNotFound.
func (s *Stack) InspectContainer(ctx context.Context, eng *engine.Client, id string) (*Container, error) {
	cj, err := eng.InspectContainer(ctx, id)
	if err != nil {
		return nil, err
	}
	c := &Container{}
	c.fromInspect(cj)
	return c, nil
}

// AllDetail is a need for Inspect: the run's facts of every container.
func AllDetail(*Container) DetailNeed { return RunDetail }

func containerFromSummary(sum *engine.ContainerSummary, listedAt time.Time) *Container {
	c := &Container{
		ID:       sum.ID,
		Name:     canonicalName(sum.Names),
		Service:  sum.Labels[LabelService],
		Labels:   sum.Labels,
		State:    sum.State,
		ImageID:  sum.ImageID,
		Created:  time.Unix(sum.Created, 0),
		Mounts:   sum.Mounts,
		status:   parseStatusText(sum.Status),
		listedAt: listedAt,
	}
	c.Number, _ = strconv.Atoi(sum.Labels[LabelNumber])
	c.Health, c.ExitCode = c.status.health, c.status.exitCode
	// The engine lists the image ID instead of the reference when the
	// reference now names another image.
	if sum.Image != sum.ImageID {
		c.Image = sum.Image
	}
	c.Ports = []PortMapping{}
	for _, p := range sum.Ports {
		c.Ports = append(c.Ports, PortMapping{HostIP: p.IP, HostPort: p.PublicPort, ContainerPort: p.PrivatePort, Protocol: p.Type})
	}
	sortPorts(c.Ports)
	if c.State == StateRunning {
		c.run = runKey(c.ID, sum.NetworkSettings.Networks)
	}
	return c
}

// fromInspect makes the container what the inspect says, list fields included.
func (c *Container) fromInspect(cj *engine.ContainerJSON) {
	c.ID = cj.ID
	c.Name = strings.TrimPrefix(cj.Name, "/")
	c.Labels = cj.Config.Labels
	c.Service = cj.Config.Labels[LabelService]
	c.Number, _ = strconv.Atoi(cj.Config.Labels[LabelNumber])
	c.State = cj.State.Status
	c.Health = ""
	if cj.State.Health != nil {
		c.Health = cj.State.Health.Status
	}
	c.ExitCode = cj.State.ExitCode
	c.Image, c.ImageID = cj.Config.Image, cj.Image
	c.Created = cj.Created
	c.Ports = portsOf(cj)
	c.Mounts = cj.Mounts
	c.run = ""
	if c.State == StateRunning {
		c.run = runKey(c.ID, cj.NetworkSettings.Networks)
	}
	d := &ContainerDetail{
		Created:      cj.Created,
		RestartCount: cj.RestartCount,
		Tty:          cj.Config.Tty,
		ConfigImage:  cj.Config.Image,
		Fresh:        true,
		OOMKilled:    cj.State.OOMKilled,
		Error:        cj.State.Error,
	}
	if t := cj.State.StartedAt; !t.IsZero() && t.Year() > 1 {
		d.StartedAt = t
	}
	if t := cj.State.FinishedAt; !t.IsZero() && t.Year() > 1 {
		d.FinishedAt = t
	}
	if h := cj.State.Health; h != nil && len(h.Log) > 0 {
		d.HealthOutput = strings.TrimSpace(h.Log[len(h.Log)-1].Output)
	}
	c.Detail = d
}

// canonicalName is the container's own name among those the list gives
// (which also holds the names other containers link it by, "/web/db").
func canonicalName(names []string) string {
	for _, n := range names {
		if !strings.Contains(n[min(1, len(n)):], "/") {
			return strings.TrimPrefix(n, "/")
		}
	}
	if len(names) > 0 {
		return strings.TrimPrefix(names[0], "/")
	}
	return ""
}

func sortContainers(cs []*Container) {
	sort.Slice(cs, func(i, j int) bool {
		a, b := cs[i], cs[j]
		if a.Service != b.Service {
			return a.Service < b.Service
		}
		if a.Number != b.Number {
			return a.Number < b.Number
		}
		return a.Name < b.Name
	})
}

// runKey fingerprints one run of a running container: its ID and the IDs of
// its network endpoints. The engine makes new endpoints, with new random IDs,
// every time a container starts (and drops them when it stops), so the key
// changes with every start — a restart by its policy, docker restart, a stop
// and start, a daemon restart — and stays while the run lasts, which is
// exactly how long its start time and restart count stay. A container
// without an endpoint of its own (network_mode: container:… / service:…) has
// no key, and is inspected every time.
func runKey(id string, networks map[string]*engine.EndpointSummary) string {
	if len(networks) == 0 {
		return ""
	}
	eps := make([]string, 0, len(networks))
	for _, n := range networks {
		if n == nil || n.EndpointID == "" {
			return ""
		}
		eps = append(eps, n.EndpointID)
	}
	sort.Strings(eps)
	return id + "/" + strings.Join(eps, ",")
}
