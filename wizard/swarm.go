package wizard

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
	"github.com/stackpilot/stackpilot/stackops/swarm"
	"github.com/stackpilot/stackpilot/steps"
)

// Swarm mode in the command layer: the jobs that have a Swarm meaning call
// package stackops/swarm instead of the single-engine code when the stack
// is in Swarm mode (x-stackpilot.orchestrator: swarm, or --swarm); the ones
// that have none refuse, naming Swarm's own way (swarmRefusal).

// onSwarm reports whether st runs on a Swarm; an invalid orchestrator
// value is the error.
func onSwarm(st *stackops.Stack) (bool, error) { return st.SwarmMode() }

// openSwarm connects to the stack's manager.
func openSwarm(ctx context.Context, st *stackops.Stack) (*swarm.Cluster, error) {
	return swarm.Open(ctx, st)
}

// swarmRefusal is the error of a job that has no meaning on a Swarm, naming
// what Swarm does instead.
func swarmRefusal(st *stackops.Stack, job, instead string) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf("%s is not available for a stack on a Docker Swarm (x-stackpilot.orchestrator: swarm): %s", job, strings.ReplaceAll(instead, "STACK", st.Name))}
}

// runSwarmStatus is the Status job on a Swarm.
func runSwarmStatus(ctx context.Context, f *Factory, st *stackops.Stack, opts *statusOptions) error {
	c, err := swarm.Connect(st)
	if err != nil {
		return err
	}
	if _, err := st.ResolveServices(opts.Services); err != nil {
		return err
	}
	for {
		res, err := c.Status(ctx, opts.Services)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			return err
		}
		switch {
		case opts.JSON && opts.Watch:
			b, _ := json.Marshal(res)
			fmt.Fprintln(f.IO.Out, string(b))
		case opts.JSON:
			if err := writeJSON(f.IO.Out, res); err != nil {
				return err
			}
		case opts.Watch && f.IO.IsStdoutTTY():
			var buf strings.Builder
			printSwarmStatus(&buf, f.IO.ColorScheme(), res)
			fmt.Fprint(f.IO.Out, "\x1b[H"+strings.ReplaceAll(buf.String(), "\n", "\x1b[K\n")+"\x1b[J")
		default:
			printSwarmStatus(f.IO.Out, f.IO.ColorScheme(), res)
		}
		if !opts.Watch {
			if res.Degraded {
				return silentExit(ExitDegraded)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(max(opts.Interval, 200*time.Millisecond)):
		}
	}
}

// printSwarmStatus draws the services (one row each, then a row per task)
// and the nodes.
func printSwarmStatus(w io.Writer, cs *steps.ColorScheme, res *swarm.Status) {
	fmt.Fprintf(w, "%s %s\n\n", cs.Bold("swarm · "+fmt.Sprint(len(res.Nodes))+" nodes"), cs.Gray("· stack "+res.Project+" · manager "+res.Manager))
	t := steps.NewTable(cs, "SERVICE", "REPLICAS", "STATE", "PORTS", "IMAGE")
	for _, s := range res.Services {
		state := cs.Green("running")
		switch {
		case !s.Created:
			state = cs.Yellow("not deployed")
		case s.Degraded != "":
			state = cs.Red("degraded: " + s.Degraded)
		case s.UpdateState == "updating":
			state = cs.Yellow("updating")
		case s.UpdateState == "rollback_completed":
			state = cs.Yellow("running (rolled back)")
		}
		replicas := fmt.Sprintf("%d/%d", s.Running, s.Desired)
		if s.Mode == "global" {
			replicas += " global"
		}
		t.AddRow(s.Name, replicas, state, strings.Join(s.Ports, ", "), s.Image)
		for _, tk := range s.Tasks {
			tstate := tk.State
			if tk.Health != "" {
				tstate += " (" + tk.Health + ")"
			}
			if tk.DesiredState != "running" && tk.State != tk.DesiredState {
				tstate += " → " + tk.DesiredState
			}
			if tk.Error != "" {
				tstate += ": " + tk.Error
			}
			if tk.State == "failed" || tk.State == "rejected" {
				tstate = cs.Red(tstate)
			}
			t.AddRow(cs.Gray(fmt.Sprintf("  .%d", tk.Slot)), cs.Gray("on "+tk.Node), tstate, "", cs.Gray(engineShort(tk.ID)))
		}
	}
	_ = t.Render(w)
	fmt.Fprintln(w)
	printSwarmNodes(w, cs, res.Nodes)
}

// printSwarmNodes is the Nodes view: each node's role, state, availability
// and the stack's running tasks on it.
func printSwarmNodes(w io.Writer, cs *steps.ColorScheme, nodes []swarm.NodeReport) {
	t := steps.NewTable(cs, "NODE", "ROLE", "STATE", "AVAILABILITY", "TASKS", "ADDRESS")
	for _, n := range nodes {
		role := n.Role
		if n.Leader {
			role += " (leader)"
		}
		state := n.State
		if state != "ready" {
			state = cs.Red(state)
		}
		avail := n.Availability
		if avail != "active" {
			avail = cs.Yellow(avail)
		}
		t.AddRow(n.Hostname, role, state, avail, strings.Join(n.Running, " "), n.Addr)
	}
	_ = t.Render(w)
}

