package swarm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
)

// ErrNothingToRollBack means no service of the stack has a previous spec.
var ErrNothingToRollBack = errors.New("nothing to roll back")

// RollbackOptions configures Rollback.
type RollbackOptions struct {
	Services []string // every service with a previous spec when empty
	Timeout  time.Duration
	LockWait time.Duration
	Sink     stackops.EventSink
}

// Rollback puts services back on the spec they had before their last
// update — Swarm's own rollback (`docker service rollback`), image,
// environment and all — and holds them to the same gate as a deploy.
func (c *Cluster) Rollback(ctx context.Context, opts RollbackOptions) (*DeployResult, error) {
	st := c.Stack
	sink := opts.Sink
	if sink == nil {
		sink = stackops.NopSink{}
	}
	if _, err := st.ResolveServices(opts.Services); err != nil {
		return nil, err
	}
	timeout := opts.Timeout
	if timeout == 0 {
		cfg, err := st.DeployConfig()
		if err != nil {
			return nil, err
		}
		timeout = cfg.Timeout.Or(stackops.DefaultGateTimeout)
	}
	lock, err := st.LockStack(ctx, "rollback", opts.LockWait)
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	svcs, err := c.Engine.ListServices(ctx, stackFilter(st.Name))
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range opts.Services {
		want[n] = true
	}
	res := &DeployResult{ID: newID(), Project: st.Name, Operation: "rollback", Manager: c.Engine.Host(), StartedAt: time.Now(),
		Images: map[string]string{}, Before: map[string]string{}}
	var names []string
	var none []string
	for i := range svcs {
		s := &svcs[i]
		name := composeName(st.Name, s.Spec.Name)
		if len(want) > 0 && !want[name] {
			continue
		}
		if s.PreviousSpec == nil {
			none = append(none, name)
			continue
		}
		names = append(names, name)
		res.Before[name] = stripDigest(s.Spec.TaskTemplate.ContainerSpec.Image)
		res.Images[name] = stripDigest(s.PreviousSpec.TaskTemplate.ContainerSpec.Image)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no service of %s on the Swarm has a previous spec (a service gets one with its first update)", ErrNothingToRollBack, st.Name)
	}
	before, err := c.marks(ctx)
	if err != nil {
		return nil, err
	}
	sink.Start("rollback")
	err = func() error {
		for i := range svcs {
			s := &svcs[i]
			name := composeName(st.Name, s.Spec.Name)
			if res.Images[name] == "" && res.Before[name] == "" {
				continue
			}
			sink.Event(stackops.Event{Op: "rollback", Service: name, Phase: "rolling back", Message: res.Before[name] + " → " + res.Images[name], Time: time.Now()})
			if err := c.Engine.RollbackService(ctx, s); err != nil {
				return fmt.Errorf("rollback of %s: %w", name, err)
			}
		}
		res.Commands = append(res.Commands, []string{"docker", "service", "rollback", strings.Join(names, " ")})
		gate, err := c.gate(ctx, "rollback", names, before, timeout, sink)
		if err != nil {
			return err
		}
		res.Gate = gate
		return gateError(gate, timeout)
	}()
	res.DurationMS = time.Since(res.StartedAt).Milliseconds()
	res.OK = err == nil
	res.Result = stackops.ResultSuccess
	if err != nil {
		res.Result, res.Error = stackops.ResultFailed, err.Error()
	}
	sink.Done("rollback", err)
	if herr := c.record(res, names, false, true); herr != nil && err == nil {
		err = herr
	}
	return res, err
}
