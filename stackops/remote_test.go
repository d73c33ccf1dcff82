package stackops

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	dcontext "github.com/docker/cli/cli/context"
	"github.com/docker/cli/cli/context/store"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops/endpoint"
)

// Compose is told on its command line what stackpilot was told on its own
// (--context, -H); what both read from the environment and the docker config
// needs no repeating — except DOCKER_CONTEXT for v1, which does not read it.
func TestComposeArgsCarryTheEndpoint(t *testing.T) {
	cfg := t.TempDir()
	s := store.New(cfg+"/contexts", store.NewConfig(func() any { return &map[string]any{} },
		store.EndpointTypeGetter("docker", func() any { return &dcontext.EndpointMetaBase{} })))
	if err := s.CreateOrUpdate(store.Metadata{Name: "prod", Endpoints: map[string]any{"docker": dcontext.EndpointMetaBase{Host: "ssh://deploy@10.0.0.5"}}}); err != nil {
		t.Fatal(err)
	}
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: x\n"})
	v2 := &ComposeCLI{Variant: ComposeV2, Command: []string{"docker", "compose"}}
	v1 := &ComposeCLI{Variant: ComposeV1, Command: []string{"docker-compose"}}
	cases := []struct {
		name         string
		opts         LoadOptions
		env          []string
		wantV2       []string
		wantV1       []string
		endpointHost string
	}{
		{"--context", LoadOptions{Context: "prod"}, nil,
			[]string{"docker", "--context", "prod", "compose"}, []string{"docker-compose", "--context", "prod"}, "ssh://deploy@10.0.0.5"},
		{"-H", LoadOptions{Host: "ssh://root@10.0.0.9"}, []string{"DOCKER_HOST=unix:///elsewhere.sock"},
			[]string{"docker", "--host", "ssh://root@10.0.0.9", "compose"}, []string{"docker-compose", "--host", "ssh://root@10.0.0.9"}, "ssh://root@10.0.0.9"},
		{"DOCKER_HOST: inherited", LoadOptions{}, []string{"DOCKER_HOST=tcp://10.0.0.7:2375"},
			[]string{"docker", "compose"}, []string{"docker-compose"}, "tcp://10.0.0.7:2375"},
		{"DOCKER_CONTEXT: inherited by v2, said to v1", LoadOptions{}, []string{"DOCKER_CONTEXT=prod"},
			[]string{"docker", "compose"}, []string{"docker-compose", "--context", "prod"}, "ssh://deploy@10.0.0.5"},
		{"nothing: the default socket", LoadOptions{}, nil,
			[]string{"docker", "compose"}, []string{"docker-compose"}, endpoint.DefaultHost},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.WorkDir = dir
			opts.Environ = append([]string{"DOCKER_CONFIG=" + cfg, "HOME=" + t.TempDir()}, tc.env...)
			st, err := Load(context.Background(), opts)
			if err != nil {
				t.Fatal(err)
			}
			ep, err := st.Endpoint()
			if err != nil || ep.Host != tc.endpointHost {
				t.Fatalf("endpoint %+v, %v; want %s", ep, err, tc.endpointHost)
			}
			wantEnv := map[string][]string{
				"--context": {"DOCKER_HOST=", "DOCKER_CONTEXT=prod"},
				"-H":        {"DOCKER_HOST=ssh://root@10.0.0.9"},
			}[tc.name]
			if got := st.endpointEnv(); !reflect.DeepEqual(got, wantEnv) {
				t.Errorf("hooks' environment %q, want %q", got, wantEnv)
			}
			for _, v := range []struct {
				c    *ComposeCLI
				want []string
			}{{v2, tc.wantV2}, {v1, tc.wantV1}} {
				got, err := st.ComposeArgs(v.c, "ps")
				if err != nil {
					t.Fatal(err)
				}
				if n := len(v.want); len(got) <= n || !reflect.DeepEqual(got[:n], v.want) || got[len(got)-1] != "ps" {
					t.Errorf("Compose %s argv %q, want it to start %q and end with ps", v.c.Variant, got, v.want)
				}
			}
		})
	}
}

