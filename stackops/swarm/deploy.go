package swarm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
)

// ErrNoRegistry means services are built but no registry is named to get
// the images to the other nodes.
var ErrNoRegistry = errors.New("no registry to push built images to")

// DeployOptions configures Deploy.
type DeployOptions struct {
	// Services to deploy; every service (and services no longer in the
	// compose file removed: --prune) when empty.
	Services []string
	// NoBuild deploys the images as they are named, building nothing.
	NoBuild bool
	// Timeout bounds the health gate (x-stackpilot deploy.timeout, else stackops.DefaultGateTimeout).
	Timeout time.Duration
	// NoWait returns once Swarm accepted the stack, without the gate.
	NoWait   bool
	LockWait time.Duration
	Sink     stackops.EventSink
	// Output receives the docker commands' own output as it is written (-v).
	Output io.Writer
}

// DeployResult is what a Swarm deploy (or rollback) did.
type DeployResult struct {
	ID        string `json:"id"`
	Project   string `json:"project"`
	Operation string `json:"operation"`
	Manager   string `json:"manager"`
	// Images are the references the services run after the deploy; Pushed
	// the ones this deploy built and pushed.
	Images     map[string]string   `json:"images"`
	Before     map[string]string   `json:"images_before"`
	Pushed     []string            `json:"pushed,omitempty"`
	Defaults   map[string][]string `json:"update_defaults,omitempty"`
	Ignored    []string            `json:"ignored,omitempty"`
	Gate       *GateResult         `json:"gate,omitempty"`
	OK         bool                `json:"ok"`
	Result     string              `json:"result"`
	Error      string              `json:"error,omitempty"`
	StartedAt  time.Time           `json:"started_at"`
	DurationMS int64               `json:"duration_ms"`
	Commands   [][]string          `json:"commands"`
	Output     []string            `json:"output,omitempty"`
}

// Deploy builds the services that have build: and pushes them to
// x-stackpilot.registry, renders the compose model to a stack file (.env
// interpolated, rolling-update defaults), runs `docker stack deploy` on the
// manager, and holds the services to the gate. It takes the stack lock and
// records the deploy in the history, whatever its outcome.
func (c *Cluster) Deploy(ctx context.Context, opts DeployOptions) (*DeployResult, error) {
	st := c.Stack
	sink := opts.Sink
	if sink == nil {
		sink = stackops.NopSink{}
	}
	names, err := st.ResolveServices(opts.Services)
	if err != nil {
		return nil, err
	}
	registry, err := st.Registry()
	if err != nil {
		return nil, err
	}
	var built []string
	for _, n := range names {
		if st.Project.Services[n].Build != nil && !opts.NoBuild {
			built = append(built, n)
		}
	}
	if len(built) > 0 && registry == "" {
		return nil, fmt.Errorf("%w: %s have build: — set x-stackpilot.registry to a registry every node can pull from (e.g. registry: 10.0.0.5:5000), or deploy with --no-build and images already on the nodes",
			ErrNoRegistry, strings.Join(built, ", "))
	}
	timeout := opts.Timeout
	if timeout == 0 {
		cfg, err := st.DeployConfig()
		if err != nil {
			return nil, err
		}
		timeout = cfg.Timeout.Or(stackops.DefaultGateTimeout)
	}
	lock, err := st.LockStack(ctx, "deploy", opts.LockWait)
	if err != nil {
		return nil, err
	}
	defer lock.Release()

	res := &DeployResult{ID: newID(), Project: st.Name, Operation: "deploy", Manager: c.Engine.Host(), StartedAt: time.Now(),
		Images: map[string]string{}, Before: map[string]string{}}
	sink.Start("deploy")
	err = c.deploy(ctx, opts, names, built, registry, timeout, sink, res)
	res.DurationMS = time.Since(res.StartedAt).Milliseconds()
	res.OK = err == nil
	res.Result = stackops.ResultSuccess
	if err != nil {
		res.Result, res.Error = stackops.ResultFailed, err.Error()
		if errors.Is(err, context.Canceled) || errors.Is(err, stackops.ErrInterrupted) {
			res.Result = stackops.ResultCancelled
		}
	}
	sink.Done("deploy", err)
	if herr := c.record(res, names, len(built) > 0, !opts.NoWait); herr != nil && err == nil {
		err = herr
	}
	return res, err
}

