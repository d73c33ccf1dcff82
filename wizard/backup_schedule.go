package wizard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
)

type backupScheduleOptions struct {
	Cron         string
	Policy       backup.RetentionPolicy
	Remove       bool
	Show         bool
	PrintSystemd bool
	JSON         bool
	menu         bool
	// entryShown: the menu showed the crontab entry before asking; the
	// result does not print it again.
	entryShown bool
}

func newBackupScheduleCmd(f *Factory) *cobra.Command {
	opts := &backupScheduleOptions{}
	cmd := &cobra.Command{
		Use:   "schedule --cron EXPR [--keep-* N] | --remove | --show",
		Short: "Run backups (and prune) from cron, or print a systemd timer",
		Long: `Install one crontab entry for this stack, marked as stackpilot's, that runs
"backup create" and then "backup prune" (with the --keep-* flags given here,
or the policy of x-stackpilot.backup.retention) and appends their output to
.stackpilot/backup-schedule.log. Running it again replaces the entry (it is
never added twice); --remove deletes it; --show prints it.

--print-systemd prints a systemd service and timer for the same job instead
of touching the crontab (with --cron, or with --show for the installed one).`,
		Example: `  stackpilot backup schedule --cron "0 3 * * *" --keep-daily 7 --keep-weekly 4
  stackpilot backup schedule --cron @daily --print-systemd
  stackpilot backup schedule --show
  stackpilot backup schedule --remove`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackupSchedule(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Cron, "cron", "", `when to run: five cron fields ("0 3 * * *" is 03:00 daily) or @hourly, @daily, @weekly, @monthly`)
	fl.BoolVar(&opts.Remove, "remove", false, "remove the stack's crontab entry")
	fl.BoolVar(&opts.Show, "show", false, "print the stack's crontab entry")
	fl.BoolVar(&opts.PrintSystemd, "print-systemd", false, "print a systemd service and timer instead of using crontab")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	addKeepFlags(fl, &opts.Policy)
	return cmd
}

// runBackupSchedule is the Schedule job, for the menu and the command alike.
func runBackupSchedule(ctx context.Context, f *Factory, opts *backupScheduleOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err == nil {
		exe, _ = filepath.EvalSymlinks(exe)
	}
	globals := scheduleGlobals(st)
	if opts.menu || (opts.Cron == "" && !opts.Remove && !opts.Show && !opts.PrintSystemd) {
		if !f.CanPrompt() {
			return missingInput("what to schedule", "--cron EXPR, --remove or --show")
		}
		done, err := askSchedule(ctx, f, st, exe, globals, opts)
		if err != nil || done {
			return err
		}
	}
	res, err := backup.Schedule(ctx, st, backup.ScheduleOptions{Cron: opts.Cron, Policy: opts.Policy, Remove: opts.Remove, Show: opts.Show,
		PrintSystemd: opts.PrintSystemd, Executable: exe, GlobalArgs: globals})
	if err != nil {
		return backupExit(err)
	}
	if opts.menu {
		defer f.Equivalent(opts.args()...)
	}
	return printSchedule(f, st, res, opts.JSON, opts.entryShown)
}

func printSchedule(f *Factory, st *stackops.Stack, res *backup.ScheduleResult, jsonOut, entryShown bool) error {
	if jsonOut {
		return printJSON(f, res)
	}
	cs := f.IO.ErrColorScheme()
	for _, w := range res.Warnings {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.WarningIcon(), w)
	}
	switch res.Action {
	case "absent":
		fmt.Fprintf(f.IO.ErrOut, "no backup schedule for %s in the crontab\n", st.Name)
	case "removed":
		fmt.Fprint(f.IO.Out, res.Entry)
		fmt.Fprintf(f.IO.ErrOut, "%s removed the backup schedule of %s from the crontab\n", cs.SuccessIcon(), st.Name)
	case "shown":
		fmt.Fprint(f.IO.Out, res.Entry)
	case "systemd":
		u := res.Systemd
		fmt.Fprintf(f.IO.Out, "# /etc/systemd/system/%s\n%s\n# /etc/systemd/system/%s\n%s", u.ServiceName, u.Service, u.TimerName, u.Timer)
		fmt.Fprintf(f.IO.ErrOut, "install: save the two units above under /etc/systemd/system/, then: sudo systemctl daemon-reload && sudo systemctl enable --now %s\n", u.TimerName)
	default:
		if !entryShown {
			fmt.Fprint(f.IO.Out, res.Entry)
		}
		verb := map[string]string{"installed": "scheduled", "updated": "rescheduled", "unchanged": "already scheduled"}[res.Action]
		prune := "no prune"
		if res.Policy != nil {
			prune = "then prune (" + res.Policy.String() + ")"
		}
		fmt.Fprintf(f.IO.ErrOut, "%s backups of %s %s: %s, %s; output goes to .stackpilot/backup-schedule.log\n", cs.SuccessIcon(), st.Name, verb, res.Cron, prune)
	}
	return nil
}

