package wizard

import (
	"fmt"

	"github.com/stackpilot/stackpilot/stackops/env"
)

// envEdit is one .env edit (set, unset or undo) as the confirm-and-apply
// flow runs it. Every edit a person is asked about takes the same steps: a
// dry run, the diff, the question, then the write — only if the file still
// holds what the diff was computed from (IfMatch), so an edit made elsewhere
// meanwhile is never overwritten by what was confirmed.
type envEdit struct {
	// Ask shows the change and asks before writing (the menu, or a value
	// typed at a prompt). Without Ask or DryRun the edit is written at once.
	Ask bool
	// DryRun shows the change and never writes.
	DryRun bool
	// Question and Default are the confirmation asked.
	Question string
	Default  bool
	// AskUnchanged asks even when the planned edit changes no line (an undo
	// still drops a version); otherwise an edit that changes nothing is
	// reported and not asked about.
	AskUnchanged bool
	// Run performs the edit, or only plans it when dry; ifMatch is the
	// revision the person saw ("" when nobody was asked).
	Run func(dry bool, ifMatch string) (*env.ChangeResult, error)
	// Show renders the planned change before the question.
	Show func(plan *env.ChangeResult)
	// ShowDry renders a --dry-run's plan, or a change that changes nothing.
	ShowDry func(plan *env.ChangeResult)
}

// applyEnvEdit runs e through the flow. It returns the written change, or
// nil when nothing was written (dry run, nothing to change, or declined).
func applyEnvEdit(f *Factory, e envEdit) (*env.ChangeResult, error) {
	if !e.Ask && !e.DryRun {
		return e.Run(false, "")
	}
	plan, err := e.Run(true, "")
	if err != nil {
		return nil, err
	}
	if e.DryRun || (!plan.Changed && !e.AskUnchanged) {
		e.ShowDry(plan)
		return nil, nil
	}
	e.Show(plan)
	ok, err := f.Prompter.Confirm(e.Question, e.Default)
	if err != nil {
		return nil, err
	}
	if !ok {
		fmt.Fprintln(f.IO.ErrOut, "nothing was changed")
		return nil, nil
	}
	return e.Run(false, plan.Revision)
}
