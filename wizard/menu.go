package wizard

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
// the menu back; Ctrl-C or Quit at the menu leaves (130 for Ctrl-C). The
// project is read again before each choice, and the jobs offered follow
// from it (menuFor).
func runMenu(ctx context.Context, f *Factory) error {
	update := selfUpdateMenuEntry(f)
	printMenuUpdateNotice(f)
	cs := f.IO.ErrColorScheme()
	last := ""
	for {
		f.forgetStack()
		header, entries := menuFor(ctx, f, cs)
		entries = append(entries, update)
		fmt.Fprintln(f.IO.ErrOut, header)
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
	if st != nil {
		if e, ok := contextMenuEntry(f, st); ok {
			out = append(out, e)
		}
	}
	return out
}

// menuFor reads the project and returns the menu's header (which stack, or
// why there is none) and the jobs to offer: every job on a project that
// loads (which is remembered among the recent ones); outside a project,
// opening or creating one; on a project whose .env breaks the compose
// file, its repairs first.
func menuFor(ctx context.Context, f *Factory, cs *steps.ColorScheme) (string, []menuEntry) {
	st, err := f.recoveredStack(ctx)
	title := cs.Bold("stackpilot")
	switch {
	case err == nil:
		f.rememberProject(st)
		// Tasks and plugins come and go with the compose file and PATH.
		entries := append(menuEntries(), optionalMenuEntries(ctx, f)...)
		if f.startedOutside {
			entries = append(entries, menuEntry{Label: "Open another project", Run: runOpenProject})
		}
		where := st.Dir
		if sw, swarmEntries, ok := swarmMenu(ctx, st, entries); ok {
			where, entries = sw+" · "+st.Dir, swarmEntries
		}
		header := fmt.Sprintf("project %s · %d services (%s) · %s", cs.Cyan(st.Name), len(st.ServiceNames()), strings.Join(st.ServiceNames(), ", "), where)
		if on := whereLabel(st); on != "" {
			header += " · " + cs.Bold(on)
		}
		return fmt.Sprintf("%s %s %s", title, cs.Gray("·"), header), entries
	case errors.Is(err, stackops.ErrNoComposeFile) || (f.Global.ProjectDir != "" && errors.Is(err, fs.ErrNotExist)):
		f.startedOutside = true
		msg := Message(err)
		var nf *stackops.NoComposeFileError
		if errors.As(err, &nf) && len(nf.Searched) > 0 {
			msg = fmt.Sprintf("no compose project in %s or the directories above it", nf.Searched[0])
		}
		return fmt.Sprintf("%s %s %s\n  open a project or create one to start; Doctor checks docker and compose", title, cs.WarningIcon(), msg), outsideProjectEntries()
	}
	if ce := envCauseOf(err); ce != nil {
		f.mu.Lock()
		located := f.located
		f.mu.Unlock()
		f.rememberProject(located)
		return fmt.Sprintf("%s %s %s", title, cs.FailureIcon(), ce.Short()), append(envRepairEntries(ce), menuEntries()...)
	}
	return fmt.Sprintf("%s %s %s", title, cs.WarningIcon(), Message(err)), menuEntries()
}

// envRepairEntries are the ways out offered when the .env breaks the
// compose file: undo the last .env change, or change the key at fault.
func envRepairEntries(ce *envCauseError) []menuEntry {
	var out []menuEntry
	if ce.undo != nil {
		out = append(out, menuEntry{Label: fmt.Sprintf("Undo the last .env change (%s)", versionLabel(*ce.undo)), Run: func(ctx context.Context, f *Factory) error {
			return runEnvUndo(ctx, f, &envUndoOptions{confirm: true})
		}})
	}
	for _, k := range ce.dotEnvKeys() {
		out = append(out, menuEntry{Label: fmt.Sprintf("Change %s in .env", k), Run: func(ctx context.Context, f *Factory) error {
			return runEnvSet(ctx, f, &envSetOptions{Args: []string{k}, menu: true})
		}})
	}
	return out
}