// askSchedule is the menu's Schedule flow. It reports done=true when it
// finished the job itself (or the person went back). It looks for crontab
// before asking anything (without it only a systemd timer is offered), and
// shows the exact crontab entry before asking to install it.
func askSchedule(ctx context.Context, f *Factory, st *stackops.Stack, exe string, globals []string, opts *backupScheduleOptions) (bool, error) {
	cs := f.IO.ErrColorScheme()
	cur, err := backup.Schedule(ctx, st, backup.ScheduleOptions{Show: true, Executable: exe})
	current := ""
	noCron := errors.Is(err, backup.ErrCrontabUnavailable)
	switch {
	case noCron:
		fmt.Fprintf(f.IO.ErrOut, "%s crontab is not installed on this machine, so no cron schedule can be set (Debian: apt-get install cron) — a systemd timer runs the same job\n", cs.WarningIcon())
	case err != nil:
		fmt.Fprintf(f.IO.ErrOut, "%s %v\n", cs.WarningIcon(), err)
	case cur.Action == "shown":
		current = cur.Cron
		fmt.Fprintf(f.IO.ErrOut, "Current schedule: %s\n", cur.Cron)
	default:
		fmt.Fprintln(f.IO.ErrOut, "No backup schedule yet.")
	}
	options := []string{"Set the schedule (cron)", "Print a systemd timer instead of using cron"}
	if noCron {
		options = options[1:]
	}
	if current != "" {
		options = append(options, "Remove the schedule")
	}
	options = append(options, "Back")
	idx, err := f.Prompter.Select("Schedule — what do you want to do?", options, options[0])
	if err != nil {
		return false, err
	}
	switch options[idx] {
	case "Back":
		return true, nil
	case "Remove the schedule":
		opts.Remove = true
		return false, nil
	case "Print a systemd timer instead of using cron":
		opts.PrintSystemd = true
	}
	def := current
	if def == "" {
		def = "0 3 * * *"
	}
	for {
		expr, err := f.Prompter.Input("When? Cron fields (minute hour day month weekday), e.g. 0 3 * * * for 03:00 daily:", def)
		if err != nil {
			return false, err
		}
		if _, perr := backup.ParseCron(expr); perr != nil {
			fmt.Fprintf(f.IO.ErrOut, "%s %v\n", f.IO.ErrColorScheme().FailureIcon(), perr)
			continue
		}
		opts.Cron = strings.TrimSpace(expr)
		break
	}
	cfg, err := backup.ConfigOf(st)
	if err != nil {
		return false, err
	}
	if cfg.Retention.Empty() && opts.Policy.Empty() {
		prune, err := f.Prompter.Confirm("Delete old backups after each run (prune)?", true)
		if err != nil {
			return false, err
		}
		if prune {
			if opts.Policy, err = askPolicy(f); err != nil {
				return false, err
			}
		}
	}
	if opts.PrintSystemd {
		return false, nil
	}
	plan, err := backup.Schedule(ctx, st, backup.ScheduleOptions{Cron: opts.Cron, Policy: opts.Policy, Executable: exe, GlobalArgs: globals, DryRun: true})
	if err != nil {
		return false, backupExit(err)
	}
	switch plan.Action {
	case "unchanged":
		fmt.Fprintf(f.IO.ErrOut, "%s your crontab already holds exactly this entry; nothing to change:\n", cs.SuccessIcon())
		printCrontabEntry(f, "  ", plan.Entry)
		return true, nil
	case "updated":
		fmt.Fprintln(f.IO.ErrOut, "This entry of your crontab (crontab -l shows it):")
		printCrontabEntry(f, cs.Red("- "), plan.Replaces)
		fmt.Fprintln(f.IO.ErrOut, "is replaced by:")
		printCrontabEntry(f, cs.Green("+ "), plan.Entry)
	default:
		fmt.Fprintln(f.IO.ErrOut, "This entry will be added to your crontab (crontab -l shows it):")
		printCrontabEntry(f, cs.Green("+ "), plan.Entry)
	}
	for _, w := range plan.Warnings {
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.WarningIcon(), w)
	}
	ok, err := f.Prompter.Confirm("Install it?", true)
	if err != nil {
		return false, err
	}
	if !ok {
		fmt.Fprintf(f.IO.ErrOut, "%s nothing was changed\n", cs.Gray("—"))
		return true, nil
	}
	opts.entryShown = true
	return false, nil
}

// printCrontabEntry prints a crontab block, each line after prefix.
func printCrontabEntry(f *Factory, prefix, entry string) {
	for _, l := range strings.Split(strings.TrimRight(entry, "\n"), "\n") {
		fmt.Fprintf(f.IO.ErrOut, "  %s%s\n", prefix, l)
	}
}

// scheduleGlobals pins the same stack for the job, which runs from cron
// without this shell's environment: the compose files, project name, env
// files and profiles as the stack was found (stackops.Stack.GlobalArgs),
// absolute. The job adds -C itself.
func scheduleGlobals(st *stackops.Stack) []string {
	g := st.GlobalArgs("")
	if len(g) >= 2 && g[0] == "-C" {
		g = g[2:]
	}
	if len(g) == 0 {
		return nil
	}
	return g
}

func (o *backupScheduleOptions) args() []string {
	args := []string{"backup", "schedule"}
	switch {
	case o.Remove:
		args = append(args, "--remove")
	case o.Cron != "":
		args = append(args, "--cron", quoteArg(o.Cron))
		args = append(args, o.Policy.Flags()...)
	case o.Show:
		args = append(args, "--show")
	}
	if o.PrintSystemd {
		args = append(args, "--print-systemd")
	}
	return args
}
