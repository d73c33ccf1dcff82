// Package envcli tests the env commands end to end: the real stackpilot
// binary, built once, in a pseudo-terminal driving the real survey
// prompts, without a terminal, in concurrent processes, and against a real
// Docker Engine and Compose.
package envcli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	expect "github.com/Netflix/go-expect"
	"github.com/creack/pty"
	"github.com/hinshun/vt10x"
)

var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stackpilot-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "stackpilot")
	build := exec.Command("go", "build", "-o", bin, "github.com/stackpilot/stackpilot")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build stackpilot:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const compose = `services:
  api:
    image: stackpilot-busybox:latest
    environment:
      DB_HOST: ${DB_HOST}
      DB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}
  db:
    image: stackpilot-busybox:latest
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
`

func project(t *testing.T, dotenv string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	if dotenv != "" {
		os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o644)
	}
	return dir
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs the binary without a terminal: stdin is the given text, or
// /dev/null when empty; stdout and stderr are pipes.
func run(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-C", dir}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TERM=xterm-256color"}
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	} else {
		devnull, _ := os.Open(os.DevNull)
		defer devnull.Close()
		cmd.Stdin = devnull
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func readEnv(t *testing.T, dir string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, ".env"))
	return string(b)
}

// TestEnvEditorInPTY drives the guided editor through the real survey
// prompts in a pseudo-terminal: menu → Environment → a secret key → hidden
// value typed twice → diff → confirm → redeploy declined; then Ctrl-C at a prompt goes back to
// the menu; the secret never reaches the screen.
func TestEnvEditorInPTY(t *testing.T) {
	const canary = "canary-pty-0b7c"
	dir := project(t, "# db\nDB_HOST=localhost\nDB_PASSWORD=old\n")
	ptm, pts, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal available: %v", err)
	}
	term := vt10x.New(vt10x.WithWriter(pts), vt10x.WithSize(120, 40))
	var raw bytes.Buffer
	c, err := expect.NewConsole(expect.WithStdin(ptm), expect.WithStdout(term, &raw), expect.WithCloser(ptm, pts), expect.WithDefaultTimeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cmd := exec.Command(bin, "-C", dir)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TERM=xterm-256color"}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Tty(), c.Tty(), c.Tty()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			cmd.Process.Kill()
			t.Fatalf("%s: %v\nscreen:\n%s", what, err, term.String())
		}
	}
	expectS := func(s string) {
		t.Helper()
		_, err := c.ExpectString(s)
		step("expect "+s, err)
	}
	send := func(s string) {
		t.Helper()
		_, err := c.Send(s)
		step("send", err)
		time.Sleep(50 * time.Millisecond)
	}

	expectS("What do you want to do?")
	send("Environment")
	send("\r")
	expectS("Pick a key to change, or an action")
	send("DB_PASSWORD")
	send("\r")
	expectS("Change the value")
	send("\r")
	expectS("New value for DB_PASSWORD (hidden)")
	send(canary + "\r")
	expectS("Type it again to confirm")
	send(canary + "\r")
	expectS("Write this change?")
	send("y\r")
	expectS("Equivalent command:")
	expectS("stackpilot -C " + dir + " env set DB_PASSWORD --value-stdin")
	// The menu offers to redeploy the services using the key; not now.
	expectS("Redeploy api, db now")
	send("n")
	send("\r")
	expectS("until redeployed:")
	expectS(" deploy api db")
	expectS("What do you want to do?")
	// Ctrl-C at a value prompt: back to the menu, nothing written
	send("Environment")
	send("\r")
	expectS("Pick a key to change, or an action")
	send("DB_HOST")
	send("\r")
	expectS("Change the value")
	send("\r")
	expectS("New value for DB_HOST")
	send("\x03")
	expectS("stopped; back to the menu")
	expectS("What do you want to do?")
	send("Quit")
	send("\r")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stackpilot exited with %v\nscreen:\n%s", err, term.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("stackpilot did not exit\nscreen:\n%s", term.String())
	}
	if got := readEnv(t, dir); got != "# db\nDB_HOST=localhost\nDB_PASSWORD="+canary+"\n" {
		t.Errorf(".env after the flow: %q", got)
	}
	if strings.Contains(raw.String(), canary) || strings.Contains(term.String(), canary) {
		t.Errorf("the hidden value reached the terminal:\n%s", term.String())
	}
	if !strings.Contains(raw.String(), "\x1b[") {
		t.Errorf("no escape codes on a terminal: color and survey's drawing are missing")
	}
	if !strings.Contains(raw.String(), "DB_PASSWORD is used by services api, db") {
		t.Errorf("no redeploy hint:\n%s", raw.String())
	}
}

