// Package plugins finds stackpilot's plugins — the git and kubectl
// convention: an executable named stackpilot-NAME runs as `stackpilot NAME`
// — and reads their self-description. A plugin lives in the project's
// .stackpilot/plugins/ directory (it wins: it belongs to this project) or
// in a directory of PATH (the first one wins, as the shell would pick it).
// A plugin that would shadow one of stackpilot's own commands is ignored,
// and so is one hidden by another of the same name: the listing says which
// and why.
//
// A plugin may describe itself: run with --stackpilot-metadata, it prints
// a JSON object {"name", "description", "version", "usage"} and exits 0
// (the docker CLI-plugin idea). What it prints is untrusted: checked,
// bounded, and cleaned of control characters before anyone sees it.
package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// Prefix starts every plugin's file name.
const Prefix = "stackpilot-"

// MetadataFlag is the argument that asks a plugin to describe itself.
const MetadataFlag = "--stackpilot-metadata"

// ProjectDir is where a project keeps its plugins, relative to the project directory.
const ProjectDir = ".stackpilot/plugins"

// Where a plugin was found.
const (
	SourceProject = "project"
	SourcePath    = "PATH"
)

// ErrNotFound means no plugin of that name exists.
var ErrNotFound = errors.New("no such plugin")

// Plugin is one runnable plugin.
type Plugin struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Source string `json:"source"` // "project" or "PATH"
	// Metadata is what the plugin said about itself, when asked and it answered.
	Metadata *Metadata `json:"metadata,omitempty"`
	// MetadataError says why it did not, when asked.
	MetadataError string `json:"metadata_error,omitempty"`
}

// Metadata is a plugin's description of itself, cleaned for display.
type Metadata struct {
	Name        string `json:"name,omitempty"`
	Description string `json:"description,omitempty"`
	Version     string `json:"version,omitempty"`
	Usage       string `json:"usage,omitempty"`
}