func (c *Cluster) deploy(ctx context.Context, opts DeployOptions, names, built []string, registry string, timeout time.Duration, sink stackops.EventSink, res *DeployResult) error {
	st := c.Stack
	before, err := c.marks(ctx)
	if err != nil {
		return err
	}
	if svcs, err := c.Engine.ListServices(ctx, stackFilter(st.Name)); err == nil {
		for _, s := range svcs {
			res.Before[composeName(st.Name, s.Spec.Name)] = stripDigest(s.Spec.TaskTemplate.ContainerSpec.Image)
		}
	}
	pushed := map[string]string{}
	if len(built) > 0 {
		if pushed, err = c.buildAndPush(ctx, built, registry, sink, res, opts.Output); err != nil {
			return err
		}
	}
	p := st.Project
	if len(opts.Services) > 0 {
		sub, err := p.WithSelectedServices(names)
		if err != nil {
			return err
		}
		p = sub
	}
	rendered, err := Render(p, pushed)
	if err != nil {
		return err
	}
	res.Defaults, res.Ignored = rendered.Defaults, rendered.Ignored
	for _, n := range names {
		res.Images[n] = p.Services[n].Image
		if ref := pushed[n]; ref != "" {
			res.Images[n] = ref
		}
	}
	// The stack file goes to docker stack deploy on its stdin: it holds the
	// interpolated environment (secrets included), so it is never written
	// to disk.
	args := append(c.dockerArgs(), "stack", "deploy", "--compose-file", "-", "--resolve-image", "never")
	if len(opts.Services) == 0 {
		args = append(args, "--prune")
	}
	args = append(args, st.Name)
	sink.Event(stackops.Event{Op: "deploy", Phase: "deploying", Message: "docker stack deploy " + st.Name, Time: time.Now()})
	if err := c.runDocker(ctx, args, rendered.YAML, res, opts.Output); err != nil {
		return err
	}
	if opts.NoWait {
		return nil
	}
	gate, err := c.gate(ctx, "deploy", names, before, timeout, sink)
	if err != nil {
		return err
	}
	res.Gate = gate
	return gateError(gate, timeout)
}

// gateError is the error a gate's verdict stands for (nil when it passed).
func gateError(g *GateResult, timeout time.Duration) error {
	switch {
	case g.OK:
		return nil
	case g.Failed != nil:
		msg := g.Failed.Reason()
		if g.Failed.ID == "" {
			msg = fmt.Sprintf("Swarm %s the update of %s: %s", strings.ReplaceAll(g.Failed.State, "_", " "), g.Failed.Service, g.Failed.Error)
		}
		if len(g.RolledBack) > 0 {
			msg += fmt.Sprintf(" — Swarm rolled %s back to the previous spec", strings.Join(g.RolledBack, ", "))
		}
		return &FailedError{Msg: msg, Task: g.Failed}
	case g.TimedOut:
		var slow []string
		for _, s := range g.Services {
			if s.Degraded != "" || s.Running < s.Desired {
				slow = append(slow, fmt.Sprintf("%s (%d/%d running)", s.Name, s.Running, s.Desired))
			}
		}
		return &FailedError{Msg: fmt.Sprintf("not ready after %s: %s", timeout, strings.Join(slow, ", "))}
	}
	return &FailedError{Msg: "the health gate did not pass"}
}

// FailedError is a deploy or rollback the gate failed: the failing task,
// with its node, error, exit code and logs.
type FailedError struct {
	Msg  string
	Task *TaskReport
}

func (e *FailedError) Error() string { return e.Msg }

// Is matches stackops.ErrDegraded: the stack is not as deployed.
func (e *FailedError) Is(target error) bool { return target == stackops.ErrDegraded }

