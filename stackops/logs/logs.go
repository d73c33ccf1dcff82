// Package logs is the logs commands' job on a stack: read the containers'
// logs merged in time order (Read), follow them across restarts and
// redeploys, summarise them (Summarize), and detect each line's level. Logs
// are read from the Docker Engine, so Compose v1 and v2 stacks read alike;
// the stream itself is decoded by stackops/internal/logstream.
package logs

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
	"github.com/stackpilot/stackpilot/stackops/internal/logkeep"
	"github.com/stackpilot/stackpilot/stackops/internal/logstream"
)

// Options selects which log lines Logs and Summary read.
type Options struct {
	// Services limits the read; empty means every service.
	Services []string
	// Follow keeps reading as containers write, and picks up containers
	// started or recreated while following (a redeploy), until ctx ends.
	Follow bool
	// Tail keeps only the last Tail lines of each container that pass the
	// filters; negative means all lines.
	Tail int
	// Since and Until bound the lines by the engine's timestamps; zero means unbounded.
	Since, Until time.Time
	// Grep keeps lines whose text matches.
	Grep *regexp.Regexp
	// Level keeps lines at this level or more severe; LevelNone keeps every
	// line, including those without a recognisable level.
	Level Level
	// Containers, when set, is told which containers are read: once with
	// those found at the start (possibly none), then for each container
	// picked up while following. It runs on the goroutine that calls emit.
	Containers func(found []Container, initial bool)
	// Warn, when set, is told about containers whose log cannot be read
	// (a logging driver such as "none" or syslog keeps nothing to read back);
	// they are skipped. Without it they are skipped silently.
	Warn func(msg string)
}

// skipUnreadable turns an unreadable log into a warning; other errors stay.
func skipUnreadable(err error, warn func(string)) error {
	if !errors.Is(err, logstream.ErrUnreadable) {
		return err
	}
	if warn != nil {
		warn(err.Error())
	}
	return nil
}

// Container names a container whose log is read.
type Container struct {
	Service string `json:"service"`
	Name    string `json:"name"`
	ID      string `json:"id"`
	Replica int    `json:"replica"`
}

func (src *logSource) container() Container {
	return Container{Service: src.service, Name: src.name, ID: src.id, Replica: src.replica}
}

// Line is one line a container wrote. Its JSON form is stackpilot's
// `logs --json` output, one object per line.
type Line struct {
	Service   string    `json:"service"`
	Container string    `json:"container"`
	Time      time.Time `json:"time"`
	Stream    string    `json:"stream"` // stdout or stderr
	// Level is the detected level, "" in JSON when the line names none.
	Level   Level  `json:"level"`
	Message string `json:"message"`
	// Replica is the container's number within its service (1, 2, …).
	Replica int `json:"-"`
	// Replicas is how many replicas the service has (its compose scale, or
	// the distinct container numbers seen): prefixes name the replica only
	// when there are several.
	Replicas int `json:"-"`
}

// ErrFollowUntil means --until was combined with following, which would stop
// at a time that has already passed or never show what it waits for.
var ErrFollowUntil = errors.New("following logs cannot be combined with an end time (until)")

// logSource is one container whose log is read.
type logSource struct {
	service  string
	name     string
	id       string
	replica  int
	tty      bool
	restarts int
	order    int // position in the merge, for a stable order of equal times
	// kept, when set, is a replaced container whose log end stackpilot
	// kept: it is read from there, not from the engine.
	kept *logkeep.Container
}

// sourceFromContainer makes a log source of a container whose Detail is
// filled: whether it has a terminal decides how its log stream is framed.
func sourceFromContainer(c *stackops.Container) *logSource {
	src := &logSource{
		service:  c.Service,
		name:     c.Name,
		id:       c.ID,
		tty:      c.Detail.Tty,
		restarts: c.Detail.RestartCount,
		replica:  c.Number,
	}
	if src.replica == 0 {
		src.replica = 1
	}
	return src
}

