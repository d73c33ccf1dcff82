package wizard

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

// userCrontab behaves like crontab(1) for one user, in memory; missing
// is a machine without cron.
type userCrontab struct {
	content string
	exists  bool
	missing bool
}

func (c *userCrontab) Run(_ context.Context, cmd stackops.Cmd) error {
	if cmd.Args[0] != "crontab" {
		return fmt.Errorf("unexpected %v", cmd.Args)
	}
	if c.missing {
		return fmt.Errorf("crontab: executable file not found in $PATH")
	}
	switch cmd.Args[1] {
	case "-l":
		if !c.exists {
			fmt.Fprintln(cmd.Stderr, "no crontab for root")
			return &stackops.ExitError{Cmd: "crontab", Code: 1}
		}
		fmt.Fprint(cmd.Stdout, c.content)
	case "-":
		b, _ := io.ReadAll(cmd.Stdin)
		c.content, c.exists = string(b), true
	}
	return nil
}

// optionsSeen records the options of each select a flow showed.
type optionsSeen struct {
	steps.Prompter
	selects map[string][]string
}

func (o *optionsSeen) Select(message string, options []string, def string) (int, error) {
	o.selects[message] = options
	return o.Prompter.Select(message, options, def)
}

func runSchedule(t *testing.T, dir string, cron *userCrontab, p *steps.ScriptedPrompter) (*optionsSeen, string) {
	t.Helper()
	ios, _, _, errOut := steps.Test()
	ios.SetTTY(true, true, true)
	ios.NoColor = true
	f := NewFactory(ios, "test", nil)
	f.WorkDir, f.Environ, f.Runner = dir, []string{"PATH=/usr/bin:/bin"}, cron
	seen := &optionsSeen{Prompter: p.Prompter(), selects: map[string][]string{}}
	f.Prompter = seen
	if err := runBackupSchedule(context.Background(), f, &backupScheduleOptions{menu: true}); err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	return seen, errOut.String()
}

// Without crontab the flow says so first and offers only the systemd timer
// (or back): it never asks for a time it could not install.
func TestScheduleMenuWithoutCrontab(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  db:\n    image: x\n"), 0o644)
	p := steps.NewScriptedPrompter(t).Select("Schedule — what do you want to do?", "Back")
	seen, errOut := runSchedule(t, dir, &userCrontab{missing: true}, p)
	if got := seen.selects["Schedule — what do you want to do?"]; strings.Join(got, "|") != "Print a systemd timer instead of using cron|Back" {
		t.Errorf("options without crontab: %q", got)
	}
	if !strings.Contains(errOut, "crontab is not installed on this machine") {
		t.Errorf("not said:\n%s", errOut)
	}
}

// The exact entry is shown before the question, and what is installed is
// that entry; declining writes nothing; the same schedule again is
// recognised without a question.
func TestScheduleMenuShowsTheEntryBeforeInstalling(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  db:\n    image: x\nx-stackpilot:\n  backup: {retention: {keep_last: 3}}\n"), 0o644)
	mine := "MAILTO=ops@example.com\n15 * * * * /usr/local/bin/other-job\n"
	cron := &userCrontab{content: mine, exists: true}
	ask := func(install bool) *steps.ScriptedPrompter {
		return steps.NewScriptedPrompter(t).
			Select("Schedule — what do you want to do?", "Set the schedule (cron)").
			Input("When?", "30 2 * * *").
			Confirm("Install it?", install)
	}
	_, errOut := runSchedule(t, dir, cron, ask(false))
	if cron.content != mine || !strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("declined, yet the crontab changed:\n%s\n%s", cron.content, errOut)
	}
	_, errOut = runSchedule(t, dir, cron, ask(true))
	var shown []string
	for _, l := range strings.Split(errOut, "\n") {
		if s, ok := strings.CutPrefix(l, "  + "); ok {
			shown = append(shown, s)
		}
	}
	if len(shown) != 2 || !strings.HasPrefix(shown[1], "30 2 * * * ") {
		t.Fatalf("the entry was not shown before the question:\n%s", errOut)
	}
	if want := mine + strings.Join(shown, "\n") + "\n"; cron.content != want {
		t.Fatalf("installed is not what was shown:\n%s\nwant\n%s", cron.content, want)
	}
	if strings.Index(errOut, "This entry will be added") > strings.Index(errOut, "scheduled: 30 2 * * *") {
		t.Errorf("shown after installing:\n%s", errOut)
	}
	p := steps.NewScriptedPrompter(t).
		Select("Schedule — what do you want to do?", "Set the schedule (cron)").
		Input("When?", "30 2 * * *")
	_, errOut = runSchedule(t, dir, cron, p)
	if !strings.Contains(errOut, "already holds exactly this entry") {
		t.Errorf("the same schedule again:\n%s", errOut)
	}
}
