package stackops

import (
	"context"
	"strings"

	"github.com/stackpilot/stackpilot/stackops/endpoint"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// earlyEngine is an engine client a load started before the stack was read
// (LoadOptions.WarmEngine): the endpoint resolved and the daemon pinged —
// the API version negotiated — while the project loads, instead of after.
// `run TASK` spends most of its own time before the exec starts in those
// two steps and the load; overlapping them is what keeps it at half of
// `docker compose exec`.
//
// The stack uses it only when it would have resolved the very same
// endpoint: the same --context and -H, and the same values of every
// variable endpoint.Resolve reads (a decrypted .env value can set one).
// Only unix:// and tcp:// endpoints are warmed: an ssh:// one would log in
// to the server before the command knew it needs to.
type earlyEngine struct {
	key    string
	ready  chan struct{}
	ep     *endpoint.Endpoint
	client *engine.Client
}

// endpointVariables are the variables endpoint.Resolve reads.
var endpointVariables = []string{"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "DOCKER_TLS", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "HOME"}

// endpointKey is what the resolved endpoint depends on.
func endpointKey(opts LoadOptions, environ []string) string {
	env := environMap(environ)
	var b strings.Builder
	b.WriteString(opts.Context + "\x00" + opts.Host)
	for _, k := range endpointVariables {
		v, ok := env[k]
		b.WriteString("\x00" + k)
		if ok {
			b.WriteString("=" + v)
		}
	}
	return b.String()
}

func startEarlyEngine(ctx context.Context, opts LoadOptions, environ []string) *earlyEngine {
	e := &earlyEngine{key: endpointKey(opts, environ), ready: make(chan struct{})}
	go func() {
		ep, err := endpoint.Resolve(endpoint.Options{Context: opts.Context, Host: opts.Host, Environ: environ})
		if err != nil || (ep.Scheme() != "unix" && ep.Scheme() != "tcp") {
			close(e.ready) // the stack resolves it again, and says what is wrong
			return
		}
		c, err := engine.NewEndpoint(ep)
		if err != nil {
			close(e.ready)
			return
		}
		e.ep, e.client = ep, c
		close(e.ready)
		// Negotiated once per client: a request made meanwhile waits for
		// this ping rather than sending its own; a ping cut short by the
		// command's end is not remembered (Client.APIVersion).
		_, _ = c.APIVersion(ctx)
	}()
	return e
}

// take returns the early client when the stack resolves the same endpoint
// (opts and environ are the stack's), or nil after closing it.
func (e *earlyEngine) take(opts LoadOptions, environ []string) (*endpoint.Endpoint, *engine.Client) {
	<-e.ready
	if e.client == nil {
		return nil, nil
	}
	if endpointKey(opts, environ) != e.key {
		e.client.Close()
		return nil, nil
	}
	return e.ep, e.client
}

// close releases an early client the stack never took.
func (e *earlyEngine) close() {
	<-e.ready
	if e.client != nil {
		e.client.Close()
	}
}
