package swarm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// gatePoll is how often the gate reads the services and tasks: a task Swarm
// marks failed is reported within about this long (one /services and one
// /tasks call on the manager each time, a few milliseconds).
const gatePoll = 250 * time.Millisecond

// TaskReport is one task, as the gate and status show it.
type TaskReport struct {
	Service      string    `json:"service"`
	ID           string    `json:"id"`
	Slot         int       `json:"slot,omitempty"`
	Node         string    `json:"node"`
	State        string    `json:"state"`
	DesiredState string    `json:"desired_state"`
	Health       string    `json:"health,omitempty"`
	Image        string    `json:"image"`
	Error        string    `json:"error,omitempty"`
	ExitCode     *int      `json:"exit_code,omitempty"`
	Since        time.Time `json:"since"`
	// Logs are the failed task's last log lines.
	Logs []string `json:"logs,omitempty"`
}

// Reason is the one-line why of a failed task: its error, its exit code,
// the node it ran on.
func (t TaskReport) Reason() string {
	var parts []string
	if t.Error != "" {
		parts = append(parts, t.Error)
	} else {
		parts = append(parts, t.State)
	}
	if t.ExitCode != nil && !strings.Contains(t.Error, fmt.Sprintf("(%d)", *t.ExitCode)) {
		parts = append(parts, fmt.Sprintf("exit code %d", *t.ExitCode))
	}
	return fmt.Sprintf("task %s.%d on node %s: %s", t.Service, t.Slot, t.Node, strings.Join(parts, ", "))
}

// serviceMark is a service as it was before a deploy: what the gate
// compares with to tell this deploy's update and tasks from earlier ones.
type serviceMark struct {
	version      uint64
	taskTemplate string
	updateStart  time.Time
	tasks        map[string]bool
}

// marks reads the stack's services and tasks before a change.
func (c *Cluster) marks(ctx context.Context) (map[string]*serviceMark, error) {
	svcs, err := c.Engine.ListServices(ctx, stackFilter(c.Stack.Name))
	if err != nil {
		return nil, err
	}
	out := map[string]*serviceMark{}
	var ids []string
	for _, s := range svcs {
		name := composeName(c.Stack.Name, s.Spec.Name)
		m := &serviceMark{version: s.Version.Index, taskTemplate: taskTemplate(s.RawSpec), tasks: map[string]bool{}}
		if s.UpdateStatus != nil {
			m.updateStart = s.UpdateStatus.StartedAt
		}
		out[name] = m
		ids = append(ids, s.ID)
	}
	if len(ids) > 0 {
		tasks, err := c.Engine.ListTasks(ctx, stackFilter(c.Stack.Name))
		if err != nil {
			return nil, err
		}
		byID := map[string]string{}
		for _, s := range svcs {
			byID[s.ID] = composeName(c.Stack.Name, s.Spec.Name)
		}
		for _, t := range tasks {
			if m := out[byID[t.ServiceID]]; m != nil {
				m.tasks[t.ID] = true
			}
		}
	}
	return out, nil
}

func taskTemplate(spec json.RawMessage) string {
	var s struct {
		TaskTemplate json.RawMessage `json:"TaskTemplate"`
	}
	_ = json.Unmarshal(spec, &s)
	return string(s.TaskTemplate)
}

// GateResult is the health gate's verdict on a deploy or rollback.
type GateResult struct {
	Services []ServiceReport `json:"services"`
	OK       bool            `json:"ok"`
	// Failed is the first task that failed, with its logs.
	Failed *TaskReport `json:"failed,omitempty"`
	// RolledBack lists the services Swarm rolled back (failure_action: rollback).
	RolledBack []string `json:"rolled_back,omitempty"`
	// UpdateMessage is Swarm's own word on a paused or rolled-back update.
	UpdateMessage string `json:"update_message,omitempty"`
	TimedOut      bool   `json:"timed_out,omitempty"`
	// FailedSeen is when the gate saw the failed task (for the bench: Swarm's
	// own timestamp is in Failed.Since).
	FailedSeen time.Time `json:"failed_seen,omitempty"`
}

