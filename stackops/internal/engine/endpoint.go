package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/stackpilot/stackpilot/stackops/endpoint"
)

// dialTimeout bounds a TCP connect (and a TLS handshake), so an unreachable
// host is an error in seconds, never a hang.
const dialTimeout = 10 * time.Second

// More sentinels, for engines on other machines.
var (
	// ErrUnreachable means the host did not answer (timeout, refused, no route, unknown name).
	ErrUnreachable = errors.New("host unreachable")
	// ErrSSHAuth means the ssh server refused the login.
	ErrSSHAuth = errors.New("ssh authentication refused")
	// ErrSSHHostKey means the server's host key is not known (or changed).
	ErrSSHHostKey = errors.New("ssh host key not trusted")
	// ErrNoDocker means the server has no docker command to bridge the API over ssh.
	ErrNoDocker = errors.New("no docker on the server")
	// ErrTLS means the TLS handshake failed (certificate rejected either way).
	ErrTLS = errors.New("TLS handshake failed")
)

// NewEndpoint builds a client for a resolved endpoint: unix://, tcp://
// (with TLS when the endpoint carries it) or ssh://.
func NewEndpoint(ep *endpoint.Endpoint) (*Client, error) {
	u, err := url.Parse(ep.Host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", ep.Host, err)
	}
	c := &Client{host: ep.String()}
	transport := &http.Transport{
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
	switch u.Scheme {
	case "unix":
		path := u.Path
		if path == "" {
			path = u.Host
		}
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}
		c.baseURL = "http://docker"
	case "tcp", "http", "https":
		c.tcp = true
		d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
		transport.DialContext = d.DialContext
		tlsCfg, err := ep.TLSConfig()
		if err != nil {
			return nil, err
		}
		if u.Scheme == "https" && tlsCfg == nil {
			tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		c.baseURL = "http://" + u.Host + trimSlash(u.Path)
		if tlsCfg != nil {
			c.baseURL = "https://" + u.Host + trimSlash(u.Path)
			transport.TLSClientConfig = tlsCfg
			transport.TLSHandshakeTimeout = dialTimeout
			c.dialRaw = func(ctx context.Context) (net.Conn, error) {
				cfg := tlsCfg.Clone()
				if cfg.ServerName == "" {
					cfg.ServerName = u.Hostname()
				}
				td := &tls.Dialer{NetDialer: d, Config: cfg}
				return td.DialContext(ctx, "tcp", u.Host)
			}
		} else {
			c.dialRaw = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", u.Host) }
		}
	case "ssh":
		sd, err := newSSHDialer(ep.Host)
		if err != nil {
			return nil, err
		}
		transport.DialContext = sd.DialContext
		c.dialRaw = func(ctx context.Context) (net.Conn, error) { return sd.DialContext(ctx, "tcp", "docker") }
		c.ssh = sd
		c.baseURL = "http://docker"
	default:
		return nil, fmt.Errorf("docker host %q: scheme %q is not supported (use unix://, tcp:// or ssh://)", ep.Host, u.Scheme)
	}
	c.httpClient = &http.Client{Transport: transport}
	return c, nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// remoteError explains a failure that is about reaching another machine
// (ssh, TLS, the network), or returns nil for the local socket's own
// classification to apply.
func (c *Client) remoteError(err error) error {
	if c.ssh != nil {
		// What ssh or the server's docker printed travels in the error text.
		if serr := c.ssh.classify(err.Error()); serr != nil {
			return serr
		}
		// The connection ended without saying why: ask the server.
		if serr := c.ssh.classify(c.ssh.diagnose(context.Background())); serr != nil {
			return serr
		}
	}
	if !c.tcp {
		return nil
	}
	if terr := tlsError(c.host, err); terr != nil {
		return terr
	}
	var nerr net.Error
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		(errors.As(err, &nerr) && nerr.Timeout()) || isDNSError(err) {
		return &DaemonError{Host: c.host, Err: ErrUnreachable, Cause: inner(err),
			Fix: "check the address, that the daemon listens there (dockerd -H tcp://…) and that no firewall drops the connection"}
	}
	return nil
}

// inner drops the HTTP client's "Get URL:" wrapping from a transport error.
func inner(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

func isDNSError(err error) bool {
	var d *net.DNSError
	return errors.As(err, &d)
}

// tlsError recognises a failed TLS handshake, either side refusing the
// other's certificate, and says which; nil for anything else.
func tlsError(host string, err error) error {
	var (
		verr  *tls.CertificateVerificationError
		rerr  tls.RecordHeaderError
		alert tls.AlertError
	)
	switch {
	case errors.As(err, &verr):
		return &DaemonError{Host: host, Err: ErrTLS, Cause: fmt.Errorf("the daemon's certificate was rejected: %v", verr.Err),
			Fix: "check that DOCKER_CERT_PATH's ca.pem (or the context's CA) is the CA that signed the daemon's certificate, and that the certificate names this host"}
	case errors.As(err, &rerr), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return &DaemonError{Host: host, Err: ErrTLS, Cause: errors.New("the daemon does not speak TLS on this port"),
			Fix: "unset DOCKER_TLS_VERIFY and DOCKER_TLS, or point DOCKER_HOST at the daemon's TLS port (2376)"}
	case errors.As(err, &alert), strings.Contains(err.Error(), "remote error: tls:"):
		return &DaemonError{Host: host, Err: ErrTLS, Cause: fmt.Errorf("the daemon refused the TLS connection: %v", inner(err)),
			Fix: "the daemon wants a client certificate it trusts: put cert.pem and key.pem signed by its CA in DOCKER_CERT_PATH"}
	}
	return nil
}
