package wizard

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/steps"
)

const hostTasksCompose = `services:
  app:
    image: app
x-stackpilot:
  tasks:
    note:
      description: Writes a note
      host: true
      command: ["sh", "-c", "printf '%s|' \"$$@\" > note.txt; echo wrote", "sh"]
      confirm: true
    fail:
      host: true
      command: ["sh", "-c", "echo failing >&2; exit 9"]
`

type taskRun struct {
	out, errOut *bytes.Buffer
	err         error
}

// runTaskCmd runs stackpilot with args in dir on in-memory streams
// (terminals when p is given, answering its prompts).
func runTaskCmd(t *testing.T, dir string, p *steps.ScriptedPrompter, args ...string) taskRun {
	t.Helper()
	ios, _, out, errOut := steps.Test()
	ios.NoColor = true
	f := NewFactory(ios, "test", nil)
	f.WorkDir = dir
	f.Environ = []string{"PATH=" + os.Getenv("PATH"), "STACKPILOT_CACHE_DIR=" + t.TempDir()}
	if p != nil {
		ios.SetTTY(true, true, true)
		f.Prompter = p.Prompter()
	}
	cmd := NewRootCmdFor(f, args)
	cmd.SetArgs(args)
	return taskRun{out: out, errOut: errOut, err: cmd.ExecuteContext(context.Background())}
}

