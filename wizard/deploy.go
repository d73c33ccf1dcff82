package wizard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/env"
	"github.com/stackpilot/stackpilot/steps"
)

type deployOptions struct {
	Services      []string
	NoBuild       bool
	Pull          bool
	ForceRecreate bool
	Timeout       time.Duration
	NoWait        bool
	DryRun        bool
	LockWait      time.Duration
	JSON          bool
	// wizard is set by the menu: ask for what the flags would say.
	wizard bool
	// planOnly skips the build and pull questions: the caller decided
	// (a redeploy after an .env change needs neither).
	planOnly bool
	// asked is set when the questions were answered already (Deploy again
	// after a cancelled deploy): run at once, with the menu's reports.
	asked bool
	// afterEdit is the .env change this deploy follows (the Environment
	// menu's redeploy): if the deploy fails, undoing it comes first.
	afterEdit *env.ChangeResult
}

func newDeployCmd(f *Factory) *cobra.Command {
	opts := &deployOptions{}
	cmd := &cobra.Command{
		Use:   "deploy [SERVICE...]",
		Short: "Build, start and wait until every service is healthy — or fail fast with the reason",
		Long: `Build the images (unless --no-build) and start the services through Compose
(v2 or v1), then watch the containers through the engine until every one is
ready: running and healthy (with a healthcheck), running and stable for the
settle time (without one), answering its x-stackpilot probe with 2xx, or — a
one-shot job with restart "no" or "on-failure" — exited 0.

The first container that exits non-zero, restarts or turns unhealthy fails the
deploy at once: its exit code, last 30 log lines and last health-check output
are printed and the exit status is 1. On --timeout the same report covers every
service not ready yet.

A deploy holds the stack lock (.stackpilot/stack.lock): a second one fails at
once naming the holder, or waits with --lock-wait. Every deploy is recorded in
.stackpilot/history.jsonl (see stackpilot history), and the images the services
ran before are kept so stackpilot rollback can bring them back. The
x-stackpilot deploy: pre-deploy and post-deploy hooks run around it; a failing
pre-deploy hook stops the deploy before anything changes.

Ctrl-C lets the container replacement in flight finish, then stops Compose;
a second Ctrl-C stops it at once. Either way stackpilot then puts right any
container Compose left half-replaced (no temporary <id>_name container stays
behind), says which services are not running, releases the lock and exits 130
(143 for SIGTERM). One plain deploy finishes it.

Exit status: 0 deployed and ready, 1 failed (build, start, health, hook, lock),
2 usage error, 130 cancelled, 143 terminated.`,
		Example: `  stackpilot deploy                      # build, start and wait for every service
  stackpilot deploy api web              # just these (and what they depend on)
  stackpilot deploy --dry-run            # what would be built, created, recreated
  stackpilot deploy --no-build --timeout 5m
  stackpilot deploy --json | jq .services
  stackpilot deploy --lock-wait 10m      # queue behind a running deploy`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Services = args
			if opts.Timeout < 0 || opts.LockWait < 0 {
				return usageErr("--timeout and --lock-wait must not be negative")
			}
			// Compose's version check (a tenth of a second) runs while
			// the stack loads rather than after.
			f.detectCompose = true
			return runDeploy(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.NoBuild, "no-build", false, "do not build images; start what is there")
	fl.BoolVar(&opts.Pull, "pull", false, "pull newer images (and base images of those built) first")
	fl.BoolVar(&opts.ForceRecreate, "force-recreate", false, "recreate containers even if nothing changed")
	fl.DurationVar(&opts.Timeout, "timeout", 0, "how long to wait for health after starting (default: x-stackpilot deploy.timeout, else 3m)")
	fl.BoolVar(&opts.NoWait, "no-wait", false, "return once Compose has started the containers, without the health gate")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the plan (what would be built, created, recreated, left) and change nothing")
	fl.DurationVar(&opts.LockWait, "lock-wait", 0, "wait this long for another deploy's lock instead of failing at once")
	fl.BoolVar(&opts.JSON, "json", false, "print the result (or the plan with --dry-run) as JSON on stdout")
	return cmd
}

func (o *deployOptions) stackops(f *Factory, sink stackops.EventSink) stackops.DeployOptions {
	return stackops.DeployOptions{
		Services:      o.Services,
		NoBuild:       o.NoBuild,
		Pull:          o.Pull,
		ForceRecreate: o.ForceRecreate,
		Timeout:       o.Timeout,
		NoWait:        o.NoWait,
		LockWait:      o.LockWait,
		Sink:          sink,
		Output:        f.verboseOutput(),
	}
}

// args renders the options as the flag-mode command line (after "stackpilot").
func (o *deployOptions) args() []string {
	a := []string{"deploy"}
	a = append(a, o.Services...)
	if o.NoBuild {
		a = append(a, "--no-build")
	}
	if o.Pull {
		a = append(a, "--pull")
	}
	if o.ForceRecreate {
		a = append(a, "--force-recreate")
	}
	if o.Timeout > 0 {
		a = append(a, "--timeout", o.Timeout.String())
	}
	if o.NoWait {
		a = append(a, "--no-wait")
	}
	return append(a, "--yes")
}

// verboseOutput is where Compose's and the hooks' own output goes: stderr
// with -v, nowhere otherwise (the last lines are kept for failure reports).
func (f *Factory) verboseOutput() io.Writer {
	if f.Global.Verbose {
		return f.IO.ErrOut
	}
	return nil
}

// progressFor is the renderer for an operation: live lines on a terminal,
// plain lines otherwise — and plain with -v, whose Compose output would break
// the live lines.
func (f *Factory) progressFor(jsonOutput bool) *steps.Progress {
	if f.Global.Verbose {
		return steps.NewProgress(f.IO, steps.ProgressPlain)
	}
	return f.Progress(jsonOutput)
}

// runDeploy is the Deploy job, for the menu and the command alike.
func runDeploy(ctx context.Context, f *Factory, opts *deployOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		if opts.wizard && f.CanPrompt() {
			return deployCannotStart(ctx, f, opts, err)
		}
		return err
	}
	if on, err := onSwarm(st); err != nil || on {
		return orSwarm(err, func() error { return runSwarmDeploy(ctx, f, st, opts) })
	}
	if opts.wizard && !opts.asked {
		proceed, err := deployWizard(ctx, f, st, opts)
		if err != nil || !proceed {
			return err
		}
	}
	if opts.DryRun {
		stop := func() {}
		if !opts.JSON {
			stop = steps.Spin(f.IO, "Working out the plan…")
		}
		plan, err := st.PlanDeploy(ctx, opts.stackops(f, nil))
		stop()
		if err != nil {
			return err
		}
		if opts.JSON {
			return writeJSON(f.IO.Out, plan)
		}
		printDeployPlan(f.IO.Out, f.IO.ColorScheme(), plan)
		fmt.Fprintf(f.IO.ErrOut, "%s dry run: nothing was changed\n", f.IO.ErrColorScheme().Gray("—"))
		return nil
	}
	progress := f.progressFor(opts.JSON)
	res, err := st.Deploy(ctx, opts.stackops(f, progress))
	if res != nil && res.Result == stackops.ResultCancelled {
		// Finishing needs no second recreate of what was recreated already.
		finish := *opts
		finish.ForceRecreate = false
		// After an .env edit in the menu, its undo is the way back.
		var undo *envUndo
		if opts.wizard && opts.afterEdit != nil {
			undo = offerEnvUndo(ctx, f, opts.Services, opts.afterEdit, nil)
		}
		return rolloutCancelled(ctx, f, res, err, opts.JSON, opts.wizard, finish.args(), func(ctx context.Context) error {
			o := finish
			o.asked = true
			f.Equivalent(o.args()...)
			return runDeploy(ctx, f, &o)
		}, undo, func(ctx context.Context) error {
			return undoEnvAndRedeploy(ctx, f, undo, opts.Services)
		})
	}
	retry := opts
	if !opts.wizard {
		retry = nil
	}
	return finishRollout(ctx, f, st, res, err, opts.JSON, opts.wizard, retry)
}

