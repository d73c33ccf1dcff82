package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
)

// Info describes one archive, from its clear-text header.
type Info struct {
	ID        string    `json:"id"`
	File      string    `json:"file"`
	Path      string    `json:"path"`
	Project   string    `json:"project"`
	Created   time.Time `json:"created"`
	Tag       string    `json:"tag,omitempty"`
	Size      int64     `json:"size"`
	Services  []string  `json:"services"`
	Volumes   []string  `json:"volumes"`
	Dumps     []string  `json:"dumps"`
	Encrypted bool      `json:"encrypted"`
	// Recipients are the age recipients an encrypted backup was written for.
	Recipients  []string `json:"recipients,omitempty"`
	ToolVersion string   `json:"tool_version"`
	Host        string   `json:"host,omitempty"`
	// Verified is the last verification of this file as it is now (nil: never verified).
	Verified *VerifyRecord `json:"verified"`
}

// VerifyRecord is the outcome of the last verification of an archive.
type VerifyRecord struct {
	At    time.Time `json:"at"`
	OK    bool      `json:"ok"`
	Error string    `json:"error,omitempty"`
	// Size and ModTime identify the file that was verified: a record for a
	// file that changed since does not apply.
	Size    int64 `json:"size"`
	ModTime int64 `json:"mod_time_ns"`
}

// ListResult is what `backup list` shows.
type ListResult struct {
	Dir string `json:"dir"`
	// Backups are this project's complete archives, newest first.
	Backups []Info `json:"backups"`
	// Unreadable are files that look like archives but whose header or end
	// marker is missing or damaged (e.g. cut short by a full disk).
	Unreadable []UnreadableBackup `json:"unreadable"`
	// OtherProjects counts archives of other projects in the same directory.
	OtherProjects int `json:"other_projects"`
}

// UnreadableBackup is a file that is not a complete archive.
type UnreadableBackup struct {
	File  string `json:"file"`
	Error string `json:"error"`
}

func readBackupInfo(p string) (*Info, error) {
	a, err := openArchive(p)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	return a.info(), nil
}

func (a *archiveFile) info() *Info {
	// Every string of the header is the archive's word: made safe for a
	// terminal here, before it leaves the package (list, find, verify,
	// restore and their --json alike).
	h := a.Header
	safe := stackops.SafeText
	info := &Info{ID: safe(h.ID), File: safe(filepath.Base(a.Path)), Path: a.Path, Project: safe(h.Project), Created: h.Created, Tag: safe(h.Tag),
		Size: a.Size, Services: nonNil(stackops.SafeTexts(h.Services)), Volumes: nonNil(stackops.SafeTexts(h.Volumes)), Dumps: nonNil(stackops.SafeTexts(h.Dumps)),
		Encrypted: h.Encrypted, Recipients: stackops.SafeTexts(h.Recipients), ToolVersion: safe(h.ToolVersion), Host: safe(h.Host)}
	return info
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// isArchiveName reports whether a directory entry may be an archive
// (temporary files start with a dot and are never listed).
func isArchiveName(name string) bool {
	return !strings.HasPrefix(name, ".") && (strings.HasSuffix(name, archiveExt) || strings.HasSuffix(name, encryptedArchiveExt))
}

// List lists the project's archives in the backup directory, newest
// first. Only complete archives are listed: a file without its end marker
// (cut short) is reported apart, and temporary files are ignored.
func List(ctx context.Context, st *stackops.Stack) (*ListResult, error) {
	dir, err := Dir(st)
	if err != nil {
		return nil, err
	}
	out := &ListResult{Dir: dir, Backups: []Info{}, Unreadable: []UnreadableBackup{}}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("backup directory: %w", err)
	}
	records := loadVerifyRecords(st)
	for _, e := range entries {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if e.IsDir() || !isArchiveName(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		info, err := readBackupInfo(p)
		if err != nil {
			out.Unreadable = append(out.Unreadable, UnreadableBackup{File: stackops.SafeText(e.Name()), Error: stackops.SafeText(err.Error())})
			continue
		}
		if info.Project != st.Name {
			out.OtherProjects++
			continue
		}
		info.Verified = records.lookup(p)
		out.Backups = append(out.Backups, *info)
	}
	sortBackups(out.Backups)
	return out, nil
}

func sortBackups(list []Info) {
	sort.SliceStable(list, func(i, j int) bool {
		if !list[i].Created.Equal(list[j].Created) {
			return list[i].Created.After(list[j].Created)
		}
		return list[i].ID > list[j].ID
	})
}

// Find resolves what a person typed: a backup id (or a unique prefix
// of one), a file name in the backup directory, a path to an archive
// anywhere (a copy brought from another machine), or "latest".
func Find(ctx context.Context, st *stackops.Stack, ref string) (*Info, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, errors.New("no backup given")
	}
	if strings.ContainsRune(ref, os.PathSeparator) || strings.HasSuffix(ref, archiveExt) || strings.HasSuffix(ref, encryptedArchiveExt) {
		p := ref
		if !filepath.IsAbs(p) && !strings.ContainsRune(ref, os.PathSeparator) {
			if dir, err := Dir(st); err == nil {
				if _, err := os.Stat(filepath.Join(dir, ref)); err == nil {
					p = filepath.Join(dir, ref)
				}
			}
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("backup %s: %w", ref, err)
		}
		info, err := readBackupInfo(abs)
		if err != nil {
			return nil, err
		}
		info.Verified = loadVerifyRecords(st).lookup(abs)
		return info, nil
	}
	list, err := List(ctx, st)
	if err != nil {
		return nil, err
	}
	if len(list.Backups) == 0 {
		return nil, fmt.Errorf("%w: no backups of %s in %s — create one with: %s", ErrNotFound, st.Name, list.Dir, st.CommandLine("backup", "create"))
	}
	if ref == "latest" {
		b := list.Backups[0]
		return &b, nil
	}
	// An id is the archive's own word: a copy brought from elsewhere may
	// carry the id of another backup here. Two files with the id asked for
	// are refused, naming both, rather than one picked by its header's date.
	var matches, exact []Info
	for _, b := range list.Backups {
		if b.ID == ref {
			exact = append(exact, b)
		}
		if strings.HasPrefix(b.ID, ref) {
			matches = append(matches, b)
		}
	}
	if len(exact) == 1 {
		return &exact[0], nil
	}
	if len(exact) > 1 {
		var files []string
		for _, m := range exact {
			files = append(files, m.File)
		}
		return nil, fmt.Errorf("%w: %d files in %s are backup %s (%s) — name the file instead of the id", ErrNotFound, len(exact), list.Dir, ref, strings.Join(files, ", "))
	}
	switch len(matches) {
	case 1:
		return &matches[0], nil
	case 0:
		return nil, fmt.Errorf("%w: no backup %q of %s in %s — see %s", ErrNotFound, ref, st.Name, list.Dir, st.CommandLine("backup", "list"))
	}
	var ids []string
	for _, m := range matches {
		ids = append(ids, m.ID)
	}
	return nil, fmt.Errorf("%w: %q matches %d backups (%s) — give more of the id", ErrNotFound, ref, len(ids), strings.Join(ids, ", "))
}

