// Package stackops is the core of stackpilot's operations library: stack
// discovery (Load), the x-stackpilot config, the Compose runner, the engine,
// status, locks, events, and deploy with its plan, hooks, history, rollback,
// lifecycle and health gate. The other jobs are packages on top of it, each
// taking a *Stack: env (.env edits, on the .env document in envfile), logs
// and backup. It imports none of them.
//
// It knows nothing about terminals. Operations take a context and an options
// struct, report progress through an EventSink, ask for consent through a
// ConfirmFunc, run external programs only through a Runner, and return typed
// results. The wizard and flag mode of the stackpilot command are two callers
// of the same functions; another Go program could be a third.
package stackops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/stackpilot/stackpilot/stackops/endpoint"
	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// DefaultComposeFileNames are the names searched, in order, in each directory
// from the working directory up to the root — the same list Compose uses.
var DefaultComposeFileNames = cli.DefaultFileNames

// LoadOptions says where the stack is, the way Compose's global flags do.
// Every field is optional: the zero value finds the stack like `docker compose` would.
type LoadOptions struct {
	// ProjectDir is -C/--project-dir: the directory the project lives in
	// (relative paths and the default .env are resolved from it).
	ProjectDir string
	// Files are -f/--file, in order; later files override earlier ones.
	Files []string
	// ProjectName is -p/--project-name.
	ProjectName string
	// EnvFiles are --env-file; the default is the project directory's .env.
	EnvFiles []string
	// Profiles are --profile; COMPOSE_PROFILES is honoured when empty.
	Profiles []string
	// WorkDir is where the upward search starts; the process's working directory when empty.
	WorkDir string
	// Environ replaces os.Environ() (tests).
	Environ []string
	// Runner runs external programs; an ExecRunner when nil.
	Runner Runner
	// Context is --context and Host is -H/--host: the engine to act on,
	// chosen as the docker CLI chooses (stackops/endpoint).
	Context, Host string
	// Lenient finds the project (directory, compose files, env files,
	// x-stackpilot) without loading the compose model: no interpolation,
	// no validation, and .env read only for its COMPOSE_* settings. The env
	// commands use it: they edit files, must work when .env or an unset
	// required variable keeps Compose from loading, and must be fast.
	// The Stack's Project then has no services.
	Lenient bool
}

// Stack is a loaded compose project: the model Compose would build, plus the
// engine and Compose CLI to act on it.
type Stack struct {
	// Name is the Compose project name (normalised as Compose does).
	Name string
	// Dir is the project directory.
	Dir string
	// ComposeFiles are the compose files, in override order.
	ComposeFiles []string
	// EnvFiles are the env files used for interpolation (may be empty).
	EnvFiles []string
	// Profiles are the active profiles.
	Profiles []string
	// Project is compose-go's model of the stack.
	Project *types.Project
	// Warnings are what the loader noticed but did not fail on.
	Warnings []string
	// Runner runs external programs.
	Runner Runner

	opts        LoadOptions
	environ     []string
	environOnce sync.Once
	environMap  map[string]string
	config      *Config

	engineOnce sync.Once
	engine     *engine.Client
	engineErr  error

	endpointOnce sync.Once
	endpoint     *endpoint.Endpoint
	endpointErr  error

	composeMu  sync.Mutex
	composeCLI *ComposeCLI
}