// deployCannotStart is the menu's way out when the project does not even
// load: when an .env change is behind it, undo that change and deploy
// again, or go back to the menu.
func deployCannotStart(ctx context.Context, f *Factory, opts *deployOptions, err error) error {
	u := offerEnvUndo(ctx, f, opts.Services, opts.afterEdit, envCauseOf(err))
	if u == nil {
		return err
	}
	cs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.FailureIcon(), Message(err))
	idx, perr := f.Prompter.Select("The deploy cannot start. What now?", []string{u.label, "Back to the menu"}, u.label)
	if perr != nil {
		return perr
	}
	if idx == 0 {
		return undoEnvAndRedeploy(ctx, f, u, opts.Services)
	}
	return silentExit(ExitFailure)
}

// finishRollout prints a deploy's or rollback's outcome and picks the exit
// status. In the wizard a failure offers the logs and a rollback — and,
// for a deploy (retry: its options), undoing the .env change behind it.
func finishRollout(ctx context.Context, f *Factory, st *stackops.Stack, res *stackops.DeployResult, err error, jsonOut, wizard bool, retry *deployOptions) error {
	if res == nil {
		return err
	}
	if jsonOut {
		if jerr := writeJSON(f.IO.Out, res); jerr != nil {
			return jerr
		}
	}
	if err == nil {
		if !jsonOut {
			printRolloutSuccess(f, res)
		}
		printWarnings(f, res.Warnings)
		return nil
	}
	if res.Result == stackops.ResultCancelled {
		return rolloutCancelled(ctx, f, res, err, false, false, []string{res.Operation, "--yes"}, nil, nil, nil)
	}
	// The report goes to stderr with --json too: the JSON holds the same facts for scripts.
	printRolloutFailure(f, res, err)
	printWarnings(f, res.Warnings)
	if wizard && f.CanPrompt() && ctx.Err() == nil {
		return rolloutFailureMenu(ctx, f, st, res, retry)
	}
	return silentExit(ExitFailure)
}