// logSources lists the containers of the selected services, in any state:
// a crashed container's last words are often what one is looking for. The
// list does not say whether a container has a terminal (which decides how
// its log stream is framed) nor its restart count: Inspect reads them, in
// one round trip, and not at all for a running container whose run it read
// before.
func logSources(ctx context.Context, st *stackops.Stack, eng *engine.Client, services []string) ([]*logSource, error) {
	cs, err := st.ProjectContainers(ctx, eng, services)
	if err != nil {
		return nil, err
	}
	if cs, err = st.Inspect(ctx, eng, cs, stackops.AllDetail); err != nil {
		return nil, err
	}
	out := make([]*logSource, 0, len(cs))
	for i, c := range cs {
		src := sourceFromContainer(c)
		src.order = i
		out = append(out, src)
	}
	return out, nil
}

// lineFilter is the level and pattern a line must pass.
type lineFilter struct {
	level Level
	grep  *regexp.Regexp
}

func (f lineFilter) active() bool { return f.level != LevelNone || f.grep != nil }

func (f lineFilter) match(lvl Level, text []byte) bool {
	if f.level != LevelNone && lvl < f.level {
		return false
	}
	if f.grep != nil && !f.grep.Match(text) {
		return false
	}
	return true
}

// logQuery is what one container's read asks for.
type logQuery struct {
	follow       bool
	since, until int64 // unix ns, 0 for none
	tail         int   // negative: all
	filter       lineFilter
	warn         func(string) // told about unreadable logs, from the caller's goroutine
}

// lineFunc receives a line that passed the filter; text is valid only during the call.
type lineFunc func(ts int64, stream uint8, lvl Level, text []byte) error

func engineTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%09d", ns/1e9, ns%1e9)
}

// readSource reads one container's log and calls fn for each line that
// passes the filter. It returns the newest line time read (passing or
// not), where a later read picks up without repeating a line.
//
// The engine cuts --tail before any filter, so a tail of filtered lines
// reads everything in range and keeps the last n that pass, in a ring.
func readSource(ctx context.Context, eng *engine.Client, src *logSource, q logQuery, fn lineFunc) (int64, error) {
	if src.kept != nil {
		return readKept(ctx, src, q, fn)
	}
	o := engine.LogsOptions{Stdout: true, Stderr: true, Follow: q.follow, Timestamps: true,
		Since: engineTime(q.since), Until: engineTime(q.until), Tail: "all"}
	var ring *tailRing
	if q.tail >= 0 {
		if q.filter.active() {
			ring = newTailRing(q.tail)
		} else {
			o.Tail = strconv.Itoa(q.tail)
		}
	}
	rc, err := logstream.Open(ctx, eng, src.id, src.name, src.service, o)
	if err != nil {
		if errors.Is(err, logstream.ErrUnreadable) {
			return 0, err
		}
		return 0, fmt.Errorf("logs of %s: %w", src.name, stackops.DockerError(err))
	}
	defer rc.Close()
	var last int64
	dec := logstream.NewDecoder(src.tty, true)
	err = dec.Decode(rc, func(ts int64, stream uint8, text []byte) error {
		// The newest time seen, not the last line's: stdout and stderr are
		// copied into the log by separate goroutines, so a line can be stored
		// after a newer one of the other stream, and resuming from the last
		// line's time would print the newer one again.
		if ts > last {
			last = ts
		}
		lvl := DetectLevel(text)
		if !q.filter.match(lvl, text) {
			return nil
		}
		if ring != nil {
			ring.add(ts, stream, lvl, text)
			return nil
		}
		return fn(ts, stream, lvl, text)
	})
	if err != nil {
		if ctx.Err() != nil {
			return last, context.Cause(ctx)
		}
		return last, fmt.Errorf("logs of %s: %w", src.name, stackops.DockerError(err))
	}
	if ring != nil {
		if err := ring.each(fn); err != nil {
			return last, err
		}
	}
	return last, nil
}

