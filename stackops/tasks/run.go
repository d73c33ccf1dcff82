package tasks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// ErrServiceNotRunning means a container task's service has no running container.
var ErrServiceNotRunning = errors.New("service not running")

// NotRunningError names the service a container task needs and how to start it.
type NotRunningError struct {
	Task, Service string
	// Deploy is the command that starts the service, from any directory
	// (stackops.Stack.CommandLine).
	Deploy string
}

func (e *NotRunningError) Error() string {
	return fmt.Sprintf("task %s runs in service %s, which is not running — start it with: %s", e.Task, e.Service, e.Deploy)
}

func notRunning(st *stackops.Stack, t Task) *NotRunningError {
	return &NotRunningError{Task: t.Name, Service: t.Service, Deploy: st.CommandLine("deploy", t.Service)}
}

// Is matches ErrServiceNotRunning.
func (e *NotRunningError) Is(target error) bool { return target == ErrServiceNotRunning }

// PrepareOptions say which task to run and with what.
type PrepareOptions struct {
	// Name is the task's name.
	Name string
	// Args are appended to the task's command.
	Args []string
	// Confirm asks before a confirm: true task runs. Nil refuses
	// (ErrConfirmationRequired, which names --yes).
	Confirm stackops.ConfirmFunc
}

// Prepared is a task ready to run: found, its container (for a container
// task) running, and agreed to when it asks first. Checking all this
// before Run lets a caller put its terminal in raw mode only once nothing
// is left to ask or refuse.
type Prepared struct {
	Task Task
	// Argv is the command that runs: the task's command and the extra arguments.
	Argv []string
	// ContainerID and Container are the container a container task runs in.
	ContainerID, Container string

	st *stackops.Stack
}

// Prepare finds the task, checks where it runs and asks for consent.
func Prepare(ctx context.Context, st *stackops.Stack, o PrepareOptions) (*Prepared, error) {
	t, err := Find(st, o.Name)
	if err != nil {
		return nil, err
	}
	// The task's command and environment are interpolated from .env: an
	// encrypted value that cannot be decrypted would reach it as ciphertext.
	// A stack loaded with its values still sealed (LoadOptions.DeferUnseal)
	// decrypts them only for a task that uses one: a container task whose
	// definition holds none runs without (decrypting costs a key exchange
	// per value). A host task always has them: the docker commands it runs
	// get them, as Compose does (unseal.go).
	if pending := st.UnsealPending(); t.Host || !pending || st.UsesSealed(t.texts()...) {
		if err := st.Unsealed(); err != nil {
			return nil, err
		}
		if pending { // read it again, with the values
			if t, err = Find(st, o.Name); err != nil {
				return nil, err
			}
		}
	}
	p := &Prepared{Task: t, Argv: append(append([]string{}, t.Command...), o.Args...), st: st}
	if !t.Host {
		if p.ContainerID, p.Container, err = runningContainer(ctx, st, t); err != nil {
			return nil, err
		}
	}
	if t.Confirm {
		confirm := o.Confirm
		if confirm == nil {
			confirm = stackops.NeverConfirm
		}
		details := []string{"runs: " + stackops.Cmd{Args: p.Argv}.String()}
		if t.Host {
			details = append(details, "on this machine, in "+st.Dir)
		} else {
			details = append(details, "in container "+p.Container+" (service "+t.Service+")")
		}
		if t.Description != "" {
			details = append([]string{t.Description}, details...)
		}
		ok, err := confirm(ctx, stackops.Confirmation{Action: "Task " + t.Name, Prompt: "Run task " + t.Name + "?", Details: details})
		if err != nil {
			if errors.Is(err, stackops.ErrConfirmationRequired) {
				return nil, fmt.Errorf("task %s asks before it runs (confirm: true): %w", t.Name, err)
			}
			return nil, err
		}
		if !ok {
			return nil, stackops.ErrNotConfirmed
		}
	}
	return p, nil
}

// TermSize is a terminal's size in characters.
type TermSize struct{ Width, Height uint }

// RunOptions connect a prepared task to the caller's streams.
type RunOptions struct {
	// Stdin is the task's input; nil gives it none (end of file at once).
	Stdin io.Reader
	// Stdout and Stderr receive its output (with a TTY, everything goes to Stdout).
	Stdout, Stderr io.Writer
	// TTY gives the task the caller's terminal. A container task gets a
	// TTY of its own: the caller has put its terminal in raw mode, so keys
	// (Ctrl-C included) reach the task as they are typed, through Stdin; it
	// reads Size and follows Resize. A host task shares stackpilot's
	// terminal and process group: a Ctrl-C typed there reaches it from the
	// kernel, so an interrupt among Signals is not sent to it again.
	TTY    bool
	Size   TermSize
	Resize <-chan TermSize
	// Signals are the interrupts and terminations stackpilot received while
	// the task runs, forwarded to it instead of stopping stackpilot. A
	// host task gets each one. A container task gets the first: as the
	// Ctrl-C byte on its TTY, else as a signal to its process when the
	// engine runs on this machine and its process can be signalled from
	// here (the engine has no call that signals an exec'd process); the
	// second stops waiting for it (Run returns a DetachedError) and leaves
	// it running, as `docker exec` does when interrupted.
	Signals <-chan os.Signal
	// Sink receives what happens to forwarded signals ("signal" events)
	// and the start of a container task ("exec").
	Sink stackops.EventSink
}