func engineShort(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// runSwarmDeploy is the Deploy job on a Swarm.
func runSwarmDeploy(ctx context.Context, f *Factory, st *stackops.Stack, opts *deployOptions) error {
	if opts.DryRun || opts.Pull || opts.ForceRecreate {
		return swarmRefusal(st, "deploy --dry-run, --pull and --force-recreate", "Swarm resolves images on the nodes; `docker service update --force STACK_SERVICE` restarts a service's tasks")
	}
	c, err := openSwarm(ctx, st)
	if err != nil {
		return err
	}
	progress := f.progressFor(opts.JSON)
	var out io.Writer
	if f.Global.Verbose {
		out = f.IO.ErrOut
	}
	res, err := c.Deploy(ctx, swarm.DeployOptions{Services: opts.Services, NoBuild: opts.NoBuild, Timeout: opts.Timeout,
		NoWait: opts.NoWait, LockWait: opts.LockWait, Sink: progress, Output: out})
	if opts.wizard {
		f.Equivalent("deploy")
	}
	return reportSwarmRollout(f, st, res, err, opts.JSON)
}

// runSwarmRollback is the Roll back job on a Swarm.
func runSwarmRollback(ctx context.Context, f *Factory, st *stackops.Stack, opts *rollbackOptions) error {
	if opts.DryRun || opts.NoWait {
		return swarmRefusal(st, "rollback --dry-run and --no-wait", "`docker service inspect STACK_SERVICE --format '{{json .PreviousSpec}}'` shows what a rollback goes back to")
	}
	c, err := openSwarm(ctx, st)
	if err != nil {
		return err
	}
	if opts.wizard && !opts.confirmed && f.CanPrompt() {
		ok, err := f.Prompter.Confirm(fmt.Sprintf("Roll %s back to the spec before each service's last update (Swarm's rollback)?", st.Name), false)
		if err != nil || !ok {
			return err
		}
	}
	res, err := c.Rollback(ctx, swarm.RollbackOptions{Services: opts.Services, Timeout: opts.Timeout, LockWait: opts.LockWait, Sink: f.progressFor(opts.JSON)})
	if opts.wizard {
		f.Equivalent("rollback", "--yes")
	}
	return reportSwarmRollout(f, st, res, err, opts.JSON)
}

// reportSwarmRollout prints a deploy's or rollback's result: the images,
// what was defaulted or ignored, and for a failure the task's node, error,
// exit code and last log lines.
func reportSwarmRollout(f *Factory, st *stackops.Stack, res *swarm.DeployResult, err error, asJSON bool) error {
	if res == nil {
		return err
	}
	if asJSON {
		if jerr := writeJSON(f.IO.Out, res); jerr != nil {
			return jerr
		}
	}
	cs := f.IO.ErrColorScheme()
	w := f.IO.ErrOut
	if !asJSON {
		for _, ig := range res.Ignored {
			fmt.Fprintf(w, "%s Swarm ignores %s\n", cs.WarningIcon(), ig)
		}
	}
	if err == nil {
		if !asJSON {
			fmt.Fprintf(w, "%s %s of %s on the Swarm done in %.1fs\n", cs.SuccessIcon(), res.Operation, st.Name, float64(res.DurationMS)/1000)
			fmt.Fprintf(w, "  check it with: %s\n", f.hint("status"))
		}
		return nil
	}
	if asJSON {
		// The JSON on stdout has the whole report; the reason on stderr too,
		// and the exit status of a failed deploy (1), as on one engine.
		fmt.Fprintf(w, "%s %s\n", cs.FailureIcon(), err)
		return silentExit(ExitFailure)
	}
	if res.Gate != nil && res.Gate.Failed != nil {
		t := res.Gate.Failed
		fmt.Fprintf(w, "%s %s\n", cs.FailureIcon(), err)
		if t.ID != "" {
			fmt.Fprintf(w, "  task %s · node %s · state %s", engineShort(t.ID), t.Node, t.State)
			if t.ExitCode != nil {
				fmt.Fprintf(w, " · exit code %d", *t.ExitCode)
			}
			fmt.Fprintln(w)
		}
		if len(t.Logs) > 0 {
			fmt.Fprintln(w, "  last log lines:")
			for _, l := range t.Logs {
				fmt.Fprintf(w, "    %s\n", l)
			}
		}
		if res.Operation == "deploy" && len(res.Gate.RolledBack) == 0 {
			fmt.Fprintf(w, "  go back with: %s\n", f.hint("rollback"))
		}
		return silentExit(ExitFailure)
	}
	if len(res.Output) > 0 {
		for _, l := range res.Output {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	return err
}

// orSwarm returns err (an invalid x-stackpilot.orchestrator) or runs the Swarm job.
func orSwarm(err error, job func() error) error {
	if err != nil {
		return err
	}
	return job()
}

// runSwarmLogs is the Logs job on a Swarm: each service's logs from every
// node, through the manager, each line prefixed with its task's slot and node.
func runSwarmLogs(ctx context.Context, f *Factory, st *stackops.Stack, opts *logsOptions) error {
	if opts.Summary {
		return swarmRefusal(st, "logs --summary", "it counts containers on one engine; on a Swarm, `stackpilot logs --level warn` shows every task's warnings and errors, and `stackpilot status` each task's failures")
	}
	lo, err := resolveLogsOptions(opts, time.Now())
	if err != nil {
		return err
	}
	if _, err := st.ResolveServices(opts.Services); err != nil {
		return err
	}
	c, err := openSwarm(ctx, st)
	if err != nil {
		return err
	}
	cs := f.IO.ColorScheme()
	w := f.IO.Out
	err = c.Logs(ctx, swarm.LogsOptions{Services: opts.Services, Follow: opts.Follow, Tail: lo.Tail, Since: lo.Since, Until: lo.Until, Grep: lo.Grep, Level: lo.Level},
		func(l swarm.LogLine) error {
			if opts.JSON {
				b, _ := json.Marshal(l)
				_, err := fmt.Fprintln(w, string(b))
				return err
			}
			var b strings.Builder
			if opts.Timestamps {
				b.WriteString(cs.Gray(l.Time.Format(time.RFC3339Nano)) + " ")
			}
			if !opts.NoPrefix {
				b.WriteString(cs.Cyan(fmt.Sprintf("%s.%d@%s", l.Service, l.Slot, l.Node)) + " | ")
			}
			b.WriteString(l.Text)
			_, err := fmt.Fprintln(w, b.String())
			return err
		})
	if err != nil && ctx.Err() != nil && opts.Follow {
		return nil
	}
	return err
}

// addSwarmChecks adds the Swarm checks to doctor's for a stack in Swarm
// mode (swarm.Doctor); a failed one fails doctor.
func addSwarmChecks(ctx context.Context, res *stackops.DoctorResult) {
	if res.Stack == nil {
		return
	}
	if on, err := res.Stack.SwarmMode(); err != nil || !on {
		return
	}
	for _, c := range swarm.Doctor(ctx, res.Stack) {
		res.Checks = append(res.Checks, c)
		if !c.OK && !c.Skipped {
			res.OK = false
		}
	}
}

// swarmBackupAccess connects a backup job to the Swarm node that holds the
// services' volumes (swarm.Cluster.BackupAccess).
func swarmBackupAccess(ctx context.Context, st *stackops.Stack, services []string, op string, timeout time.Duration, sink stackops.EventSink) (*backup.OnSwarm, error) {
	c, err := openSwarm(ctx, st)
	if err != nil {
		return nil, err
	}
	return c.BackupAccess(ctx, services, op, timeout, sink)
}

// swarmMenu adapts the menu to a stack on a Swarm: the header's "swarm · N
// nodes", a Nodes view, and without the jobs that have no Swarm meaning
// (they would only refuse). ok is false for a stack not in Swarm mode; an
// engine that cannot say how many nodes it has shows "swarm · ?".
func swarmMenu(ctx context.Context, st *stackops.Stack, entries []menuEntry) (string, []menuEntry, bool) {
	if on, err := st.SwarmMode(); err != nil || !on {
		return "", nil, false
	}
	header := "swarm · ? nodes"
	if eng, err := st.Engine(); err == nil {
		if info, err := eng.SwarmInfo(ctx); err == nil && info.Nodes > 0 {
			header = fmt.Sprintf("swarm · %d nodes", info.Nodes)
		}
	}
	var out []menuEntry
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Label, "Restart"), strings.HasPrefix(e.Label, "Stop"), strings.HasPrefix(e.Label, "Start"),
			strings.HasPrefix(e.Label, "Down"):
			continue
		}
		out = append(out, e)
		if strings.HasPrefix(e.Label, "Watch status") {
			out = append(out, menuEntry{Label: "Nodes — the Swarm's nodes, their state and the stack's tasks", Equivalent: []string{"status"}, Run: runSwarmNodes})
		}
	}
	return header, out, true
}

// runSwarmNodes is the menu's Nodes view: each node with its role, state,
// availability and the stack's running tasks on it.
func runSwarmNodes(ctx context.Context, f *Factory) error {
	st, err := f.Stack(ctx)
	if err != nil {
		return err
	}
	c, err := openSwarm(ctx, st)
	if err != nil {
		return err
	}
	res, err := c.Status(ctx, nil)
	if err != nil {
		return err
	}
	printSwarmNodes(f.IO.Out, f.IO.ColorScheme(), res.Nodes)
	return nil
}
