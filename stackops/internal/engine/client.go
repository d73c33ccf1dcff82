// Package engine is a small client for the Docker Engine HTTP API.
//
// stackpilot reads state (containers, health, logs, volume archives) straight
// from the engine instead of shelling out to `docker` or Compose: a request
// over the unix socket costs about a millisecond, where `docker compose ps`
// pays Compose's start-up (140 ms for v2, seconds for v1) on every call. The
// engine labels containers the same way for Compose v1 and v2, so everything
// read here is independent of the Compose variant.
//
// Only the endpoints stackpilot needs are implemented, against API 1.41 (the
// version of Debian's docker.io 20.10), negotiated down or up with the daemon
// through /_ping the way the docker CLI does.
package engine

import (
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
	"syscall"

	"github.com/stackpilot/stackpilot/stackops/endpoint"
)

// DefaultHost is where the engine listens when DOCKER_HOST is not set.
const DefaultHost = "unix:///var/run/docker.sock"

// maxAPIVersion is the newest API version this client speaks. Newer daemons
// accept it; older ones make the client negotiate down.
const maxAPIVersion = "1.45"

// minAPIVersion is the oldest API this client can work with (Docker 20.10).
const minAPIVersion = "1.41"

// Sentinel errors, matched with errors.Is, so callers can say what to do.
var (
	// ErrDaemonDown means nothing answers on the socket (not started, or the socket file is missing).
	ErrDaemonDown = errors.New("docker daemon is not running")
	// ErrPermissionDenied means the socket exists but this user may not open it.
	ErrPermissionDenied = errors.New("permission denied on the docker socket")
	// ErrNotFound is the engine's 404 (no such container, image, volume, exec).
	ErrNotFound = errors.New("not found")
	// ErrConflict is the engine's 409 (e.g. a container is not running).
	ErrConflict = errors.New("conflict")
)

// Client talks to one Docker Engine. It is safe for concurrent use.
type Client struct {
	host       string // as given, for messages
	httpClient *http.Client
	baseURL    string // scheme://host, without the version prefix
	// dialRaw opens a connection for hijacked (upgraded) requests; nil: the transport's dialer.
	dialRaw func(ctx context.Context) (net.Conn, error)
	ssh     *sshDialer // set for ssh:// endpoints
	tcp     bool       // a tcp:// endpoint

	versionMu   sync.Mutex
	versionDone bool
	version     string
	versionErr  error
}

// FromEnv builds a client for the endpoint the docker CLI would use without
// flags: DOCKER_HOST, DOCKER_CONTEXT, the current context, or the default socket.
func FromEnv() (*Client, error) {
	ep, err := endpoint.Resolve(endpoint.Options{})
	if err != nil {
		return nil, err
	}
	return NewEndpoint(ep)
}

// New builds a client for host ("unix:///path", "tcp://h:p", "ssh://user@h",
// or "" for the default socket), as the docker CLI would with -H host: TLS
// settings come from DOCKER_TLS_VERIFY / DOCKER_CERT_PATH.
func New(host string) (*Client, error) {
	ep, err := endpoint.Resolve(endpoint.Options{Host: host})
	if err != nil {
		return nil, err
	}
	return NewEndpoint(ep)
}

// Host returns the daemon address this client talks to, for messages.
func (c *Client) Host() string { return c.host }

// Close releases idle connections, and ends the ssh connection of an ssh:// client.
func (c *Client) Close() {
	if t, ok := c.httpClient.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	if c.ssh != nil {
		c.ssh.Close()
	}
}

// APIVersion returns the negotiated API version, pinging the daemon once.
// A ping ended by its caller's context (Ctrl-C in the first milliseconds) is
// not remembered: it says nothing about the daemon, and the clean-up that
// follows — with a context of its own — must still reach the engine.
func (c *Client) APIVersion(ctx context.Context) (string, error) {
	c.versionMu.Lock()
	defer c.versionMu.Unlock()
	if c.versionDone {
		return c.version, c.versionErr
	}
	v, err := c.negotiate(ctx)
	if err != nil && ctx.Err() != nil {
		return "", err
	}
	c.version, c.versionErr, c.versionDone = v, err, true
	return v, err
}

