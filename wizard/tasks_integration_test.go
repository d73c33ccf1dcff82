package wizard_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// tasksCompose is a running busybox service and tasks in it and on the host.
const tasksCompose = `services:
  box:
    image: stackpilot-busybox:latest
    command: ["sleep", "3600"]
x-stackpilot:
  tasks:
    hello:
      description: Greets
      service: box
      command: ["sh", "-c", "echo \"hello $$GREET in $$(pwd) as $$(id -u): $$*\"; echo to-stderr >&2", "sh"]
      environment: {GREET: "${GREETING:-you}"}
      user: "1234"
      workdir: /bin
    fail:
      service: box
      command: ["sh", "-c", "exit 7"]
    tty:
      service: box
      command: [tty]
    cat:
      service: box
      command: ["sh", "-c", "cat; echo done"]
    trap:
      service: box
      command: ["sh", "-c", "trap 'echo trapped; exit 42' INT; trap 'echo termed; exit 44' TERM; echo ready; while :; do sleep 0.1; done"]
    stubborn:
      service: box
      command: ["sh", "-c", "trap '' INT TERM; echo ready; sleep 60"]
    ask:
      service: box
      command: ["sh", "-c", "printf 'name? '; read name; echo \"hi $$name\"; stty size"]
    onhost:
      host: true
      command: ["sh", "-c", "echo \"host $$FOO $$STACKPILOT_PROJECT_NAME $$STACKPILOT_COMPOSE in $$(pwd): $$*\"; exit 3", "sh"]
      environment: [FOO=bar]
    hosttrap:
      host: true
      command: ["sh", "-c", "trap 'echo host-trapped; exit 43' INT; echo ready; while :; do sleep 0.1; done"]
    touch:
      host: true
      command: [touch, ran]
      confirm: true
`

func tasksProject(t *testing.T) *itest.Project {
	t.Helper()
	p := itest.NewProject(t, tasksCompose, map[string]string{".env": "GREETING=world"})
	p.Compose("up", "-d")
	return p
}

