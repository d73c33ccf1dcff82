package wizard

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"

	"github.com/stackpilot/stackpilot/stackops"
)

// ErrTerminated is the cancellation cause for SIGTERM.
var ErrTerminated = errors.New("terminated")

// Interrupts routes Ctrl-C to the innermost running job. In the wizard, a
// Ctrl-C during a job cancels that job and the menu comes back; at the top
// level it cancels the command. A second Ctrl-C in the same job fires its
// kill switch: child processes still winding down are killed.
type Interrupts struct {
	mu      sync.Mutex
	jobs    []*job
	forward chan<- os.Signal
}

type job struct {
	cancel context.CancelCauseFunc
	kill   chan struct{}
	count  int
}

// NewInterrupts returns an empty router.
func NewInterrupts() *Interrupts { return &Interrupts{} }

// Job starts a cancellable scope; end it with the returned function.
func (i *Interrupts) Job(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	j := &job{cancel: cancel, kill: make(chan struct{})}
	ctx = stackops.WithKillSwitch(ctx, j.kill)
	i.mu.Lock()
	i.jobs = append(i.jobs, j)
	i.mu.Unlock()
	return ctx, func() {
		i.mu.Lock()
		for k := len(i.jobs) - 1; k >= 0; k-- {
			if i.jobs[k] == j {
				i.jobs = append(i.jobs[:k], i.jobs[k+1:]...)
				break
			}
		}
		i.mu.Unlock()
		cancel(nil)
	}
}

// Forward sends every signal to ch instead of cancelling jobs, until the
// returned function is called: while a task runs, Ctrl-C and SIGTERM are
// the task's to handle, not stackpilot's. A signal that finds ch full is
// dropped (the task already has one waiting).
func (i *Interrupts) Forward(ch chan<- os.Signal) (stop func()) {
	i.mu.Lock()
	prev := i.forward
	i.forward = ch
	i.mu.Unlock()
	return func() {
		i.mu.Lock()
		i.forward = prev
		i.mu.Unlock()
	}
}

// Signal handles one signal from the OS. It reports false when no job was
// running to receive it (the caller then exits).
func (i *Interrupts) Signal(sig os.Signal) bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.forward != nil {
		select {
		case i.forward <- sig:
		default:
		}
		return true
	}
	if len(i.jobs) == 0 {
		return false
	}
	if sig == syscall.SIGTERM {
		// Everything stops, from the outermost scope.
		i.jobs[0].cancel(ErrTerminated)
		for _, j := range i.jobs {
			j.cancel(ErrTerminated)
		}
		return true
	}
	j := i.jobs[len(i.jobs)-1]
	j.count++
	if j.count == 1 {
		j.cancel(stackops.ErrInterrupted)
	} else if j.count == 2 {
		close(j.kill)
	}
	return true
}
