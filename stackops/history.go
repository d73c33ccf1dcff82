package stackops

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"time"
)

// HistoryFile is the deploy history's name inside the state directory.
const HistoryFile = "history.jsonl"

// Results a history record can hold.
const (
	ResultSuccess   = "success"
	ResultFailed    = "failed"
	ResultCancelled = "cancelled"
)

// HistoryRecord is one deploy or rollback, a line of .stackpilot/history.jsonl.
// The images are engine image IDs per service, so a rollback can find the
// exact image a service ran before, whatever its tag points to now.
type HistoryRecord struct {
	ID           string            `json:"id"`
	Op           string            `json:"op"` // deploy or rollback
	Time         time.Time         `json:"time"`
	User         string            `json:"user"`
	Host         string            `json:"host"`
	Services     []string          `json:"services"`
	ImagesBefore map[string]string `json:"images_before"`
	ImagesAfter  map[string]string `json:"images_after"`
	Result       string            `json:"result"` // success, failed, cancelled
	Error        string            `json:"error,omitempty"`
	DurationMS   int64             `json:"duration_ms"`
	Compose      string            `json:"compose,omitempty"` // e.g. "v2 5.0.2"
	Build        bool              `json:"build"`
	Pull         bool              `json:"pull,omitempty"`
	Waited       bool              `json:"waited"`
	// Orchestrator is "swarm" for a Swarm deploy or rollback (its images
	// are the references the services' specs name, not local image IDs).
	Orchestrator string `json:"orchestrator,omitempty"`
}

// Changed lists the services whose image differs before and after, sorted.
func (r HistoryRecord) Changed() []string {
	var out []string
	for svc, after := range r.ImagesAfter {
		if before := r.ImagesBefore[svc]; after != "" && before != after {
			out = append(out, svc)
		}
	}
	sort.Strings(out)
	return out
}

// HistoryOptions selects records.
type HistoryOptions struct {
	// Limit keeps the newest N records (all when 0).
	Limit int
}

// HistoryResult is the history, newest first.
type HistoryResult struct {
	Records []HistoryRecord `json:"records"`
	// Skipped counts lines that could not be read (a damaged file).
	Skipped int    `json:"skipped,omitempty"`
	Path    string `json:"path"`
}

// History reads .stackpilot/history.jsonl, newest record first. A missing
// file is an empty history; unreadable lines are counted, not fatal.
func (s *Stack) History(ctx context.Context, opts HistoryOptions) (*HistoryResult, error) {
	path := filepath.Join(s.Dir, ".stackpilot", HistoryFile)
	recs, skipped, err := readHistory(path)
	if err != nil {
		return nil, err
	}
	if opts.Limit > 0 && len(recs) > opts.Limit {
		recs = recs[:opts.Limit]
	}
	if recs == nil {
		recs = []HistoryRecord{}
	}
	return &HistoryResult{Records: recs, Skipped: skipped, Path: path}, nil
}

// readHistory returns the records newest first.
func readHistory(path string) ([]HistoryRecord, int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read history: %w", err)
	}
	var recs []HistoryRecord
	skipped := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var r HistoryRecord
		if err := json.Unmarshal(line, &r); err != nil || r.ID == "" {
			skipped++
			continue
		}
		recs = append(recs, r)
	}
	// Newest first; the file is in append order, which is time order.
	for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
		recs[i], recs[j] = recs[j], recs[i]
	}
	return recs, skipped, nil
}

// appendHistory adds one record as a single write with O_APPEND and fsyncs,
// so a crash leaves either the whole line or none of it. Writers hold the
// stack lock, so lines never interleave. (The one file stackpilot appends
// to rather than writes whole with package atomicfile: rewriting the whole
// history for each deploy would cost more and protect nothing more.)
func (s *Stack) appendHistory(r HistoryRecord) error {
	dir, err := s.StateDir()
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, HistoryFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("history: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("history: %w", err)
	}
	return f.Close()
}

// newRecordID is a sortable, unique id: UTC time plus 4 random hex digits.
func newRecordID(t time.Time) string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// whoAmI returns the user and host names for records.
func whoAmI() (string, string) {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	return name, host
}