// Result is how a task ended.
type Result struct {
	Task     string `json:"task"`
	ExitCode int    `json:"exit_code"`
}

// DetachedError means stackpilot stopped waiting for a container task,
// which may still be running.
type DetachedError struct {
	Task, Container string
	Signal          os.Signal
}

func (e *DetachedError) Error() string {
	return fmt.Sprintf("stopped waiting for task %s: it may still be running in container %s", e.Task, e.Container)
}

// Run runs the prepared task until it exits and returns its exit code. A
// task that ran and failed is a Result with its code, not an error.
func (p *Prepared) Run(ctx context.Context, o RunOptions) (*Result, error) {
	o.Sink = stackops.SinkOrNop(o.Sink)
	if p.Task.Host {
		return p.runOnHost(ctx, o)
	}
	return p.runInContainer(ctx, o)
}

// runOnHost runs the task through the stack's Runner: argv, in the
// project directory, with the project's context and the task's variables
// in its environment.
func (p *Prepared) runOnHost(ctx context.Context, o RunOptions) (*Result, error) {
	argv := append([]string{}, p.Argv...)
	if strings.Contains(argv[0], "/") && !filepath.IsAbs(argv[0]) {
		argv[0] = filepath.Join(p.st.Dir, argv[0]) // ./x is the project's, as for deploy hooks
	}
	env := append(p.st.ContextEnv(ctx), p.Task.env...)
	err := p.st.Runner.Run(ctx, stackops.Cmd{Args: argv, Dir: p.st.Dir, Env: env,
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Signals: o.Signals, OwnGroup: !o.TTY})
	var ee *stackops.ExitError
	switch {
	case err == nil:
		return &Result{Task: p.Task.Name}, nil
	case errors.As(err, &ee):
		return &Result{Task: p.Task.Name, ExitCode: ee.Code}, nil
	}
	return nil, fmt.Errorf("task %s: %w", p.Task.Name, err)
}

// runningContainer picks the container a task runs in: the service's
// running container with the lowest replica number (Compose's exec uses
// replica 1).
func runningContainer(ctx context.Context, st *stackops.Stack, t Task) (id, name string, err error) {
	if _, err := st.ResolveServices([]string{t.Service}); err != nil {
		return "", "", fmt.Errorf("task %s: %w", t.Name, err)
	}
	eng, err := st.Engine()
	if err != nil {
		return "", "", stackops.DockerError(err)
	}
	list, err := eng.ListContainers(ctx, false, engine.Filters{
		"label":  {stackops.LabelProject + "=" + st.Name, stackops.LabelService + "=" + t.Service},
		"status": {"running"},
	})
	if err != nil {
		return "", "", fmt.Errorf("list containers: %w", stackops.DockerError(err))
	}
	var running []engine.ContainerSummary
	for _, c := range list {
		if !strings.EqualFold(c.Labels[stackops.LabelOneOff], "true") {
			running = append(running, c)
		}
	}
	if len(running) == 0 {
		return "", "", notRunning(st, t)
	}
	sort.Slice(running, func(i, j int) bool {
		a, _ := strconv.Atoi(running[i].Labels[stackops.LabelNumber])
		b, _ := strconv.Atoi(running[j].Labels[stackops.LabelNumber])
		return a < b
	})
	c := running[0]
	name = c.ID[:12]
	if len(c.Names) > 0 {
		name = strings.TrimPrefix(c.Names[0], "/")
	}
	return c.ID, name, nil
}

