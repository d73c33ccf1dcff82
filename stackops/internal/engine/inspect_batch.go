package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// The engine has no call that inspects several containers, and http.Client
// sends one request per connection at a time: inspecting n containers that
// way costs n round trips, or n connections at once — over ssh:// each
// connection is a process on both ends. InspectContainers instead writes all
// its requests on one connection before reading any answer (HTTP/1.1
// pipelining; the engine's Go server answers them in order), so the whole
// batch costs one round trip whatever n is. A large batch is split over a few
// connections, so a local daemon works on them on several cores.
const (
	// batchPerConn is how many inspects one connection carries before the
	// batch is split over another.
	batchPerConn = 32
	// batchMaxConns bounds the connections of one batch.
	batchMaxConns = 4
)

// InspectContainers returns the details of each container of ids, in the
// same order, in one round trip (see above). A container that no longer
// exists (removed since it was listed) has a nil entry; any other failure is
// an error for the whole batch. If a connection fails before all its answers
// arrived, its remaining containers are inspected one by one instead.
func (c *Client) InspectContainers(ctx context.Context, ids []string) ([]*ContainerJSON, error) {
	out := make([]*ContainerJSON, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	if len(ids) == 1 {
		return out, c.inspectInto(ctx, ids, out)
	}
	version, err := c.APIVersion(ctx)
	if err != nil {
		return nil, err
	}
	conns := (len(ids) + batchPerConn - 1) / batchPerConn
	conns = min(conns, batchMaxConns)
	per := (len(ids) + conns - 1) / conns
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		lo, hi := i*per, min((i+1)*per, len(ids))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			done, err := c.pipelineInspect(ctx, version, ids[lo:hi], out[lo:hi])
			if err != nil && ctx.Err() == nil && !isAPIError(err) {
				// The connection broke (or something between us and the
				// engine does not pipeline): ask for the rest one by one.
				err = c.inspectInto(ctx, ids[lo+done:hi], out[lo+done:hi])
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// inspectInto inspects ids one request at a time into out.
func (c *Client) inspectInto(ctx context.Context, ids []string, out []*ContainerJSON) error {
	for i, id := range ids {
		cj, err := c.InspectContainer(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		default:
			out[i] = cj
		}
	}
	return nil
}

func isAPIError(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr)
}

// pipelineInspect sends every inspect of ids on one new connection, then
// reads the answers in order into out. It returns how many answers it read.
func (c *Client) pipelineInspect(ctx context.Context, version string, ids []string, out []*ContainerJSON) (int, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return 0, c.connError(err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	base, err := url.Parse(c.baseURL) // http(s)://host[/path prefix]
	if err != nil {
		return 0, err
	}
	var reqs strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&reqs, "GET %s/v%s/containers/%s/json HTTP/1.1\r\nHost: %s\r\n\r\n", base.Path, version, url.PathEscape(id), base.Host)
	}
	// Written from another goroutine: should the engine answer before it
	// has read everything, neither side waits for the other.
	// (The deferred Close ends the writer should the answers stop early.)
	go func() { _, _ = io.WriteString(conn, reqs.String()) }()

	br := bufio.NewReaderSize(conn, 64<<10)
	for i := range ids {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			if ctx.Err() != nil {
				return i, context.Cause(ctx)
			}
			return i, c.connError(err)
		}
		err = readInspect(resp, &out[i])
		if err != nil {
			return i, err
		}
		if resp.Close && i < len(ids)-1 {
			return i + 1, fmt.Errorf("the docker daemon closed the connection after %d of %d inspects", i+1, len(ids))
		}
	}
	return len(ids), nil
}

// readInspect decodes one inspect answer: nil for a container that is gone.
func readInspect(resp *http.Response, out **ContainerJSON) error {
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return apiError(resp, b)
	}
	var cj ContainerJSON
	if err := json.NewDecoder(resp.Body).Decode(&cj); err != nil {
		return fmt.Errorf("decode GET /containers/{id}/json: %w", err)
	}
	// The rest of the body (a newline) must be read before the next answer.
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	*out = &cj
	return nil
}
