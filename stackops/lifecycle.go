package stackops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// ErrNoContainer means a service has no container to act on (it was never deployed, or is down).
var ErrNoContainer = errors.New("no container")

// LifecycleOptions configures Start, Stop and Restart.
type LifecycleOptions struct {
	// Services to act on; every service when empty.
	Services []string
	// Timeout bounds the health gate after start and restart
	// (x-stackpilot deploy.timeout, else DefaultGateTimeout, when zero).
	Timeout time.Duration
	// NoWait skips the health gate after start and restart.
	NoWait bool
	// LockWait is how long to wait for another operation's stack lock.
	LockWait time.Duration
	// Sink receives progress.
	Sink EventSink
	// Output, when set, receives Compose's own output (-v).
	Output io.Writer
}

// DownOptions configures Down.
type DownOptions struct {
	// Volumes also removes the project's named volumes: their data is lost.
	Volumes bool
	// Confirm is asked before volumes are removed; nil refuses (ErrConfirmationRequired).
	Confirm ConfirmFunc
	// LockWait is how long to wait for another operation's stack lock.
	LockWait time.Duration
	// Sink receives progress.
	Sink EventSink
	// Output, when set, receives Compose's own output (-v).
	Output io.Writer
}

// LifecycleResult is what a start, stop, restart or down did.
type LifecycleResult struct {
	Operation string `json:"operation"`
	Project   string `json:"project"`
	// Services holds each service's state afterwards (the health gate's
	// verdict after start and restart).
	Services   []ServiceHealth `json:"services"`
	OK         bool            `json:"ok"`
	Waited     bool            `json:"waited"`
	DurationMS int64           `json:"duration_ms"`
	Command    []string        `json:"command"`
	// Volumes lists the volumes down --volumes removed.
	Volumes []string `json:"volumes,omitempty"`
	// ComposeOutput is Compose's last output lines when it failed.
	ComposeOutput []string `json:"compose_output,omitempty"`
}

// Start starts the services' existing containers (`compose start`) and,
// unless NoWait, waits for them through the health gate.
func (s *Stack) Start(ctx context.Context, opts LifecycleOptions) (*LifecycleResult, error) {
	return s.lifecycle(ctx, "start", opts, true)
}

// Restart restarts the services' containers (`compose restart`) and, unless
// NoWait, waits for them through the health gate.
func (s *Stack) Restart(ctx context.Context, opts LifecycleOptions) (*LifecycleResult, error) {
	return s.lifecycle(ctx, "restart", opts, true)
}

// Stop stops the services' containers (`compose stop`), keeping them.
func (s *Stack) Stop(ctx context.Context, opts LifecycleOptions) (*LifecycleResult, error) {
	opts.NoWait = true
	return s.lifecycle(ctx, "stop", opts, false)
}

func (s *Stack) lifecycle(ctx context.Context, op string, opts LifecycleOptions, gate bool) (*LifecycleResult, error) {
	if op != "stop" {
		if err := s.Unsealed(); err != nil {
			return nil, err
		}
	}
	services, err := s.ResolveServices(opts.Services)
	if err != nil {
		return nil, err
	}
	cfg, err := s.DeployConfig()
	if err != nil {
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
	lock, err := s.LockStack(ctx, op, opts.LockWait)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	before, err := s.takeSnapshot(ctx, eng, services)
	if err != nil {
		return nil, err
	}
	if op != "stop" {
		var missing []string
		for _, n := range services {
			svc := s.Project.Services[n]
			if len(before.byService[n]) == 0 && svc.GetScale() != 0 {
				missing = append(missing, n)
			}
		}
		if len(missing) > 0 {
			return nil, fmt.Errorf("%w for %s — deploy first: %s", ErrNoContainer, strings.Join(missing, ", "), s.CommandLine(append([]string{"deploy"}, missing...)...))
		}
	}
	sink := SinkOrNop(opts.Sink)
	start := time.Now()
	res := &LifecycleResult{Operation: op, Project: s.Name, Services: []ServiceHealth{}}
	sink.Start(op)
	phase := map[string]string{"start": "starting", "stop": "stopping", "restart": "restarting"}[op]
	for _, n := range services {
		sink.Event(Event{Op: op, Service: n, Phase: phase, Time: time.Now()})
	}
	sub := []string{op}
	if len(opts.Services) > 0 {
		sub = append(sub, services...)
	}
	res.Command, err = s.runComposeStep(ctx, c, sub, opts.Output, &res.ComposeOutput)
	if err != nil {
		res.DurationMS = time.Since(start).Milliseconds()
		sink.Done(op, err)
		return res, err
	}
	settle := cfg.Settle.Or(DefaultGateSettle)
	if gate && !opts.NoWait {
		res.Waited = true
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = cfg.Timeout.Or(DefaultGateTimeout)
		}
		gres, err := s.WaitHealthy(ctx, HealthGateOptions{Services: services, Timeout: timeout, Settle: settle, Since: start, Op: op, Sink: sink})
		if gres != nil {
			res.Services = gres.Services
		}
		res.DurationMS = time.Since(start).Milliseconds()
		res.OK = err == nil
		sink.Done(op, err)
		return res, err
	}
	res.Services = s.lookOnce(ctx, eng, services, start, settle)
	for _, sh := range res.Services {
		msg := sh.State
		if op == "stop" && sh.State == StateExited {
			msg = fmt.Sprintf("exited (%d)", sh.ExitCode)
		}
		sink.Event(Event{Op: op, Service: sh.Service, Phase: map[string]string{"start": "started", "stop": "stopped", "restart": "restarted"}[op], Message: msg, Time: time.Now(), Final: true})
	}
	res.OK = true
	res.DurationMS = time.Since(start).Milliseconds()
	sink.Done(op, nil)
	return res, nil
}

