// Package logkeep keeps the end of the log of each container a rollout
// replaced, under .stackpilot/replaced/. The engine deletes a container's
// log with the container, so without it a log summary after a redeploy
// would not know that the container it replaced had crashed in a loop: its
// restarts and its error lines would be gone. (The engine's own event
// buffer is no substitute: it holds the daemon's last 256 events, a minute
// or two of a host with health checks.)
//
// One gzip-compressed file per container: a JSON header line (Container),
// then one JSON line per log line, oldest first. Files are written whole
// (atomicfile), read back as untrusted input, and pruned by count and age.
package logkeep

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
)

// Limits of what is kept.
const (
	// MaxLines is how many of a container's last log lines are kept.
	MaxLines = 5000
	// MaxLineBytes cuts a longer line.
	MaxLineBytes = 16 << 10
	// MaxFiles and MaxAge bound the directory: the oldest files go first.
	MaxFiles = 200
	MaxAge   = 30 * 24 * time.Hour
)

// Dir is the directory, under the state directory, that holds the kept logs.
const Dir = "replaced"

// Container is what is known of a replaced container: the header of its file.
type Container struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	Service      string    `json:"service"`
	Number       int       `json:"number"`
	Created      time.Time `json:"created"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at"`
	State        string    `json:"state"`
	ExitCode     int       `json:"exit_code"`
	RestartCount int       `json:"restart_count"`
	RemovedAt    time.Time `json:"removed_at"`
	// By is the operation that replaced it: "deploy 20261207T134042Z-2c79".
	By string `json:"by"`
	// Lines is how many lines the file holds; Truncated says the log had
	// more, older ones, which were not kept.
	Lines     int  `json:"lines"`
	Truncated bool `json:"truncated"`

	path string
}

// Line is one kept log line.
type Line struct {
	TS     int64  `json:"t"` // unix ns
	Stream uint8  `json:"s"` // 1 stdout, 2 stderr
	Text   string `json:"m"`
}

var idRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

func fileName(c Container) string {
	return fmt.Sprintf("%d-%s.ndjson.gz", c.RemovedAt.UnixNano(), c.ID[:12])
}

// Save writes one replaced container's kept log into dir (created 0700).
func Save(dir string, c Container, lines []Line) error {
	if !idRe.MatchString(c.ID) {
		return fmt.Errorf("keep the log of %q: not a container id", c.ID)
	}
	if len(lines) > MaxLines {
		lines, c.Truncated = lines[len(lines)-MaxLines:], true
	}
	c.Lines = len(lines)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	w, err := atomicfile.Create(filepath.Join(dir, fileName(c)), atomicfile.Options{Mode: 0o600})
	if err != nil {
		return err
	}
	zw := gzip.NewWriter(w)
	enc := json.NewEncoder(zw)
	err = enc.Encode(c)
	for i := 0; err == nil && i < len(lines); i++ {
		l := lines[i]
		if len(l.Text) > MaxLineBytes {
			l.Text = l.Text[:MaxLineBytes]
		}
		err = enc.Encode(l)
	}
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// List returns the kept containers in dir, newest removal first. A file that
// cannot be read as one stackpilot wrote is skipped and counted.
func List(dir string) ([]Container, int, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	var out []Container
	bad := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".ndjson.gz") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		c, err := readHeader(filepath.Join(dir, e.Name()))
		if err != nil {
			bad++
			continue
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].RemovedAt.After(out[j].RemovedAt) })
	return out, bad, nil
}

func open(path string) (*os.File, *bufio.Scanner, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	sc := bufio.NewScanner(io.LimitReader(zr, int64(MaxLines+1)*(MaxLineBytes*7+64)))
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes*7+1024)
	return f, sc, nil
}

func readHeader(path string) (Container, error) {
	f, sc, err := open(path)
	if err != nil {
		return Container{}, err
	}
	defer f.Close()
	var c Container
	if !sc.Scan() {
		return c, fmt.Errorf("%s: empty", path)
	}
	if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	if !idRe.MatchString(c.ID) || c.Service == "" || c.Lines < 0 || c.Lines > MaxLines {
		return c, fmt.Errorf("%s: not a kept log", path)
	}
	c.path = path
	return c, nil
}

// Read calls fn for each kept line of c (from List), oldest first.
func Read(c Container, fn func(Line) error) error {
	f, sc, err := open(c.path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc.Scan() // the header
	n := 0
	for sc.Scan() {
		if n++; n > MaxLines {
			return fmt.Errorf("%s: more lines than are ever kept", c.path)
		}
		var l Line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("%s: line %d: %w", c.path, n, err)
		}
		if len(l.Text) > MaxLineBytes {
			l.Text = l.Text[:MaxLineBytes]
		}
		if err := fn(l); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Prune removes kept logs beyond MaxFiles and older than MaxAge (by removal
// time), and the temporary files of writes that were killed.
func Prune(dir string, now time.Time) error {
	atomicfile.RemoveTemps(dir, "*.ndjson.gz")
	list, _, err := List(dir)
	if err != nil {
		return err
	}
	var errs []string
	for i, c := range list {
		if i >= MaxFiles || now.Sub(c.RemovedAt) > MaxAge {
			if err := os.Remove(c.path); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err.Error())
			}
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}
