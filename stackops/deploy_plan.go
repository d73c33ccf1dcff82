package stackops

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"
)

// Plan actions for a service.
const (
	PlanCreate   = "create"
	PlanRecreate = "recreate"
	PlanStart    = "start"
	PlanLeave    = "leave"
)

// PlannedService is what a deploy would do to one service.
type PlannedService struct {
	Service string `json:"service"`
	// Action is create, recreate, start or leave.
	Action string `json:"action"`
	// Reason says why (e.g. "configuration changed", "no container yet").
	Reason string `json:"reason,omitempty"`
	// Build is true when the deploy builds the service's image first; a
	// service left alone is then still recreated if the build changes the image.
	Build bool `json:"build"`
	// Pull is true when the deploy pulls the service's image first.
	Pull bool `json:"pull"`
	// Dependency is true for a service not selected but started with one that is.
	Dependency bool `json:"dependency"`
	// State is the service's state now ("running, healthy", "exited (1)", "not created").
	State string `json:"state"`
	Image string `json:"image"`
}

// DeployPlan is what Deploy would do, worked out without changing anything.
type DeployPlan struct {
	Project  string           `json:"project"`
	Services []PlannedService `json:"services"`
	// Commands are the Compose command lines the deploy would run.
	Commands [][]string `json:"commands"`
	// PreDeploy and PostDeploy are the hooks that would run (known secrets hidden).
	PreDeploy  [][]string `json:"pre_deploy"`
	PostDeploy [][]string `json:"post_deploy"`
	// Wait is false with NoWait; Timeout and Settle are the health gate's.
	Wait      bool   `json:"wait"`
	TimeoutMS int64  `json:"timeout_ms"`
	SettleMS  int64  `json:"settle_ms"`
	Compose   string `json:"compose"`
}

// PlanDeploy works out what Deploy with the same options would do —
// services to build, to create, recreate, start or leave, the Compose
// commands and the hooks — and changes nothing. Whether a container is
// recreated is decided the way Compose decides it: its config-hash label
// against the hash Compose computes now (`config --hash`), the image it runs
// against the image its name points to, and --force-recreate.
func (s *Stack) PlanDeploy(ctx context.Context, opts DeployOptions) (*DeployPlan, error) {
	if err := s.Unsealed(); err != nil {
		return nil, err
	}
	services, err := s.ResolveServices(opts.Services)
	if err != nil {
		return nil, err
	}
	if err := s.EnvironmentErr(services); err != nil {
		return nil, err
	}
	cfg, err := s.DeployConfig()
	if err != nil {
		return nil, err
	}
	if _, err := s.Probes(); err != nil {
		return nil, err
	}
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	c, err := s.Compose(ctx)
	if err != nil {
		return nil, err
	}
	all := s.withDependencies(services)
	selected := map[string]bool{}
	for _, n := range services {
		selected[n] = true
	}

	// Compose's own hash of each service's configuration now.
	var out, errOut bytes.Buffer
	hashArgv, err := s.ComposeArgs(c, "config", "--hash", "*")
	if err != nil {
		return nil, err
	}
	if err := s.Runner.Run(ctx, Cmd{Args: hashArgv, Dir: s.WorkDir, Env: s.composeEnv(c), Stdout: &out, Stderr: &errOut}); err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("compose config --hash: %v: %s", err, firstLine(errOut.String()))
	}
	hashes := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			hashes[f[0]] = f[1]
		}
	}
	containers, err := s.ProjectContainers(ctx, eng, all)
	if err != nil {
		return nil, err
	}
	status, err := s.Status(ctx, StatusOptions{Services: all, NoProbes: true})
	if err != nil {
		return nil, err
	}
	stateOf := map[string]string{}
	for _, row := range status.Services {
		if _, seen := stateOf[row.Service]; seen {
			continue
		}
		st := row.State
		switch {
		case row.State == StateExited:
			st = fmt.Sprintf("exited (%d)", row.ExitCode)
		case row.Health != "":
			st += ", " + row.Health
		}
		stateOf[row.Service] = st
	}

	plan := &DeployPlan{
		Project:    s.Name,
		Services:   []PlannedService{},
		Commands:   [][]string{},
		PreDeploy:  shownHooks(s.Redactor(), cfg.PreDeploy),
		PostDeploy: shownHooks(s.Redactor(), cfg.PostDeploy),
		Wait:       !opts.NoWait,
		Compose:    string(c.Variant) + " " + c.Version,
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = cfg.Timeout.Or(DefaultGateTimeout)
	}
	plan.TimeoutMS = timeout.Milliseconds()
	plan.SettleMS = cfg.Settle.Or(DefaultGateSettle).Milliseconds()

	for _, name := range all {
		svc := s.Project.Services[name]
		ps := PlannedService{Service: name, Dependency: !selected[name], State: stateOf[name], Image: s.composeImageRef(c, name, nil)}
		ps.Build = !opts.NoBuild && svc.Build != nil
		ps.Pull = opts.Pull && svc.Image != "" && !ps.Build
		var mine []string
		for _, ctr := range containers {
			if ctr.Service == name {
				mine = append(mine, ctr.ID)
			}
		}
		switch {
		case len(mine) == 0:
			ps.Action, ps.Reason = PlanCreate, "no container yet"
			if svc.GetScale() == 0 {
				ps.Action, ps.Reason = PlanLeave, "scale 0"
			}
		case opts.ForceRecreate:
			ps.Action, ps.Reason = PlanRecreate, "--force-recreate"
		default:
			ps.Action = PlanLeave
			ps.Reason = "up to date"
			running := false
			for _, ctr := range containers {
				if ctr.Service != name {
					continue
				}
				if h, ok := hashes[name]; ok && ctr.Labels[LabelConfigHsh] != h {
					ps.Action, ps.Reason = PlanRecreate, "configuration changed"
					break
				}
				if img, err := eng.InspectImage(ctx, ps.Image); err == nil && img.ID != ctr.ImageID && !ps.Build {
					ps.Action, ps.Reason = PlanRecreate, "image changed"
					break
				}
				if ctr.Running() {
					running = true
				}
			}
			if ps.Action == PlanLeave && !running {
				ps.Action, ps.Reason = PlanStart, "not running"
			}
		}
		plan.Services = append(plan.Services, ps)
	}
	for _, sub := range s.deployCommands(c, services, len(opts.Services) == 0, !opts.NoBuild, opts.Pull, opts.ForceRecreate) {
		argv, err := s.ComposeArgs(c, sub...)
		if err != nil {
			return nil, err
		}
		plan.Commands = append(plan.Commands, argv)
	}
	return plan, nil
}

// shownHooks are the hooks' argvs as they may be shown: known secrets hidden.
func shownHooks(red *Redactor, h HookList) [][]string {
	out := [][]string{}
	for _, c := range h {
		out = append(out, red.Args(c.Command))
	}
	return out
}

// Timeout is the health gate's timeout.
func (p *DeployPlan) Timeout() time.Duration { return time.Duration(p.TimeoutMS) * time.Millisecond }
