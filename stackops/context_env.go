package stackops

import (
	"context"
	"os"
	"strings"
)

// The variables that tell a program stackpilot starts for a project — a
// plugin, a host task — which project it is, the way Compose's own
// variables would: scripts can call `$STACKPILOT_COMPOSE_COMMAND -p
// "$STACKPILOT_PROJECT_NAME" ps`, or stackpilot again.
const (
	// EnvProjectDir is the project directory.
	EnvProjectDir = "STACKPILOT_PROJECT_DIR"
	// EnvProjectName is the Compose project name.
	EnvProjectName = "STACKPILOT_PROJECT_NAME"
	// EnvComposeFiles are the compose files, separated by the OS's list
	// separator (":" on Unix), like COMPOSE_FILE.
	EnvComposeFiles = "STACKPILOT_COMPOSE_FILES"
	// EnvComposeCommand is the Compose command line in use, words separated
	// by spaces: "docker compose" or "docker-compose".
	EnvComposeCommand = "STACKPILOT_COMPOSE_COMMAND"
	// EnvDockerHost is the Docker endpoint stackpilot talks to.
	EnvDockerHost = "DOCKER_HOST"
)

// ProjectEnvKeys are the variables that describe a project: a program
// started where there is no project gets none of them, not even ones
// inherited from a stackpilot that started this one.
var ProjectEnvKeys = []string{EnvProjectDir, EnvProjectName, EnvComposeFiles, EnvComposeCommand}

// ContextEnv is the environment that tells a program started for this
// stack where it is: the project directory, name and compose files, the
// Compose variant (STACKPILOT_COMPOSE, which stackpilot itself reads, so a
// program calling stackpilot back gets the same one) and its command, and
// the Docker endpoint (DOCKER_HOST, so the program's docker talks to the
// engine stackpilot talks to). A Compose or an endpoint that cannot be
// determined is left out rather than failing the program's start.
//
// Finding which Compose is installed runs `docker compose version` (and
// `docker-compose version` when that fails): 0.1 s, a second or more for
// v1. A variant forced with STACKPILOT_COMPOSE is the one stackpilot uses,
// so it is passed on as it is, without that cost.
func (s *Stack) ContextEnv(ctx context.Context) []string {
	env := []string{
		EnvProjectDir + "=" + s.Dir,
		EnvProjectName + "=" + s.Name,
		EnvComposeFiles + "=" + strings.Join(s.ComposeFiles, string(os.PathListSeparator)),
	}
	forced, _ := s.LookupEnv(ComposeEnvVar)
	switch strings.ToLower(strings.TrimSpace(forced)) {
	case "v1", "1":
		env = append(env, ComposeEnvVar+"=v1", EnvComposeCommand+"=docker-compose")
	case "v2", "2":
		env = append(env, ComposeEnvVar+"=v2", EnvComposeCommand+"=docker compose")
	default:
		if c, err := s.Compose(ctx); err == nil {
			env = append(env, ComposeEnvVar+"="+string(c.Variant), EnvComposeCommand+"="+strings.Join(c.Command, " "))
		}
	}
	if eng, err := s.Engine(); err == nil {
		env = append(env, EnvDockerHost+"="+eng.Host())
	}
	return env
}
