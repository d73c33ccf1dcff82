package wizard

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
	"github.com/stackpilot/stackpilot/steps"
)

type backupCreateOptions struct {
	Services  []string
	Tag       string
	EncryptTo []string
	LockWait  time.Duration
	JSON      bool
	// menu: asked from the Backups menu (choose services, a tag; print the equivalent command).
	menu bool
}

func newBackupCreateCmd(f *Factory) *cobra.Command {
	opts := &backupCreateOptions{}
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Write a backup of the volumes, dumps, compose files and .env",
		Long: `Write one archive of the stack: its named volumes (read through the Docker
Engine's archive API, so images without a shell or tar work), the dumps of
x-stackpilot.backup.dumps (run inside the running service, output streamed
into the archive), and the compose files and .env. Services in
x-stackpilot.backup.stop are stopped while volumes are read and always
started again. The archive is written to a temporary name and appears in
the backup directory only once complete.

On a Swarm (x-stackpilot.orchestrator: swarm) the services with a volume
must be pinned to one node; stackpilot reads the volumes through that node's
engine (x-stackpilot.nodes: {NODE: ssh://user@host}) while the services are
scaled to 0, then scales them back and waits until they run again.

Prints the archive's path on stdout (or the result as JSON with --json).`,
		Example: `  stackpilot backup create
  stackpilot backup create --service db --tag before-upgrade
  stackpilot backup create --encrypt-to age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
  stackpilot backup create --encrypt-to .env      # the recipients of the encrypted .env values
  stackpilot backup create --json | jq -r .backup.path`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackupCreate(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	repeatedFlag(fl, &opts.Services, "service", "s", "back up only this service's volumes and dumps (repeatable; default: all)")
	fl.StringVar(&opts.Tag, "tag", "", "a label kept in the archive and its file name (letters, digits, . -)")
	repeatedFlag(fl, &opts.EncryptTo, "encrypt-to", "", "encrypt for this age recipient (age1…, a recipients file, or .env for the recipients of its encrypted values; repeatable; adds to x-stackpilot.backup.encrypt_to)")
	fl.DurationVar(&opts.LockWait, "lock-wait", 0, "wait this long for another stackpilot job on the stack to finish (default: fail at once)")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	_ = cmd.RegisterFlagCompletionFunc("service", completeServices(f))
	return cmd
}

// runBackupCreate is the Create job, for the menu and the command alike.
func runBackupCreate(ctx context.Context, f *Factory, opts *backupCreateOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	on, err := onSwarm(st)
	if err != nil {
		return err
	}
	if opts.menu {
		choices, err := backupChoices(ctx, st)
		if err != nil {
			return err
		}
		picked, err := steps.SelectServices(f.Prompter, "back up", choices)
		if err != nil {
			return err
		}
		opts.Services = picked
		tag, err := f.Prompter.Input("Tag for this backup (optional, e.g. before-upgrade):", "")
		if err != nil {
			return err
		}
		opts.Tag = strings.TrimSpace(tag)
	} else if len(opts.Services) == 0 && !opts.JSON {
		announce(f, "backing up every service of %s (--service to choose)", st.Name)
	}
	prog := backupProgress(f, opts.JSON)
	var sw *backup.OnSwarm
	if on {
		if sw, err = swarmBackupAccess(ctx, st, opts.Services, "backup", 0, prog); err != nil {
			return err
		}
	}
	res, err := backup.Create(ctx, st, backup.CreateOptions{
		Services: opts.Services, Tag: opts.Tag, EncryptTo: opts.EncryptTo, LockWait: opts.LockWait,
		ToolVersion: f.Version, Sink: prog, Swarm: sw,
	})
	if err != nil {
		if opts.menu {
			f.Equivalent(opts.args()...)
		}
		return err
	}
	if opts.JSON {
		if err := printJSON(f, res); err != nil {
			return err
		}
	} else {
		if !opts.menu {
			fmt.Fprintln(f.IO.Out, res.Backup.Path)
		}
		cs := f.IO.ErrColorScheme()
		var held []string
		for _, e := range res.Entries {
			if e.Kind == backup.EntryVolume || e.Kind == backup.EntryDump {
				held = append(held, e.Label())
			}
		}
		enc := ""
		if res.Backup.Encrypted {
			enc = ", encrypted"
		}
		rel, rerr := filepath.Rel(st.Dir, res.Backup.Path)
		if rerr != nil || strings.HasPrefix(rel, "..") {
			rel = res.Backup.Path
		}
		fmt.Fprintf(f.IO.ErrOut, "%s backup %s written to %s (%s%s, %s) in %s\n", cs.SuccessIcon(), cs.Bold(res.Backup.ID), rel,
			backup.HumanBytes(res.Backup.Size), enc, strings.Join(held, ", "), (time.Duration(res.DurationMS) * time.Millisecond).Round(100*time.Millisecond))
		if len(res.Skipped) > 0 {
			fmt.Fprintf(f.IO.ErrOut, "%s not backed up (the volume does not exist yet): %s\n", cs.WarningIcon(), strings.Join(res.Skipped, ", "))
		}
		for _, w := range res.Warnings {
			fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.WarningIcon(), w)
		}
		fmt.Fprintf(f.IO.ErrOut, "  check it with: %s\n", f.hint("backup", "verify", res.Backup.ID))
	}
	if opts.menu {
		f.Equivalent(opts.args()...)
	}
	return nil
}

func (o *backupCreateOptions) args() []string {
	args := []string{"backup", "create"}
	for _, s := range o.Services {
		args = append(args, "--service", quoteArg(s))
	}
	if o.Tag != "" {
		args = append(args, "--tag", quoteArg(o.Tag))
	}
	for _, r := range o.EncryptTo {
		args = append(args, "--encrypt-to", quoteArg(r))
	}
	return args
}

// backupChoices are the services that have something to back up, each shown
// with its state and what it holds.
func backupChoices(ctx context.Context, st *stackops.Stack) ([]steps.ServiceChoice, error) {
	contents, err := backup.Contents(st)
	if err != nil {
		return nil, err
	}
	var all []steps.ServiceChoice
	if on, _ := st.SwarmMode(); on {
		// Container states are one engine's; on a Swarm, the names.
		for _, n := range st.ServiceNames() {
			all = append(all, steps.ServiceChoice{Name: n, State: "on the Swarm"})
		}
	} else if all, err = serviceChoices(ctx, st); err != nil {
		return nil, err
	}
	var out []steps.ServiceChoice
	for _, c := range all {
		if what := contents[c.Name]; len(what) > 0 {
			c.State += " — " + strings.Join(what, ", ")
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no service mounts a named volume or has a dump in %s.backup.dumps", backup.ErrNothingToBackUp, stackops.ConfigExtension)
	}
	return out, nil
}
