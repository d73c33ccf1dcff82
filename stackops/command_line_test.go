package stackops

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The global flags of a hint find the stack from anywhere: -C always, and
// only the other flags the stack was found with; the Equivalent form (from
// the project directory) leaves -C out.
func TestGlobalArgs(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, "compose.yaml", "sub/x", "stack.yml")
	os.WriteFile(filepath.Join(dir, "prod.env"), []byte("A=1\n"), 0o644)
	load := func(o LoadOptions) *Stack {
		t.Helper()
		if o.Environ == nil {
			o.Environ = []string{}
		}
		st, err := Load(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	for _, c := range []struct {
		name     string
		o        LoadOptions
		anywhere string
		here     string
	}{
		{"found upward", LoadOptions{WorkDir: filepath.Join(dir, "sub")}, "-C " + dir, "-C " + dir},
		{"in the directory", LoadOptions{WorkDir: dir}, "-C " + dir, ""},
		{"-C given", LoadOptions{WorkDir: dir, ProjectDir: "."}, "-C " + dir, "-C " + dir},
		{"-f -p --env-file --profile, relative", LoadOptions{WorkDir: dir, Files: []string{"stack.yml"}, ProjectName: "shop", EnvFiles: []string{"prod.env"}, Profiles: []string{"dev"}},
			"-C " + dir + " -f " + filepath.Join(dir, "stack.yml") + " -p shop --env-file " + filepath.Join(dir, "prod.env") + " --profile dev",
			"-f " + filepath.Join(dir, "stack.yml") + " -p shop --env-file " + filepath.Join(dir, "prod.env") + " --profile dev"},
		{"DOCKER_HOST: pinned for anywhere (cron has none), not in the command typed here", LoadOptions{WorkDir: dir, Environ: []string{"DOCKER_HOST=tcp://10.0.0.9:2375"}},
			"-C " + dir + " -H tcp://10.0.0.9:2375", ""},
		{"-H given", LoadOptions{WorkDir: dir, Host: "tcp://10.0.0.9:2375"}, "-C " + dir + " -H tcp://10.0.0.9:2375", "-H tcp://10.0.0.9:2375"},
		{"COMPOSE_FILE and the name from the environment", LoadOptions{WorkDir: dir, Environ: []string{"COMPOSE_FILE=stack.yml", "COMPOSE_PROJECT_NAME=envname"}},
			"-C " + dir + " -f " + filepath.Join(dir, "stack.yml") + " -p envname", "-f " + filepath.Join(dir, "stack.yml") + " -p envname"},
	} {
		st := load(c.o)
		if got := strings.Join(st.GlobalArgs(""), " "); got != c.anywhere {
			t.Errorf("%s: anywhere %q, want %q", c.name, got, c.anywhere)
		}
		if got := strings.Join(st.GlobalArgs(c.o.WorkDir), " "); got != c.here {
			t.Errorf("%s: from %s %q, want %q", c.name, c.o.WorkDir, got, c.here)
		}
	}
	spaced := filepath.Join(dir, "my app")
	writeTree(t, spaced, "compose.yaml")
	st := load(LoadOptions{WorkDir: spaced, ProjectName: "shop"})
	if got := st.CommandLine("backup", "verify", "20261125-030000"); got != "stackpilot -C '"+spaced+"' -p shop backup verify 20261125-030000" {
		t.Errorf("command line %q", got)
	}
}
