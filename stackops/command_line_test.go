package stackops

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
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
		{"COMPOSE_FILE naming the default file, relative: pasted in another directory of the same shell it would name another", LoadOptions{WorkDir: dir, Environ: []string{"COMPOSE_FILE=./compose.yaml"}},
			"-C " + dir + " -f " + filepath.Join(dir, "compose.yaml"), "-f " + filepath.Join(dir, "compose.yaml")},
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

// hintOptions reads project flags as stackpilot's own global flags do (and
// Compose's long forms, -f=FILE included): the flags of a hint, or of an
// upstream Compose test (the compatibility suite).
func hintOptions(t testing.TB, workDir string, environ, args []string) LoadOptions {
	t.Helper()
	o := LoadOptions{WorkDir: workDir, Environ: environ}
	for i := 0; i < len(args); i++ {
		flag, val, hasVal := strings.Cut(args[i], "=")
		if !hasVal {
			if i+1 >= len(args) {
				t.Fatalf("flag %s without a value", flag)
			}
			i++
			val = args[i]
		}
		switch flag {
		case "-C", "--project-directory":
			o.ProjectDir = val
		case "-f", "--file":
			o.Files = append(o.Files, val)
		case "-p", "--project-name":
			o.ProjectName = val
		case "--env-file":
			o.EnvFiles = append(o.EnvFiles, val)
		case "--profile":
			o.Profiles = append(o.Profiles, val)
		default:
			t.Fatalf("unexpected flag %s in %q", flag, args)
		}
	}
	return o
}

// A hint run from anywhere finds the project as it was found here — also
// when the .env of the directory stackpilot stood in was read: a
// subdirectory's own .env (Compose's nested fixture), or one naming the
// compose file and a profile (its dotenv fixture). -C alone would read only
// the project directory's .env: another command, other images, another
// service set.
func TestGlobalArgsNameTheEnvFilesRead(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"nested/compose.yaml":             "services:\n  echo:\n    image: alpine\n    command: echo $ROOT $SUB win=$WIN\n",
		"nested/.env":                     "ROOT=root\nWIN=root",
		"nested/sub/.env":                 "SUB=sub\nWIN=sub\n",
		"nested/plain/x":                  "",
		"dotenv/.env":                     "COMPOSE_FILE=\"${COMPOSE_FILE:-development/compose.yaml}\"\nIMAGE_NAME=test\nCOMPOSE_PROFILES=test",
		"dotenv/development/.env":         "IMAGE_NAME=\"${IMAGE_NAME:-backend}\"\nIMAGE_TAG=\"${IMAGE_TAG:-latest}\"\n",
		"dotenv/development/compose.yaml": "services:\n  backend:\n    image: $IMAGE_NAME:$IMAGE_TAG\n  test:\n    profiles: [test]\n    image: enabled:profile\n",
	})
	elsewhere := t.TempDir()
	for _, c := range []struct {
		workDir string
		envFile []string // the --env-file flags the hint carries
	}{
		{"nested/sub", []string{"nested/.env", "nested/sub/.env"}},
		{"nested/plain", nil}, // no .env of its own: -C alone reads the same
		{"nested", nil},
		{"dotenv", []string{"dotenv/development/.env", "dotenv/.env"}},
	} {
		st := mustLoad(t, LoadOptions{WorkDir: filepath.Join(dir, c.workDir)})
		args := st.GlobalArgs("")
		var named []string
		for i, a := range args {
			if a == "--env-file" {
				rel, _ := filepath.Rel(dir, args[i+1])
				named = append(named, rel)
			}
		}
		if strings.Join(named, " ") != strings.Join(c.envFile, " ") {
			t.Errorf("from %s: the hint names env files %q, want %q (%q)", c.workDir, named, c.envFile, args)
		}
		hint := mustLoad(t, hintOptions(t, elsewhere, nil, args))
		if !reflect.DeepEqual(hint.Project.Services, st.Project.Services) || hint.Name != st.Name {
			t.Errorf("from %s, the hint %q finds project %s with %v; here: %s with %v", c.workDir, args, hint.Name, hint.Project.Services, st.Name, st.Project.Services)
		}
	}
}
