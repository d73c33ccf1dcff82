package stackops

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/stackpilot/stackpilot/stackops/endpoint"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// ErrUnknownContext means --context, DOCKER_CONTEXT or the docker config
// names a docker context that does not exist.
var ErrUnknownContext = endpoint.ErrUnknownContext

// Endpoint is the Docker Engine this stack acts on — flags, then DOCKER_HOST,
// DOCKER_CONTEXT, the docker config's current context, the default socket,
// exactly as the docker CLI (and so Compose) chooses — resolved once.
func (s *Stack) Endpoint() (*endpoint.Endpoint, error) {
	s.endpointOnce.Do(func() {
		s.endpoint, s.endpointErr = endpoint.Resolve(endpoint.Options{
			Context: s.opts.Context,
			Host:    s.opts.Host,
			Environ: s.environ,
		})
	})
	return s.endpoint, s.endpointErr
}

func (s *Stack) newEngine() (*engine.Client, error) {
	ep, err := s.Endpoint()
	if err != nil {
		return nil, err
	}
	return engine.NewEndpoint(ep)
}

// Close ends the stack's engine connection: for an ssh:// engine, the ssh
// connection the command opened. The Stack must not be used afterwards.
func (s *Stack) Close() {
	if s.engine != nil {
		s.engine.Close()
	}
}

// composeEndpointArgs are the global options that make a Compose child act
// on the stack's endpoint. The child inherits stackpilot's environment and
// docker config, so it resolves DOCKER_HOST, DOCKER_CONTEXT's context and the
// current context itself, just as stackpilot did; only what stackpilot was
// told on its command line (--context, -H) has to be said again — and
// DOCKER_CONTEXT for Compose v1, which reads no such variable. Argv rather
// than the environment so `-v` and `deploy --json` show the command that ran.
func (s *Stack) composeEndpointArgs(c *ComposeCLI) []string {
	ep, err := s.Endpoint()
	if err != nil {
		return nil // the engine calls fail first, with this error
	}
	var args []string
	switch {
	case ep.Source == endpoint.FromContextFlag,
		ep.Source == endpoint.FromEnvContext && c.Variant == ComposeV1:
		return []string{"--context", ep.Context}
	case ep.Source == endpoint.FromHostFlag:
		args = []string{"--host", ep.Host}
	}
	if c.Variant == ComposeV1 && ep.TLS != nil && ep.TLS.Dir != "" {
		args = append(args, composeV1TLSArgs(ep.TLS)...)
	}
	return args
}

// composeEnv is what a Compose child needs in its environment beyond
// stackpilot's own: for Compose v1 with a CA of its own — DOCKER_CERT_PATH's,
// given as a flag, or a context's, which v1 reads from the context store —
// REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE cleared: v1's HTTP library
// (python-requests) would verify the daemon against the bundle they name
// instead of the CA the docker settings name (machines that point them at
// the system's bundle make every v1 command over TLS fail).
func (s *Stack) composeEnv(c *ComposeCLI) []string {
	ep, err := s.Endpoint()
	if err != nil || c.Variant != ComposeV1 || ep.TLS == nil || ep.TLS.CA == nil {
		return nil
	}
	return []string{"REQUESTS_CA_BUNDLE=", "CURL_CA_BUNDLE="}
}

// composeV1TLSArgs say DOCKER_TLS_VERIFY/DOCKER_TLS and DOCKER_CERT_PATH's
// files to Compose v1 as flags: v1 reads DOCKER_TLS_VERIFY but then drops
// DOCKER_CERT_PATH's CA and client certificate (its TLS settings from the
// options replace those from the environment), so over tcp:// with TLS it
// would verify the daemon against the system's roots and show no client
// certificate.
func composeV1TLSArgs(t *endpoint.TLS) []string {
	args := []string{"--tls"}
	if !t.SkipVerify {
		args = []string{"--tlsverify"}
	}
	if t.CA != nil {
		args = append(args, "--tlscacert", filepath.Join(t.Dir, "ca.pem"))
	}
	if t.Cert != nil && t.Key != nil {
		args = append(args, "--tlscert", filepath.Join(t.Dir, "cert.pem"), "--tlskey", filepath.Join(t.Dir, "key.pem"))
	}
	return args
}

// endpointEnv is the environment that makes a docker command run by a hook
// act on the stack's endpoint when stackpilot was given it on its command
// line (the rest a hook inherits, as Compose does).
func (s *Stack) endpointEnv() []string {
	ep, err := s.Endpoint()
	if err != nil {
		return nil
	}
	switch ep.Source {
	case endpoint.FromContextFlag:
		return []string{"DOCKER_HOST=", "DOCKER_CONTEXT=" + ep.Context}
	case endpoint.FromHostFlag:
		return []string{"DOCKER_HOST=" + ep.Host}
	}
	return nil
}

// PingEngine asks the stack's engine whether it answers (for ssh://, it
// logs in first): nil, or the classified reason it does not.
func (s *Stack) PingEngine(ctx context.Context) error {
	eng, err := s.Engine()
	if err != nil {
		return err
	}
	_, err = eng.Ping(ctx)
	return err
}

// EngineErrorIsFinal reports whether trying again cannot help: the server's
// host key changed or is unknown, the login or the TLS certificate was
// refused, the server has no docker or denies its socket, the context does
// not exist. A dropped connection, a timeout or a daemon restarting are not
// final.
func EngineErrorIsFinal(err error) bool {
	for _, e := range []error{engine.ErrSSHAuth, engine.ErrSSHHostKey, engine.ErrTLS, engine.ErrNoDocker, engine.ErrPermissionDenied, endpoint.ErrUnknownContext} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
