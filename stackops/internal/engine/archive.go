package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// PathStat is what the engine reports about a path in a container
// (the X-Docker-Container-Path-Stat header of the archive endpoints).
type PathStat struct {
	Name       string      `json:"name"`
	Size       int64       `json:"size"`
	Mode       os.FileMode `json:"mode"`
	Mtime      time.Time   `json:"mtime"`
	LinkTarget string      `json:"linkTarget"`
}

// CopyFromContainer streams path out of a container as a tar archive
// (GET /containers/{id}/archive). The engine builds the archive itself, so
// this works for images with no shell and no tar (FROM scratch), and for
// containers that are stopped or were created and never started. The
// archive's entries are named after path's last element ("data/…" for /data).
// The caller closes the stream.
func (c *Client) CopyFromContainer(ctx context.Context, id, path string) (io.ReadCloser, *PathStat, error) {
	q := url.Values{"path": {path}}
	// Go's transport asks for gzip by default, and the daemon then compresses
	// the archive on the fly: five times slower, for bytes we compress
	// again anyway.
	resp, err := c.do(ctx, request{path: "/containers/" + url.PathEscape(id) + "/archive", query: q,
		headers: map[string]string{"Accept-Encoding": "identity"}})
	if err != nil {
		return nil, nil, err
	}
	return resp.Body, decodePathStat(resp.Header.Get("X-Docker-Container-Path-Stat")), nil
}

// CopyToOptions tunes CopyToContainer.
type CopyToOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a non-directory
	// (and the other way round) instead of replacing it.
	NoOverwriteDirNonDir bool
	// CopyUIDGID chowns what is extracted to the container's user instead of
	// keeping the owners recorded in the archive.
	CopyUIDGID bool
}

// CopyToContainer extracts a tar stream into the directory path of a
// container (PUT /containers/{id}/archive). Owners, modes, times, symlinks
// and empty directories recorded in the archive are kept (unless
// CopyUIDGID). The body is streamed: content may be a pipe of any length.
func (c *Client) CopyToContainer(ctx context.Context, id, path string, content io.Reader, o CopyToOptions) error {
	q := url.Values{"path": {path}}
	if o.NoOverwriteDirNonDir {
		q.Set("noOverwriteDirNonDir", "1")
	}
	if o.CopyUIDGID {
		q.Set("copyUIDGID", "1")
	}
	resp, err := c.do(ctx, request{
		method:  http.MethodPut,
		path:    "/containers/" + url.PathEscape(id) + "/archive",
		query:   q,
		body:    content,
		headers: map[string]string{"Content-Type": "application/x-tar"},
	})
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

func decodePathStat(h string) *PathStat {
	if h == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(h)
	if err != nil {
		return nil
	}
	var st PathStat
	if json.Unmarshal(b, &st) != nil {
		return nil
	}
	return &st
}
