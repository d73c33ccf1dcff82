// Package itest is the harness for stackpilot's integration tests: tests that
// run the real stackpilot binary against a real Docker Engine and real Compose
// (v2 or v1, chosen by STACKPILOT_COMPOSE), on stacks of the project's own
// fixture images built by scripts/build-fixtures.sh.
//
// Integration test names start with TestIntegration so scripts/test.sh can run
// them once per Compose variant. Each calls Require first: without an engine
// the test is skipped with a loud reason, unless STACKPILOT_REQUIRE_DOCKER is
// set (as the test command does), when it fails instead.
package itest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Images built by scripts/build-fixtures.sh.
const (
	FixtureImage = "stackpilot-fixture:latest"
	BusyboxImage = "stackpilot-busybox:latest"
)

var (
	requireOnce sync.Once
	requireErr  error
	skipNoted   sync.Once
)

// Require skips (or, with STACKPILOT_REQUIRE_DOCKER set, fails) the test when
// the engine or the fixture images are not available.
func Require(t testing.TB) {
	t.Helper()
	requireOnce.Do(func() { requireErr = probeEngine() })
	if requireErr == nil {
		return
	}
	if os.Getenv("STACKPILOT_REQUIRE_DOCKER") != "" {
		t.Fatalf("integration test needs docker: %v (STACKPILOT_REQUIRE_DOCKER is set, so this fails instead of skipping)", requireErr)
	}
	skipNoted.Do(func() {
		fmt.Fprintf(os.Stderr, "\n*** SKIPPING INTEGRATION TESTS: %v — run scripts/test.sh to get an engine and the fixture images ***\n\n", requireErr)
	})
	t.Skipf("SKIP (no docker): %v", requireErr)
}

func probeEngine() error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("docker CLI not found")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		return fmt.Errorf("docker daemon not reachable: %s", strings.TrimSpace(string(out)))
	}
	for _, img := range []string{FixtureImage, BusyboxImage} {
		if err := exec.CommandContext(ctx, "docker", "image", "inspect", img).Run(); err != nil {
			return fmt.Errorf("fixture image %s missing (scripts/build-fixtures.sh builds it)", img)
		}
	}
	if _, err := ComposeCommand(); err != nil {
		return err
	}
	return nil
}

// Variant is the Compose variant under test: "v1" when STACKPILOT_COMPOSE=v1, else "v2".
func Variant() string {
	if strings.TrimSpace(os.Getenv("STACKPILOT_COMPOSE")) == "v1" {
		return "v1"
	}
	return "v2"
}

// ComposeCommand is the argv prefix of the Compose variant under test.
func ComposeCommand() ([]string, error) {
	if Variant() == "v1" {
		if _, err := exec.LookPath("docker-compose"); err != nil {
			return nil, fmt.Errorf("STACKPILOT_COMPOSE=v1 but docker-compose is not installed")
		}
		return []string{"docker-compose"}, nil
	}
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		return nil, fmt.Errorf("docker compose (v2) is not installed")
	}
	return []string{"docker", "compose"}, nil
}

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds the stackpilot binary once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "stackpilot-bin-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "stackpilot")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Result is what a command printed and how it exited.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Combined is stdout then stderr, for failure messages.
func (r Result) Combined() string { return r.Stdout + r.Stderr }

// Run runs the stackpilot binary in dir without a terminal (stdin /dev/null).
func Run(t testing.TB, dir string, env []string, args ...string) Result {
	t.Helper()
	return RunInput(t, dir, env, nil, args...)
}

// RunInput runs the stackpilot binary with the given stdin.
func RunInput(t testing.TB, dir string, env []string, stdin []byte, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(BaseEnv(), env...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			t.Fatalf("run stackpilot %v: %v", args, err)
		}
	}
	return Result{Stdout: out.String(), Stderr: errOut.String(), Code: code}
}

