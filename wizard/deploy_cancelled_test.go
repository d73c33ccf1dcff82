package wizard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

// The hints of a cancelled deploy (finish it, roll it back) are built as
// every other hint: with -C, so they work pasted from any directory — here
// the project was found from a subdirectory.
func TestCancelledDeployHintsWorkFromAnywhere(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  api: {image: a}\n  db: {image: b}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	ios, _, _, errOut := steps.Test()
	f := NewFactory(ios, "test", nil)
	f.WorkDir, f.Environ = sub, []string{}
	if _, err := f.Stack(context.Background()); err != nil {
		t.Fatal(err)
	}
	res := &stackops.DeployResult{ID: "r1", Project: "p", Operation: "deploy", Commands: [][]string{{"docker", "compose", "up"}},
		Services: []stackops.ServiceDeploy{
			{ServiceHealth: stackops.ServiceHealth{Service: "api", State: "created"}, ImageBefore: "sha256:a", ImageAfter: "sha256:b"},
			{ServiceHealth: stackops.ServiceHealth{Service: "db", State: stackops.StateRunning}, ImageBefore: "sha256:c", ImageAfter: "sha256:c"},
		}}
	opts := &deployOptions{Services: []string{"api"}, NoBuild: true}
	err := rolloutCancelled(context.Background(), f, res, stackops.ErrInterrupted, false, false, opts.args(), nil, nil, nil)
	if err != stackops.ErrInterrupted {
		t.Fatalf("err %v", err)
	}
	out := errOut.String()
	for _, want := range []string{
		"to finish the deploy: stackpilot -C " + dir + " deploy api --no-build --yes",
		"to go back to the images before it: stackpilot -C " + dir + " rollback api\n",
		"not running: api (created, never started)",
		"running: db (running)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}
