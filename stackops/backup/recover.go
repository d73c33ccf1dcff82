package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// opMarkerName is the file in .stackpilot/ that says a backup or restore
// has stopped services (or removed their containers) and has not yet
// brought them back. The operation holds an flock on opMarkerLock while it runs; a
// marker nobody holds was left by a stackpilot that was killed, and the
// next command that calls Recover puts the services back.
const opMarkerName = "backup-in-progress.json"

// opMarkerLock is the marker's lock: a sidecar, since the record itself is
// replaced at each change and a lock on it would follow the old inode.
const opMarkerLock = "backup-in-progress.lock"

// markerData is the marker's content.
type markerData struct {
	Op      string    `json:"op"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// Backup names the archive for a command that runs it again: its id,
	// or its path when the id does not find it (RefOf).
	Backup string `json:"backup,omitempty"`
	// Stopped are containers the operation stopped and must start again.
	Stopped []markerContainer `json:"stopped,omitempty"`
	// Recreate are services whose containers a restore removed and that
	// were running: created and started again with Compose.
	Recreate []string `json:"recreate,omitempty"`
	// RecreateStopped were not running: created again, not started.
	RecreateStopped []string `json:"recreate_stopped,omitempty"`
	// Incomplete are volumes a restore was replacing: their content may be
	// partial, so their services are not started blindly.
	Incomplete []string `json:"incomplete,omitempty"`
	// SafetyBackup is the archive holding what was there before the restore.
	SafetyBackup string `json:"safety_backup,omitempty"`
}

type markerContainer struct {
	Service string `json:"service"`
	ID      string `json:"id"`
	Name    string `json:"name"`
	// Stopping is set while the stop request may still be in flight: the
	// engine carries on stopping a container after its client was killed, so
	// starting it straight away could be undone by that stop a moment later.
	Stopping bool `json:"stopping,omitempty"`
}

// markStopped records that the stop of container id has completed.
func (d *markerData) markStopped(id string) {
	for i := range d.Stopped {
		if d.Stopped[i].ID == id {
			d.Stopped[i].Stopping = false
		}
	}
}

// opMarker is a held marker: the lock on opMarkerLock, and the record.
type opMarker struct {
	path string   // the record, written whole (atomicfile) at each change
	lock *os.File // flocked while the operation runs; nil once released
	data markerData
}

// lockMarker takes the marker's lock, without waiting: false when the
// operation that holds it is still running.
func lockMarker(dir string) (*os.File, bool, error) {
	return lockFile(dir, opMarkerLock)
}

// beginMarker creates the marker and holds its lock until finish.
func beginMarker(st *stackops.Stack, op, backupRef string) (*opMarker, error) {
	dir, err := st.StateDir()
	if err != nil {
		return nil, err
	}
	lock, ok, err := lockMarker(dir)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("another stackpilot is backing up or restoring this stack (%s is locked)", filepath.Join(dir, opMarkerLock))
	}
	m := &opMarker{path: filepath.Join(dir, opMarkerName), lock: lock}
	// An unheld marker we just took over holds work a killed run left: keep it.
	var old markerData
	if b, err := os.ReadFile(m.path); err == nil && len(b) > 0 && json.Unmarshal(b, &old) == nil {
		m.data = old
	}
	m.data.Op, m.data.PID, m.data.Started, m.data.Backup = op, os.Getpid(), time.Now().UTC(), backupRef
	if err := m.write(); err != nil {
		m.finish()
		return nil, err
	}
	return m, nil
}

// write replaces the record with the marker's data, whole and durably.
func (m *opMarker) write() error {
	b, _ := json.MarshalIndent(m.data, "", "  ")
	return atomicfile.Write(m.path, append(b, '\n'), atomicfile.Options{Mode: 0o600})
}

// update changes the marker and writes it to disk before returning, so a
// kill right after still leaves the truth behind.
func (m *opMarker) update(fn func(*markerData)) error {
	fn(&m.data)
	return m.write()
}

// finish removes the marker: everything it listed is back. Volumes an
// earlier, interrupted restore left incomplete stay recorded.
func (m *opMarker) finish() {
	if m == nil || m.lock == nil {
		return
	}
	if len(m.data.Incomplete) > 0 {
		m.data.Stopped, m.data.Recreate, m.data.RecreateStopped = nil, nil, nil
		_ = m.write()
		m.keep()
		return
	}
	_ = os.Remove(m.path)
	m.keep()
}

// keep releases the marker but leaves it on disk (what it says still holds).
func (m *opMarker) keep() {
	if m == nil || m.lock == nil {
		return
	}
	_ = m.lock.Close()
	m.lock = nil
}

// Recover finishes what a backup or restore killed while it had services
// stopped left undone: it starts those services again (or keeps them
// stopped, saying why, when a restore left their volume half-replaced) and
// returns what it did as warnings to show. Load does not do this: the
// commands that act on or report the running stack call Recover first, so
// the guarantee holds whichever of them runs next. It does nothing when no
// marker exists (a stat), or while the operation that wrote it is still
// running (it holds the marker's lock). The error is about reading the
// marker; what could not be started is in the warnings.
func Recover(ctx context.Context, st *stackops.Stack, opts RecoverOptions) ([]string, error) {
	swarmWarnings := recoverSwarm(ctx, st, opts)
	warnings, err := recoverHost(ctx, st)
	return append(swarmWarnings, warnings...), err
}

// RecoverOptions are what Recover needs beyond the stack.
type RecoverOptions struct {
	// SwarmGate holds the services a killed run left at 0 on a Swarm to the
	// Swarm health gate once they are scaled back, as a deploy is; the
	// warning then says whether they came back. Without it they are scaled
	// back without waiting.
	SwarmGate SwarmGate
}

// recoverHost is Recover for what a backup or restore stopped or removed
// through an engine (a Swarm's paused services are recoverSwarm's).
func recoverHost(ctx context.Context, st *stackops.Stack) ([]string, error) {
	p := filepath.Join(st.Dir, ".stackpilot", opMarkerName)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("interrupted backup marker: %w", err)
	}
	lock, ok, err := lockMarker(filepath.Dir(p))
	if err != nil || !ok {
		return nil, err // !ok: the operation is still running
	}
	m := &opMarker{path: p, lock: lock}
	// The holder may have finished and removed the record while we waited.
	b, err := os.ReadFile(p)
	if err != nil {
		m.keep()
		return nil, nil
	}
	if err := json.Unmarshal(b, &m.data); err != nil {
		m.finish()
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
	defer cancel()
	what, done := bringBack(ctx, st, &m.data)
	var warnings []string
	op := m.data.Op
	if op == "" {
		op = "a backup"
	}
	for _, w := range what {
		warnings = append(warnings, fmt.Sprintf("%s (pid %d, %s) was interrupted: %s", op, m.data.PID, m.data.Started.Local().Format("2006-01-02 15:04:05"), w))
	}
	if done {
		m.finish()
		return warnings, nil
	}
	_ = m.write()
	m.keep()
	return warnings, nil
}

// bringBack starts what the marker lists and reports what it did. It returns
// done=false while something is still to do (the marker is kept, reduced to it).
func bringBack(ctx context.Context, st *stackops.Stack, d *markerData) (warnings []string, done bool) {
	eng, err := st.Engine()
	if err != nil {
		return []string{"cannot reach docker to start its stopped services again: " + err.Error()}, false
	}
	removeHelpers(ctx, st, eng)
	blocked := map[string]bool{}
	for _, vol := range d.Incomplete {
		for _, bv := range stackVolumes(st, st.ServiceNames()) {
			if bv.Key == vol {
				for _, svc := range bv.Services {
					blocked[svc] = true
				}
			}
		}
	}
	var started, failed, held []string
	var keepStopped []markerContainer
	for _, c := range d.Stopped {
		if blocked[c.Service] {
			held = append(held, c.Service)
			keepStopped = append(keepStopped, c)
			continue
		}
		if c.Stopping {
			// Let a stop the killed run started finish first (it does, on the
			// engine's side); stopping an already stopped container is a no-op.
			if err := eng.StopContainer(ctx, c.ID, 10*time.Second); err != nil && errors.Is(err, engine.ErrNotFound) {
				continue
			}
		}
		if err := eng.StartContainer(ctx, c.ID); err != nil {
			if errors.Is(err, engine.ErrNotFound) {
				continue // removed since; a restore recreates it below
			}
			failed = append(failed, fmt.Sprintf("%s (%v)", c.Service, stackops.DockerError(err)))
			keepStopped = append(keepStopped, c)
			continue
		}
		started = append(started, c.Service)
	}
	var keepRecreate, keepRecreateStopped []string
	for _, set := range []struct {
		services []string
		start    bool
		keep     *[]string
	}{{d.Recreate, true, &keepRecreate}, {d.RecreateStopped, false, &keepRecreateStopped}} {
		var pending []string
		for _, svc := range set.services {
			if blocked[svc] {
				held = append(held, svc)
				*set.keep = append(*set.keep, svc)
				continue
			}
			pending = append(pending, svc)
		}
		if len(pending) == 0 {
			continue
		}
		if err := composeRecreate(ctx, st, pending, set.start); err != nil {
			failed = append(failed, fmt.Sprintf("%s (%v)", strings.Join(pending, ", "), err))
			*set.keep = append(*set.keep, pending...)
			continue
		}
		if set.start {
			started = append(started, pending...)
		}
	}
	if len(started) > 0 {
		warnings = append(warnings, "started "+strings.Join(dedupe(started), ", ")+" again")
	}
	if len(failed) > 0 {
		warnings = append(warnings, "could not start "+strings.Join(failed, "; ")+" — start them with "+st.CommandLine("deploy"))
	}
	if len(d.Incomplete) > 0 {
		who := strings.Join(dedupe(held), ", ")
		if who == "" { // on a Swarm, recoverSwarm held them (at 0 replicas)
			who = "the services that mount it"
		}
		msg := fmt.Sprintf("volume %s may be incomplete, so %s stay stopped — run %s again",
			strings.Join(d.Incomplete, ", "), who, st.CommandLine("backup", "restore", d.Backup))
		if d.SafetyBackup != "" {
			msg += fmt.Sprintf(", or %s to go back to the state before", st.CommandLine("backup", "restore", d.SafetyBackup))
		}
		msg += fmt.Sprintf(" (or delete .stackpilot/%s to accept the volume as it is)", opMarkerName)
		warnings = append(warnings, msg)
	}
	d.Stopped, d.Recreate, d.RecreateStopped = keepStopped, keepRecreate, keepRecreateStopped
	return warnings, len(keepStopped) == 0 && len(keepRecreate) == 0 && len(keepRecreateStopped) == 0 && len(d.Incomplete) == 0
}

// composeRecreate creates the services' containers again with Compose (a
// restore removed them to replace their volumes), starting them or not.
func composeRecreate(ctx context.Context, st *stackops.Stack, services []string, start bool) error {
	args := []string{"up", "--no-deps", "--no-build"}
	if start {
		args = append(args, "-d")
	} else {
		args = append(args, "--no-start")
	}
	var stderr strings.Builder
	args = append(args, services...)
	if err := st.RunCompose(ctx, stackops.Cmd{Stderr: &stderr}, args...); err != nil {
		if msg := lastLines(stderr.String(), 5); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, " / "))
}

func dedupe(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