func printWarnings(f *Factory, warnings []string) {
	cs := f.IO.ErrColorScheme()
	for _, w := range warnings {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.WarningIcon(), w)
	}
}

// printRolloutSuccess is the one-line result on stdout.
func printRolloutSuccess(f *Factory, res *stackops.DeployResult) {
	cs := f.IO.ColorScheme()
	verb := map[string]string{"deploy": "Deployed", "rollback": "Rolled back"}[res.Operation]
	var parts []string
	for _, s := range res.Services {
		p := s.Service + " " + s.Action
		if s.ImageBefore != "" && s.ImageAfter != "" && s.ImageBefore != s.ImageAfter {
			p += fmt.Sprintf(" (image %s → %s)", shortID(s.ImageBefore), shortID(s.ImageAfter))
		}
		parts = append(parts, p)
	}
	wait := "all ready"
	if !res.Waited {
		wait = "not waited for (--no-wait)"
	}
	fmt.Fprintf(f.IO.Out, "%s %s %s in %s — %s: %s\n", cs.SuccessIcon(), verb, res.Project,
		(time.Duration(res.DurationMS) * time.Millisecond).Round(100*time.Millisecond), wait, strings.Join(parts, ", "))
}

func shortID(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// printRolloutFailure is the failure report on stderr: why, then for each
// failed or not-ready service its exit code, health-check output and last
// log lines.
func printRolloutFailure(f *Factory, res *stackops.DeployResult, err error) {
	cs := f.IO.ErrColorScheme()
	w := f.IO.ErrOut
	fmt.Fprintf(w, "\n%s %s of %s failed after %s\n", cs.FailureIcon(), res.Operation, res.Project,
		(time.Duration(res.DurationMS) * time.Millisecond).Round(100*time.Millisecond))
	var gerr *stackops.GateError
	var cerr *stackops.ComposeFailedError
	switch {
	case errors.As(err, &gerr):
		if gerr.Result.TimedOut {
			fmt.Fprintf(w, "  not ready after %s\n", gerr.Timeout)
		}
	case errors.As(err, &cerr):
		fmt.Fprintf(w, "  %s\n", err)
		if n := len(cerr.Output); n > 0 {
			lines := cerr.Output
			if n > 15 {
				lines = lines[n-15:]
			}
			fmt.Fprintf(w, "  %s\n", cs.Gray("compose said:"))
			for _, l := range lines {
				fmt.Fprintf(w, "    %s %s\n", cs.Gray("│"), l)
			}
		}
	default:
		fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	failed := res.Failed()
	var hs []stackops.ServiceHealth
	for _, s := range failed {
		hs = append(hs, s.ServiceHealth)
	}
	printHealthReport(w, cs, hs)
	var changed []string
	for _, s := range res.Services {
		if s.ImageBefore != "" && s.ImageAfter != "" && s.ImageBefore != s.ImageAfter {
			changed = append(changed, s.Service)
		}
	}
	if len(changed) > 0 && res.Operation == "deploy" {
		fmt.Fprintf(w, "%s to go back to the images before this deploy: %s\n", cs.Gray("hint:"), f.hint(append([]string{"rollback"}, quoteArgs(changed...)...)...))
	}
}

// printHealthReport prints each service's failure: reason, exit code,
// health-check output and last log lines.
func printHealthReport(w io.Writer, cs *steps.ColorScheme, services []stackops.ServiceHealth) {
	for _, s := range services {
		icon := cs.FailureIcon()
		if !s.Failed {
			icon = cs.WarningIcon()
		}
		fmt.Fprintf(w, "\n%s %s: %s\n", icon, cs.Bold(s.Service), s.Reason)
		var facts []string
		if s.Container != "" {
			facts = append(facts, "container "+s.Container)
		}
		if s.State != "" {
			facts = append(facts, "state "+s.State)
		}
		if s.State == stackops.StateExited || s.State == "dead" || s.State == "restarting" {
			facts = append(facts, fmt.Sprintf("exit code %d", s.ExitCode))
		}
		if s.RestartCount > 0 {
			facts = append(facts, fmt.Sprintf("%d restarts", s.RestartCount))
		}
		if len(facts) > 0 {
			fmt.Fprintf(w, "    %s\n", cs.Gray(strings.Join(facts, " · ")))
		}
		if s.HealthOutput != "" {
			fmt.Fprintf(w, "    last health check: %s\n", strings.ReplaceAll(strings.TrimSpace(s.HealthOutput), "\n", "\n      "))
		}
		if s.Probe != nil && !s.Probe.OK {
			fmt.Fprintf(w, "    probe %s: %s\n", s.Probe.URL, s.Probe.Error)
		}
		if len(s.Logs) > 0 {
			fmt.Fprintf(w, "    last %d log lines:\n", len(s.Logs))
			for _, l := range s.Logs {
				fmt.Fprintf(w, "      %s %s\n", cs.Gray("│"), l)
			}
		} else if s.ContainerID != "" {
			fmt.Fprintf(w, "    %s\n", cs.Gray("(no log output)"))
		}
	}
}

// rolloutFailureMenu offers, after a failed deploy in the wizard: undoing
// the .env change behind it and deploying again (first, when there is one:
// retry is the deploy's options), the failed services' logs, a rollback of
// what this deploy changed, or the menu.
func rolloutFailureMenu(ctx context.Context, f *Factory, st *stackops.Stack, res *stackops.DeployResult, retry *deployOptions) error {
	cs := f.IO.ErrColorScheme()
	var changed []string
	for _, s := range res.Services {
		if s.ImageBefore != "" && s.ImageAfter != "" && s.ImageBefore != s.ImageAfter {
			changed = append(changed, s.Service)
		}
	}
	var withLogs []stackops.ServiceDeploy
	for _, s := range res.Failed() {
		if s.ContainerID != "" {
			withLogs = append(withLogs, s)
		}
	}
	const (
		optUndo = "undo"
		optLogs = "logs"
		optBack = "rollback"
		optMenu = "menu"
	)
	var labels, keys []string
	var undo *envUndo
	if retry != nil && res.Operation == "deploy" {
		undo = offerEnvUndo(ctx, f, serviceNames(res.Services), retry.afterEdit, nil)
	}
	if undo != nil {
		labels = append(labels, undo.label)
		keys = append(keys, optUndo)
	}
	if len(withLogs) > 0 {
		var names []string
		for _, s := range withLogs {
			names = append(names, s.Service)
		}
		labels = append(labels, fmt.Sprintf("Show the last 100 log lines of %s", strings.Join(names, ", ")))
		keys = append(keys, optLogs)
	}
	if len(changed) > 0 && res.Operation == "deploy" {
		labels = append(labels, fmt.Sprintf("Roll back %s to the images before this deploy", strings.Join(changed, ", ")))
		keys = append(keys, optBack)
	} else if res.Operation == "deploy" {
		fmt.Fprintf(f.IO.ErrOut, "%s no image changed in this deploy, so there is nothing to roll back: the cause is in the configuration or the environment\n", cs.Gray("—"))
	}
	labels = append(labels, "Back to the menu")
	keys = append(keys, optMenu)
	for {
		idx, err := f.Prompter.Select(fmt.Sprintf("The %s failed. What now?", res.Operation), labels, "")
		if err != nil {
			return err
		}
		switch keys[idx] {
		case optUndo:
			return undoEnvAndRedeploy(ctx, f, undo, retry.Services)
		case optLogs:
			for _, s := range withLogs {
				lines, err := st.TailLogs(ctx, s.ContainerID, 100)
				if err != nil {
					fmt.Fprintf(f.IO.ErrOut, "%s logs of %s: %v\n", cs.FailureIcon(), s.Service, err)
					continue
				}
				fmt.Fprintf(f.IO.ErrOut, "\n%s %s\n", cs.Bold("── logs of "+s.Service), cs.Gray(fmt.Sprintf("(%s, last %d lines)", s.Container, len(lines))))
				for _, l := range lines {
					fmt.Fprintf(f.IO.ErrOut, "  %s %s\n", cs.Gray("│"), l)
				}
			}
			fmt.Fprintln(f.IO.ErrOut)
			f.Equivalent(append([]string{"logs", "--tail", "100"}, serviceNames(withLogs)...)...)
		case optBack:
			return runRollback(ctx, f, &rollbackOptions{Services: changed, confirmed: true})
		default:
			return silentExit(ExitFailure)
		}
	}
}

func serviceNames(list []stackops.ServiceDeploy) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		out = append(out, s.Service)
	}
	return out
}

