package wizard_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// envdump prints its context, echoes a line of stdin and exits 5.
const envdumpPlugin = `#!/bin/sh
if [ "$1" = --stackpilot-metadata ]; then
  printf '%s\n' '{"name":"envdump","description":"Prints its \u001b[31mcontext","version":"0.3","usage":"stackpilot envdump [ARGS]"}'
  exit 0
fi
echo "args=$*"
echo "dir=${STACKPILOT_PROJECT_DIR-unset}"
echo "name=${STACKPILOT_PROJECT_NAME-unset}"
echo "files=${STACKPILOT_COMPOSE_FILES-unset}"
echo "compose=${STACKPILOT_COMPOSE-unset}"
echo "command=${STACKPILOT_COMPOSE_COMMAND-unset}"
echo "host=${DOCKER_HOST-unset}"
echo "bin=${STACKPILOT_BIN-unset}"
read line
echo "stdin=$line"
exit 5
`

func writeExec(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func lines(out string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// Plugins on PATH and in the project: found, given the project's context
// (or none, without a project), their arguments, stdin and exit code;
// built-in names refused with a warning; the list with their metadata.
func TestIntegrationPlugins(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, "services:\n  app:\n    image: stackpilot-busybox:latest\n    command: [\"sleep\", \"3600\"]\n", nil)
	bin := t.TempDir()
	writeExec(t, filepath.Join(bin, "stackpilot-envdump"), envdumpPlugin)
	writeExec(t, filepath.Join(bin, "stackpilot-status"), "#!/bin/sh\necho shadowed status\n")
	writeExec(t, filepath.Join(bin, "stackpilot-plain"), "#!/bin/sh\necho plain \"$@\"\n")
	writeExec(t, filepath.Join(p.Dir, ".stackpilot", "plugins", "stackpilot-plain"), "#!/bin/sh\necho project plain \"$@\"\nexit 4\n")
	env := []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "STACKPILOT_PROJECT_DIR=/inherited"}

	r := itest.RunInput(t, p.Dir, env, []byte("typed\n"), "envdump", "a", "--flag", "-x")
	got := lines(r.Stdout)
	want := map[string]string{
		"args": "a --flag -x", "dir": p.Dir, "name": p.Name, "files": filepath.Join(p.Dir, "compose.yaml"),
		"compose": itest.Variant(), "host": "unix:///var/run/docker.sock", "bin": itest.Binary(t), "stdin": "typed",
	}
	if os.Getenv("DOCKER_HOST") != "" {
		want["host"] = os.Getenv("DOCKER_HOST")
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s=%q, want %q\n%s", k, got[k], v, r.Stdout)
		}
	}
	if !strings.HasPrefix(got["command"], "docker") || r.Code != 5 {
		t.Errorf("command=%q exit %d, want a docker command and the plugin's exit code 5", got["command"], r.Code)
	}

	// Without a project: the project's variables are unset, even inherited ones.
	elsewhere := t.TempDir()
	r = itest.RunInput(t, elsewhere, env, []byte("x\n"), "envdump")
	got = lines(r.Stdout)
	if r.Code != 5 || got["dir"] != "unset" || got["name"] != "unset" || got["files"] != "unset" {
		t.Errorf("no project: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// -C names the project from elsewhere; the project's plugin wins over PATH's.
	if r := itest.Run(t, elsewhere, env, "-C", p.Dir, "plain", "q"); r.Code != 4 || r.Stdout != "project plain q\n" {
		t.Errorf("-C DIR plain: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := itest.Run(t, elsewhere, env, "plain", "q"); r.Code != 0 || r.Stdout != "plain q\n" {
		t.Errorf("plain without the project: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	// A built-in cannot be replaced: it runs, and says which file it ignored.
	if r := itest.Run(t, p.Dir, env, "status"); strings.Contains(r.Stdout, "shadowed") || !strings.Contains(r.Stdout+r.Stderr, "app") ||
		!strings.Contains(r.Stderr, "ignored "+filepath.Join(bin, "stackpilot-status")+": stackpilot status is a built-in command, which a plugin cannot replace") {
		t.Errorf("status with stackpilot-status on PATH: %q %q", r.Stdout, r.Stderr)
	}
	if r := itest.Run(t, p.Dir, env, "nosuch"); r.Code != 2 || !strings.Contains(r.Stderr, `unknown command "nosuch"`) || !strings.Contains(r.Stderr, "no plugin stackpilot-nosuch on PATH or in "+p.Dir+"/.stackpilot/plugins") {
		t.Errorf("unknown: %d %q", r.Code, r.Stderr)
	}

	r = itest.Run(t, p.Dir, env, "plugins")
	if r.Code != 0 || !strings.Contains(r.Stderr, "ignored "+filepath.Join(bin, "stackpilot-status")+": stackpilot status is a built-in command") ||
		!strings.Contains(r.Stderr, "ignored "+filepath.Join(bin, "stackpilot-plain")+": hidden by "+filepath.Join(p.Dir, ".stackpilot", "plugins", "stackpilot-plain")) {
		t.Errorf("plugins: warnings %q", r.Stderr)
	}
	for _, row := range []string{
		"envdump   0.3       PATH      Prints its [31mcontext",
		"plain               project   " + filepath.Join(p.Dir, ".stackpilot", "plugins", "stackpilot-plain"),
	} {
		if !strings.Contains(r.Stdout, row) {
			t.Errorf("plugins: no row %q\n%s", row, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "\x1b") {
		t.Errorf("an escape character from a plugin's metadata reached the terminal: %q", r.Stdout)
	}
	r = itest.Run(t, p.Dir, env, "plugins", "--json")
	var list []struct {
		Name     string `json:"name"`
		Source   string `json:"source"`
		Metadata *struct {
			Usage string `json:"usage"`
		} `json:"metadata"`
		MetadataError string `json:"metadata_error"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list) != 2 || list[0].Metadata == nil || list[0].Metadata.Usage != "stackpilot envdump [ARGS]" || list[1].MetadataError == "" {
		t.Errorf("plugins --json: %v %+v\n%s", err, list, r.Stdout)
	}
}

// A plugin replaces stackpilot (same pid), so a signal sent to what the
// shell started reaches the plugin, whose exit code it is.
func TestIntegrationPluginSignals(t *testing.T) {
	itest.Require(t)
	bin := t.TempDir()
	writeExec(t, filepath.Join(bin, "stackpilot-waiter"), "#!/bin/sh\ntrap 'echo trapped; exit 42' INT\necho \"pid=$$\"\nwhile :; do sleep 0.1; done\n")
	cmd := exec.Command(itest.Binary(t), "waiter")
	cmd.Dir = t.TempDir()
	cmd.Env = append(itest.BaseEnv(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	itest.Eventually(t, 30*time.Second, "the plugin's pid", func() bool { return strings.Contains(out.String(), "pid=") })
	if want := "pid=" + strconv.Itoa(cmd.Process.Pid) + "\n"; !strings.Contains(out.String(), want) {
		t.Errorf("the plugin runs as %q, want the pid stackpilot started with (%s)", out.String(), want)
	}
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the plugin did not exit")
	}
	if code := cmd.ProcessState.ExitCode(); code != 42 || !strings.Contains(out.String(), "trapped") {
		t.Errorf("exit %d %q, want the plugin's 42", code, out.String())
	}
}

// The menu's Plugins entry lists them with their descriptions, asks for
// arguments, runs one on the terminal and comes back with the equivalent.
func TestIntegrationPluginsMenu(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, "services:\n  app:\n    image: stackpilot-busybox:latest\n    command: [\"sleep\", \"3600\"]\n", nil)
	bin := t.TempDir()
	writeExec(t, filepath.Join(bin, "stackpilot-envdump"), envdumpPlugin)
	term := itest.StartTerminal(t, p.Dir, []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")})
	term.Expect("What do you want to do?")
	term.Send("Plugins", itest.KeyEnter)
	term.Expect("Which plugin?")
	term.Expect("envdump — Prints its [31mcontext")
	term.Send(itest.KeyEnter)
	term.Expect("Arguments for stackpilot envdump")
	term.SendLine(`one "two three"`)
	term.Expect("args=one two three")
	term.SendLine("from the keyboard")
	term.Expect("stdin=from the keyboard")
	term.Expect("stackpilot envdump exited with status 5")
	term.Expect("What do you want to do?")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, term.Screen())
	}
	if !strings.Contains(term.Raw(), "stackpilot envdump one 'two three'") {
		t.Errorf("no equivalent command\n%s", term.Screen())
	}
}
