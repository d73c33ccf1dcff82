package stackops

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
)

// The compose-model cache. Loading a compose file with compose-go — YAML,
// interpolation, the canonical transforms, decoding into types — costs
// milliseconds per service (over a second at 200 services on a busy
// machine), paid by every command although the model changes only when the
// files do. So Load keeps the model it built, before the services' env_file
// are read (those are read afresh every time), under a key of everything
// that can change it, and the next Load of the same input decodes it
// instead (model_codec.go):
//
//   - the key: the cache format, compose-go's version, stackpilot's build,
//     the compose files (paths and bytes), the project directory, -p and
//     --profile, the env files Compose reads (paths and bytes), every
//     COMPOSE_* variable and HOME (compose-go expands ~ with it);
//   - checked in the entry: the files the compose files pull in (include,
//     extends, an include's env files, label_file), by hash, missing ones
//     included; and the value of every variable the model may depend on —
//     each name compose-go looked up while interpolating, every ${NAME} in
//     any of those files, and each environment and build-args key (compose-go
//     fills bare ones from the environment) — as one digest, so no value is
//     written in clear.
//
// An entry whose check fails, or which does not decode, is ignored and
// replaced; a model that does not survive encoding unchanged is not stored.
// Entries live in $STACKPILOT_CACHE_DIR/models (0700), written whole
// (atomicfile, 0600), the newest modelCacheKeep kept. They hold the model,
// which holds the values interpolated into it, as the .env does.
// STACKPILOT_MODEL_CACHE=off turns the cache off.

const (
	modelCacheFormat = "stackpilot-model-v1"
	modelCacheKeep   = 32
	// ModelCacheEnvVar set to "off" (or 0, false) makes Load skip the cache.
	ModelCacheEnvVar = "STACKPILOT_MODEL_CACHE"
)

// modelEntry is what a cache file holds.
type modelEntry struct {
	Key string
	// Files are the files the model was built from besides the compose and
	// env files of the key, with the sha256 of their bytes ("" missing).
	Files []string
	Sums  []string
	// Names are the variables the model may depend on; Values the digest
	// of their values when it was built.
	Names  []string
	Values string
	// Warnings are what compose-go said while loading.
	Warnings []string
	Project  *types.Project
}

// modelCache is the cache for one Load: its key, or nil when the input
// cannot be cached (stdin, the cache off or without a directory).
type modelCache struct {
	dir, key string
	// looked up records the names compose-go asks for while interpolating.
	mu       sync.Mutex
	lookedUp map[string]bool
	hit      bool
}

func modelCacheDir(environ map[string]string) string {
	switch strings.ToLower(environ[ModelCacheEnvVar]) {
	case "off", "0", "false", "no":
		return ""
	}
	return cacheDir("models")
}

// stackpilotBuild identifies the running binary's code: a cached model is
// stackpilot's way of loading, too.
var stackpilotBuild = sync.OnceValue(func() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown-build"
	}
	id := info.Main.Path + "@" + info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" || s.Key == "vcs.modified" {
			id += " " + s.Value
		}
	}
	return id
})

// newModelCache computes the key of a Load, or returns nil.
func newModelCache(po *cli.ProjectOptions, in *projectInputs, opts LoadOptions) *modelCache {
	dir := modelCacheDir(in.environ)
	if dir == "" || (opts.unsealed != nil && opts.unsealed.tokens == nil) {
		// a model interpolated with decrypted values is never written; one
		// built with their tokens is (unseal.go)
		return nil
	}
	h := sha256.New()
	field := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
	}
	file := func(path string) bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		field(path)
		h.Write(b)
		h.Write([]byte{0})
		return true
	}
	field(modelCacheFormat, composeGoVersion(), stackpilotBuild())
	wd, err := po.GetWorkingDir()
	if err != nil {
		return nil
	}
	field("dir", po.WorkingDir, wd, "name", po.Name, "home", os.Getenv("HOME"))
	field(append([]string{"profiles"}, opts.Profiles...)...)
	field("compose files")
	for _, f := range po.ConfigPaths {
		if f == "-" || !file(f) {
			return nil
		}
	}
	field("env files")
	for _, f := range in.envFilesRead() {
		if !file(f) {
			return nil
		}
	}
	field("COMPOSE_*")
	var names []string
	for k := range po.Environment {
		if strings.HasPrefix(k, "COMPOSE_") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		field(k, po.Environment[k])
	}
	return &modelCache{dir: dir, key: hex.EncodeToString(h.Sum(nil)), lookedUp: map[string]bool{}}
}

