package stackops

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/dotenv"
)

// How Compose v2 finds a project, step by step, so that what stackpilot
// shows, checks and runs is what `docker compose` itself would do. The
// reference is Compose v5.0.2's cmd/compose/compose.go (the --env-file
// flag's default, setEnvWithDotEnv, toProjectOptions) and pkg/compose/
// loader.go (buildProjectOptions), on compose-go's cli options:
//
//  1. --env-file is repeatable; without it, COMPOSE_ENV_FILES from the
//     process environment (comma-separated) is its default. Relative paths
//     are relative to the working directory.
//  2. Before anything else Compose reads the env files once — the explicit
//     ones, else the .env in the "first directory": -C, else the first -f's
//     directory, else the working directory (unless COMPOSE_DISABLE_ENV_FILE
//     is true) — and puts every COMPOSE_* key it finds there and that the
//     environment does not set into its own process environment.
//  3. It then builds the project: that environment (which always wins),
//     PWD, the same env files read again ("pass 1"), COMPOSE_FILE (relative
//     to the working directory), the upward search for compose.yaml & co.
//     from -C or the working directory, and a second time the env files:
//     the explicit ones again, else the .env of the project directory (-C,
//     else the first compose file's directory) when it exists ("pass 2").
//     A pass only adds keys not set yet, so the .env where Compose stands
//     beats the project directory's when both exist — and, when the project
//     directory has none, the first one stays the project's env file.
//  4. Profiles: --profile, else COMPOSE_PROFILES; the name: -p, else
//     COMPOSE_PROJECT_NAME, else the file's `name:`, else the directory.
//
// resolveProject replays these steps with the stack's environment and
// working directory instead of the process's, and records what it read so
// the env commands, doctor, the compose-model cache and the argv given to
// Compose all use this one resolution.

// envFilesFromVar is Compose's default for --env-file.
const envFilesFromVar = "COMPOSE_ENV_FILES"

// disableEnvFileVar turns the default .env off (an explicit --env-file still counts).
const disableEnvFileVar = "COMPOSE_DISABLE_ENV_FILE"

// projectInputs is one resolution of the project's inputs.
type projectInputs struct {
	workDir    string
	projectDir string   // -C, absolute; "" when not given
	files      []string // -f, absolute ("-" kept)
	// envFiles are the explicit env files (--env-file, else
	// COMPOSE_ENV_FILES), absolute; envFilesFrom says which.
	envFiles     []string
	envFilesFrom string
	environ      map[string]string // the process environment
	// composeEnv is the environment Compose runs with after step 2: the
	// process environment plus the COMPOSE_* keys of the first env files.
	composeEnv map[string]string
	// passes are the env files each pass read (step 3).
	passes [2][]string
	// disabled: COMPOSE_DISABLE_ENV_FILE is true and no env file is explicit.
	disabled bool
	lenient  bool
}

func (in *projectInputs) abs(p string) string {
	if p == "-" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(in.workDir, p)
}

// firstDir is compose-go's GetWorkingDir: -C, else the directory of the
// first compose file (not stdin), else the working directory.
func (in *projectInputs) firstDir(configPaths []string) string {
	if in.projectDir != "" {
		return in.projectDir
	}
	for _, p := range configPaths {
		if p != "-" {
			return filepath.Dir(p)
		}
	}
	return in.workDir
}

// disabledBy reports whether COMPOSE_DISABLE_ENV_FILE, as env holds it,
// turns the default .env off. Compose parses it with strconv.ParseBool and
// fails on anything else; so does stackpilot, saying so.
func disabledBy(env map[string]string) (bool, error) {
	v, ok := env[disableEnvFileVar]
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s=%q: Compose accepts only true/false (1/0, t/f)", disableEnvFileVar, v)
	}
	return b, nil
}

// defaultEnvFiles is compose-go's WithEnvFiles: the explicit files, else
// dir/.env when it exists and the default is not disabled by env. keep is
// what a missing dir/.env leaves in place (Compose does not clear it).
func (in *projectInputs) defaultEnvFiles(dir string, env map[string]string, keep []string) ([]string, error) {
	if len(in.envFiles) > 0 {
		return in.envFiles, nil
	}
	off, err := disabledBy(env)
	if err != nil {
		return nil, err
	}
	if off {
		return keep, nil
	}
	f := filepath.Join(dir, ".env")
	fi, err := os.Stat(f)
	switch {
	case os.IsNotExist(err):
		return keep, nil
	case err != nil:
		return nil, err
	case fi.IsDir():
		return keep, nil
	}
	return []string{f}, nil
}