// Logs reads the logs of the selected services' containers and calls emit
// for every line that passes the options' filters, from one goroutine.
//
// Without Follow, lines are merged across containers in timestamp order and
// Logs returns at the end. With Follow, the lines already written come first
// (merged the same way), then new lines as they are written; containers
// started while following — a restart, a scale-up, or the new container of
// a redeploy — are picked up from engine events. Following ends only when
// ctx does (Ctrl-C), with ctx's cause as the error.
func Read(ctx context.Context, st *stackops.Stack, opts Options, emit func(Line) error) error {
	if opts.Follow && !opts.Until.IsZero() {
		return ErrFollowUntil
	}
	services, err := st.ResolveServices(opts.Services)
	if err != nil {
		return err
	}
	eng, err := st.Engine()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	q := logQuery{tail: opts.Tail, filter: lineFilter{level: opts.Level, grep: opts.Grep}}
	if !opts.Since.IsZero() {
		q.since = opts.Since.UnixNano()
	}
	if !opts.Until.IsZero() {
		q.until = opts.Until.UnixNano()
	}

	// Subscribe to container starts before listing, so a container started
	// between the list and the subscription is not missed (the engine
	// replays events since the given time).
	var events <-chan engine.Event
	var eventErrs <-chan error
	if opts.Follow {
		since := strconv.FormatInt(time.Now().Add(-time.Second).Unix(), 10)
		events, eventErrs = eng.Events(ctx, since, engine.Filters{
			"type":  {"container"},
			"event": {"start"},
			"label": {stackops.LabelProject + "=" + st.Name},
		})
	}

	sources, err := logSources(ctx, st, eng, services)
	if err != nil {
		return err
	}
	rep := newReplicaCounter(st, services)
	found := make([]Container, 0, len(sources))
	for _, src := range sources {
		rep.see(src)
		found = append(found, src.container())
	}
	if opts.Containers != nil {
		opts.Containers(found, true)
	}

	q.warn = opts.Warn
	last, unreadable, err := mergeSources(ctx, eng, sources, q, rep, emit)
	if err != nil {
		cancel(err)
		return err
	}
	if !opts.Follow {
		return nil
	}
	f := &follower{st: st, eng: eng, ctx: ctx, q: q, rep: rep, emit: emit, wanted: map[string]bool{}, announce: opts.Containers,
		lines: make(chan Line, 256), done: make(chan followDone, 16),
		active: map[string]bool{}, warned: map[string]bool{}, restartPending: map[string]bool{}, last: map[string]int64{}, known: map[string]*logSource{}}
	for _, svc := range services {
		f.wanted[svc] = true
	}
	for i, src := range sources {
		f.known[src.id] = src
		f.last[src.id] = last[i]
		if unreadable[i] {
			f.warned[src.id] = true // said once; a restart will not make it readable
			continue
		}
		f.start(src)
	}
	err = f.run(events, eventErrs)
	cancel(err)
	f.wg.Wait()
	return err
}

// replicaCounter knows how many replicas each service has: its compose
// scale, or more when more container numbers are seen (a manual --scale).
type replicaCounter struct {
	scale   map[string]int
	numbers map[string]map[int]bool
}

func newReplicaCounter(st *stackops.Stack, services []string) *replicaCounter {
	r := &replicaCounter{scale: map[string]int{}, numbers: map[string]map[int]bool{}}
	for _, name := range services {
		if svc, ok := st.Project.Services[name]; ok {
			r.scale[name] = svc.GetScale()
		}
	}
	return r
}

func (r *replicaCounter) see(src *logSource) {
	m := r.numbers[src.service]
	if m == nil {
		m = map[int]bool{}
		r.numbers[src.service] = m
	}
	m[src.replica] = true
}

func (r *replicaCounter) count(service string) int {
	return max(r.scale[service], len(r.numbers[service]), 1)
}

func (r *replicaCounter) line(src *logSource, ts int64, stream uint8, lvl Level, text []byte) Line {
	st := "stdout"
	if stream == 2 {
		st = "stderr"
	}
	return Line{
		Service:   src.service,
		Container: src.name,
		Time:      time.Unix(0, ts).UTC(),
		Stream:    st,
		Level:     lvl,
		Message:   string(text),
		Replica:   src.replica,
		Replicas:  r.count(src.service),
	}
}

// mergeBatch is how many lines a reader hands to the merge at once.
const mergeBatch = 512

