package logstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// ErrUnreadable marks a container whose logging driver cannot be read back
// (the engine's 501): readers skip it with a warning rather than fail.
var ErrUnreadable = errors.New("log cannot be read back")

type unreadableError struct{ msg string }

func (e *unreadableError) Error() string        { return e.msg }
func (e *unreadableError) Is(target error) bool { return target == ErrUnreadable }

// Open asks the engine for a container's log (name and service say which,
// in messages). A logging driver that keeps nothing to read back ("none",
// syslog…) is an error matching ErrUnreadable; other errors are the
// engine's, for the caller to word.
func Open(ctx context.Context, eng *engine.Client, id, name, service string, o engine.LogsOptions) (io.ReadCloser, error) {
	rc, err := eng.ContainerLogs(ctx, id, o)
	if err != nil {
		var apiErr *engine.APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotImplemented {
			return nil, &unreadableError{msg: fmt.Sprintf("logs of %s (%s) skipped: the docker daemon says %q — its logging driver keeps nothing to read back", name, service, apiErr.Message)}
		}
		return nil, err
	}
	return rc, nil
}
