package swarm

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

func service(t *testing.T, js string) *engine.Service {
	t.Helper()
	var s engine.Service
	var raw struct {
		Spec json.RawMessage `json:"Spec"`
	}
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(js), &raw); err != nil {
		t.Fatal(err)
	}
	s.RawSpec = raw.Spec
	return &s
}

// ageAt is a task's age by its timestamp at now.
func ageAt(now time.Time) func(engine.Task) time.Duration {
	return func(t engine.Task) time.Duration { return now.Sub(t.Status.Timestamp) }
}

func task(id, state, desired string, at time.Time) engine.Task {
	var tk engine.Task
	tk.ID, tk.DesiredState, tk.Status.State, tk.Status.Timestamp = id, desired, state, at
	return tk
}

// The gate's judgement of one service: a changed spec is ready only once
// Swarm's update of it completed with every replica running; while Swarm
// rolls a deploy back the spec looks unchanged (Swarm put the previous one
// back), which must not read as ready; a requested rollback is done at
// rollback_completed.
func TestJudge(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	mark := &serviceMark{taskTemplate: `{"ContainerSpec":{"Image":"a"}}`, updateStart: t0, tasks: map[string]bool{"old1": true}}
	running := []engine.Task{task("n1", "running", "running", t0), task("n2", "running", "running", t0)}
	two := `"Mode":{"Replicated":{"Replicas":2}}`
	cases := []struct {
		name     string
		svc      string
		rollback bool
		ready    bool
		phase    string
	}{
		{"unchanged, all running", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"a"}},` + two + `}}`, false, true, "running"},
		{"changed, update not started", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"b"}},` + two + `}}`, false, false, "updating"},
		{"changed, updating", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"b"}},` + two + `},"UpdateStatus":{"State":"updating","StartedAt":"2026-12-07T10:00:05Z"}}`, false, false, "updating"},
		{"changed, completed", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"b"}},` + two + `},"UpdateStatus":{"State":"completed","StartedAt":"2026-12-07T10:00:05Z"}}`, false, true, "running"},
		{"deploy rolled back by Swarm", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"a"}},` + two + `},"UpdateStatus":{"State":"rollback_started","StartedAt":"2026-12-07T10:00:05Z"}}`, false, false, "rolling back"},
		{"requested rollback running", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"b"}},` + two + `},"UpdateStatus":{"State":"rollback_started","StartedAt":"2026-12-07T10:00:05Z"}}`, true, false, "rolling back"},
		{"requested rollback done", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"b"}},` + two + `},"UpdateStatus":{"State":"rollback_completed","StartedAt":"2026-12-07T10:00:05Z"}}`, true, true, "running"},
		{"update paused", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"b"}},` + two + `},"UpdateStatus":{"State":"paused","StartedAt":"2026-12-07T10:00:05Z"}}`, false, false, "paused"},
		{"an earlier update's state", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"a"}},` + two + `},"UpdateStatus":{"State":"paused","StartedAt":"2026-12-07T10:00:00Z"}}`, false, true, "running"},
	}
	for _, c := range cases {
		s := service(t, c.svc)
		ready, phase, _ := judge(s, running, mark, c.rollback, 5*time.Second, ageAt(t0.Add(time.Minute)))
		if ready != c.ready || phase != c.phase {
			t.Errorf("%s: ready %v phase %q, want %v %q", c.name, ready, phase, c.ready, c.phase)
		}
	}
	if ready, _, msg := judge(service(t, `{"Spec":{`+two+`}}`), running[:1], nil, false, 5*time.Second, ageAt(t0.Add(time.Minute))); ready || msg != "1/2 running" {
		t.Errorf("a new service short of a replica: ready %v, %q", ready, msg)
	}
	// Without a healthcheck a task counts once it has run for the settle
	// time: one running for a second could be a command about to crash.
	fresh := []engine.Task{task("n1", "running", "running", t0), task("n2", "running", "running", t0.Add(59*time.Second))}
	if ready, phase, msg := judge(service(t, `{"Spec":{`+two+`}}`), fresh, nil, false, 5*time.Second, ageAt(t0.Add(time.Minute))); ready || phase != "starting" || msg != "2/2 running, 1 for less than 5s" {
		t.Errorf("a task running for 1 s of a 5 s settle: ready %v %q %q", ready, phase, msg)
	}
	if ready, _, _ := judge(service(t, `{"Spec":{`+two+`}}`), fresh, nil, false, 5*time.Second, ageAt(t0.Add(65*time.Second))); !ready {
		t.Errorf("both tasks running for 5 s or more: not ready")
	}
	checked := `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"a","Healthcheck":{"Test":["CMD","true"]}}},` + two + `}}`
	if ready, phase, _ := judge(service(t, checked), fresh, nil, false, 5*time.Second, ageAt(t0.Add(time.Minute))); !ready || phase != "healthy" {
		t.Errorf("with a healthcheck Swarm's running means healthy; no settle: ready %v %q", ready, phase)
	}
	// Only tasks the deploy made count as its failures.
	tasks := []engine.Task{task("old1", "failed", "shutdown", t0), task("new1", "running", "running", t0), task("new2", "failed", "shutdown", t0.Add(time.Second))}
	if f := newFailedTask(tasks, mark); f == nil || f.ID != "new2" {
		t.Errorf("newFailedTask = %v, want new2", f)
	}
}

// Swarm rolls back an update, never a scale: a task that fails after a
// service was only scaled (a backup's pause undone) fails the gate at once.
func TestRollsBack(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	mark := &serviceMark{taskTemplate: `{"ContainerSpec":{"Image":"a"}}`, updateStart: t0}
	rb := `"UpdateConfig":{"FailureAction":"rollback"}`
	for _, c := range []struct {
		name string
		svc  string
		want bool
	}{
		{"scaled only", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"a"}},` + rb + `},"UpdateStatus":{"State":"completed","StartedAt":"2026-12-07T10:00:00Z"}}`, false},
		{"updated", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"b"}},` + rb + `}}`, true},
		{"Swarm's rollback already put the spec back", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"a"}},` + rb + `},"UpdateStatus":{"State":"rollback_started","StartedAt":"2026-12-07T10:00:05Z"}}`, true},
		{"updated, failure_action pause", `{"Spec":{"TaskTemplate":{"ContainerSpec":{"Image":"b"}},"UpdateConfig":{"FailureAction":"pause"}}}`, false},
	} {
		if got := rollsBack(service(t, c.svc), mark); got != c.want {
			t.Errorf("%s: rollsBack = %v, want %v", c.name, got, c.want)
		}
	}
}