// newProjectInputs applies steps 1 and 2.
func newProjectInputs(opts LoadOptions, environ map[string]string, workDir string) (*projectInputs, error) {
	in := &projectInputs{workDir: workDir, environ: environ, lenient: opts.Lenient}
	if opts.ProjectDir != "" {
		in.projectDir = in.abs(opts.ProjectDir)
		fi, err := os.Stat(in.projectDir)
		if err != nil {
			return nil, fmt.Errorf("project directory: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("project directory %s is not a directory", in.projectDir)
		}
	}
	for _, f := range opts.Files {
		in.files = append(in.files, in.abs(f))
	}
	explicit, from := opts.EnvFiles, "--env-file"
	if len(explicit) == 0 {
		// FieldsFunc as Compose's defaultStringArrayVar: empty entries vanish.
		explicit = strings.FieldsFunc(environ[envFilesFromVar], func(r rune) bool { return r == ',' })
		from = envFilesFromVar
	}
	for _, f := range explicit {
		in.envFiles = append(in.envFiles, in.abs(f))
	}
	if len(in.envFiles) > 0 {
		in.envFilesFrom = from
	}

	// Step 2: COMPOSE_* from the first env files into the environment.
	in.composeEnv = make(map[string]string, len(environ)+4)
	for k, v := range environ {
		in.composeEnv[k] = v
	}
	first, err := in.defaultEnvFiles(in.firstDir(in.files), environ, nil)
	if err != nil {
		return nil, err
	}
	settings, err := in.readEnvFiles(environ, first)
	if err != nil {
		return nil, err
	}
	for k, v := range settings {
		if _, set := environ[k]; !set && strings.HasPrefix(k, "COMPOSE_") {
			in.composeEnv[k] = v
		}
	}
	if len(in.envFiles) == 0 {
		if off, err := disabledBy(in.composeEnv); err != nil {
			return nil, err
		} else if off {
			in.disabled = true
		}
	}
	return in, nil
}

// readEnvFiles reads files as Compose's dotenv.GetEnvFromFile does. A
// lenient load only takes COMPOSE_* keys and skips what it cannot read (the
// env command that follows reports it, with the line).
func (in *projectInputs) readEnvFiles(env map[string]string, files []string) (map[string]string, error) {
	if len(files) == 0 {
		return nil, nil
	}
	if in.lenient {
		o := &cli.ProjectOptions{Environment: map[string]string{}, EnvFiles: files}
		for k, v := range env {
			o.Environment[k] = v
		}
		_ = composeSettingsFromDotEnv(o, map[string]bool{})
		out := map[string]string{}
		for k, v := range o.Environment {
			if _, set := env[k]; !set {
				out[k] = v
			}
		}
		return out, nil
	}
	return dotenv.GetEnvFromFile(env, files)
}

// optionFns are step 3 and 4 as compose-go options.
func (in *projectInputs) optionFns(opts LoadOptions) []cli.ProjectOptionsFn {
	dotEnv := cli.WithDotEnv
	if in.lenient {
		dotEnv = withComposeSettingsFromDotEnv()
	}
	return []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(in.projectDir),
		func(o *cli.ProjectOptions) error {
			for k, v := range in.composeEnv {
				o.Environment[k] = v
			}
			if _, ok := o.Environment["PWD"]; !ok {
				o.Environment["PWD"] = in.workDir
			}
			return nil
		},
		in.withEnvFiles(0),
		dotEnv,
		in.withConfigFileEnv,
		in.withDefaultConfigPath,
		in.withEnvFiles(1),
		dotEnv,
		cli.WithDefaultProfiles(opts.Profiles...),
		cli.WithName(opts.ProjectName),
	}
}

// withEnvFiles is a pass's cli.WithEnvFiles, recording what it chose.
func (in *projectInputs) withEnvFiles(pass int) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		files, err := in.defaultEnvFiles(in.firstDir(o.ConfigPaths), in.composeEnv, o.EnvFiles)
		if err != nil {
			return err
		}
		o.EnvFiles = files
		in.passes[pass] = files
		return nil
	}
}

// withConfigFileEnv is cli.WithConfigFileEnv: COMPOSE_FILE's entries,
// relative to the working directory (not -C), each of which must exist.
func (in *projectInputs) withConfigFileEnv(o *cli.ProjectOptions) error {
	if len(o.ConfigPaths) > 0 {
		return nil
	}
	f, ok := o.Environment["COMPOSE_FILE"]
	if !ok {
		return nil
	}
	if f == "" {
		return fmt.Errorf("COMPOSE_FILE is set but empty: unset it or name the compose files")
	}
	sep := o.Environment["COMPOSE_PATH_SEPARATOR"]
	if sep == "" {
		sep = string(os.PathListSeparator)
	}
	for _, entry := range strings.Split(f, sep) {
		p := in.abs(entry)
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

// withDefaultConfigPath is cli.WithDefaultConfigPath from -C or the working
// directory upward, with Compose's warning when a directory holds several
// candidates.
func (in *projectInputs) withDefaultConfigPath(o *cli.ProjectOptions) error {
	if len(o.ConfigPaths) > 0 {
		return nil
	}
	for d := in.firstDir(nil); ; {
		if found := existing(d, cli.DefaultFileNames); len(found) > 0 {
			if len(found) > 1 {
				composeWarnf("Found multiple config files with supported names: %s", strings.Join(found, ", "))
				composeWarnf("Using %s", found[0])
			}
			o.ConfigPaths = append(o.ConfigPaths, found[0])
			if over := existing(d, cli.DefaultOverrideFileNames); len(over) > 0 {
				if len(over) > 1 {
					composeWarnf("Found multiple override files with supported names: %s", strings.Join(over, ", "))
					composeWarnf("Using %s", over[0])
				}
				o.ConfigPaths = append(o.ConfigPaths, over[0])
			}
			return nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return nil
		}
		d = parent
	}
}

func existing(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		f := filepath.Join(dir, n)
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() {
			out = append(out, f)
		}
	}
	return out
}

// envFilesRead are the env files Compose reads, in the order it reads
// them; passes say how (see EnvFilePasses).
func (in *projectInputs) envFilesRead() []string {
	out := append([]string{}, in.passes[0]...)
	if !sameFiles(in.passes[0], in.passes[1]) {
		out = append(out, in.passes[1]...)
	}
	return out
}

// effectivePasses drops a second pass that re-read the first pass's files
// (it adds nothing: a pass only adds keys not set yet).
func (in *projectInputs) effectivePasses() [][]string {
	var out [][]string
	if len(in.passes[0]) > 0 {
		out = append(out, in.passes[0])
	}
	if len(in.passes[1]) > 0 && !sameFiles(in.passes[0], in.passes[1]) {
		out = append(out, in.passes[1])
	}
	return out
}

func sameFiles(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
