package stackops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// CacheDir is stackpilot's cache directory: STACKPILOT_CACHE_DIR, else the
// user cache directory's stackpilot (~/.cache/stackpilot); "" when neither
// is known. environ replaces the process's environment when not nil.
func CacheDir(environ []string) string {
	if environ == nil {
		if d := os.Getenv("STACKPILOT_CACHE_DIR"); d != "" {
			return d
		}
		d, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(d, "stackpilot")
	}
	m := environMap(environ)
	switch {
	case m["STACKPILOT_CACHE_DIR"] != "":
		return m["STACKPILOT_CACHE_DIR"]
	case filepath.IsAbs(m["XDG_CACHE_HOME"]):
		return filepath.Join(m["XDG_CACHE_HOME"], "stackpilot")
	case m["HOME"] != "":
		return filepath.Join(m["HOME"], ".cache", "stackpilot")
	}
	return ""
}

// RecentProject is a project the menu worked on.
type RecentProject struct {
	Dir          string    `json:"dir"`
	Name         string    `json:"name"`
	ComposeFiles []string  `json:"compose_files"`
	Used         time.Time `json:"used"`
}

const (
	recentProjectsFile = "recent-projects.json"
	maxRecentProjects  = 10
)

func readRecent(cacheDir string) []RecentProject {
	b, err := os.ReadFile(filepath.Join(cacheDir, recentProjectsFile))
	if err != nil || len(b) > 256<<10 {
		return nil
	}
	var list []RecentProject
	if json.Unmarshal(b, &list) != nil {
		return nil
	}
	return list
}

// RememberProject puts st first in the list of recent projects kept in
// cacheDir (at most 10), written whole and atomically. Two menus writing
// at once may lose one entry of the list, never the file.
func RememberProject(cacheDir string, st *Stack) error {
	if cacheDir == "" {
		return errors.New("no cache directory to remember projects in")
	}
	entry := RecentProject{Dir: st.Dir, Name: st.Name, ComposeFiles: st.ComposeFiles, Used: time.Now().UTC()}
	old := readRecent(cacheDir)
	if len(old) > 0 && old[0].Dir == entry.Dir && old[0].Name == entry.Name && entry.Used.Sub(old[0].Used) < time.Minute &&
		strings.Join(old[0].ComposeFiles, "\x00") == strings.Join(entry.ComposeFiles, "\x00") {
		return nil // first already, and just now: the menu loops often
	}
	list := []RecentProject{entry}
	for _, p := range old {
		if p.Dir != entry.Dir && len(list) < maxRecentProjects {
			list = append(list, p)
		}
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(cacheDir, recentProjectsFile), append(b, '\n'), atomicfile.Options{Mode: 0o600})
}

// RecentProjects lists the remembered projects, most recent first: only
// those whose compose files all still exist.
func RecentProjects(cacheDir string) []RecentProject {
	var out []RecentProject
	for _, p := range readRecent(cacheDir) {
		if !filepath.IsAbs(p.Dir) || len(p.ComposeFiles) == 0 {
			continue
		}
		ok := true
		for _, f := range p.ComposeFiles {
			if fi, err := os.Stat(f); err != nil || fi.IsDir() {
				ok = false
			}
		}
		if ok {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Used.After(out[j].Used) })
	return out
}

// FindOptions bound FindComposeFiles.
type FindOptions struct {
	// MaxDepth is how many directories down to look (3 when 0).
	MaxDepth int
	// Limit is how many files to return at most (20 when 0).
	Limit int
	// MaxDirs is how many directories to read at most (2000 when 0), so a
	// search from a home directory stays quick.
	MaxDirs int
}

// FindComposeFiles looks below root for compose files with the default
// names (one per directory, Compose's preferred name first), skipping
// hidden directories, node_modules and vendor, and not following symlinks.
// Paths come back sorted.
func FindComposeFiles(root string, o FindOptions) []string {
	if o.MaxDepth == 0 {
		o.MaxDepth = 3
	}
	if o.Limit == 0 {
		o.Limit = 20
	}
	if o.MaxDirs == 0 {
		o.MaxDirs = 2000
	}
	var out []string
	dirs := 0
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		depth := 0
		if rel != "." {
			depth = strings.Count(rel, string(filepath.Separator)) + 1
			name := d.Name()
			if strings.HasPrefix(name, ".") || name == "node_modules" || name == "vendor" || depth > o.MaxDepth {
				return fs.SkipDir
			}
		}
		if dirs++; dirs > o.MaxDirs || len(out) >= o.Limit {
			return fs.SkipAll
		}
		for _, n := range DefaultComposeFileNames {
			f := filepath.Join(path, n)
			if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() {
				out = append(out, f)
				break
			}
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// CreateProject writes a new project's files into dir (created if
// needed), each whole and atomically, mode 0644 (.env 0600). It refuses a
// directory that already holds a compose file or any of the files, before
// writing anything.
func CreateProject(dir string, files map[string][]byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	for _, n := range DefaultComposeFileNames {
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return fmt.Errorf("%s already holds a compose project (%s): nothing was written", dir, n)
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		if n != filepath.Base(n) || n == "." || n == ".." {
			return fmt.Errorf("project file %q: not a plain file name", n)
		}
		if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			return fmt.Errorf("%s already exists: nothing was written", filepath.Join(dir, n))
		}
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		mode := os.FileMode(0o644)
		if n == ".env" { // settings and secrets, as env set creates it
			mode = 0o600
		}
		if err := atomicfile.Write(filepath.Join(dir, n), files[n], atomicfile.Options{Mode: mode}); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(dir, n), err)
		}
	}
	return nil
}

// LocalImages lists the tags of the images the engine has (DOCKER_HOST of
// environ; the process's environment when nil) whose name contains substr,
// sorted. A new project's image is chosen among them when nothing can be
// pulled.
func LocalImages(ctx context.Context, environ []string, substr string) ([]string, error) {
	if environ == nil {
		environ = os.Environ()
	}
	eng, err := engine.New(environMap(environ)["DOCKER_HOST"])
	if err != nil {
		return nil, err
	}
	defer eng.Close()
	list, err := eng.ListImages(ctx, nil)
	if err != nil {
		return nil, DockerError(err)
	}
	var out []string
	for _, im := range list {
		for _, tag := range im.RepoTags {
			if tag != "<none>:<none>" && strings.Contains(tag, substr) {
				out = append(out, tag)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}
