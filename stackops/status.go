package stackops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// Compose's container labels, written the same by v1 and v2.
const (
	LabelProject   = "com.docker.compose.project"
	LabelService   = "com.docker.compose.service"
	LabelOneOff    = "com.docker.compose.oneoff"
	LabelNumber    = "com.docker.compose.container-number"
	LabelConfigHsh = "com.docker.compose.config-hash"
)

// State values beyond the engine's own (created, running, paused,
// restarting, removing, exited, dead).
const (
	StateNotCreated = "not created"
	StateRunning    = "running"
	StateExited     = "exited"
)

// StatusOptions selects what Status reports.
type StatusOptions struct {
	// Services limits the report; empty means every service.
	Services []string
	// NoProbes skips the x-stackpilot HTTP probes.
	NoProbes bool
}

// PortMapping is one port of a container.
type PortMapping struct {
	HostIP        string `json:"host_ip"`
	HostPort      int    `json:"host_port"`
	ContainerPort int    `json:"container_port"`
	Protocol      string `json:"protocol"`
}

// ServiceStatus is one row of the status report: a container of a service,
// or the service itself when it has no container.
type ServiceStatus struct {
	Service      string        `json:"service"`
	Container    string        `json:"container"`
	ContainerID  string        `json:"container_id"`
	Replica      int           `json:"replica"`
	State        string        `json:"state"`
	Health       string        `json:"health"` // healthy, unhealthy, starting, or "" without a healthcheck
	ExitCode     int           `json:"exit_code"`
	RestartCount int           `json:"restart_count"`
	Ports        []PortMapping `json:"ports"`
	Image        string        `json:"image"`
	ImageID      string        `json:"image_id"`
	StartedAt    *time.Time    `json:"started_at"`
	FinishedAt   *time.Time    `json:"finished_at"`
	// UptimeSeconds is how long a running container has been up (0 otherwise).
	UptimeSeconds int64        `json:"uptime_seconds"`
	Probe         *ProbeResult `json:"probe"`
	// OK is true when this row counts as up: running (and healthy where it has
	// a healthcheck or probe), or a one-shot container that exited 0.
	OK bool `json:"ok"`
	// Problem says why the row is not OK, in a few words.
	Problem string `json:"problem,omitempty"`
}

// StatusResult is the whole report.
type StatusResult struct {
	Project  string          `json:"project"`
	Services []ServiceStatus `json:"services"`
	// Degraded lists the services with at least one row not OK.
	Degraded []string `json:"degraded"`
}

// Healthy reports whether every selected service is OK.
func (r *StatusResult) Healthy() bool { return len(r.Degraded) == 0 }

// Status reads the stack's state from the Docker Engine by Compose labels, so
// it does not pay Compose's start-up and reads the same for v1 and v2.
func (s *Stack) Status(ctx context.Context, opts StatusOptions) (*StatusResult, error) {
	services, err := s.ResolveServices(opts.Services)
	if err != nil {
		return nil, err
	}
	var probes map[string]ProbeConfig
	if !opts.NoProbes {
		if probes, err = s.Probes(); err != nil {
			return nil, err
		}
	}
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}

	// Probes start at once, in parallel with the engine queries; results for
	// services that turn out not to be running are dropped.
	probeDone := make(chan map[string]*ProbeResult, 1)
	go func() { probeDone <- runProbes(ctx, probes, services) }()

	containers, err := s.ProjectContainers(ctx, eng, services)
	if err != nil {
		<-probeDone
		return nil, err
	}
	probeResults := <-probeDone

	res := &StatusResult{Project: s.Name, Services: []ServiceStatus{}, Degraded: []string{}}
	byService := map[string][]*engine.ContainerJSON{}
	for _, c := range containers {
		svc := c.Config.Labels[LabelService]
		byService[svc] = append(byService[svc], c)
	}
	now := time.Now()
	for _, name := range services {
		cs := byService[name]
		svcModel := s.Project.Services[name]
		if len(cs) == 0 {
			row := ServiceStatus{Service: name, State: StateNotCreated, Ports: []PortMapping{}, Image: svcModel.Image, Problem: "not created"}
			if svcModel.Image == "" && svcModel.Build != nil {
				row.Image = "(built on deploy)"
			}
			if scale := svcModel.GetScale(); scale == 0 {
				row.OK, row.Problem = true, ""
			}
			res.Services = append(res.Services, row)
			if !row.OK {
				res.Degraded = append(res.Degraded, name)
			}
			continue
		}
		degraded := false
		for _, c := range cs {
			row := rowFromContainer(name, c, now)
			if row.State == StateRunning {
				if p, ok := probeResults[name]; ok {
					row.Probe = p
				}
			}
			judgeRow(&row, c, IsOneShot(svcModel))
			if !row.OK {
				degraded = true
			}
			res.Services = append(res.Services, row)
		}
		if degraded {
			res.Degraded = append(res.Degraded, name)
		}
	}
	return res, nil
}

