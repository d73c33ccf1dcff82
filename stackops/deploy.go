package stackops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// DeployOptions configures Deploy. The zero value builds and starts every
// service and waits until they are ready.
type DeployOptions struct {
	// Services to deploy; every service when empty. Compose also starts (and,
	// if their configuration changed, recreates) their dependencies, and the
	// health gate watches those too.
	Services []string
	// NoBuild skips building images (`up --no-build`).
	NoBuild bool
	// Pull pulls newer images of services that are not built here and the
	// base images of those that are, before starting.
	Pull bool
	// ForceRecreate recreates containers even when nothing changed.
	ForceRecreate bool
	// Timeout bounds the health gate, which starts once Compose has started
	// the containers; x-stackpilot deploy.timeout, else DefaultGateTimeout, when zero.
	Timeout time.Duration
	// NoWait returns once Compose has started the containers, without the health gate.
	NoWait bool
	// LockWait is how long to wait for another operation's stack lock (0: fail at once).
	LockWait time.Duration
	// Sink receives progress: a line per service, and one per hook.
	Sink EventSink
	// Output, when set, receives Compose's and the hooks' own output as it
	// is written (-v). Either way the last lines are kept for the result.
	Output io.Writer
}

// ServiceDeploy is one service's outcome: what Compose did to it, the
// images before and after, and the health gate's verdict.
type ServiceDeploy struct {
	ServiceHealth
	// Action is created, recreated, started, unchanged, or not created.
	Action string `json:"action"`
	// ImageBefore and ImageAfter are engine image IDs ("" when there was no container).
	ImageBefore string `json:"image_before,omitempty"`
	ImageAfter  string `json:"image_after,omitempty"`
}