// TestEnvWithoutTerminal runs the binary with stdin from /dev/null and piped
// output: no prompt, no escape codes, exit 2 naming the flag.
func TestEnvWithoutTerminal(t *testing.T) {
	dir := project(t, "DB_HOST=localhost\n")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"env", "set"}, "pass KEY=VALUE"},
		{[]string{"env", "set", "DB_PASSWORD"}, "pass DB_PASSWORD=VALUE or --value-stdin"},
		{[]string{"env", "get"}, "pass KEY"},
		{[]string{"env", "unset"}, "pass KEY"},
		{[]string{"env"}, "pass a subcommand"},
	} {
		r := run(t, dir, "", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming %q", c.args, r.code, r.stderr, c.want)
		}
		if strings.Contains(r.stdout+r.stderr, "\x1b") || strings.Contains(r.stderr, "? ") {
			t.Errorf("%v: a prompt or escape codes without a terminal: %q", c.args, r.stdout+r.stderr)
		}
	}
	r := run(t, dir, "", "env", "get", "DB_HOST")
	if r.code != 0 || r.stdout != "localhost\n" || r.stderr != "" {
		t.Errorf("get: %+v", r)
	}
}

// TestEnvConcurrentCLISets: two processes each run `env set` for 200
// distinct keys at the same time; the lock makes every update land.
func TestEnvConcurrentCLISets(t *testing.T) {
	dir := project(t, "# shared\n")
	var wg sync.WaitGroup
	errs := make(chan string, 2)
	for _, side := range []string{"A", "B"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				r := run(t, dir, "", "env", "set", fmt.Sprintf("K_%s_%03d=v%d", side, i, i))
				if r.code != 0 {
					errs <- fmt.Sprintf("%s %d: exit %d: %s", side, i, r.code, r.stderr)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	r := run(t, dir, "", "env", "list", "--json")
	var res struct {
		Entries []struct{ Key, Value string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range res.Entries {
		got[e.Key] = e.Value
	}
	for _, side := range []string{"A", "B"} {
		for i := 0; i < 200; i++ {
			if v := got[fmt.Sprintf("K_%s_%03d", side, i)]; v != fmt.Sprintf("v%d", i) {
				t.Fatalf("K_%s_%03d = %q: an update was lost (%d keys present)", side, i, v, len(got))
			}
		}
	}
	if len(got) != 400 || !strings.HasPrefix(readEnv(t, dir), "# shared\n") {
		t.Errorf("%d keys, file starts %q", len(got), readEnv(t, dir)[:10])
	}
}

// TestEnvCanarySecretNeverShown: a secret value is absent from every
// output that is not an explicit get or --reveal, errors and -v included.
func TestEnvCanarySecretNeverShown(t *testing.T) {
	const canary = "canary-9d41e"
	dir := project(t, "DB_HOST=localhost\n")
	check := func(r result, what string) {
		t.Helper()
		if strings.Contains(r.stdout+r.stderr, canary) {
			t.Errorf("%s shows the secret:\nstdout: %s\nstderr: %s", what, r.stdout, r.stderr)
		}
	}
	r := run(t, dir, canary+"\n", "-v", "env", "set", "DB_PASSWORD", "--value-stdin")
	if r.code != 0 {
		t.Fatalf("set: %+v", r)
	}
	check(r, "set --value-stdin -v")
	for _, args := range [][]string{
		{"env", "list"}, {"-v", "env", "list"}, {"env", "list", "--json"},
		{"env", "set", "DB_HOST=db2"}, {"-v", "env", "set", "OTHER=1"},
		{"env", "unset", "DB_PASSWORD", "--dry-run"}, {"env", "set", "DB_PASSWORD=changed", "--dry-run"},
		{"env", "check"}, {"env", "check", "--json"}, {"env", "undo", "--dry-run"},
		{"env", "set", "bad-key=" + canary}, {"env", "get", "NOPE"},
	} {
		check(run(t, dir, "", args...), strings.Join(args, " "))
	}
	check(run(t, dir, "a\x00"+canary, "env", "set", "DB_PASSWORD", "--value-stdin"), "NUL value error")
	// undo back to the canary, then show its diff
	run(t, dir, "", "env", "set", "DB_PASSWORD=other")
	check(run(t, dir, "", "env", "undo"), "undo")
	if r := run(t, dir, "", "env", "get", "DB_PASSWORD"); r.stdout != canary+"\n" {
		t.Fatalf("get after undo: %+v", r)
	}
	// a malformed .env around the secret: every command's error masks it
	os.WriteFile(filepath.Join(dir, ".env"), []byte("DB_HOST=x\nDB_PASSWORD=\""+canary+"\nNEXT=1\n"), 0o644)
	for _, args := range [][]string{{"env", "list"}, {"env", "set", "A=1"}, {"-v", "env", "get", "DB_HOST"}, {"env", "check"}, {"status"}, {"doctor"}} {
		r := run(t, dir, "", args...)
		if args[0] == "env" && (r.code == 0 || !strings.Contains(r.stderr, ".env:2:")) {
			t.Errorf("%v on a malformed file: exit %d, %q (want the line, 2)", args, r.code, r.stderr)
		}
		check(r, strings.Join(args, " ")+" on a malformed .env")
	}
	if r := run(t, dir, "", "env", "list", "--reveal"); strings.Contains(r.stdout, canary) {
		t.Errorf("a malformed file listed anyway")
	}
}

// TestEnvIntegrationDocker: after env set, `docker compose config` (v2)
// and a container see exactly the value, hostile characters included, both
// through ${VAR} interpolation and through env_file.
func TestEnvIntegrationDocker(t *testing.T) {
	require := os.Getenv("STACKPILOT_REQUIRE_DOCKER") == "1"
	skip := func(why string) {
		if require {
			t.Fatalf("STACKPILOT_REQUIRE_DOCKER=1 but %s", why)
		}
		t.Skipf("SKIPPING the Docker integration test: %s (set STACKPILOT_REQUIRE_DOCKER=1 to make this a failure)", why)
	}
	if err := exec.Command("docker", "info").Run(); err != nil {
		skip("no Docker Engine answers `docker info`")
	}
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		skip("Compose v2 (`docker compose`) is not installed")
	}
	if err := exec.Command("docker", "image", "inspect", "stackpilot-busybox:latest").Run(); err != nil {
		skip("the fixture image stackpilot-busybox:latest is missing (the CI script builds it)")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(`services:
  probe:
    image: stackpilot-busybox:latest
    env_file: [.env]
    environment:
      INTERPOLATED: ${HOSTILE}
`), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("# integration\nPLAIN=1\n"), 0o600)
	projectName := fmt.Sprintf("spenv%d", time.Now().UnixNano()%1e9)
	dc := func(args ...string) *exec.Cmd {
		cmd := exec.Command("docker", append([]string{"compose", "-p", projectName, "--project-directory", dir}, args...)...)
		cmd.Dir = dir
		return cmd
	}
	t.Cleanup(func() { dc("down", "-v", "--remove-orphans").Run() })

	values := []string{
		`p@$$w0rd "double" 'single' \back\slash #hash ${NOT_INTERPOLATED} $HOME`,
		"tab\tand unicode ✓ 😀 and = signs == ",
		" leading and trailing spaces ",
		"two\nlines",
		`trailing backslash \`,
	}
	for i, v := range values {
		r := run(t, dir, v+"\n", "env", "set", "HOSTILE", "--value-stdin")
		if r.code != 0 {
			t.Fatalf("env set: %+v", r)
		}
		if r := run(t, dir, "", "env", "get", "HOSTILE"); r.stdout != v+"\n" {
			t.Fatalf("env get %d: %q, want %q", i, r.stdout, v)
		}
		out, err := dc("config", "--format", "json").Output()
		if err != nil {
			t.Fatalf("docker compose config: %v", err)
		}
		var cfg struct {
			Services map[string]struct {
				Environment map[string]*string `json:"environment"`
			} `json:"services"`
		}
		if err := json.Unmarshal(out, &cfg); err != nil {
			t.Fatal(err)
		}
		env := cfg.Services["probe"].Environment
		// config prints a loadable file: a literal $ appears as $$
		for _, k := range []string{"INTERPOLATED", "HOSTILE"} {
			if env[k] == nil || strings.ReplaceAll(*env[k], "$$", "$") != v {
				t.Errorf("value %d: docker compose config reads %s as %v, want %q", i, k, env[k], v)
			}
		}
		// what a process in the container sees
		for _, k := range []string{"INTERPOLATED", "HOSTILE"} {
			got, err := dc("run", "--rm", "-T", "--no-deps", "probe", "sh", "-c", `printf %s "$`+k+`"`).Output()
			if err != nil {
				t.Fatalf("docker compose run: %v", err)
			}
			if string(got) != v {
				t.Errorf("value %d: the container's %s is %q, want %q", i, k, got, v)
			}
		}
	}
}