func (c *Client) negotiate(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/_ping", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return "", c.connError(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte("HTTPS server")) {
		return "", &DaemonError{Host: c.host, Err: ErrTLS, Cause: errors.New("the daemon speaks TLS and this connection does not"),
			Fix: "set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem (or use a docker context with TLS)"}
	}
	if resp.StatusCode >= 500 {
		return "", fmt.Errorf("docker daemon at %s answered /_ping with %s", c.host, resp.Status)
	}
	server := resp.Header.Get("API-Version")
	if server == "" {
		return minAPIVersion, nil
	}
	if versionLess(server, minAPIVersion) {
		return "", fmt.Errorf("docker daemon at %s speaks API %s; stackpilot needs %s or newer (Docker 20.10+)", c.host, server, minAPIVersion)
	}
	if versionLess(maxAPIVersion, server) {
		return maxAPIVersion, nil
	}
	return server, nil
}

// Ping checks that the daemon answers, and returns the negotiated API version.
func (c *Client) Ping(ctx context.Context) (string, error) {
	return c.APIVersion(ctx)
}

// versionLess compares dotted API versions numerically ("1.9" < "1.41").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// connError turns a transport failure into one of the sentinels, keeping the cause.
func (c *Client) connError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var de *DaemonError
	if errors.As(err, &de) {
		return de
	}
	if rerr := c.remoteError(err); rerr != nil {
		return rerr
	}
	switch {
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return &DaemonError{Host: c.host, Err: ErrPermissionDenied, Cause: err}
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return &DaemonError{Host: c.host, Err: ErrDaemonDown, Cause: err}
	}
	var nerr net.Error
	if errors.As(err, &nerr) {
		return &DaemonError{Host: c.host, Err: ErrDaemonDown, Cause: err}
	}
	return fmt.Errorf("docker daemon at %s: %w", c.host, err)
}

// DaemonError says the daemon could not be reached, and why.
type DaemonError struct {
	Host  string
	Err   error // ErrDaemonDown, ErrPermissionDenied, ErrUnreachable, ErrSSHAuth, ErrSSHHostKey, ErrNoDocker, ErrTLS
	Cause error
	// Fix says what to do, when the client knows better than the caller
	// (a remote engine's problems are fixed on the server, not here).
	Fix string
}

func (e *DaemonError) Error() string {
	msg := fmt.Sprintf("docker daemon not reachable at %s: %v", e.Host, e.Cause)
	if e.Fix != "" {
		msg += " — " + e.Fix
	}
	return msg
}

// Unwrap lets errors.Is match both the sentinel and the cause.
func (e *DaemonError) Unwrap() []error { return []error{e.Err, e.Cause} }

// APIError is a non-2xx answer from the engine.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return e.Message
}

// Is maps status codes to sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	}
	return false
}

// request describes one API call.
type request struct {
	method  string
	path    string // without version prefix, e.g. "/containers/json"
	query   url.Values
	body    io.Reader
	json    any // encoded as the body when set
	headers map[string]string
}

// do sends a request and returns the response when the status is 2xx. The
// caller closes the body.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	version, err := c.APIVersion(ctx)
	if err != nil {
		return nil, err
	}
	u := c.baseURL + "/v" + version + r.path
	if len(r.query) > 0 {
		u += "?" + r.query.Encode()
	}
	body := r.body
	if r.json != nil {
		b, err := json.Marshal(r.json)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u, body)
	if err != nil {
		return nil, err
	}
	if r.json != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return nil, c.connError(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return nil, apiError(resp, b)
	}
	return resp, nil
}

// apiError is the error of a non-2xx answer whose body is b: the engine's
// JSON message, else the body, else the status line.
func apiError(resp *http.Response, b []byte) *APIError {
	msg := strings.TrimSpace(string(b))
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(b, &m) == nil && m.Message != "" {
		msg = m.Message
	}
	if msg == "" {
		msg = resp.Status
	}
	return &APIError{Status: resp.StatusCode, Message: msg}
}

// getJSON sends a GET (or other method) and decodes the JSON answer into out.
func (c *Client) getJSON(ctx context.Context, r request, out any) error {
	if r.method == "" {
		r.method = http.MethodGet
	}
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s: %w", r.method, r.path, err)
	}
	return nil
}

// Filters is the engine's filter argument: key → accepted values.
type Filters map[string][]string

func (f Filters) encode() string {
	b, _ := json.Marshal(f)
	return string(b)
}