// Load finds and loads the stack described by opts.
func Load(ctx context.Context, opts LoadOptions) (*Stack, error) {
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	workDir := opts.WorkDir
	if workDir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("working directory: %w", err)
		}
		workDir = wd
	}
	projectDir := opts.ProjectDir
	if projectDir != "" && !filepath.IsAbs(projectDir) {
		projectDir = filepath.Join(workDir, projectDir)
	}
	if projectDir != "" {
		if fi, err := os.Stat(projectDir); err != nil {
			return nil, fmt.Errorf("project directory: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("project directory %s is not a directory", projectDir)
		}
	}
	files := make([]string, 0, len(opts.Files))
	for _, f := range opts.Files {
		if f != "-" && !filepath.IsAbs(f) {
			f = filepath.Join(workDir, f)
		}
		files = append(files, f)
	}
	envFiles := make([]string, 0, len(opts.EnvFiles))
	for _, f := range opts.EnvFiles {
		if !filepath.IsAbs(f) {
			f = filepath.Join(workDir, f)
		}
		envFiles = append(envFiles, f)
	}

	// The upward search for a default file starts at the project directory
	// when one is given, else at the working directory. compose-go searches
	// from its working directory, which defaults to the process's; we set it
	// explicitly so tests (and -C) need no chdir.
	searchFrom := workDir
	if projectDir != "" {
		searchFrom = projectDir
	}
	envMap := environMap(environ)
	if _, ok := envMap["PWD"]; !ok {
		environ = append(environ, "PWD="+workDir)
	}

	// compose-go logs warnings through logrus (see compose_logs.go).
	stopWarnings := composeWarnings.collect()
	defer stopWarnings()

	// The same sequence as `docker compose`: the environment first, then the
	// .env beside where we stand (it may set COMPOSE_FILE), then COMPOSE_FILE,
	// then the upward search, then the project directory's .env, then
	// profiles and the name. compose-go's own helpers resolve paths against
	// the process's working directory; ours use workDir so -C and tests need
	// no chdir.
	dotEnv := cli.WithDotEnv
	if opts.Lenient {
		dotEnv = withComposeSettingsFromDotEnv()
	}
	optFns := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(projectDir),
		cli.WithEnv(environ),
		withEnvFilesFrom(envFiles, searchFrom),
		dotEnv,
		withConfigFileEnvFrom(workDir),
		withDefaultConfigPathFrom(searchFrom),
		withEnvFilesFrom(envFiles, ""),
		dotEnv,
		cli.WithDefaultProfiles(opts.Profiles...),
		cli.WithName(opts.ProjectName),
	}
	po, err := cli.NewProjectOptions(files, optFns...)
	if err != nil {
		return nil, wrapLoadError(sanitizeLoadError(err, environ))
	}
	if len(po.ConfigPaths) == 0 {
		return nil, &NoComposeFileError{Searched: parentDirs(searchFrom), Names: DefaultComposeFileNames}
	}
	if opts.Lenient {
		return loadLenient(po, opts, environ)
	}
	cacheKey := validationCacheKey(po.ConfigPaths, po.Environment)
	cached := knownValid(cacheKey)
	if cached {
		if err := skipValidation()(po); err != nil {
			return nil, err
		}
	}
	project, err := po.LoadProject(ctx)
	if err != nil {
		return nil, wrapLoadError(sanitizeLoadError(nameFileInYAMLError(err, po.ConfigPaths), environ))
	}
	if !cached {
		rememberValid(cacheKey)
	}
	s := &Stack{
		Name:         project.Name,
		Dir:          project.WorkingDir,
		ComposeFiles: project.ComposeFiles,
		EnvFiles:     po.EnvFiles,
		Profiles:     nonEmpty(project.Profiles),
		Project:      project,
		Runner:       opts.Runner,
		opts:         opts,
		environ:      environ,
	}
	if s.Runner == nil {
		s.Runner = &ExecRunner{}
	}
	s.Warnings = append(s.Warnings, stopWarnings()...)
	cfg, err := parseConfig(project.Extensions[ConfigExtension])
	if err != nil {
		return nil, err
	}
	s.config = cfg
	return s, nil
}

// withEnvFilesFrom is cli.WithEnvFiles with the default .env looked up in
// dir, or in the project directory (the -C directory, else the first compose
// file's directory) when dir is empty.
func withEnvFilesFrom(explicit []string, dir string) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		if len(explicit) > 0 {
			o.EnvFiles = explicit
			return nil
		}
		if v := o.Environment["COMPOSE_DISABLE_ENV_FILE"]; v == "1" || strings.EqualFold(v, "true") {
			o.EnvFiles = nil
			return nil
		}
		if dir == "" {
			switch {
			case o.WorkingDir != "":
				dir = o.WorkingDir
			case len(o.ConfigPaths) > 0 && o.ConfigPaths[0] != "-":
				dir = filepath.Dir(o.ConfigPaths[0])
			default:
				return nil
			}
		}
		f := filepath.Join(dir, ".env")
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
			o.EnvFiles = []string{f}
		} else {
			o.EnvFiles = nil
		}
		return nil
	}
}

// withConfigFileEnvFrom is cli.WithConfigFileEnv with relative entries of
// COMPOSE_FILE resolved against workDir.
func withConfigFileEnvFrom(workDir string) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		if len(o.ConfigPaths) > 0 {
			return nil
		}
		f, ok := o.Environment["COMPOSE_FILE"]
		if !ok || f == "" {
			return nil
		}
		sep := o.Environment["COMPOSE_PATH_SEPARATOR"]
		if sep == "" {
			sep = string(os.PathListSeparator)
		}
		base := workDir
		if o.WorkingDir != "" {
			base = o.WorkingDir
		}
		for _, entry := range strings.Split(f, sep) {
			p := entry
			if !filepath.IsAbs(p) {
				p = filepath.Join(base, p)
			}
			fi, err := os.Stat(p)
			if err != nil {
				return fmt.Errorf("compose file %q set by COMPOSE_FILE: %w", entry, err)
			}
			if fi.IsDir() {
				return fmt.Errorf("compose file %q set by COMPOSE_FILE is a directory", entry)
			}
			o.ConfigPaths = append(o.ConfigPaths, p)
		}
		return nil
	}
}