// Container and host tasks in flag mode without a terminal: output,
// environment, user, workdir, extra arguments, exit codes, piped stdin,
// no TTY, the list, and the mistakes (unknown task, confirm without --yes,
// a stopped service).
func TestIntegrationRunTasks(t *testing.T) {
	itest.Require(t)
	p := tasksProject(t)

	r := p.Run("run", "hello", "--", "a", "b c")
	if r.Code != 0 || r.Stdout != "hello world in /bin as 1234: a b c\n" || !strings.Contains(r.Stderr, "to-stderr") {
		t.Fatalf("hello: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := p.Run("run", "fail"); r.Code != 7 || strings.Contains(r.Stderr, "error") {
		t.Errorf("fail: exit %d %q, want the task's 7 and nothing added", r.Code, r.Stderr)
	}
	if r := p.Run("run", "tty"); r.Code != 1 || r.Stdout != "not a tty\n" {
		t.Errorf("no terminal, no TTY: %d %q", r.Code, r.Stdout)
	}
	if r := itest.RunInput(t, p.Dir, nil, []byte("line 1\nline 2\n"), "run", "cat"); r.Code != 0 || r.Stdout != "line 1\nline 2\ndone\n" {
		t.Errorf("stdin piped through: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	// stdin /dev/null: the exec gets none, and reads end of file
	if r := p.Run("run", "cat"); r.Code != 0 || r.Stdout != "done\n" {
		t.Errorf("stdin /dev/null: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}
	if r := p.Run("run", "onhost", "--", "x y"); r.Code != 3 || r.Stdout != "host bar "+p.Name+" "+itest.Variant()+" in "+p.Dir+": x y\n" {
		t.Errorf("host task: %d %q %q", r.Code, r.Stdout, r.Stderr)
	}

	r = p.Run("tasks", "--json")
	var list []struct {
		Name    string `json:"name"`
		Service string `json:"service"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil || len(list) != 10 || list[0].Name != "ask" {
		t.Errorf("tasks --json: %v %s", err, r.Stdout)
	}
	if r := p.Run("tasks"); !strings.Contains(r.Stdout, "hello      service box          Greets") {
		t.Errorf("tasks:\n%s", r.Stdout)
	}

	if r := p.Run("run", "nope"); r.Code != 2 || !strings.Contains(r.Stderr, `no such task: "nope" (tasks: ask, cat, fail, hello, hosttrap, onhost, stubborn, touch, trap, tty)`) {
		t.Errorf("unknown task: %d %q", r.Code, r.Stderr)
	}
	if r := p.Run("run", "touch"); r.Code != 2 || !strings.Contains(r.Stderr, "--yes") {
		t.Errorf("confirm task without --yes: %d %q", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, "ran")); err == nil {
		t.Fatal("the confirm task ran without --yes")
	}
	if r := p.Run("--yes", "run", "touch"); r.Code != 0 {
		t.Errorf("--yes: %d %q", r.Code, r.Stderr)
	}
	if _, err := os.Stat(filepath.Join(p.Dir, "ran")); err != nil {
		t.Fatal("the confirm task did not run with --yes")
	}

	p.Compose("stop", "--timeout", "1")
	r = p.Run("run", "hello")
	if r.Code != 1 || !strings.Contains(r.Stderr, "task hello runs in service box, which is not running — start it with: stackpilot -C "+p.Dir+" deploy box") {
		t.Errorf("stopped service: %d %q", r.Code, r.Stderr)
	}
}

// startRun starts stackpilot run without a terminal, stdin an open pipe,
// and waits until the task printed "ready".
type runningTask struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	stdin          interface{ Close() error }
	done           chan struct{}
	code           int
}

func startRun(t *testing.T, dir string, args ...string) *runningTask {
	t.Helper()
	cmd := exec.Command(itest.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = itest.BaseEnv()
	rt := &runningTask{cmd: cmd, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = rt.stdout, rt.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	rt.stdin = in
	// Its own process group, as a job started by a shell: a signal sent to
	// stackpilot reaches stackpilot alone.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = cmd.Wait()
		rt.code = cmd.ProcessState.ExitCode()
		close(rt.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		in.Close()
		<-rt.done
	})
	itest.Eventually(t, 60*time.Second, "the task to be ready", func() bool { return strings.Contains(rt.stdout.String(), "ready") })
	return rt
}

func (rt *runningTask) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-rt.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("stackpilot did not exit\nstdout %q\nstderr %q", rt.stdout, rt.stderr)
	}
	return rt.code
}

// Without a TTY, a SIGINT or SIGTERM sent to stackpilot goes to the task —
// in a container (through the engine's pid of the exec'd process) and on
// the host — which traps it and chooses the exit code; a second one stops
// waiting for a task that ignores it.
func TestIntegrationRunForwardsSignalsWithoutTTY(t *testing.T) {
	itest.Require(t)
	p := tasksProject(t)

	for _, c := range []struct {
		task    string
		sig     syscall.Signal
		code    int
		printed string
	}{
		{"trap", syscall.SIGINT, 42, "trapped"},
		{"trap", syscall.SIGTERM, 44, "termed"},
		{"hosttrap", syscall.SIGINT, 43, "host-trapped"},
	} {
		rt := startRun(t, p.Dir, "run", c.task)
		_ = rt.cmd.Process.Signal(c.sig)
		if code := rt.wait(t); code != c.code || !strings.Contains(rt.stdout.String(), c.printed) {
			t.Errorf("%s %v: exit %d stdout %q stderr %q, want %d and %q", c.task, c.sig, code, rt.stdout, rt.stderr, c.code, c.printed)
		}
	}

	container := strings.TrimPrefix(itest.Inspect(t, p.ContainerID("box"))["Name"].(string), "/") // v1: NAME_box_1, v2: NAME-box-1
	rt := startRun(t, p.Dir, "run", "stubborn")
	_ = rt.cmd.Process.Signal(syscall.SIGINT)
	itest.Eventually(t, 30*time.Second, "the notice", func() bool { return strings.Contains(rt.stderr.String(), "once more to stop waiting") })
	_ = rt.cmd.Process.Signal(syscall.SIGINT)
	if code := rt.wait(t); code != 130 || !strings.Contains(rt.stderr.String(), "stopped waiting for task stubborn: it may still be running in container "+container) {
		t.Errorf("second Ctrl-C: exit %d stderr %q, want 130 and the container named", code, rt.stderr)
	}
}

// On a terminal a container task gets a TTY of its own sized like the
// terminal, reads what is typed, and gets Ctrl-C as the key; a host task
// shares the terminal. The terminal is given back as it was, also when
// stackpilot stops waiting for a task that ignores signals.
func TestIntegrationRunOnTerminal(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	p := tasksProject(t)

	term := itest.StartTerminal(t, p.Dir, nil, "run", "tty")
	if code := term.Wait(60 * time.Second); code != 0 || !strings.Contains(term.Screen(), "/dev/pts/") {
		t.Fatalf("tty: exit %d\n%s", code, term.Screen())
	}

	term = itest.StartTerminal(t, p.Dir, nil, "run", "ask")
	term.Expect("name? ")
	term.SendLine("bob")
	term.Expect("hi bob")
	if code := term.Wait(60 * time.Second); code != 0 || !strings.Contains(term.Screen(), "40 120") {
		t.Fatalf("ask: exit %d: want the answer read and the terminal's size (40 rows, 120 columns)\n%s", code, term.Screen())
	}

	for _, c := range []struct {
		task, printed string
		code          int
	}{{"trap", "trapped", 42}, {"hosttrap", "host-trapped", 43}} {
		term = itest.StartTerminal(t, p.Dir, nil, "run", c.task)
		term.Expect("ready")
		term.Send(itest.KeyCtrlC)
		term.Expect(c.printed)
		if code := term.Wait(60 * time.Second); code != c.code {
			t.Errorf("%s: Ctrl-C gave exit %d, want the task's %d\n%s", c.task, code, c.code, term.Screen())
		}
	}

	// The terminal's modes after stackpilot: read by stty in the same
	// terminal, once after a normal end and once after giving up on a task
	// that ignores SIGTERM (sent to stackpilot alone, twice). The second
	// runs in the background with the terminal as its stdin, so the shell
	// knows its pid.
	bin := "'" + itest.Binary(t) + "'"
	sh := bin + " run ask; echo code=$?; stty -a; " +
		bin + " run stubborn </dev/tty & pid=$!; sleep 5; kill -TERM $pid; sleep 2; kill -TERM $pid; wait $pid; echo code=$?; stty -a; echo ALL\"\"DONE"
	term = itest.StartTerminalWith(t, "/bin/sh", p.Dir, nil, "-c", sh)
	term.Expect("name? ")
	term.SendLine("x")
	term.Expect("ALLDONE")
	raw := strings.ReplaceAll(term.Raw(), "\r", "")
	if !strings.Contains(raw, "code=0\n") || !strings.Contains(raw, "code=143\n") {
		t.Errorf("exit codes: want 0 then 143\n%s", term.Screen())
	}
	tokens := map[string]int{}
	for _, w := range strings.Fields(raw) {
		tokens[w]++
	}
	for _, mode := range []string{"icanon", "echo", "isig", "opost", "icrnl"} {
		if tokens[mode] != 2 || tokens["-"+mode] != 0 {
			t.Errorf("%s set %d times, -%s %d times, want set after each run: the terminal was not restored\n%s", mode, tokens[mode], mode, tokens["-"+mode], raw)
		}
	}
}

func TestIntegrationRunMenu(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	p := tasksProject(t)
	term := itest.StartTerminal(t, p.Dir, nil)
	term.Expect("What do you want to do?")
	term.Send("Tasks", itest.KeyEnter)
	term.Expect("Which task?")
	term.Send("hello", itest.KeyEnter)
	term.Expect("Extra arguments")
	term.SendLine(`one "two three"`)
	term.Expect("hello world in /bin as 1234: one two three")
	term.Expect("Equivalent command:")
	term.Expect("What do you want to do?")
	term.Send("Tasks", itest.KeyEnter)
	term.Expect("Which task?")
	term.Send("touch", itest.KeyEnter)
	term.Expect("Extra arguments")
	term.SendLine("")
	term.Expect("Run task touch?")
	term.SendLine("y")
	term.Expect("What do you want to do?")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("exit %d\n%s", code, term.Screen())
	}
	screen := term.Raw()
	for _, want := range []string{"stackpilot run hello -- one 'two three'", "stackpilot --yes run touch"} {
		if !strings.Contains(screen, want) {
			t.Errorf("no %q on the terminal", want)
		}
	}
	if _, err := os.Stat(filepath.Join(p.Dir, "ran")); err != nil {
		t.Error("the confirmed task did not run")
	}
}
