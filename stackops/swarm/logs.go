package swarm

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
	"github.com/stackpilot/stackpilot/stackops/logs"
)

// LogsOptions selects the lines Logs returns (the flags of `logs`).
type LogsOptions struct {
	Services []string // every service when empty
	Follow   bool
	Tail     int // per service; negative: all
	Since    time.Time
	Until    time.Time
	Grep     *regexp.Regexp
	Level    logs.Level
}

// LogLine is one line of a task's log, traced to its task and node.
type LogLine struct {
	Service string     `json:"service"`
	Slot    int        `json:"slot,omitempty"`
	Task    string     `json:"task"`
	Node    string     `json:"node"`
	Time    time.Time  `json:"time"`
	Stream  string     `json:"stream"`
	Level   logs.Level `json:"level"`
	Text    string     `json:"text"`
}

// Logs reads the services' logs from every node through the manager
// (`docker service logs`, one stream per service): each line carries its
// task, and so its slot and node. Without Follow the lines of all services
// are merged in time order; with Follow they are emitted as they arrive
// until ctx ends.
func (c *Cluster) Logs(ctx context.Context, o LogsOptions, emit func(LogLine) error) error {
	names := o.Services
	if len(names) == 0 {
		names = c.Stack.ServiceNames()
	}
	svcs, tasks, err := c.read(ctx)
	if err != nil {
		return err
	}
	ids := map[string]string{}
	for _, s := range svcs {
		ids[composeName(c.Stack.Name, s.Spec.Name)] = s.ID
	}
	slots := map[string]int{}
	for _, t := range tasks {
		slots[t.ID] = t.Slot
	}
	nodes := c.nodeNames(ctx)
	lo := engine.LogsOptions{Stdout: true, Stderr: true, Follow: o.Follow, Timestamps: true, Tail: "all"}
	if o.Tail >= 0 {
		lo.Tail = strconv.Itoa(o.Tail)
	}
	if !o.Since.IsZero() {
		lo.Since = fmt.Sprintf("%d.%09d", o.Since.Unix(), o.Since.Nanosecond())
	}
	if !o.Until.IsZero() {
		lo.Until = fmt.Sprintf("%d.%09d", o.Until.Unix(), o.Until.Nanosecond())
	}
	var (
		mu       sync.Mutex
		all      []LogLine
		firstErr error
		wg       sync.WaitGroup
	)
	keep := func(l LogLine) error {
		if o.Grep != nil && !o.Grep.MatchString(l.Text) {
			return nil
		}
		if o.Level != logs.LevelNone && l.Level < o.Level {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if o.Follow {
			return emit(l)
		}
		all = append(all, l)
		return nil
	}
	for _, name := range names {
		id := ids[name]
		if id == "" {
			continue // not deployed: nothing to read
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc, err := c.Engine.ServiceLogs(ctx, id, lo, true)
			if err == nil {
				err = readServiceLog(rc, func(stream string, line []byte) error {
					l := parseLogLine(name, stream, line)
					l.Slot = slots[l.Task]
					if n := nodes[l.Node]; n != "" {
						l.Node = n
					}
					return keep(l)
				})
				rc.Close()
			}
			if err != nil && ctx.Err() == nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("logs of %s: %w", name, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if firstErr != nil {
		return firstErr
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	for _, l := range all {
		if err := emit(l); err != nil {
			return err
		}
	}
	return nil
}

// readServiceLog calls fn for each line of a log stream, demultiplexing
// the 8-byte frame headers (a service without a TTY) when there are any.
func readServiceLog(r io.Reader, fn func(stream string, line []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	head, err := br.Peek(8)
	if err != nil && len(head) == 0 {
		if err == io.EOF {
			return nil
		}
		return err
	}
	framed := len(head) == 8 && (head[0] == 1 || head[0] == 2) && head[1] == 0 && head[2] == 0 && head[3] == 0
	if !framed {
		sc := bufio.NewScanner(br)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if err := fn("stdout", sc.Bytes()); err != nil {
				return err
			}
		}
		return sc.Err()
	}
	var hdr [8]byte
	var partial = map[byte][]byte{}
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil
			}
			return err
		}
		n := binary.BigEndian.Uint32(hdr[4:])
		buf := make([]byte, n)
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil
		}
		stream := "stdout"
		if hdr[0] == 2 {
			stream = "stderr"
		}
		buf = append(partial[hdr[0]], buf...)
		for {
			i := strings.IndexByte(string(buf), '\n')
			if i < 0 {
				break
			}
			if err := fn(stream, buf[:i]); err != nil {
				return err
			}
			buf = buf[i+1:]
		}
		partial[hdr[0]] = buf
	}
}

// parseLogLine splits "TIMESTAMP k=v,k=v MESSAGE" (timestamps and details
// on) into a LogLine.
func parseLogLine(service, stream string, b []byte) LogLine {
	l := LogLine{Service: service, Stream: stream}
	s := string(b)
	if ts, rest, ok := strings.Cut(s, " "); ok {
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			l.Time, s = t, rest
		}
	}
	if attrs, rest, ok := strings.Cut(s, " "); ok && strings.Contains(attrs, "com.docker.swarm.") {
		for _, kv := range strings.Split(attrs, ",") {
			k, v, _ := strings.Cut(kv, "=")
			if uv, err := url.QueryUnescape(v); err == nil {
				v = uv
			}
			switch k {
			case "com.docker.swarm.task.id":
				l.Task = v
			case "com.docker.swarm.node.id":
				l.Node = v
			}
		}
		s = rest
	}
	l.Text = s
	l.Level = logs.DetectLevel([]byte(s))
	return l
}
