package logs

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/logkeep"
)

// KeptLines is how many of a replaced container's last log lines are kept.
const KeptLines = logkeep.MaxLines

// ReplacedContainer is a container of the service that a deploy or
// rollback replaced during the summarised window. The engine deleted its
// log with it; what it said is read from the end of its log that stackpilot
// kept when it replaced it (.stackpilot/replaced/).
type ReplacedContainer struct {
	Container string    `json:"container"`
	ID        string    `json:"id"`
	RemovedAt time.Time `json:"removed_at"`
	// By is the operation that replaced it ("deploy 20261207T134042Z-2c79").
	By       string `json:"by"`
	Restarts int    `json:"restarts"`
	State    string `json:"state"`
	ExitCode int    `json:"exit_code"`
	// Truncated: only the last lines of its log were kept.
	Truncated bool `json:"truncated"`
}

// keptSources are the replaced containers of the services whose life
// overlaps [since, until] (zero: unbounded) and that are not among the live
// ones, as log sources.
func keptSources(st *stackops.Stack, services []string, since, until time.Time, live []*logSource, warn func(string)) ([]*logSource, error) {
	list, bad, err := logkeep.List(filepath.Join(st.Dir, ".stackpilot", logkeep.Dir))
	if err != nil {
		return nil, fmt.Errorf("kept logs of replaced containers: %w", err)
	}
	if bad > 0 && warn != nil {
		warn(fmt.Sprintf("%d kept log(s) of replaced containers in .stackpilot/%s could not be read and were skipped", bad, logkeep.Dir))
	}
	wanted := map[string]bool{}
	for _, n := range services {
		wanted[n] = true
	}
	seen := map[string]bool{}
	for _, src := range live {
		seen[src.id] = true
	}
	var out []*logSource
	for i := range list {
		c := &list[i]
		if !wanted[c.Service] || seen[c.ID] {
			continue
		}
		if !since.IsZero() && c.RemovedAt.Before(since) || !until.IsZero() && c.Created.After(until) {
			continue
		}
		seen[c.ID] = true
		out = append(out, &logSource{service: c.Service, name: c.Name, id: c.ID, replica: max(c.Number, 1), restarts: c.RestartCount, kept: c})
	}
	return out, nil
}

// readKept is readSource for a replaced container's kept log: the same
// window, filters and tail.
func readKept(ctx context.Context, src *logSource, q logQuery, fn lineFunc) (int64, error) {
	var ring *tailRing
	if q.tail >= 0 {
		ring = newTailRing(q.tail)
	}
	var last int64
	err := logkeep.Read(*src.kept, func(l logkeep.Line) error {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if q.since != 0 && l.TS < q.since || q.until != 0 && l.TS > q.until {
			return nil
		}
		last = max(last, l.TS)
		text := []byte(l.Text)
		lvl := DetectLevel(text)
		if !q.filter.match(lvl, text) {
			return nil
		}
		if ring != nil {
			ring.add(l.TS, l.Stream, lvl, text)
			return nil
		}
		return fn(l.TS, l.Stream, lvl, text)
	})
	if err != nil {
		if ctx.Err() != nil {
			return last, context.Cause(ctx)
		}
		return last, fmt.Errorf("kept log of %s: %w", src.name, err)
	}
	if ring != nil {
		if err := ring.each(fn); err != nil {
			return last, err
		}
	}
	return last, nil
}

func (src *logSource) replaced() ReplacedContainer {
	c := src.kept
	return ReplacedContainer{Container: c.Name, ID: c.ID, RemovedAt: c.RemovedAt, By: c.By, Restarts: c.RestartCount,
		State: c.State, ExitCode: c.ExitCode, Truncated: c.Truncated}
}
