package wizard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

// testFactory is a factory on in-memory streams, in an empty directory.
func testFactory(t *testing.T) *Factory {
	ios, _, _, _ := steps.Test()
	f := NewFactory(ios, "test", nil)
	f.WorkDir = t.TempDir()
	f.Environ = []string{}
	return f
}

func execute(f *Factory, args ...string) error {
	if args == nil {
		args = []string{}
	}
	cmd := NewRootCmdFor(f, args)
	cmd.SetArgs(args)
	return cmd.ExecuteContext(context.Background())
}

func TestNoArgsWithoutTerminalIsUsageError(t *testing.T) {
	ios, _, out, errOut := steps.Test()
	f := NewFactory(ios, "test", nil)
	err := execute(f)
	if ExitCode(err) != ExitUsage || Message(err) != "" {
		t.Fatalf("exit %d message %q", ExitCode(err), Message(err))
	}
	if out.Len() != 0 || !strings.Contains(errOut.String(), "Usage:") || !strings.Contains(errOut.String(), "needs a terminal") {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
}

func TestNoInputFlagBlocksTheMenu(t *testing.T) {
	ios, _, _, errOut := steps.Test()
	ios.SetTTY(true, true, true)
	f := NewFactory(ios, "test", nil)
	err := execute(f, "--no-input")
	if ExitCode(err) != ExitUsage || !strings.Contains(errOut.String(), "Usage:") {
		t.Fatalf("exit %d", ExitCode(err))
	}
}

func TestVersionFlag(t *testing.T) {
	ios, _, out, _ := steps.Test()
	f := NewFactory(ios, "1.2.3", nil)
	if err := execute(f, "--version"); err != nil {
		t.Fatal(err)
	}
	if out.String() != "stackpilot version 1.2.3\n" {
		t.Fatalf("%q", out.String())
	}
}

func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	ios, _, _, _ := steps.Test()
	root := NewRootCmd(NewFactory(ios, "test", nil))
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		if c.Short == "" || c.Example == "" {
			t.Errorf("%s: needs Short and Example", c.Name())
		}
		for _, sub := range c.Commands() {
			if sub.Short == "" || sub.Example == "" {
				t.Errorf("%s %s: needs Short and Example", c.Name(), sub.Name())
			}
		}
	}
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		err  error
		code int
	}{
		{nil, 0},
		{errors.New("x"), 1},
		{fmt.Errorf("deploy: %w", stackops.ErrInterrupted), 130},
		{context.Canceled, 130},
		{ErrTerminated, 143},
		{fmt.Errorf("down: %w", stackops.ErrConfirmationRequired), 2},
		{missingInput("the key", "--key"), 2},
		{silentExit(3), 3},
		{stackops.ErrDegraded, 3},
		{usageErr("bad"), 2},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.code {
			t.Errorf("%v: exit %d, want %d", c.err, got, c.code)
		}
	}
	if !strings.Contains(Message(missingInput("the key", "--key")), "pass --key") {
		t.Error("missing input message must name the flag")
	}
}

func TestInterruptsRouteToInnermostJob(t *testing.T) {
	in := NewInterrupts()
	if in.Signal(os.Interrupt) {
		t.Fatal("a signal with no job must be reported unhandled")
	}
	outer, endOuter := in.Job(context.Background())
	defer endOuter()
	inner, endInner := in.Job(outer)
	in.Signal(os.Interrupt)
	if !errors.Is(context.Cause(inner), stackops.ErrInterrupted) || outer.Err() != nil {
		t.Fatalf("first Ctrl-C: inner %v outer %v", context.Cause(inner), outer.Err())
	}
	endInner()
	in.Signal(os.Interrupt)
	if !errors.Is(context.Cause(outer), stackops.ErrInterrupted) {
		t.Fatal("Ctrl-C after the job ended must reach the outer scope")
	}
	j, end := in.Job(context.Background())
	defer end()
	in.Signal(syscall.SIGTERM)
	if !errors.Is(context.Cause(j), ErrTerminated) {
		t.Fatalf("SIGTERM: %v", context.Cause(j))
	}
}

