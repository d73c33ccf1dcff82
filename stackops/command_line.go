package stackops

import (
	"path/filepath"
	"slices"

	"github.com/compose-spec/compose-go/v2/cli"

	"github.com/stackpilot/stackpilot/stackops/endpoint"
)

// GlobalArgs are the global flags that find this stack again from any
// directory: -C with the project directory; -f for the compose files when
// they are not the ones Compose finds there by itself, or when COMPOSE_FILE
// (in the environment, or in an env file named) would be taken against
// another directory; -p when the name was given (-p, or
// COMPOSE_PROJECT_NAME in the environment); --env-file when the env files
// Compose reads are not the ones -C alone finds (envFilesToName); --profile
// when profiles were given (--profile, or COMPOSE_PROFILES in the
// environment); and the engine: --context or -H as given, or — anywhere —
// the one DOCKER_HOST or DOCKER_CONTEXT chose (a crontab has neither).
// Paths are absolute. Every command stackpilot suggests is built from
// these, so a hint works copy-pasted into any directory or a crontab,
// however the project was found.
//
// from is the directory the command will be typed in: when it is the
// project directory and -C was not given, -C is left out (the command a
// person would type standing there), and the engine only when a flag chose
// it. "" means anywhere: -C is always there.
func (s *Stack) GlobalArgs(from string) []string {
	var out []string
	if from == "" || s.opts.ProjectDir != "" || !samePath(from, s.Dir) {
		out = append(out, "-C", s.Dir)
	}
	// COMPOSE_FILE, in the environment or in an env file named, would be
	// taken against the directory the command runs in: the compose files
	// are named then too (-f wins over it).
	envFiles := s.envFilesToName()
	_, composeFileFromEnv := s.LookupEnv("COMPOSE_FILE")
	if len(s.opts.Files) > 0 || len(envFiles) > 0 || composeFileFromEnv || !s.defaultComposeFiles() {
		for _, f := range s.ComposeFiles {
			out = append(out, "-f", f)
		}
	}
	_, nameFromEnv := s.LookupEnv("COMPOSE_PROJECT_NAME")
	if s.opts.ProjectName != "" || nameFromEnv {
		out = append(out, "-p", s.Name)
	}
	for _, f := range envFiles {
		out = append(out, "--env-file", f)
	}
	_, profilesFromEnv := s.LookupEnv("COMPOSE_PROFILES")
	if len(s.opts.Profiles) > 0 || profilesFromEnv {
		for _, p := range s.Profiles {
			out = append(out, "--profile", p)
		}
	}
	if s.opts.Swarm {
		out = append(out, "--swarm")
	}
	if ep, err := s.Endpoint(); err == nil {
		given := ep.Source == endpoint.FromContextFlag || ep.Source == endpoint.FromHostFlag
		switch {
		case from != "" && !given:
		case ep.Source == endpoint.FromContextFlag:
			// As given, default included: it may be what overrides
			// DOCKER_CONTEXT or `docker context use` (the menu's switch back).
			out = append(out, "--context", ep.Context)
		case ep.Context != "" && ep.Context != endpoint.DefaultContext:
			out = append(out, "--context", ep.Context)
		case ep.Host != "" && ep.Host != endpoint.DefaultHost:
			out = append(out, "-H", ep.Host)
		}
	}
	return out
}

// CommandLine renders the stackpilot command that runs args on this stack
// from any directory, quoted for a POSIX shell: the form of every
// follow-up hint ("check it with: …").
func (s *Stack) CommandLine(args ...string) string {
	argv := append([]string{"stackpilot"}, s.GlobalArgs("")...)
	return Cmd{Args: append(argv, args...)}.String()
}

// defaultComposeFiles reports whether the stack's compose files are the
// ones Compose finds by itself in the project directory.
func (s *Stack) defaultComposeFiles() bool {
	for d := s.Dir; ; {
		if found := existing(d, cli.DefaultFileNames); len(found) > 0 {
			want := found[:1]
			if over := existing(d, cli.DefaultOverrideFileNames); len(over) > 0 {
				want = append(want, over[0])
			}
			return slices.Equal(want, s.ComposeFiles)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return len(s.ComposeFiles) == 0
		}
		d = parent
	}
}

// envFilesToName are the env files a command run from anywhere must name so
// that Compose reads what it read here: the explicit ones (--env-file, or
// COMPOSE_ENV_FILES, which a crontab does not have) in their order; or,
// when the .env of the directory stackpilot stood in was read (a
// subdirectory's own .env, or one whose COMPOSE_FILE named the compose
// file), every file read, last first — explicit env files let the last one
// win, where Compose's own reading of the .env files lets the first win.
// nil when -C alone makes Compose read the same (the project directory's
// .env, or nothing). Flags cannot say all of it: Compose reads the project's
// .env seeing the values of the one where it stood, explicit files see only
// those named before them, so a project .env value built from a key the
// other .env overrides (URL=http://${HOST}) comes out differently.
func (s *Stack) envFilesToName() []string {
	in := s.inputs
	switch {
	case in == nil || in.disabled:
		return nil
	case len(in.envFiles) > 0:
		return in.envFiles
	}
	if len(s.EnvFiles) == 0 || len(s.EnvFiles) == 1 && samePath(s.EnvFiles[0], filepath.Join(s.Dir, ".env")) {
		return nil
	}
	out := slices.Clone(s.EnvFiles)
	slices.Reverse(out)
	return out
}

func samePath(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}
