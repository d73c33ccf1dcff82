package stackops

import (
	"testing"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

func TestTempName(t *testing.T) {
	const oldID = "f43fe58969f1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	const newID = "0123456789abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	for _, c := range []struct {
		id, name string
		labels   map[string]string
		want     string
		ok       bool
	}{
		// v2: the new container under the old one's id, labelled.
		{newID, "/f43fe58969f1_demo-db-1", map[string]string{labelReplace: "db-1"}, "demo-db-1", true},
		// v1: the old container under its own id.
		{oldID, "f43fe58969f1_demo_db_1", nil, "demo_db_1", true},
		// A name that merely looks like one: neither its own id nor labelled.
		{newID, "f43fe58969f1_demo_db_1", nil, "", false},
		{oldID, "demo-db-1", map[string]string{labelReplace: "db-1"}, "", false},
		{oldID, "F43FE58969F1_demo_db_1", nil, "", false},
	} {
		got, ok := tempName(c.id, c.name, c.labels)
		if got != c.want || ok != c.ok {
			t.Errorf("tempName(%s, %q) = %q, %v; want %q, %v", c.id[:12], c.name, got, ok, c.want, c.ok)
		}
	}
}

func event(action, id string, attrs map[string]string) engine.Event {
	var e engine.Event
	e.Type, e.Action, e.Actor.ID, e.Actor.Attributes = "container", action, id, attrs
	return e
}

// The tracker follows both Compose variants' replacement sequences (as
// recorded from the engine) and is busy exactly while one is in flight.
func TestReplaceTrackerSequences(t *testing.T) {
	const old = "aaaaaaaaaaaa1111111111111111111111111111111111111111111111111111"
	const fresh = "bbbbbbbbbbbb2222222222222222222222222222222222222222222222222222"
	before := &snapshot{byService: map[string][]snapContainer{"db": {{ID: old, State: StateRunning}}}}
	type step struct {
		e    engine.Event
		busy bool
	}
	for name, steps := range map[string][]step{
		"v2": {
			{event("create", fresh, map[string]string{"name": "aaaaaaaaaaaa_p-db-1", labelReplace: "db-1"}), true},
			{event("kill", old, map[string]string{"name": "p-db-1", "signal": "15"}), true},
			{event("die", old, map[string]string{"name": "p-db-1", "exitCode": "0"}), true},
			{event("stop", old, map[string]string{"name": "p-db-1"}), true},
			{event("destroy", old, map[string]string{"name": "p-db-1"}), true},
			{event("rename", fresh, map[string]string{"name": "p-db-1", "oldName": "/aaaaaaaaaaaa_p-db-1", labelReplace: "db-1"}), false},
			{event("start", fresh, map[string]string{"name": "p-db-1"}), false},
		},
		"v1": {
			{event("kill", old, map[string]string{"name": "p_db_1", "signal": "15"}), true},
			{event("die", old, map[string]string{"name": "p_db_1", "exitCode": "0"}), true},
			{event("stop", old, map[string]string{"name": "p_db_1"}), true},
			{event("rename", old, map[string]string{"name": "aaaaaaaaaaaa_p_db_1", "oldName": "/p_db_1"}), true},
			{event("create", fresh, map[string]string{"name": "p_db_1"}), true},
			{event("start", fresh, map[string]string{"name": "p_db_1"}), true},
			{event("destroy", old, map[string]string{"name": "aaaaaaaaaaaa_p_db_1"}), false},
		},
	} {
		tr := newReplaceTracker(before)
		for i, s := range steps {
			tr.observe(s.e)
			if got := tr.busy(); got != s.busy {
				t.Errorf("%s: after step %d (%s) busy = %v, want %v", name, i, s.e.Action, got, s.busy)
			}
		}
		if !tr.wasStopped(old) || tr.wasStopped(fresh) {
			t.Errorf("%s: stopped old %v fresh %v", name, tr.wasStopped(old), tr.wasStopped(fresh))
		}
	}
	// A health check's exec events are not lifecycle events: they neither
	// make it busy nor keep the engine from settling.
	tr := newReplaceTracker(before)
	tr.observe(event("exec_start: /fixture check", old, nil))
	if tr.busy() || !tr.last.IsZero() {
		t.Fatal("an exec event counted as a replacement step")
	}
}
