package stackops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
	c, err := DetectCompose(ctx, s.Runner, s.environ)
	if err != nil {
		return nil, err
	}
	s.composeCLI = c
	return c, nil
}

// ComposeArgs builds the full argv for a Compose subcommand on this stack. The
// project is pinned explicitly (name, directory, files, env files, profiles)
// so v1 and v2 see exactly the project stackpilot loaded.
func (s *Stack) ComposeArgs(c *ComposeCLI, sub ...string) []string {
	// The engine too: docker's global options go before "compose" (v2), v1's
	// are its own.
	args := append([]string{c.Command[0]}, s.composeEndpointArgs(c)...)
	args = append(args, c.Command[1:]...)
	args = append(args, "--project-name", s.Name, "--project-directory", s.Dir)
	for _, f := range s.ComposeFiles {
		args = append(args, "--file", f)
	}
	envFiles := s.EnvFiles
	if c.Variant == ComposeV1 && len(envFiles) > 1 {
		// v1 takes a single --env-file; the first one is where COMPOSE_* settings live.
		envFiles = envFiles[:1]
	}
	for _, f := range envFiles {
		args = append(args, "--env-file", f)
	}
	for _, p := range s.Profiles {
		args = append(args, "--profile", p)
	}
	return append(args, sub...)
}

// RunCompose runs a Compose subcommand on this stack through the Runner.
func (s *Stack) RunCompose(ctx context.Context, cmd Cmd, sub ...string) error {
	c, err := s.Compose(ctx)
	if err != nil {
		return err
	}
	cmd.Args = s.ComposeArgs(c, sub...)
	if cmd.Dir == "" {
		cmd.Dir = s.Dir
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