// gate waits until every service in names has its desired replicas running
// on its current spec (Swarm reports a task with a healthcheck running only
// once it is healthy), the update this deploy started completed; it fails
// at the first new task that fails or is rejected, or when Swarm pauses or
// rolls back the update. After a failure it keeps watching, within the
// timeout, until Swarm's own rollback of that service completes.
func (c *Cluster) gate(ctx context.Context, op string, names []string, before map[string]*serviceMark, timeout time.Duration, sink stackops.EventSink) (*GateResult, error) {
	deadline := time.Now().Add(timeout)
	settle := c.settleFor(op)
	// A task's age is what Swarm's timestamp says or how long this gate has
	// seen it running, whichever is longer: a manager whose clock runs ahead
	// cannot hold the gate beyond the settle time.
	firstSeen := map[string]time.Time{}
	age := func(t engine.Task) time.Duration {
		now := time.Now()
		seen, ok := firstSeen[t.ID]
		if !ok {
			seen, firstSeen[t.ID] = now, now
		}
		return max(now.Sub(t.Status.Timestamp), now.Sub(seen))
	}
	nodes := c.nodeNames(ctx)
	res := &GateResult{}
	reported := map[string]string{}
	var rollbackOf string
	for {
		svcs, tasks, err := c.read(ctx)
		if err != nil {
			return nil, err
		}
		byName := map[string]*engine.Service{}
		for i := range svcs {
			byName[composeName(c.Stack.Name, svcs[i].Spec.Name)] = &svcs[i]
		}
		tasksOf := map[string][]engine.Task{}
		for _, t := range tasks {
			tasksOf[t.ServiceID] = append(tasksOf[t.ServiceID], t)
		}
		allReady := true
		for _, name := range names {
			s := byName[name]
			if s == nil {
				allReady = false
				continue
			}
			mark := before[name]
			ready, phase, msg := judge(s, tasksOf[s.ID], mark, op == "rollback", settle, age)
			if !ready {
				allReady = false
			}
			if reported[name] != phase+msg {
				reported[name] = phase + msg
				sink.Event(stackops.Event{Op: op, Service: name, Phase: phase, Message: msg, Time: time.Now(), Final: ready, Failed: false})
			}
			if res.Failed != nil {
				continue
			}
			if t := newFailedTask(tasksOf[s.ID], mark); t != nil {
				res.FailedSeen = time.Now()
				tr := c.taskReport(ctx, name, *t, nodes)
				res.Failed = &tr
				sink.Event(stackops.Event{Op: op, Service: name, Phase: "failed", Message: tr.Reason(), Time: time.Now(), Final: true, Failed: true})
				// The failure is reported at once; its last log lines, which
				// the manager may need a moment to gather from the node,
				// complete the report.
				tr.Logs = c.taskLogs(ctx, t.ID, 20)
				if rollsBack(s, mark) {
					rollbackOf = name
					sink.Event(stackops.Event{Op: op, Service: name, Phase: "rolling back", Message: "Swarm rolls it back to the previous spec (update_config failure_action: rollback)", Time: time.Now()})
				} else {
					break
				}
			}
			if st := updateState(s, mark); st == "paused" || st == "rollback_paused" || (op != "rollback" && (st == "rollback_completed" || st == "rollback_started")) {
				res.UpdateMessage = s.UpdateStatus.Message
				if res.Failed == nil {
					res.Failed = &TaskReport{Service: name, State: st, Error: s.UpdateStatus.Message}
					res.FailedSeen = time.Now()
					sink.Event(stackops.Event{Op: op, Service: name, Phase: "failed", Message: "Swarm: " + s.UpdateStatus.Message, Time: time.Now(), Final: true, Failed: true})
				}
				if strings.HasPrefix(st, "rollback") {
					rollbackOf = name
				}
			}
		}
		if rollbackOf != "" {
			if s := byName[rollbackOf]; s != nil {
				if st := updateState(s, before[rollbackOf]); st == "rollback_completed" {
					res.RolledBack = append(res.RolledBack, rollbackOf)
					res.UpdateMessage = s.UpdateStatus.Message
					sink.Event(stackops.Event{Op: op, Service: rollbackOf, Phase: "rolled back", Message: "Swarm put the previous spec back: " + s.UpdateStatus.Message, Time: time.Now()})
					break
				}
			}
		} else if res.Failed != nil {
			break
		}
		if allReady && res.Failed == nil {
			res.OK = true
			break
		}
		if time.Now().After(deadline) {
			res.TimedOut = res.Failed == nil
			break
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(gatePoll):
		}
	}
	c.completeFailure(ctx, res, before, nodes)
	res.Services, _ = c.serviceReports(ctx, names)
	return res, nil
}

// completeFailure replaces a failure known only from Swarm's word on the
// update ("update rolled back due to failure … of task X") with the task
// that failed: its node, error, exit code and last log lines. Swarm can
// say so before the failed task is in a list the gate read (the tasks are
// read before the services), and the gate then never looked again.
func (c *Cluster) completeFailure(ctx context.Context, res *GateResult, before map[string]*serviceMark, nodes map[string]string) {
	f := res.Failed
	if f == nil || f.ID != "" {
		return
	}
	svcs, tasks, err := c.read(ctx)
	if err != nil {
		return
	}
	for _, s := range svcs {
		if composeName(c.Stack.Name, s.Spec.Name) != f.Service {
			continue
		}
		var own []engine.Task
		for _, t := range tasks {
			if t.ServiceID == s.ID {
				own = append(own, t)
			}
		}
		if t := newFailedTask(own, before[f.Service]); t != nil {
			tr := c.taskReport(ctx, f.Service, *t, nodes)
			tr.Logs = c.taskLogs(ctx, t.ID, 20)
			res.Failed = &tr
		}
	}
}

