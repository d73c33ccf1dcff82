package stackops

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// runCache remembers, per running container, the facts of its current run
// that only an inspect gives: start and finish time, restart count, terminal,
// image reference. They cannot change while the run lasts, and a new run has
// a new key (runKey), so a fact is used only for the very run it was read
// from; `status` on a stack whose containers have not restarted then needs
// no inspect at all. As a second check, the engine's own "Up 3 minutes" must
// agree with the remembered start time (by the daemon's clock), or the
// container is inspected again.
//
// The cache lives in memory for one command (the deploy gate's polls,
// status --watch) and in a file per engine and project next to the
// validation cache, written atomically and only when it learned something.
// A file that does not parse, or was written for another engine, project or
// format, is ignored and replaced.
type runCache struct {
	mu      sync.Mutex
	path    string // "" keeps it in memory only
	header  runCacheHeader
	loaded  bool
	changed bool
	runs    map[string]cachedRun // by container ID
	// listed holds, per service whose containers were all listed, their IDs:
	// a remembered container of such a service that is not among them is
	// gone, and dropped when the file is written.
	listed map[string]map[string]bool
}

// runCacheHeader says what a cache file is for; a file for anything else is not read.
type runCacheHeader struct {
	Format  string `json:"format"`
	Host    string `json:"host"`
	Project string `json:"project"`
}

type runCacheFile struct {
	runCacheHeader
	Runs map[string]cachedRun `json:"runs"`
}

type cachedRun struct {
	Run          string    `json:"run"`
	Service      string    `json:"service"`
	Created      time.Time `json:"created"`
	StartedAt    time.Time `json:"started_at"`
	FinishedAt   time.Time `json:"finished_at,omitzero"`
	RestartCount int       `json:"restart_count"`
	Tty          bool      `json:"tty,omitempty"`
	Image        string    `json:"image"`
}

const runCacheFormat = "stackpilot-runs-v1"

// runCacheMax bounds the entries kept in a file.
const runCacheMax = 4096

// upSlack is how far the engine's uptime text may be from the remembered start
// time: its Date header is in whole seconds, and the text is computed a moment
// before the header is written.
const upSlack = 2 * time.Second

// runCache returns the stack's cache for this engine, reading its file once.
func (s *Stack) runCache(eng *engine.Client) *runCache {
	s.runsOnce.Do(func() {
		h := runCacheHeader{Format: runCacheFormat, Host: eng.Host(), Project: s.Name}
		s.runs = &runCache{header: h, runs: map[string]cachedRun{}}
		if dir := validationCacheDir(); dir != "" {
			sum := sha256.Sum256([]byte(h.Host + "\x00" + h.Project))
			s.runs.path = filepath.Join(filepath.Dir(dir), "runs", hex.EncodeToString(sum[:16])+".json")
		}
	})
	return s.runs
}

func (rc *runCache) load() {
	if rc.loaded {
		return
	}
	rc.loaded = true
	if rc.path == "" {
		return
	}
	b, err := os.ReadFile(rc.path)
	if err != nil {
		return
	}
	var f runCacheFile
	if json.Unmarshal(b, &f) != nil || f.runCacheHeader != rc.header {
		return
	}
	for id, r := range f.Runs {
		if r.Run != "" && !r.StartedAt.IsZero() {
			rc.runs[id] = r
		}
	}
}

// sawAll records the containers of a listing of services.
func (rc *runCache) sawAll(services []string, cs []*Container) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.listed == nil {
		rc.listed = map[string]map[string]bool{}
	}
	for _, svc := range services {
		rc.listed[svc] = map[string]bool{}
	}
	for _, c := range cs {
		if ids := rc.listed[c.Service]; ids != nil {
			ids[c.ID] = true
		}
	}
}

// get returns the remembered detail of c's current run.
func (rc *runCache) get(c *Container) (*ContainerDetail, bool) {
	if c.run == "" || c.listedAt.IsZero() {
		return nil, false
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.load()
	r, ok := rc.runs[c.ID]
	if !ok || r.Run != c.run || !c.status.fits(c.listedAt.Sub(r.StartedAt), upSlack) {
		return nil, false
	}
	return &ContainerDetail{Created: r.Created, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		RestartCount: r.RestartCount, Tty: r.Tty, ConfigImage: r.Image}, true
}

// put remembers a freshly inspected running container's run.
func (rc *runCache) put(c *Container) {
	d := c.Detail
	if c.run == "" || d == nil || !d.Fresh || d.StartedAt.IsZero() {
		return
	}
	r := cachedRun{Run: c.run, Service: c.Service, Created: d.Created, StartedAt: d.StartedAt, FinishedAt: d.FinishedAt,
		RestartCount: d.RestartCount, Tty: d.Tty, Image: d.ConfigImage}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.load()
	if old, ok := rc.runs[c.ID]; ok && old == r {
		return
	}
	rc.runs[c.ID] = r
	rc.changed = true
	if ids := rc.listed[c.Service]; ids != nil {
		ids[c.ID] = true
	}
}

// save writes the file when something was learned. Failing to write only
// costs the next command an inspect.
func (rc *runCache) save() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if !rc.changed || rc.path == "" {
		return
	}
	rc.changed = false
	for id, r := range rc.runs {
		if ids, ok := rc.listed[r.Service]; ok && !ids[id] {
			delete(rc.runs, id)
		}
	}
	for id := range rc.runs {
		if len(rc.runs) <= runCacheMax {
			break
		}
		delete(rc.runs, id)
	}
	b, err := json.Marshal(runCacheFile{runCacheHeader: rc.header, Runs: rc.runs})
	if err != nil {
		return
	}
	if err := os.MkdirAll(filepath.Dir(rc.path), 0o700); err != nil {
		return
	}
	_ = atomicfile.Write(rc.path, b, atomicfile.Options{Mode: 0o600})
}
