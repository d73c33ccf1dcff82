//go:build !linux

package tasks

import (
	"context"
	"errors"
	"os"

	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// signalExec cannot reach an exec'd process outside Linux: the engine runs
// in a virtual machine whose processes are not ours to signal.
func signalExec(context.Context, *engine.Client, string, string, os.Signal) error {
	return errors.New("the engine's processes are not visible from here")
}
