package wizard

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
	"github.com/stackpilot/stackpilot/steps"
)

type backupPruneOptions struct {
	Policy backup.RetentionPolicy
	DryRun bool
	JSON   bool
	menu   bool
}

// addKeepFlags adds the --keep-* flags (shared by prune and schedule).
func addKeepFlags(fl *pflag.FlagSet, p *backup.RetentionPolicy) {
	fl.IntVar(&p.KeepLast, "keep-last", 0, "keep the N newest backups")
	fl.IntVar(&p.KeepHourly, "keep-hourly", 0, "keep the newest backup of each of the last N hours that have one")
	fl.IntVar(&p.KeepDaily, "keep-daily", 0, "keep the newest backup of each of the last N days that have one")
	fl.IntVar(&p.KeepWeekly, "keep-weekly", 0, "keep the newest backup of each of the last N ISO weeks that have one")
	fl.IntVar(&p.KeepMonthly, "keep-monthly", 0, "keep the newest backup of each of the last N months that have one")
	fl.IntVar(&p.KeepYearly, "keep-yearly", 0, "keep the newest backup of each of the last N years that have one")
}

func newBackupPruneCmd(f *Factory) *cobra.Command {
	opts := &backupPruneOptions{}
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Delete old backups by a retention policy (restic's --keep-* rules)",
		Long: `Delete the project's backups that the retention policy does not keep. The
rules are restic's: going from the newest backup to the oldest, --keep-daily N
keeps the newest backup of each of the last N days that have one (likewise
hourly, weekly — ISO weeks —, monthly, yearly), --keep-last N the N newest;
while a rule still has counts left at the oldest backup, that one is kept
too. -1 means no limit. Periods are calendar periods in local time.

Without --keep-* flags the policy is x-stackpilot.backup.retention; an empty
policy is refused (exit 2). The newest good backup (its checksum still
matches and no verify found it damaged) is never deleted. Deleting asks
first (--yes without a terminal); --dry-run only shows what would go.`,
		Example: `  stackpilot backup prune --keep-daily 7 --keep-weekly 4 --keep-monthly 6 --dry-run
  stackpilot backup prune --keep-last 3 --yes
  stackpilot backup prune            # the policy of x-stackpilot.backup.retention`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackupPrune(cmd.Context(), f, opts)
		},
	}
	addKeepFlags(cmd.Flags(), &opts.Policy)
	cmd.Flags().BoolVar(&opts.DryRun, "dry-run", false, "show what would be deleted, delete nothing")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the decisions as JSON")
	return cmd
}

// runBackupPrune is the Prune job, for the menu and the command alike.
func runBackupPrune(ctx context.Context, f *Factory, opts *backupPruneOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	if opts.Policy.Empty() {
		cfg, err := backup.ConfigOf(st)
		if err != nil {
			return err
		}
		switch {
		case !cfg.Retention.Empty():
			if !opts.JSON {
				announce(f, "retention policy from %s.backup.retention: %s", stackops.ConfigExtension, cfg.Retention)
			}
		case f.CanPrompt():
			if opts.Policy, err = askPolicy(f); err != nil {
				return err
			}
		default:
			return backupExit(fmt.Errorf("%w: pass --keep-last, --keep-daily, --keep-weekly or --keep-monthly (or set %s.backup.retention) — an empty policy would delete every backup", backup.ErrEmptyPolicy, stackops.ConfigExtension))
		}
	}
	prog := backupProgress(f, opts.JSON)
	res, err := backup.Prune(ctx, st, backup.PruneOptions{Policy: opts.Policy, DryRun: opts.DryRun, Confirm: confirmWith(f, prog), Sink: prog})
	if opts.menu {
		defer f.Equivalent(opts.args()...)
	}
	if err != nil {
		if errors.Is(err, stackops.ErrNotConfirmed) {
			fmt.Fprintln(f.IO.ErrOut, "nothing was deleted")
			return silentExit(ExitFailure)
		}
		return backupExit(err)
	}
	if opts.JSON {
		return printJSON(f, res)
	}
	cs := f.IO.ColorScheme()
	t := steps.NewTable(cs, "ID", "CREATED", "SIZE", "ACTION", "WHY")
	removed := map[string]bool{}
	for _, id := range res.Removed {
		removed[id] = true
	}
	for _, k := range res.Keep {
		t.AddRow(k.ID, k.Created.Local().Format(time.DateTime), backup.HumanBytes(k.Size), cs.Green("keep"), strings.Join(k.Why, "; "))
	}
	for _, r := range res.Remove {
		action := cs.Yellow("would delete")
		if removed[r.ID] {
			action = cs.Red("deleted")
		}
		t.AddRow(r.ID, r.Created.Local().Format(time.DateTime), backup.HumanBytes(r.Size), action, strings.Join(r.Why, "; "))
	}
	if t.Len() > 0 {
		_ = t.Render(f.IO.Out)
	}
	ecs := f.IO.ErrColorScheme()
	for _, d := range res.Damaged {
		fmt.Fprintf(f.IO.ErrOut, "%s backup %s is damaged (its checksum no longer matches)\n", ecs.WarningIcon(), d)
	}
	printWarnings(f, res.Warnings)
	switch {
	case len(res.Remove) == 0:
		fmt.Fprintf(f.IO.ErrOut, "%s nothing to delete: the policy (%s) keeps all %d backup(s)\n", ecs.SuccessIcon(), res.Policy, len(res.Keep))
	case res.DryRun:
		fmt.Fprintf(f.IO.ErrOut, "dry run: %d backup(s) would be deleted (%s), %d kept — run without --dry-run to delete\n", len(res.Remove), backup.HumanBytes(res.Freed), len(res.Keep))
	default:
		fmt.Fprintf(f.IO.ErrOut, "%s deleted %d backup(s), freed %s; %d kept\n", ecs.SuccessIcon(), len(res.Removed), backup.HumanBytes(res.Freed), len(res.Keep))
	}
	return nil
}

// askPolicy asks for a retention policy, proposing a common one.
func askPolicy(f *Factory) (backup.RetentionPolicy, error) {
	var p backup.RetentionPolicy
	fmt.Fprintln(f.IO.ErrOut, "No retention policy is set (x-stackpilot.backup.retention). Which backups should be kept? (0 = rule not used)")
	for _, q := range []struct {
		msg string
		def string
		dst *int
	}{
		{"Keep the newest N backups:", "3", &p.KeepLast},
		{"Keep one backup a day, for N days:", "7", &p.KeepDaily},
		{"Keep one backup a week, for N weeks:", "4", &p.KeepWeekly},
		{"Keep one backup a month, for N months:", "6", &p.KeepMonthly},
	} {
		for {
			s, err := f.Prompter.Input(q.msg, q.def)
			if err != nil {
				return p, err
			}
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || n < -1 {
				fmt.Fprintln(f.IO.ErrOut, "  a whole number, please (-1 for no limit)")
				continue
			}
			*q.dst = n
			break
		}
	}
	if p.Empty() {
		return p, backupExit(fmt.Errorf("%w: every rule is 0", backup.ErrEmptyPolicy))
	}
	return p, nil
}

func (o *backupPruneOptions) args() []string {
	args := append([]string{"backup", "prune"}, o.Policy.Flags()...)
	if o.DryRun {
		args = append(args, "--dry-run")
	} else {
		args = append(args, "--yes")
	}
	return args
}
