package stackops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// ErrNotHealthy means services did not become ready: one failed, or time ran out.
var ErrNotHealthy = errors.New("services did not become healthy")

// Defaults of the health gate.
const (
	DefaultGateTimeout  = 3 * time.Minute
	DefaultGateSettle   = 5 * time.Second
	DefaultGateInterval = 200 * time.Millisecond
	DefaultGateLogLines = 30
)

// HealthGateOptions configures WaitHealthy.
type HealthGateOptions struct {
	// Services to watch; every service when empty.
	Services []string
	// Timeout bounds the whole wait (DefaultGateTimeout when zero).
	Timeout time.Duration
	// Settle is how long a container without a healthcheck must stay running
	// to count as up (DefaultGateSettle when zero).
	Settle time.Duration
	// Interval between looks at the engine (DefaultGateInterval when zero).
	Interval time.Duration
	// Since: containers created after it start with a restart baseline of 0;
	// older ones are compared with what the first look saw.
	Since time.Time
	// Op names the operation in events ("deploy", "restore"; "wait" when empty).
	Op string
	// Sink receives a line per service as it changes.
	Sink EventSink
	// LogLines is how many log lines the failure report holds (DefaultGateLogLines when zero).
	LogLines int
}

// ServiceHealth is one service's readiness as the gate last saw it.
type ServiceHealth struct {
	Service      string       `json:"service"`
	Container    string       `json:"container,omitempty"`
	ContainerID  string       `json:"container_id,omitempty"`
	Ready        bool         `json:"ready"`
	State        string       `json:"state"`
	Health       string       `json:"health,omitempty"`
	ExitCode     int          `json:"exit_code"`
	RestartCount int          `json:"restart_count"`
	FinishedAt   *time.Time   `json:"finished_at,omitempty"`
	Probe        *ProbeResult `json:"probe,omitempty"`
	// Reason says why the service failed or is not ready yet.
	Reason string `json:"reason,omitempty"`
	// Failed is true when the service failed (fail fast), not merely slow.
	Failed bool `json:"failed,omitempty"`
	// Logs are the container's last lines, for failed and not-ready services.
	Logs []string `json:"logs,omitempty"`
	// HealthOutput is the last health-check output, when there is a healthcheck.
	HealthOutput string `json:"health_output,omitempty"`
	// FailedAt is when the gate noticed the failure.
	FailedAt *time.Time `json:"failed_at,omitempty"`
}

// HealthGateResult is the gate's verdict.
type HealthGateResult struct {
	Ready    bool            `json:"ready"`
	TimedOut bool            `json:"timed_out"`
	Services []ServiceHealth `json:"services"`
	Duration time.Duration   `json:"duration_ns"`
}

// NotReady returns the services that failed or were not ready, failures first.
func (r *HealthGateResult) NotReady() []ServiceHealth {
	var failed, slow []ServiceHealth
	for _, s := range r.Services {
		switch {
		case s.Failed:
			failed = append(failed, s)
		case !s.Ready:
			slow = append(slow, s)
		}
	}
	return append(failed, slow...)
}

// GateError is ErrNotHealthy with the report.
type GateError struct {
	Result  *HealthGateResult
	Timeout time.Duration
}

func (e *GateError) Error() string {
	var parts []string
	for _, s := range e.Result.NotReady() {
		parts = append(parts, s.Service+": "+s.Reason)
	}
	if e.Result.TimedOut {
		return fmt.Sprintf("not ready after %s — %s", e.Timeout, strings.Join(parts, "; "))
	}
	return strings.Join(parts, "; ")
}

// Is matches ErrNotHealthy.
func (e *GateError) Is(target error) bool { return target == ErrNotHealthy }