// read lists the stack's services and their tasks.
func (c *Cluster) read(ctx context.Context) ([]engine.Service, []engine.Task, error) {
	// Both at once: a stack's tasks carry its label too (as `docker stack
	// ps` reads them), so the tasks need not wait for the services' IDs.
	// Over ssh:// one connection in turn is faster (ParallelFriendly).
	var tasks []engine.Task
	var terr error
	done := make(chan struct{})
	listTasks := func() {
		defer close(done)
		tasks, terr = c.Engine.ListTasks(ctx, stackFilter(c.Stack.Name))
	}
	if c.Engine.ParallelFriendly() {
		go listTasks()
	} else {
		listTasks()
	}
	svcs, err := c.Engine.ListServices(ctx, stackFilter(c.Stack.Name))
	<-done
	if err == nil {
		err = terr
	}
	if err != nil {
		return nil, nil, c.explain(ctx, err)
	}
	return svcs, tasks, nil
}

// updateState is the service's update state when it belongs to an update
// started after mark ("" when there was none since).
func updateState(s *engine.Service, mark *serviceMark) string {
	if s.UpdateStatus == nil {
		return ""
	}
	if mark != nil && !s.UpdateStatus.StartedAt.After(mark.updateStart) {
		return ""
	}
	return s.UpdateStatus.State
}

// settleFor is how long a task without a healthcheck must have been running
// to count: the single-host gate's rule, so a command that crashes a second
// after it starts is not taken for a service that came up — Swarm's update
// monitor covers that for an update, nothing does for a new service or one
// scaled back after a backup. Backups and restores use the 2 s the
// single-host ones use; deploy and rollback x-stackpilot deploy.settle.
func (c *Cluster) settleFor(op string) time.Duration {
	switch op {
	case "deploy", "rollback":
		if cfg, err := c.Stack.DeployConfig(); err == nil {
			return cfg.Settle.Or(stackops.DefaultGateSettle)
		}
		return stackops.DefaultGateSettle
	}
	return 2 * time.Second
}

// judge says whether a service is ready, with a phase word and message.
// A requested rollback (rollback) runs as Swarm's rollback_started, done at
// rollback_completed. Without a healthcheck a task counts once its age has
// reached settle (with one, Swarm says running only once healthy).
func judge(s *engine.Service, tasks []engine.Task, mark *serviceMark, rollback bool, settle time.Duration, age func(engine.Task) time.Duration) (bool, string, string) {
	want := s.Spec.Replicas()
	if want < 0 {
		want = desiredTasks(tasks)
	}
	hc := s.Spec.TaskTemplate.ContainerSpec.Healthcheck
	checked := hc != nil && len(hc.Test) > 0 && hc.Test[0] != "NONE"
	running, young := 0, 0
	for _, t := range tasks {
		if t.DesiredState == "running" && t.Status.State == "running" {
			running++
			if !checked && age(t) < settle {
				young++
			}
		}
	}
	changed := mark == nil || mark.taskTemplate != taskTemplate(s.RawSpec)
	st := updateState(s, mark)
	switch {
	case st == "rollback_started" && !rollback:
		// Swarm has put the previous spec back already (so the spec looks unchanged).
		return false, "rolling back", s.UpdateStatus.Message
	case st == "paused" || st == "rollback_paused":
		return false, st, s.UpdateStatus.Message
	}
	if changed && mark != nil {
		// Swarm's rolling update of this change must have started and completed.
		switch st {
		case "":
			return false, "updating", "waiting for Swarm to start the update"
		case "updating":
			return false, "updating", fmt.Sprintf("rolling update: %d/%d running", running, want)
		case "rollback_started":
			if rollback {
				return false, "rolling back", fmt.Sprintf("%d/%d running", running, want)
			}
			return false, st, s.UpdateStatus.Message
		case "rollback_completed":
			if !rollback {
				return false, st, s.UpdateStatus.Message
			}
		case "completed":
		default:
			return false, st, s.UpdateStatus.Message
		}
	}
	if running < want {
		return false, "starting", fmt.Sprintf("%d/%d running", running, want)
	}
	if running-young < want {
		return false, "starting", fmt.Sprintf("%d/%d running, %d for less than %s", running, want, young, settle)
	}
	if checked {
		return true, "healthy", fmt.Sprintf("%d/%d running, healthy", running, want)
	}
	return true, "running", fmt.Sprintf("%d/%d running", running, want)
}

