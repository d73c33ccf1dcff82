package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Port is one published or exposed port of a container, as /containers/json reports it.
type Port struct {
	IP          string `json:"IP"`
	PrivatePort int    `json:"PrivatePort"`
	PublicPort  int    `json:"PublicPort"`
	Type        string `json:"Type"`
}

// ContainerSummary is one entry of /containers/json: everything one list
// call tells about every container at once. State and Status are the
// engine's words for the state ("running") and the text `docker ps` shows
// ("Up 3 minutes (healthy)", "Exited (1) 2 hours ago"), which carries the
// health and the exit code too. Created is in whole seconds.
type ContainerSummary struct {
	ID         string            `json:"Id"`
	Names      []string          `json:"Names"`
	Image      string            `json:"Image"`
	ImageID    string            `json:"ImageID"`
	Command    string            `json:"Command"`
	Created    int64             `json:"Created"`
	Ports      []Port            `json:"Ports"`
	Labels     map[string]string `json:"Labels"`
	State      string            `json:"State"`
	Status     string            `json:"Status"`
	HostConfig struct {
		NetworkMode string `json:"NetworkMode"`
	} `json:"HostConfig"`
	NetworkSettings struct {
		Networks map[string]*EndpointSummary `json:"Networks"`
	} `json:"NetworkSettings"`
	Mounts []Mount `json:"Mounts"`
}

// EndpointSummary is a container's endpoint on one network, as the list
// shows it. The engine makes a new endpoint, with a new random ID, each time
// a container starts, and drops it when the container stops.
type EndpointSummary struct {
	NetworkID  string `json:"NetworkID"`
	EndpointID string `json:"EndpointID"`
}

// ListContainers lists containers matching filters (all states when all is true).
func (c *Client) ListContainers(ctx context.Context, all bool, filters Filters) ([]ContainerSummary, error) {
	list, _, err := c.ListContainersAt(ctx, all, filters)
	return list, err
}

// ListContainersAt is ListContainers that also returns the daemon's clock
// when it answered (the Date header, whole seconds; zero if missing): the
// durations in the Status texts were computed at about that time, by the
// same clock that stamped the containers' start times.
func (c *Client) ListContainersAt(ctx context.Context, all bool, filters Filters) ([]ContainerSummary, time.Time, error) {
	q := url.Values{}
	if all {
		q.Set("all", "1")
	}
	if len(filters) > 0 {
		q.Set("filters", filters.encode())
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/containers/json", query: q})
	if err != nil {
		return nil, time.Time{}, err
	}
	defer resp.Body.Close()
	var out []ContainerSummary
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, time.Time{}, fmt.Errorf("decode GET /containers/json: %w", err)
	}
	at, _ := http.ParseTime(resp.Header.Get("Date"))
	return out, at, nil
}

// HealthLog is one health-check run.
type HealthLog struct {
	Start    time.Time `json:"Start"`
	End      time.Time `json:"End"`
	ExitCode int       `json:"ExitCode"`
	Output   string    `json:"Output"`
}

// Health is the container's health-check state.
type Health struct {
	Status        string      `json:"Status"` // starting, healthy, unhealthy
	FailingStreak int         `json:"FailingStreak"`
	Log           []HealthLog `json:"Log"`
}

// ContainerState is State of /containers/{id}/json.
type ContainerState struct {
	Status     string    `json:"Status"` // created, running, paused, restarting, removing, exited, dead
	Running    bool      `json:"Running"`
	Paused     bool      `json:"Paused"`
	Restarting bool      `json:"Restarting"`
	OOMKilled  bool      `json:"OOMKilled"`
	Dead       bool      `json:"Dead"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
	Health     *Health   `json:"Health"`
}

// PortBinding is a host side of a published port.
type PortBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// HealthConfig is the container's configured healthcheck.
type HealthConfig struct {
	Test     []string      `json:"Test"`
	Interval time.Duration `json:"Interval"`
	Timeout  time.Duration `json:"Timeout"`
	Retries  int           `json:"Retries"`
}

// Mount is one mount of a container.
type Mount struct {
	Type        string `json:"Type"` // volume, bind, tmpfs
	Name        string `json:"Name"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
}

// ContainerJSON is the part of /containers/{id}/json stackpilot reads.
type ContainerJSON struct {
	ID           string         `json:"Id"`
	Name         string         `json:"Name"`
	Created      time.Time      `json:"Created"`
	Image        string         `json:"Image"` // image ID
	RestartCount int            `json:"RestartCount"`
	State        ContainerState `json:"State"`
	Config       struct {
		Image       string            `json:"Image"`
		Labels      map[string]string `json:"Labels"`
		Env         []string          `json:"Env"`
		Healthcheck *HealthConfig     `json:"Healthcheck"`
		Tty         bool              `json:"Tty"`
	} `json:"Config"`
	HostConfig struct {
		RestartPolicy struct {
			Name              string `json:"Name"`
			MaximumRetryCount int    `json:"MaximumRetryCount"`
		} `json:"RestartPolicy"`
	} `json:"HostConfig"`
	NetworkSettings struct {
		Ports    map[string][]PortBinding    `json:"Ports"`
		Networks map[string]*EndpointSummary `json:"Networks"`
	} `json:"NetworkSettings"`
	Mounts []Mount `json:"Mounts"`
}

// InspectContainer returns a container's details.
func (c *Client) InspectContainer(ctx context.Context, id string) (*ContainerJSON, error) {
	var out ContainerJSON
	if err := c.getJSON(ctx, request{path: "/containers/" + url.PathEscape(id) + "/json"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StopContainer stops a container, giving it timeout before SIGKILL.
func (c *Client) StopContainer(ctx context.Context, id string, timeout time.Duration) error {
	q := url.Values{"t": {strconv.Itoa(int(timeout.Seconds()))}}
	err := c.getJSON(ctx, request{method: http.MethodPost, path: "/containers/" + url.PathEscape(id) + "/stop", query: q}, nil)
	if apiErr, ok := err.(*APIError); ok && apiErr.Status == http.StatusNotModified {
		return nil
	}
	return err
}

// StartContainer starts a stopped container.
func (c *Client) StartContainer(ctx context.Context, id string) error {
	err := c.getJSON(ctx, request{method: http.MethodPost, path: "/containers/" + url.PathEscape(id) + "/start"}, nil)
	if apiErr, ok := err.(*APIError); ok && apiErr.Status == http.StatusNotModified {
		return nil
	}
	return err
}

// RenameContainer gives a container a new name.
func (c *Client) RenameContainer(ctx context.Context, id, name string) error {
	q := url.Values{"name": {name}}
	return c.getJSON(ctx, request{method: http.MethodPost, path: "/containers/" + url.PathEscape(id) + "/rename", query: q}, nil)
}