// BaseEnv is the environment for stackpilot under test: the test's own, with
// a private validation cache and no color forcing.
func BaseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "COMPOSE_") || strings.HasPrefix(kv, "NO_COLOR=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// UniqueName returns a Compose project name unlikely to clash with anything.
func UniqueName(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s-%s", prefix, hex.EncodeToString(b))
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Project is a compose project in a temporary directory, torn down (with its
// volumes) when the test ends.
type Project struct {
	t    testing.TB
	Dir  string
	Name string
	// Env is added to the environment of every command run for the project
	// (e.g. a Server's Env, so the project lives on that server's engine).
	Env []string
	// OnServer says the project lives on a server container (StartServer),
	// which goes with everything on it: Down only clears the host's engine
	// of it, without Compose over ssh (slow, v1 especially).
	OnServer bool
}

// NewProject writes compose (and any extra files) into a new directory. The
// project name goes into .env as COMPOSE_PROJECT_NAME (after any .env given),
// which Compose v1, v2 and stackpilot all read; a `name:` key would be
// refused by v1. The compose text may use {{name}} for the project name
// and the shared snippets (snippets.go).
func NewProject(t testing.TB, compose string, files map[string]string) *Project {
	t.Helper()
	p := &Project{t: t, Dir: t.TempDir(), Name: UniqueName("spit")}
	compose = ExpandSnippets(strings.ReplaceAll(compose, "{{name}}", p.Name))
	p.WriteFile("compose.yaml", compose)
	dotenv := files[".env"]
	if dotenv != "" && !strings.HasSuffix(dotenv, "\n") {
		dotenv += "\n"
	}
	for name, content := range files {
		if name != ".env" {
			p.WriteFile(name, content)
		}
	}
	p.WriteFile(".env", dotenv+"COMPOSE_PROJECT_NAME="+p.Name+"\n")
	t.Cleanup(p.Down)
	return p
}

// WriteFile writes a file into the project directory.
func (p *Project) WriteFile(name, content string) {
	p.t.Helper()
	path := filepath.Join(p.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// Compose runs the Compose variant under test in the project and fails the test on error.
func (p *Project) Compose(args ...string) string {
	p.t.Helper()
	out, err := p.TryCompose(args...)
	if err != nil {
		p.t.Fatalf("compose %v: %v\n%s", args, err, out)
	}
	return out
}

// TryCompose runs Compose and returns its combined output and error.
func (p *Project) TryCompose(args ...string) (string, error) {
	argv, err := ComposeCommand()
	if err != nil {
		return "", err
	}
	argv = append(argv, "--project-name", p.Name)
	argv = append(argv, args...)
	// A guard against a hung Compose, not a speed limit: `up -d` of the
	// 200-service project took over 5 minutes once in a full run at load ~35.
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = append(BaseEnv(), p.Env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Run runs stackpilot in the project directory without a terminal.
func (p *Project) Run(args ...string) Result {
	p.t.Helper()
	return Run(p.t, p.Dir, p.Env, args...)
}

// Down removes the project's containers, networks and volumes.
func (p *Project) Down() {
	if p.OnServer {
		// Only what a bug may have left on the host's own engine.
		ids, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=com.docker.compose.project="+p.Name).Output()
		if s := strings.Fields(string(ids)); len(s) > 0 {
			_ = exec.Command("docker", append([]string{"rm", "-f", "-v"}, s...)...).Run()
		}
		return
	}
	if _, err := p.TryCompose("down", "--volumes", "--remove-orphans", "--timeout", "1"); err != nil {
		// Backstop: remove by label, whatever state compose is in.
		ids, _ := p.docker("ps", "-aq", "--filter", "label=com.docker.compose.project="+p.Name).Output()
		if s := strings.Fields(string(ids)); len(s) > 0 {
			_ = p.docker(append([]string{"rm", "-f", "-v"}, s...)...).Run()
		}
	}
}

// docker is the docker CLI on the project's engine.
func (p *Project) docker(args ...string) *exec.Cmd {
	cmd := exec.Command("docker", args...)
	cmd.Env = append(BaseEnv(), p.Env...)
	return cmd
}

// ContainerID returns the id of the service's first container.
func (p *Project) ContainerID(service string) string {
	p.t.Helper()
	out, err := p.docker("ps", "-aq", "--no-trunc",
		"--filter", "label=com.docker.compose.project="+p.Name,
		"--filter", "label=com.docker.compose.service="+service).Output()
	if err != nil {
		p.t.Fatal(err)
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		p.t.Fatalf("no container for service %s", service)
	}
	return ids[0]
}

// Inspect returns `docker inspect` of a container as generic JSON.
func Inspect(t testing.TB, id string) map[string]any {
	t.Helper()
	out, err := exec.Command("docker", "inspect", id).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", id, err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil || len(v) != 1 {
		t.Fatalf("docker inspect %s: %v", id, err)
	}
	return v[0]
}

// Eventually polls cond every 100 ms until it is true or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}