// deployWizard fills the options by asking, shows the plan and the
// equivalent command, and asks to go ahead.
func deployWizard(ctx context.Context, f *Factory, st *stackops.Stack, opts *deployOptions) (bool, error) {
	cs := f.IO.ErrColorScheme()
	if len(opts.Services) == 0 {
		stop := steps.Spin(f.IO, "Reading the services' state…")
		choices, _ := serviceChoices(ctx, st) // without state, the names still let the person choose
		stop()
		sel, err := steps.SelectServices(f.Prompter, "deploy", choices)
		if err != nil {
			return false, err
		}
		opts.Services = sel
	}
	selected, err := st.ResolveServices(opts.Services)
	if err != nil {
		return false, err
	}
	builds := false
	for _, n := range selected {
		if svc, _ := st.Service(n); svc.Build != nil {
			builds = true
		}
	}
	if builds && !opts.NoBuild && !opts.planOnly {
		yes, err := f.Prompter.Confirm("Rebuild the images from the Dockerfiles first? (unchanged files build from cache in seconds)", true)
		if err != nil {
			return false, err
		}
		opts.NoBuild = !yes
	}
	if !opts.Pull && !opts.planOnly {
		yes, err := f.Prompter.Confirm("Pull newer images from the registry first?", false)
		if err != nil {
			return false, err
		}
		opts.Pull = yes
	}
	stop := steps.Spin(f.IO, "Working out the plan…")
	plan, err := st.PlanDeploy(ctx, opts.stackops(f, nil))
	stop()
	if err != nil {
		return false, err
	}
	fmt.Fprintln(f.IO.ErrOut)
	printDeployPlan(f.IO.ErrOut, cs, plan)
	f.Equivalent(opts.args()...)
	ok, err := f.Prompter.Confirm("Deploy now?", true)
	if err != nil {
		return false, err
	}
	if !ok {
		fmt.Fprintf(f.IO.ErrOut, "%s nothing was changed\n", cs.Gray("—"))
		return false, nil
	}
	return true, nil
}

