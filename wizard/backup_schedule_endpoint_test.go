package wizard

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	dcontext "github.com/docker/cli/cli/context"
	"github.com/docker/cli/cli/context/store"

	"github.com/stackpilot/stackpilot/stackops"
)

// A scheduled backup runs from cron, whose environment has no DOCKER_HOST
// and no --context: the entry names the engine the stack was scheduled on.
func TestScheduleGlobalsPinTheEngine(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  db:\n    image: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := t.TempDir()
	s := store.New(filepath.Join(cfg, "contexts"), store.NewConfig(func() any { return &map[string]any{} },
		store.EndpointTypeGetter("docker", func() any { return &dcontext.EndpointMetaBase{} })))
	if err := s.CreateOrUpdate(store.Metadata{Name: "prod", Endpoints: map[string]any{"docker": dcontext.EndpointMetaBase{Host: "ssh://deploy@10.0.0.5"}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		context string
		env     []string
		want    []string
	}{
		{"--context", "prod", nil, []string{"--context", "prod"}},
		{"DOCKER_CONTEXT", "", []string{"DOCKER_CONTEXT=prod"}, []string{"--context", "prod"}},
		{"DOCKER_HOST", "", []string{"DOCKER_HOST=ssh://root@10.0.0.9"}, []string{"-H", "ssh://root@10.0.0.9"}},
		{"the local socket", "", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{"DOCKER_CONFIG=" + cfg, "HOME=" + t.TempDir()}, tc.env...)
			st, err := stackops.Load(context.Background(), stackops.LoadOptions{WorkDir: dir, Context: tc.context, Environ: env})
			if err != nil {
				t.Fatal(err)
			}
			if got := scheduleGlobals(st); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("scheduleGlobals = %q, want %q", got, tc.want)
			}
		})
	}
}
