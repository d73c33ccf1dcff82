package wizard

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

type doctorOptions struct {
	JSON bool
}

func newDoctorCmd(f *Factory) *cobra.Command {
	opts := &doctorOptions{}
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check docker, the daemon, Compose, the compose file and .env — with the fix for each failure",
		Long: `Check everything stackpilot needs, each on its own so one failure does not
hide another: the docker CLI, the daemon (and why it cannot be reached), the
engine version, the Compose variant and version, the compose file (and its
services), and the .env file. Exits 1 when any check fails.`,
		Example: `  stackpilot doctor
  stackpilot doctor --json
  STACKPILOT_COMPOSE=v1 stackpilot doctor   # check the Compose v1 setup`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDoctor(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the checks as JSON")
	return cmd
}

// runDoctor is the Doctor job, for the menu and the command alike.
func runDoctor(ctx context.Context, f *Factory, opts *doctorOptions) error {
	stop := func() {}
	if !opts.JSON {
		stop = steps.Spin(f.IO, "Checking docker, compose and the project…")
	}
	lo := f.loadOptions()
	res := stackops.Doctor(ctx, stackops.DoctorOptions{Load: lo, Runner: lo.Runner})
	addSwarmChecks(ctx, res)
	explainDoctor(ctx, f, res)
	stop()
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if opts.JSON {
		enc := json.NewEncoder(f.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printDoctor(f, res)
	}
	if !res.OK {
		return silentExit(ExitFailure)
	}
	return nil
}

func printDoctor(f *Factory, res *stackops.DoctorResult) {
	cs := f.IO.ColorScheme()
	w := 0
	for _, c := range res.Checks {
		if len(c.Name) > w {
			w = len(c.Name)
		}
	}
	for _, c := range res.Checks {
		icon := cs.SuccessIcon()
		switch {
		case c.Skipped:
			icon = cs.Gray("-")
		case !c.OK:
			icon = cs.FailureIcon()
		case c.Warning:
			icon = cs.WarningIcon()
		}
		fmt.Fprintf(f.IO.Out, "%s %-*s  %s\n", icon, w, c.Name, c.Detail)
		if !c.OK && c.Fix != "" {
			fmt.Fprintf(f.IO.Out, "  %s  %s %s\n", strings.Repeat(" ", w), cs.Yellow("fix:"), c.Fix)
		}
	}
	failed := 0
	for _, c := range res.Checks {
		if !c.OK {
			failed++
		}
	}
	ecs := f.IO.ErrColorScheme()
	if failed == 0 {
		fmt.Fprintf(f.IO.ErrOut, "%s everything stackpilot needs is in place\n", ecs.SuccessIcon())
	} else {
		fmt.Fprintf(f.IO.ErrOut, "%s %d check(s) failed\n", ecs.FailureIcon(), failed)
	}
}
