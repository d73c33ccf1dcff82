package stackops

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// TailLogs returns the last n lines a container wrote (stdout and stderr
// merged in the order the engine stored them), read through the engine's log
// API so it works the same for Compose v1 and v2 stacks.
func (s *Stack) TailLogs(ctx context.Context, containerID string, n int) ([]string, error) {
	eng, err := s.Engine()
	if err != nil {
		return nil, err
	}
	info, err := eng.InspectContainer(ctx, containerID)
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", shortID(containerID), dockerErr(err))
	}
	rc, err := eng.ContainerLogs(ctx, containerID, engine.LogsOptions{Stdout: true, Stderr: true, Tail: strconv.Itoa(n)})
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", shortID(containerID), dockerErr(err))
	}
	defer rc.Close()
	var buf bytes.Buffer
	if info.Config.Tty {
		_, err = buf.ReadFrom(rc)
	} else {
		err = engine.Demux(rc, &buf, &buf)
	}
	if err != nil {
		return nil, fmt.Errorf("logs of %s: %w", shortID(containerID), err)
	}
	text := strings.TrimRight(buf.String(), "\n")
	if text == "" {
		return nil, nil
	}
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, "\r")
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}
