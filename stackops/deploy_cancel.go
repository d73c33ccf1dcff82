package stackops

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// Cancelling a rollout without leaving a service half-replaced.
//
// Compose replaces a container in several engine calls, and a Compose stopped
// between two of them leaves the replica half-replaced:
//
//   - Compose v2 (pkg/compose/convergence.go, recreateContainer) creates the
//     new container as <old-id12>_<name> (labelled com.docker.compose.replace),
//     stops the old one, removes it and renames the new one to <name>. Every
//     service is (re)created first; the new containers are started afterwards,
//     in dependency order.
//   - Compose v1 (compose/service.py, recreate_container) stops the old
//     container, renames it to <own-id12>_<name>, creates the new one as
//     <name>, starts it and removes the old one.
//
// Stopped in between, v2 leaves a never-started <id12>_ container next to the
// old one (running, stopped, or already removed); v1 leaves the old one
// stopped, perhaps renamed, perhaps next to a new one. An engine call Compose
// was making when it died still completes in the daemon. `status` then shows
// two rows for one replica and a service that is down.
//
// So a rollout runs `up` in a process group of its own, out of reach of the
// terminal's Ctrl-C. On the first Ctrl-C (or SIGTERM) it lets a replacement in
// flight finish, then stops Compose; a second Ctrl-C stops Compose at once.
// Either way it then waits for the engine to settle and puts right what is
// left (repairReplacements), and the result says which services are not running.

// tempNameRe matches the temporary names Compose gives during a replacement.
var tempNameRe = lazyre.New(`^/?([0-9a-f]{12})_(.+)$`)

// labelReplace is set by Compose v2 on a container created to replace another.
const labelReplace = "com.docker.compose.replace"

// tempName reports whether a container's name is one of Compose's temporary
// names, and the name the replica goes by (what follows the prefix).
func tempName(id, name string, labels map[string]string) (string, bool) {
	m := tempNameRe().FindStringSubmatch(name)
	if m == nil {
		return "", false
	}
	// v1 prefixes its own id, v2 the replaced container's and labels it.
	if strings.HasPrefix(id, m[1]) || labels[labelReplace] != "" {
		return m[2], true
	}
	return "", false
}

// replaceTracker follows, from the engine's events, the replacements Compose
// has in flight, and which old containers it stopped.
type replaceTracker struct {
	mu        sync.Mutex
	old       map[string]bool // the services' containers before the rollout
	temp      map[string]bool // containers under a temporary name
	stopping  map[string]bool // being stopped: kill seen, exit not yet
	replacing map[string]bool // old containers Compose stopped, neither removed nor started again yet
	stopped   map[string]bool // old containers Compose stopped during the rollout
	last      time.Time       // the last lifecycle event
}

func newReplaceTracker(before *snapshot) *replaceTracker {
	tr := &replaceTracker{old: map[string]bool{}, temp: map[string]bool{}, stopping: map[string]bool{},
		replacing: map[string]bool{}, stopped: map[string]bool{}}
	if before != nil {
		for _, cs := range before.byService {
			for _, c := range cs {
				tr.old[c.ID] = true
			}
		}
	}
	return tr
}

// observe takes one container event of the project.
func (tr *replaceTracker) observe(e engine.Event) {
	id, attrs := e.Actor.ID, e.Actor.Attributes
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch e.Action {
	case "create", "kill", "stop", "destroy", "rename":
		// What Compose (or a repair) does; a crash loop's die and start are
		// not, and must not keep the engine from counting as settled.
		tr.last = time.Now()
	}
	switch e.Action {
	case "create":
		if _, ok := tempName(id, attrs["name"], attrs); ok {
			tr.temp[id] = true
		}
	case "rename":
		if _, ok := tempName(id, attrs["name"], attrs); ok {
			tr.temp[id] = true
		} else {
			delete(tr.temp, id)
		}
	case "kill":
		tr.stopping[id] = true
		if tr.old[id] {
			tr.replacing[id] = true
			tr.stopped[id] = true
		}
	case "die", "stop":
		delete(tr.stopping, id)
	case "start":
		delete(tr.replacing, id)
	case "destroy":
		delete(tr.temp, id)
		delete(tr.stopping, id)
		delete(tr.replacing, id)
	}
}

