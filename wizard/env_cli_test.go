package wizard_test

// The env commands end to end: the real stackpilot binary (itest.Binary,
// built once per test process) in a pseudo-terminal driving the real survey
// prompts, without a terminal, in concurrent processes, and against a real
// Docker Engine and Compose.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

const envCLICompose = `services:
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

// envProject is a directory with envCLICompose and the given .env; no
// project is started.
func envProject(t *testing.T, dotenv string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(envCLICompose), 0o644); err != nil {
		t.Fatal(err)
	}
	if dotenv != "" {
		if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs the binary on dir (-C) without a terminal: stdin is the given
// text, or /dev/null when empty; stdout and stderr are pipes; HOME is dir.
func run(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	var in []byte
	if stdin != "" {
		in = []byte(stdin)
	}
	r := itest.RunInput(t, dir, []string{"HOME=" + dir, "TERM=xterm-256color"}, in, append([]string{"-C", dir}, args...)...)
	return result{r.Stdout, r.Stderr, r.Code}
}

func readEnv(t *testing.T, dir string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, ".env"))
	return string(b)
}

// TestEnvEditorInPTY drives the guided editor through the real survey
// prompts in a pseudo-terminal: menu → Environment → a secret key → hidden
// value typed twice → diff → confirm → redeploy declined; then Ctrl-C at a
// prompt goes back to the menu; the secret never reaches the screen.
func TestEnvEditorInPTY(t *testing.T) {
	const canary = "canary-pty-0b7c"
	dir := envProject(t, "# db\nDB_HOST=localhost\nDB_PASSWORD=old\n")
	term := itest.StartTerminal(t, dir, []string{"HOME=" + dir}, "-C", dir)
	send := func(keys ...string) {
		t.Helper()
		term.Send(keys...)
		time.Sleep(50 * time.Millisecond)
	}
	term.Expect("What do you want to do?")
	send("Environment", itest.KeyEnter)
	term.Expect("Pick a key to change, or an action")
	send("DB_PASSWORD", itest.KeyEnter)
	term.Expect("Change the value")
	send(itest.KeyEnter)
	term.Expect("New value for DB_PASSWORD (hidden)")
	send(canary, itest.KeyEnter)
	term.Expect("Type it again to confirm")
	send(canary, itest.KeyEnter)
	term.Expect("Write this change?")
	send("y", itest.KeyEnter)
	term.Expect("Equivalent command:")
	term.Expect("stackpilot -C " + dir + " env set DB_PASSWORD --value-stdin")
	// The menu offers to redeploy the services using the key; not now.
	term.Expect("Redeploy api, db now")
	send("n", itest.KeyEnter)
	term.Expect("until redeployed:")
	term.Expect(" deploy api db")
	term.Expect("What do you want to do?")
	// Ctrl-C at a value prompt: back to the menu, nothing written
	send("Environment", itest.KeyEnter)
	term.Expect("Pick a key to change, or an action")
	send("DB_HOST", itest.KeyEnter)
	term.Expect("Change the value")
	send(itest.KeyEnter)
	term.Expect("New value for DB_HOST")
	send(itest.KeyCtrlC)
	term.Expect("stopped; back to the menu")
	term.Expect("What do you want to do?")
	send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("stackpilot exited with %d\nscreen:\n%s", code, term.Screen())
	}
	if got := readEnv(t, dir); got != "# db\nDB_HOST=localhost\nDB_PASSWORD="+canary+"\n" {
		t.Errorf(".env after the flow: %q", got)
	}
	if raw := term.Raw(); strings.Contains(raw, canary) || strings.Contains(term.Screen(), canary) {
		t.Errorf("the hidden value reached the terminal:\n%s", term.Screen())
	}
	if !strings.Contains(term.Raw(), "\x1b[") {
		t.Errorf("no escape codes on a terminal: color and survey's drawing are missing")
	}
	if !strings.Contains(term.Raw(), "DB_PASSWORD is used by services api, db") {
		t.Errorf("no redeploy hint:\n%s", term.Raw())
	}
}

// TestEnvCLIWithoutTerminal runs the binary with stdin from /dev/null and piped
// output: no prompt, no escape codes, exit 2 naming the flag.
func TestEnvCLIWithoutTerminal(t *testing.T) {
	dir := envProject(t, "DB_HOST=localhost\n")
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

// TestEnvCLIConcurrentSets: two processes each run `env set` for 200
// distinct keys at the same time; the lock makes every update land.
func TestEnvCLIConcurrentSets(t *testing.T) {
	t.Parallel()
	dir := envProject(t, "# shared\n")
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

// TestEnvCLICanarySecretNeverShown: a secret value is absent from every
// output that is not an explicit get or --reveal, errors and -v included.
func TestEnvCLICanarySecretNeverShown(t *testing.T) {
	const canary = "canary-9d41e"
	dir := envProject(t, "DB_HOST=localhost\n")
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

// TestIntegrationEnvCLIDocker: after env set, `docker compose config` (v2)
// and a container see exactly the value, hostile characters included, both
// through ${VAR} interpolation and through env_file.
func TestIntegrationEnvCLIDocker(t *testing.T) {
	t.Parallel()
	itest.Require(t)
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
		// what a process in the container sees: both variables from one
		// container (a NUL between them cannot be in an environment value)
		got, err := dc("run", "--rm", "-T", "--no-deps", "probe", "sh", "-c", `printf '%s\0%s' "$INTERPOLATED" "$HOSTILE"`).Output()
		if err != nil {
			t.Fatalf("docker compose run: %v", err)
		}
		seen := strings.Split(string(got), "\x00")
		if len(seen) != 2 {
			t.Fatalf("value %d: the container printed %q", i, got)
		}
		for j, k := range []string{"INTERPOLATED", "HOSTILE"} {
			if seen[j] != v {
				t.Errorf("value %d: the container's %s is %q, want %q", i, k, seen[j], v)
			}
		}
	}
}
