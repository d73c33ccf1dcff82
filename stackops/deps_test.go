package stackops

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/stackpilot/stackpilot/"

// goListDeps returns, for every package under ./... (stackops and the
// packages below it), the packages it imports directly and, with deps,
// all it depends on.
func goListDeps(t *testing.T) map[string]struct{ Imports, Deps []string } {
	t.Helper()
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,Deps", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string]struct{ Imports, Deps []string }{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath    string
			Imports, Deps []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = struct{ Imports, Deps []string }{p.Imports, p.Deps}
	}
	return pkgs
}

// stackops must stay usable without a terminal: none of its packages may
// depend on the prompt, spinner, color or command-line packages, even
// indirectly.
func TestStackopsHasNoUIDependencies(t *testing.T) {
	pkgs := goListDeps(t)
	for _, want := range []string{"stackops", "stackops/env", "stackops/envfile", "stackops/logs", "stackops/backup"} {
		if _, ok := pkgs[module+want]; !ok {
			t.Fatalf("go list does not show %s: the check would prove nothing", want)
		}
	}
	forbidden := []string{"github.com/AlecAivazis/survey", "github.com/briandowns/spinner", "github.com/fatih/color", "github.com/spf13/cobra"}
	for pkg, p := range pkgs {
		for _, dep := range p.Deps {
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
	if !contains(pkgs[module+"stackops"].Deps, "github.com/compose-spec/compose-go/v2/loader") {
		t.Fatal("go list output looks wrong (compose-go missing); the check would prove nothing")
	}
}

// The import direction is one way: the core (stackops) imports none of the
// job packages built on it, and the .env document (envfile) is pure — no
// Docker, no compose project, no core.
func TestStackopsImportDirection(t *testing.T) {
	pkgs := goListDeps(t)
	for _, job := range []string{"stackops/env", "stackops/logs", "stackops/backup"} {
		if contains(pkgs[module+"stackops"].Deps, module+job) {
			t.Errorf("the core stackops depends on %s", job)
		}
		if !contains(pkgs[module+job].Imports, module+"stackops") {
			t.Errorf("%s does not import stackops: the check is looking at the wrong packages", job)
		}
	}
	envfile := pkgs[module+"stackops/envfile"]
	if len(envfile.Deps) == 0 {
		t.Fatal("go list shows no dependencies for envfile")
	}
	for _, dep := range envfile.Deps {
		switch {
		case dep == module+"stackops", strings.HasPrefix(dep, module+"stackops/") && dep != module+"stackops/internal/lazyre":
			t.Errorf("envfile depends on %s (it may use only compose-go's parsing and the standard library)", dep)
		case strings.HasPrefix(dep, "github.com/docker/"), strings.HasPrefix(dep, "github.com/moby/"),
			strings.HasPrefix(dep, "github.com/compose-spec/compose-go/v2/loader"), strings.HasPrefix(dep, "github.com/compose-spec/compose-go/v2/cli"):
			t.Errorf("envfile depends on %s: Docker or compose project code", dep)
		}
	}
}

// envcrypt is pure too: the value format, recipients and identity files,
// on envfile and age — no core, no Docker, no compose project.
func TestEnvcryptIsPure(t *testing.T) {
	pkgs := goListDeps(t)
	p, ok := pkgs[module+"stackops/envcrypt"]
	if !ok || !contains(p.Deps, "filippo.io/age") {
		t.Fatal("go list does not show envcrypt on age: the check would prove nothing")
	}
	for _, dep := range p.Deps {
		switch {
		case dep == module+"stackops", strings.HasPrefix(dep, module+"stackops/") && dep != module+"stackops/envfile" && dep != module+"stackops/internal/lazyre":
			t.Errorf("envcrypt depends on %s", dep)
		case strings.HasPrefix(dep, "github.com/docker/"), strings.HasPrefix(dep, "github.com/moby/"),
			strings.HasPrefix(dep, "github.com/compose-spec/compose-go/v2/loader"), strings.HasPrefix(dep, "github.com/compose-spec/compose-go/v2/cli"):
			t.Errorf("envcrypt depends on %s: Docker or compose project code", dep)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