// busy reports whether a replacement is in flight.
func (tr *replaceTracker) busy() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.temp)+len(tr.stopping)+len(tr.replacing) > 0
}

// settled reports whether no stop is in progress and no lifecycle event came
// since quiet before now (nor after the given time).
func (tr *replaceTracker) settled(after time.Time, quiet time.Duration) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	last := tr.last
	if after.After(last) {
		last = after
	}
	return len(tr.stopping) == 0 && time.Since(last) >= quiet
}

func (tr *replaceTracker) wasStopped(id string) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.stopped[id]
}

// Timings of a cancelled rollout.
const (
	// cancelPoll is how often the engine's state is looked at while waiting.
	cancelPoll = 50 * time.Millisecond
	// settleQuiet is how long the engine must stay quiet after Compose
	// stopped before the repair looks: a call Compose made just before it
	// stopped still completes in the daemon, seconds later on a loaded host.
	settleQuiet = 1500 * time.Millisecond
	// repairPasses bounds the look-and-repair rounds after a cancel.
	repairPasses = 5
	// finishSlack is added to the longest stop grace period to bound the wait
	// for a replacement in flight (and for the engine to settle after Compose).
	finishSlack = 30 * time.Second
)

// maxStopGrace is the longest stop_grace_period of the services (Compose's
// default, 10 s, for those without one): how long stopping a container may take.
func (s *Stack) maxStopGrace(services []string) time.Duration {
	longest := 10 * time.Second
	for _, n := range services {
		if g := s.Project.Services[n].StopGracePeriod; g != nil && time.Duration(*g) > longest {
			longest = time.Duration(*g)
		}
	}
	return longest
}