// RefOf is how a command stackpilot prints names the archive info
// describes, so that it finds this very file again: its id when the id
// does, else its path (the archive was brought from elsewhere, or another
// file carries the same id), made safe for a terminal.
func RefOf(ctx context.Context, st *stackops.Stack, info *Info) string {
	if found, err := Find(ctx, st, info.ID); err == nil && found.Path == info.Path {
		return info.ID
	}
	return stackops.SafeText(info.Path)
}

// ErrNotFound means no archive matches what was asked for.
var ErrNotFound = errors.New("backup not found")

// ---- verification records ----

const verifyRecordsName = "backups-verified.json"

type verifyRecords map[string]VerifyRecord

var verifyRecordsMu sync.Mutex

func verifyRecordsPath(st *stackops.Stack) string {
	return filepath.Join(st.Dir, ".stackpilot", verifyRecordsName)
}

func loadVerifyRecords(st *stackops.Stack) verifyRecords {
	verifyRecordsMu.Lock()
	defer verifyRecordsMu.Unlock()
	return readVerifyRecords(verifyRecordsPath(st))
}

func readVerifyRecords(p string) verifyRecords {
	r := verifyRecords{}
	if b, err := os.ReadFile(p); err == nil {
		_ = json.Unmarshal(b, &r)
	}
	return r
}

// lookup returns the record for the file as it is now.
func (r verifyRecords) lookup(p string) *VerifyRecord {
	rec, ok := r[p]
	if !ok {
		return nil
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Size() != rec.Size || fi.ModTime().UnixNano() != rec.ModTime {
		return nil
	}
	return &rec
}

// recordVerification remembers a verification's outcome in .stackpilot/.
// The record only saves a later list from re-reading the file, so a failure
// to write it fails nothing: the caller shows the error as a warning.
func recordVerification(st *stackops.Stack, p string, verr error) error {
	fi, err := os.Stat(p)
	if err != nil {
		return nil // the archive is gone: nothing to remember
	}
	dir, err := st.StateDir()
	if err != nil {
		return fmt.Errorf("record the verification of %s: %w", filepath.Base(p), err)
	}
	verifyRecordsMu.Lock()
	defer verifyRecordsMu.Unlock()
	path := filepath.Join(dir, verifyRecordsName)
	r := readVerifyRecords(path)
	rec := VerifyRecord{At: time.Now().UTC(), OK: verr == nil, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}
	if verr != nil {
		rec.Error = verr.Error()
	}
	r[p] = rec
	// Forget files that are gone.
	for k := range r {
		if _, err := os.Stat(k); err != nil {
			delete(r, k)
		}
	}
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := atomicfile.Write(path, b, atomicfile.Options{Mode: 0o600}); err != nil {
		return fmt.Errorf("record the verification of %s: %w", filepath.Base(p), err)
	}
	return nil
}

// HeldServices are the services of the stack whose data the backup holds:
// those that mount one of its volumes (as the compose file mounts them
// now) and those its dumps were taken from. A restore that names other
// services has nothing to put back for them.
func HeldServices(st *stackops.Stack, b Info) []string {
	held := map[string]bool{}
	volumes := map[string]bool{}
	for _, v := range b.Volumes {
		volumes[v] = true
	}
	for _, v := range stackVolumes(st, st.ServiceNames()) {
		if volumes[v.Key] {
			for _, s := range v.Services {
				held[s] = true
			}
		}
	}
	for _, d := range b.Dumps {
		if svc, _, ok := strings.Cut(d, "/"); ok {
			if _, known := st.Project.Services[svc]; known {
				held[svc] = true
			}
		}
	}
	out := make([]string, 0, len(held))
	for s := range held {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