// withDefaultConfigPathFrom is cli.WithDefaultConfigPath starting at dir.
// It keeps Compose's order of names, and the first override file beside the winner.
func withDefaultConfigPathFrom(dir string) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		if len(o.ConfigPaths) > 0 {
			return nil
		}
		if o.WorkingDir != "" {
			dir = o.WorkingDir
		}
		for d := dir; ; {
			for _, n := range cli.DefaultFileNames {
				f := filepath.Join(d, n)
				if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
					o.ConfigPaths = append(o.ConfigPaths, f)
					for _, on := range cli.DefaultOverrideFileNames {
						of := filepath.Join(d, on)
						if fi, err := os.Stat(of); err == nil && !fi.IsDir() {
							o.ConfigPaths = append(o.ConfigPaths, of)
							break
						}
					}
					return nil
				}
			}
			parent := filepath.Dir(d)
			if parent == d {
				return nil
			}
			d = parent
		}
	}
}

func parentDirs(dir string) []string {
	var out []string
	for d := dir; ; {
		out = append(out, d)
		p := filepath.Dir(d)
		if p == d {
			return out
		}
		d = p
	}
}

func environMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// nameFileInYAMLError prefixes a YAML syntax error with the file it is in:
// compose-go reports the line but not which of the compose files it is.
func nameFileInYAMLError(err error, files []string) error {
	msg := err.Error()
	if !strings.HasPrefix(msg, "yaml:") {
		return err
	}
	for _, f := range files {
		if strings.Contains(msg, f) {
			return err
		}
	}
	for _, f := range files {
		b, rerr := os.ReadFile(f)
		if rerr != nil {
			continue
		}
		var v any
		if yerr := yaml.Unmarshal(b, &v); yerr != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	if len(files) == 1 {
		return fmt.Errorf("%s: %w", files[0], err)
	}
	return err
}

func nonEmpty(list []string) []string {
	var out []string
	for _, s := range list {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// wrapLoadError marks compose-go's errors as ErrInvalidCompose, keeping Compose's
// own message (which names the file and, for YAML errors, the line).
func wrapLoadError(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &composeLoadError{err: err}
}

type composeLoadError struct{ err error }

func (e *composeLoadError) Error() string { return e.err.Error() }
func (e *composeLoadError) Unwrap() []error {
	return []error{ErrInvalidCompose, e.err}
}

// ServiceNames returns the enabled services, sorted.
func (s *Stack) ServiceNames() []string {
	names := s.Project.ServiceNames()
	sort.Strings(names)
	return names
}

// Service returns one service's model, or an UnknownServiceError.
func (s *Stack) Service(name string) (types.ServiceConfig, error) {
	svc, ok := s.Project.Services[name]
	if !ok {
		return types.ServiceConfig{}, &UnknownServiceError{Name: name, Valid: s.ServiceNames()}
	}
	return svc, nil
}

// ResolveServices validates names against the model and returns them in
// model order; no names means every service.
func (s *Stack) ResolveServices(names []string) ([]string, error) {
	if len(names) == 0 {
		return s.ServiceNames(), nil
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if _, ok := s.Project.Services[n]; !ok {
			if _, disabled := s.Project.DisabledServices[n]; disabled {
				return nil, fmt.Errorf("service %q is in a profile that is not active (set --profile or COMPOSE_PROFILES): %w", n, ErrUnknownService)
			}
			return nil, &UnknownServiceError{Name: n, Valid: s.ServiceNames()}
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// Config returns the parsed x-stackpilot block (never nil).
func (s *Stack) Config() *Config { return s.config }

// Environ is the environment the stack was loaded with (for child processes).
func (s *Stack) Environ() []string { return s.environ }

// LookupEnv looks key up in the environment the stack was loaded with.
func (s *Stack) LookupEnv(key string) (string, bool) {
	s.environOnce.Do(func() { s.environMap = environMap(s.environ) })
	v, ok := s.environMap[key]
	return v, ok
}

// DotEnvPath is the .env file stackpilot reads and edits: the first --env-file,
// or the project directory's .env (which may not exist yet).
func (s *Stack) DotEnvPath() string {
	if len(s.opts.EnvFiles) > 0 {
		return s.EnvFiles[0]
	}
	return filepath.Join(s.Dir, ".env")
}

// Engine returns the Docker Engine client for the stack's Endpoint, built once.
func (s *Stack) Engine() (*engine.Client, error) {
	s.engineOnce.Do(func() {
		s.engine, s.engineErr = s.newEngine()
	})
	return s.engine, s.engineErr
}

// StateDir is the project's .stackpilot directory (history, locks, env
// backups), created 0700 on first use with a .gitignore so it is not committed.
func (s *Stack) StateDir() (string, error) {
	return ensureStateDir(s.Dir)
}

func ensureStateDir(projectDir string) (string, error) {
	dir := filepath.Join(projectDir, ".stackpilot")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("state directory: %w", err)
	}
	gi := filepath.Join(dir, ".gitignore")
	if _, err := os.Stat(gi); errors.Is(err, os.ErrNotExist) {
		_ = atomicfile.Write(gi, []byte("# stackpilot's local state: locks, history, .env versions\n*\n"), atomicfile.Options{Mode: 0o600})
	}
	return dir, nil
}
