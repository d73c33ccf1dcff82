package stackops

import (
	"context"
	"fmt"
)

// TailLogs returns the last n lines a container wrote (stdout and stderr
// merged in the order the engine stored them), read through the engine's log
// API so it works the same for Compose v1 and v2 stacks. The deploy failure
// report and the health gate show these lines.
func (s *Stack) TailLogs(ctx context.Context, containerID string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	info, err := eng.InspectContainer(ctx, containerID)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", shortID(containerID), dockerErr(err))
	}
	src := sourceFromContainer(info)
	ring := newTailRing(n)
	_, err = readSource(ctx, eng, src, logQuery{tail: n}, func(ts int64, stream uint8, lvl LogLevel, text []byte) error {
		ring.add(ts, stream, lvl, text)
		return nil
	})
	if err != nil {
		return nil, err
	}
	var lines []string
	_ = ring.each(func(_ int64, _ uint8, _ LogLevel, text []byte) error {
		lines = append(lines, string(text))
		return nil
	})
	return lines, nil
}

// tailRing keeps the last n lines it is given, reusing its buffers, so a
// tail of filtered lines costs n lines of memory however long the log is.
type tailRing struct {
	slots []tailSlot
	next  int
	full  bool
}

type tailSlot struct {
	ts     int64
	stream uint8
	lvl    LogLevel
	text   []byte
}

func newTailRing(n int) *tailRing {
	return &tailRing{slots: make([]tailSlot, n)}
}

func (r *tailRing) add(ts int64, stream uint8, lvl LogLevel, text []byte) {
	if len(r.slots) == 0 {
		return
	}
	sl := &r.slots[r.next]
	sl.ts, sl.stream, sl.lvl = ts, stream, lvl
	sl.text = append(sl.text[:0], text...)
	r.next++
	if r.next == len(r.slots) {
		r.next, r.full = 0, true
	}
}

// each calls fn for the kept lines, oldest first.
func (r *tailRing) each(fn lineFunc) error {
	start, count := 0, r.next
	if r.full {
		start, count = r.next, len(r.slots)
	}
	for k := 0; k < count; k++ {
		sl := &r.slots[(start+k)%len(r.slots)]
		if err := fn(sl.ts, sl.stream, sl.lvl, sl.text); err != nil {
			return err
		}
	}
	return nil
}
