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
	// Swarm is --swarm: the stack runs on a Docker Swarm whatever
	// x-stackpilot.orchestrator says (swarm_mode.go).
	Swarm bool
	// Lenient finds the project (directory, compose files, env files,
	// x-stackpilot) without loading the compose model: no interpolation,
	// no validation, and .env read only for its COMPOSE_* settings. The env
	// commands use it: they edit files, must work when .env or an unset
	// required variable keeps Compose from loading, and must be fast.
	// The Stack's Project then has no services.
	Lenient bool
	// DeferUnseal leaves the encrypted .env values sealed until something
	// needs them: the model is built with a stand-in for each (the one a
	// decrypting load caches it with), and Stack.Unsealed — which every
	// command that starts containers calls first — decrypts them and puts
	// them in place. `run TASK` uses it: a container task that uses no
	// encrypted value needs none decrypted (Stack.UsesSealed). A load whose
	// project name or x-stackpilot block uses one decrypts at once.
	DeferUnseal bool
	// DetectCompose starts detecting Compose (Stack.Compose) as the load
	// begins, for a command that will run it: the `docker compose version`
	// it runs — a tenth of a second, in other processes — then overlaps
	// reading the project and decrypting its encrypted values instead of
	// following them. `deploy` uses it.
	DetectCompose bool

	// unsealed is set on the second load of a project whose env files hold
	// encrypted values: what the first decrypted (unseal.go).
	unsealed *unsealed
}

// Stack is a loaded compose project: the model Compose would build, plus the
// engine and Compose CLI to act on it.
type Stack struct {
	// Name is the Compose project name (normalised as Compose does).
	Name string
	// Dir is the project directory.
	Dir string
	// WorkDir is the working directory the project was resolved from;
	// Compose runs there, so it finds the project the same way.
	WorkDir string
	// ComposeFiles are the compose files, in override order.
	ComposeFiles []string
	// EnvFiles are the env files Compose reads for interpolation, in the
	// order it reads them (may be empty); EnvFilePasses says which wins.
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
	inputs      *projectInputs
	environ     []string
	envErrs     map[string]error // services whose environment Compose could not resolve
	modelCached bool             // the model came from the compose-model cache
	environOnce sync.Once
	environMap  map[string]string
	config      *Config

	engineOnce sync.Once
	engine     *engine.Client
	engineErr  error

	endpointOnce sync.Once
	endpoint     *endpoint.Endpoint
	endpointErr  error

	composeMu    sync.Mutex
	composeCLI   *ComposeCLI
	composeEarly *composeDetection // LoadOptions.DetectCompose

	runsOnce sync.Once
	runs     *runCache // see run_cache.go

	// unsealed is what Load decrypted of the env files; unsealOverride the
	// compose file that hands it to services' env_file (unseal.go).
	unsealed       *unsealed
	unsealOverride string
	// unsealMu guards a deferred decryption (Unsealed); unsealErr is why it
	// could not put the values in place.
	unsealMu  sync.Mutex
	unsealErr error
}

