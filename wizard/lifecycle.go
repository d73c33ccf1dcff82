package wizard

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
	"github.com/stackpilot/stackpilot/steps"
)

type lifecycleOptions struct {
	Op       string // start, stop, restart
	Services []string
	Timeout  time.Duration
	NoWait   bool
	LockWait time.Duration
	JSON     bool
	wizard   bool
}

func newLifecycleCmd(f *Factory, op string) *cobra.Command {
	opts := &lifecycleOptions{Op: op}
	short := map[string]string{
		"start":   "Start the services' existing containers and wait until they are healthy",
		"stop":    "Stop the services' containers (they are kept; start brings them back)",
		"restart": "Restart the services' containers and wait until they are healthy",
	}[op]
	long := short + `.

With no SERVICE, every service. Start and restart wait through the same health
gate as deploy (unless --no-wait) and fail fast, with the failing service's
logs, when a container exits, restarts or turns unhealthy. Each holds the
stack lock while it works. To create containers that do not exist yet, deploy.

Exit status: 0 done (and ready), 1 failed, 2 usage error, 130 cancelled.`
	cmd := &cobra.Command{
		Use:               op + " [SERVICE...]",
		Short:             short,
		Long:              long,
		Example:           fmt.Sprintf("  stackpilot %s\n  stackpilot %s api web", op, op),
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Services = args
			return runLifecycle(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	if op != "stop" {
		fl.DurationVar(&opts.Timeout, "timeout", 0, "how long to wait for health (default: x-stackpilot deploy.timeout, else 3m)")
		fl.BoolVar(&opts.NoWait, "no-wait", false, "do not wait for health")
	}
	fl.DurationVar(&opts.LockWait, "lock-wait", 0, "wait this long for another operation's lock instead of failing at once")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as JSON on stdout")
	return cmd
}

func (o *lifecycleOptions) args() []string {
	a := append([]string{o.Op}, o.Services...)
	if o.NoWait {
		a = append(a, "--no-wait")
	}
	return a
}

// runLifecycle is the Start, Stop and Restart job, for the menu and the commands.
func runLifecycle(ctx context.Context, f *Factory, opts *lifecycleOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	if on, err := onSwarm(st); err != nil || on {
		return orSwarm(err, func() error {
			return swarmRefusal(st, opts.Op, "Swarm keeps each service at its replicas; `docker service scale STACK_SERVICE=0` stops one, `docker service update --force STACK_SERVICE` restarts its tasks")
		})
	}
	cs := f.IO.ErrColorScheme()
	if opts.wizard {
		stop := steps.Spin(f.IO, "Reading the services' state…")
		choices, _ := serviceChoices(ctx, st) // without state, the names still let the person choose
		stop()
		sel, err := steps.SelectServices(f.Prompter, opts.Op, choices)
		if err != nil {
			return err
		}
		opts.Services = sel
		if opts.Op != "start" {
			what := "every service of " + st.Name
			if len(sel) > 0 {
				what = strings.Join(sel, ", ")
			}
			ok, err := f.Prompter.Confirm(fmt.Sprintf("%s %s? (their users will notice)", strings.ToUpper(opts.Op[:1])+opts.Op[1:], what), true)
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintf(f.IO.ErrOut, "%s nothing was changed\n", cs.Gray("—"))
				return nil
			}
		}
	}
	progress := f.progressFor(opts.JSON)
	lo := stackops.LifecycleOptions{Services: opts.Services, Timeout: opts.Timeout, NoWait: opts.NoWait, LockWait: opts.LockWait, Sink: progress, Output: f.verboseOutput()}
	var res *stackops.LifecycleResult
	switch opts.Op {
	case "start":
		res, err = st.Start(ctx, lo)
	case "stop":
		res, err = st.Stop(ctx, lo)
	case "restart":
		res, err = st.Restart(ctx, lo)
	default:
		return fmt.Errorf("unknown operation %q", opts.Op)
	}
	if opts.wizard && err == nil {
		defer f.Equivalent(opts.args()...)
	}
	return finishLifecycle(f, res, err, opts.JSON)
}

// finishLifecycle prints a lifecycle operation's outcome.
func finishLifecycle(f *Factory, res *stackops.LifecycleResult, err error, jsonOut bool) error {
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
			verb := map[string]string{"start": "Started", "stop": "Stopped", "restart": "Restarted", "down": "Removed"}[res.Operation]
			var names []string
			for _, s := range res.Services {
				names = append(names, s.Service)
			}
			extra := ""
			if res.Waited {
				extra = ", all ready"
			}
			if len(res.Volumes) > 0 {
				extra += "; deleted volumes " + strings.Join(res.Volumes, ", ")
			}
			fmt.Fprintf(f.IO.Out, "%s %s %s in %s%s\n", f.IO.ColorScheme().SuccessIcon(), verb, strings.Join(names, ", "),
				(time.Duration(res.DurationMS) * time.Millisecond).Round(100*time.Millisecond), extra)
		}
		return nil
	}
	if errors.Is(err, stackops.ErrInterrupted) || errors.Is(err, context.Canceled) {
		return err
	}
	if jsonOut {
		return silentExit(ExitFailure)
	}
	cs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "\n%s %s of %s failed: %s\n", cs.FailureIcon(), res.Operation, res.Project, strings.ReplaceAll(err.Error(), "\n", "\n  "))
	var gerr *stackops.GateError
	if errors.As(err, &gerr) {
		printHealthReport(f.IO.ErrOut, cs, gerr.Result.NotReady())
	}
	if len(res.ComposeOutput) > 0 {
		lines := res.ComposeOutput
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(f.IO.ErrOut, "  %s\n", cs.Gray("compose said:"))
		for _, l := range lines {
			fmt.Fprintf(f.IO.ErrOut, "    %s %s\n", cs.Gray("│"), l)
		}
	}
	return silentExit(ExitFailure)
}

