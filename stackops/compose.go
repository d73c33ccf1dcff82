package stackops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// ComposeVariant names the Compose implementation in use.
type ComposeVariant string

// The two Compose implementations stackpilot drives.
const (
	// ComposeV2 is the Go plugin, run as `docker compose`.
	ComposeV2 ComposeVariant = "v2"
	// ComposeV1 is the Python `docker-compose` Debian-based servers still ship.
	ComposeV1 ComposeVariant = "v1"
)

// ComposeEnvVar forces a variant ("v1" or "v2") instead of detecting one.
const ComposeEnvVar = "STACKPILOT_COMPOSE"

// ComposeCLI is a detected Compose command line.
type ComposeCLI struct {
	Variant ComposeVariant `json:"variant"`
	Version string         `json:"version"`
	// Command is the argv prefix: ["docker","compose"] or ["docker-compose"].
	Command []string `json:"command"`
}

var (
	composeVersionRe = lazyre.New(`^v?(\d+)\.(\d+)\.(\d+)`)
	devVersionRe     = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)
)

// DetectCompose finds Compose: the v2 plugin first, v1 as the fallback,
// each recognised by the version it prints — never by probing a flag, since
// v1 exits 0 on flags it does not know. STACKPILOT_COMPOSE=v1|v2 forces one.
func DetectCompose(ctx context.Context, r Runner, environ []string) (*ComposeCLI, error) {
	forced := strings.ToLower(strings.TrimSpace(environMap(environ)[ComposeEnvVar]))
	switch forced {
	case "", "auto":
	case "v1", "1":
		forced = "v1"
	case "v2", "2":
		forced = "v2"
	default:
		return nil, fmt.Errorf("%s=%q: use v1, v2 or auto", ComposeEnvVar, forced)
	}
	var errs []string
	try := func(variant ComposeVariant, argv []string) (*ComposeCLI, error) {
		var out, stderr bytes.Buffer
		cmd := Cmd{Args: append(append([]string{}, argv...), "version", "--short"), Stdout: &out, Stderr: &stderr}
		if err := r.Run(ctx, cmd); err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			msg := strings.TrimSpace(stderr.String())
			if msg == "" {
				msg = err.Error()
			}
			errs = append(errs, fmt.Sprintf("%s: %s", strings.Join(argv, " "), firstLine(msg)))
			return nil, nil
		}
		v := strings.TrimSpace(out.String())
		m := composeVersionRe().FindStringSubmatch(v)
		var got ComposeVariant
		switch {
		case m != nil:
			got = ComposeV1
			if major, _ := strconv.Atoi(m[1]); major >= 2 {
				got = ComposeV2
			}
		case variant == ComposeV2 && devVersionRe().MatchString(v):
			// A plugin built from source without version stamping prints
			// "dev"; only the Go plugin answers `docker compose version`.
			got = ComposeV2
		default:
			errs = append(errs, fmt.Sprintf("%s version --short printed %q, not a version", strings.Join(argv, " "), firstLine(v)))
			return nil, nil
		}
		if got != variant {
			errs = append(errs, fmt.Sprintf("%s is Compose %s (%s)", strings.Join(argv, " "), got, v))
			return nil, nil
		}
		return &ComposeCLI{Variant: variant, Version: strings.TrimPrefix(v, "v"), Command: argv}, nil
	}
	if forced == "" || forced == "v2" {
		c, err := try(ComposeV2, []string{"docker", "compose"})
		if c != nil || err != nil {
			return c, err
		}
	}
	if forced == "" || forced == "v1" {
		c, err := try(ComposeV1, []string{"docker-compose"})
		if c != nil || err != nil {
			return c, err
		}
	}
	hint := "install Compose v2 (the docker compose plugin) or v1 (apt-get install docker-compose)"
	if forced != "" {
		hint = fmt.Sprintf("%s=%s forces Compose %s: install it or unset %s", ComposeEnvVar, forced, forced, ComposeEnvVar)
	}
	return nil, fmt.Errorf("%w: %s — %s", ErrComposeUnavailable, strings.Join(errs, "; "), hint)
}

// composeDetection is a DetectCompose started before the stack was
// loaded (LoadOptions.DetectCompose).
type composeDetection struct {
	forced string // the STACKPILOT_COMPOSE it ran with
	done   chan struct{}
	cli    *ComposeCLI
	err    error
	cancel context.CancelFunc
}

func startComposeDetection(ctx context.Context, r Runner, environ []string) *composeDetection {
	ctx, cancel := context.WithCancel(ctx)
	d := &composeDetection{forced: environMap(environ)[ComposeEnvVar], done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(d.done)
		d.cli, d.err = DetectCompose(ctx, r, environ)
	}()
	return d
}