// A service log line, with timestamps and details, is traced to its task and node.
func TestServiceLogLines(t *testing.T) {
	var stream bytes.Buffer
	frame := func(kind byte, s string) {
		hdr := make([]byte, 8)
		hdr[0] = kind
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(s)))
		stream.Write(hdr)
		stream.WriteString(s)
	}
	frame(1, "2026-12-07T10:00:01.000000001Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t1 hello one\n")
	frame(2, "2026-12-07T10:00:02Z com.docker.swarm.node.id=n2,com.docker.swarm.service.id=s1,com.docker.swarm.task.id=t2 ")
	frame(2, `{"level":"error","msg":"boom"}`+"\n")
	var lines []LogLine
	err := readServiceLog(&stream, func(kind string, b []byte) error {
		lines = append(lines, parseLogLine("web", kind, b))
		return nil
	})
	if err != nil || len(lines) != 2 {
		t.Fatalf("lines = %+v, %v", lines, err)
	}
	if l := lines[0]; l.Task != "t1" || l.Node != "n1" || l.Text != "hello one" || l.Time.Nanosecond() != 1 {
		t.Errorf("line 1 = %+v", l)
	}
	// A line split across two frames is one line, its level read from its JSON.
	if l := lines[1]; l.Task != "t2" || l.Stream != "stderr" || !strings.Contains(l.Text, "boom") || l.Level.String() != "error" {
		t.Errorf("line 2 = %+v", l)
	}
}
