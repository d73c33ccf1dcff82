package logs

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
	"github.com/stackpilot/stackpilot/stackops/internal/logstream"
)

// Summary is `logs --summary`: per service, what its containers logged
// and the errors worth looking at first.
type Summary struct {
	Project string `json:"project"`
	// Since and Until echo the time range read (null when unbounded).
	Since    *time.Time       `json:"since"`
	Until    *time.Time       `json:"until"`
	Services []ServiceSummary `json:"services"`
}

// ServiceSummary is one service's part of a Summary.
type ServiceSummary struct {
	Service string `json:"service"`
	// Containers is how many of its containers were read (0: the service
	// has none now).
	Containers int `json:"containers"`
	// Replaced are the containers a deploy or rollback replaced during the
	// window, whose kept log was read too; their lines, errors and restarts
	// are in the counts.
	Replaced []ReplacedContainer `json:"replaced"`
	// Lines counts the lines read (after --grep/--level/--tail).
	Lines  int64       `json:"lines"`
	Levels LevelCounts `json:"levels"`
	// Restarts is the engine's restart count (restarts by the restart
	// policy), summed over the containers, the replaced ones included.
	Restarts   int          `json:"restarts"`
	FirstError *LoggedError `json:"first_error"`
	LastError  *LoggedError `json:"last_error"`
	// TopErrors are the five most repeated error messages, most frequent first.
	TopErrors []ErrorGroup `json:"top_errors"`
}

// LevelCounts counts lines by detected level; Other is lines without one.
type LevelCounts struct {
	Error int64 `json:"error"`
	Warn  int64 `json:"warn"`
	Info  int64 `json:"info"`
	Debug int64 `json:"debug"`
	Other int64 `json:"other"`
}

// LoggedError is one error line with its time and container.
type LoggedError struct {
	Time      time.Time `json:"time"`
	Container string    `json:"container"`
	Message   string    `json:"message"`
}

// ErrorGroup is a repeated error: its message with numbers, ids, hex and
// UUIDs replaced by <n>, <id> and <uuid> so that repeats group, how often it
// occurred, and the first line seen of it.
type ErrorGroup struct {
	Message string `json:"message"`
	Count   int64  `json:"count"`
	Example string `json:"example"`
}

// ErrSummaryFollow means a summary was asked to follow; a summary is of what
// has been written.
var ErrSummaryFollow = errors.New("a log summary cannot follow")

// topErrors is how many error groups a summary lists per service.
const topErrors = 5

// sketchCapacity bounds the distinct error messages counted per container.
// Up to it counts are exact; beyond it the rarest group makes room (the
// Space-Saving algorithm), so frequent messages still surface and memory
// stays constant however many distinct errors a log holds.
const sketchCapacity = 1024

// maxPattern and maxExample bound the stored text of a group.
const (
	maxPattern = 200
	maxExample = 300
)

