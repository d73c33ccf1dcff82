package selfupdate

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
)

// NoticeInterval is how often the update notice checks for a release, and
// how often it may mention one.
const NoticeInterval = 24 * time.Hour

// NoticeState is what the update notice remembers between runs, in a small
// file of the user's cache directory: reading it is all a command pays
// for the notice, the network check runs apart from any command.
type NoticeState struct {
	// CheckedAt is when a check last started (successful or not), so an
	// offline machine tries once a day, not at every command.
	CheckedAt time.Time `json:"checked_at"`
	// Latest is the newest release the last successful check found.
	Latest string `json:"latest_version,omitempty"`
	// Notes are the first lines of its release notes.
	Notes string `json:"notes_head,omitempty"`
	// NotifiedAt is when the notice was last shown.
	NotifiedAt time.Time `json:"notified_at,omitempty"`
}

// NoticeFile is the notice's file in cacheDir.
func NoticeFile(cacheDir string) string { return filepath.Join(cacheDir, "update-check.json") }

// CacheDir is stackpilot's cache directory: STACKPILOT_CACHE_DIR, else the
// user's cache directory (~/.cache/stackpilot on Linux); "" when there is none.
func CacheDir() string { return stackops.CacheDir(nil) }

// LoadNotice reads the state at path; a missing or unreadable file is the
// zero state (never checked, never shown).
func LoadNotice(path string) NoticeState {
	var s NoticeState
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 64<<10 || json.Unmarshal(b, &s) != nil {
		return NoticeState{}
	}
	if _, ok := ParseVersion(s.Latest); !ok {
		s.Latest = ""
	}
	s.Notes = NotesHead(s.Notes, 3)
	return s
}

// Save writes the state atomically (a temporary file renamed over it), so
// two commands saving at once leave one whole state or the other.
func (s NoticeState) Save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".update-check-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return err
	}
	return nil
}

// CheckDue reports whether a day has passed since the last check (or the
// clock went backwards).
func (s NoticeState) CheckDue(now time.Time) bool {
	return now.Sub(s.CheckedAt) >= NoticeInterval || s.CheckedAt.After(now)
}

// NoticeDue reports whether the notice should mention a release newer than
// current now: one is known and it was not mentioned in the last day.
func (s NoticeState) NoticeDue(current string, now time.Time) bool {
	if s.Latest == "" || !Newer(s.Latest, current) {
		return false
	}
	return now.Sub(s.NotifiedAt) >= NoticeInterval || s.NotifiedAt.After(now)
}

// RefreshNotice checks for the newest release and records it at path. The
// check's start was recorded by the caller (CheckedAt), so a failure here
// leaves the state as it was.
func RefreshNotice(ctx context.Context, src *Source, path, current string) error {
	res, err := Check(ctx, CheckOptions{Source: src, Current: current})
	if err != nil {
		return err
	}
	s := LoadNotice(path)
	s.Latest = ""
	if res.Asset != "" {
		s.Latest = res.Latest
	}
	s.Notes = NotesHead(res.Notes, 3)
	if s.CheckedAt.IsZero() {
		s.CheckedAt = time.Now()
	}
	return s.Save(path)
}