// runComposeStep runs one Compose subcommand, keeping its last output lines
// (and copying it to out when set). It returns the argv that ran.
func (s *Stack) runComposeStep(ctx context.Context, c *ComposeCLI, sub []string, out io.Writer, keep *[]string) ([]string, error) {
	argv, err := s.ComposeArgs(c, sub...)
	if err != nil {
		return nil, err
	}
	tail := newLineTail(200, nil)
	var w io.Writer = tail
	if out != nil {
		w = io.MultiWriter(tail, out)
	}
	err = s.Runner.Run(ctx, Cmd{Args: argv, Dir: s.WorkDir, Env: s.composeEnv(c), Stdout: w, Stderr: w})
	tail.Flush()
	if err == nil {
		return argv, nil
	}
	if ctx.Err() != nil {
		return argv, context.Cause(ctx)
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		*keep = tail.Lines()
		return argv, &ComposeFailedError{Command: argv, Sub: sub[0], Code: ee.Code, Output: tail.Lines()}
	}
	return argv, err
}

// ProjectVolumes lists the named volumes the compose file declares (their
// engine names), leaving out external ones, which Compose never removes.
func (s *Stack) ProjectVolumes() []string {
	var out []string
	for key, v := range s.Project.Volumes {
		if v.External {
			continue
		}
		name := v.Name
		if name == "" {
			name = s.Name + "_" + key
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Down stops and removes the stack's containers and networks (`compose
// down`); with Volumes, its named volumes too, after Confirm agrees (the
// data in them is lost).
func (s *Stack) Down(ctx context.Context, opts DownOptions) (*LifecycleResult, error) {
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	c, err := s.Compose(ctx)
	if err != nil {
		return nil, err
	}
	res := &LifecycleResult{Operation: "down", Project: s.Name, Services: []ServiceHealth{}}
	sub := []string{"down"}
	if opts.Volumes {
		vols := s.ProjectVolumes()
		confirm := opts.Confirm
		if confirm == nil {
			confirm = NeverConfirm
		}
		details := []string{fmt.Sprintf("stop and remove every container and network of %s", s.Name)}
		if len(vols) > 0 {
			details = append(details, "DELETE the volumes "+strings.Join(vols, ", ")+" and all the data in them")
		} else {
			details = append(details, "delete the project's volumes (none are declared) and anonymous volumes")
		}
		ok, err := confirm(ctx, Confirmation{
			Action:      "remove the stack and its volumes",
			Prompt:      "This cannot be undone.",
			Details:     details,
			Destructive: true,
			TypeBack:    s.Name,
		})
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrNotConfirmed
		}
		sub = append(sub, "--volumes")
		res.Volumes = vols
	}
	lock, err := s.LockStack(ctx, "down", opts.LockWait)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	services := s.ServiceNames()
	before, err := s.takeSnapshot(ctx, eng, services)
	if err != nil {
		return nil, err
	}
	sink := SinkOrNop(opts.Sink)
	start := time.Now()
	sink.Start("down")
	for _, n := range services {
		if len(before.byService[n]) > 0 {
			sink.Event(Event{Op: "down", Service: n, Phase: "removing", Time: time.Now()})
		}
	}
	res.Command, err = s.runComposeStep(ctx, c, sub, opts.Output, &res.ComposeOutput)
	res.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		sink.Done("down", err)
		return res, err
	}
	for _, n := range services {
		if len(before.byService[n]) > 0 {
			sink.Event(Event{Op: "down", Service: n, Phase: "removed", Time: time.Now(), Final: true})
		}
		res.Services = append(res.Services, ServiceHealth{Service: n, State: StateNotCreated})
	}
	res.OK = true
	sink.Done("down", nil)
	return res, nil
}