// mergeSources reads every source concurrently and emits their lines in
// timestamp order (a k-way merge: each container's log is already in
// order). It returns each source's last timestamp read, and which sources
// could not be read back (reported through q.warn and skipped).
func mergeSources(ctx context.Context, eng *engine.Client, sources []*logSource, q logQuery, rep *replicaCounter, emit func(Line) error) ([]int64, []bool, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	last := make([]int64, len(sources))
	errs := make([]error, len(sources))
	unreadable := make([]error, len(sources))
	chans := make([]chan []Line, len(sources))
	for i, src := range sources {
		ch := make(chan []Line, 4)
		chans[i] = ch
		go func() {
			defer close(ch)
			batch := make([]Line, 0, mergeBatch)
			send := func() bool {
				select {
				case ch <- batch:
					batch = make([]Line, 0, mergeBatch)
					return true
				case <-ctx.Done():
					return false
				}
			}
			var order lineReorder
			add := func(l Line) bool {
				batch = append(batch, l)
				return len(batch) < mergeBatch || send()
			}
			last[i], errs[i] = readSource(ctx, eng, src, q, func(ts int64, stream uint8, lvl Level, text []byte) error {
				if l, ok := order.push(rep.line(src, ts, stream, lvl, text)); ok && !add(l) {
					return context.Cause(ctx)
				}
				return nil
			})
			if errors.Is(errs[i], engine.ErrNotFound) {
				errs[i] = nil // removed since it was listed (a redeploy): nothing to read
			}
			if errors.Is(errs[i], logstream.ErrUnreadable) {
				unreadable[i], errs[i] = errs[i], nil
			}
			if errs[i] != nil {
				cancel(errs[i])
				return
			}
			for l, ok := order.pop(); ok; l, ok = order.pop() {
				if !add(l) {
					return
				}
			}
			if len(batch) > 0 {
				send()
			}
		}()
	}
	h := &mergeHeap{}
	for i := range sources {
		if b, ok := <-chans[i]; ok {
			h.items = append(h.items, &mergeCursor{batch: b, ch: chans[i], order: i})
		}
	}
	heap.Init(h)
	var emitErr error
	for h.Len() > 0 {
		c := h.items[0]
		if err := emit(c.batch[c.i]); err != nil {
			emitErr = err
			cancel(err)
			break
		}
		c.i++
		if c.i == len(c.batch) {
			b, ok := <-c.ch
			if !ok {
				heap.Pop(h)
				continue
			}
			c.batch, c.i = b, 0
		}
		heap.Fix(h, 0)
	}
	// Let every reader finish (they stop at once when cancelled).
	for _, ch := range chans {
		for range ch {
		}
	}
	skipped := make([]bool, len(sources))
	for i, err := range unreadable {
		skipped[i] = err != nil
		_ = skipUnreadable(err, q.warn)
	}
	if emitErr != nil {
		return last, skipped, emitErr
	}
	if cause := context.Cause(ctx); cause != nil {
		return last, skipped, cause
	}
	return last, skipped, nil
}

type mergeCursor struct {
	batch []Line
	i     int
	ch    chan []Line
	order int
}

type mergeHeap struct{ items []*mergeCursor }

func (h *mergeHeap) Len() int { return len(h.items) }
func (h *mergeHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	ta, tb := a.batch[a.i].Time, b.batch[b.i].Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.order < b.order
}
func (h *mergeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *mergeHeap) Push(x any)    { h.items = append(h.items, x.(*mergeCursor)) }
func (h *mergeHeap) Pop() any {
	n := len(h.items)
	x := h.items[n-1]
	h.items = h.items[:n-1]
	return x
}

// follower follows containers' logs after the backlog has been printed. One
// goroutine per container sends lines to the loop; the loop alone decides
// which containers are followed, from engine start events and from streams
// that end (a container that stopped).
type follower struct {
	st     *stackops.Stack
	eng    *engine.Client
	ctx    context.Context
	q      logQuery
	rep    *replicaCounter
	emit   func(Line) error
	wanted map[string]bool // selected services
	// announce is Options.Containers.
	announce func([]Container, bool)

	lines chan Line
	done  chan followDone

	known          map[string]*logSource
	active         map[string]bool
	restartPending map[string]bool  // started again while its old stream was still open
	last           map[string]int64 // the time of the last line read, per container
	warned         map[string]bool  // unreadable containers already reported
	wg             sync.WaitGroup
}

type followDone struct {
	id   string
	last int64
	err  error
}