// runUp runs Compose's up in its own process group. If ctx is cancelled while
// it runs, a replacement in flight is let finish (a second Ctrl-C — ctx's
// kill switch — does not wait) before Compose is stopped with the same
// cause. It returns what the runner returned.
func (s *Stack) runUp(ctx context.Context, cmd Cmd, tr *replaceTracker, sink EventSink, op string, grace time.Duration) error {
	cctx, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	defer stop(nil)
	kill := killSwitch(ctx)
	cctx = WithKillSwitch(cctx, kill)
	cmd.OwnGroup = true
	done := make(chan error, 1)
	go func() { done <- s.Runner.Run(cctx, cmd) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	cause := context.Cause(ctx)
	if tr.busy() {
		msg := "finishing the container being replaced… Ctrl-C again to stop now"
		if !errors.Is(cause, ErrInterrupted) {
			msg = "finishing the container being replaced before stopping"
		}
		sink.Event(Event{Op: op, Phase: "finishing", Message: msg, Time: time.Now()})
		deadline := time.After(grace + finishSlack)
		tick := time.NewTicker(cancelPoll)
	wait:
		for tr.busy() {
			select {
			case err := <-done:
				tick.Stop()
				return err
			case <-kill:
				break wait
			case <-deadline:
				break wait
			case <-tick.C:
			}
		}
		tick.Stop()
	}
	sink.Event(Event{Op: op, Phase: "stopping", Message: "stopping Compose", Time: time.Now()})
	stop(cause)
	return <-done
}

// ReplicaRepair is one thing stackpilot did to a replica Compose left
// half-replaced.
type ReplicaRepair struct {
	Service   string `json:"service"`
	Container string `json:"container"` // the name it goes by now (or had, when removed)
	Action    string `json:"action"`    // removed, renamed, started
	Detail    string `json:"detail"`
}

// String is the repair in words, for people: "db: removed …".
func (r ReplicaRepair) String() string { return r.Service + ": " + r.Detail }

// settleEngine waits until no container is being stopped and the engine
// has been quiet for settleQuiet since after (or until the deadline).
func (tr *replaceTracker) settleEngine(after, deadline time.Time) {
	for !tr.settled(after, settleQuiet) && time.Now().Before(deadline) {
		time.Sleep(cancelPoll)
	}
}

// putRight repairs what a stopped (or failed) Compose up left, in rounds:
// each waits for the engine to settle, then repairs; it ends with a round
// that found nothing to do on a quiet engine. A second round catches what
// an engine call still in the daemon when Compose stopped did late (a
// container created, or an old one stopped, after the first look).
func (s *Stack) putRight(ctx context.Context, eng *engine.Client, services []string, before *snapshot, tr *replaceTracker,
	stoppedAt time.Time, grace time.Duration) ([]ReplicaRepair, []string) {
	deadline := time.Now().Add(grace + finishSlack)
	var repairs []ReplicaRepair
	var warnings []string
	seen := map[string]bool{}
	after := stoppedAt
	for pass := 0; pass < repairPasses; pass++ {
		tr.settleEngine(after, deadline)
		r, w := s.repairReplacements(ctx, eng, services, before, tr)
		repairs = append(repairs, r...)
		for _, x := range w {
			if !seen[x] {
				seen[x] = true
				warnings = append(warnings, x)
			}
		}
		if len(r) == 0 || time.Now().After(deadline) {
			break
		}
		after = time.Now()
	}
	return repairs, warnings
}

// repairReplacements puts right, through the engine, each replica of the
// services that Compose left half-replaced: a new container that already
// ran is kept (the old one removed, the new one given its name); otherwise
// the old one is kept — the never-started new one removed, the old one
// given its name back and started again if Compose had stopped it. It
// never removes a volume. Failures are returned as warnings.
func (s *Stack) repairReplacements(ctx context.Context, eng *engine.Client, services []string, before *snapshot, tr *replaceTracker) ([]ReplicaRepair, []string) {
	list, err := eng.ListContainers(ctx, true, engine.Filters{"label": {LabelProject + "=" + s.Name}})
	if err != nil {
		return nil, []string{"could not check the containers after the cancel: " + DockerError(err).Error()}
	}
	wanted := map[string]bool{}
	for _, n := range services {
		wanted[n] = true
	}
	wasRunning := map[string]bool{}
	for _, cs := range before.byService {
		for _, c := range cs {
			wasRunning[c.ID] = c.State == StateRunning
		}
	}
	type replica struct {
		service string
		number  int
	}
	groups := map[replica][]engine.ContainerSummary{}
	var keys []replica
	for _, c := range list {
		svc := c.Labels[LabelService]
		if !wanted[svc] || strings.EqualFold(c.Labels[LabelOneOff], "true") {
			continue
		}
		n, _ := strconv.Atoi(c.Labels[LabelNumber])
		k := replica{svc, n}
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], c)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].service != keys[j].service {
			return keys[i].service < keys[j].service
		}
		return keys[i].number < keys[j].number
	})
	var repairs []ReplicaRepair
	var warnings []string
	for _, k := range keys {
		r, w := s.repairReplica(ctx, eng, k.service, groups[k], tr, wasRunning)
		repairs = append(repairs, r...)
		warnings = append(warnings, w...)
	}
	return repairs, warnings
}

func containerName(c engine.ContainerSummary) string {
	if len(c.Names) > 0 {
		return strings.TrimPrefix(c.Names[0], "/")
	}
	return engine.ShortID(c.ID)
}

