package stackops

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

func mustLoad(t *testing.T, o LoadOptions) *Stack {
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

func env(st *Stack, k string) string { return st.Project.Environment[k] }

// Run from a subdirectory with its own .env, Compose reads that .env first
// and the project directory's second; the first wins (Compose's nested
// fixture: `echo root sub win=sub`).
func TestResolveNestedDotEnv(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "services:\n  echo:\n    image: alpine\n    command: echo $ROOT $SUB win=$WIN\n",
		".env":         "ROOT=root\nWIN=root",
		"sub/.env":     "SUB=sub\nWIN=sub\n",
	})
	st := mustLoad(t, LoadOptions{WorkDir: filepath.Join(dir, "sub")})
	if got := strings.Join(st.Project.Services["echo"].Command, " "); got != "echo root sub win=sub" {
		t.Fatalf("command %q", got)
	}
	if want := []string{filepath.Join(dir, "sub", ".env"), filepath.Join(dir, ".env")}; strings.Join(st.EnvFiles, ",") != strings.Join(want, ",") {
		t.Fatalf("env files %v", st.EnvFiles)
	}
	if st.DotEnvPath() != filepath.Join(dir, "sub", ".env") || len(st.EnvFilePasses()) != 2 {
		t.Fatalf("edited %s, passes %v", st.DotEnvPath(), st.EnvFilePasses())
	}
	// From the project directory only its .env is read.
	st = mustLoad(t, LoadOptions{WorkDir: dir})
	if got := strings.Join(st.Project.Services["echo"].Command, " "); got != "echo root win=root" || len(st.EnvFiles) != 1 {
		t.Fatalf("command %q, env files %v", got, st.EnvFiles)
	}
}

// The .env where Compose stands may name the compose file; the project
// directory's .env is read after it, and sees its values (Compose's dotenv
// fixture: image test:latest, profile test enabled).
func TestResolveComposeFileFromDotEnv(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		".env":                     "COMPOSE_FILE=\"${COMPOSE_FILE:-development/compose.yaml}\"\nIMAGE_NAME=test\nCOMPOSE_PROFILES=test",
		"development/.env":         "IMAGE_NAME=\"${IMAGE_NAME:-backend}\"\nIMAGE_TAG=\"${IMAGE_TAG:-latest}\"\n",
		"development/compose.yaml": "services:\n  backend:\n    image: $IMAGE_NAME:$IMAGE_TAG\n  test:\n    profiles: [test]\n    image: enabled:profile\n",
	})
	st := mustLoad(t, LoadOptions{WorkDir: dir})
	if img := st.Project.Services["backend"].Image; img != "test:latest" || strings.Join(st.ServiceNames(), ",") != "backend,test" {
		t.Fatalf("image %q, services %v", img, st.ServiceNames())
	}
	if st.Name != "development" || st.DotEnvPath() != filepath.Join(dir, ".env") {
		t.Fatalf("name %q, edited %s", st.Name, st.DotEnvPath())
	}
	// -C development: only its .env, so the defaults apply.
	st = mustLoad(t, LoadOptions{WorkDir: dir, ProjectDir: "development"})
	if img := st.Project.Services["backend"].Image; img != "backend:latest" {
		t.Fatalf("-C: image %q", img)
	}
}

// --env-file is repeatable and the last wins; COMPOSE_ENV_FILES is its
// default; either replaces the default .env.
func TestResolveExplicitEnvFiles(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "services:\n  a:\n    image: \"x:${TAG}\"\n",
		".env":         "TAG=dotenv\n",
		"one.env":      "TAG=one\nONLY_ONE=1\n",
		"two.env":      "TAG=two\nFROM_ONE=${ONLY_ONE}\n",
	})
	st := mustLoad(t, LoadOptions{WorkDir: dir, EnvFiles: []string{"one.env", "two.env"}})
	if img := st.Project.Services["a"].Image; img != "x:two" || env(st, "FROM_ONE") != "1" {
		t.Fatalf("image %q FROM_ONE %q", img, env(st, "FROM_ONE"))
	}
	if st.DotEnvPath() != filepath.Join(dir, "two.env") {
		t.Fatalf("edited %s", st.DotEnvPath())
	}
	st = mustLoad(t, LoadOptions{WorkDir: dir, Environ: []string{"COMPOSE_ENV_FILES=two.env,one.env"}})
	if img := st.Project.Services["a"].Image; img != "x:one" || st.DotEnvPath() != filepath.Join(dir, "one.env") {
		t.Fatalf("COMPOSE_ENV_FILES: image %q, edited %s", img, st.DotEnvPath())
	}
	// --env-file beats COMPOSE_ENV_FILES.
	st = mustLoad(t, LoadOptions{WorkDir: dir, EnvFiles: []string{"one.env"}, Environ: []string{"COMPOSE_ENV_FILES=two.env"}})
	if img := st.Project.Services["a"].Image; img != "x:one" {
		t.Fatalf("--env-file and COMPOSE_ENV_FILES: image %q", img)
	}
	if _, err := Load(context.Background(), LoadOptions{WorkDir: dir, EnvFiles: []string{"missing.env"}, Environ: []string{}}); err == nil || !strings.Contains(err.Error(), "missing.env") {
		t.Fatalf("missing --env-file: %v", err)
	}
}

