package stackops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Cmd is one external program to run: argv, never a shell string.
type Cmd struct {
	Args []string // Args[0] is the program, looked up in PATH
	// Shown, when set, is what String shows instead of Args: the command
	// with its secrets hidden (Redactor.Args), for -v traces and messages.
	Shown  []string
	Dir    string
	Env    []string // added to the current environment (secrets go here, never in Args)
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Environ, when not nil, is the program's whole environment instead of
	// the current one plus Env: for a program that must not inherit
	// some of stackpilot's variables.
	Environ []string
	// OwnGroup runs the child in a process group of its own, so a Ctrl-C
	// typed at the terminal does not reach it: the caller decides when it
	// stops, by cancelling ctx or through Signals. On a cancelled ctx
	// ExecRunner then signals the whole group — SIGINT when the cause is
	// ErrInterrupted, SIGTERM otherwise — and kills the whole group on the
	// kill switch, grandchildren included (the docker CLI runs the compose
	// plugin as its child; killing the CLI alone would leave the plugin at
	// work).
	OwnGroup bool
	// Signals, when set, are passed on to the program as they arrive: a
	// task's Ctrl-C or SIGTERM, which its caller forwards instead of
	// cancelling ctx. The program decides what they mean; Run waits for it.
	// An interrupt is not passed to a program in stackpilot's process group
	// (OwnGroup false): a Ctrl-C typed at the terminal reached it already.
	Signals <-chan os.Signal
}

// String renders the command for -v output and dry runs, quoting where a shell would need it.
func (c Cmd) String() string {
	args := c.Args
	if c.Shown != nil {
		args = c.Shown
	}
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = shellQuote(a)
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	if strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:=@,+%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Runner runs external programs. It is the seam tests replace to assert argv
// without running docker.
type Runner interface {
	Run(ctx context.Context, c Cmd) error
}

// ExitError is a program that ran and exited non-zero. A program killed
// by a signal has Code 128 + the signal's number, as a shell reports it.
type ExitError struct {
	Cmd  string
	Code int
}

func (e *ExitError) Error() string { return fmt.Sprintf("%s exited with status %d", e.Cmd, e.Code) }

// ExecRunner runs programs for real.
//
// Children stay in stackpilot's process group (unless Cmd.OwnGroup), so a
// Ctrl-C typed at the terminal reaches them exactly once, from the kernel;
// ExecRunner never forwards a second interrupt. When ctx is cancelled it
// waits for the child to finish on its own. If the cancellation did not come
// from the terminal (a SIGTERM, or a deadline) it sends the child SIGTERM
// once; the child is only killed when the context's kill switch fires (a
// second Ctrl-C: the user insisting) or it ignores the signal for 30 seconds.
type ExecRunner struct {
	// Trace, when set, receives each command line before it runs (-v).
	Trace func(line string)
}

type killSwitchKey struct{}

// WithKillSwitch attaches a channel that, when closed, makes ExecRunner kill
// running children at once instead of waiting for them to wind down.
func WithKillSwitch(ctx context.Context, kill <-chan struct{}) context.Context {
	return context.WithValue(ctx, killSwitchKey{}, kill)
}

func killSwitch(ctx context.Context) <-chan struct{} {
	ch, _ := ctx.Value(killSwitchKey{}).(<-chan struct{})
	return ch
}

// CancelCause values that tell ExecRunner whether the child already got the signal.
var (
	// ErrInterrupted is the context cause for a Ctrl-C delivered to the process group.
	ErrInterrupted = errors.New("interrupted")
)

// Run implements Runner.
func (r *ExecRunner) Run(ctx context.Context, c Cmd) error {
	if len(c.Args) == 0 {
		return errors.New("empty command")
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if r.Trace != nil {
		r.Trace(c.String())
	}
	cmd := exec.Command(c.Args[0], c.Args[1:]...)
	cmd.Dir = c.Dir
	switch {
	case c.Environ != nil:
		cmd.Env = append(append([]string{}, c.Environ...), c.Env...)
	case len(c.Env) > 0:
		cmd.Env = append(os.Environ(), c.Env...)
	}
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	cmd.Stderr = c.Stderr
	// A grandchild that outlives the child may hold our output pipes open;
	// do not wait for it forever once the child itself has exited.
	cmd.WaitDelay = 2 * time.Second
	if c.OwnGroup {
		newProcessGroup(cmd)
	}
	if err := cmd.Start(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fmt.Errorf("%s: not found in PATH", c.Args[0])
		}
		return fmt.Errorf("start %s: %w", c.Args[0], err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	signal := func(sig os.Signal) {
		if c.OwnGroup {
			signalGroup(cmd, sig)
			return
		}
		_ = cmd.Process.Signal(sig)
	}
	waiting := true
	for waiting {
		select {
		case err = <-done:
			waiting = false
		case sig := <-c.Signals:
			if sig != os.Interrupt || c.OwnGroup {
				signal(sig)
			}
		case <-ctx.Done():
			return stopChild(ctx, c, signal, done)
		}
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &ExitError{Cmd: c.Args[0], Code: exitCode(ee)}
		}
		return err
	}
	return nil
}

// stopChild ends a child whose context was cancelled (see ExecRunner and
// Cmd.OwnGroup); signal reaches the child, or its whole group.
func stopChild(ctx context.Context, c Cmd, signal func(os.Signal), done <-chan error) error {
	switch {
	case !errors.Is(context.Cause(ctx), ErrInterrupted):
		signal(syscall.SIGTERM)
	case c.OwnGroup:
		// The terminal's Ctrl-C did not reach this group: pass it on, once.
		signal(syscall.SIGINT)
	}
	var err error
	select {
	case err = <-done:
	case <-killSwitch(ctx):
		signal(syscall.SIGKILL)
		err = <-done
	case <-time.After(30 * time.Second):
		// A child that ignores the interrupt for this long is stuck; do not leave it behind.
		signal(syscall.SIGKILL)
		err = <-done
	}
	if err == nil {
		// It finished its work despite the interrupt; report that truthfully.
		return nil
	}
	return context.Cause(ctx)
}

// exitCode is the child's exit status, or 128 + the signal that killed it.
func exitCode(ee *exec.ExitError) int {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}
