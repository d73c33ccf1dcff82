package stackops

import (
	"path/filepath"
	"slices"

	"github.com/compose-spec/compose-go/v2/cli"

	"github.com/stackpilot/stackpilot/stackops/endpoint"
)

// GlobalArgs are the global flags that find this stack again from any
// directory: -C with the project directory, then -f for the compose files
// when they are not the ones Compose finds there by itself (given with -f,
// or by COMPOSE_FILE), -p when the name was given (-p, or
// COMPOSE_PROJECT_NAME in the environment), --env-file when env files were
// given, --profile when profiles were (--profile, or COMPOSE_PROFILES in the
// environment), and the engine: --context or -H as given, or — anywhere —
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
	if len(s.opts.Files) > 0 || !s.defaultComposeFiles() {
		for _, f := range s.ComposeFiles {
			out = append(out, "-f", f)
		}
	}
	_, nameFromEnv := s.LookupEnv("COMPOSE_PROJECT_NAME")
	if s.opts.ProjectName != "" || nameFromEnv {
		out = append(out, "-p", s.Name)
	}
	if len(s.opts.EnvFiles) > 0 {
		for _, f := range s.EnvFiles {
			out = append(out, "--env-file", f)
		}
	}
	_, profilesFromEnv := s.LookupEnv("COMPOSE_PROFILES")
	if len(s.opts.Profiles) > 0 || profilesFromEnv {
		for _, p := range s.Profiles {
			out = append(out, "--profile", p)
		}
	}
	if ep, err := s.Endpoint(); err == nil {
		given := ep.Source == endpoint.FromContextFlag || ep.Source == endpoint.FromHostFlag
		switch {
		case from != "" && !given:
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

func samePath(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}
