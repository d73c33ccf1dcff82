package stackops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackpilot/stackpilot/stackops/endpoint"
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
	// Endpoint is the engine that answered: its address, the docker context
	// (default or a named one) and the setting that chose it. Every row of
	// one report has the same.
	Endpoint *endpoint.Endpoint `json:"endpoint"`
}

// StatusResult is the whole report.
type StatusResult struct {
	Project  string          `json:"project"`
	Services []ServiceStatus `json:"services"`
	// Degraded lists the services with at least one row not OK.
	Degraded []string `json:"degraded"`
	// Endpoint is the engine that answered.
	Endpoint *endpoint.Endpoint `json:"endpoint"`
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
	go func() { probeDone <- s.runProbes(ctx, probes, services) }()

	containers, err := s.ProjectContainers(ctx, eng, services)
	if err == nil {
		// Every row shows its start and finish times and restart count,
		// which the list does not carry: Inspect reads them, in one round
		// trip, and not at all for a running container whose run it read
		// before.
		containers, err = s.Inspect(ctx, eng, containers, AllDetail)
	}
	if err != nil {
		<-probeDone
		return nil, err
	}
	probeResults := <-probeDone

	ep, _ := s.Endpoint() // resolved before the engine answered
	res := &StatusResult{Project: s.Name, Services: []ServiceStatus{}, Degraded: []string{}, Endpoint: ep}
	byService := map[string][]*Container{}
	for _, c := range containers {
		byService[c.Service] = append(byService[c.Service], c)
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
			row.Endpoint = ep
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
			row.Endpoint = ep
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

func isNotFound(err error) bool {
	return err != nil && errors.Is(err, engine.ErrNotFound)
}

// rowFromContainer makes a status row of a container whose Detail is filled.
func rowFromContainer(service string, c *Container, now time.Time) ServiceStatus {
	d := c.Detail
	row := ServiceStatus{
		Service:      service,
		Container:    c.Name,
		ContainerID:  engine.ShortID(c.ID),
		Replica:      c.Number,
		State:        c.State,
		Health:       c.Health,
		ExitCode:     c.ExitCode,
		RestartCount: d.RestartCount,
		Image:        d.ConfigImage,
		ImageID:      c.ImageID,
		Ports:        c.Ports,
	}
	if !d.StartedAt.IsZero() {
		t := d.StartedAt
		row.StartedAt = &t
		if c.Running() {
			row.UptimeSeconds = int64(now.Sub(t).Seconds())
		}
	}
	if !d.FinishedAt.IsZero() {
		t := d.FinishedAt
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
func judgeRow(row *ServiceStatus, c *Container, oneShot bool) {
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
		if c.Detail != nil && c.Detail.OOMKilled {
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
	sortPorts(out)
	return out
}

func sortPorts(out []PortMapping) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].ContainerPort != out[j].ContainerPort {
			return out[i].ContainerPort < out[j].ContainerPort
		}
		if out[i].Protocol != out[j].Protocol {
			return out[i].Protocol < out[j].Protocol
		}
		if out[i].HostIP != out[j].HostIP {
			return out[i].HostIP < out[j].HostIP
		}
		return out[i].HostPort < out[j].HostPort
	})
}
