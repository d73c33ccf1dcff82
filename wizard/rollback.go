package wizard

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

type rollbackOptions struct {
	Services []string
	Timeout  time.Duration
	NoWait   bool
	LockWait time.Duration
	DryRun   bool
	JSON     bool
	// wizard is set by the menu: show the plan, choose, confirm.
	wizard bool
	// confirmed is set when the person already chose to roll back (after a failed deploy).
	confirmed bool
}

func newRollbackCmd(f *Factory) *cobra.Command {
	opts := &rollbackOptions{}
	cmd := &cobra.Command{
		Use:   "rollback [SERVICE...]",
		Short: "Recreate services on the images they ran before the last deploy",
		Long: `Go back to the images the services ran before the most recent deploy that
changed them (as recorded in .stackpilot/history.jsonl), without building, and
wait for them through the same health gate as deploy.

Each deploy keeps the images it replaces under stackpilot-rollback/PROJECT/
SERVICE tags (x-stackpilot deploy.keep-images of them per service, default 3),
so neither Compose nor docker image prune loses them. Rollback points the
service's image name back at the earlier image and recreates its containers
(--no-build --no-deps --force-recreate). Each rollback goes one deploy further
back; deploy again to return to the newest build.

With no SERVICE, every service with an earlier image is rolled back.

Exit status: 0 rolled back and ready, 1 failed or nothing to roll back,
2 usage error, 130 cancelled.`,
		Example: `  stackpilot rollback              # every service a deploy changed
  stackpilot rollback api          # just api
  stackpilot rollback --dry-run    # which images it would go back to`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Services = args
			return runRollback(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.DurationVar(&opts.Timeout, "timeout", 0, "how long to wait for health (default: x-stackpilot deploy.timeout, else 3m)")
	fl.BoolVar(&opts.NoWait, "no-wait", false, "return once Compose has recreated the containers, without the health gate")
	fl.DurationVar(&opts.LockWait, "lock-wait", 0, "wait this long for another operation's lock instead of failing at once")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print which image each service would go back to, and change nothing")
	fl.BoolVar(&opts.JSON, "json", false, "print the result (or the plan with --dry-run) as JSON on stdout")
	return cmd
}

func (o *rollbackOptions) args() []string {
	a := append([]string{"rollback"}, o.Services...)
	if o.Timeout > 0 {
		a = append(a, "--timeout", o.Timeout.String())
	}
	if o.NoWait {
		a = append(a, "--no-wait")
	}
	return append(a, "--yes")
}

// runRollback is the Rollback job, for the menu, the deploy failure menu and the command.
func runRollback(ctx context.Context, f *Factory, opts *rollbackOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	if on, err := onSwarm(st); err != nil || on {
		return orSwarm(err, func() error { return runSwarmRollback(ctx, f, st, opts) })
	}
	cs := f.IO.ErrColorScheme()
	if opts.DryRun || (opts.wizard && !opts.confirmed) {
		stop := func() {}
		if !opts.JSON {
			stop = steps.Spin(f.IO, "Reading the history…")
		}
		plan, err := st.RollbackPlan(ctx, opts.Services)
		stop()
		if err != nil {
			return err
		}
		if opts.DryRun {
			if opts.JSON {
				return writeJSON(f.IO.Out, plan)
			}
			printRollbackPlan(f.IO.Out, f.IO.ColorScheme(), plan)
			fmt.Fprintf(f.IO.ErrOut, "%s dry run: nothing was changed\n", cs.Gray("—"))
			return nil
		}
		printRollbackPlan(f.IO.ErrOut, cs, plan)
		if len(plan) > 1 && len(opts.Services) == 0 {
			choices := make([]steps.ServiceChoice, 0, len(plan))
			for _, t := range plan {
				choices = append(choices, steps.ServiceChoice{Name: t.Service, State: shortID(t.CurrentImage) + " → " + shortID(t.TargetImage)})
			}
			sel, err := steps.SelectServices(f.Prompter, "roll back", choices)
			if err != nil {
				return err
			}
			opts.Services = sel
		} else if len(opts.Services) == 0 {
			opts.Services = []string{plan[0].Service}
		}
		f.Equivalent(opts.args()...)
		ok, err := f.Prompter.Confirm("Roll back now?", true)
		if err != nil {
			return err
		}
		if !ok {
			fmt.Fprintf(f.IO.ErrOut, "%s nothing was changed\n", cs.Gray("—"))
			return nil
		}
	}
	progress := f.progressFor(opts.JSON)
	res, err := st.Rollback(ctx, stackops.RollbackOptions{
		Services: opts.Services,
		Timeout:  opts.Timeout,
		NoWait:   opts.NoWait,
		LockWait: opts.LockWait,
		Sink:     progress,
		Output:   f.verboseOutput(),
	})
	if res != nil && res.Result == stackops.ResultCancelled {
		return rolloutCancelled(ctx, f, res, err, opts.JSON, opts.wizard || opts.confirmed, opts.args(), func(ctx context.Context) error {
			o := *opts
			o.confirmed = true
			f.Equivalent(o.args()...)
			return runRollback(ctx, f, &o)
		}, nil, nil)
	}
	if opts.confirmed && err == nil {
		defer f.Equivalent(opts.args()...)
	}
	// A failed rollback offers only the logs: rolling back a rollback is a deploy.
	return finishRollout(ctx, f, st, res, err, opts.JSON, opts.wizard || opts.confirmed, nil)
}

func printRollbackPlan(w io.Writer, cs *steps.ColorScheme, plan []stackops.RollbackTarget) {
	t := steps.NewTable(cs, "SERVICE", "NOW", "BACK TO", "RAN BEFORE DEPLOY")
	for _, p := range plan {
		target := shortID(p.TargetImage)
		if !p.Available {
			target = cs.Red(target + " (gone)")
		}
		t.AddRow(p.Service, shortID(p.CurrentImage), target, fmt.Sprintf("%s (%s)", p.Deploy, p.DeployTime.Local().Format("2006-01-02 15:04")))
	}
	_ = t.Render(w)
	for _, p := range plan {
		if p.Problem != "" {
			fmt.Fprintf(w, "%s %s: %s\n", cs.WarningIcon(), p.Service, p.Problem)
		}
	}
}
