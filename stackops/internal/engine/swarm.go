package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Swarm mode, read and driven through the same API the docker CLI's
// `docker node/service/stack` commands use. Only a manager answers the
// /nodes, /services and /tasks endpoints; SwarmInfo tells whether this
// engine is one (and which managers to use when it is not).

// SwarmState is /info's Swarm section.
type SwarmState struct {
	NodeID           string `json:"NodeID"`
	NodeAddr         string `json:"NodeAddr"`
	LocalNodeState   string `json:"LocalNodeState"` // inactive, pending, active, error, locked
	ControlAvailable bool   `json:"ControlAvailable"`
	Error            string `json:"Error"`
	RemoteManagers   []struct {
		NodeID string `json:"NodeID"`
		Addr   string `json:"Addr"`
	} `json:"RemoteManagers"`
	Nodes    int `json:"Nodes"`
	Managers int `json:"Managers"`
}

// SwarmInfo returns the engine's Swarm state (/info).
func (c *Client) SwarmInfo(ctx context.Context) (*SwarmState, error) {
	var out struct {
		Swarm SwarmState `json:"Swarm"`
	}
	if err := c.getJSON(ctx, request{path: "/info"}, &out); err != nil {
		return nil, err
	}
	return &out.Swarm, nil
}

// SwarmManager asks /swarm, which only a manager answers, and is cheap
// (where /info gathers the whole system's state): nil on a manager, an
// APIError (503) on a worker or an engine outside a Swarm.
func (c *Client) SwarmManager(ctx context.Context) error {
	return c.getJSON(ctx, request{path: "/swarm"}, nil)
}

// ObjectVersion is a Swarm object's version: an update names the version it
// read, so two writers cannot overwrite each other.
type ObjectVersion struct {
	Index uint64 `json:"Index"`
}

// Node is one entry of /nodes.
type Node struct {
	ID      string        `json:"ID"`
	Version ObjectVersion `json:"Version"`
	Spec    struct {
		Name         string            `json:"Name"`
		Labels       map[string]string `json:"Labels"`
		Role         string            `json:"Role"`         // worker, manager
		Availability string            `json:"Availability"` // active, pause, drain
	} `json:"Spec"`
	Description struct {
		Hostname string `json:"Hostname"`
		Engine   struct {
			EngineVersion string `json:"EngineVersion"`
		} `json:"Engine"`
	} `json:"Description"`
	Status struct {
		State   string `json:"State"` // unknown, down, ready, disconnected
		Message string `json:"Message"`
		Addr    string `json:"Addr"`
	} `json:"Status"`
	ManagerStatus *struct {
		Leader       bool   `json:"Leader"`
		Reachability string `json:"Reachability"`
		Addr         string `json:"Addr"`
	} `json:"ManagerStatus"`
}