func taskProject(t *testing.T, compose string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRunWithoutTerminal(t *testing.T) {
	dir := taskProject(t, hostTasksCompose)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run"}, ExitUsage, "which task to run (tasks: fail, note) — pass TASK"},
		{[]string{"run", "nope"}, ExitUsage, `no such task: "nope" (tasks: fail, note)`},
		{[]string{"run", "note", "--", "a"}, ExitUsage, "task note asks before it runs (confirm: true): --yes is required"},
		{[]string{"run", "fail"}, 9, ""},
	} {
		r := runTaskCmd(t, dir, nil, c.args...)
		if ExitCode(r.err) != c.code || !strings.Contains(Message(r.err), c.want) {
			t.Errorf("%q: exit %d %q, want %d %q", c.args, ExitCode(r.err), Message(r.err), c.code, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "note.txt")); err == nil {
		t.Fatal("the confirm task ran without --yes")
	}
	r := runTaskCmd(t, dir, nil, "run", "--yes", "note", "--", "a b", "--flag")
	if r.err != nil {
		t.Fatalf("%v %s", r.err, r.errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "note.txt")); string(b) != "a b|--flag|" {
		t.Fatalf("the task got %q: extra arguments after --, flags included, as given", b)
	}
}

func TestTasksListAndJSON(t *testing.T) {
	dir := taskProject(t, hostTasksCompose)
	r := runTaskCmd(t, dir, nil, "tasks")
	if r.err != nil || !strings.Contains(r.out.String(), "note   host      yes    Writes a note") {
		t.Fatalf("%v\n%s", r.err, r.out)
	}
	r = runTaskCmd(t, dir, nil, "tasks", "--json")
	var list []struct {
		Name    string   `json:"name"`
		Host    bool     `json:"host"`
		Command []string `json:"command"`
		Confirm bool     `json:"confirm"`
	}
	if err := json.Unmarshal(r.out.Bytes(), &list); err != nil || len(list) != 2 || list[1].Name != "note" || !list[1].Confirm || !list[1].Host {
		t.Fatalf("%v %+v\n%s", err, list, r.out)
	}
	r = runTaskCmd(t, taskProject(t, "services:\n  app:\n    image: app\n"), nil, "tasks", "--json")
	if r.err != nil || strings.TrimSpace(r.out.String()) != "[]" {
		t.Fatalf("no tasks: %v %q", r.err, r.out)
	}
}

// The menu's flow: choose, extra arguments, confirm, run, then the
// equivalent command — and a failing task's status, back to the menu.
func TestTaskMenuFlow(t *testing.T) {
	dir := taskProject(t, hostTasksCompose)
	p := steps.NewScriptedPrompter(t).
		Select("Which task?", "note — Writes a note (host) · asks first").
		Input("Extra arguments", `one "two three"`).
		Confirm("Run task note?", true)
	r := runTaskCmd(t, dir, p, "run")
	if r.err != nil {
		t.Fatalf("%v\n%s", r.err, r.errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "note.txt")); string(b) != "one|two three|" {
		t.Fatalf("the task got %q", b)
	}
	if want := "Equivalent command: stackpilot --yes run note -- one 'two three'"; !strings.Contains(r.errOut.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.errOut)
	}

	ios, _, _, errOut := steps.Test()
	ios.SetTTY(true, true, true)
	ios.NoColor = true
	f := NewFactory(ios, "test", nil)
	f.WorkDir = dir
	f.Environ = []string{"PATH=" + os.Getenv("PATH"), "STACKPILOT_CACHE_DIR=" + t.TempDir()}
	f.Prompter = steps.NewScriptedPrompter(t).
		Select("Which task?", "fail (host)").
		Input("Extra arguments", "").
		Prompter()
	if err := runRun(context.Background(), f, &runOptions{wizard: true}); err != nil {
		t.Fatalf("a failing task in the menu: %v (the menu shows its status and goes on)", err)
	}
	for _, want := range []string{"task fail exited with status 9", "Equivalent command: stackpilot run fail"} {
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// The menu shows Tasks only for a stack with tasks, and Plugins only when
// a plugin exists.
func TestOptionalMenuEntries(t *testing.T) {
	labels := func(dir string, path string) string {
		ios, _, _, _ := steps.Test()
		f := NewFactory(ios, "test", nil)
		f.WorkDir = dir
		f.Environ = []string{"PATH=" + path, "STACKPILOT_CACHE_DIR=" + t.TempDir()}
		var out []string
		for _, e := range optionalMenuEntries(context.Background(), f) {
			out = append(out, e.Label)
		}
		return strings.Join(out, "; ")
	}
	empty := t.TempDir()
	if got := labels(taskProject(t, "services:\n  app:\n    image: app\n"), empty); got != "" {
		t.Errorf("no tasks, no plugins: %q", got)
	}
	if got := labels(taskProject(t, hostTasksCompose), empty); got != "Tasks — run one of the stack's 2 task(s)" {
		t.Errorf("tasks: %q", got)
	}
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "stackpilot-hi"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := labels(taskProject(t, "services:\n  app:\n    image: app\n"), bin); got != "Plugins — run one of 1 plugin(s)" {
		t.Errorf("a plugin: %q", got)
	}
}

func TestRunCompletesTaskNames(t *testing.T) {
	dir := taskProject(t, hostTasksCompose)
	r := runTaskCmd(t, dir, nil, "__complete", "run", "n")
	if r.err != nil || !strings.HasPrefix(r.out.String(), "note\tWrites a note\n:4\n") {
		t.Fatalf("%v %q", r.err, r.out)
	}
	r = runTaskCmd(t, dir, nil, "__complete", "run", "")
	if !strings.Contains(r.out.String(), "fail\n") || !strings.Contains(r.out.String(), "note\tWrites a note\n") {
		t.Fatalf("%q", r.out)
	}
}

// A name that is neither a command nor a plugin is a usage error that
// says where plugins were looked for.
func TestUnknownCommandNamesThePluginLookedFor(t *testing.T) {
	dir := taskProject(t, hostTasksCompose)
	r := runTaskCmd(t, dir, nil, "stauts", "--json")
	if ExitCode(r.err) != ExitUsage || !strings.Contains(Message(r.err), `unknown command "stauts"`) ||
		!strings.Contains(Message(r.err), "no plugin stackpilot-stauts on PATH or in "+dir+"/.stackpilot/plugins") {
		t.Fatalf("exit %d %q", ExitCode(r.err), Message(r.err))
	}
}
