package stackops

import (
	"context"
	"errors"
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

func TestComposeArgsPinTheProject(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml":          "services:\n  api:\n    image: x\n",
		"compose.override.yaml": "services:\n  api:\n    environment: {A: b}\n",
		".env":                  "FOO=1\n",
	})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	v2 := &ComposeCLI{Variant: ComposeV2, Command: []string{"docker", "compose"}}
	got := st.ComposeArgs(v2, "up", "-d", "--", "api")
	want := []string{"docker", "compose", "--project-name", st.Name, "--project-directory", dir,
		"--file", dir + "/compose.yaml", "--file", dir + "/compose.override.yaml",
		"--env-file", dir + "/.env", "up", "-d", "--", "api"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("argv\n got %q\nwant %q", got, want)
	}
}