// ListNodes lists the Swarm's nodes.
func (c *Client) ListNodes(ctx context.Context) ([]Node, error) {
	var out []Node
	if err := c.getJSON(ctx, request{path: "/nodes"}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// PortConfig is a service's port as Swarm publishes it.
type PortConfig struct {
	Name          string `json:"Name,omitempty"`
	Protocol      string `json:"Protocol"`
	TargetPort    uint32 `json:"TargetPort"`
	PublishedPort uint32 `json:"PublishedPort"`
	PublishMode   string `json:"PublishMode"` // ingress, host
}

// UpdateConfig is a service's update_config (or rollback_config).
type UpdateConfig struct {
	Parallelism     uint64        `json:"Parallelism"`
	Delay           time.Duration `json:"Delay"`
	FailureAction   string        `json:"FailureAction"`
	Monitor         time.Duration `json:"Monitor"`
	MaxFailureRatio float64       `json:"MaxFailureRatio"`
	Order           string        `json:"Order"`
}

// ServiceSpec is the part of a service's spec stackpilot reads.
type ServiceSpec struct {
	Name         string            `json:"Name"`
	Labels       map[string]string `json:"Labels"`
	TaskTemplate struct {
		ContainerSpec struct {
			Image       string            `json:"Image"`
			Labels      map[string]string `json:"Labels"`
			Healthcheck *HealthConfig     `json:"Healthcheck"`
			Mounts      []struct {
				Type   string `json:"Type"`
				Source string `json:"Source"`
				Target string `json:"Target"`
			} `json:"Mounts"`
		} `json:"ContainerSpec"`
		Placement *struct {
			Constraints []string `json:"Constraints"`
		} `json:"Placement"`
		ForceUpdate uint64 `json:"ForceUpdate"`
	} `json:"TaskTemplate"`
	Mode struct {
		Replicated *struct {
			Replicas *uint64 `json:"Replicas"`
		} `json:"Replicated"`
		Global *struct{} `json:"Global"`
	} `json:"Mode"`
	UpdateConfig   *UpdateConfig `json:"UpdateConfig"`
	RollbackConfig *UpdateConfig `json:"RollbackConfig"`
	EndpointSpec   *struct {
		Mode  string       `json:"Mode"` // vip, dnsrr
		Ports []PortConfig `json:"Ports"`
	} `json:"EndpointSpec"`
}

// Service is one entry of /services.
type Service struct {
	ID           string        `json:"ID"`
	Version      ObjectVersion `json:"Version"`
	CreatedAt    time.Time     `json:"CreatedAt"`
	UpdatedAt    time.Time     `json:"UpdatedAt"`
	Spec         ServiceSpec   `json:"Spec"`
	PreviousSpec *ServiceSpec  `json:"PreviousSpec"`
	Endpoint     struct {
		Ports []PortConfig `json:"Ports"`
	} `json:"Endpoint"`
	// UpdateStatus is the last rolling update's: updating, paused,
	// completed, rollback_started, rollback_paused, rollback_completed.
	UpdateStatus *struct {
		State       string    `json:"State"`
		StartedAt   time.Time `json:"StartedAt"`
		CompletedAt time.Time `json:"CompletedAt"`
		Message     string    `json:"Message"`
	} `json:"UpdateStatus"`
	// ServiceStatus counts tasks (API 1.41+, only with ?status=true, which
	// ListServices does not ask).
	ServiceStatus *struct {
		RunningTasks   uint64 `json:"RunningTasks"`
		DesiredTasks   uint64 `json:"DesiredTasks"`
		CompletedTasks uint64 `json:"CompletedTasks"`
	} `json:"ServiceStatus"`

	// RawSpec is Spec as the engine sent it, every field kept: an update
	// sends it back.
	RawSpec json.RawMessage `json:"-"`
}

// Replicas is the desired replica count of a replicated service, -1 for a global one.
func (s *ServiceSpec) Replicas() int {
	if s.Mode.Replicated != nil && s.Mode.Replicated.Replicas != nil {
		return int(*s.Mode.Replicated.Replicas)
	}
	if s.Mode.Global != nil {
		return -1
	}
	return 1
}

// ListServices lists services matching filters (without ServiceStatus:
// counting makes the manager list every task and node).
func (c *Client) ListServices(ctx context.Context, filters Filters) ([]Service, error) {
	q := url.Values{}
	if len(filters) > 0 {
		q.Set("filters", filters.encode())
	}
	var raw []json.RawMessage
	if err := c.getJSON(ctx, request{path: "/services", query: q}, &raw); err != nil {
		return nil, err
	}
	out := make([]Service, 0, len(raw))
	for _, r := range raw {
		s, err := decodeService(r)
		if err != nil {
			return nil, err
		}
		out = append(out, *s)
	}
	return out, nil
}

// InspectService returns one service (by ID or name).
func (c *Client) InspectService(ctx context.Context, id string) (*Service, error) {
	var raw json.RawMessage
	if err := c.getJSON(ctx, request{path: "/services/" + url.PathEscape(id)}, &raw); err != nil {
		return nil, err
	}
	return decodeService(raw)
}

func decodeService(r json.RawMessage) (*Service, error) {
	var s Service
	if err := json.Unmarshal(r, &s); err != nil {
		return nil, fmt.Errorf("decode service: %w", err)
	}
	var spec struct {
		Spec json.RawMessage `json:"Spec"`
	}
	if err := json.Unmarshal(r, &spec); err != nil {
		return nil, fmt.Errorf("decode service: %w", err)
	}
	s.RawSpec = spec.Spec
	return &s, nil
}

// RollbackService asks Swarm to put the service back on its previous spec
// (`docker service rollback`): the service's own rollback_config applies.
func (c *Client) RollbackService(ctx context.Context, s *Service) error {
	q := url.Values{"version": {strconv.FormatUint(s.Version.Index, 10)}, "rollback": {"previous"}}
	var out struct {
		Warnings []string `json:"Warnings"`
	}
	return c.getJSON(ctx, request{method: http.MethodPost, path: "/services/" + url.PathEscape(s.ID) + "/update", query: q,
		body: bytes.NewReader(s.RawSpec), headers: map[string]string{"Content-Type": "application/json"}}, &out)
}

// Task is one entry of /tasks: one attempt at running one replica (slot) of
// a service on one node.
type Task struct {
	ID        string        `json:"ID"`
	Version   ObjectVersion `json:"Version"`
	CreatedAt time.Time     `json:"CreatedAt"`
	UpdatedAt time.Time     `json:"UpdatedAt"`
	Labels    map[string]string
	Spec      struct {
		ContainerSpec struct {
			Image string `json:"Image"`
		} `json:"ContainerSpec"`
	} `json:"Spec"`
	ServiceID    string `json:"ServiceID"`
	Slot         int    `json:"Slot"`
	NodeID       string `json:"NodeID"`
	DesiredState string `json:"DesiredState"`
	Status       struct {
		Timestamp       time.Time `json:"Timestamp"`
		State           string    `json:"State"` // new … running, complete, failed, rejected, shutdown, orphaned
		Message         string    `json:"Message"`
		Err             string    `json:"Err"`
		ContainerStatus *struct {
			ContainerID string `json:"ContainerID"`
			PID         int    `json:"PID"`
			ExitCode    int    `json:"ExitCode"`
		} `json:"ContainerStatus"`
	} `json:"Status"`
}

// Live reports whether the task's container may still run: any state up to
// running. A task Swarm was told to shut down (scaled away) stays running
// until its container has stopped, stop grace period included.
func (t Task) Live() bool {
	switch t.Status.State {
	case "new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running":
		return true
	}
	return false
}

// ListTasks lists tasks matching filters (service, node, desired-state, label).
func (c *Client) ListTasks(ctx context.Context, filters Filters) ([]Task, error) {
	q := url.Values{}
	if len(filters) > 0 {
		q.Set("filters", filters.encode())
	}
	var out []Task
	if err := c.getJSON(ctx, request{path: "/tasks", query: q}, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// ServiceLogs opens the logs of every task of a service, from every node
// (the manager gathers them). With details, each line starts with the
// task's attributes (com.docker.swarm.node.id=…,com.docker.swarm.task.id=…)
// after the timestamp, which is how a line is traced to its task and node.
// The stream is multiplexed (DemuxReader) unless the service has a TTY.
func (c *Client) ServiceLogs(ctx context.Context, id string, o LogsOptions, details bool) (io.ReadCloser, error) {
	return c.swarmLogs(ctx, "/services/"+url.PathEscape(id)+"/logs", o, details)
}

// TaskLogs opens one task's logs (see ServiceLogs).
func (c *Client) TaskLogs(ctx context.Context, id string, o LogsOptions, details bool) (io.ReadCloser, error) {
	return c.swarmLogs(ctx, "/tasks/"+url.PathEscape(id)+"/logs", o, details)
}

func (c *Client) swarmLogs(ctx context.Context, path string, o LogsOptions, details bool) (io.ReadCloser, error) {
	q := url.Values{}
	q.Set("stdout", strconv.FormatBool(o.Stdout))
	q.Set("stderr", strconv.FormatBool(o.Stderr))
	for k, v := range map[string]string{"tail": o.Tail, "since": o.Since, "until": o.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if o.Follow {
		q.Set("follow", "1")
	}
	if o.Timestamps {
		q.Set("timestamps", "1")
	}
	if details {
		q.Set("details", "1")
	}
	resp, err := c.do(ctx, request{path: path, query: q})
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ParallelFriendly reports whether concurrent requests are cheap on this
// client: true for unix:// and tcp://; false over ssh://, where each extra
// connection starts another `docker system dial-stdio` on the server
// (tens of milliseconds), more than a few requests in turn on one.
func (c *Client) ParallelFriendly() bool { return c.ssh == nil }

// ScaleService sets a replicated service's replica count (`docker service
// scale`): the spec the engine sent, every other field kept, with
// Mode.Replicated.Replicas changed.
func (c *Client) ScaleService(ctx context.Context, s *Service, replicas uint64) error {
	var spec map[string]any
	if err := json.Unmarshal(s.RawSpec, &spec); err != nil {
		return fmt.Errorf("decode service spec: %w", err)
	}
	spec["Mode"] = map[string]any{"Replicated": map[string]any{"Replicas": replicas}}
	body, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	q := url.Values{"version": {strconv.FormatUint(s.Version.Index, 10)}}
	var out struct {
		Warnings []string `json:"Warnings"`
	}
	return c.getJSON(ctx, request{method: http.MethodPost, path: "/services/" + url.PathEscape(s.ID) + "/update", query: q,
		body: bytes.NewReader(body), headers: map[string]string{"Content-Type": "application/json"}}, &out)
}