// recordLookups is the load option that records the variables compose-go
// looks up while interpolating.
func (c *modelCache) recordLookups() cli.ProjectOptionsFn {
	return cli.WithLoadOptions(func(o *loader.Options) {
		if o.Interpolate == nil || o.Interpolate.LookupValue == nil {
			return
		}
		inner := o.Interpolate.LookupValue
		o.Interpolate.LookupValue = func(k string) (string, bool) {
			c.mu.Lock()
			c.lookedUp[k] = true
			c.mu.Unlock()
			return inner(k)
		}
	})
}

func (c *modelCache) path() string { return filepath.Join(c.dir, c.key) }

// valuesDigest is the digest of names' values as lookup gives them.
func valuesDigest(names []string, lookup func(string) (string, bool)) string {
	h := sha256.New()
	hashValues(h, names, lookup)
	return hex.EncodeToString(h.Sum(nil))
}

func fileSum(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// load returns the cached model when the entry is for exactly this input.
func (c *modelCache) load(env map[string]string) (*types.Project, []string, bool) {
	b, err := os.ReadFile(c.path())
	if err != nil || !bytes.HasPrefix(b, []byte(modelCacheFormat+"\n")) {
		return nil, nil, false
	}
	e, err := decodeModel[modelEntry](b[len(modelCacheFormat)+1:])
	if err != nil || e.Key != c.key || e.Project == nil || len(e.Files) != len(e.Sums) {
		return nil, nil, false
	}
	for i, f := range e.Files {
		if fileSum(f) != e.Sums[i] {
			return nil, nil, false
		}
	}
	// compose-go sets COMPOSE_PROJECT_NAME to the name before it
	// interpolates; the stored digest saw it so.
	withName := func(k string) (string, bool) {
		if k == "COMPOSE_PROJECT_NAME" {
			return e.Project.Name, true
		}
		v, ok := env[k]
		return v, ok
	}
	if valuesDigest(e.Names, withName) != e.Values {
		return nil, nil, false
	}
	c.hit = true
	return e.Project, e.Warnings, true
}

// store keeps p (as loaded, before env resolution) for the next Load.
// Failures only cost the next Load its speed.
func (c *modelCache) store(p *types.Project, env map[string]string, warnings []string) {
	files, names, ok := modelDependencies(p)
	if !ok {
		return
	}
	c.mu.Lock()
	for n := range c.lookedUp {
		names[n] = true
	}
	c.mu.Unlock()
	e := &modelEntry{Key: c.key, Warnings: warnings}
	for _, f := range sortedKeys(files) {
		e.Files = append(e.Files, f)
		e.Sums = append(e.Sums, fileSum(f))
	}
	e.Names = sortedKeys(names)
	e.Values = valuesDigest(e.Names, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	copied := *p
	copied.Environment = nil // the environment of the next Load is its own
	e.Project = &copied
	data, err := encodeModel(e)
	if err != nil {
		return
	}
	back, err := decodeModel[modelEntry](data)
	if err != nil || !reflect.DeepEqual(back, e) {
		return
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return
	}
	if atomicfile.Write(c.path(), append([]byte(modelCacheFormat+"\n"), data...), atomicfile.Options{Mode: 0o600}) != nil {
		return
	}
	pruneModelCache(c.dir, modelCacheKeep)
}

// pruneModelCache keeps the keep newest entries.
func pruneModelCache(dir string, keep int) {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) <= keep {
		return
	}
	type aged struct {
		name string
		mod  int64
	}
	var all []aged
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			all = append(all, aged{e.Name(), fi.ModTime().UnixNano()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod > all[j].mod })
	for _, a := range all[min(keep, len(all)):] {
		os.Remove(filepath.Join(dir, a.name))
	}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// modelDependencies are the files a loaded model was built from besides
// its compose files (found in them: include, extends, an include's env
// files; and each service's label_file), and the variables it may depend
// on (every ${NAME} in any of the files; each environment and build-args
// key). Relative paths are taken against every directory compose-go may
// resolve them from — a file more only invalidates more often. ok is false
// when a path is not known before interpolation (it holds a $).
func modelDependencies(p *types.Project) (files, names map[string]bool, ok bool) {
	files, names = map[string]bool{}, map[string]bool{}
	type item struct {
		path    string
		bases   []string
		compose bool // a compose file (else an env file: only its ${NAME}s count)
	}
	var queue []item
	seen := map[string]bool{}
	for _, f := range p.ComposeFiles {
		seen[f] = true // in the key already
		queue = append(queue, item{f, []string{p.WorkingDir, filepath.Dir(f)}, true})
	}
	candidates := func(rel string, bases []string) []string {
		if filepath.IsAbs(rel) {
			return []string{rel}
		}
		var out []string
		for _, b := range bases {
			out = append(out, filepath.Join(b, rel))
		}
		return out
	}
	addFile := func(path string, bases []string, compose bool) {
		if !seen[path] {
			seen[path] = true
			files[path] = true
			queue = append(queue, item{path, bases, compose})
		}
	}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		b, err := os.ReadFile(it.path)
		if err != nil {
			continue // missing: its hash ("") is recorded
		}
		for _, m := range varRefRe().FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
		if !it.compose || !bytes.Contains(b, []byte("include")) && !bytes.Contains(b, []byte("extends")) {
			continue
		}
		var doc map[string]any
		if yaml.Unmarshal(b, &doc) != nil {
			return nil, nil, false
		}
		bases := append([]string{filepath.Dir(it.path)}, it.bases...)
		includes, _ := doc["include"].([]any)
		for _, inc := range includes {
			var paths, envs []string
			projectDir := ""
			switch v := inc.(type) {
			case string:
				paths = []string{v}
			case map[string]any:
				paths, envs = stringList(v["path"]), stringList(v["env_file"])
				projectDir, _ = v["project_directory"].(string)
			}
			all := append(append(append([]string{}, paths...), envs...), projectDir)
			for _, s := range all {
				if strings.Contains(s, "$") {
					return nil, nil, false
				}
			}
			var incBases []string
			if projectDir != "" {
				incBases = candidates(projectDir, bases)
			}
			for i, rel := range paths {
				for _, c := range candidates(rel, bases) {
					if i == 0 && projectDir == "" {
						incBases = append(incBases, filepath.Dir(c))
					}
				}
			}
			for _, rel := range paths {
				for _, c := range candidates(rel, bases) {
					addFile(c, append(append([]string{}, incBases...), bases...), true)
				}
			}
			for _, rel := range envs {
				for _, c := range candidates(rel, bases) {
					addFile(c, nil, false)
				}
			}
			for _, d := range incBases {
				addFile(filepath.Join(d, ".env"), nil, false)
			}
		}
		services, _ := doc["services"].(map[string]any)
		for _, s := range services {
			svc, _ := s.(map[string]any)
			ext, _ := svc["extends"].(map[string]any)
			f, _ := ext["file"].(string)
			if f == "" {
				continue
			}
			if strings.Contains(f, "$") {
				return nil, nil, false
			}
			for _, c := range candidates(f, bases) {
				addFile(c, bases, true)
			}
		}
	}
	for _, services := range []types.Services{p.Services, p.DisabledServices} {
		for _, svc := range services {
			for k := range svc.Environment {
				names[k] = true
			}
			if svc.Build != nil {
				for k := range svc.Build.Args {
					names[k] = true
				}
			}
			for _, lf := range svc.LabelFiles {
				for _, c := range candidates(lf, []string{p.WorkingDir}) {
					files[c] = true
				}
			}
		}
	}
	return files, names, true
}

func stringList(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
