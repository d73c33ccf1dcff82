package wizard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
)

// rolloutCancelled reports a cancelled deploy or rollback truthfully: what
// stackpilot put right after stopping Compose, which services are not
// running and which are. In the menu it then offers to run it again, to
// roll back what this deploy changed, or to go back; in flag mode it prints
// the commands that do the same. args is the flag-mode command (after
// "stackpilot") that runs the same operation again, and again runs it from
// the menu (nil: not offered). undo, when the deploy followed an .env edit
// in the menu, is the way back from that edit (nil: none), and undoAndDeploy
// runs it.
func rolloutCancelled(ctx context.Context, f *Factory, res *stackops.DeployResult, err error,
	jsonOut, menu bool, args []string, again func(context.Context) error, undo *envUndo, undoAndDeploy func(context.Context) error) error {
	if jsonOut {
		if jerr := writeJSON(f.IO.Out, res); jerr != nil {
			return jerr
		}
	}
	cs := f.IO.ErrColorScheme()
	w := f.IO.ErrOut
	fmt.Fprintf(w, "\n%s %s cancelled after %s; the stack lock is released (recorded as %s in the history)\n",
		cs.WarningIcon(), res.Operation, (time.Duration(res.DurationMS) * time.Millisecond).Round(100*time.Millisecond), res.ID)
	if len(res.Commands) == 0 {
		fmt.Fprintf(w, "  Compose had not started: nothing was changed\n")
	}
	if len(res.Repairs) > 0 {
		fmt.Fprintf(w, "  Compose was stopped in the middle of replacing a container; stackpilot put it right:\n")
		for _, r := range res.Repairs {
			fmt.Fprintf(w, "    %s %s\n", cs.Gray("·"), r)
		}
	}
	printWarnings(f, res.Warnings)
	down := res.NotRunning()
	var up []string
	for _, s := range res.Services {
		if s.State == stackops.StateRunning {
			up = append(up, s.Service+" ("+stackops.StateText(s.ServiceHealth)+")")
		}
	}
	if len(down) > 0 {
		var parts []string
		for _, s := range down {
			parts = append(parts, s.Service+" ("+stackops.StateText(s.ServiceHealth)+")")
		}
		fmt.Fprintf(w, "  %s %s\n", cs.Red("not running:"), strings.Join(parts, ", "))
	}
	if len(up) > 0 {
		fmt.Fprintf(w, "  %s %s\n", cs.Gray("running:"), strings.Join(up, ", "))
	}
	changed := changedServices(res)
	if menu && f.CanPrompt() {
		return rolloutCancelledMenu(ctx, f, res, err, changed, again, undo, undoAndDeploy)
	}
	// Hints work pasted anywhere (-C and the flags the stack needs), as every other.
	hint := fmt.Sprintf("to finish the %s: %s", res.Operation, f.hint(quoteArgs(args...)...))
	if len(changed) > 0 && res.Operation == "deploy" {
		hint += "; to go back to the images before it: " + f.hint(append([]string{"rollback"}, quoteArgs(changed...)...)...)
	}
	fmt.Fprintf(w, "%s %s\n", cs.Gray("hint:"), hint)
	return err
}

// changedServices are the services whose image this rollout changed.
func changedServices(res *stackops.DeployResult) []string {
	var changed []string
	for _, s := range res.Services {
		if s.ImageBefore != "" && s.ImageAfter != "" && s.ImageBefore != s.ImageAfter {
			changed = append(changed, s.Service)
		}
	}
	return changed
}

// rolloutCancelledMenu is the menu's way on after a cancelled rollout. Each
// choice runs as a job of its own, so Ctrl-C stops it and not the menu.
// After an .env edit (undo) the way back is undoing it: a rollback goes back
// to earlier images, never to earlier .env values.
func rolloutCancelledMenu(ctx context.Context, f *Factory, res *stackops.DeployResult, err error, changed []string, again func(context.Context) error,
	undo *envUndo, undoAndDeploy func(context.Context) error) error {
	const (
		optAgain = "again"
		optUndo  = "undo"
		optBack  = "rollback"
		optMenu  = "menu"
	)
	var labels, keys []string
	if again != nil {
		label := "Deploy again — finish what was cancelled"
		if res.Operation == "rollback" {
			label = "Roll back again — finish what was cancelled"
		}
		labels, keys = append(labels, label), append(keys, optAgain)
	}
	if undo != nil {
		labels, keys = append(labels, undo.label), append(keys, optUndo)
	}
	if res.Operation == "deploy" {
		if len(changed) > 0 {
			labels = append(labels, fmt.Sprintf("Roll back %s to the images before this deploy", strings.Join(changed, ", ")))
			keys = append(keys, optBack)
		} else {
			fmt.Fprintf(f.IO.ErrOut, "%s no image was changed by this deploy, so there is nothing to roll back\n", f.IO.ErrColorScheme().Gray("—"))
		}
	}
	labels, keys = append(labels, "Back to the menu"), append(keys, optMenu)
	idx, perr := f.Prompter.Select(fmt.Sprintf("The %s was cancelled. What now?", res.Operation), labels, "")
	if perr != nil {
		return perr
	}
	// The cancelled job's context is done; the chosen action is a new job.
	jobCtx, done := f.Interrupts.Job(context.WithoutCancel(ctx))
	defer done()
	switch keys[idx] {
	case optAgain:
		return again(jobCtx)
	case optUndo:
		return undoAndDeploy(jobCtx)
	case optBack:
		return runRollback(jobCtx, f, &rollbackOptions{Services: changed, confirmed: true})
	}
	return err
}