// DeployResult is what Deploy (and Rollback) did.
type DeployResult struct {
	ID        string          `json:"id"`
	Project   string          `json:"project"`
	Operation string          `json:"operation"` // deploy or rollback
	Services  []ServiceDeploy `json:"services"`
	OK        bool            `json:"ok"`
	// Result is success, failed or cancelled, as recorded in the history.
	Result     string    `json:"result"`
	Error      string    `json:"error,omitempty"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS int64     `json:"duration_ms"`
	Compose    string    `json:"compose"`
	// Commands are the Compose command lines run, in order.
	Commands [][]string `json:"commands"`
	// ComposeOutput is Compose's last output lines when a Compose command failed.
	ComposeOutput []string  `json:"compose_output,omitempty"`
	Hooks         []HookRun `json:"hooks"`
	// Waited is false with NoWait (the health gate did not run).
	Waited   bool `json:"waited"`
	TimedOut bool `json:"timed_out"`
	// Warnings are things that did not stop the deploy but deserve a look
	// (e.g. an image that could not be kept for rollback).
	Warnings []string `json:"warnings,omitempty"`
	// Repairs are what stackpilot did, after Compose was stopped (Ctrl-C) or
	// failed in the middle of replacing a container, so that each replica is
	// one container under its own name again.
	Repairs []ReplicaRepair `json:"repairs,omitempty"`
}

// NotRunning returns the services that have no running container, with
// the state they are in (after a cancelled rollout: what is down).
func (r *DeployResult) NotRunning() []ServiceDeploy {
	var out []ServiceDeploy
	for _, s := range r.Services {
		if s.State != StateRunning {
			out = append(out, s)
		}
	}
	return out
}

// Failed returns the services that failed and, when the health gate ran out
// of time, those that were not ready yet; failures first.
func (r *DeployResult) Failed() []ServiceDeploy {
	var failed, slow []ServiceDeploy
	for _, s := range r.Services {
		switch {
		case s.Failed:
			failed = append(failed, s)
		case !s.Ready && r.Waited && r.TimedOut:
			slow = append(slow, s)
		}
	}
	return append(failed, slow...)
}

// ErrComposeFailed means a Compose command exited non-zero.
var ErrComposeFailed = errors.New("compose command failed")

// ComposeFailedError is a Compose command that exited non-zero, with the
// last lines it printed.
type ComposeFailedError struct {
	Command []string // the full argv
	Sub     string   // the Compose subcommand: up, build, pull, stop …
	Code    int
	Output  []string
}

func (e *ComposeFailedError) Error() string {
	name := "compose"
	if len(e.Command) > 0 {
		name = e.Command[0]
		if name == "docker" {
			name = "docker compose"
		}
	}
	msg := fmt.Sprintf("%s %s exited with status %d", name, e.Sub, e.Code)
	for _, l := range e.Output {
		if strings.Contains(l, "Install paramiko package to enable ssh:// support") {
			return msg + ": " + composeV1NoSSH
		}
	}
	if why := composeErrorSummary(e.Output); why != "" {
		msg += ": " + why
	}
	return msg
}

// composeV1NoSSH says why Compose v1 cannot reach an ssh:// engine here.
const composeV1NoSSH = "Compose v1 (docker-compose) reaches ssh:// engines only through the Python package paramiko, which is not installed — install it (Debian: apt-get install python3-paramiko), use Compose v2 (unset " + ComposeEnvVar + "), or reach the engine over tcp:// with TLS"

// Is matches ErrComposeFailed.
func (e *ComposeFailedError) Is(target error) bool { return target == ErrComposeFailed }

// composeErrorSummary picks the lines that say why Compose failed: its
// error lines (v1 prints "ERROR: …", v2 "Error …" or "… failed …"), else the last line.
func composeErrorSummary(lines []string) string {
	var picked []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		low := strings.ToLower(t)
		if t == "" || strings.Contains(low, "requires buildx") {
			continue
		}
		if strings.HasPrefix(low, "error") || strings.Contains(low, "failed") || strings.Contains(low, " error ") || strings.Contains(low, "is unhealthy") {
			picked = append(picked, t)
		}
	}
	if len(picked) == 0 {
		for i := len(lines) - 1; i >= 0; i-- {
			if t := strings.TrimSpace(lines[i]); t != "" && !strings.Contains(strings.ToLower(t), "requires buildx") {
				return t
			}
		}
		return ""
	}
	if len(picked) > 3 {
		picked = picked[len(picked)-3:]
	}
	return strings.Join(picked, " · ")
}

// Deploy builds (unless NoBuild) and starts the selected services through
// Compose, v2 or v1, then holds them to the health gate (unless NoWait):
// every container running and healthy, or running and stable for the settle
// time, every probe answering 2xx, one-shot jobs exited 0 — and the first
// container that exits non-zero, restarts or turns unhealthy fails the deploy
// at once with its report.
//
// It holds the stack lock throughout, so two deploys (or a deploy and a
// restore) never interleave. Before anything changes it runs the
// pre-deploy hooks (a failure stops the deploy there) and tags the images the
// services run now, so Rollback can bring them back. Every deploy that got
// the lock is appended to the history, whatever its outcome. A Ctrl-C
// reaches Compose once, from the terminal; Deploy waits for it to finish,
// records the deploy as cancelled and returns ErrInterrupted.
//
// The result is returned even when err is not nil (except when the deploy
// could not start: bad services or config, lock held).
func (s *Stack) Deploy(ctx context.Context, opts DeployOptions) (*DeployResult, error) {
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
	build := !opts.NoBuild
	spec := rolloutSpec{
		op:            "deploy",
		services:      services,
		allServices:   len(opts.Services) == 0,
		gate:          s.withDependencies(services),
		build:         build,
		pull:          opts.Pull,
		forceRecreate: opts.ForceRecreate,
		timeout:       opts.Timeout,
		noWait:        opts.NoWait,
		lockWait:      opts.LockWait,
		sink:          opts.Sink,
		output:        opts.Output,
	}
	spec.commands = func(c *ComposeCLI) [][]string {
		return s.deployCommands(c, spec.services, spec.allServices, build, opts.Pull, opts.ForceRecreate)
	}
	return s.rollout(ctx, spec)
}

// deployCommands are the Compose subcommands a deploy runs. Without --pull
// it is a single `up -d --build`, as fast as Compose itself; with --pull the
// pulls and the build come first, since `up --pull` would also try to pull
// images that are built here (and so exist in no registry).
func (s *Stack) deployCommands(c *ComposeCLI, services []string, all, build, pull, force bool) [][]string {
	var cmds [][]string
	targets := services
	if all {
		targets = nil
	}
	up := []string{"up", "-d"}
	if pull {
		var pullable, buildable []string
		for _, name := range s.withDependencies(services) {
			svc := s.Project.Services[name]
			switch {
			case svc.Build != nil && build:
				buildable = append(buildable, name)
			case svc.Build != nil && svc.Image == "":
				// Built here and not building: nothing to pull.
			case svc.Image != "":
				if svc.Build == nil || !build {
					pullable = append(pullable, name)
				}
			}
		}
		if len(pullable) > 0 {
			cmds = append(cmds, append([]string{"pull"}, pullable...))
		}
		if len(buildable) > 0 {
			cmds = append(cmds, append([]string{"build", "--pull"}, buildable...))
		}
		up = append(up, "--no-build")
	} else if build {
		up = append(up, "--build")
	} else {
		up = append(up, "--no-build")
	}
	if force {
		up = append(up, "--force-recreate")
	}
	cmds = append(cmds, append(up, targets...))
	return cmds
}

// withDependencies adds the services the given ones depend on (transitively),
// which Compose starts with them; the result is sorted.
func (s *Stack) withDependencies(services []string) []string {
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		svc, ok := s.Project.Services[name]
		if !ok {
			return
		}
		seen[name] = true
		for dep := range svc.DependsOn {
			visit(dep)
		}
	}
	for _, n := range services {
		visit(n)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// rolloutSpec is what differs between a deploy and a rollback; rollout does the rest.
type rolloutSpec struct {
	op            string
	services      []string // selected
	allServices   bool     // none named: Compose gets no service arguments
	gate          []string // selected plus dependencies
	build, pull   bool
	forceRecreate bool
	timeout       time.Duration
	noWait        bool
	lockWait      time.Duration
	sink          EventSink
	output        io.Writer
	// prepare runs after the pre-deploy hooks and after the current images
	// were kept, before Compose (rollback retags images here).
	prepare func(ctx context.Context, c *ComposeCLI, eng *engine.Client, before *snapshot) error
	// commands returns the Compose subcommands to run, in order.
	commands func(c *ComposeCLI) [][]string
}

type composeAnswer struct {
	cli *ComposeCLI
	err error
}

// rollout is the shared body of Deploy and Rollback.
func (s *Stack) rollout(ctx context.Context, spec rolloutSpec) (*DeployResult, error) {
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
	sink := SinkOrNop(spec.sink)
	timeout := spec.timeout
	if timeout <= 0 {
		timeout = cfg.Timeout.Or(DefaultGateTimeout)
	}
	settle := cfg.Settle.Or(DefaultGateSettle)
	keep := DefaultKeepImages
	if cfg.KeepImages != nil {
		keep = *cfg.KeepImages
	}

	// Compose is detected while the lock is taken and the stack is read: a
	// no-op deploy should cost little more than Compose itself.
	composeCh := make(chan composeAnswer, 1)
	go func() {
		c, err := s.Compose(ctx)
		composeCh <- composeAnswer{c, err}
	}()
	lock, err := s.LockStack(ctx, spec.op, spec.lockWait)
	if err != nil {
		<-composeCh
		return nil, err
	}
	defer lock.Release()

	start := time.Now()
	user, host := whoAmI()
	res := &DeployResult{
		ID:        newRecordID(start),
		Project:   s.Name,
		Operation: spec.op,
		StartedAt: start.UTC(),
		Commands:  [][]string{},
		Hooks:     []HookRun{},
		Services:  []ServiceDeploy{},
	}
	rec := HistoryRecord{ID: res.ID, Op: spec.op, Time: start.UTC(), User: user, Host: host, Services: spec.services,
		Build: spec.build, Pull: spec.pull, Waited: !spec.noWait}

	if spec.op == "deploy" {
		for _, b := range s.ClientBindMounts() {
			res.Warnings = append(res.Warnings, b.String())
		}
	}
	sink.Start(spec.op)
	var tails *replacedTails // what the containers said, read before Compose runs
	// finish records the outcome in the result and the history, whatever happened.
	finish := func(before, after *snapshot, err error) (*DeployResult, error) {
		res.DurationMS = time.Since(start).Milliseconds()
		switch {
		case err == nil:
			res.OK, res.Result = true, ResultSuccess
		case errors.Is(err, ErrInterrupted) || errors.Is(err, context.Canceled) || ctx.Err() != nil:
			res.Result = ResultCancelled
			res.Error = err.Error()
			if len(res.Services) == 0 {
				// Whenever it was cancelled, say what state each service is in now.
				res.Services = s.cancelledServices(context.WithoutCancel(ctx), eng, spec, before, after, start, settle, sink)
			}
		default:
			res.Result = ResultFailed
			res.Error = err.Error()
		}
		rec.Result, rec.Error, rec.DurationMS = res.Result, res.Error, res.DurationMS
		rec.Compose = res.Compose
		if before != nil {
			rec.ImagesBefore = before.images(spec.gate)
		}
		if after != nil {
			rec.ImagesAfter = after.images(spec.gate)
		} else {
			rec.ImagesAfter = rec.ImagesBefore
		}
		if herr := s.appendHistory(rec); herr != nil {
			res.Warnings = append(res.Warnings, "could not record the history: "+herr.Error())
		}
		if tails != nil && len(res.Commands) > 0 {
			res.Warnings = append(res.Warnings, s.keepReplacedLogs(context.WithoutCancel(ctx), eng, tails, after, spec.op+" "+res.ID)...)
		}
		if err == nil && keep > 0 {
			if perr := s.pruneRollbackTags(context.WithoutCancel(ctx), eng, keep); perr != nil {
				res.Warnings = append(res.Warnings, "could not prune old rollback images: "+perr.Error())
			}
		}
		sink.Done(spec.op, err)
		return res, err
	}

	before, err := s.takeSnapshot(ctx, eng, spec.gate)
	if err != nil {
		<-composeCh
		return finish(nil, nil, err)
	}
	tails = s.readTails(ctx, eng, before)
	ca := <-composeCh
	if ca.err != nil {
		return finish(before, nil, ca.err)
	}
	c := ca.cli
	res.Compose = string(c.Variant) + " " + c.Version

	hookEnv := s.hookEnv(spec, res, c, before)
	if len(cfg.PreDeploy) > 0 {
		runs, err := s.runHooks(ctx, "pre-deploy", cfg.PreDeploy, hookEnv, spec.output, sink, spec.op)
		res.Hooks = append(res.Hooks, runs...)
		if err != nil {
			res.Services = s.servicesFromSnapshot(spec.gate, before, before)
			return finish(before, before, fmt.Errorf("%w — nothing was changed", err))
		}
	}

	if keep > 0 {
		res.Warnings = append(res.Warnings, s.keepImages(ctx, eng, before.images(spec.gate))...)
	}
	if spec.prepare != nil {
		if err := spec.prepare(ctx, c, eng, before); err != nil {
			after, _ := s.takeSnapshot(context.WithoutCancel(ctx), eng, spec.gate)
			return finish(before, after, err)
		}
	}

	// Progress while Compose works: an initial phase per service, then the
	// engine's container events (create, start) as they happen.
	for _, name := range spec.gate {
		phase := "starting"
		svc := s.Project.Services[name]
		switch {
		case spec.op == "rollback":
			phase = "recreating"
		case spec.build && svc.Build != nil:
			phase = "building"
		case spec.pull && svc.Image != "":
			phase = "pulling"
		}
		sink.Event(Event{Op: spec.op, Service: name, Phase: phase, Time: time.Now()})
	}
	// Nothing is removed before every log end has been read.
	tails.wait()
	tracker := newReplaceTracker(before)
	stopWatch := s.watchComposeProgress(ctx, eng, spec.op, spec.gate, before, sink, tracker)
	grace := s.maxStopGrace(spec.gate)
	var composeErr error
	upRan := false
	var stoppedAt time.Time
	for _, sub := range spec.commands(c) {
		if ctx.Err() != nil {
			composeErr = context.Cause(ctx)
			break
		}
		argv, err := s.ComposeArgs(c, sub...)
		if err != nil {
			composeErr = err
			break
		}
		res.Commands = append(res.Commands, argv)
		tail := newLineTail(200, s.buildProgressLine(c, spec.op, spec.gate, sink))
		var w io.Writer = tail
		if spec.output != nil {
			w = io.MultiWriter(tail, spec.output)
		}
		cmd := Cmd{Args: argv, Dir: s.WorkDir, Env: s.composeEnv(c), Stdout: w, Stderr: w}
		if sub[0] == "up" {
			// up replaces containers: it is stopped only between two
			// replacements, and what it leaves is put right below.
			upRan = true
			err = s.runUp(ctx, cmd, tracker, sink, spec.op, grace)
			stoppedAt = time.Now()
			if ctx.Err() != nil {
				sink.Event(Event{Op: spec.op, Phase: "cancelled", Message: "Compose stopped", Time: stoppedAt, Final: true, Failed: true})
			}
		} else {
			err = s.Runner.Run(ctx, cmd)
		}
		tail.Flush()
		if err == nil && ctx.Err() != nil {
			// Compose finished its work despite the interrupt; go no further.
			err = context.Cause(ctx)
		}
		if err != nil {
			if ctx.Err() != nil {
				composeErr = context.Cause(ctx)
				break
			}
			var ee *ExitError
			if errors.As(err, &ee) {
				res.ComposeOutput = tail.Lines()
				composeErr = &ComposeFailedError{Command: argv, Sub: sub[0], Code: ee.Code, Output: tail.Lines()}
			} else {
				composeErr = err
			}
			break
		}
	}
	if composeErr != nil && upRan {
		// Compose may have stopped between two steps of a replacement.
		bg, cancelRepair := context.WithTimeout(context.WithoutCancel(ctx), 2*(grace+finishSlack))
		repairs, warnings := s.putRight(bg, eng, spec.gate, before, tracker, stoppedAt, grace)
		cancelRepair()
		res.Repairs = append(res.Repairs, repairs...)
		res.Warnings = append(res.Warnings, warnings...)
		for _, r := range repairs {
			sink.Event(Event{Op: spec.op, Service: r.Service, Phase: "repaired", Message: r.Detail, Time: time.Now()})
		}
	}
	stopWatch()
	if composeErr != nil {
		bg := context.WithoutCancel(ctx)
		after, _ := s.takeSnapshot(bg, eng, spec.gate)
		if ctx.Err() == nil {
			// Say which containers failed (a dependency that exited or
			// turned unhealthy is the usual reason Compose gives up).
			look := s.lookOnce(bg, eng, spec.gate, start, settle)
			res.Services = s.servicesFromLook(spec.gate, before, after, look, true)
			for _, sd := range res.Services {
				if sd.Failed {
					sink.Event(Event{Op: spec.op, Service: sd.Service, Phase: "failed", Message: sd.Reason, Time: time.Now(), Final: true, Failed: true})
				}
			}
		}
		return finish(before, after, composeErr)
	}

	if !spec.noWait {
		res.Waited = true
		gres, err := s.WaitHealthy(ctx, HealthGateOptions{Services: spec.gate, Timeout: timeout, Settle: settle, Since: start, Op: spec.op, Sink: sink})
		bg := context.WithoutCancel(ctx)
		after, _ := s.takeSnapshot(bg, eng, spec.gate)
		switch {
		case gres != nil:
			res.TimedOut = gres.TimedOut
			res.Services = s.servicesFromLook(spec.gate, before, after, gres.Services, false)
		case ctx.Err() != nil:
			// finish reports the state each service is in.
		case after != nil:
			res.Services = s.servicesFromSnapshot(spec.gate, before, after)
		}
		if err != nil {
			return finish(before, after, err)
		}
		return s.afterRollout(ctx, spec, cfg, res, hookEnv, before, after, sink, finish)
	}
	after, _ := s.takeSnapshot(context.WithoutCancel(ctx), eng, spec.gate)
	look := s.lookOnce(ctx, eng, spec.gate, start, settle)
	res.Services = s.servicesFromLook(spec.gate, before, after, look, false)
	for _, sd := range res.Services {
		sink.Event(Event{Op: spec.op, Service: sd.Service, Phase: sd.Action, Message: "not waiting for health (--no-wait)", Time: time.Now(), Final: true})
	}
	return s.afterRollout(ctx, spec, cfg, res, hookEnv, before, after, sink, finish)
}

// afterRollout runs the post-deploy hooks of a rollout that succeeded.
func (s *Stack) afterRollout(ctx context.Context, spec rolloutSpec, cfg DeployConfig, res *DeployResult, env []string,
	before, after *snapshot, sink EventSink, finish func(before, after *snapshot, err error) (*DeployResult, error)) (*DeployResult, error) {
	if len(cfg.PostDeploy) > 0 {
		env = append(env,
			"STACKPILOT_RESULT=success",
			"STACKPILOT_DURATION_MS="+strconv.FormatInt(time.Since(res.StartedAt).Milliseconds(), 10),
			"STACKPILOT_IMAGES_AFTER="+formatImages(after.images(spec.gate)))
		runs, err := s.runHooks(ctx, "post-deploy", cfg.PostDeploy, env, spec.output, sink, spec.op)
		res.Hooks = append(res.Hooks, runs...)
		if err != nil {
			return finish(before, after, fmt.Errorf("%w — the services were deployed and are running", err))
		}
	}
	return finish(before, after, nil)
}

// hookEnv is the STACKPILOT_* environment hooks get.
func (s *Stack) hookEnv(spec rolloutSpec, res *DeployResult, c *ComposeCLI, before *snapshot) []string {
	user, _ := whoAmI()
	return []string{
		"STACKPILOT_OPERATION=" + spec.op,
		"STACKPILOT_PROJECT=" + s.Name,
		"STACKPILOT_PROJECT_DIR=" + s.Dir,
		"STACKPILOT_SERVICES=" + strings.Join(spec.services, " "),
		"STACKPILOT_DEPLOY_ID=" + res.ID,
		"STACKPILOT_COMPOSE=" + string(c.Variant),
		"STACKPILOT_USER=" + user,
		"STACKPILOT_BUILD=" + strconv.FormatBool(spec.build),
		"STACKPILOT_PULL=" + strconv.FormatBool(spec.pull),
		"STACKPILOT_IMAGES_BEFORE=" + formatImages(before.images(spec.gate)),
	}
}

// formatImages renders service=image pairs, sorted, space-separated.
func formatImages(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, " ")
}

// snapshot is the project's service containers at one moment.
type snapshot struct {
	byService map[string][]snapContainer
}

type snapContainer struct {
	ID       string
	Name     string
	ImageID  string
	ImageRef string // the reference the container was created from; "" when the engine shows only the image's ID
	State    string
	Number   int
}

// takeSnapshot lists the services' containers in one engine call.
func (s *Stack) takeSnapshot(ctx context.Context, eng *engine.Client, services []string) (*snapshot, error) {
	cs, err := s.ProjectContainers(ctx, eng, services)
	if err != nil {
		return nil, err
	}
	snap := &snapshot{byService: map[string][]snapContainer{}}
	for _, c := range cs {
		snap.byService[c.Service] = append(snap.byService[c.Service], snapContainer{ID: c.ID, Name: c.Name, ImageID: c.ImageID, ImageRef: c.Image, State: c.State, Number: c.Number})
	}
	return snap, nil
}

// images maps each service with a container to the image ID its first container runs.
func (sn *snapshot) images(services []string) map[string]string {
	out := map[string]string{}
	if sn == nil {
		return out
	}
	for _, name := range services {
		if cs := sn.byService[name]; len(cs) > 0 && cs[0].ImageID != "" {
			out[name] = cs[0].ImageID
		}
	}
	return out
}

func (sn *snapshot) ids(service string) map[string]bool {
	out := map[string]bool{}
	if sn == nil {
		return out
	}
	for _, c := range sn.byService[service] {
		out[c.ID] = true
	}
	return out
}

// action says what Compose did to a service between two snapshots.
func action(before, after *snapshot, service string) string {
	b, a := before.ids(service), after.ids(service)
	if after == nil {
		return "unknown"
	}
	if len(a) == 0 {
		if len(b) == 0 {
			return "not created"
		}
		return "removed"
	}
	if len(b) == 0 {
		return "created"
	}
	for id := range a {
		if !b[id] {
			return "recreated"
		}
	}
	wasRunning := false
	for _, c := range before.byService[service] {
		if c.State == StateRunning {
			wasRunning = true
		}
	}
	if !wasRunning {
		return "started"
	}
	return "unchanged"
}

func (s *Stack) servicesFromSnapshot(services []string, before, after *snapshot) []ServiceDeploy {
	out := make([]ServiceDeploy, 0, len(services))
	bi, ai := before.images(services), after.images(services)
	for _, name := range services {
		sd := ServiceDeploy{ServiceHealth: ServiceHealth{Service: name, State: StateNotCreated}, Action: action(before, after, name),
			ImageBefore: bi[name], ImageAfter: ai[name]}
		if after != nil {
			if cs := after.byService[name]; len(cs) > 0 {
				sd.State, sd.Container, sd.ContainerID = cs[0].State, cs[0].Name, cs[0].ID
			}
		}
		out = append(out, sd)
	}
	return out
}

// servicesFromLook merges the gate's verdicts with what Compose did.
// onlyFailures keeps the logs of failed services only (after a Compose failure,
// services that were merely not started yet need no report).
func (s *Stack) servicesFromLook(services []string, before, after *snapshot, look []ServiceHealth, onlyFailures bool) []ServiceDeploy {
	byName := map[string]ServiceHealth{}
	for _, sh := range look {
		byName[sh.Service] = sh
	}
	out := s.servicesFromSnapshot(services, before, after)
	for i := range out {
		if sh, ok := byName[out[i].Service]; ok {
			if onlyFailures && !sh.Failed {
				sh.Logs = nil
			}
			out[i].ServiceHealth = sh
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Failed && !out[j].Failed })
	return out
}

// watchComposeProgress turns the engine's container events into progress
// lines while Compose works — including, at once, a new container that dies
// or turns unhealthy. It returns the function that stops it.
//
// The tracker sees every container event of the project. The watch outlives
// a cancelled ctx (the tracker is needed most then) and ends when the
// returned function is called. It starts from the moment it is called, so an
// event Compose causes before the stream is connected is replayed, not lost.
func (s *Stack) watchComposeProgress(ctx context.Context, eng *engine.Client, op string, services []string, before *snapshot, sink EventSink, tr *replaceTracker) func() {
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	since := time.Now()
	wanted := map[string]bool{}
	old := map[string]bool{}
	for _, n := range services {
		wanted[n] = true
		for id := range before.ids(n) {
			old[id] = true
		}
	}
	events, _ := eng.Events(wctx, engineSince(since), engine.Filters{"type": {"container"}, "label": {LabelProject + "=" + s.Name}})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for e := range events {
			tr.observe(e)
			svc := e.Actor.Attributes[LabelService]
			if !wanted[svc] || strings.EqualFold(e.Actor.Attributes[LabelOneOff], "true") {
				continue
			}
			var phase, msg string
			final := false
			switch {
			case e.Action == "die" && !old[e.Actor.ID]:
				// A new container died while Compose is still busy with
				// others (v1 can take seconds more): say so now; the health
				// gate confirms it the moment Compose returns.
				code := e.Actor.Attributes["exitCode"]
				model := s.Project.Services[svc]
				if code == "0" && IsOneShot(model) {
					continue
				}
				phase, msg, final = "failed", "exited with status "+code, true
			case strings.HasPrefix(e.Action, "health_status") && strings.Contains(e.Action, "unhealthy") && !old[e.Actor.ID]:
				phase, msg, final = "failed", "unhealthy", true
			case e.Action == "create":
				phase = "container created"
			case e.Action == "start":
				phase = "started"
			case e.Action == "stop" && old[e.Actor.ID]:
				phase = "stopping the old container"
			case e.Action == "destroy" && old[e.Actor.ID]:
				phase = "removed the old container"
			default:
				continue
			}
			sink.Event(Event{Op: op, Service: svc, Phase: phase, Message: msg, Time: time.Now(), Final: final, Failed: final})
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// buildProgressLine reads Compose's output for the end of each image build
// ("Successfully tagged REF" from the classic builder, "Image REF Built"
// from v2), so a service's line moves on from "building".
func (s *Stack) buildProgressLine(c *ComposeCLI, op string, services []string, sink EventSink) func(string) {
	refs := map[string][]string{}
	for _, name := range services {
		ref := normalizeRef(s.composeImageRef(c, name, nil))
		refs[ref] = append(refs[ref], name)
	}
	var mu sync.Mutex
	done := map[string]bool{}
	return func(line string) {
		t := strings.TrimSpace(line)
		var ref string
		switch {
		case strings.HasPrefix(t, "Successfully tagged "):
			ref = strings.TrimPrefix(t, "Successfully tagged ")
		case strings.HasPrefix(t, "Image ") && strings.HasSuffix(t, " Built"):
			ref = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(t, "Image "), " Built"))
		default:
			return
		}
		mu.Lock()
		defer mu.Unlock()
		for _, svc := range refs[normalizeRef(ref)] {
			if !done[svc] {
				done[svc] = true
				sink.Event(Event{Op: op, Service: svc, Phase: "built", Message: normalizeRef(ref), Time: time.Now()})
			}
		}
	}
}

// composeImageRef is the image name Compose gives a service: its image: key,
// else (for a service that is built) the variant's default name —
// PROJECT-SERVICE for v2, PROJECT_SERVICE for v1. When a container exists,
// the reference it was created from wins: that is what Compose resolved.
func (s *Stack) composeImageRef(c *ComposeCLI, service string, current *snapshot) string {
	if img := s.Project.Services[service].Image; img != "" {
		return img
	}
	if current != nil {
		if cs := current.byService[service]; len(cs) > 0 && cs[0].ImageRef != "" && !strings.HasPrefix(cs[0].ImageRef, "sha256:") {
			return cs[0].ImageRef
		}
	}
	if c != nil && c.Variant == ComposeV1 {
		return strings.TrimLeft(s.Name, "-_") + "_" + service
	}
	return s.Name + "-" + service
}

// normalizeRef adds ":latest" to a reference without a tag or digest.
func normalizeRef(ref string) string {
	if strings.Contains(ref, "@") {
		return ref
	}
	slash := strings.LastIndex(ref, "/")
	if !strings.Contains(ref[slash+1:], ":") {
		return ref + ":latest"
	}
	return ref
}

// engineSince renders a time as the engine's since/until parameter.
func engineSince(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// splitRef splits a reference into repository and tag ("latest" when none).
func splitRef(ref string) (repo, tag string) {
	slash := strings.LastIndex(ref, "/")
	if i := strings.LastIndex(ref, ":"); i > slash {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

// lookOnce judges the services once, without waiting, reporting failures with their logs.
func (s *Stack) lookOnce(ctx context.Context, eng *engine.Client, services []string, since time.Time, settle time.Duration) []ServiceHealth {
	probes, _ := s.Probes()
	containers, err := s.gateLook(ctx, eng, services)
	if err != nil {
		return nil
	}
	res := &HealthGateResult{Services: s.judgeGate(ctx, services, containers, probes, map[string]int{}, since, settle, time.Now())}
	s.attachHealthOutput(ctx, eng, res, containers)
	s.attachReports(ctx, eng, res, DefaultGateLogLines)
	return res.Services
}

// lineTail is an io.Writer that keeps the last n lines written and calls
// onLine for each complete line.
type lineTail struct {
	mu     sync.Mutex
	n      int
	lines  []string
	part   bytes.Buffer
	onLine func(string)
}

func newLineTail(n int, onLine func(string)) *lineTail {
	return &lineTail{n: n, onLine: onLine}
}

func (t *lineTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part.Write(p)
	for {
		b := t.part.Bytes()
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			break
		}
		line := overwritten(string(b[:i]))
		t.part.Next(i + 1)
		if line == "" {
			continue
		}
		t.addLocked(line)
	}
	return len(p), nil
}

// overwritten is what a terminal shows of a line that rewrites itself with
// carriage returns (progress counters): the text after the last one.
func overwritten(line string) string {
	line = strings.TrimRight(line, "\r")
	if i := strings.LastIndexByte(line, '\r'); i >= 0 {
		line = line[i+1:]
	}
	return strings.TrimRight(line, " ")
}

func (t *lineTail) addLocked(line string) {
	t.lines = append(t.lines, line)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
	if t.onLine != nil {
		t.onLine(line)
	}
}

// Flush ends a last line written without a newline.
func (t *lineTail) Flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.part.Len() > 0 {
		if line := overwritten(t.part.String()); line != "" {
			t.addLocked(line)
		}
		t.part.Reset()
	}
}

// Lines returns a copy of the kept lines.
func (t *lineTail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.lines...)
}