// COMPOSE_DISABLE_ENV_FILE turns the default .env off, and only accepts
// what strconv.ParseBool does (Compose fails on anything else).
func TestResolveDisableEnvFile(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "services:\n  a:\n    image: \"x:${TAG:-none}\"\n",
		".env":         "TAG=dotenv\n",
		"one.env":      "TAG=one\n",
	})
	st := mustLoad(t, LoadOptions{WorkDir: dir, Environ: []string{"COMPOSE_DISABLE_ENV_FILE=true"}})
	if img := st.Project.Services["a"].Image; img != "x:none" || len(st.EnvFiles) != 0 || !st.EnvFilesDisabled() || st.DotEnvPath() != "" {
		t.Fatalf("image %q, env files %v, disabled %v, edited %q", img, st.EnvFiles, st.EnvFilesDisabled(), st.DotEnvPath())
	}
	st = mustLoad(t, LoadOptions{WorkDir: dir, EnvFiles: []string{"one.env"}, Environ: []string{"COMPOSE_DISABLE_ENV_FILE=1"}})
	if img := st.Project.Services["a"].Image; img != "x:one" || st.EnvFilesDisabled() {
		t.Fatalf("an explicit env file still counts: %q", img)
	}
	_, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"COMPOSE_DISABLE_ENV_FILE=yes"}})
	if err == nil || !strings.Contains(err.Error(), "COMPOSE_DISABLE_ENV_FILE") {
		t.Fatalf("COMPOSE_DISABLE_ENV_FILE=yes: %v", err)
	}
}

// With -f and no -C, the .env read first is the one beside the first
// compose file, not the one where Compose stands.
func TestResolveFirstDotEnvBesideTheFile(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"app/compose.yaml": "services:\n  a:\n    image: \"x:${TAG}\"\n",
		"app/.env":         "TAG=app\n",
		".env":             "TAG=here\n",
	})
	st := mustLoad(t, LoadOptions{WorkDir: dir, Files: []string{"app/compose.yaml"}})
	if img := st.Project.Services["a"].Image; img != "x:app" || len(st.EnvFiles) != 1 {
		t.Fatalf("image %q, env files %v", img, st.EnvFiles)
	}
}

// env_file entries: `format: raw` is read as docker run --env-file reads
// it; a missing env_file fails only the services that use it (and `required:
// false` not even those).
func TestResolveServiceEnvFiles(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": `services:
  raw:
    image: a
    env_file: [{path: raw.env, format: raw}]
  optional:
    image: a
    env_file: [{path: nowhere.env, required: false}]
  broken:
    image: a
    env_file: [nowhere.env]
  user:
    image: a
    depends_on: [broken]
`,
		"raw.env": "JSON='{\"key\": \"value\"}'\nDOLLAR=$HOME\n  # comment\nSPACES= kept \n",
	})
	st := mustLoad(t, LoadOptions{WorkDir: dir, Environ: []string{"HOME=/root"}})
	e := st.Project.Services["raw"].Environment
	if *e["JSON"] != `'{"key": "value"}'` || *e["DOLLAR"] != "$HOME" || *e["SPACES"] != " kept " {
		t.Fatalf("raw env_file read as %v", e)
	}
	if err := st.EnvironmentErr([]string{"raw", "optional"}); err != nil {
		t.Fatalf("services with readable env files: %v", err)
	}
	for _, sel := range [][]string{{"broken"}, {"user"}, nil} {
		err := st.EnvironmentErr(sel)
		if !errors.Is(err, ErrInvalidCompose) || !strings.Contains(err.Error(), "nowhere.env") || !strings.Contains(err.Error(), `"broken"`) {
			t.Fatalf("EnvironmentErr(%v) = %v", sel, err)
		}
	}
}
