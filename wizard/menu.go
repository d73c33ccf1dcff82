package wizard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

// menuEntry is one job of the main menu. Run is the same run function the
// job's command calls, with nothing filled in, so the menu and the flags
// share one code path.
type menuEntry struct {
	Label string
	// Equivalent is the flag-mode command shown after the job ran.
	Equivalent []string
	Run        func(ctx context.Context, f *Factory) error
}

// menuEntries lists the jobs that exist. A job appears here only once it works.
func menuEntries() []menuEntry {
	// Entries without Equivalent print their own equivalent command: it
	// depends on the answers given (services, key, backup).
	return []menuEntry{
		{Label: "Status — what is running and healthy", Equivalent: []string{"status"}, Run: func(ctx context.Context, f *Factory) error {
			return runStatus(ctx, f, &statusOptions{})
		}},
		{Label: "Watch status — refresh until Ctrl-C", Equivalent: []string{"status", "--watch"}, Run: func(ctx context.Context, f *Factory) error {
			return runStatus(ctx, f, &statusOptions{Watch: true, Interval: defaultWatchInterval})
		}},
		{Label: "Deploy — build, start and wait until healthy", Run: func(ctx context.Context, f *Factory) error {
			return runDeploy(ctx, f, &deployOptions{wizard: true})
		}},
		{Label: "Logs — follow, last lines, summary, search", Run: logsMenu},
		{Label: "Environment — view and edit .env", Run: runEnvWizard},
		{Label: "Backups — create, list, verify, restore, prune, schedule", Run: runBackupMenu},
		{Label: "Restart services", Run: func(ctx context.Context, f *Factory) error {
			return runLifecycle(ctx, f, &lifecycleOptions{Op: "restart", wizard: true})
		}},
		{Label: "Stop services", Run: func(ctx context.Context, f *Factory) error {
			return runLifecycle(ctx, f, &lifecycleOptions{Op: "stop", wizard: true})
		}},
		{Label: "Start stopped services", Run: func(ctx context.Context, f *Factory) error {
			return runLifecycle(ctx, f, &lifecycleOptions{Op: "start", wizard: true})
		}},
		{Label: "Roll back — go back to the images before the last deploy", Run: func(ctx context.Context, f *Factory) error {
			return runRollback(ctx, f, &rollbackOptions{wizard: true})
		}},
		{Label: "History — past deploys and rollbacks", Equivalent: []string{"history"}, Run: func(ctx context.Context, f *Factory) error {
			return runHistory(ctx, f, &historyOptions{Limit: 20})
		}},
		{Label: "Down — remove the stack's containers (optionally its volumes)", Run: func(ctx context.Context, f *Factory) error {
			return runDown(ctx, f, &downOptions{wizard: true})
		}},
		{Label: "Doctor — check docker, compose and the project", Equivalent: []string{"doctor"}, Run: func(ctx context.Context, f *Factory) error {
			return runDoctor(ctx, f, &doctorOptions{})
		}},
	}
}

const quitLabel = "Quit"

// runMenu is the main menu loop. A job's Ctrl-C cancels the job and brings
// the menu back; Ctrl-C or Quit at the menu leaves (130 for Ctrl-C).
func runMenu(ctx context.Context, f *Factory) error {
	printMenuUpdateNotice(f)
	cs := f.IO.ErrColorScheme()
	last := ""
	for {
		f.forgetStack()
		fmt.Fprintln(f.IO.ErrOut, menuHeader(ctx, f, cs))
		// Tasks and plugins come and go with the compose file and PATH.
		entries := append(menuEntries(), optionalMenuEntries(ctx, f)...)
		entries = append(entries, selfUpdateMenuEntry(f))
		labels := make([]string, 0, len(entries)+1)
		for _, e := range entries {
			labels = append(labels, e.Label)
		}
		labels = append(labels, quitLabel)
		idx, err := f.Prompter.Select("What do you want to do?", labels, last)
		if err != nil {
			return err
		}
		if idx == len(entries) {
			return nil
		}
		e := entries[idx]
		last = e.Label
		jobCtx, done := f.Interrupts.Job(ctx)
		err = e.Run(jobCtx, f)
		done()
		switch {
		case err == nil:
			if len(e.Equivalent) > 0 {
				f.Equivalent(e.Equivalent...)
			}
		case errors.Is(err, stackops.ErrInterrupted) || errors.Is(err, steps.ErrInterrupted):
			fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.Gray("—"), "stopped; back to the menu")
		case errors.Is(err, ErrTerminated):
			return err
		default:
			if msg := Message(err); msg != "" {
				fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.FailureIcon(), msg)
			}
			if (ExitCode(err) == ExitDegraded || ExitCode(err) == ExitFailure) && len(e.Equivalent) > 0 {
				f.Equivalent(e.Equivalent...)
			}
		}
		fmt.Fprintln(f.IO.ErrOut)
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
	}
}

// optionalMenuEntries are the jobs that exist only for some stacks: Tasks
// when the stack declares tasks, Plugins when there are plugins.
func optionalMenuEntries(ctx context.Context, f *Factory) []menuEntry {
	var out []menuEntry
	st, _ := f.Stack(ctx)
	if e, ok := tasksMenuEntry(ctx, f); ok {
		out = append(out, e)
	}
	if e, ok := pluginsMenuEntry(ctx, f, st); ok {
		out = append(out, e)
	}
	return out
}

// menuHeader names the stack the menu acts on, or why there is none.
func menuHeader(ctx context.Context, f *Factory, cs *steps.ColorScheme) string {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		msg := Message(err)
		if i := strings.Index(msg, " — "); i > 0 && errors.Is(err, stackops.ErrNoComposeFile) {
			msg = msg[:i]
		}
		return fmt.Sprintf("%s %s %s", cs.Bold("stackpilot"), cs.WarningIcon(), msg)
	}
	return fmt.Sprintf("%s %s %s", cs.Bold("stackpilot"), cs.Gray("·"),
		fmt.Sprintf("project %s · %d services (%s) · %s", cs.Cyan(st.Name), len(st.ServiceNames()), strings.Join(st.ServiceNames(), ", "), st.Dir))
}
