package wizard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

type statusOptions struct {
	Services []string
	JSON     bool
	Watch    bool
	Interval time.Duration
	NoProbes bool
}

func newStatusCmd(f *Factory) *cobra.Command {
	opts := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status [SERVICE...]",
		Short: "Show each service's state, health, ports, uptime and image",
		Long: `Show one row per container of each service: state, health, published ports,
uptime and image, read straight from the Docker Engine (the same for Compose
v1 and v2). Services never created show as "not created". HTTP probes from
x-stackpilot.probes are run concurrently and shown too.

Exit status: 0 when every selected service is running (and healthy where it
has a healthcheck or probe; a one-shot container that exited 0 counts as
done), 3 when something is degraded, 1 on error.`,
		Example: `  stackpilot status
  stackpilot status api db
  stackpilot status --json | jq '.[] | select(.ok | not)'
  stackpilot status --watch`,
		ValidArgsFunction: completeServices(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Services = args
			defer printUpdateNotice(f)
			return runStatus(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print a JSON array, one object per container")
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "redraw until Ctrl-C")
	cmd.Flags().DurationVar(&opts.Interval, "interval", defaultWatchInterval, "how often --watch refreshes")
	cmd.Flags().BoolVar(&opts.NoProbes, "no-probes", false, "skip the HTTP probes of x-stackpilot.probes")
	return cmd
}

// runStatus is the Status job, for the menu and the command alike.
func runStatus(ctx context.Context, f *Factory, opts *statusOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	if on, err := onSwarm(st); err != nil || on {
		return orSwarm(err, func() error { return runSwarmStatus(ctx, f, st, opts) })
	}
	if opts.Watch {
		return watchStatus(ctx, f, st, opts)
	}
	stop := func() {}
	if !opts.JSON {
		stop = steps.Spin(f.IO, "Reading the stack's state…")
	}
	res, err := st.Status(ctx, stackops.StatusOptions{Services: opts.Services, NoProbes: opts.NoProbes})
	stop()
	if err != nil {
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(f.IO.Out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res.Services); err != nil {
			return err
		}
	} else {
		printStatus(f.IO.Out, f.IO.ColorScheme(), res, time.Now())
		printStatusSummary(f, res, whereLabel(st))
	}
	if !res.Healthy() {
		return silentExit(ExitDegraded)
	}
	return nil
}

func watchStatus(ctx context.Context, f *Factory, st *stackops.Stack, opts *statusOptions) error {
	if opts.Interval < 200*time.Millisecond {
		opts.Interval = 200 * time.Millisecond
	}
	tty := f.IO.IsStdoutTTY()
	for {
		res, err := st.Status(ctx, stackops.StatusOptions{Services: opts.Services, NoProbes: opts.NoProbes})
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
		now := time.Now()
		if opts.JSON {
			// One compact array per refresh: a stream a script can read line by line.
			b, _ := json.Marshal(res.Services)
			fmt.Fprintln(f.IO.Out, string(b))
		} else {
			var buf strings.Builder
			cs := f.IO.ColorScheme()
			fmt.Fprintf(&buf, "%s  %s\n\n", cs.Bold("Project "+st.Name), cs.Gray(fmt.Sprintf("every %s · %s · Ctrl-C to stop", opts.Interval, now.Format("15:04:05"))))
			printStatus(&buf, cs, res, now)
			if tty {
				// Home, draw, clear the rest: redraw in place without flicker.
				text := strings.ReplaceAll(buf.String(), "\n", "\x1b[K\n")
				fmt.Fprint(f.IO.Out, "\x1b[H"+text+"\x1b[J")
			} else {
				fmt.Fprintln(f.IO.Out, buf.String())
			}
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(opts.Interval):
		}
	}
}

func printStatus(w io.Writer, cs *steps.ColorScheme, res *stackops.StatusResult, now time.Time) {
	headers := []string{"SERVICE", "STATE", "HEALTH", "PORTS", "UPTIME", "IMAGE", "PROBE"}
	hasProbe := false
	for _, r := range res.Services {
		if r.Probe != nil {
			hasProbe = true
		}
	}
	if !hasProbe {
		headers = headers[:6]
	}
	replicas := countReplicas(res)
	t := steps.NewTable(cs, headers...)
	for _, r := range res.Services {
		t.AddRow(statusCells(cs, replicas[r.Service], r, now)[:len(headers)]...)
	}
	_ = t.Render(w)
}

// statusCells is a row of the table; replicas is how many containers the
// row's service has.
func statusCells(cs *steps.ColorScheme, replicas int, r stackops.ServiceStatus, now time.Time) []string {
	name := r.Service
	if r.Replica > 1 || replicas > 1 {
		name = fmt.Sprintf("%s #%d", r.Service, r.Replica)
	}
	state := r.State
	if r.State == stackops.StateExited || r.State == "restarting" {
		state = fmt.Sprintf("%s (%d)", r.State, r.ExitCode)
	}
	switch {
	case r.OK:
		state = cs.Green(state)
	case r.State == stackops.StateNotCreated:
		state = cs.Yellow(state)
	default:
		state = cs.Red(state)
	}
	health := r.Health
	switch health {
	case "healthy":
		health = cs.Green(health)
	case "unhealthy":
		health = cs.Red(health)
	case "starting":
		health = cs.Yellow(health)
	case "":
		health = cs.Gray("-")
	}
	uptime := cs.Gray("-")
	if r.State == stackops.StateRunning && r.StartedAt != nil {
		uptime = humanDuration(now.Sub(*r.StartedAt))
	}
	probe := cs.Gray("-")
	if r.Probe != nil {
		if r.Probe.OK {
			probe = cs.Green(fmt.Sprintf("✓ %d %.0fms", r.Probe.StatusCode, r.Probe.LatencyMS))
		} else {
			probe = cs.Red("✗ " + r.Probe.Error)
		}
	}
	return []string{name, state, health, formatPorts(r.Ports), uptime, r.Image, probe}
}

// countReplicas counts each service's containers, in one pass: per row, it
// made the table's cost grow with the square of the stack.
func countReplicas(res *stackops.StatusResult) map[string]int {
	n := map[string]int{}
	for _, r := range res.Services {
		if r.State != stackops.StateNotCreated {
			n[r.Service]++
		}
	}
	return n
}

// formatPorts shows published ports as host->container/proto, folding the
// IPv4 and IPv6 bindings of one port into one entry.
func formatPorts(ports []stackops.PortMapping) string {
	var out []string
	seen := map[string]bool{}
	for _, p := range ports {
		if p.HostPort == 0 {
			continue
		}
		host := p.HostIP
		if host == "0.0.0.0" || host == "::" || host == "" {
			host = ""
		} else {
			host += ":"
		}
		s := fmt.Sprintf("%s%d->%d/%s", host, p.HostPort, p.ContainerPort, p.Protocol)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ", ")
}

func humanDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// printStatusSummary says in one line whether the stack is up, and where
// when that is not this machine's default engine: on a remote server the
// operator must not mistake whose containers the table shows.
func printStatusSummary(f *Factory, res *stackops.StatusResult, where string) {
	cs := f.IO.ErrColorScheme()
	if where != "" {
		where = " · " + where
	}
	if res.Healthy() {
		fmt.Fprintf(f.IO.ErrOut, "%s all %d services of %s are up%s\n", cs.SuccessIcon(), len(distinctServices(res)), res.Project, where)
		return
	}
	var parts []string
	for _, svc := range res.Degraded {
		for _, r := range res.Services {
			if r.Service == svc && !r.OK {
				parts = append(parts, fmt.Sprintf("%s (%s)", svc, r.Problem))
				break
			}
		}
	}
	fmt.Fprintf(f.IO.ErrOut, "%s degraded%s: %s\n", cs.WarningIcon(), where, strings.Join(parts, ", "))
	if allNotCreated(res) {
		fmt.Fprintf(f.IO.ErrOut, "  nothing of %s is running — bring it up with: %s\n", res.Project, f.hint("deploy"))
	}
}

func allNotCreated(res *stackops.StatusResult) bool {
	for _, r := range res.Services {
		if r.State != stackops.StateNotCreated {
			return false
		}
	}
	return true
}

func distinctServices(res *stackops.StatusResult) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range res.Services {
		if !seen[r.Service] {
			seen[r.Service] = true
			out = append(out, r.Service)
		}
	}
	return out
}

// defaultWatchInterval is how often status --watch refreshes.
const defaultWatchInterval = 2 * time.Second