// printDeployPlan shows what a deploy would do.
func printDeployPlan(w io.Writer, cs *steps.ColorScheme, plan *stackops.DeployPlan) {
	fmt.Fprintf(w, "%s %s %s\n", cs.Bold("Deploy plan for"), cs.Cyan(plan.Project), cs.Gray("(compose "+plan.Compose+")"))
	t := steps.NewTable(cs, "SERVICE", "NOW", "BUILD", "THEN")
	for _, s := range plan.Services {
		name := s.Service
		if s.Dependency {
			name += cs.Gray(" (dependency)")
		}
		build := cs.Gray("-")
		switch {
		case s.Build:
			build = "build"
		case s.Pull:
			build = "pull"
		}
		then := s.Action
		switch s.Action {
		case stackops.PlanCreate:
			then = cs.Green("create")
		case stackops.PlanRecreate:
			then = cs.Yellow("recreate")
		case stackops.PlanStart:
			then = cs.Cyan("start")
		case stackops.PlanLeave:
			then = "leave"
			if s.Build || s.Pull {
				then = "leave, or recreate if the image changes"
			}
		}
		if s.Reason != "" && !(s.Action == stackops.PlanLeave && (s.Build || s.Pull)) {
			then += cs.Gray(" — " + s.Reason)
		}
		state := s.State
		if state == "" {
			state = stackops.StateNotCreated
		}
		t.AddRow(name, state, build, then)
	}
	_ = t.Render(w)
	for _, h := range plan.PreDeploy {
		fmt.Fprintf(w, "  %s %s\n", cs.Gray("pre-deploy hook:"), stackops.Cmd{Args: h}.String())
	}
	for _, c := range plan.Commands {
		fmt.Fprintf(w, "  %s %s\n", cs.Gray("runs:"), stackops.Cmd{Args: c}.String())
	}
	for _, h := range plan.PostDeploy {
		fmt.Fprintf(w, "  %s %s\n", cs.Gray("post-deploy hook:"), stackops.Cmd{Args: h}.String())
	}
	if plan.Wait {
		fmt.Fprintf(w, "  %s up to %s for every service to be ready (settle %s without a healthcheck)\n", cs.Gray("then waits"),
			plan.Timeout(), time.Duration(plan.SettleMS)*time.Millisecond)
	} else {
		fmt.Fprintf(w, "  %s\n", cs.Gray("does not wait for health (--no-wait)"))
	}
}