// runInContainer runs the task as an exec in its service's container,
// through the engine API: created, started with the streams attached, its
// TTY sized, its exit code read once its output ends.
func (p *Prepared) runInContainer(ctx context.Context, o RunOptions) (*Result, error) {
	eng, err := p.st.Engine()
	if err != nil {
		return nil, stackops.DockerError(err)
	}
	p.sinkEvent(o.Sink, "exec", fmt.Sprintf("in %s: %s", p.Container, stackops.Cmd{Args: p.Argv}.String()))
	execID, err := eng.ExecCreate(ctx, p.ContainerID, engine.ExecConfig{
		Cmd: p.Argv, User: p.Task.User, Env: p.Task.env, WorkingDir: p.Task.Workdir,
		AttachStdin: o.Stdin != nil, AttachStdout: true, AttachStderr: true, Tty: o.TTY,
	})
	if err != nil {
		if errors.Is(err, engine.ErrConflict) {
			return nil, notRunning(p.st, p.Task)
		}
		return nil, fmt.Errorf("task %s: %w", p.Task.Name, stackops.DockerError(err))
	}
	sess, err := eng.ExecAttach(ctx, execID, engine.ExecAttachOptions{TTY: o.TTY, Width: o.Size.Width, Height: o.Size.Height})
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", p.Task.Name, stackops.DockerError(err))
	}
	defer sess.Close()
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	defer stop()

	done := make(chan struct{})
	defer close(done)
	if o.TTY {
		go p.followSize(ctx, eng, execID, o, done)
	}
	if o.Stdin != nil {
		go func() {
			_, _ = io.Copy(sess, o.Stdin)
			_ = sess.CloseWrite()
		}()
	} else {
		_ = sess.CloseWrite()
	}
	detached := make(chan os.Signal, 1)
	go p.forwardSignals(ctx, eng, execID, sess, o, detached, done)

	copyErr := sess.Copy(o.Stdout, o.Stderr)
	select {
	case sig := <-detached:
		return nil, &DetachedError{Task: p.Task.Name, Container: p.Container, Signal: sig}
	default:
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	if copyErr != nil {
		return nil, fmt.Errorf("task %s: output: %w", p.Task.Name, copyErr)
	}
	code, err := eng.ExecExitCode(ctx, execID)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", p.Task.Name, stackops.DockerError(err))
	}
	return &Result{Task: p.Task.Name, ExitCode: code}, nil
}

// followSize gives the exec's TTY the terminal's size and keeps it in
// step. An engine older than API 1.42 takes no size at start: the first
// resize may come before the exec has its TTY, so it is tried again, as
// the docker CLI does — but for up to ~5 s, not the CLI's ~0.5 s: on a busy
// engine the exec starts later than that, and the task then saw a terminal
// of no size.
func (p *Prepared) followSize(ctx context.Context, eng *engine.Client, execID string, o RunOptions, done <-chan struct{}) {
	if o.Size.Width > 0 && o.Size.Height > 0 {
		for try := 0; try < 50; try++ {
			if eng.ExecResize(ctx, execID, o.Size.Width, o.Size.Height) == nil {
				break
			}
			select {
			case <-done:
				return
			case <-time.After(min(time.Duration(try+1)*10*time.Millisecond, 100*time.Millisecond)):
			}
		}
	}
	for {
		select {
		case <-done:
			return
		case s, ok := <-o.Resize:
			if !ok {
				return
			}
			if s.Width > 0 && s.Height > 0 {
				_ = eng.ExecResize(ctx, execID, s.Width, s.Height)
			}
		}
	}
}

// forwardSignals passes the first interrupt or termination to the task
// and detaches on the second (see RunOptions.Signals).
func (p *Prepared) forwardSignals(ctx context.Context, eng *engine.Client, execID string, sess *engine.ExecSession, o RunOptions, detached chan<- os.Signal, done <-chan struct{}) {
	forwarded := false
	for {
		var sig os.Signal
		select {
		case <-done:
			return
		case sig = <-o.Signals:
		}
		if forwarded {
			detached <- sig
			sess.Close()
			return
		}
		forwarded = true
		if o.TTY && sig == os.Interrupt {
			// What the key would have sent: the TTY in the container
			// turns it into SIGINT for the task's foreground process.
			if _, err := sess.Write([]byte{0x03}); err == nil {
				p.sinkEvent(o.Sink, "signal", "interrupt sent to the task — once more to stop waiting for it")
				continue
			}
		}
		name := signalName(sig)
		if err := signalExec(ctx, eng, execID, p.ContainerID, sig); err != nil {
			p.sinkEvent(o.Sink, "signal", fmt.Sprintf("could not send %s to the task: %v — once more to stop waiting for it (it goes on running in %s)", name, err, p.Container))
			continue
		}
		p.sinkEvent(o.Sink, "signal", name+" sent to the task — once more to stop waiting for it")
	}
}

func signalName(sig os.Signal) string {
	if s, ok := sig.(syscall.Signal); ok {
		switch s {
		case syscall.SIGINT:
			return "SIGINT"
		case syscall.SIGTERM:
			return "SIGTERM"
		case syscall.SIGHUP:
			return "SIGHUP"
		}
	}
	return sig.String()
}

func (p *Prepared) sinkEvent(sink stackops.EventSink, phase, msg string) {
	sink.Event(stackops.Event{Op: "run", Service: p.Task.Name, Phase: phase, Message: msg, Time: time.Now()})
}
