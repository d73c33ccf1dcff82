package stackops

import (
	"context"
	"time"
)

// Event is one step of progress inside an operation. The UI decides how to
// show it: a spinner line per service on a terminal, a plain line in CI,
// NDJSON for machines, nothing when quiet.
type Event struct {
	Op      string    `json:"op"`                // the operation, e.g. "deploy"
	Service string    `json:"service,omitempty"` // the service concerned, if any
	Phase   string    `json:"phase"`             // a short state word: building, starting, waiting, healthy, failed, done …
	Message string    `json:"message,omitempty"` // a human sentence with detail
	Time    time.Time `json:"time"`
	// Final marks the last event for Service in this operation (✓ or ✗).
	Final bool `json:"final,omitempty"`
	// Failed marks a final event that is a failure.
	Failed bool `json:"failed,omitempty"`
}

// EventSink receives an operation's progress. Implementations must be safe
// for concurrent use: operations report services from several goroutines.
type EventSink interface {
	Start(op string)
	Event(e Event)
	Done(op string, err error)
}

// NopSink drops every event; the default when a caller passes none.
type NopSink struct{}

// Start implements EventSink.
func (NopSink) Start(string) {}

// Event implements EventSink.
func (NopSink) Event(Event) {}

// Done implements EventSink.
func (NopSink) Done(string, error) {}

// Confirmation describes a step that needs a person's (or --yes's) consent.
type Confirmation struct {
	// Action is a short title: "remove volumes", "restore backup".
	Action string
	// Prompt is the question to ask.
	Prompt string
	// Details lists what will change, one item per line, shown before asking.
	Details []string
	// Destructive is true when data will be lost; the UI may ask harder.
	Destructive bool
	// TypeBack, when set, is the text a person must type to agree (the project name).
	TypeBack string
}

// ConfirmFunc asks for consent. It returns (false, nil) when declined and an
// error (e.g. ErrConfirmationRequired) when nobody can be asked.
type ConfirmFunc func(ctx context.Context, c Confirmation) (bool, error)

// AlwaysConfirm agrees to everything: what --yes passes.
func AlwaysConfirm(context.Context, Confirmation) (bool, error) { return true, nil }

// NeverConfirm refuses with ErrConfirmationRequired: what a run without a
// terminal and without --yes gets.
func NeverConfirm(context.Context, Confirmation) (bool, error) {
	return false, ErrConfirmationRequired
}

// SinkOrNop is s, or a NopSink when s is nil: what an operation reports to.
func SinkOrNop(s EventSink) EventSink {
	if s == nil {
		return NopSink{}
	}
	return s
}
