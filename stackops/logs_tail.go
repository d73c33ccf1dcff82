package stackops

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
	"github.com/stackpilot/stackpilot/stackops/internal/logstream"
)

// TailLogs returns the last n lines a container wrote (stdout and stderr
// merged in the order the engine stored them), read through the engine's log
// API so it works the same for Compose v1 and v2 stacks. The deploy failure
// report and the health gate show these lines; the logs commands are
// package stackops/logs.
func (s *Stack) TailLogs(ctx context.Context, containerID string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	info, err := eng.InspectContainer(ctx, containerID)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", engine.ShortID(containerID), DockerError(err))
	}
	name := strings.TrimPrefix(info.Name, "/")
	rc, err := logstream.Open(ctx, eng, info.ID, name, info.Config.Labels[LabelService],
		engine.LogsOptions{Stdout: true, Stderr: true, Timestamps: true, Tail: strconv.Itoa(n)})
	if err != nil {
		if errors.Is(err, logstream.ErrUnreadable) {
			return nil, err
		}
		return nil, fmt.Errorf("logs of %s: %w", name, DockerError(err))
	}
	defer rc.Close()
	var lines []string
	err = logstream.NewDecoder(info.Config.Tty, true).Decode(rc, func(_ int64, _ uint8, text []byte) error {
		if len(lines) == n {
			lines = append(lines[:0], lines[1:]...)
		}
		lines = append(lines, string(text))
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("logs of %s: %w", name, DockerError(err))
	}
	return lines, nil
}
