package wizard

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

// Exit codes, documented in the README.
const (
	ExitOK        = 0
	ExitFailure   = 1
	ExitUsage     = 2
	ExitDegraded  = 3
	ExitCancelled = 130
	ExitTerm      = 143
)

// ErrInputRequired means a value was missing and nobody could be asked.
var ErrInputRequired = errors.New("missing input")

// exitError carries an exit code; a nil Err means the message was already shown.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// silentExit ends the command with code, the output having said everything.
func silentExit(code int) error { return &exitError{code: code} }

// usageErr is a usage error (exit 2) with a message.
func usageErr(format string, a ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, a...)}
}

// missingInput says which flag to pass when a value could not be asked for.
func missingInput(what, flag string) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf("%w: %s — pass %s (no terminal to ask on)", ErrInputRequired, what, flag)}
}

// ExitCode maps an error to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	switch {
	case errors.Is(err, ErrTerminated):
		return ExitTerm
	case errors.Is(err, stackops.ErrInterrupted), errors.Is(err, steps.ErrInterrupted), errors.Is(err, context.Canceled):
		return ExitCancelled
	case errors.Is(err, stackops.ErrConfirmationRequired), errors.Is(err, ErrInputRequired),
		errors.Is(err, stackops.ErrUnknownService), errors.Is(err, stackops.ErrUnknownContext): // a wrong argument, like an unknown flag
		return ExitUsage
	case errors.Is(err, stackops.ErrDegraded):
		return ExitDegraded
	}
	return ExitFailure
}

// Message is the text to print for err, or "" when the command already said it.
func Message(err error) string {
	if err == nil {
		return ""
	}
	var ee *exitError
	if errors.As(err, &ee) && ee.err == nil {
		return ""
	}
	word := ""
	switch {
	case errors.Is(err, ErrTerminated):
		word = "terminated"
	case errors.Is(err, stackops.ErrInterrupted), errors.Is(err, context.Canceled):
		word = "cancelled"
	default:
		return err.Error()
	}
	// What was put right before stopping is said even so.
	var noted *stackops.NotedError
	if errors.As(err, &noted) && len(noted.Notes) > 0 {
		word += " — " + strings.Join(noted.Notes, "; ")
	}
	return word
}