// WaitHealthy watches the services' containers through the engine until every
// one is ready: running and healthy (with a healthcheck), running and stable
// for Settle (without one), answering its x-stackpilot probe with 2xx, or —
// for a one-shot job — exited 0. It fails fast: the moment a container exits
// non-zero, restarts, or turns unhealthy, it stops waiting and returns a
// *GateError whose report holds that service's exit code, last log lines and
// health-check output. On timeout the same report covers every service not
// yet ready.
func (s *Stack) WaitHealthy(ctx context.Context, opts HealthGateOptions) (*HealthGateResult, error) {
	services, err := s.ResolveServices(opts.Services)
	if err != nil {
		return nil, err
	}
	probes, err := s.Probes()
	if err != nil {
		return nil, err
	}
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultGateTimeout
	}
	settle := opts.Settle
	if settle <= 0 {
		settle = DefaultGateSettle
	}
	interval := opts.Interval
	if interval <= 0 {
		interval = DefaultGateInterval
	}
	op := opts.Op
	if op == "" {
		op = "wait"
	}
	sink := SinkOrNop(opts.Sink)
	logLines := opts.LogLines
	if logLines <= 0 {
		logLines = DefaultGateLogLines
	}

	start := time.Now()
	deadline := start.Add(timeout)
	baseline := map[string]int{}
	lastPhase := map[string]string{}
	res := &HealthGateResult{}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	// The engine's container events wake the loop at once (a container dies,
	// restarts or changes health), so a failure is reported within
	// milliseconds; the ticker remains for what has no event (settling, probes).
	evCtx, stopEvents := context.WithCancel(ctx)
	defer stopEvents()
	wake := s.gateWakeups(evCtx, eng)
	for {
		containers, err := s.gateLook(ctx, eng, services)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, err
		}
		now := time.Now()
		res.Services = s.judgeGate(ctx, services, containers, probes, baseline, opts.Since, settle, now)
		res.Ready = true
		failed := false
		for _, sh := range res.Services {
			if !sh.Ready {
				res.Ready = false
			}
			if sh.Failed {
				failed = true
			}
			phase, msg := gatePhase(sh)
			if lastPhase[sh.Service] != phase+msg {
				lastPhase[sh.Service] = phase + msg
				sink.Event(Event{Op: op, Service: sh.Service, Phase: phase, Message: msg, Time: now,
					Final: sh.Ready || sh.Failed, Failed: sh.Failed})
			}
		}
		if res.Ready {
			s.attachHealthOutput(ctx, eng, res, containers)
			res.Duration = time.Since(start)
			return res, nil
		}
		timedOut := !now.Before(deadline)
		if failed || timedOut {
			res.TimedOut = timedOut && !failed
			s.attachHealthOutput(ctx, eng, res, containers)
			res.Duration = time.Since(start)
			s.attachReports(ctx, eng, res, logLines)
			if res.TimedOut {
				for _, sh := range res.Services {
					if !sh.Ready && !sh.Failed {
						sink.Event(Event{Op: op, Service: sh.Service, Phase: "timed out", Message: sh.Reason, Time: now, Final: true, Failed: true})
					}
				}
			}
			return res, &GateError{Result: res, Timeout: timeout}
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-ticker.C:
		case <-wake:
		}
	}
}

// gateLook lists the services' containers, in one call, and reads what
// judging them needs of each, in one round trip: a running container's
// restart count (against the baseline) and start time (to settle) — read
// once per run, not once per look — and, inspected afresh, a container that
// is not running or is unhealthy: it is about to be judged done or failed,
// and its report holds its exit, OOM, error and health-check output.
func (s *Stack) gateLook(ctx context.Context, eng *engine.Client, services []string) ([]*Container, error) {
	cs, err := s.ProjectContainers(ctx, eng, services)
	if err != nil {
		return nil, err
	}
	return s.Inspect(ctx, eng, cs, func(c *Container) DetailNeed {
		if c.State == StateRunning && c.Health != "unhealthy" {
			return RunDetail
		}
		return FreshDetail
	})
}