func TestStatusOutsideAProject(t *testing.T) {
	f := testFactory(t)
	err := execute(f, "status")
	if ExitCode(err) != 1 || !strings.Contains(Message(err), "not a compose project") {
		t.Fatalf("exit %d %q", ExitCode(err), Message(err))
	}
}

func TestEquivalentIncludesGlobalFlags(t *testing.T) {
	ios, _, _, errOut := steps.Test()
	f := NewFactory(ios, "test", nil)
	f.Global.ProjectDir = "/srv/my app"
	f.Global.Files = []string{"a.yml"}
	f.Equivalent("status", "api")
	if got := errOut.String(); !strings.Contains(got, "stackpilot -C '/srv/my app' -f a.yml status api") {
		t.Fatalf("%q", got)
	}
}

func TestCompletionListsServices(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  api: {image: a}\n  web: {image: b}\n"), 0o644)
	ios, _, out, _ := steps.Test()
	f := NewFactory(ios, "test", nil)
	f.WorkDir = dir
	f.Environ = []string{}
	if err := execute(f, "__complete", "status", "a"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "api") || strings.Contains(out.String(), "web") {
		t.Fatalf("%q", out.String())
	}
}

func TestCommandNameIn(t *testing.T) {
	ios, _, _, _ := steps.Test()
	root := NewRootCmdFor(NewFactory(ios, "test", nil), []string{})
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, ""},
		{[]string{"status"}, "status"},
		{[]string{"-C", "deploy", "status", "--json"}, "status"},
		{[]string{"--project-dir", "x", "env", "get", "A"}, "env"},
		{[]string{"--project-dir=x", "logs", "-f"}, "logs"},
		{[]string{"-f", "a.yaml", "-f", "b.yaml", "backup", "list"}, "backup"},
		{[]string{"-Cdir", "doctor"}, "doctor"},
		{[]string{"-vC", "dir", "history"}, "history"},
		{[]string{"-yv", "down"}, "down"},
		{[]string{"--profile", "status", "--env-file", "e", "-p", "n", "start"}, "start"},
		{[]string{"--no-color", "--no-input", "--yes", "--verbose", "stop"}, "stop"},
		{[]string{"--jsn", "status"}, ""},
		{[]string{"-x", "status"}, ""},
		{[]string{"--", "status"}, ""},
		{[]string{"--version"}, ""},
		{[]string{"stauts"}, "stauts"},
		{[]string{"--context", "prod", "status"}, "status"},
		{[]string{"-H", "ssh://deploy@10.0.0.5", "deploy"}, "deploy"},
		{[]string{"--host=tcp://h:2376", "logs"}, "logs"},
		{[]string{"--context", "status", "deploy"}, "deploy"},
		{[]string{"-H", "ssh://root@10.0.0.5", "status"}, "status"},
		{[]string{"-Hssh://root@h", "--host=tcp://h:2375", "logs"}, "logs"},
		{[]string{"-vH", "unix:///x.sock", "doctor"}, "doctor"},
	} {
		if got := commandNameIn(root, c.args); got != c.want {
			t.Errorf("commandNameIn(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// A global flag added to the root is honoured by the scan with no other
// change: its value is not taken for the command's name.
func TestCommandNameInFollowsNewGlobalFlags(t *testing.T) {
	ios, _, _, _ := steps.Test()
	f := NewFactory(ios, "test", nil)
	root := NewRootCmdFor(f, []string{})
	var zone string
	var dry bool
	root.PersistentFlags().StringVarP(&zone, "zone", "Z", "", "a new valued global")
	root.PersistentFlags().BoolVarP(&dry, "dry", "D", false, "a new boolean global")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--zone", "eu", "status"}, "status"},
		{[]string{"-Z", "eu", "deploy"}, "deploy"},
		{[]string{"-DZ", "eu", "logs"}, "logs"},
		{[]string{"--dry", "env"}, "env"},
		{[]string{"--zone=eu", "history"}, "history"},
	} {
		if got := commandNameIn(root, c.args); got != c.want {
			t.Errorf("commandNameIn(%q) = %q, want %q", c.args, got, c.want)
		}
	}
}

// Each builder builds the command of its name, and --help lists them all in
// commandOrder.
func TestCommandBuildersMatchTheirNames(t *testing.T) {
	ios, _, _, _ := steps.Test()
	f := NewFactory(ios, "test", nil)
	b := commandBuilders(f)
	if len(b) != len(commandOrder) {
		t.Fatalf("%d builders, %d names in commandOrder", len(b), len(commandOrder))
	}
	for _, name := range commandOrder {
		if got := b[name]().Name(); got != name {
			t.Errorf("builder %q builds %q", name, got)
		}
	}
}

// Running one command builds that command only; help and unknown flags see
// them all; --version none; a name that is not stackpilot's, the command
// that runs its plugin (or says it is unknown).
func TestRootForArgsBuildsWhatTheLineNeeds(t *testing.T) {
	ios, _, _, _ := steps.Test()
	f := NewFactory(ios, "test", nil)
	names := func(args ...string) string {
		var out []string
		for _, c := range NewRootCmdFor(f, args).Commands() {
			out = append(out, c.Name())
		}
		return strings.Join(out, " ")
	}
	if got := names("-C", "x", "env", "get", "A"); got != "env" {
		t.Errorf("env get: %q", got)
	}
	if got := names("--version"); got != "" {
		t.Errorf("--version: %q", got)
	}
	if got := names("-C", "x", "stauts", "--json"); got != "stauts" {
		t.Errorf("stauts: %q", got)
	}
	for _, args := range [][]string{{}, {"--help"}, {"--version", "--help"}, {"help", "env"}, {"__complete", "st"}, {"--jsn", "status"}} {
		if got := strings.Fields(names(args...)); len(got) != len(commandOrder) {
			t.Errorf("%q: %q", args, got)
		}
	}
}

// Backups and logs get every processor back; other commands stay on the one
// the process started with.
func TestParallelOnlyForBulkWork(t *testing.T) {
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"backup", "list"}, true},
		{[]string{"logs", "--tail", "1"}, true},
		{[]string{"env", "list"}, false},
		{[]string{"status"}, false},
		{[]string{"--version"}, false},
	} {
		ios, _, _, _ := steps.Test()
		f := NewFactory(ios, "test", nil)
		f.WorkDir = t.TempDir() // no compose file: each command fails after its flags
		called := false
		f.Parallel = func() { called = true }
		_ = execute(f, c.args...)
		if called != c.want {
			t.Errorf("%q: Parallel called %v, want %v", c.args, called, c.want)
		}
	}
}

// Ctrl-C prints "cancelled", but what the command put right before it
// stopped (a restore's volume rolled back from the safety backup) is said
// with it: it tells the user in what state things were left.
func TestMessageKeepsTheNotesOfAnInterruption(t *testing.T) {
	err := fmt.Errorf("restore: %w", &stackops.NotedError{Err: stackops.ErrInterrupted, Notes: []string{"volume db-data was rolled back to its state before the restore"}})
	if got, want := Message(err), "cancelled — volume db-data was rolled back to its state before the restore"; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
	if got := Message(fmt.Errorf("x: %w", stackops.ErrInterrupted)); got != "cancelled" {
		t.Errorf("Message of a bare interruption = %q", got)
	}
	if got := Message(&stackops.NotedError{Err: errors.New("disk full"), Notes: []string{"a note"}}); got != "disk full (a note)" {
		t.Errorf("Message of another noted error = %q", got)
	}
}
