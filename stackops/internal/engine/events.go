package engine

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
)

// Event is one message of /events.
type Event struct {
	Type   string `json:"Type"`   // container, image, volume, network, ...
	Action string `json:"Action"` // create, start, die, health_status: healthy, ...
	Actor  struct {
		ID         string            `json:"ID"`
		Attributes map[string]string `json:"Attributes"`
	} `json:"Actor"`
	Time     int64 `json:"time"`
	TimeNano int64 `json:"timeNano"`
}

// Events streams engine events matching filters until ctx ends. since is a
// unix timestamp string or "". The returned channel closes when the stream
// ends; the error channel then carries the reason (nil when ctx ended).
func (c *Client) Events(ctx context.Context, since string, filters Filters) (<-chan Event, <-chan error) {
	out := make(chan Event, 64)
	errc := make(chan error, 1)
	q := url.Values{}
	if since != "" {
		q.Set("since", since)
	}
	if len(filters) > 0 {
		q.Set("filters", filters.encode())
	}
	go func() {
		defer close(out)
		resp, err := c.do(ctx, request{path: "/events", query: q})
		if err != nil {
			errc <- err
			return
		}
		defer resp.Body.Close()
		dec := json.NewDecoder(resp.Body)
		for {
			var e Event
			if err := dec.Decode(&e); err != nil {
				if ctx.Err() != nil || errors.Is(err, io.EOF) {
					errc <- nil
				} else {
					errc <- err
				}
				return
			}
			select {
			case out <- e:
			case <-ctx.Done():
				errc <- nil
				return
			}
		}
	}()
	return out, errc
}