// start follows src from just after the last line already shown (or, for a
// container never read, from its first line within Since). A container
// being followed writes only new lines, so no tail applies.
func (f *follower) start(src *logSource) {
	f.active[src.id] = true
	q := f.q
	q.follow = true
	q.tail = -1
	if last := f.last[src.id]; last != 0 && last >= q.since {
		q.since = last + 1
	}
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		last, err := readSource(f.ctx, f.eng, src, q, func(ts int64, stream uint8, lvl Level, text []byte) error {
			select {
			case f.lines <- f.rep.line(src, ts, stream, lvl, text):
				return nil
			case <-f.ctx.Done():
				return context.Cause(f.ctx)
			}
		})
		select {
		case f.done <- followDone{id: src.id, last: last, err: err}:
		case <-f.ctx.Done():
		}
	}()
}

func (f *follower) run(events <-chan engine.Event, eventErrs <-chan error) error {
	for {
		select {
		case <-f.ctx.Done():
			return context.Cause(f.ctx)
		case l := <-f.lines:
			if err := f.emit(l); err != nil {
				return err
			}
		case d := <-f.done:
			delete(f.active, d.id)
			if d.last > f.last[d.id] {
				f.last[d.id] = d.last
			}
			if errors.Is(d.err, logstream.ErrUnreadable) {
				if !f.warned[d.id] {
					f.warned[d.id] = true
					_ = skipUnreadable(d.err, f.q.warn)
				}
				d.err = nil
			}
			if d.err != nil && !errors.Is(d.err, engine.ErrNotFound) && f.ctx.Err() == nil {
				return d.err
			}
			if f.restartPending[d.id] && !errors.Is(d.err, engine.ErrNotFound) && !f.warned[d.id] {
				delete(f.restartPending, d.id)
				f.start(f.known[d.id])
			}
		case ev, ok := <-events:
			if !ok {
				var err error
				if eventErrs != nil {
					err = <-eventErrs
				}
				if f.ctx.Err() != nil {
					return context.Cause(f.ctx)
				}
				if err == nil {
					err = errors.New("the docker daemon closed the event stream")
				}
				return fmt.Errorf("following logs: %w", stackops.DockerError(err))
			}
			if err := f.onStart(ev); err != nil {
				return err
			}
		}
	}
}

// onStart follows a container that just started: a known one again from
// where its stream ended, a new one of a selected service from its start.
func (f *follower) onStart(ev engine.Event) error {
	id := ev.Actor.ID
	if src, ok := f.known[id]; ok {
		if f.warned[id] {
			return nil // its log cannot be read
		}
		if f.active[id] {
			f.restartPending[id] = true
			return nil
		}
		f.start(src)
		return nil
	}
	attrs := ev.Actor.Attributes
	if !f.wanted[attrs[stackops.LabelService]] || strings.EqualFold(attrs[stackops.LabelOneOff], "true") {
		return nil
	}
	c, err := f.st.InspectContainer(f.ctx, f.eng, id)
	if err != nil {
		if errors.Is(err, engine.ErrNotFound) || f.ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("inspect container %s: %w", engine.ShortID(id), stackops.DockerError(err))
	}
	if c.Labels[stackops.LabelProject] != f.st.Name || !f.wanted[c.Service] {
		return nil
	}
	src := sourceFromContainer(c)
	src.order = len(f.known)
	f.known[id] = src
	f.rep.see(src)
	if f.announce != nil {
		f.announce([]Container{src.container()}, false)
	}
	f.start(src)
	return nil
}

// ParseTime reads a --since/--until value: a duration back from now
// ("10m", "1h30m", "2d"), an RFC 3339 time ("2025-11-25T22:00:00Z"), a local
// date and time ("2025-11-25 22:00", "2025-11-25T22:00:05", "2025-11-25"), or
// a unix timestamp ("1764108000").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if days, err := strconv.Atoi(n); err == nil && days >= 0 {
			return now.Add(-time.Duration(days) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration back from now cannot be negative", s)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	if sec, frac, ok := strings.Cut(s, "."); len(sec) >= 9 {
		if n, err := strconv.ParseInt(sec, 10, 64); err == nil {
			ns := int64(0)
			if ok {
				f, err := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
				if err != nil {
					return time.Time{}, fmt.Errorf("%q is not a time", s)
				}
				ns = f
			}
			return time.Unix(n, ns), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: use a duration back from now (10m, 2h, 3d), RFC 3339 (2025-11-25T22:00:00Z), a local date and time (2025-11-25 22:00) or a unix timestamp", s)
}