// result waits for the detection and returns what it found, or nil: it
// failed (detecting again gives the error as a late detection would), or
// the stack's environment forces another variant than the one it ran with.
func (d *composeDetection) result(environ []string) *ComposeCLI {
	<-d.done
	if d.err != nil || d.forced != environMap(environ)[ComposeEnvVar] {
		return nil
	}
	return d.cli
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// Compose returns the stack's Compose CLI, detected once per Stack.
func (s *Stack) Compose(ctx context.Context) (*ComposeCLI, error) {
	s.composeMu.Lock()
	defer s.composeMu.Unlock()
	if s.composeCLI != nil {
		return s.composeCLI, nil
	}
	if d := s.composeEarly; d != nil {
		s.composeEarly = nil
		if c := d.result(s.environ); c != nil {
			s.composeCLI = c
			return c, nil
		}
	}
	c, err := DetectCompose(ctx, s.Runner, s.environ)
	if err != nil {
		return nil, err
	}
	s.composeCLI = c
	return c, nil
}

// ComposeArgs builds the full argv for a Compose subcommand on this stack,
// to run in s.WorkDir with the stack's environment.
//
// Compose v2 gets the user's own project flags (-C, -f, -p, --env-file,
// --profile, made absolute) and nothing more: from the same directory and
// environment it then resolves the project exactly as it would on the
// command line — the .env beside the working directory, COMPOSE_ENV_FILES,
// COMPOSE_DISABLE_ENV_FILE and all — which is also how stackpilot resolved
// it (the compatibility suite proves the two models equal). Pinning more
// would change the model: an --env-file or --project-directory Compose was
// not given makes it read other env files.
//
// Compose v1 resolves differently (one env file, read from the project
// directory; no COMPOSE_ENV_FILES or COMPOSE_DISABLE_ENV_FILE), so it gets
// the project pinned: name, directory, files, profiles and the one env file
// stackpilot read. What v1 cannot be made to see is an error that says so.
func (s *Stack) ComposeArgs(c *ComposeCLI, sub ...string) ([]string, error) {
	// The engine first: docker's global options go before "compose" (v2),
	// v1's are its own.
	args := append([]string{c.Command[0]}, s.composeEndpointArgs(c)...)
	args = append(args, c.Command[1:]...)
	if c.Variant == ComposeV1 {
		pinned, err := s.composeV1Args()
		if err != nil {
			return nil, err
		}
		args = append(args, pinned...)
		return append(args, sub...), nil
	}
	in := s.inputs
	if in == nil {
		in = &projectInputs{workDir: s.WorkDir}
	}
	if in.projectDir != "" {
		args = append(args, "--project-directory", in.projectDir)
	}
	files := in.files
	if s.unsealOverride != "" {
		// the unseal override follows the project's files, all named (unseal.go)
		if len(in.envFiles) == 0 && len(s.EnvFilePasses()) > 1 {
			// Named files move Compose's first .env from the working
			// directory to the project's: it would read another .env.
			return nil, fmt.Errorf("%w: a service reads them with env_file, which stackpilot hands Compose through one more compose file — and naming the files would make Compose skip %s, the .env of the directory it runs in; run stackpilot from the project directory %s, or name the env files with --env-file", ErrUnsealLimit, s.EnvFiles[0], s.Dir)
		}
		files = s.composeFilesWithOverride()
	}
	for _, f := range files {
		args = append(args, "--file", f)
	}
	if s.opts.ProjectName != "" {
		args = append(args, "--project-name", s.opts.ProjectName)
	}
	if in.envFilesFrom == "--env-file" {
		for _, f := range in.envFiles {
			args = append(args, "--env-file", f)
		}
	}
	for _, p := range s.opts.Profiles {
		args = append(args, "--profile", p)
	}
	return append(args, sub...), nil
}

// composeV1Args pins the project for Compose v1, or says what v1 cannot do.
func (s *Stack) composeV1Args() ([]string, error) {
	args := []string{"--project-name", s.Name, "--project-directory", s.Dir}
	files := s.ComposeFiles
	if s.unsealOverride != "" {
		files = s.composeFilesWithOverride()
	}
	for _, f := range files {
		args = append(args, "--file", f)
	}
	switch {
	case len(s.EnvFiles) > 1:
		return nil, fmt.Errorf("%w: Compose v1 reads a single env file, but this project's variables come from %s (Compose v2 reads them all) — use Compose v2 (unset %s), or merge them into one file and pass it with --env-file",
			ErrComposeV1Limit, strings.Join(s.EnvFiles, " and "), ComposeEnvVar)
	case len(s.EnvFiles) == 1:
		args = append(args, "--env-file", s.EnvFiles[0])
	case s.EnvFilesDisabled():
		if fi, err := os.Stat(filepath.Join(s.Dir, ".env")); err == nil && !fi.IsDir() {
			return nil, fmt.Errorf("%w: %s is set, but Compose v1 always reads %s — use Compose v2 (unset %s), or move that file away",
				ErrComposeV1Limit, disableEnvFileVar, filepath.Join(s.Dir, ".env"), ComposeEnvVar)
		}
	}
	for _, p := range s.Profiles {
		args = append(args, "--profile", p)
	}
	return args, nil
}

// RunCompose runs a Compose subcommand on this stack through the Runner.
func (s *Stack) RunCompose(ctx context.Context, cmd Cmd, sub ...string) error {
	c, err := s.Compose(ctx)
	if err != nil {
		return err
	}
	if cmd.Args, err = s.ComposeArgs(c, sub...); err != nil {
		return err
	}
	cmd.Env = append(cmd.Env, s.composeEnv(c)...)
	if cmd.Dir == "" {
		cmd.Dir = s.WorkDir
	}
	err = s.Runner.Run(ctx, cmd)
	var ee *ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%s %s failed: %w", strings.Join(c.Command, " "), firstArg(sub), err)
	}
	return err
}

func firstArg(a []string) string {
	if len(a) == 0 {
		return ""
	}
	return a[0]
}