// Ignored is an executable that looks like a plugin but does not run as one.
type Ignored struct {
	Name   string `json:"name"`
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Options say where to look.
type Options struct {
	// ProjectDir is the project directory ("" when there is no project):
	// its .stackpilot/plugins is searched first.
	ProjectDir string
	// PATH is the search path: the value of $PATH in the environment
	// stackpilot runs in.
	PATH string
	// Reserved are stackpilot's own command names, which no plugin may take.
	Reserved map[string]bool
}

var nameRe = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ValidName reports whether name can be a plugin's name.
func ValidName(name string) bool { return nameRe().MatchString(name) }

// dirs lists the directories to search, in order, with their source.
func (o Options) dirs() [][2]string {
	var out [][2]string
	if o.ProjectDir != "" {
		out = append(out, [2]string{filepath.Join(o.ProjectDir, ProjectDir), SourceProject})
	}
	seen := map[string]bool{}
	for _, d := range filepath.SplitList(o.PATH) {
		if d == "" {
			d = "." // an empty PATH entry is the working directory, as for the shell
		}
		if abs, err := filepath.Abs(d); err == nil {
			d = abs
		}
		if !seen[d] {
			seen[d] = true
			out = append(out, [2]string{d, SourcePath})
		}
	}
	return out
}

// Find returns the plugin called name: the first executable
// stackpilot-NAME in the project's plugin directory, then along PATH. A
// reserved name is never a plugin.
func Find(name string, o Options) (*Plugin, error) {
	if !ValidName(name) || o.Reserved[name] {
		return nil, ErrNotFound
	}
	for _, d := range o.dirs() {
		p := filepath.Join(d[0], Prefix+name+exeSuffix())
		if isExecutable(p) {
			return &Plugin{Name: name, Path: p, Source: d[1]}, nil
		}
	}
	return nil, ErrNotFound
}

// List returns every plugin that runs, by name, and the executables that
// look like plugins but are ignored (a reserved name, hidden by an earlier
// one of the same name).
func List(o Options) ([]Plugin, []Ignored) {
	var found []Plugin
	var ignored []Ignored
	byName := map[string]string{}
	for _, d := range o.dirs() {
		entries, err := os.ReadDir(d[0])
		if err != nil {
			continue
		}
		for _, e := range entries {
			name, ok := strings.CutPrefix(e.Name(), Prefix)
			if !ok {
				continue
			}
			name = strings.TrimSuffix(name, exeSuffix())
			p := filepath.Join(d[0], e.Name())
			if !ValidName(name) || !isExecutable(p) {
				continue
			}
			switch first, dup := byName[name]; {
			case o.Reserved[name]:
				ignored = append(ignored, Ignored{Name: name, Path: p, Reason: ReservedReason(name)})
			case dup:
				ignored = append(ignored, Ignored{Name: name, Path: p, Reason: "hidden by " + first})
			default:
				byName[name] = p
				found = append(found, Plugin{Name: name, Path: p, Source: d[1]})
			}
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	return found, ignored
}

// ReservedReason says why a plugin called name does not run.
func ReservedReason(name string) string {
	return fmt.Sprintf("stackpilot %s is a built-in command, which a plugin cannot replace", name)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	return runtime.GOOS == "windows" || fi.Mode().Perm()&0o111 != 0
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// MetadataOptions say how plugins are asked to describe themselves.
type MetadataOptions struct {
	// Environ is the plugins' environment (with the project's context).
	Environ []string
	// Runner runs them (an ExecRunner when nil).
	Runner stackops.Runner
	// Timeout bounds each answer (2 s when zero): a plugin that does not
	// know the flag and goes on to do its job is stopped, not waited for.
	Timeout time.Duration
}

// maxMetadata bounds what is read of an answer.
const maxMetadata = 64 << 10

// LoadMetadata asks every plugin, concurrently, for its description and
// fills in Metadata or MetadataError.
func LoadMetadata(ctx context.Context, list []Plugin, o MetadataOptions) {
	if o.Runner == nil {
		o.Runner = &stackops.ExecRunner{}
	}
	if o.Timeout == 0 {
		o.Timeout = 2 * time.Second
	}
	var wg sync.WaitGroup
	for i := range list {
		wg.Add(1)
		go func(p *Plugin) {
			defer wg.Done()
			p.Metadata, p.MetadataError = askMetadata(ctx, *p, o)
		}(&list[i])
	}
	wg.Wait()
}

func askMetadata(ctx context.Context, p Plugin, o MetadataOptions) (*Metadata, string) {
	tctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	// Past the deadline the plugin is killed at once, not asked to wind down.
	tctx = stackops.WithKillSwitch(tctx, tctx.Done())
	out := &cappedBuffer{max: maxMetadata}
	err := o.Runner.Run(tctx, stackops.Cmd{Args: []string{p.Path, MetadataFlag}, Environ: o.Environ, Stdout: out})
	switch {
	case tctx.Err() != nil && ctx.Err() == nil:
		return nil, fmt.Sprintf("no answer to %s within %s", MetadataFlag, o.Timeout)
	case err != nil:
		return nil, fmt.Sprintf("%s: %v", MetadataFlag, err)
	case out.over:
		return nil, fmt.Sprintf("%s printed more than %d KiB", MetadataFlag, maxMetadata>>10)
	}
	var raw struct {
		Name        string `json:"name"`
		Description string `json:"description"`
		Version     string `json:"version"`
		Usage       string `json:"usage"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out.buf.Bytes()), &raw); err != nil {
		return nil, fmt.Sprintf("%s did not print a JSON object: %v", MetadataFlag, err)
	}
	md := &Metadata{Name: clean(raw.Name, 64, false), Description: clean(raw.Description, 200, false),
		Version: clean(raw.Version, 64, false), Usage: clean(raw.Usage, 2000, true)}
	if md.Name != "" && md.Name != p.Name {
		return nil, fmt.Sprintf("its metadata names another plugin (%q)", md.Name)
	}
	return md, ""
}

// clean makes a plugin's text safe to show: no control characters (an
// escape sequence could rewrite the terminal), newlines only where
// multiline is true, at most max runes.
func clean(s string, max int, multiline bool) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(s) {
		if n == max {
			b.WriteRune('…')
			break
		}
		switch {
		case r == '\n' && multiline:
		case r == '\t' || r == '\n':
			r = ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == unicode.ReplacementChar:
			continue
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// cappedBuffer keeps the first max bytes and notes that there were more.
// (It has no ReadFrom, which io.Copy would use instead of Write.)
type cappedBuffer struct {
	buf  bytes.Buffer
	max  int
	over bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); len(p) > room {
		c.over = true
		if room > 0 {
			c.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return c.buf.Write(p)
}