// repairReplica decides for one replica's containers (see repairReplacements).
func (s *Stack) repairReplica(ctx context.Context, eng *engine.Client, service string, cs []engine.ContainerSummary,
	tr *replaceTracker, wasRunning map[string]bool) ([]ReplicaRepair, []string) {
	var old, fresh []engine.ContainerSummary
	for _, c := range cs {
		if tr.old[c.ID] {
			old = append(old, c)
		} else {
			fresh = append(fresh, c)
		}
	}
	var ran *engine.ContainerSummary
	for i := range fresh {
		if fresh[i].State != "created" {
			ran = &fresh[i]
			break
		}
	}
	var repairs []ReplicaRepair
	var warnings []string
	did := func(c engine.ContainerSummary, action, detail string) {
		repairs = append(repairs, ReplicaRepair{Service: service, Container: containerName(c), Action: action, Detail: detail})
	}
	fail := func(what string, err error) {
		warnings = append(warnings, fmt.Sprintf("%s: could not %s: %v", service, what, DockerError(err)))
	}
	remove := func(c engine.ContainerSummary, why string) bool {
		if err := eng.RemoveContainer(ctx, c.ID, true, false); err != nil && !isNotFound(err) {
			fail("remove "+containerName(c), err)
			return false
		}
		did(c, "removed", "removed "+containerName(c)+" ("+why+")")
		return true
	}
	// giveName renames c to the name its replica goes by, when it has a temporary one.
	giveName := func(c engine.ContainerSummary, whose string) engine.ContainerSummary {
		name := containerName(c)
		target, ok := tempName(c.ID, name, c.Labels)
		if !ok {
			return c
		}
		if err := eng.RenameContainer(ctx, c.ID, target); err != nil {
			fail("rename "+name+" to "+target, err)
			return c
		}
		did(c, "renamed", fmt.Sprintf("renamed %s container %s to %s", whose, name, target))
		c.Names = []string{"/" + target}
		return c
	}
	switch {
	case ran != nil:
		// The new container already ran: the replacement is done but for the clean-up.
		for _, c := range old {
			remove(c, "the container it was replaced by is already in place")
		}
		for _, c := range fresh {
			if c.ID != ran.ID {
				remove(c, "a second replacement Compose never started")
			}
		}
		giveName(*ran, "the new")
	case len(old) > 0:
		// Roll the replacement back: the old container stays.
		ok := true
		for _, c := range fresh {
			ok = remove(c, "the replacement Compose created but never started; the previous container is kept") && ok
		}
		keep := old[0]
		for _, c := range old[1:] {
			remove(c, "a duplicate of "+containerName(keep))
		}
		if ok {
			keep = giveName(keep, "the previous")
		}
		if wasRunning[keep.ID] && keep.State != StateRunning && tr.wasStopped(keep.ID) {
			if err := eng.StartContainer(ctx, keep.ID); err != nil {
				fail("start "+containerName(keep)+" again", err)
			} else {
				did(keep, "started", "started "+containerName(keep)+" again (Compose had stopped it to replace it)")
			}
		}
	case len(fresh) > 0:
		// Only the new, never-started container is left: it takes the name.
		giveName(fresh[0], "the new")
		for _, c := range fresh[1:] {
			remove(c, "a second replacement Compose never started")
		}
	}
	return repairs, warnings
}

// cancelledServices is each service's state after a cancelled rollout, as
// the engine has it now, with a final progress line per service saying so.
func (s *Stack) cancelledServices(ctx context.Context, eng *engine.Client, spec rolloutSpec, before, after *snapshot,
	since time.Time, settle time.Duration, sink EventSink) []ServiceDeploy {
	// judgeGate reads each container's Detail (restarts, start, exit): the
	// list alone leaves it nil.
	containers, err := s.gateLook(ctx, eng, spec.gate)
	if err != nil {
		return s.servicesFromSnapshot(spec.gate, before, after)
	}
	look := s.judgeGate(ctx, spec.gate, containers, nil, map[string]int{}, since, settle, time.Now())
	out := s.servicesFromLook(spec.gate, before, after, look, true)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Service < out[j].Service })
	for _, sd := range out {
		sink.Event(Event{Op: spec.op, Service: sd.Service, Phase: StateText(sd.ServiceHealth), Time: time.Now(),
			Final: true, Failed: sd.State != StateRunning})
	}
	return out
}

// StateText says in a few words what state a service is in: "running,
// healthy", "created, never started", "exited (1)", "not created".
func StateText(h ServiceHealth) string {
	switch h.State {
	case StateRunning:
		if h.Health != "" {
			return "running, " + h.Health
		}
		return "running"
	case "created":
		return "created, never started"
	case StateExited, "dead":
		return fmt.Sprintf("%s (%d)", h.State, h.ExitCode)
	case "", StateNotCreated:
		return "no container"
	}
	return h.State
}