// buildAndPush builds the services with build: through Compose on the
// manager's engine, tags each image <registry>/<project>-<service>:<image
// id> (the same build gives the same tag, so Swarm rolls a service only when
// its image changed) and pushes it.
func (c *Cluster) buildAndPush(ctx context.Context, built []string, registry string, sink stackops.EventSink, res *DeployResult, output io.Writer) (map[string]string, error) {
	st := c.Stack
	for _, n := range built {
		sink.Event(stackops.Event{Op: "deploy", Service: n, Phase: "building", Time: time.Now()})
	}
	var buf bytes.Buffer
	w := io.Writer(&buf)
	if output != nil {
		w = io.MultiWriter(&buf, output)
	}
	cmd := stackops.Cmd{Stdout: w, Stderr: w}
	if err := st.RunCompose(ctx, cmd, append([]string{"build"}, built...)...); err != nil {
		res.Output = lastLines(buf.String(), 20)
		return nil, err
	}
	compose, err := st.Compose(ctx)
	if err != nil {
		return nil, err
	}
	res.Commands = append(res.Commands, append(append([]string{}, compose.Command...), append([]string{"build"}, built...)...))
	out := map[string]string{}
	for _, n := range built {
		local := st.Project.Services[n].Image
		if local == "" {
			local = st.Name + "-" + n
			if compose.Variant == stackops.ComposeV1 {
				local = strings.TrimLeft(st.Name, "-_") + "_" + n
			}
		}
		id, err := c.Engine.ImageID(ctx, local)
		if err != nil {
			return nil, fmt.Errorf("service %s: the image Compose built (%s) is not on the manager: %w", n, local, err)
		}
		repo := registry + "/" + st.Name + "-" + n
		tag := strings.TrimPrefix(id, "sha256:")[:12]
		if err := c.Engine.TagImage(ctx, id, repo, tag); err != nil {
			return nil, err
		}
		sink.Event(stackops.Event{Op: "deploy", Service: n, Phase: "pushing", Message: repo + ":" + tag, Time: time.Now()})
		if err := c.Engine.PushImage(ctx, repo, tag); err != nil {
			return nil, fmt.Errorf("service %s: push %s:%s to %s: %w — check that the registry is up and that the manager's engine may reach it (a registry without TLS must be in every node's insecure-registries)",
				n, repo, tag, registry, err)
		}
		out[n] = repo + ":" + tag
		res.Pushed = append(res.Pushed, out[n])
	}
	sort.Strings(res.Pushed)
	return out, nil
}

// dockerArgs are the docker CLI's global options that make it act on the
// stack's engine when stackpilot was told it on its command line (otherwise
// the CLI resolves DOCKER_HOST, DOCKER_CONTEXT and the current context
// itself, as stackpilot did).
func (c *Cluster) dockerArgs() []string {
	args := []string{"docker"}
	ep, err := c.Stack.Endpoint()
	if err != nil {
		return args
	}
	switch ep.Source {
	case "--context":
		args = append(args, "--context", ep.Context)
	case "--host":
		args = append(args, "--host", ep.Host)
	}
	return args
}

// runDocker runs a docker CLI command, keeping its last lines for the result.
func (c *Cluster) runDocker(ctx context.Context, args []string, stdin []byte, res *DeployResult, output io.Writer) error {
	var buf bytes.Buffer
	w := io.Writer(&buf)
	if output != nil {
		w = io.MultiWriter(&buf, output)
	}
	res.Commands = append(res.Commands, args)
	err := c.Stack.Runner.Run(ctx, stackops.Cmd{Args: args, Dir: c.Stack.Dir, Stdin: bytes.NewReader(stdin), Stdout: w, Stderr: w})
	if err != nil {
		res.Output = lastLines(buf.String(), 20)
		why := ""
		if len(res.Output) > 0 {
			why = ": " + strings.Join(res.Output[max(0, len(res.Output)-3):], " · ")
		}
		return fmt.Errorf("%s failed%s", strings.Join(args[:min(len(args), 4)], " "), why)
	}
	return nil
}

func lastLines(s string, n int) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// record appends the deploy to the stack's history.
func (c *Cluster) record(res *DeployResult, names []string, build, waited bool) error {
	host, _ := os.Hostname()
	return c.Stack.RecordHistory(stackops.HistoryRecord{
		ID: res.ID, Op: res.Operation, Time: res.StartedAt, User: userName(), Host: host, Services: names,
		ImagesBefore: res.Before, ImagesAfter: res.Images, Result: res.Result, Error: res.Error,
		DurationMS: res.DurationMS, Build: build, Waited: waited, Orchestrator: stackops.OrchestratorSwarm,
	})
}

func userName() string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

func newID() string {
	return time.Now().UTC().Format("20060102T150405.000Z")
}
