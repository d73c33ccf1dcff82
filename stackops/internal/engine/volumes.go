package engine

import (
	"context"
	"net/http"
	"net/url"
)

// Volume is /volumes/{name} as stackpilot reads it.
type Volume struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver"`
	Mountpoint string            `json:"Mountpoint"`
	CreatedAt  string            `json:"CreatedAt"`
	Scope      string            `json:"Scope"`
	Labels     map[string]string `json:"Labels"`
	Options    map[string]string `json:"Options"`
}

// InspectVolume returns a volume's details, or an error matching ErrNotFound.
func (c *Client) InspectVolume(ctx context.Context, name string) (*Volume, error) {
	var v Volume
	if err := c.getJSON(ctx, request{path: "/volumes/" + url.PathEscape(name)}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// VolumeCreate is the body of POST /volumes/create.
type VolumeCreate struct {
	Name       string            `json:"Name"`
	Driver     string            `json:"Driver,omitempty"`
	DriverOpts map[string]string `json:"DriverOpts,omitempty"`
	Labels     map[string]string `json:"Labels,omitempty"`
}

// CreateVolume creates a volume (the engine answers with the existing one
// when the name is taken with the same driver).
func (c *Client) CreateVolume(ctx context.Context, v VolumeCreate) (*Volume, error) {
	var out Volume
	if err := c.getJSON(ctx, request{method: http.MethodPost, path: "/volumes/create", json: v}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveVolume deletes a volume and its content. The engine refuses (an
// error matching ErrConflict) while any container, even a stopped one, uses it.
func (c *Client) RemoveVolume(ctx context.Context, name string) error {
	return c.getJSON(ctx, request{method: http.MethodDelete, path: "/volumes/" + url.PathEscape(name)}, nil)
}
