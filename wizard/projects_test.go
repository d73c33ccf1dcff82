package wizard

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/steps"
)

// Open a project → Type a path: a path without a project says why and asks
// again; Enter alone goes back to the menu with no project opened (never a
// prompt that only Ctrl-C leaves); a directory with a compose file opens it.
func TestOpenProjectTypedPath(t *testing.T) {
	here, project := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(project, "compose.yaml"), []byte("services:\n  web: {image: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(script *steps.ScriptedPrompter) (*Factory, string) {
		t.Helper()
		ios, _, _, errOut := steps.Test()
		ios.SetTTY(true, true, true)
		f := NewFactory(ios, "test", nil)
		f.Prompter, f.WorkDir = script.Prompter(), here
		f.Environ = []string{"STACKPILOT_CACHE_DIR=" + t.TempDir()}
		if err := runOpenProject(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		return f, errOut.String()
	}

	f, out := run(steps.NewScriptedPrompter(t).Select("Which project?", typePathLabel).
		Input("Project directory or compose file", filepath.Join(here, "nope")).
		Input("Project directory or compose file", ""))
	if f.Global.ProjectDir != "" || !strings.Contains(out, "no such file or directory") || !strings.Contains(out, "no project opened") {
		t.Errorf("a wrong path, then Enter: project %q\n%s", f.Global.ProjectDir, out)
	}

	f, out = run(steps.NewScriptedPrompter(t).Select("Which project?", typePathLabel).
		Input("Project directory or compose file", project))
	if f.Global.ProjectDir != project || !strings.Contains(out, "the menu now runs on "+project) {
		t.Errorf("a project's directory: project %q\n%s", f.Global.ProjectDir, out)
	}
}
