package wizard

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops/backup"
)

type backupVerifyOptions struct {
	Ref      string
	Latest   bool
	Identity string
	JSON     bool
	menu     bool
}

func newBackupVerifyCmd(f *Factory) *cobra.Command {
	opts := &backupVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify [ID | --latest]",
		Short: "Re-read a backup and recompute every checksum",
		Long: `Re-read a whole archive and recompute every checksum: the file's own (against
its end marker, so a cut-short or changed file is caught), every entry's
SHA-256 against the manifest, and the compressor's and age's own checks.
The outcome is remembered and shown by backup list.

ID is a backup id (or a unique prefix), a file name in the backup directory,
or a path to an archive. Exit status: 0 when every checksum matches, 1 when
the archive is damaged (the message names the broken entry), 2 when no
backup was given and there is no terminal to ask on.`,
		Example: `  stackpilot backup verify --latest
  stackpilot backup verify 20261125-030000
  stackpilot backup verify /mnt/offsite/demo_20261125-030000.tar.zst.age --identity ~/.age/key.txt`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if opts.Latest {
					return usageErr("give a backup ID or --latest, not both")
				}
				opts.Ref = args[0]
			}
			return runBackupVerify(cmd.Context(), f, opts)
		},
		ValidArgsFunction: completeBackupIDs(f),
	}
	cmd.Flags().BoolVar(&opts.Latest, "latest", false, "verify the newest backup")
	cmd.Flags().StringVar(&opts.Identity, "identity", "", "age identity file, for an encrypted backup")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	return cmd
}

// runBackupVerify is the Verify job, for the menu and the command alike.
func runBackupVerify(ctx context.Context, f *Factory, opts *backupVerifyOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	if opts.Latest {
		opts.Ref = "latest"
	}
	if err := chooseBackupRef(ctx, f, st, &opts.Ref, "Which backup do you want to verify?", "a backup ID or --latest"); err != nil {
		return err
	}
	info, err := backup.Find(ctx, st, opts.Ref)
	if err != nil {
		return err
	}
	if err := askIdentity(f, info, &opts.Identity); err != nil {
		return err
	}
	prog := backupProgress(f, opts.JSON)
	res, err := backup.Verify(ctx, st, backup.VerifyOptions{Ref: info.Path, IdentityFile: opts.Identity, Sink: prog})
	if res != nil && opts.JSON {
		if jerr := printJSON(f, res); jerr != nil {
			return jerr
		}
	}
	if opts.menu {
		defer f.Equivalent(opts.args(quoteArg(backup.RefOf(ctx, st, info)))...)
	}
	if res != nil {
		printWarnings(f, res.Warnings)
	}
	if err != nil {
		if errors.Is(err, backup.ErrDamaged) && res != nil {
			fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.ErrColorScheme().FailureIcon(), err)
			fmt.Fprintf(f.IO.ErrOut, "  this backup cannot be trusted: do not restore it; take a new one (%s)\n", f.hint("backup", "create"))
			return silentExit(ExitFailure)
		}
		return backupExit(err)
	}
	if !opts.JSON {
		cs := f.IO.ErrColorScheme()
		if !opts.menu {
			fmt.Fprintf(f.IO.Out, "%s ok\n", res.Backup.ID)
		}
		var sz int64
		for _, e := range res.Entries {
			sz += e.Size
		}
		fmt.Fprintf(f.IO.ErrOut, "%s backup %s is intact: %d entries (%s of data), every checksum matches\n", cs.SuccessIcon(), res.Backup.ID, len(res.Entries), backup.HumanBytes(sz))
	}
	return nil
}

func (o *backupVerifyOptions) args(id string) []string {
	args := []string{"backup", "verify", id}
	if o.Identity != "" {
		args = append(args, "--identity", quoteArg(o.Identity))
	}
	return args
}

// completeBackupIDs completes backup ids from the backup directory.
func completeBackupIDs(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		f.applyGlobal()
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		st, err := f.Stack(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		list, err := backup.List(ctx, st)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, b := range list.Backups {
			out = append(out, b.ID+"\t"+b.Created.Local().Format("2006-01-02 15:04")+" "+backup.HumanBytes(b.Size))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
