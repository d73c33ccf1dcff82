package engine

import "context"

// Version is the part of /version stackpilot shows.
type Version struct {
	Version       string `json:"Version"`
	APIVersion    string `json:"ApiVersion"`
	MinAPIVersion string `json:"MinAPIVersion"`
	Os            string `json:"Os"`
	Arch          string `json:"Arch"`
	KernelVersion string `json:"KernelVersion"`
}

// ServerVersion asks the daemon for its version.
func (c *Client) ServerVersion(ctx context.Context) (*Version, error) {
	var v Version
	if err := c.getJSON(ctx, request{path: "/version"}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// Info is the part of /info stackpilot shows.
type Info struct {
	Name            string `json:"Name"`
	ServerVersion   string `json:"ServerVersion"`
	Driver          string `json:"Driver"`
	DockerRootDir   string `json:"DockerRootDir"`
	CgroupVersion   string `json:"CgroupVersion"`
	Containers      int    `json:"Containers"`
	ContainersRun   int    `json:"ContainersRunning"`
	Images          int    `json:"Images"`
	OperatingSystem string `json:"OperatingSystem"`
}

// Info asks the daemon for system information.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var i Info
	if err := c.getJSON(ctx, request{path: "/info"}, &i); err != nil {
		return nil, err
	}
	return &i, nil
}
