package wizard

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops/backup"
	"github.com/stackpilot/stackpilot/steps"
)

type backupListOptions struct {
	JSON bool
	menu bool
}

func newBackupListCmd(f *Factory) *cobra.Command {
	opts := &backupListOptions{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the stack's backups: id, time, size, what they hold, verified?",
		Long: `List the project's complete backups in the backup directory, newest first:
id, creation time and age, size, the volumes and dumps they hold, tag,
whether they are encrypted, and the outcome of the last verify. Files that
are not complete archives (cut short, damaged header) are reported on stderr.`,
		Example: `  stackpilot backup list
  stackpilot backup list --json | jq -r '.backups[0].id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackupList(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the list as JSON")
	return cmd
}

// runBackupList is the List job, for the menu and the command alike.
func runBackupList(ctx context.Context, f *Factory, opts *backupListOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	list, err := backup.List(ctx, st)
	if err != nil {
		return err
	}
	if opts.JSON {
		return printJSON(f, list)
	}
	cs, ecs := f.IO.ColorScheme(), f.IO.ErrColorScheme()
	now := time.Now()
	dir := list.Dir
	if rel, err := filepath.Rel(st.Dir, dir); err == nil && !strings.HasPrefix(rel, "..") {
		dir = rel
	}
	if len(list.Backups) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "no backups of %s in %s yet — create one with: %s\n", st.Name, dir, f.hint("backup", "create"))
	} else {
		t := steps.NewTable(cs, "ID", "CREATED", "AGE", "SIZE", "SERVICES", "HOLDS", "TAG", "VERIFIED")
		for _, b := range list.Backups {
			t.AddRow(backupRow(cs, b, backup.HeldServices(st, b), now)...)
		}
		_ = t.Render(f.IO.Out)
		fmt.Fprintf(f.IO.ErrOut, "%d backup(s) of %s in %s\n", len(list.Backups), st.Name, dir)
	}
	for _, u := range list.Unreadable {
		fmt.Fprintf(f.IO.ErrOut, "%s %s is not a complete backup: %s\n", ecs.WarningIcon(), u.File, u.Error)
	}
	if list.OtherProjects > 0 {
		fmt.Fprintf(f.IO.ErrOut, "(%d backup(s) of other projects in the same directory not shown)\n", list.OtherProjects)
	}
	if opts.menu {
		f.Equivalent("backup", "list")
	}
	return nil
}

// backupRow is a backup's line in the list; services are those whose data
// it holds.
func backupRow(cs *steps.ColorScheme, b backup.Info, services []string, now time.Time) []string {
	holds := append(append([]string{}, b.Volumes...), b.Dumps...)
	h := strings.Join(holds, ", ")
	if b.Encrypted {
		h += cs.Gray(" (encrypted)")
	}
	verified := cs.Gray("-")
	if v := b.Verified; v != nil {
		if v.OK {
			verified = cs.Green("✓ " + steps.Ago(now.Sub(v.At)))
		} else {
			verified = cs.Red("✗ damaged")
		}
	}
	tag := b.Tag
	if tag == "" {
		tag = cs.Gray("-")
	}
	return []string{b.ID, b.Created.Local().Format(time.DateTime), steps.Ago(now.Sub(b.Created)), backup.HumanBytes(b.Size), strings.Join(services, ","), h, tag, verified}
}
