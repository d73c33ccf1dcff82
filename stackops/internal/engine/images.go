package engine

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// ImageInspect is the part of /images/{name}/json stackpilot reads.
type ImageInspect struct {
	ID       string    `json:"Id"`
	RepoTags []string  `json:"RepoTags"`
	Created  time.Time `json:"Created"`
	Size     int64     `json:"Size"`
}

// InspectImage returns an image's details; ref is an ID (full or short) or a name[:tag].
func (c *Client) InspectImage(ctx context.Context, ref string) (*ImageInspect, error) {
	var out ImageInspect
	if err := c.getJSON(ctx, request{path: "/images/" + ref + "/json"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TagImage gives the image source (an ID or a reference) the name repo:tag,
// moving the name if another image had it. The image itself is untouched.
func (c *Client) TagImage(ctx context.Context, source, repo, tag string) error {
	q := url.Values{"repo": {repo}, "tag": {tag}}
	return c.getJSON(ctx, request{method: http.MethodPost, path: "/images/" + source + "/tag", query: q}, nil)
}

// ImageDeleteItem is one line of DELETE /images/{name}'s answer.
type ImageDeleteItem struct {
	Untagged string `json:"Untagged,omitempty"`
	Deleted  string `json:"Deleted,omitempty"`
}

// RemoveImage removes a reference. When ref is a tag and the image has other
// tags, only that tag goes; when it is the last one the image is deleted
// unless a container uses it (then the engine answers ErrConflict). force is
// never set by stackpilot's callers: an image in use must stay.
func (c *Client) RemoveImage(ctx context.Context, ref string, force bool) ([]ImageDeleteItem, error) {
	q := url.Values{}
	if force {
		q.Set("force", "1")
	}
	var out []ImageDeleteItem
	err := c.getJSON(ctx, request{method: http.MethodDelete, path: "/images/" + ref, query: q}, &out)
	return out, err
}

// ImageSummary is one entry of /images/json.
type ImageSummary struct {
	ID       string   `json:"Id"`
	RepoTags []string `json:"RepoTags"`
	Created  int64    `json:"Created"`
}

// ListImages lists images matching filters (e.g. {"reference": ["repo/*"]}).
func (c *Client) ListImages(ctx context.Context, filters Filters) ([]ImageSummary, error) {
	q := url.Values{}
	if len(filters) > 0 {
		q.Set("filters", filters.encode())
	}
	var out []ImageSummary
	err := c.getJSON(ctx, request{path: "/images/json", query: q}, &out)
	return out, err
}
