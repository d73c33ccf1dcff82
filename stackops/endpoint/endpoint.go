// Package endpoint decides which Docker Engine a stackpilot command talks to,
// exactly as the docker CLI decides it, so stackpilot, `docker` and Compose
// never act on different engines:
//
//	--context NAME / -H, --host URL   (flags; both at once is an error)
//	DOCKER_HOST                       (the default context, this host)
//	DOCKER_CONTEXT                    (a named context)
//	currentContext in config.json     (DOCKER_CONFIG, default ~/.docker)
//	unix:///var/run/docker.sock       (the default)
//
// Named contexts are read from the docker CLI's own context store with its
// own package (github.com/docker/cli/cli/context/store), TLS material
// included. The default context takes TLS from DOCKER_TLS_VERIFY, DOCKER_TLS
// and DOCKER_CERT_PATH as the docker CLI does.
//
// Resolving reads files only; it never connects (stackops/internal/engine
// does that). It is its own package so that a program embedding stackops, and
// the wizard's menus, can show where a stack lives without an engine client.
package endpoint

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	dcontext "github.com/docker/cli/cli/context"
	"github.com/docker/cli/cli/context/store"
)

// DefaultContext is the name of the context that is not in the store: the
// one DOCKER_HOST and -H describe, or the local socket.
const DefaultContext = "default"

// DefaultHost is the engine's socket when nothing else is configured.
const DefaultHost = "unix:///var/run/docker.sock"

// dockerEndpoint is the name of a context's engine endpoint in the store.
const dockerEndpoint = "docker"

// Source names the setting that chose the endpoint, for messages.
type Source string

// The sources, in precedence order.
const (
	FromContextFlag Source = "--context"
	FromHostFlag    Source = "--host"
	FromDockerHost  Source = "DOCKER_HOST"
	FromEnvContext  Source = "DOCKER_CONTEXT"
	FromConfig      Source = "config.json"
	FromDefault     Source = "default"
)

// ErrUnknownContext is an explicitly named context the store does not have.
var ErrUnknownContext = errors.New("unknown docker context")

// Options are the inputs: the global flags and the environment.
type Options struct {
	// Context is --context.
	Context string
	// Host is -H/--host.
	Host string
	// Environ replaces os.Environ() (tests, and a Stack loaded with its own environment).
	Environ []string
}

// Endpoint is where the engine is and how to reach it.
type Endpoint struct {
	// Host is the engine's address, normalised: unix:///path,
	// tcp://host:port[/path], ssh://[user@]host[:port][/socket].
	Host string `json:"host"`
	// Context is the docker context in use: "default" or a named one.
	Context string `json:"context"`
	// Source is the setting that chose it.
	Source Source `json:"source"`
	// TLS is the TLS material for a tcp:// host; nil means plain HTTP.
	TLS *TLS `json:"-"`
	// ConfigDir is the docker CLI's configuration directory that was read.
	ConfigDir string `json:"-"`
}

// TLS is the material for a TLS connection to a tcp:// endpoint.
type TLS struct {
	CA, Cert, Key []byte // PEM; CA nil means the system's roots
	SkipVerify    bool   // DOCKER_TLS without DOCKER_TLS_VERIFY, or a context's SkipTLSVerify
	// Origin says where the material came from, for messages: a directory,
	// or the context's name.
	Origin string
	// Dir is the directory holding ca.pem, cert.pem and key.pem when the
	// material came from one (DOCKER_CERT_PATH); "" for a context's.
	Dir string
}

// Scheme is the URL scheme of Host: unix, tcp, ssh, npipe or fd.
func (e *Endpoint) Scheme() string {
	s, _, _ := strings.Cut(e.Host, "://")
	return s
}

// Remote reports whether the engine is on another machine as far as this one
// can tell: ssh:// always, tcp:// unless the address is loopback.
func (e *Endpoint) Remote() bool {
	switch e.Scheme() {
	case "ssh":
		return true
	case "tcp":
		u, err := url.Parse(e.Host)
		if err != nil {
			return true
		}
		h := u.Hostname()
		if h == "localhost" {
			return false
		}
		ip := net.ParseIP(h)
		return ip == nil || !ip.IsLoopback()
	}
	return false
}

