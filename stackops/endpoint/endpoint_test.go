package endpoint

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	dcontext "github.com/docker/cli/cli/context"
	"github.com/docker/cli/cli/context/store"

	"github.com/stackpilot/stackpilot/internal/testcerts"
)

// configDir makes a docker config directory with contexts (name → host) in
// the docker CLI's own store format, and config.json's currentContext.
func configDir(t *testing.T, current string, contexts map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	s := contextStore(dir)
	for name, host := range contexts {
		err := s.CreateOrUpdate(store.Metadata{
			Name:      name,
			Metadata:  map[string]any{"Description": "test"},
			Endpoints: map[string]any{dockerEndpoint: dcontext.EndpointMetaBase{Host: host}},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if current != "" {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{},"currentContext":"`+current+`"}`), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestResolvePrecedence(t *testing.T) {
	cfg := configDir(t, "fromconfig", map[string]string{
		"fromconfig": "ssh://cfg@config.example",
		"fromenv":    "ssh://env@env.example",
		"fromflag":   "tcp://flag.example:2375",
	})
	empty := t.TempDir()
	cases := []struct {
		name          string
		opts          Options
		env           []string
		host, context string
		source        Source
	}{
		{"nothing set: the default socket", Options{}, []string{"DOCKER_CONFIG=" + empty}, DefaultHost, "default", FromDefault},
		{"config.json's current context", Options{}, nil, "ssh://cfg@config.example", "fromconfig", FromConfig},
		{"DOCKER_CONTEXT beats the config", Options{}, []string{"DOCKER_CONTEXT=fromenv"}, "ssh://env@env.example", "fromenv", FromEnvContext},
		{"DOCKER_HOST beats DOCKER_CONTEXT", Options{}, []string{"DOCKER_CONTEXT=fromenv", "DOCKER_HOST=tcp://envhost:2375"}, "tcp://envhost:2375", "default", FromDockerHost},
		{"--host beats DOCKER_HOST", Options{Host: "ssh://me@flaghost"}, []string{"DOCKER_HOST=tcp://envhost:2375"}, "ssh://me@flaghost", "default", FromHostFlag},
		{"--context beats DOCKER_HOST", Options{Context: "fromflag"}, []string{"DOCKER_HOST=tcp://envhost:2375", "DOCKER_CONTEXT=fromenv"}, "tcp://flag.example:2375", "fromflag", FromContextFlag},
		{"--context default is DOCKER_HOST's engine", Options{Context: "default"}, []string{"DOCKER_HOST=tcp://envhost:2375"}, "tcp://envhost:2375", "default", FromContextFlag},
		{"DOCKER_CONTEXT=default is the socket", Options{}, []string{"DOCKER_CONTEXT=default"}, DefaultHost, "default", FromEnvContext},
		{"an empty DOCKER_HOST is unset", Options{}, []string{"DOCKER_HOST="}, "ssh://cfg@config.example", "fromconfig", FromConfig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Environ = append([]string{"HOME=/nonexistent", "DOCKER_CONFIG=" + cfg}, tc.env...)
			ep, err := Resolve(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if ep.Host != tc.host || ep.Context != tc.context || ep.Source != tc.source {
				t.Fatalf("got host %q context %q source %q, want %q %q %q", ep.Host, ep.Context, ep.Source, tc.host, tc.context, tc.source)
			}
		})
	}
}

func TestResolveConfigDirFromHome(t *testing.T) {
	home := t.TempDir()
	cfg := configDir(t, "prod", map[string]string{"prod": "ssh://deploy@10.0.0.5"})
	if err := os.Rename(cfg, filepath.Join(home, ".docker")); err != nil {
		t.Fatal(err)
	}
	ep, err := Resolve(Options{Environ: []string{"HOME=" + home}})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Host != "ssh://deploy@10.0.0.5" || ep.Source != FromConfig || ep.String() != "ssh://deploy@10.0.0.5 (context prod)" {
		t.Fatalf("~/.docker not read: %+v", ep)
	}
}

func TestResolveErrors(t *testing.T) {
	cfg := configDir(t, "", map[string]string{"staging": "ssh://a@b", "prod": "ssh://c@d"})
	env := []string{"DOCKER_CONFIG=" + cfg}

	_, err := Resolve(Options{Context: "prdo", Environ: env})
	if !errors.Is(err, ErrUnknownContext) {
		t.Fatalf("unknown --context: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `"prdo" not found`) || !strings.Contains(msg, "known contexts: default, prod, staging") {
		t.Fatalf("the message does not list the known contexts: %s", msg)
	}
	_, err = Resolve(Options{Environ: append(env, "DOCKER_CONTEXT=gone")})
	if !errors.Is(err, ErrUnknownContext) || !strings.Contains(err.Error(), "DOCKER_CONTEXT") {
		t.Fatalf("unknown DOCKER_CONTEXT does not say where the name came from: %v", err)
	}
	if _, err := Resolve(Options{Context: "prod", Host: "ssh://x@y", Environ: env}); err == nil || !strings.Contains(err.Error(), "--context and --host") {
		t.Fatalf("both flags: %v", err)
	}
	if _, err := Resolve(Options{Environ: append(env, "DOCKER_HOST=gopher://x")}); err == nil || !strings.Contains(err.Error(), `DOCKER_HOST "gopher://x"`) {
		t.Fatalf("a bad DOCKER_HOST is not named: %v", err)
	}
	if _, err := Resolve(Options{Host: "ssh://", Environ: env}); err == nil || !strings.Contains(err.Error(), "--host") {
		t.Fatalf("a bad --host is not named: %v", err)
	}
}

func TestParseHost(t *testing.T) {
	ok := []struct {
		in   string
		tls  bool
		want string
	}{
		{"", false, "unix:///var/run/docker.sock"},
		{"", true, "tcp://localhost:2376"},
		{"unix://", false, "unix:///var/run/docker.sock"},
		{"unix:///run/user/1000/docker.sock", false, "unix:///run/user/1000/docker.sock"},
		{"tcp://", false, "tcp://localhost:2375"},
		{"tcp://10.0.0.5", false, "tcp://10.0.0.5:2375"},
		{"tcp://10.0.0.5", true, "tcp://10.0.0.5:2376"},
		{"tcp://10.0.0.5:4243", true, "tcp://10.0.0.5:4243"},
		{"10.0.0.5:2376", false, "tcp://10.0.0.5:2376"},
		{"tcp://:2375", false, "tcp://localhost:2375"},
		{"tcp://[::1]:", false, "tcp://[::1]:2375"},
		{"tcp://docker.example:2375/prefix", false, "tcp://docker.example:2375/prefix"},
		{"ssh://deploy@10.0.0.5", false, "ssh://deploy@10.0.0.5"},
		{"ssh://deploy@10.0.0.5:2222/run/docker.sock", false, "ssh://deploy@10.0.0.5:2222/run/docker.sock"},
		{" ssh://host ", false, "ssh://host"},
	}
	for _, tc := range ok {
		got, err := ParseHost(tc.tls, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseHost(%v, %q) = %q, %v; want %q", tc.tls, tc.in, got, err, tc.want)
		}
	}
	bad := map[string]string{
		"ssh://":                 "needs a host",
		"ssh://u:secret@h":       "password",
		"npipe:////./pipe/x":     "not supported",
		"fd://3":                 "not supported",
		"http+unix://x":          "not one of",
		"tcp://h:port":           "invalid",
		"tcp://h:99999":          "invalid port",
		"unix://tcp://localhost": "invalid proto",
	}
	for in, want := range bad {
		if _, err := ParseHost(false, in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseHost(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestResolveTLSFromEnvironment(t *testing.T) {
	ca := testcerts.NewCA(t)
	certs := t.TempDir()
	ca.WriteClientFiles(t, certs) // ca.pem, cert.pem, key.pem

	ep, err := Resolve(Options{Environ: []string{"DOCKER_HOST=tcp://10.0.0.5", "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs}})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Host != "tcp://10.0.0.5:2376" || ep.TLS == nil || ep.TLS.SkipVerify || ep.TLS.Cert == nil || ep.TLS.Key == nil {
		t.Fatalf("DOCKER_TLS_VERIFY: %+v %+v", ep, ep.TLS)
	}
	cfg, err := ep.TLSConfig()
	if err != nil || cfg.RootCAs == nil || len(cfg.Certificates) != 1 || cfg.InsecureSkipVerify {
		t.Fatalf("TLS config: %+v, %v", cfg, err)
	}

	// DOCKER_TLS alone: encrypted, unverified; the cert path defaults to the config dir.
	ep, err = Resolve(Options{Environ: []string{"DOCKER_HOST=tcp://10.0.0.5:2376", "DOCKER_TLS=1", "DOCKER_CONFIG=" + certs}})
	if err != nil || ep.TLS == nil || !ep.TLS.SkipVerify || ep.TLS.Origin != certs {
		t.Fatalf("DOCKER_TLS: %+v, %v", ep, err)
	}
	// TLS asked for with no DOCKER_HOST: the docker CLI's default TLS address.
	ep, err = Resolve(Options{Environ: []string{"DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs}})
	if err != nil || ep.Host != "tcp://localhost:2376" || ep.TLS == nil {
		t.Fatalf("DOCKER_TLS_VERIFY without a host: %+v, %v", ep, err)
	}
	// A socket or ssh needs no TLS.
	ep, err = Resolve(Options{Host: "ssh://u@h", Environ: []string{"DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs}})
	if err != nil || ep.TLS != nil {
		t.Fatalf("ssh with DOCKER_TLS_VERIFY: %+v, %v", ep, err)
	}
	// Without ca.pem the docker CLI fails too; say where to put it.
	_, err = Resolve(Options{Environ: []string{"DOCKER_HOST=tcp://h", "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + t.TempDir()}})
	if err == nil || !strings.Contains(err.Error(), "DOCKER_CERT_PATH") {
		t.Fatalf("missing ca.pem: %v", err)
	}
	// A CA that is not PEM is refused when the connection is built.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "ca.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ep, err = Resolve(Options{Environ: []string{"DOCKER_HOST=tcp://h", "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + bad}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ep.TLSConfig(); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("a bad CA: %v", err)
	}
}

func TestResolveTLSFromContext(t *testing.T) {
	ca := testcerts.NewCA(t)
	cfg := configDir(t, "", map[string]string{"secure": "tcp://10.0.0.5:2376"})
	s := contextStore(cfg)
	cert, key := ca.Client(t)
	if err := s.ResetEndpointTLSMaterial("secure", dockerEndpoint, (&dcontext.TLSData{CA: ca.PEM, Cert: cert, Key: key}).ToStoreTLSData()); err != nil {
		t.Fatal(err)
	}
	ep, err := Resolve(Options{Context: "secure", Environ: []string{"DOCKER_CONFIG=" + cfg}})
	if err != nil {
		t.Fatal(err)
	}
	if ep.TLS == nil || string(ep.TLS.CA) != string(ca.PEM) || ep.TLS.SkipVerify || !strings.Contains(ep.TLS.Origin, "secure") {
		t.Fatalf("the context's TLS material was not read: %+v", ep.TLS)
	}
	if c, err := ep.TLSConfig(); err != nil || len(c.Certificates) != 1 {
		t.Fatalf("TLS config from the context: %v", err)
	}
}

// The real docker CLI writes the store this package reads.
func TestResolveContextWrittenByDockerCLI(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker CLI")
	}
	cfg := t.TempDir()
	env := append(os.Environ(), "DOCKER_CONFIG="+cfg)
	for _, args := range [][]string{
		{"context", "create", "prod", "--docker", "host=ssh://deploy@10.0.0.5:2222"},
		{"context", "use", "prod"},
	} {
		cmd := exec.Command("docker", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	environ := []string{"DOCKER_CONFIG=" + cfg}
	ep, err := Resolve(Options{Environ: environ})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Host != "ssh://deploy@10.0.0.5:2222" || ep.Context != "prod" || ep.Source != FromConfig {
		t.Fatalf("after docker context use prod: %+v", ep)
	}
	list, err := Contexts(environ)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "default" || list[0].Current || list[1].Name != "prod" || !list[1].Current || list[1].Host != ep.Host {
		t.Fatalf("Contexts: %+v", list)
	}
}

func TestRemote(t *testing.T) {
	for host, want := range map[string]bool{
		"unix:///var/run/docker.sock": false,
		"tcp://127.0.0.1:2375":        false,
		"tcp://localhost:2375":        false,
		"tcp://[::1]:2375":            false,
		"tcp://10.0.0.5:2376":         true,
		"tcp://docker.example:2376":   true,
		"ssh://localhost":             true,
	} {
		if got := (&Endpoint{Host: host}).Remote(); got != want {
			t.Errorf("Remote(%s) = %v, want %v", host, got, want)
		}
	}
}