// attachHealthOutput adds the last health-check output to each reported
// container with a healthcheck, and to each one not ready: the looks read a
// running container's run facts only, and the output changes with every
// check. One round trip, once per gate.
func (s *Stack) attachHealthOutput(ctx context.Context, eng *engine.Client, res *HealthGateResult, containers []*Container) {
	reported := map[string]int{}
	for i, sh := range res.Services {
		if sh.ContainerID != "" && sh.HealthOutput == "" && (sh.Health != "" || !sh.Ready) {
			reported[sh.ContainerID] = i
		}
	}
	var stale []*Container
	for _, c := range containers {
		if _, ok := reported[c.ID]; ok && !c.Detail.Fresh {
			stale = append(stale, c)
		}
	}
	if len(stale) == 0 {
		return
	}
	fresh, err := s.Inspect(ctx, eng, stale, func(*Container) DetailNeed { return FreshDetail })
	if err != nil {
		return
	}
	for _, c := range fresh {
		res.Services[reported[c.ID]].HealthOutput = c.Detail.HealthOutput
	}
}

// gateWakeups subscribes to the project's container events (die, start,
// health_status, …) and signals on the returned channel for each, without
// ever blocking the stream. If the stream cannot be opened the channel just
// never fires and the gate keeps polling.
func (s *Stack) gateWakeups(ctx context.Context, eng *engine.Client) <-chan struct{} {
	wake := make(chan struct{}, 1)
	events, _ := eng.Events(ctx, "", engine.Filters{"type": {"container"}, "label": {LabelProject + "=" + s.Name}})
	go func() {
		for e := range events {
			switch {
			case e.Action == "die", e.Action == "start", e.Action == "restart", e.Action == "oom",
				e.Action == "destroy", e.Action == "create", strings.HasPrefix(e.Action, "health_status"):
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		}
	}()
	return wake
}

func gatePhase(sh ServiceHealth) (string, string) {
	switch {
	case sh.Failed:
		return "failed", sh.Reason
	case sh.Ready && sh.Health == "healthy":
		return "healthy", ""
	case sh.Ready && sh.State == StateExited:
		return "done", "exited 0"
	case sh.Ready:
		return "running", ""
	default:
		return "waiting", sh.Reason
	}
}

// judgeGate decides each service's readiness from one look at its
// containers (their Detail filled by gateLook).
func (s *Stack) judgeGate(ctx context.Context, services []string, containers []*Container, probes map[string]ProbeConfig,
	baseline map[string]int, since time.Time, settle time.Duration, now time.Time) []ServiceHealth {
	byService := map[string][]*Container{}
	for _, c := range containers {
		byService[c.Service] = append(byService[c.Service], c)
	}
	// Probes of services whose containers are all running and otherwise ready.
	var toProbe []string
	out := make([]ServiceHealth, 0, len(services))
	for _, name := range services {
		cs := byService[name]
		model := s.Project.Services[name]
		sh := ServiceHealth{Service: name, State: StateNotCreated, Reason: "no container yet"}
		if len(cs) == 0 {
			if model.GetScale() == 0 {
				sh.Ready, sh.Reason = true, ""
			}
			out = append(out, sh)
			continue
		}
		// The service is as ready as its worst container: report the first
		// failed one, else the first not ready, else the first.
		var failedOne, slowOne *ServiceHealth
		allReady := true
		for i, c := range cs {
			one := judgeGateContainer(name, c, model.Restart, baseline, since, settle, now)
			if i == 0 {
				sh = one
			}
			if one.Failed && failedOne == nil {
				failedOne = &one
			}
			if !one.Ready {
				allReady = false
				if slowOne == nil {
					slowOne = &one
				}
			}
		}
		switch {
		case failedOne != nil:
			sh = *failedOne
		case slowOne != nil:
			sh = *slowOne
		}
		sh.Ready = allReady && !sh.Failed
		if sh.Ready {
			sh.Reason = ""
			if _, ok := probes[name]; ok && sh.State == StateRunning {
				toProbe = append(toProbe, name)
			}
		}
		out = append(out, sh)
	}
	if len(toProbe) > 0 {
		results := s.runProbes(ctx, probes, toProbe)
		for i := range out {
			if p, ok := results[out[i].Service]; ok {
				out[i].Probe = p
				if !p.OK {
					out[i].Ready = false
					out[i].Reason = "probe " + p.URL + ": " + p.Error
				}
			}
		}
	}
	return out
}

func judgeGateContainer(service string, c *Container, restart string, baseline map[string]int, since time.Time, settle time.Duration, now time.Time) ServiceHealth {
	d := c.Detail
	if d == nil {
		// Not inspected (a caller that skipped gateLook): judge on the list's
		// facts alone rather than fail.
		d = &ContainerDetail{}
	}
	oneShot := IsOneShot(types.ServiceConfig{Restart: restart})
	sh := ServiceHealth{
		Service:      service,
		Container:    c.Name,
		ContainerID:  c.ID,
		State:        c.State,
		Health:       c.Health,
		ExitCode:     c.ExitCode,
		RestartCount: d.RestartCount,
		HealthOutput: d.HealthOutput,
	}
	if !d.FinishedAt.IsZero() {
		t := d.FinishedAt
		sh.FinishedAt = &t
	}
	base, seen := baseline[c.ID]
	if !seen {
		base = d.RestartCount
		if !since.IsZero() && d.Created.After(since) {
			base = 0
		}
		baseline[c.ID] = base
	}
	fail := func(reason string) ServiceHealth {
		sh.Failed, sh.Reason = true, reason
		t := now
		sh.FailedAt = &t
		return sh
	}
	switch {
	case c.State == "restarting" || d.RestartCount > base:
		return fail(fmt.Sprintf("restarted (exit status %d, %d restarts)", c.ExitCode, d.RestartCount))
	case c.State == StateExited || c.State == "dead":
		if c.ExitCode == 0 && oneShot {
			sh.Ready = true
			return sh
		}
		reason := fmt.Sprintf("exited with status %d", c.ExitCode)
		if d.OOMKilled {
			reason += " (out of memory)"
		}
		if d.Error != "" {
			reason += ": " + d.Error
		}
		return fail(reason)
	case c.State == StateRunning && oneShot && sh.Health != "unhealthy":
		// A job (restart "no" or "on-failure") is done when it exited 0;
		// running is not ready yet, however long it has been up.
		sh.Reason = "job still running (restart: " + restartPolicyName(restart) + "): waiting for it to exit 0"
		return sh
	case c.State == StateRunning:
		switch sh.Health {
		case "unhealthy":
			reason := "unhealthy"
			if sh.HealthOutput != "" {
				reason += ": " + firstLine(sh.HealthOutput)
			}
			return fail(reason)
		case "starting":
			sh.Reason = "health check starting"
			return sh
		case "healthy":
			sh.Ready = true
			return sh
		}
		up := now.Sub(d.StartedAt)
		if up < settle {
			sh.Reason = fmt.Sprintf("running, settling (must stay up %s)", settle)
			return sh
		}
		sh.Ready = true
		return sh
	default:
		sh.Reason = c.State
		return sh
	}
}

// restartPolicyName is the engine's name of a compose restart value:
// "on-failure:3" is policy "on-failure".
func restartPolicyName(restart string) string {
	name, _, _ := strings.Cut(strings.Trim(restart, `"'`), ":")
	return name
}

// attachReports adds the last log lines of every service that is not ready.
func (s *Stack) attachReports(ctx context.Context, eng *engine.Client, res *HealthGateResult, n int) {
	var wg sync.WaitGroup
	for i := range res.Services {
		sh := &res.Services[i]
		if sh.Ready || sh.ContainerID == "" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines, err := s.TailLogs(ctx, sh.ContainerID, n)
			if err == nil {
				sh.Logs = lines
			}
		}()
	}
	wg.Wait()
	sort.SliceStable(res.Services, func(i, j int) bool { return res.Services[i].Failed && !res.Services[j].Failed })
}
