package wizard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
	"github.com/stackpilot/stackpilot/steps"
)

type backupRestoreOptions struct {
	Ref      string
	Services []string
	Identity string
	NoSafety bool
	NoRead   bool
	// KeepSpecial and AllowOutside are --keep-special-bits and --allow-outside-links.
	KeepSpecial  bool
	AllowOutside bool
	LockWait     time.Duration
	Timeout      time.Duration
	JSON         bool
	menu         bool
}

func newBackupRestoreCmd(f *Factory) *cobra.Command {
	opts := &backupRestoreOptions{}
	var latest bool
	cmd := &cobra.Command{
		Use:   "restore ID | --latest",
		Short: "Put a backup back: volumes replaced exactly, dumps loaded, services healthy again",
		Long: `Restore a backup into the stack. In order:

  1. verify the whole archive, and refuse a damaged one before touching anything;
  2. show what will be replaced and ask (the project name typed back; --yes without a terminal);
  3. take a safety backup of the current state (tag pre-restore; --no-safety-backup skips it);
  4. stop the affected services (their containers are re-created: a volume in use cannot be replaced);
  5. replace each volume's content exactly — files created since the backup are gone, modes,
     owners, symlinks and empty directories come back — and read it back against the
     checksum (--no-read-back skips that pass);
  6. load each dump with its restore command (x-stackpilot.backup.dumps[].restore);
  7. start the services again and wait until they are healthy.

An archive is treated as data from elsewhere. Only restore commands of the
current compose file run (a dump without one is refused, never run with a
command recorded in the archive). Entries that stackpilot never writes —
sparse files, device nodes, entries beneath a symlink, hard links to
anything but a file restored before them — make the archive refuse to
verify. setuid/setgid bits and extended attributes (capabilities) are removed
unless --keep-special-bits; a volume holding symlinks that point outside it
is refused unless --allow-outside-links. The confirmation lists them.

If a volume cannot be replaced, it is rolled back from the safety backup. The
compose files and .env in the archive are not written back (extract them with
zstd -dc FILE | tar x compose env). ID is a backup id (or a unique prefix),
a file name in the backup directory, a path to an archive, or "latest"
(same as --latest).

On a Swarm the volumes are replaced through the engine of the node their
services are pinned to (x-stackpilot.nodes), with the services scaled to 0
from the safety backup on and scaled back, through the Swarm health gate.`,
		Example: `  stackpilot backup restore 20261125-030000
  stackpilot backup restore --latest --service db --yes
  stackpilot backup restore /mnt/offsite/demo_20261125-030000.tar.zst.age --identity ~/.age/key.txt`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if latest {
					return usageErr("give a backup ID or --latest, not both")
				}
				opts.Ref = args[0]
			}
			if latest {
				opts.Ref = "latest"
			}
			return runBackupRestore(cmd.Context(), f, opts)
		},
		ValidArgsFunction: completeBackupIDs(f),
	}
	fl := cmd.Flags()
	fl.BoolVar(&latest, "latest", false, "restore the newest backup")
	repeatedFlag(fl, &opts.Services, "service", "s", "restore only this service's volumes and dumps (repeatable; default: everything in the backup)")
	fl.StringVar(&opts.Identity, "identity", "", "age identity file, for an encrypted backup")
	fl.BoolVar(&opts.NoSafety, "no-safety-backup", false, "do not back up the current state first")
	fl.BoolVar(&opts.NoRead, "no-read-back", false, "do not read each replaced volume back against the backup's checksum (one pass less over the data)")
	fl.BoolVar(&opts.KeepSpecial, "keep-special-bits", false, "restore setuid/setgid bits and extended attributes (capabilities) as the backup has them")
	fl.BoolVar(&opts.AllowOutside, "allow-outside-links", false, "restore symlinks that point outside their volume (absolute, or leading out of it)")
	fl.DurationVar(&opts.LockWait, "lock-wait", 0, "wait this long for another stackpilot job on the stack to finish")
	fl.DurationVar(&opts.Timeout, "timeout", stackops.DefaultGateTimeout, "how long services may take to become healthy again")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	_ = cmd.RegisterFlagCompletionFunc("service", completeServices(f))
	return cmd
}