// String is the endpoint as a person reads it: the host, and the context
// when it is a named one.
func (e *Endpoint) String() string {
	if e.Context != "" && e.Context != DefaultContext {
		return fmt.Sprintf("%s (context %s)", e.Host, e.Context)
	}
	return e.Host
}

// TLSConfig builds the client TLS configuration, nil for plain HTTP. It does
// what the docker CLI does with the same material: the CA (or the system's
// roots), the client certificate when both halves are there, verification
// off only when asked for.
func (e *Endpoint) TLSConfig() (*tls.Config, error) {
	t := e.TLS
	if t == nil {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: t.SkipVerify} //nolint:gosec // only when the user's settings ask for it, as the docker CLI does
	if t.CA != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(t.CA) {
			return nil, fmt.Errorf("TLS CA certificate from %s: no PEM certificate in it", t.Origin)
		}
		cfg.RootCAs = pool
	}
	if t.Cert != nil && t.Key != nil {
		if b, _ := pem.Decode(t.Key); b == nil {
			return nil, fmt.Errorf("TLS key from %s: no PEM private key in it", t.Origin)
		} else if x509.IsEncryptedPEMBlock(b) { //nolint:staticcheck // detecting it to refuse it, as the docker CLI does
			return nil, fmt.Errorf("TLS key from %s is encrypted: the docker CLI and stackpilot need an unencrypted key", t.Origin)
		}
		pair, err := tls.X509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("TLS certificate from %s: %w", t.Origin, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// Resolve picks the endpoint from the flags, the environment and the docker
// CLI's configuration, in the docker CLI's order.
func Resolve(o Options) (*Endpoint, error) {
	env := environMap(o.Environ)
	configDir := ConfigDir(o.Environ)
	if o.Context != "" && o.Host != "" {
		return nil, errors.New("--context and --host cannot be used together: pick one")
	}
	name, source := "", FromDefault
	switch {
	case o.Context != "":
		name, source = o.Context, FromContextFlag
	case o.Host != "":
		source = FromHostFlag
	case env["DOCKER_HOST"] != "":
		source = FromDockerHost
	case env["DOCKER_CONTEXT"] != "":
		name, source = env["DOCKER_CONTEXT"], FromEnvContext
	default:
		if cur := currentContext(configDir); cur != "" {
			name, source = cur, FromConfig
		}
	}
	if name == "" || name == DefaultContext {
		ep, err := defaultEndpoint(o.Host, env, configDir)
		if err != nil {
			return nil, err
		}
		ep.Source = source
		return ep, nil
	}
	ep, err := namedEndpoint(name, configDir, source)
	if err != nil {
		return nil, err
	}
	ep.Source = source
	return ep, nil
}

// defaultEndpoint is the default context: -H, else DOCKER_HOST, else the
// socket (or tcp://localhost:2376 when TLS is asked for), with TLS from the
// environment.
func defaultEndpoint(flagHost string, env map[string]string, configDir string) (*Endpoint, error) {
	verify := env["DOCKER_TLS_VERIFY"] != ""
	useTLS := verify || env["DOCKER_TLS"] != ""
	raw, what := flagHost, "--host"
	if raw == "" {
		raw, what = env["DOCKER_HOST"], "DOCKER_HOST"
	}
	host, err := ParseHost(useTLS, raw)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", what, raw, err)
	}
	ep := &Endpoint{Host: host, Context: DefaultContext, ConfigDir: configDir}
	if useTLS && !strings.HasPrefix(host, "unix://") && !strings.HasPrefix(host, "ssh://") {
		certDir := env["DOCKER_CERT_PATH"]
		if certDir == "" {
			certDir = configDir
		}
		t := &TLS{SkipVerify: !verify, Origin: certDir, Dir: certDir}
		// The CA must be there (the docker CLI fails without it too); the
		// client certificate is optional and used only when both halves are.
		if t.CA, err = os.ReadFile(filepath.Join(certDir, "ca.pem")); err != nil {
			return nil, fmt.Errorf("TLS is on (DOCKER_TLS_VERIFY/DOCKER_TLS) but the CA certificate cannot be read: %w — set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem", err)
		}
		cert, cerr := os.ReadFile(filepath.Join(certDir, "cert.pem"))
		key, kerr := os.ReadFile(filepath.Join(certDir, "key.pem"))
		switch {
		case cerr == nil && kerr == nil:
			t.Cert, t.Key = cert, key
		case cerr != nil && !errors.Is(cerr, os.ErrNotExist):
			return nil, fmt.Errorf("TLS client certificate: %w", cerr)
		case kerr != nil && !errors.Is(kerr, os.ErrNotExist):
			return nil, fmt.Errorf("TLS client key: %w", kerr)
		}
		ep.TLS = t
	}
	return ep, nil
}

// namedEndpoint reads a context from the docker CLI's context store.
func namedEndpoint(name, configDir string, source Source) (*Endpoint, error) {
	s := contextStore(configDir)
	names, err := store.Names(s)
	if err != nil {
		return nil, fmt.Errorf("docker contexts in %s: %w", filepath.Join(configDir, "contexts"), err)
	}
	found := false
	for _, n := range names {
		found = found || n == name
	}
	if !found {
		return nil, &UnknownContextError{Name: name, Source: source, Known: append([]string{DefaultContext}, sorted(names)...)}
	}
	meta, err := s.GetMetadata(name)
	if err != nil {
		return nil, fmt.Errorf("docker context %q: %w", name, err)
	}
	raw, ok := meta.Endpoints[dockerEndpoint]
	if !ok {
		return nil, fmt.Errorf("docker context %q has no docker endpoint", name)
	}
	em, ok := raw.(dcontext.EndpointMetaBase)
	if !ok {
		return nil, fmt.Errorf("docker context %q: its docker endpoint cannot be read", name)
	}
	host := em.Host
	if host == "" {
		host = DefaultHost
	}
	ep := &Endpoint{Host: host, Context: name, ConfigDir: configDir}
	td, err := dcontext.LoadTLSData(s, name, dockerEndpoint)
	if err != nil {
		return nil, fmt.Errorf("docker context %q: %w", name, err)
	}
	if (td != nil || em.SkipTLSVerify) && ep.Scheme() == "tcp" {
		ep.TLS = &TLS{SkipVerify: em.SkipTLSVerify, Origin: "docker context " + name}
		if td != nil {
			ep.TLS.CA, ep.TLS.Cert, ep.TLS.Key = td.CA, td.Cert, td.Key
		}
	}
	return ep, nil
}

// UnknownContextError is a context name the store does not know.
type UnknownContextError struct {
	Name   string
	Source Source
	Known  []string
}

func (e *UnknownContextError) Error() string {
	where := ""
	switch e.Source {
	case FromEnvContext:
		where = " (from DOCKER_CONTEXT)"
	case FromConfig:
		where = " (the current context in the docker config)"
	}
	return fmt.Sprintf("docker context %q not found%s; known contexts: %s — see `docker context ls`", e.Name, where, strings.Join(e.Known, ", "))
}

// Is matches ErrUnknownContext.
func (e *UnknownContextError) Is(target error) bool { return target == ErrUnknownContext }

// Context is one docker context as `docker context ls` lists it.
type Context struct {
	Name    string `json:"name"`
	Host    string `json:"host"`
	Current bool   `json:"current"`
}

// Contexts lists the default context and the store's, marking the one
// Resolve would pick without flags.
func Contexts(environ []string) ([]Context, error) {
	configDir := ConfigDir(environ)
	s := contextStore(configDir)
	metas, err := s.List()
	if err != nil {
		return nil, fmt.Errorf("docker contexts in %s: %w", filepath.Join(configDir, "contexts"), err)
	}
	cur, err := Resolve(Options{Environ: environ})
	curName := ""
	if err == nil {
		curName = cur.Context
	}
	def := DefaultHost
	if d, err := defaultEndpoint("", environMap(environ), configDir); err == nil {
		def = d.Host
	}
	out := []Context{{Name: DefaultContext, Host: def, Current: curName == DefaultContext}}
	for _, m := range metas {
		c := Context{Name: m.Name, Current: curName == m.Name}
		if em, ok := m.Endpoints[dockerEndpoint].(dcontext.EndpointMetaBase); ok {
			c.Host = em.Host
		}
		out = append(out, c)
	}
	sort.SliceStable(out[1:], func(i, j int) bool { return out[1+i].Name < out[1+j].Name })
	return out, nil
}

// ConfigDir is the docker CLI's configuration directory: DOCKER_CONFIG, else
// ~/.docker.
func ConfigDir(environ []string) string {
	env := environMap(environ)
	if d := env["DOCKER_CONFIG"]; d != "" {
		return d
	}
	home := env["HOME"]
	if home == "" {
		if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
	}
	return filepath.Join(home, ".docker")
}

// currentContext is config.json's currentContext. A missing or unreadable
// file means none, as for the docker CLI (which warns and goes on).
func currentContext(configDir string) string {
	b, err := os.ReadFile(filepath.Join(configDir, "config.json"))
	if err != nil {
		return ""
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return ""
	}
	return cfg.CurrentContext
}

func contextStore(configDir string) *store.ContextStore {
	cfg := store.NewConfig(
		func() any { return &map[string]any{} },
		store.EndpointTypeGetter(dockerEndpoint, func() any { return &dcontext.EndpointMetaBase{} }),
	)
	return store.New(filepath.Join(configDir, "contexts"), cfg)
}

// ParseHost normalises a -H/DOCKER_HOST value the way the docker CLI does
// (github.com/docker/cli/opts.ParseHost): empty means the default socket (or
// tcp://localhost:2376 with TLS), "host:port" means tcp://, a tcp address
// gets the default port, ssh:// is taken as written.
func ParseHost(defaultToTLS bool, val string) (string, error) {
	host := strings.TrimSpace(val)
	if host == "" {
		if defaultToTLS {
			return "tcp://localhost:2376", nil
		}
		return DefaultHost, nil
	}
	proto, addr, hasProto := strings.Cut(host, "://")
	if !hasProto {
		proto, addr = "tcp", host
	}
	switch proto {
	case "tcp":
		return parseTCPAddr(addr, host, defaultToTLS)
	case "unix":
		if strings.Contains(addr, "://") {
			return "", fmt.Errorf("invalid proto, expected unix: %s", addr)
		}
		if addr == "" {
			addr = "/var/run/docker.sock"
		}
		return "unix://" + addr, nil
	case "ssh":
		u, err := url.Parse(host)
		if err != nil {
			return "", err
		}
		if u.Hostname() == "" {
			return "", errors.New("ssh:// needs a host name: ssh://[user@]host[:port]")
		}
		if _, ok := u.User.Password(); ok {
			return "", errors.New("a password in an ssh:// address is not supported: use a key (ssh-agent) instead")
		}
		return host, nil
	case "npipe", "fd":
		return "", fmt.Errorf("%s:// is not supported by stackpilot: use unix://, tcp:// or ssh://", proto)
	default:
		return "", fmt.Errorf("invalid address: scheme %q is not one of unix://, tcp://, ssh://", proto)
	}
}

// parseTCPAddr is the docker CLI's ParseTCPAddr: host and port filled in
// from the default (localhost:2375, or 2376 with TLS), path kept.
func parseTCPAddr(addr, orig string, tls bool) (string, error) {
	defPort := "2375"
	if tls {
		defPort = "2376"
	}
	if addr == "" {
		return "tcp://localhost:" + defPort, nil
	}
	if strings.Contains(addr, "://") {
		return "", fmt.Errorf("invalid proto, expected tcp: %s", orig)
	}
	if strings.HasSuffix(addr, "]:") {
		addr += defPort
	}
	u, err := url.Parse("tcp://" + addr)
	if err != nil {
		return "", err
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		host, port, err = net.SplitHostPort(net.JoinHostPort(u.Host, defPort))
	}
	if err != nil {
		return "", fmt.Errorf("invalid bind address format: %s", orig)
	}
	if host == "" {
		host = "localhost"
	}
	if port == "" {
		port = defPort
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return "", fmt.Errorf("invalid port in %s", orig)
	}
	return "tcp://" + net.JoinHostPort(host, port) + u.Path, nil
}

func environMap(environ []string) map[string]string {
	if environ == nil {
		environ = os.Environ()
	}
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}