// ProjectContainers lists the selected services' containers in any state
// (one-off `run` containers left out) and inspects them concurrently.
func (s *Stack) ProjectContainers(ctx context.Context, eng *engine.Client, services []string) ([]*engine.ContainerJSON, error) {
	filters := engine.Filters{"label": {LabelProject + "=" + s.Name}}
	if len(services) == 1 {
		filters["label"] = append(filters["label"], LabelService+"="+services[0])
	}
	list, err := eng.ListContainers(ctx, true, filters)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", DockerError(err))
	}
	wanted := map[string]bool{}
	for _, n := range services {
		wanted[n] = true
	}
	var ids []string
	for _, c := range list {
		if strings.EqualFold(c.Labels[LabelOneOff], "true") || !wanted[c.Labels[LabelService]] {
			continue
		}
		ids = append(ids, c.ID)
	}
	out := make([]*engine.ContainerJSON, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func(i int, id string) {
			defer wg.Done()
			out[i], errs[i] = eng.InspectContainer(ctx, id)
		}(i, id)
	}
	wg.Wait()
	var kept []*engine.ContainerJSON
	for i, c := range out {
		if errs[i] != nil {
			if isNotFound(errs[i]) {
				continue // removed between list and inspect
			}
			return nil, fmt.Errorf("inspect container %s: %w", ids[i][:12], DockerError(errs[i]))
		}
		kept = append(kept, c)
	}
	sort.Slice(kept, func(i, j int) bool {
		a, b := kept[i].Config.Labels, kept[j].Config.Labels
		if a[LabelService] != b[LabelService] {
			return a[LabelService] < b[LabelService]
		}
		na, _ := strconv.Atoi(a[LabelNumber])
		nb, _ := strconv.Atoi(b[LabelNumber])
		if na != nb {
			return na < nb
		}
		return kept[i].Name < kept[j].Name
	})
	return kept, nil
}

func isNotFound(err error) bool {
	return err != nil && errors.Is(err, engine.ErrNotFound)
}

func rowFromContainer(service string, c *engine.ContainerJSON, now time.Time) ServiceStatus {
	row := ServiceStatus{
		Service:      service,
		Container:    strings.TrimPrefix(c.Name, "/"),
		ContainerID:  engine.ShortID(c.ID),
		State:        c.State.Status,
		ExitCode:     c.State.ExitCode,
		RestartCount: c.RestartCount,
		Image:        c.Config.Image,
		ImageID:      c.Image,
		Ports:        portsOf(c),
	}
	row.Replica, _ = strconv.Atoi(c.Config.Labels[LabelNumber])
	if c.State.Health != nil {
		row.Health = c.State.Health.Status
	}
	if !c.State.StartedAt.IsZero() && c.State.StartedAt.Year() > 1 {
		t := c.State.StartedAt
		row.StartedAt = &t
		if c.State.Running {
			row.UptimeSeconds = int64(now.Sub(t).Seconds())
		}
	}
	if !c.State.FinishedAt.IsZero() && c.State.FinishedAt.Year() > 1 {
		t := c.State.FinishedAt
		row.FinishedAt = &t
	}
	return row
}

// IsOneShot reports whether a service is a job that is meant to finish (a
// migration, a seed): its compose restart policy says explicitly "no" or
// "on-failure". Such a container that exited 0 did its work. A service with no
// restart policy at all is taken for a server: Compose's default is "no" too,
// but a stopped server must not pass for a finished job.
func IsOneShot(svc types.ServiceConfig) bool {
	r := strings.Trim(svc.Restart, `"'`)
	return r == "no" || r == "on-failure" || strings.HasPrefix(r, "on-failure:")
}

// judgeRow decides whether a container counts as up.
func judgeRow(row *ServiceStatus, c *engine.ContainerJSON, oneShot bool) {
	switch row.State {
	case StateRunning:
		switch {
		case row.Health == "unhealthy":
			row.Problem = "unhealthy"
		case row.Health == "starting":
			row.Problem = "health check still starting"
		case row.Probe != nil && !row.Probe.OK:
			row.Problem = "probe failed: " + row.Probe.Error
		default:
			row.OK = true
		}
	case StateExited:
		if row.ExitCode == 0 && oneShot {
			// A one-shot job (a migration) that finished its work.
			row.OK = true
			return
		}
		row.Problem = fmt.Sprintf("exited (%d)", row.ExitCode)
		if c.State.OOMKilled {
			row.Problem += ", out of memory"
		}
	case "restarting":
		row.Problem = fmt.Sprintf("restarting (exit %d, %d restarts)", row.ExitCode, row.RestartCount)
	default:
		row.Problem = row.State
	}
}

func portsOf(c *engine.ContainerJSON) []PortMapping {
	out := []PortMapping{}
	for spec, bindings := range c.NetworkSettings.Ports {
		portStr, proto, _ := strings.Cut(spec, "/")
		port, _ := strconv.Atoi(portStr)
		if len(bindings) == 0 {
			out = append(out, PortMapping{ContainerPort: port, Protocol: proto})
			continue
		}
		for _, b := range bindings {
			hp, _ := strconv.Atoi(b.HostPort)
			out = append(out, PortMapping{HostIP: b.HostIP, HostPort: hp, ContainerPort: port, Protocol: proto})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ContainerPort != out[j].ContainerPort {
			return out[i].ContainerPort < out[j].ContainerPort
		}
		if out[i].Protocol != out[j].Protocol {
			return out[i].Protocol < out[j].Protocol
		}
		return out[i].HostIP < out[j].HostIP
	})
	return out
}