// runBackupRestore is the Restore job, for the menu and the command alike.
func runBackupRestore(ctx context.Context, f *Factory, opts *backupRestoreOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	on, err := onSwarm(st)
	if err != nil {
		return err
	}
	// Without a terminal, refuse before reading anything.
	if !f.Global.Yes && !f.CanPrompt() {
		if opts.Ref == "" {
			return missingInput("which backup to restore", "a backup ID (see stackpilot backup list) or --latest")
		}
		return &exitError{code: ExitUsage, err: fmt.Errorf("restore overwrites data: %w (nothing was changed)", stackops.ErrConfirmationRequired)}
	}
	if err := chooseBackupRef(ctx, f, st, &opts.Ref, "Which backup do you want to restore?", "a backup ID (see stackpilot backup list)"); err != nil {
		return err
	}
	info, err := backup.Find(ctx, st, opts.Ref)
	if err != nil {
		return err
	}
	if opts.menu && len(opts.Services) == 0 {
		if err := chooseRestoreServices(ctx, f, st, info, opts); err != nil {
			return err
		}
	}
	if err := askIdentity(f, info, &opts.Identity); err != nil {
		return err
	}
	prog := backupProgress(f, opts.JSON)
	var sw *backup.OnSwarm
	if on {
		if sw, err = swarmBackupAccess(ctx, st, opts.Services, "restore", opts.Timeout, prog); err != nil {
			return err
		}
	}
	res, err := backup.Restore(ctx, st, backup.RestoreOptions{Swarm: sw,
		Ref: info.Path, Services: opts.Services, IdentityFile: opts.Identity, NoSafetyBackup: opts.NoSafety, NoReadBack: opts.NoRead,
		KeepSpecialBits: opts.KeepSpecial, AllowOutsideLinks: opts.AllowOutside,
		LockWait: opts.LockWait, Timeout: opts.Timeout, Confirm: confirmWith(f, prog), ToolVersion: f.Version, Sink: prog,
	})
	if opts.menu {
		defer f.Equivalent(opts.args(quoteArg(backup.RefOf(ctx, st, info)))...)
	}
	if opts.JSON && res != nil {
		if jerr := printJSON(f, res); jerr != nil {
			return jerr
		}
	}
	cs := f.IO.ErrColorScheme()
	if err != nil {
		if errors.Is(err, stackops.ErrNotConfirmed) {
			return silentExit(ExitFailure)
		}
		var ge *stackops.GateError
		if errors.As(err, &ge) {
			printGateReport(f, ge.Result)
		}
		if res != nil && res.SafetyBackup != nil {
			defer fmt.Fprintf(f.IO.ErrOut, "  the state before the restore is in backup %s (%s)\n", res.SafetyBackup.ID, f.hint("backup", "restore", res.SafetyBackup.ID))
		}
		return backupExit(err)
	}
	if !opts.JSON {
		var done []string
		for _, v := range res.Volumes {
			done = append(done, fmt.Sprintf("volume %s (%d entries, %s)", v.Volume, v.Files, backup.HumanBytes(v.Size)))
		}
		for _, d := range res.Dumps {
			done = append(done, fmt.Sprintf("dump %s/%s (%s)", d.Service, d.Name, backup.HumanBytes(d.Size)))
		}
		if !opts.menu {
			fmt.Fprintf(f.IO.Out, "%s restored\n", res.Backup.ID)
		}
		fmt.Fprintf(f.IO.ErrOut, "%s restored backup %s into %s: %s\n", cs.SuccessIcon(), cs.Bold(res.Backup.ID), st.Name, strings.Join(done, ", "))
		for _, v := range res.Volumes {
			for _, l := range backup.SpecialDetails(v.Volume, v.Special, backup.RestoreOptions{KeepSpecialBits: opts.KeepSpecial, AllowOutsideLinks: opts.AllowOutside}) {
				fmt.Fprintln(f.IO.ErrOut, l)
			}
		}
		if len(res.Started) > 0 {
			fmt.Fprintf(f.IO.ErrOut, "  %s running and healthy again\n", strings.Join(res.Started, ", "))
		}
		for _, s := range res.Skipped {
			fmt.Fprintf(f.IO.ErrOut, "%s skipped %s\n", cs.WarningIcon(), s)
		}
		if res.SafetyBackup != nil {
			fmt.Fprintf(f.IO.ErrOut, "  undo with: %s (the safety backup of the state before)\n", f.hint("backup", "restore", res.SafetyBackup.ID))
		}
	}
	return nil
}

// chooseRestoreServices asks, in the menu, whether to restore everything the
// backup holds or only some services — only among the services whose data
// it holds (a volume they mount, a dump taken from them).
func chooseRestoreServices(ctx context.Context, f *Factory, st *stackops.Stack, info *backup.Info, opts *backupRestoreOptions) error {
	held := backup.HeldServices(st, *info)
	if len(held) <= 1 {
		return nil
	}
	choices, err := serviceChoices(ctx, st)
	if err != nil {
		return err
	}
	var inBackup []steps.ServiceChoice
	for _, c := range choices {
		if slices.Contains(held, c.Name) {
			inBackup = append(inBackup, c)
		}
	}
	picked, err := steps.SelectServices(f.Prompter, "restore", inBackup)
	if err != nil {
		return err
	}
	opts.Services = picked
	return nil
}

func (o *backupRestoreOptions) args(id string) []string {
	args := []string{"backup", "restore", id}
	for _, s := range o.Services {
		args = append(args, "--service", quoteArg(s))
	}
	if o.Identity != "" {
		args = append(args, "--identity", quoteArg(o.Identity))
	}
	if o.NoSafety {
		args = append(args, "--no-safety-backup")
	}
	if o.NoRead {
		args = append(args, "--no-read-back")
	}
	if o.KeepSpecial {
		args = append(args, "--keep-special-bits")
	}
	if o.AllowOutside {
		args = append(args, "--allow-outside-links")
	}
	return append(args, "--yes")
}

// printGateReport shows why services did not come back healthy.
func printGateReport(f *Factory, res *stackops.HealthGateResult) {
	if res == nil {
		return
	}
	cs := f.IO.ErrColorScheme()
	for _, sh := range res.NotReady() {
		fmt.Fprintf(f.IO.ErrOut, "%s %s: %s\n", cs.FailureIcon(), sh.Service, sh.Reason)
		for _, l := range sh.Logs {
			fmt.Fprintf(f.IO.ErrOut, "    %s\n", l)
		}
	}
}