// Load finds and loads the stack described by opts, resolving the project
// as `docker compose` would (see project_resolve.go).
func Load(ctx context.Context, opts LoadOptions) (*Stack, error) {
	if opts.DetectCompose {
		opts.DetectCompose = false
		runner, environ := opts.Runner, opts.Environ
		if runner == nil {
			runner = &ExecRunner{}
		}
		if environ == nil {
			environ = os.Environ()
		}
		d := startComposeDetection(ctx, runner, environ)
		st, err := Load(ctx, opts)
		if err != nil {
			d.cancel()
			return nil, err
		}
		st.composeEarly = d
		return st, nil
	}
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

	// compose-go logs warnings through logrus (see compose_logs.go).
	stopWarnings := composeWarnings.collect()
	defer stopWarnings()

	in, err := newProjectInputs(opts, environMap(environ), workDir)
	if err != nil {
		return nil, wrapLoadError(sanitizeLoadError(err, environ))
	}
	po, err := cli.NewProjectOptions(in.files, in.optionFns(opts)...)
	if err != nil {
		return nil, wrapLoadError(sanitizeLoadError(err, environ))
	}
	if len(po.ConfigPaths) == 0 {
		return nil, &NoComposeFileError{Searched: parentDirs(in.firstDir(nil)), Names: DefaultComposeFileNames}
	}
	if opts.Lenient {
		return loadLenient(po, in, opts, environ)
	}
	if opts.unsealed == nil && opts.DeferUnseal {
		if u := deferredUnseal(in, po.Environment, environ); u != nil {
			again := opts
			again.Environ, again.unsealed = u.tokenEnviron(environ), u
			if st, err := Load(ctx, again); err == nil && !st.holdsSealed() {
				return st, nil
			}
			// decrypt now: the model cannot be built with the tokens, or
			// what is read first uses a value
		}
	}
	if opts.unsealed == nil {
		if u := unsealEnv(in, po.Environment, environMap(environ)); u != nil && u.err == nil {
			// Load again with the values in the environment, so that the
			// model, and every value built from them, is what Compose will
			// see (unseal.go): as tokens, put in place after the load, so
			// the model can be cached without them; in plain text, uncached,
			// if the model cannot be built with tokens.
			again := opts
			again.Environ, again.unsealed = u.tokenEnviron(environ), u
			st, err := Load(ctx, again)
			if err == nil {
				st.environ = u.plainEnviron(environ)
				return st, nil
			}
			plainU := *u
			plainU.tokens = nil
			again.Environ, again.unsealed = u.plainEnviron(environ), &plainU
			return Load(ctx, again)
		} else if u != nil {
			opts.unsealed = u
		}
	}
	project, warnings, mc, err := loadModel(ctx, po, in, opts)
	if err != nil {
		return nil, wrapLoadError(sanitizeLoadError(nameFileInYAMLError(err, po.ConfigPaths), environ))
	}
	envErrs := resolveServiceEnvironments(project)
	opts.unsealed.reveal(project)
	s := &Stack{
		Name:         project.Name,
		Dir:          project.WorkingDir,
		WorkDir:      workDir,
		ComposeFiles: project.ComposeFiles,
		EnvFiles:     in.envFilesRead(),
		Profiles:     nonEmpty(project.Profiles),
		Project:      project,
		Runner:       opts.Runner,
		opts:         opts,
		inputs:       in,
		environ:      environ,
		envErrs:      envErrs,
		modelCached:  mc != nil && mc.hit,
	}
	if s.Runner == nil {
		s.Runner = &ExecRunner{}
	}
	s.Warnings = append(s.Warnings, stopWarnings()...)
	s.Warnings = append(s.Warnings, warnings...)
	cfg, err := parseConfig(project.Extensions[ConfigExtension])
	if err != nil {
		return nil, err
	}
	s.config = cfg
	if err := s.applyUnsealed(opts.unsealed); err != nil {
		return nil, err
	}
	return s, nil
}

