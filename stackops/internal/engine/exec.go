package engine

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ExecConfig is the body of POST /containers/{id}/exec.
type ExecConfig struct {
	Cmd          []string `json:"Cmd"`
	User         string   `json:"User,omitempty"`
	Env          []string `json:"Env,omitempty"`
	WorkingDir   string   `json:"WorkingDir,omitempty"`
	AttachStdin  bool     `json:"AttachStdin"`
	AttachStdout bool     `json:"AttachStdout"`
	AttachStderr bool     `json:"AttachStderr"`
	Tty          bool     `json:"Tty"`
}

// ExecCreate prepares a command to run inside a running container and returns the exec id.
func (c *Client) ExecCreate(ctx context.Context, containerID string, cfg ExecConfig) (string, error) {
	var out struct {
		ID string `json:"Id"`
	}
	err := c.getJSON(ctx, request{method: http.MethodPost, path: "/containers/" + url.PathEscape(containerID) + "/exec", json: cfg}, &out)
	return out.ID, err
}

// ExecState is the part of /exec/{id}/json stackpilot reads.
type ExecState struct {
	ID       string `json:"ID"`
	Running  bool   `json:"Running"`
	ExitCode int    `json:"ExitCode"`
	Pid      int    `json:"Pid"`
}

// ExecInspect returns an exec's state (its exit code once it has finished).
func (c *Client) ExecInspect(ctx context.Context, id string) (*ExecState, error) {
	var out ExecState
	if err := c.getJSON(ctx, request{path: "/exec/" + url.PathEscape(id) + "/json"}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ExecRun starts a created exec (without a TTY) and streams: stdin, when
// not nil, is copied to the process and then closed so it sees end of
// input; the process's stdout and stderr are demultiplexed to the writers
// (nil discards). It returns the process's exit code once its output has
// ended. An error reading stdin is returned as such, so a caller streaming
// from an archive can tell a damaged source from a failing command.
func (c *Client) ExecRun(ctx context.Context, id string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	s, err := c.ExecAttach(ctx, id, ExecAttachOptions{})
	if err != nil {
		return -1, err
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	defer s.Close()

	stdinDone := make(chan error, 1)
	if stdin != nil {
		go func() {
			src := &readErrReader{r: stdin}
			_, err := io.Copy(s.conn, src)
			_ = s.CloseWrite()
			if src.err != nil {
				stdinDone <- src.err
				return
			}
			_ = err // the process may stop reading early; its exit code tells
			stdinDone <- nil
		}()
	} else {
		_ = s.CloseWrite()
		stdinDone <- nil
	}
	demuxErr := s.Copy(stdout, stderr)
	s.Close()
	stdinErr := <-stdinDone
	if ctx.Err() != nil {
		return -1, context.Cause(ctx)
	}
	if stdinErr != nil {
		return -1, &StdinError{Err: stdinErr}
	}
	if demuxErr != nil && !errors.Is(demuxErr, net.ErrClosed) {
		return -1, fmt.Errorf("exec output: %w", demuxErr)
	}
	return c.ExecExitCode(ctx, id)
}

// ExecAttachOptions say how a created exec is started.
type ExecAttachOptions struct {
	// TTY must match the exec's ExecConfig.Tty: the output is then one raw
	// stream instead of stdout and stderr multiplexed.
	TTY bool
	// Width and Height are the terminal's size in characters, for a TTY
	// (zero: leave the engine's default until ExecResize).
	Width, Height uint
}

// ExecSession is a started exec with its input and output attached, over
// the connection the start request upgraded (the way `docker exec` talks).
// Closing it stops the streaming, not the process.
type ExecSession struct {
	// ID is the exec's id.
	ID string
	// TTY reports whether the output is a raw terminal stream.
	TTY  bool
	conn net.Conn
	br   *bufio.Reader
	once sync.Once
}

// ExecAttach starts a created exec and attaches to it. With a size on an
// engine that takes one at start (API 1.42+), the process starts with the
// right terminal size; on older engines the caller follows up with
// ExecResize, as the docker CLI does.
func (c *Client) ExecAttach(ctx context.Context, id string, o ExecAttachOptions) (*ExecSession, error) {
	body := map[string]any{"Detach": false, "Tty": o.TTY}
	if o.TTY && o.Width > 0 && o.Height > 0 {
		if v, err := c.APIVersion(ctx); err == nil && !versionLess(v, "1.42") {
			body["ConsoleSize"] = []uint{o.Height, o.Width}
		}
	}
	conn, br, err := c.hijack(ctx, "/exec/"+url.PathEscape(id)+"/start", body)
	if err != nil {
		return nil, err
	}
	return &ExecSession{ID: id, TTY: o.TTY, conn: conn, br: br}, nil
}

// Write sends p to the process's stdin.
func (s *ExecSession) Write(p []byte) (int, error) { return s.conn.Write(p) }

// CloseWrite ends the process's input: it reads end of file.
func (s *ExecSession) CloseWrite() error {
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Copy writes the process's output to stdout and stderr (nil discards)
// until it ends: as it comes with a TTY (one stream, to stdout),
// demultiplexed without. It returns nil when the process closed its output.
func (s *ExecSession) Copy(stdout, stderr io.Writer) error {
	if !s.TTY {
		return Demux(s.br, stdout, stderr)
	}
	if stdout == nil {
		stdout = io.Discard
	}
	_, err := io.Copy(stdout, s.br)
	return err
}

// Close ends the session. The process goes on running in the container if
// it has not finished: the engine has no call that stops an exec.
func (s *ExecSession) Close() error {
	var err error
	s.once.Do(func() { err = s.conn.Close() })
	return err
}

// ExecResize sets the size of an exec's TTY, in characters.
func (c *Client) ExecResize(ctx context.Context, id string, width, height uint) error {
	q := url.Values{"w": {strconv.FormatUint(uint64(width), 10)}, "h": {strconv.FormatUint(uint64(height), 10)}}
	return c.getJSON(ctx, request{method: http.MethodPost, path: "/exec/" + url.PathEscape(id) + "/resize", query: q}, nil)
}

// ExecExitCode returns an exec's exit code once the engine has recorded it.
// The output ends a moment before that: it asks again, quickly at first,
// for up to ten seconds (a busy engine records it late, and a "running"
// exec's exit code reads 0), then returns what the engine says.
func (c *Client) ExecExitCode(ctx context.Context, id string) (int, error) {
	wait := time.Millisecond
	for deadline := time.Now().Add(10 * time.Second); ; {
		st, err := c.ExecInspect(ctx, id)
		if err != nil {
			return -1, err
		}
		if !st.Running || time.Now().After(deadline) {
			return st.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return -1, context.Cause(ctx)
		case <-time.After(wait):
		}
		if wait < 20*time.Millisecond {
			wait *= 2
		}
	}
}

// StdinError is a failure to read what was being fed to an exec'd process.
type StdinError struct{ Err error }

func (e *StdinError) Error() string { return "reading input: " + e.Err.Error() }

// Unwrap returns the read error.
func (e *StdinError) Unwrap() error { return e.Err }

type readErrReader struct {
	r   io.Reader
	err error
}

func (r *readErrReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

// hijack sends a request that upgrades the connection to a raw stream (the
// way `docker exec` does) and returns the connection and a reader positioned
// after the response headers. The connection can be half-closed to signal
// end of input, which http.Client's upgraded bodies cannot.
func (c *Client) hijack(ctx context.Context, path string, body any) (net.Conn, *bufio.Reader, error) {
	version, err := c.APIVersion(ctx)
	if err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/v"+version+path, bytes.NewReader(b))
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "tcp")
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, nil, c.connError(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := req.Write(conn); err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		return nil, nil, c.connError(err)
	}
	br := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, nil, context.Cause(ctx)
		}
		return nil, nil, c.connError(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != http.StatusOK {
		defer conn.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, nil, apiError(resp, msg)
	}
	return conn, br, nil
}

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	if c.dialRaw != nil {
		return c.dialRaw(ctx)
	}
	if t, ok := c.httpClient.Transport.(*http.Transport); ok && t.DialContext != nil {
		return t.DialContext(ctx, "tcp", "docker")
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", strings.TrimPrefix(c.baseURL, "http://"))
}
