package stackops

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
	"github.com/stackpilot/stackpilot/stackops/internal/logkeep"
	"github.com/stackpilot/stackpilot/stackops/internal/logstream"
)

// Keeping what a replaced container said. The engine deletes a container's
// log with the container; a rollout reads the end of each current
// container's log (and its restart count and exit status) before Compose
// runs, and keeps those of the containers Compose then removed under
// .stackpilot/replaced/, where `logs --summary` reads them (see package
// logkeep).

// Bounds of the read before Compose runs.
const (
	// tailReadTimeout bounds the whole read: a deploy does not wait longer.
	tailReadTimeout = 3 * time.Second
	// tailMaxBytes bounds the text kept in memory per container.
	tailMaxBytes = 2 << 20
)

// replacedTails holds, per container, what was read before Compose ran.
type replacedTails struct {
	done chan struct{}
	mu   sync.Mutex
	byID map[string]*replacedTail
}

type replacedTail struct {
	c     logkeep.Container
	lines []logkeep.Line
	bytes int
}

// readTails starts reading the current containers' state and log ends;
// wait for them with wait before anything is removed.
func (s *Stack) readTails(ctx context.Context, eng *engine.Client, before *snapshot) *replacedTails {
	rt := &replacedTails{done: make(chan struct{}), byID: map[string]*replacedTail{}}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tailReadTimeout)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for svc, cs := range before.byService {
		for _, sc := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				if t := readTail(ctx, eng, svc, sc); t != nil {
					rt.mu.Lock()
					rt.byID[sc.ID] = t
					rt.mu.Unlock()
				}
			}()
		}
	}
	go func() {
		wg.Wait()
		cancel()
		close(rt.done)
	}()
	return rt
}

func (rt *replacedTails) wait() { <-rt.done }

// readTail reads one container's state and the end of its log (nil when the
// container is gone or cannot be inspected; the log part may be missing).
func readTail(ctx context.Context, eng *engine.Client, service string, sc snapContainer) *replacedTail {
	c, err := eng.InspectContainer(ctx, sc.ID)
	if err != nil {
		return nil
	}
	t := &replacedTail{c: logkeep.Container{
		ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), Service: service, Number: sc.Number,
		Created: c.Created, StartedAt: c.State.StartedAt, FinishedAt: c.State.FinishedAt,
		State: c.State.Status, ExitCode: c.State.ExitCode, RestartCount: c.RestartCount,
	}}
	rc, err := logstream.Open(ctx, eng, c.ID, t.c.Name, service, engine.LogsOptions{Stdout: true, Stderr: true, Timestamps: true,
		Tail: strconv.Itoa(logkeep.MaxLines)})
	if err != nil {
		return t
	}
	defer rc.Close()
	_ = logstream.NewDecoder(c.Config.Tty, true).Decode(rc, func(ts int64, stream uint8, text []byte) error {
		if len(text) > logkeep.MaxLineBytes {
			text = text[:logkeep.MaxLineBytes]
		}
		t.lines = append(t.lines, logkeep.Line{TS: ts, Stream: stream, Text: string(text)})
		t.bytes += len(text)
		for t.bytes > tailMaxBytes && len(t.lines) > 0 {
			t.bytes -= len(t.lines[0].Text)
			t.lines = t.lines[1:]
			t.c.Truncated = true
		}
		return nil
	})
	if len(t.lines) >= logkeep.MaxLines {
		t.c.Truncated = true // the engine cut the log at the tail
	}
	return t
}

// keepReplacedLogs saves what was read of each container that was there
// before the rollout and is gone after it, and prunes the kept logs. It
// returns warnings.
func (s *Stack) keepReplacedLogs(ctx context.Context, eng *engine.Client, rt *replacedTails, after *snapshot, by string) []string {
	rt.wait()
	if after == nil {
		var err error
		if after, err = s.takeSnapshot(ctx, eng, s.ServiceNames()); err != nil {
			return nil
		}
	}
	present := map[string]bool{}
	for _, cs := range after.byService {
		for _, c := range cs {
			present[c.ID] = true
		}
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	var gone []*replacedTail
	for id, t := range rt.byID {
		if !present[id] {
			gone = append(gone, t)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	state, err := s.StateDir()
	if err != nil {
		return []string{"could not keep the logs of the replaced containers: " + err.Error()}
	}
	dir := filepath.Join(state, logkeep.Dir)
	now := time.Now().UTC()
	var warnings []string
	for _, t := range gone {
		// Only what the engine confirms is gone: a container missing from
		// the list for any other reason keeps its own log.
		if _, err := eng.InspectContainer(ctx, t.c.ID); err == nil || !isNotFound(err) {
			continue
		}
		t.c.RemovedAt, t.c.By = now, by
		if err := logkeep.Save(dir, t.c, t.lines); err != nil {
			warnings = append(warnings, fmt.Sprintf("could not keep the log of the replaced container %s: %v", t.c.Name, err))
		}
	}
	if err := logkeep.Prune(dir, now); err != nil {
		warnings = append(warnings, "could not prune the kept logs of replaced containers: "+err.Error())
	}
	return warnings
}