// backupBeforeDown shows, before the volumes go, how old the newest backup
// is and which of them it lacks, and offers to take one first. It reports
// whether to go on with the down.
func backupBeforeDown(ctx context.Context, f *Factory, st *stackops.Stack, vols []string) (bool, error) {
	cs := f.IO.ErrColorScheme()
	list, err := backup.List(ctx, st)
	if err != nil {
		fmt.Fprintf(f.IO.ErrOut, "%s could not look for backups: %v\n", cs.WarningIcon(), err)
	}
	const (
		first   = "Take a backup first, then remove everything"
		without = "Remove everything without a new backup"
		cancel  = "Cancel"
	)
	labels := []string{first, without, cancel}
	if list == nil || len(list.Backups) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "%s there is no backup of %s: once the volumes are deleted, their data is gone for good\n", cs.WarningIcon(), st.Name)
	} else {
		b := list.Backups[0]
		held := map[string]bool{} // engine names, as vols has them
		for _, key := range b.Volumes {
			name := st.Project.Volumes[key].Name
			if name == "" {
				name = st.Name + "_" + key
			}
			held[name] = true
		}
		var lacks []string
		for _, v := range vols {
			if !held[v] {
				lacks = append(lacks, v)
			}
		}
		msg := fmt.Sprintf("the newest backup of %s is %s, taken %s (%s)", st.Name, b.ID, b.Created.Local().Format(time.DateTime), steps.Ago(time.Since(b.Created)))
		if len(lacks) > 0 {
			msg += " — it does not hold " + strings.Join(lacks, ", ")
		}
		fmt.Fprintf(f.IO.ErrOut, "%s %s; anything written since is lost with the volumes\n", cs.WarningIcon(), msg)
	}
	idx, err := f.Prompter.Select("Back up before deleting the volumes?", labels, first)
	if err != nil {
		return false, err
	}
	switch labels[idx] {
	case cancel:
		fmt.Fprintf(f.IO.ErrOut, "%s nothing was changed\n", cs.Gray("—"))
		return false, nil
	case first:
		if err := runBackupCreate(ctx, f, &backupCreateOptions{}); err != nil {
			return false, fmt.Errorf("the backup failed, so nothing was removed: %w", err)
		}
	}
	return true, nil
}

