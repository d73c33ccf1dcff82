package stackops

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// Sentinel errors. Callers match them with errors.Is to choose an exit code or
// a hint; the wrapped message already says what failed and what to do.
var (
	// ErrNoComposeFile means no compose file was given or found.
	ErrNoComposeFile = errors.New("no compose file found")
	// ErrInvalidCompose means the compose file could not be loaded.
	ErrInvalidCompose = errors.New("invalid compose file")
	// ErrUnknownService means a service name is not in the compose model.
	ErrUnknownService = errors.New("unknown service")
	// ErrDockerUnavailable means the docker daemon (or binary) cannot be used.
	ErrDockerUnavailable = errors.New("docker unavailable")
	// ErrDaemonDown means the daemon does not answer.
	ErrDaemonDown = engine.ErrDaemonDown
	// ErrPermissionDenied means this user may not open the docker socket.
	ErrPermissionDenied = engine.ErrPermissionDenied
	// ErrComposeUnavailable means neither Compose v2 nor v1 could be found.
	ErrComposeUnavailable = errors.New("docker compose not found")
	// ErrComposeV1Limit means Compose v1 cannot be made to see the project
	// as Compose v2 (and stackpilot) resolve it.
	ErrComposeV1Limit = errors.New("Compose v1 cannot read this project as Compose v2 does")
	// ErrDegraded means the stack is not fully running and healthy.
	ErrDegraded = errors.New("stack degraded")
	// ErrLocked means another stackpilot holds the stack lock.
	ErrLocked = errors.New("stack is locked")
	// ErrNotConfirmed means the caller's confirm hook declined.
	ErrNotConfirmed = errors.New("not confirmed")
	// ErrConfirmationRequired means a destructive step needs --yes when there is no terminal to ask on.
	ErrConfirmationRequired = errors.New("--yes is required when not running interactively")
	// ErrInvalidConfig means the x-stackpilot block is malformed.
	ErrInvalidConfig = errors.New("invalid x-stackpilot configuration")
)

// UnknownServiceError names the unknown service and the valid ones.
type UnknownServiceError struct {
	Name  string
	Valid []string
}

func (e *UnknownServiceError) Error() string {
	return fmt.Sprintf("no such service: %q (services: %s)", e.Name, strings.Join(e.Valid, ", "))
}

// Is matches ErrUnknownService.
func (e *UnknownServiceError) Is(target error) bool { return target == ErrUnknownService }

// NoComposeFileError lists where stackpilot looked.
type NoComposeFileError struct {
	Searched []string // directories searched, nearest first
	Names    []string // file names tried in each
}

func (e *NoComposeFileError) Error() string {
	dirs := e.Searched
	const max = 6
	more := ""
	if len(dirs) > max {
		more = fmt.Sprintf(" and %d more up to /", len(dirs)-max)
		dirs = dirs[:max]
	}
	return fmt.Sprintf("not a compose project: none of %s found in %s%s — run stackpilot inside the project, or pass -C DIR or -f FILE",
		strings.Join(e.Names, ", "), strings.Join(dirs, ", "), more)
}

// Is matches ErrNoComposeFile.
func (e *NoComposeFileError) Is(target error) bool { return target == ErrNoComposeFile }

// DockerError explains why docker cannot be used and how to fix it.
func describeDockerError(err error) string {
	var de *engine.DaemonError
	if errors.As(err, &de) {
		switch {
		case de.Fix != "": // the client knew what to do (a remote engine, TLS)
			return de.Error()
		case errors.Is(err, engine.ErrPermissionDenied):
			return fmt.Sprintf("docker daemon not reachable at %s: permission denied — add your user to the docker group (sudo usermod -aG docker $USER, then log in again) or run with sudo", de.Host)
		case errors.Is(err, engine.ErrDaemonDown):
			return fmt.Sprintf("docker daemon not reachable at %s: it is not running — start it (sudo systemctl start docker, or sudo dockerd &) and try again", de.Host)
		}
	}
	return err.Error()
}

// DockerError wraps an engine error so that errors.Is(err, ErrDockerUnavailable)
// holds and the message says how to fix it; other errors pass unchanged.
func DockerError(err error) error {
	if err == nil {
		return nil
	}
	var de *engine.DaemonError
	if errors.As(err, &de) {
		return &dockerUnavailableError{msg: describeDockerError(err), cause: err}
	}
	return err
}

type dockerUnavailableError struct {
	msg   string
	cause error
}

func (e *dockerUnavailableError) Error() string { return e.msg }
func (e *dockerUnavailableError) Unwrap() []error {
	return []error{ErrDockerUnavailable, e.cause}
}

// NotedError is an error with what was done about it before giving up —
// "volume db-data was rolled back to its state before the restore". A
// caller that prints a short word for some errors (Ctrl-C is "cancelled")
// still owes the user the notes: they say in what state things were left.
type NotedError struct {
	Err   error
	Notes []string
}

func (e *NotedError) Error() string {
	return fmt.Sprintf("%v (%s)", e.Err, strings.Join(e.Notes, "; "))
}

func (e *NotedError) Unwrap() error { return e.Err }
