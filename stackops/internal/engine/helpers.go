package engine

import (
	"context"
	"net/http"
	"net/url"
)

// MountSpec is one entry of HostConfig.Mounts.
type MountSpec struct {
	Type     string `json:"Type"` // volume, bind, tmpfs
	Source   string `json:"Source"`
	Target   string `json:"Target"`
	ReadOnly bool   `json:"ReadOnly,omitempty"`
}

// ContainerCreate is the part of POST /containers/create stackpilot uses to
// make helper containers: created from an image that is already present,
// with volumes mounted, and never started.
type ContainerCreate struct {
	Image           string            `json:"Image"`
	Entrypoint      []string          `json:"Entrypoint,omitempty"`
	Cmd             []string          `json:"Cmd,omitempty"`
	User            string            `json:"User,omitempty"`
	Labels          map[string]string `json:"Labels,omitempty"`
	NetworkDisabled bool              `json:"NetworkDisabled,omitempty"`
	Tty             bool              `json:"Tty,omitempty"`
	HostConfig      struct {
		Mounts      []MountSpec `json:"Mounts,omitempty"`
		NetworkMode string      `json:"NetworkMode,omitempty"`
	} `json:"HostConfig"`
}

// CreateContainer creates a container and returns its id. It does not start it.
func (c *Client) CreateContainer(ctx context.Context, name string, cfg ContainerCreate) (string, error) {
	q := url.Values{}
	if name != "" {
		q.Set("name", name)
	}
	var out struct {
		ID string `json:"Id"`
	}
	if err := c.getJSON(ctx, request{method: http.MethodPost, path: "/containers/create", query: q, json: cfg}, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// RemoveContainer deletes a container. force kills a running one first;
// anonVolumes also deletes its anonymous volumes (those an image's VOLUME
// created for it). Named volumes are never removed with a container.
func (c *Client) RemoveContainer(ctx context.Context, id string, force, anonVolumes bool) error {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	if anonVolumes {
		q.Set("v", "1")
	}
	return c.getJSON(ctx, request{method: http.MethodDelete, path: "/containers/" + url.PathEscape(id), query: q}, nil)
}

// ImageID returns the id of a local image (by name or id), or an error
// matching ErrNotFound when it is not present.
func (c *Client) ImageID(ctx context.Context, ref string) (string, error) {
	var out struct {
		ID string `json:"Id"`
	}
	// A reference's slashes are part of the route, as the docker CLI sends them.
	if err := c.getJSON(ctx, request{path: "/images/" + ref + "/json"}, &out); err != nil {
		return "", err
	}
	return out.ID, nil
}

// ShortID is the 12-character form of a container or image ID the docker
// CLI shows.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
