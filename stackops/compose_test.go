package stackops

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

func TestDetectComposePrefersV2(t *testing.T) {
	r := &fakeRunner{answers: map[string]fakeAnswer{
		"docker compose version --short": {stdout: "5.0.2\n"},
		"docker-compose version --short": {stdout: "1.29.2\n"},
	}}
	c, err := DetectCompose(context.Background(), r, []string{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Variant != ComposeV2 || c.Version != "5.0.2" || !reflect.DeepEqual(c.Command, []string{"docker", "compose"}) {
		t.Fatalf("got %+v", c)
	}
	if len(r.calls) != 1 {
		t.Fatalf("v1 probed although v2 answered: %v", r.calls)
	}
}

func TestDetectComposeFallsBackToV1(t *testing.T) {
	r := &fakeRunner{answers: map[string]fakeAnswer{
		"docker compose version --short": {stderr: "docker: 'compose' is not a docker command.\n", code: 1},
		"docker-compose version --short": {stdout: "1.29.2\n"},
	}}
	c, err := DetectCompose(context.Background(), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Variant != ComposeV1 || c.Version != "1.29.2" || c.Command[0] != "docker-compose" {
		t.Fatalf("got %+v", c)
	}
}

// v1 exits 0 and prints usage for flags it does not know; detection must go
// by the version printed, not the exit status.
func TestDetectComposeIgnoresUsageTextWithExitZero(t *testing.T) {
	r := &fakeRunner{answers: map[string]fakeAnswer{
		"docker compose version --short": {stdout: "Usage: docker [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n"},
		"docker-compose version --short": {stdout: "1.29.2\n"},
	}}
	c, err := DetectCompose(context.Background(), r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Variant != ComposeV1 {
		t.Fatalf("usage text taken for a v2 version: %+v", c)
	}
}

func TestDetectComposeForced(t *testing.T) {
	r := &fakeRunner{answers: map[string]fakeAnswer{
		"docker compose version --short": {stdout: "2.35.0\n"},
		"docker-compose version --short": {stdout: "1.29.2\n"},
	}}
	c, err := DetectCompose(context.Background(), r, []string{"STACKPILOT_COMPOSE=v1"})
	if err != nil || c.Variant != ComposeV1 {
		t.Fatalf("forced v1: %+v %v", c, err)
	}
	r2 := &fakeRunner{answers: map[string]fakeAnswer{"docker-compose version --short": {stdout: "1.29.2\n"}}}
	_, err = DetectCompose(context.Background(), r2, []string{"STACKPILOT_COMPOSE=v2"})
	if !errors.Is(err, ErrComposeUnavailable) || !strings.Contains(err.Error(), "STACKPILOT_COMPOSE=v2") {
		t.Fatalf("forced v2 without v2: %v", err)
	}
	if _, err := DetectCompose(context.Background(), r, []string{"STACKPILOT_COMPOSE=v3"}); err == nil {
		t.Fatal("STACKPILOT_COMPOSE=v3 accepted")
	}
}

func TestDetectComposeNeither(t *testing.T) {
	_, err := DetectCompose(context.Background(), &fakeRunner{}, nil)
	if !errors.Is(err, ErrComposeUnavailable) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "install") {
		t.Fatalf("error does not say what to do: %v", err)
	}
}

// Compose v2 gets the user's project flags and nothing more, and runs where
// the user stands: it then finds the same project, env files included.
func TestComposeArgsV2PassTheUsersFlags(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml":          "services:\n  api:\n    image: x\n",
		"compose.override.yaml": "services:\n  api:\n    environment: {A: b}\n",
		".env":                  "FOO=1\n",
		"other.env":             "FOO=2\n",
		"sub/.keep":             "",
	})
	v2 := &ComposeCLI{Variant: ComposeV2, Command: []string{"docker", "compose"}}
	st, err := Load(context.Background(), LoadOptions{WorkDir: filepath.Join(dir, "sub"), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.ComposeArgs(v2, "up", "-d", "--", "api")
	if want := []string{"docker", "compose", "up", "-d", "--", "api"}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("argv\n got %q %v\nwant %q", got, err, want)
	}
	if st.WorkDir != filepath.Join(dir, "sub") {
		t.Fatalf("Compose would run in %s", st.WorkDir)
	}
	st, err = Load(context.Background(), LoadOptions{WorkDir: dir, ProjectDir: ".", Files: []string{"compose.yaml"}, ProjectName: "p1",
		EnvFiles: []string{"other.env", ".env"}, Profiles: []string{"dev"}, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = st.ComposeArgs(v2, "ps")
	want := []string{"docker", "compose", "--project-directory", dir, "--file", dir + "/compose.yaml", "--project-name", "p1",
		"--env-file", dir + "/other.env", "--env-file", dir + "/.env", "--profile", "dev", "ps"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("argv\n got %q\nwant %q", got, want)
	}
	// COMPOSE_ENV_FILES is Compose's own default: it reads it itself.
	st, err = Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"COMPOSE_ENV_FILES=other.env"}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ = st.ComposeArgs(v2, "ps"); !reflect.DeepEqual(got, []string{"docker", "compose", "ps"}) {
		t.Fatalf("argv %q", got)
	}
}

// Compose v1 gets the project pinned, and a clear refusal where one env
// file cannot carry what Compose v2 reads.
func TestComposeArgsV1PinTheProject(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml":          "services:\n  api:\n    image: x\n",
		"compose.override.yaml": "services:\n  api:\n    environment: {A: b}\n",
		".env":                  "FOO=1\n",
		"sub/.env":              "FOO=2\n",
	})
	v1 := &ComposeCLI{Variant: ComposeV1, Command: []string{"docker-compose"}}
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.ComposeArgs(v1, "up", "-d", "--", "api")
	want := []string{"docker-compose", "--project-name", st.Name, "--project-directory", dir,
		"--file", dir + "/compose.yaml", "--file", dir + "/compose.override.yaml",
		"--env-file", dir + "/.env", "up", "-d", "--", "api"}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("argv\n got %q %v\nwant %q", got, err, want)
	}
	// From sub/, Compose v2 reads sub/.env and then the project's .env.
	st, err = Load(context.Background(), LoadOptions{WorkDir: filepath.Join(dir, "sub"), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ComposeArgs(v1, "up"); !errors.Is(err, ErrComposeV1Limit) || !strings.Contains(err.Error(), "sub/.env") {
		t.Fatalf("two env files on v1: %v", err)
	}
	st, err = Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"COMPOSE_DISABLE_ENV_FILE=true"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ComposeArgs(v1, "up"); !errors.Is(err, ErrComposeV1Limit) || !strings.Contains(err.Error(), "COMPOSE_DISABLE_ENV_FILE") {
		t.Fatalf("COMPOSE_DISABLE_ENV_FILE on v1: %v", err)
	}
}

// blockingRunner answers `docker compose version` once released.
type blockingRunner struct {
	release chan struct{}
	fakeRunner
}

func (b *blockingRunner) Run(ctx context.Context, c Cmd) error {
	<-b.release
	return b.fakeRunner.Run(ctx, c)
}

// With DetectCompose, Compose's version check runs while the stack loads:
// Load returns before it has answered, Compose then takes its answer
// without running it again; a check that failed is run again, so its
// error is the one a late detection gives.
func TestLoadDetectsComposeMeanwhile(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: x\n"})
	r := &blockingRunner{release: make(chan struct{}), fakeRunner: fakeRunner{answers: map[string]fakeAnswer{"docker compose version --short": {stdout: "2.35.0\n"}}}}
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Runner: r, Environ: []string{"STACKPILOT_CACHE_DIR=" + t.TempDir()}, DetectCompose: true})
	if err != nil {
		t.Fatal(err)
	}
	close(r.release)
	c, err := st.Compose(context.Background())
	if err != nil || c.Variant != ComposeV2 || c.Version != "2.35.0" {
		t.Fatalf("Compose: %+v %v", c, err)
	}
	if len(r.calls) != 1 {
		t.Fatalf("the version was asked %d times: %v", len(r.calls), r.calls)
	}

	none := &fakeRunner{}
	st, err = Load(context.Background(), LoadOptions{WorkDir: dir, Runner: none, Environ: []string{"STACKPILOT_CACHE_DIR=" + t.TempDir()}, DetectCompose: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Compose(context.Background()); !errors.Is(err, ErrComposeUnavailable) || len(none.calls) != 4 {
		t.Fatalf("without Compose: %v after %v", err, none.calls)
	}
}