type downOptions struct {
	Volumes  bool
	LockWait time.Duration
	JSON     bool
	wizard   bool
}

func newDownCmd(f *Factory) *cobra.Command {
	opts := &downOptions{}
	cmd := &cobra.Command{
		Use:   "down [--volumes]",
		Short: "Stop and remove the stack's containers and networks (and, with --volumes, its data)",
		Long: `Stop and remove every container and network of the stack (compose down).
Named volumes are kept unless --volumes is given: then they are deleted with
all their data. --volumes asks on a terminal (type the project name back) and,
without one, needs --yes or exits 2 with nothing changed.

Exit status: 0 done, 1 failed, 2 usage error or --volumes without --yes and
no terminal, 130 cancelled.`,
		Example: `  stackpilot down
  stackpilot down --volumes          # asks you to type the project name
  stackpilot down --volumes --yes    # in a script: deletes the data`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDown(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Volumes, "volumes", false, "also delete the named volumes and their data")
	cmd.Flags().DurationVar(&opts.LockWait, "lock-wait", 0, "wait this long for another operation's lock instead of failing at once")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the result as JSON on stdout")
	return cmd
}

// runDown is the Down job, for the menu and the command.
func runDown(ctx context.Context, f *Factory, opts *downOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	if on, err := onSwarm(st); err != nil || on {
		return orSwarm(err, func() error {
			return swarmRefusal(st, "down", "`docker stack rm STACK` removes the stack's services and networks (its volumes stay on the nodes)")
		})
	}
	cs := f.IO.ErrColorScheme()
	if opts.wizard {
		vols := st.ProjectVolumes()
		keep := "Remove the containers and networks, keep the volumes (data stays)"
		labels := []string{keep}
		if len(vols) > 0 {
			labels = append(labels, fmt.Sprintf("Remove everything, including the volumes %s — deletes the data", strings.Join(vols, ", ")))
		}
		labels = append(labels, "Cancel")
		idx, err := f.Prompter.Select("Take down "+st.Name+"?", labels, keep)
		if err != nil {
			return err
		}
		switch {
		case labels[idx] == "Cancel":
			fmt.Fprintf(f.IO.ErrOut, "%s nothing was changed\n", cs.Gray("—"))
			return nil
		case idx == 0:
			ok, err := f.Prompter.Confirm(fmt.Sprintf("Stop and remove every container of %s?", st.Name), false)
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintf(f.IO.ErrOut, "%s nothing was changed\n", cs.Gray("—"))
				return nil
			}
		default:
			opts.Volumes = true
			if proceed, err := backupBeforeDown(ctx, f, st, vols); err != nil || !proceed {
				return err
			}
		}
	}
	progress := f.progressFor(opts.JSON)
	res, err := st.Down(ctx, stackops.DownOptions{
		Volumes:  opts.Volumes,
		Confirm:  f.Confirm(nil), // asked before any progress is drawn
		LockWait: opts.LockWait,
		Sink:     progress,
		Output:   f.verboseOutput(),
	})
	if errors.Is(err, stackops.ErrNotConfirmed) {
		fmt.Fprintf(f.IO.ErrOut, "%s nothing was changed\n", cs.Gray("—"))
		if opts.wizard {
			return nil
		}
		return silentExit(ExitFailure)
	}
	if errors.Is(err, stackops.ErrConfirmationRequired) {
		return fmt.Errorf("down --volumes deletes the volumes %s and their data: %w — nothing was changed",
			strings.Join(st.ProjectVolumes(), ", "), err)
	}
	if opts.wizard && err == nil {
		a := []string{"down"}
		if opts.Volumes {
			a = append(a, "--volumes", "--yes")
		}
		defer f.Equivalent(a...)
	}
	return finishLifecycle(f, res, err, opts.JSON)
}
