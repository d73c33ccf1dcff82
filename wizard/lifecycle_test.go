package wizard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

// composeRecorder answers `docker compose version` and records every other command.
type composeRecorder struct {
	mu   sync.Mutex
	cmds []string
}

func (r *composeRecorder) Run(_ context.Context, c stackops.Cmd) error {
	line := strings.Join(c.Args, " ")
	if line == "docker compose version --short" {
		fmt.Fprintln(c.Stdout, "5.0.2")
		return nil
	}
	r.mu.Lock()
	r.cmds = append(r.cmds, line)
	r.mu.Unlock()
	return nil
}

// wizardFactory is a Factory on in-memory terminal streams with a scripted
// prompter, a recording runner and an unreachable engine.
func wizardFactory(t *testing.T, script *steps.ScriptedPrompter) (*Factory, *composeRecorder) {
	t.Helper()
	dir := t.TempDir()
	compose := "services:\n  db:\n    image: x\n    volumes: [data:/data]\nvolumes:\n  data: {}\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	ios, _, _, _ := steps.Test()
	ios.SetTTY(true, true, true)
	f := NewFactory(ios, "test", nil)
	f.Prompter = script.Prompter()
	f.WorkDir = dir
	f.Environ = []string{"DOCKER_HOST=unix://" + filepath.Join(dir, "no-docker.sock"), "COMPOSE_PROJECT_NAME=shop"}
	rec := &composeRecorder{}
	f.Runner = rec
	return f, rec
}

// Down in the menu destroys volumes only when the project name is typed
// back; a wrong name (three times), or Cancel, changes nothing (no compose down runs).
func TestDownWizardNeedsTheProjectNameTypedBack(t *testing.T) {
	script := steps.NewScriptedPrompter(t).
		Select("Take down shop?", "Remove everything, including the volumes shop_data").
		Select("Back up before deleting the volumes?", "Remove everything without a new backup").
		Input(`Type "shop" to confirm`, "shp").
		Input(`Type "shop" to confirm`, "sho").
		Input(`Type "shop" to confirm`, "shopp")
	f, rec := wizardFactory(t, script)
	if err := runDown(context.Background(), f, &downOptions{wizard: true}); err != nil {
		t.Fatalf("declined down: %v", err)
	}
	if len(rec.cmds) != 0 {
		t.Fatalf("compose ran although the name typed back was wrong: %q", rec.cmds)
	}
	errOut := f.IO.ErrOut.(fmt.Stringer).String()
	if !strings.Contains(errOut, "DELETE the volumes shop_data") || !strings.Contains(errOut, "nothing was changed") ||
		!strings.Contains(errOut, "there is no backup of shop") {
		t.Fatalf("stderr:\n%s", errOut)
	}

	// Cancel at the backup question changes nothing either.
	script = steps.NewScriptedPrompter(t).
		Select("Take down shop?", "Remove everything, including the volumes shop_data").
		Select("Back up before deleting the volumes?", "Cancel")
	f, rec = wizardFactory(t, script)
	if err := runDown(context.Background(), f, &downOptions{wizard: true}); err != nil || len(rec.cmds) != 0 {
		t.Fatalf("cancel at the backup question: %v %q", err, rec.cmds)
	}

	script = steps.NewScriptedPrompter(t).Select("Take down shop?", "Cancel")
	f, rec = wizardFactory(t, script)
	if err := runDown(context.Background(), f, &downOptions{wizard: true}); err != nil || len(rec.cmds) != 0 {
		t.Fatalf("cancel: %v %q", err, rec.cmds)
	}
}

// Without a terminal, down --volumes needs --yes: exit 2 naming --yes, nothing run.
func TestDownVolumesWithoutTerminalNeedsYes(t *testing.T) {
	f, rec := wizardFactory(t, steps.NewScriptedPrompter(t))
	f.IO.SetTTY(false, false, false)
	f.Prompter = nil
	err := runDown(context.Background(), f, &downOptions{Volumes: true})
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--yes") || !strings.Contains(err.Error(), "shop_data") {
		t.Fatalf("exit %d: %v", ExitCode(err), err)
	}
	if len(rec.cmds) != 0 {
		t.Fatalf("compose ran: %q", rec.cmds)
	}
}

// Declining the stop confirmation in the menu stops nothing.
func TestStopWizardDeclined(t *testing.T) {
	script := steps.NewScriptedPrompter(t).
		Select("Which services do you want to stop?", "All services (1)").
		Confirm("Stop every service of shop?", false)
	f, rec := wizardFactory(t, script)
	if err := runLifecycle(context.Background(), f, &lifecycleOptions{Op: "stop", wizard: true}); err != nil {
		t.Fatal(err)
	}
	if len(rec.cmds) != 0 {
		t.Fatalf("compose ran: %q", rec.cmds)
	}
}

// The equivalent command a deploy flow prints carries the answers.
func TestDeployEquivalentArgs(t *testing.T) {
	o := &deployOptions{Services: []string{"api", "web"}, NoBuild: true, Pull: true}
	if got := strings.Join(o.args(), " "); got != "deploy api web --no-build --pull --yes" {
		t.Fatalf("got %q", got)
	}
	if got := strings.Join((&deployOptions{}).args(), " "); got != "deploy --yes" {
		t.Fatalf("got %q", got)
	}
}