// Summary reads the selected services' logs in one streaming pass —
// constant memory whatever the log's length — and counts lines by level,
// the first and last error, and the most repeated error messages. Tail,
// Since, Until, Grep and Level select the lines summarised, as for Logs.
//
// Containers that a deploy or rollback replaced during the window count
// too: the engine deleted their logs, but stackpilot kept the end of each
// (its last lines, restart count and exit status) when it replaced it.
// Containers replaced by other means (docker compose up by hand) are gone
// without a trace stackpilot could read.
func Summarize(ctx context.Context, st *stackops.Stack, opts Options) (*Summary, error) {
	if opts.Follow {
		return nil, ErrSummaryFollow
	}
	services, err := st.ResolveServices(opts.Services)
	if err != nil {
		return nil, err
	}
	eng, err := st.Engine()
	if err != nil {
		return nil, err
	}
	sources, err := logSources(ctx, st, eng, services)
	if err != nil {
		return nil, err
	}
	kept, err := keptSources(st, services, opts.Since, opts.Until, sources, opts.Warn)
	if err != nil {
		return nil, err
	}
	sources = append(sources, kept...)
	q := logQuery{tail: opts.Tail, filter: lineFilter{level: opts.Level, grep: opts.Grep}}
	res := &Summary{Project: st.Name, Services: []ServiceSummary{}}
	if !opts.Since.IsZero() {
		q.since = opts.Since.UnixNano()
		t := opts.Since.UTC()
		res.Since = &t
	}
	if !opts.Until.IsZero() {
		q.until = opts.Until.UnixNano()
		t := opts.Until.UTC()
		res.Until = &t
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	accs := make([]*summaryAcc, len(sources))
	unreadable := make([]error, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		acc := newSummaryAcc()
		accs[i] = acc
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := readSource(ctx, eng, src, q, acc.add)
			switch {
			case errors.Is(err, logstream.ErrUnreadable):
				unreadable[i] = err
			case err != nil && src.kept != nil && ctx.Err() == nil:
				// A damaged kept log is skipped with a warning, like an unreadable one.
				unreadable[i] = fmt.Errorf("%w (skipped)", err)
			case err != nil && !errors.Is(err, engine.ErrNotFound):
				cancel(err)
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	for i, err := range unreadable {
		if err != nil && sources[i].kept != nil && opts.Warn != nil {
			opts.Warn(err.Error())
			continue
		}
		_ = skipUnreadable(err, opts.Warn)
	}

	for _, svc := range services {
		row := ServiceSummary{Service: svc, TopErrors: []ErrorGroup{}, Replaced: []ReplacedContainer{}}
		groups := map[string]*ErrorGroup{}
		for i, src := range sources {
			if src.service != svc {
				continue
			}
			a := accs[i]
			if src.kept != nil {
				row.Replaced = append(row.Replaced, src.replaced())
			} else {
				row.Containers++
			}
			row.Restarts += src.restarts
			row.Lines += a.lines
			row.Levels.Error += a.levels[LevelError]
			row.Levels.Warn += a.levels[LevelWarn]
			row.Levels.Info += a.levels[LevelInfo]
			row.Levels.Debug += a.levels[LevelDebug]
			row.Levels.Other += a.levels[LevelNone]
			if a.firstSet && (row.FirstError == nil || time.Unix(0, a.firstTS).Before(row.FirstError.Time)) {
				row.FirstError = &LoggedError{Time: time.Unix(0, a.firstTS).UTC(), Container: src.name, Message: clip(a.first, maxExample)}
			}
			if a.firstSet && (row.LastError == nil || !time.Unix(0, a.lastTS).Before(row.LastError.Time)) {
				row.LastError = &LoggedError{Time: time.Unix(0, a.lastTS).UTC(), Container: src.name, Message: clip(a.last, maxExample)}
			}
			for _, e := range a.sketch.h {
				g := groups[e.key]
				if g == nil {
					g = &ErrorGroup{Message: e.key, Example: e.example}
					groups[e.key] = g
				}
				g.Count += e.count
			}
		}
		for _, g := range groups {
			row.TopErrors = append(row.TopErrors, *g)
		}
		sort.Slice(row.TopErrors, func(i, j int) bool {
			a, b := row.TopErrors[i], row.TopErrors[j]
			if a.Count != b.Count {
				return a.Count > b.Count
			}
			return a.Message < b.Message
		})
		if len(row.TopErrors) > topErrors {
			row.TopErrors = row.TopErrors[:topErrors]
		}
		res.Services = append(res.Services, row)
	}
	return res, nil
}

// summaryAcc accumulates one container's summary. Its memory is fixed: the
// counters, two error lines, and the bounded sketch.
type summaryAcc struct {
	lines           int64
	levels          [LevelError + 1]int64
	firstSet        bool
	firstTS, lastTS int64
	first, last     []byte
	sketch          *errorSketch
	norm            []byte
}

func newSummaryAcc() *summaryAcc {
	return &summaryAcc{sketch: newErrorSketch(sketchCapacity)}
}

func (a *summaryAcc) add(ts int64, _ uint8, lvl Level, text []byte) error {
	a.lines++
	a.levels[lvl]++
	if lvl != LevelError {
		return nil
	}
	if !a.firstSet {
		a.firstSet, a.firstTS = true, ts
		a.first = append(a.first[:0], text[:min(len(text), maxExample+4)]...)
	}
	a.lastTS = ts
	a.last = append(a.last[:0], text[:min(len(text), maxExample+4)]...)
	msg := errorMessage(text)
	a.norm = normalizeMessage(a.norm[:0], msg)
	a.sketch.add(a.norm, msg)
	return nil
}

// errorMessage is the part of a line that says what went wrong: a JSON
// line's msg/message (else error) field, a logfmt line's msg=, a text line's
// words after its level; the whole line when none of these is found.
func errorMessage(line []byte) []byte {
	_, kind, end := detectLevel(line)
	switch kind {
	case kindJSON:
		for _, k := range [][]byte{[]byte(`"msg"`), []byte(`"message"`), []byte(`"error"`), []byte(`"err"`)} {
			if v := jsonStringField(line, k); v != nil {
				return v
			}
		}
	case kindLogfmt:
		for _, k := range [][]byte{[]byte("msg="), []byte("message="), []byte("error="), []byte("err=")} {
			if v := logfmtField(line, k); v != nil {
				return v
			}
		}
	default:
		if end > 0 && end <= len(line) {
			rest := bytes.TrimLeft(line[end:], " \t:|-]>)")
			if len(rest) > 0 {
				return rest
			}
		}
	}
	return bytes.TrimSpace(line)
}

// jsonStringField returns the raw (still escaped) string value of key, or nil.
func jsonStringField(line, key []byte) []byte {
	off := 0
	for {
		i := bytes.Index(line[off:], key)
		if i < 0 {
			return nil
		}
		k := off + i + len(key)
		for k < len(line) && (line[k] == ' ' || line[k] == '\t') {
			k++
		}
		if k < len(line) && line[k] == ':' {
			k++
			for k < len(line) && (line[k] == ' ' || line[k] == '\t') {
				k++
			}
			if k < len(line) && line[k] == '"' {
				j := k + 1
				for j < len(line) && line[j] != '"' {
					if line[j] == '\\' {
						j++
					}
					j++
				}
				return line[k+1 : min(j, len(line))]
			}
			return nil
		}
		off = k
	}
}

// logfmtField returns the value of key= (key includes the =), unquoted, or nil.
func logfmtField(line, key []byte) []byte {
	off := 0
	for {
		i := bytes.Index(line[off:], key)
		if i < 0 {
			return nil
		}
		at := off + i
		if at > 0 && line[at-1] != ' ' && line[at-1] != '\t' {
			off = at + len(key)
			continue
		}
		v := line[at+len(key):]
		if len(v) > 0 && v[0] == '"' {
			j := 1
			for j < len(v) && v[j] != '"' {
				if v[j] == '\\' {
					j++
				}
				j++
			}
			return v[1:min(j, len(v))]
		}
		if e := bytes.IndexAny(v, " \t"); e >= 0 {
			return v[:e]
		}
		return v
	}
}

// normalizeMessage appends msg to dst with what varies between repeats of
// one error replaced: UUIDs by <uuid>, numbers by <n> (keeping a unit: 12ms
// → <n>ms), 0x… and other words holding digits (hex, 0x…, ids like user42) and long
// hex words by <id>; blank runs become one space. The result is at most
// maxPattern bytes.
func normalizeMessage(dst, msg []byte) []byte {
	i := 0
	space := false
	for i < len(msg) && len(dst) < maxPattern {
		c := msg[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			space = true
			i++
			continue
		}
		if space && len(dst) > 0 {
			dst = append(dst, ' ')
		}
		space = false
		if !isWordByte(c) {
			dst = append(dst, c)
			i++
			continue
		}
		if isUUIDAt(msg, i) {
			dst = append(dst, "<uuid>"...)
			i += 36
			continue
		}
		j := i
		digits, lead, hex := 0, 0, true
		for j < len(msg) && isWordByte(msg[j]) {
			ch := msg[j]
			if isDigit(ch) {
				digits++
				if lead == j-i {
					lead++
				}
			} else if !((ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')) {
				hex = false
			}
			j++
		}
		w := msg[i:j]
		switch {
		case digits == len(w):
			dst = append(dst, "<n>"...)
		case len(w) > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X'):
			dst = append(dst, "<id>"...)
		case digits > 0 && lead > 0 && digits == lead && !hex && len(w)-lead <= 3:
			dst = append(dst, "<n>"...) // a number with a unit
			dst = append(dst, w[lead:]...)
		case digits > 0:
			dst = append(dst, "<id>"...)
		case hex && len(w) >= 16:
			dst = append(dst, "<id>"...)
		default:
			dst = append(dst, w...)
		}
		i = j
	}
	if len(dst) > maxPattern {
		dst = dst[:maxPattern]
	}
	return dst
}

// isUUIDAt reports whether a UUID (8-4-4-4-12 hex digits) starts at b[i].
func isUUIDAt(b []byte, i int) bool {
	if len(b)-i < 36 {
		return false
	}
	for k := 0; k < 36; k++ {
		c := b[i+k]
		switch k {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
				return false
			}
		}
	}
	return i+36 == len(b) || !isWordByte(b[i+36])
}

// clip cuts b to at most n bytes on a rune boundary, marking the cut.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return strings.ToValidUTF8(string(b), "?")
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return strings.ToValidUTF8(string(b[:cut]), "?") + "…"
}

// errorSketch counts error patterns in bounded memory (Space-Saving): a map
// from pattern to counter, and a min-heap of counters so the rarest can be
// replaced when the map is full.
type errorSketch struct {
	capacity int
	m        map[string]*sketchEntry
	h        sketchHeap
}

type sketchEntry struct {
	key     string
	count   int64
	example string
	idx     int
}

func newErrorSketch(capacity int) *errorSketch {
	return &errorSketch{capacity: capacity, m: make(map[string]*sketchEntry)}
}

func (s *errorSketch) add(key, example []byte) {
	if e, ok := s.m[string(key)]; ok {
		e.count++
		heap.Fix(&s.h, e.idx)
		return
	}
	if len(s.h) < s.capacity {
		e := &sketchEntry{key: string(key), count: 1, example: clip(example, maxExample)}
		s.m[e.key] = e
		heap.Push(&s.h, e)
		return
	}
	e := s.h[0]
	delete(s.m, e.key)
	e.key, e.example = string(key), clip(example, maxExample)
	e.count++
	s.m[e.key] = e
	heap.Fix(&s.h, 0)
}

type sketchHeap []*sketchEntry

func (h sketchHeap) Len() int           { return len(h) }
func (h sketchHeap) Less(i, j int) bool { return h[i].count < h[j].count }
func (h sketchHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *sketchHeap) Push(x any) {
	e := x.(*sketchEntry)
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *sketchHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	*h = old[:n-1]
	return e
}
