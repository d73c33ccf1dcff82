package wizard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
	"github.com/stackpilot/stackpilot/stackops/envcrypt"
	"github.com/stackpilot/stackpilot/steps"
)

func newBackupCmd(f *Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Back up and restore volumes and database dumps, in checksummed archives",
		Long: `Back up the stack's named volumes, the dumps declared in x-stackpilot.backup.dumps,
and the compose files and .env into one archive per backup (zstd, optionally
age-encrypted, created 0600), with the size and SHA-256 of every entry in a
manifest. Archives go to ./backups (x-stackpilot.backup.dir).

Run without a subcommand in a terminal for the Backups menu.`,
		Example: `  stackpilot backup create
  stackpilot backup list
  stackpilot backup verify --latest
  stackpilot backup restore 20261125-030000 --yes
  stackpilot backup prune --keep-daily 7 --keep-weekly 4 --dry-run
  stackpilot backup schedule --cron "0 3 * * *" --keep-daily 7`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !f.CanPrompt() {
				cmd.SetOut(f.IO.ErrOut)
				_ = cmd.Usage()
				return usageErr("backup needs a subcommand (create, list, verify, restore, prune, schedule) when there is no terminal")
			}
			return runBackupMenu(cmd.Context(), f)
		},
	}
	cmd.AddCommand(
		newBackupCreateCmd(f),
		newBackupListCmd(f),
		newBackupVerifyCmd(f),
		newBackupRestoreCmd(f),
		newBackupPruneCmd(f),
		newBackupScheduleCmd(f),
	)
	return cmd
}

// backupMenuEntries are the jobs of the Backups menu; each calls the same
// run function as its command, with nothing filled in.
func backupMenuEntries() []menuEntry {
	return []menuEntry{
		{Label: "Create now — back up volumes, dumps, compose files and .env", Run: func(ctx context.Context, f *Factory) error {
			return runBackupCreate(ctx, f, &backupCreateOptions{menu: true})
		}},
		{Label: "List — backups with age, size and what they hold", Run: func(ctx context.Context, f *Factory) error {
			return runBackupList(ctx, f, &backupListOptions{menu: true})
		}},
		{Label: "Verify — re-read a backup and check every checksum", Run: func(ctx context.Context, f *Factory) error {
			return runBackupVerify(ctx, f, &backupVerifyOptions{menu: true})
		}},
		{Label: "Restore — put a backup back (asks first)", Run: func(ctx context.Context, f *Factory) error {
			return runBackupRestore(ctx, f, &backupRestoreOptions{menu: true})
		}},
		{Label: "Prune — delete old backups by a retention policy", Run: func(ctx context.Context, f *Factory) error {
			return runBackupPrune(ctx, f, &backupPruneOptions{menu: true})
		}},
		{Label: "Schedule — run backups from cron", Run: func(ctx context.Context, f *Factory) error {
			return runBackupSchedule(ctx, f, &backupScheduleOptions{menu: true})
		}},
	}
}

// runBackupMenu is the Backups menu: one job, then back to the main menu.
// Each job prints its own equivalent command.
func runBackupMenu(ctx context.Context, f *Factory) error {
	entries := backupMenuEntries()
	labels := make([]string, 0, len(entries)+1)
	for _, e := range entries {
		labels = append(labels, e.Label)
	}
	labels = append(labels, "Back")
	idx, err := f.Prompter.Select("Backups — what do you want to do?", labels, labels[0])
	if err != nil {
		return err
	}
	if idx == len(entries) {
		return nil
	}
	return entries[idx].Run(ctx, f)
}

// printJSON writes v to stdout, indented.
func printJSON(f *Factory, v any) error {
	enc := json.NewEncoder(f.IO.Out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// announce tells the person about a default that was filled in.
func announce(f *Factory, format string, a ...any) {
	cs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.Gray("·"), fmt.Sprintf(format, a...))
}

// backupProgress renders an operation's events; prompts pause it.
func backupProgress(f *Factory, jsonOut bool) *steps.Progress {
	return f.Progress(jsonOut)
}

// confirmWith wraps the command's consent hook so live progress lines stop
// while a question is asked and resume after.
func confirmWith(f *Factory, prog *steps.Progress) stackops.ConfirmFunc {
	inner := f.Confirm(func() { prog.Pause() })
	return func(ctx context.Context, c stackops.Confirmation) (bool, error) {
		ok, err := inner(ctx, c)
		prog.Resume()
		return ok, err
	}
}

// chooseBackupRef fills an empty backup reference: a prompt on a terminal,
// else an error naming what to pass.
func chooseBackupRef(ctx context.Context, f *Factory, st *stackops.Stack, ref *string, question, flagHint string) error {
	if *ref != "" {
		return nil
	}
	if !f.CanPrompt() {
		return missingInput("which backup", flagHint)
	}
	list, err := backup.List(ctx, st)
	if err != nil {
		return err
	}
	idx, err := steps.ChooseBackup(f.Prompter, question, list.Backups, time.Now())
	if errors.Is(err, steps.ErrNoBackups) {
		return fmt.Errorf("%w of %s — create one first: %s", err, st.Name, f.hint("backup", "create"))
	}
	if err != nil {
		return err
	}
	// The id when it names this file alone; else the file chosen (an
	// archive copied in from elsewhere may carry another's id).
	chosen := list.Backups[idx]
	*ref = chosen.ID
	for i, b := range list.Backups {
		if i != idx && b.ID == chosen.ID {
			*ref = chosen.Path
		}
	}
	return nil
}

// askIdentity fills the age identity of an encrypted backup.
func askIdentity(f *Factory, info *backup.Info, identity *string) error {
	if !info.Encrypted || *identity != "" {
		return nil
	}
	// The identities of encrypted .env values (env keygen) open archives
	// encrypted to them: nothing to ask when there are some.
	if ids, err := envcrypt.WhereFrom(func(k string) (string, bool) { v := f.getenv(k); return v, v != "" }).Load(); err == nil && len(ids) > 0 {
		return nil
	}
	if !f.CanPrompt() {
		return missingInput(fmt.Sprintf("backup %s is encrypted", info.ID), "--identity FILE (the age identity for "+strings.Join(info.Recipients, ", ")+")")
	}
	for {
		p, err := f.Prompter.Input(fmt.Sprintf("Backup %s is encrypted. Path of the age identity file:", info.ID), "")
		if err != nil {
			return err
		}
		p = expandHome(strings.TrimSpace(p))
		if _, err := backup.LoadIdentities(p); err != nil {
			fmt.Fprintf(f.IO.ErrOut, "%s %v\n", f.IO.ErrColorScheme().FailureIcon(), err)
			continue
		}
		*identity = p
		return nil
	}
}

func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, p[2:])
		}
	}
	return p
}

// backupExit maps backup errors to exit codes: missing choices are usage
// errors (2), everything else a failure (1).
func backupExit(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, backup.ErrIdentityRequired), errors.Is(err, backup.ErrEmptyPolicy):
		return &exitError{code: ExitUsage, err: err}
	}
	return err
}

// quoteArgs renders argv for an equivalent command.
func quoteArgs(args ...string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = quoteArg(a)
	}
	return out
}