// loadModel is compose-go's load of the model, without the services'
// env_file (Like `docker compose up SERVICE`, the model is loaded without
// them; they are read per service after, so one service's missing env_file
// fails only the commands that start it), from the compose-model cache when
// it holds this very input (model_cache.go). The warnings are compose-go's
// when the model came from the cache (a fresh load's reach Stack.Warnings
// through the logrus hook).
func loadModel(ctx context.Context, po *cli.ProjectOptions, in *projectInputs, opts LoadOptions) (*types.Project, []string, *modelCache, error) {
	_ = cli.WithoutEnvironmentResolution(po)
	mc := newModelCache(po, in, opts)
	if mc != nil {
		if p, warnings, ok := mc.load(po.Environment); ok {
			// what compose-go's load does to the environment it is given
			po.Environment["COMPOSE_PROJECT_NAME"] = p.Name
			p.Environment = po.Environment
			return p, warnings, mc, nil
		}
		_ = mc.recordLookups()(po)
	}
	cacheKey := validationCacheKey(po.ConfigPaths, po.Environment)
	cached := knownValid(cacheKey)
	if cached {
		if err := skipValidation()(po); err != nil {
			return nil, nil, nil, err
		}
	}
	stopLoadWarnings := composeWarnings.collect()
	project, err := po.LoadProject(ctx)
	loadWarnings := stopLoadWarnings()
	if err != nil {
		return nil, nil, nil, err
	}
	if !cached {
		rememberValid(cacheKey)
	}
	if mc != nil {
		mc.store(project, po.Environment, loadWarnings)
	}
	return project, nil, mc, nil
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
// model order; no names means every service. A service named explicitly
// whose profile is not active is enabled, with its profiles, as Compose
// does for `docker compose up SERVICE`.
func (s *Stack) ResolveServices(names []string) ([]string, error) {
	if len(names) == 0 {
		return s.ServiceNames(), nil
	}
	seen := map[string]bool{}
	var out, enable []string
	for _, n := range names {
		if _, ok := s.Project.Services[n]; !ok {
			if _, disabled := s.Project.DisabledServices[n]; !disabled {
				return nil, &UnknownServiceError{Name: n, Valid: s.ServiceNames()}
			}
			enable = append(enable, n)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(enable) > 0 {
		p, err := s.Project.WithServicesEnabled(enable...)
		if err != nil {
			return nil, err
		}
		s.Project, s.Profiles = p, nonEmpty(p.Profiles)
	}
	return out, nil
}

// EnvironmentErr is why Compose could not start the named services (and
// what they depend on), or nil: an env_file that is missing or unreadable.
// Compose reads the env_file of the services a command starts, and of no
// other; no names means every service.
func (s *Stack) EnvironmentErr(names []string) error {
	if len(s.envErrs) == 0 {
		return nil
	}
	if len(names) == 0 {
		names = s.ServiceNames()
	}
	for _, n := range s.withDependencies(names) {
		if err := s.envErrs[n]; err != nil {
			return wrapLoadError(sanitizeLoadError(fmt.Errorf("service %q: %w", n, err), s.environ))
		}
	}
	return nil
}

// resolveServiceEnvironments is compose-go's WithServicesEnvironmentResolved
// service by service (env_file read into environment, bare `environment:`
// entries looked up), keeping each failure apart.
func resolveServiceEnvironments(p *types.Project) map[string]error {
	var errs map[string]error
	resolve := func(services types.Services) {
		for name, svc := range services {
			one := types.Project{Services: types.Services{name: svc}, Environment: p.Environment}
			r, err := one.WithServicesEnvironmentResolved(false)
			if err != nil {
				if errs == nil {
					errs = map[string]error{}
				}
				errs[name] = err
				continue
			}
			services[name] = r.Services[name]
		}
	}
	resolve(p.Services)
	resolve(p.DisabledServices)
	return errs
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

// DotEnvPath is the env file the env commands edit: the one whose values
// win in Compose — the last explicit env file (--env-file, else
// COMPOSE_ENV_FILES), else the .env Compose reads first (the one beside
// the working directory when there is one, which beats the project
// directory's), else the project directory's .env (which may not exist
// yet). It is "" when COMPOSE_DISABLE_ENV_FILE keeps Compose from reading
// any.
func (s *Stack) DotEnvPath() string {
	in := s.inputs
	switch {
	case in == nil:
		return filepath.Join(s.Dir, ".env")
	case len(in.envFiles) > 0:
		return in.envFiles[len(in.envFiles)-1]
	case in.disabled:
		return ""
	case len(in.passes[0]) > 0:
		return in.passes[0][0]
	case len(in.passes[1]) > 0:
		return in.passes[1][0]
	}
	return filepath.Join(s.Dir, ".env")
}

// EnvFilePasses are the env files as Compose reads them: each pass is read
// in order, later files overriding earlier ones and ${VAR} seeing the
// environment first; a later pass only adds keys no earlier pass set, and
// sees their values. The explicit env files are one pass; otherwise the
// .env beside the working directory is the first and the project
// directory's the second (when they differ).
func (s *Stack) EnvFilePasses() [][]string {
	if s.inputs == nil {
		return nil
	}
	return s.inputs.effectivePasses()
}

// EnvFilesDisabled reports whether COMPOSE_DISABLE_ENV_FILE keeps Compose
// from reading the default .env (no env file is explicit).
func (s *Stack) EnvFilesDisabled() bool { return s.inputs != nil && s.inputs.disabled }

// LookupComposeEnv looks key up in the environment Compose runs with: the
// stack's environment plus the COMPOSE_* settings Compose takes from the
// first env files into its own environment before reading them again.
func (s *Stack) LookupComposeEnv(key string) (string, bool) {
	if s.inputs == nil {
		return s.LookupEnv(key)
	}
	v, ok := s.inputs.composeEnv[key]
	if !ok && key == "PWD" {
		return s.inputs.workDir, true // Compose adds it when the environment lacks it
	}
	return v, ok
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