func TestEngineUnknownContext(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: x\n"})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Context: "nope", Environ: []string{"DOCKER_CONFIG=" + t.TempDir()}})
	if err != nil {
		t.Fatal(err) // loading does not need the engine
	}
	if _, err := st.Engine(); !errors.Is(err, ErrUnknownContext) {
		t.Fatalf("Engine with --context nope: %v", err)
	}
}

// Compose v1 drops DOCKER_CERT_PATH's files when DOCKER_TLS_VERIFY is set,
// so they are said to it as flags; v2 reads them itself.
func TestComposeV1GetsTheTLSFilesAsFlags(t *testing.T) {
	certs := itest.WriteFiles(t, map[string]string{"ca.pem": "x", "cert.pem": "y", "key.pem": "z"})
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: x\n"})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"DOCKER_CONFIG=" + t.TempDir(),
		"DOCKER_HOST=tcp://10.0.0.7:2376", "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs}})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := st.ComposeArgs(&ComposeCLI{Variant: ComposeV1, Command: []string{"docker-compose"}}, "ps")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"docker-compose", "--tlsverify", "--tlscacert", certs + "/ca.pem", "--tlscert", certs + "/cert.pem", "--tlskey", certs + "/key.pem"}
	if !reflect.DeepEqual(v1[:len(want)], want) {
		t.Errorf("Compose v1 argv %q, want it to start %q", v1, want)
	}
	if env := st.composeEnv(&ComposeCLI{Variant: ComposeV1}); !reflect.DeepEqual(env, []string{"REQUESTS_CA_BUNDLE=", "CURL_CA_BUNDLE="}) {
		t.Errorf("Compose v1's environment %q: REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE must be cleared", env)
	}
	if env := st.composeEnv(&ComposeCLI{Variant: ComposeV2}); env != nil {
		t.Errorf("Compose v2's environment %q", env)
	}
	v2, _ := st.ComposeArgs(&ComposeCLI{Variant: ComposeV2, Command: []string{"docker", "compose"}}, "ps")
	if strings.Contains(strings.Join(v2, " "), "tls") {
		t.Errorf("Compose v2 reads the environment itself: %q", v2)
	}
}

// A context holding its own TLS material: Compose v1 reads it from the
// context store itself (docker-py's ContextAPI), but python-requests would
// still let REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE replace the context's CA, so
// they are cleared for v1 here too; nothing goes on its command line beyond
// --context.
func TestComposeV1WithATLSContext(t *testing.T) {
	cfg := t.TempDir()
	s := store.New(cfg+"/contexts", store.NewConfig(func() any { return &map[string]any{} },
		store.EndpointTypeGetter("docker", func() any { return &dcontext.EndpointMetaBase{} })))
	if err := s.CreateOrUpdate(store.Metadata{Name: "secure", Endpoints: map[string]any{"docker": dcontext.EndpointMetaBase{Host: "tcp://10.0.0.7:2376"}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.ResetEndpointTLSMaterial("secure", "docker", (&dcontext.TLSData{CA: []byte("ca")}).ToStoreTLSData()); err != nil {
		t.Fatal(err)
	}
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: x\n"})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Context: "secure", Environ: []string{"DOCKER_CONFIG=" + cfg}})
	if err != nil {
		t.Fatal(err)
	}
	v1 := &ComposeCLI{Variant: ComposeV1, Command: []string{"docker-compose"}}
	if env := st.composeEnv(v1); !reflect.DeepEqual(env, []string{"REQUESTS_CA_BUNDLE=", "CURL_CA_BUNDLE="}) {
		t.Errorf("Compose v1's environment with a TLS context %q: the CA-bundle variables must be cleared", env)
	}
	argv, err := st.ComposeArgs(v1, "ps")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"docker-compose", "--context", "secure"}; !reflect.DeepEqual(argv[:3], want) || strings.Contains(strings.Join(argv, " "), "--tls") {
		t.Errorf("Compose v1 argv with a TLS context %q", argv)
	}
	if env := st.composeEnv(&ComposeCLI{Variant: ComposeV2}); env != nil {
		t.Errorf("Compose v2's environment %q", env)
	}
}
