package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// swarmMarkerName is the file in .stackpilot/ that says a backup or restore
// on a Swarm scaled services to 0 and has not yet scaled them back: the
// replica counts to go back to are written in it (whole, durably) before
// each service is scaled down. It is a sibling of opMarkerName, with its
// own lock, because a restore on a Swarm holds both at once (its volume
// replacement keeps the single-host marker for incomplete volumes).
const swarmMarkerName = "swarm-scaled-to-zero.json"

// swarmMarkerLock is held while the operation that wrote the marker runs.
const swarmMarkerLock = "swarm-scaled-to-zero.lock"

// swarmMarkerData is the Swarm marker's content.
type swarmMarkerData struct {
	Op      string    `json:"op"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// Node is the node whose engine the run reads and replaces volumes
	// through, and Host that engine's endpoint (x-stackpilot.nodes): a run
	// killed mid-copy leaves its helper container there, on an engine the
	// next command does not otherwise talk to.
	Node string `json:"node,omitempty"`
	Host string `json:"host,omitempty"`
	// Scaled are the services scaled to 0, with the count to go back to.
	Scaled []swarmScaled `json:"scaled"`
}

type swarmScaled struct {
	Service      string `json:"service"`       // compose service
	SwarmService string `json:"swarm_service"` // its Swarm service name
	Replicas     uint64 `json:"replicas"`
}

// pauseSwarm pauses the services through sw.Pause, recording each replica
// count in the Swarm marker before its service is scaled down. The returned
// resume scales them back (whatever ctx became: a Ctrl-C or SIGTERM still
// brings them back) and removes the marker once they are; if it fails, the
// marker stays and the next stackpilot command scales them back (Recover).
func pauseSwarm(ctx context.Context, st *stackops.Stack, sw *OnSwarm, op string) (func(context.Context) error, error) {
	dir, err := st.StateDir()
	if err != nil {
		return nil, err
	}
	lock, ok, err := lockFile(dir, swarmMarkerLock)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("another stackpilot is backing up or restoring this stack (%s is locked)", filepath.Join(dir, swarmMarkerLock))
	}
	path := filepath.Join(dir, swarmMarkerName)
	// A marker nobody held is a killed run's, with services Recover kept at
	// 0 (their restored volume may be incomplete): they stay recorded, and
	// come back with this run's services — once this restore has replaced
	// their volume whole.
	var earlier []swarmScaled
	if d, err := readSwarmMarker(path); err == nil {
		earlier = d.Scaled
	}
	data := swarmMarkerData{Op: op, PID: os.Getpid(), Started: time.Now().UTC(), Node: sw.Node, Scaled: earlier}
	if sw.Engine != nil {
		data.Host = sw.Engine.Host()
	}
	write := func() error {
		b, _ := json.MarshalIndent(data, "", "  ")
		return atomicfile.Write(path, append(b, '\n'), atomicfile.Options{Mode: 0o600})
	}
	// Written before anything changes — even with no service to scale
	// down, the helper containers this run creates on the node are found
	// from it after a kill.
	if err := write(); err != nil {
		_ = lock.Close()
		return nil, fmt.Errorf("record the Swarm backup's node before it starts: %w", err)
	}
	// release removes the marker when nothing is left at 0, else keeps it
	// reduced to what is (the next command's Recover tries again).
	release := func(left []swarmScaled) {
		if len(left) == 0 {
			_ = os.Remove(path)
		} else {
			data.Scaled = left
			_ = write()
		}
		_ = lock.Close()
	}
	record := func(service string, replicas uint64) error {
		data.Scaled = append(data.Scaled, swarmScaled{Service: service, SwarmService: sw.SwarmService(service), Replicas: replicas})
		if err := write(); err != nil {
			return fmt.Errorf("record %s's replica count before scaling it to 0: %w", service, err)
		}
		return nil
	}
	resume, err := sw.Pause(ctx, record)
	if err != nil {
		// Pause scaled back what it had scaled down before failing; should
		// that have failed too, this run's services are tried once more
		// (only a service still at 0 is scaled).
		_, left, _ := scaleBack(context.WithoutCancel(ctx), st, data.Scaled[len(earlier):], sw.Gate)
		release(append(left, earlier...))
		return nil, err
	}
	done := false
	return func(rctx context.Context) error {
		if done {
			return nil
		}
		done = true
		rctx = context.WithoutCancel(rctx)
		if err := resume(rctx); err != nil {
			// Scaled back or not, the next command checks again.
			release(data.Scaled)
			return err
		}
		_, left, gateErr := scaleBack(rctx, st, earlier, sw.Gate)
		release(left)
		if len(left) > 0 {
			return fmt.Errorf("could not scale %s back — run %s", scaledNames(left), st.CommandLine("deploy"))
		}
		if gateErr != nil {
			return fmt.Errorf("%s (left at 0 by an earlier, interrupted restore) scaled back, but %w", scaledNames(earlier), gateErr)
		}
		return nil
	}, nil
}

// readSwarmMarker reads the Swarm marker at path.
func readSwarmMarker(path string) (swarmMarkerData, error) {
	var d swarmMarkerData
	b, err := os.ReadFile(path)
	if err != nil {
		return d, err
	}
	return d, json.Unmarshal(b, &d)
}

// lockFile takes an flock on dir/name without waiting: false when another
// process holds it.
func lockFile(dir, name string) (*os.File, bool, error) {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("marker: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false, nil
	}
	return f, true, nil
}

// scaleBack scales each service that is still at 0 back to its recorded
// count through the stack's engine (the manager) and, with a gate, holds
// them to it: it returns once they run again (healthy, where they have a
// healthcheck), with the gate's failure when they do not. The scaling
// itself is not cancelled with ctx (services must not stay at 0 because
// someone pressed Ctrl-C); the wait is. It returns what it scaled, what it
// could not, and the gate's error.
func scaleBack(ctx context.Context, st *stackops.Stack, scaled []swarmScaled, gate SwarmGate) (done []string, left []swarmScaled, gateErr error) {
	if len(scaled) == 0 {
		return nil, nil, nil
	}
	eng, err := st.Engine()
	if err != nil {
		return nil, scaled, nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	// The gate reads the tasks before the scale-up, to tell the ones it
	// starts (a failed one fails the gate at once) from earlier ones.
	var wait func(context.Context, []string) error
	if gate != nil {
		if wait, err = gate(sctx); err != nil {
			gateErr = fmt.Errorf("could not follow them on the Swarm: %w", err)
		}
	}
	var names []string
	for _, s := range scaled {
		svc, err := eng.InspectService(sctx, s.SwarmService)
		if err != nil {
			if errors.Is(err, engine.ErrNotFound) {
				continue // removed since (stack rm): nothing to bring back
			}
			left = append(left, s)
			continue
		}
		if svc.Spec.Replicas() != 0 {
			continue // scaled by someone else since: theirs is the count now
		}
		if err := waitTasksStopped(sctx, eng, s.SwarmService); err != nil {
			left = append(left, s)
			continue
		}
		if err := eng.ScaleService(sctx, svc, s.Replicas); err != nil {
			left = append(left, s)
			continue
		}
		done = append(done, fmt.Sprintf("%s to %d", s.Service, s.Replicas))
		names = append(names, s.Service)
	}
	if wait != nil && len(names) > 0 {
		if err := wait(ctx, names); err != nil && ctx.Err() != nil {
			gateErr = fmt.Errorf("stopped waiting for them to run again: %w", context.Cause(ctx))
		} else if err != nil {
			gateErr = fmt.Errorf("they did not come back: %w", err)
		}
	}
	return done, left, gateErr
}

// waitTasksStopped waits until no task of a service scaled to 0 still runs:
// a run killed right after the scale-down left its task stopping (its stop
// grace period), and Swarm would start the scaled-back task beside it — two
// processes on one volume.
func waitTasksStopped(ctx context.Context, eng *engine.Client, service string) error {
	for {
		tasks, err := eng.ListTasks(ctx, engine.Filters{"service": {service}})
		if err != nil {
			return err
		}
		live := false
		for _, t := range tasks {
			live = live || t.Live()
		}
		if !live {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func scaledNames(list []swarmScaled) string {
	var n []string
	for _, s := range list {
		n = append(n, s.Service)
	}
	return strings.Join(n, ", ")
}

// recoverSwarm is Recover's part for a Swarm: the helper containers a
// killed backup or restore left on its node are removed, and the services
// it left at 0 replicas are scaled back to their recorded counts and held
// to the Swarm health gate (opts.SwarmGate).
func recoverSwarm(ctx context.Context, st *stackops.Stack, opts RecoverOptions) []string {
	dir := filepath.Join(st.Dir, ".stackpilot")
	path := filepath.Join(dir, swarmMarkerName)
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	lock, ok, err := lockFile(dir, swarmMarkerLock)
	if err != nil || !ok {
		return nil // still running
	}
	defer lock.Close()
	d, err := readSwarmMarker(path)
	if err != nil {
		_ = os.Remove(path)
		return nil
	}
	// A restore killed while replacing a volume left it maybe incomplete
	// (the other marker says which): its services stay at 0, as on one host.
	blocked := map[string]bool{}
	var host markerData
	if b, err := os.ReadFile(filepath.Join(dir, opMarkerName)); err == nil && json.Unmarshal(b, &host) == nil {
		for _, vol := range host.Incomplete {
			for _, bv := range stackVolumes(st, st.ServiceNames()) {
				if bv.Key == vol {
					for _, svc := range bv.Services {
						blocked[svc] = true
					}
				}
			}
		}
	}
	var pending, held []swarmScaled
	for _, s := range d.Scaled {
		if blocked[s.Service] {
			held = append(held, s)
		} else {
			pending = append(pending, s)
		}
	}
	// A run killed mid-copy left its helper container on the node.
	if d.Host != "" {
		if eng, err := engine.New(d.Host); err == nil {
			hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			removeHelpers(hctx, st, eng)
			cancel()
			eng.Close()
		}
	}
	done, left, gateErr := scaleBack(ctx, st, pending, opts.SwarmGate)
	op := d.Op
	if op == "" {
		op = "a backup"
	}
	prefix := fmt.Sprintf("%s (pid %d, %s) was interrupted while its services were scaled to 0: ", op, d.PID, d.Started.Local().Format("2006-01-02 15:04:05"))
	var warnings []string
	switch {
	case len(done) > 0 && gateErr != nil:
		warnings = append(warnings, prefix+"scaled "+strings.Join(done, ", ")+" again, but "+gateErr.Error()+" — see "+st.CommandLine("status"))
	case len(done) > 0 && opts.SwarmGate != nil:
		warnings = append(warnings, prefix+"scaled "+strings.Join(done, ", ")+" again, and they passed the Swarm health gate")
	case len(done) > 0:
		warnings = append(warnings, prefix+"scaled "+strings.Join(done, ", ")+" again")
	}
	if len(held) > 0 {
		warnings = append(warnings, prefix+scaledNames(held)+" stay at 0 replicas: the volume it mounts may be incomplete (below)")
	}
	if len(left) > 0 {
		warnings = append(warnings, prefix+"could not scale "+scaledNames(left)+" back — run "+st.CommandLine("deploy"))
	}
	if len(left) > 0 || len(held) > 0 {
		d.Scaled = append(left, held...)
		b, _ := json.MarshalIndent(d, "", "  ")
		_ = atomicfile.Write(path, append(b, '\n'), atomicfile.Options{Mode: 0o600})
		return warnings
	}
	_ = os.Remove(path)
	return warnings
}