// newFailedTask is a task created since mark that failed or was rejected.
func newFailedTask(tasks []engine.Task, mark *serviceMark) *engine.Task {
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].Status.Timestamp.Before(tasks[j].Status.Timestamp) })
	for i := range tasks {
		t := &tasks[i]
		if mark != nil && mark.tasks[t.ID] {
			continue
		}
		switch t.Status.State {
		case "failed", "rejected":
			return t
		}
	}
	return nil
}

// nodeNames maps node IDs to hostnames.
func (c *Cluster) nodeNames(ctx context.Context) map[string]string {
	out := map[string]string{}
	nodes, err := c.Engine.ListNodes(ctx)
	if err != nil {
		return out
	}
	for _, n := range nodes {
		out[n.ID] = n.Description.Hostname
	}
	return out
}

func (c *Cluster) taskReport(_ context.Context, service string, t engine.Task, nodes map[string]string) TaskReport {
	node := nodes[t.NodeID]
	if node == "" {
		node = engine.ShortID(t.NodeID)
	}
	if node == "" {
		node = "(none)"
	}
	tr := TaskReport{Service: service, ID: t.ID, Slot: t.Slot, Node: node, State: t.Status.State, DesiredState: t.DesiredState,
		Image: t.Spec.ContainerSpec.Image, Error: t.Status.Err, Since: t.Status.Timestamp}
	if tr.Error == "" && (t.Status.State == "failed" || t.Status.State == "rejected") {
		tr.Error = t.Status.Message
	}
	if cs := t.Status.ContainerStatus; cs != nil && (t.Status.State == "failed" || t.Status.State == "complete" || t.Status.State == "shutdown") {
		code := cs.ExitCode
		tr.ExitCode = &code
	}
	return tr
}

// taskLogs is a task's last n log lines, gathered by the manager from the
// task's node; nil when they cannot be read. A task that has just failed
// on a worker may not have its lines at the manager yet (an empty answer,
// or a slow one on a busy node): it asks again for up to 10 s.
func (c *Cluster) taskLogs(ctx context.Context, id string, n int) []string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if lines := c.taskLogsOnce(ctx, id, n); len(lines) > 0 {
			return lines
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (c *Cluster) taskLogsOnce(ctx context.Context, id string, n int) []string {
	rc, err := c.Engine.TaskLogs(ctx, id, engine.LogsOptions{Stdout: true, Stderr: true, Tail: fmt.Sprint(n)}, false)
	if err != nil {
		return nil
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	return demuxLines(b)
}

// demuxLines splits a multiplexed log stream (8-byte frame headers) into
// lines; a stream without frames (a TTY) is split as it is.
func demuxLines(b []byte) []string {
	var text bytes.Buffer
	for len(b) >= 8 && (b[0] == 1 || b[0] == 2) && b[1] == 0 && b[2] == 0 && b[3] == 0 {
		n := int(b[4])<<24 | int(b[5])<<16 | int(b[6])<<8 | int(b[7])
		if 8+n > len(b) {
			break
		}
		text.Write(b[8 : 8+n])
		b = b[8+n:]
	}
	text.Write(b)
	var out []string
	sc := bufio.NewScanner(&text)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// rollsBack reports whether Swarm rolls the service back by itself when a
// new task fails: an update (the service existed before) with
// failure_action rollback. (Swarm drops PreviousSpec once its rollback
// starts, so that is not asked.) A service only scaled since mark (a
// backup's pause, scaled back) has no update to roll back: its failed task
// fails the gate at once instead of leaving it waiting for a rollback.
func rollsBack(s *engine.Service, mark *serviceMark) bool {
	if mark == nil {
		return false
	}
	if mark.taskTemplate == taskTemplate(s.RawSpec) && updateState(s, mark) == "" {
		return false
	}
	if s.Spec.UpdateConfig != nil && s.Spec.UpdateConfig.FailureAction == "rollback" {
		return true
	}
	return s.PreviousSpec != nil && s.PreviousSpec.UpdateConfig != nil && s.PreviousSpec.UpdateConfig.FailureAction == "rollback"
}

// desiredTasks counts the tasks Swarm wants running: a global service's
// desired count (one per eligible node), read from its tasks rather than
// asking the manager to count (?status=true makes it list every task and
// node again).
func desiredTasks(tasks []engine.Task) int {
	n := 0
	for _, t := range tasks {
		if t.DesiredState == "running" {
			n++
		}
	}
	return n
}
