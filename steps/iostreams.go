// Package steps holds everything a person sees or answers: IO streams and
// terminal detection, colors, prompts (survey behind an interface), progress
// renderers, tables, and reusable steps such as SelectServices and
// ConfirmDestructive. It knows nothing of cobra or docker.
package steps

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are the process's standard streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	inTTY, outTTY, errTTY bool
	// NoInput forbids prompting even on a terminal (--no-input, STACKPILOT_NO_INPUT).
	NoInput bool
	// NoColor forbids color even on a terminal (--no-color, NO_COLOR, TERM=dumb).
	NoColor bool

	// TermWidth is the terminal width, or 0 when unknown.
	TermWidth int
}

// System returns the real streams, with terminal detection and the
// NO_COLOR, TERM=dumb and STACKPILOT_NO_INPUT conventions applied.
func System() *IOStreams {
	s := &IOStreams{
		In:     os.Stdin,
		Out:    os.Stdout,
		ErrOut: os.Stderr,
		inTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		outTTY: term.IsTerminal(int(os.Stdout.Fd())),
		errTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
	if _, ok := os.LookupEnv("NO_COLOR"); ok && os.Getenv("NO_COLOR") != "" {
		s.NoColor = true
	}
	if os.Getenv("TERM") == "dumb" {
		s.NoColor = true
	}
	if v := os.Getenv("STACKPILOT_NO_INPUT"); v != "" && v != "0" && v != "false" {
		s.NoInput = true
	}
	if s.outTTY {
		if w, _, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			s.TermWidth = w
		}
	}
	return s
}

// Test returns in-memory streams (no terminal) and their buffers.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut}, in, out, errOut
}

// SetTTY marks stdin, stdout and stderr as terminals or not (tests).
func (s *IOStreams) SetTTY(in, out, errOut bool) {
	s.inTTY, s.outTTY, s.errTTY = in, out, errOut
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.inTTY }

// IsStdoutTTY reports whether stdout is a terminal.
func (s *IOStreams) IsStdoutTTY() bool { return s.outTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.errTTY }

// CanPrompt is true only when stdin and stdout are terminals and input is
// allowed. survey must never run otherwise: on a pipe it hangs or prints
// escape codes.
func (s *IOStreams) CanPrompt() bool {
	return s.inTTY && s.outTTY && !s.NoInput
}

// ColorEnabled reports whether stdout may carry color.
func (s *IOStreams) ColorEnabled() bool { return s.outTTY && !s.NoColor }

// ErrColorEnabled reports whether stderr may carry color.
func (s *IOStreams) ErrColorEnabled() bool { return s.errTTY && !s.NoColor }

// ColorScheme is the palette for stdout.
func (s *IOStreams) ColorScheme() *ColorScheme { return NewColorScheme(s.ColorEnabled()) }

// ErrColorScheme is the palette for stderr.
func (s *IOStreams) ErrColorScheme() *ColorScheme { return NewColorScheme(s.ErrColorEnabled()) }

// Animate reports whether stderr may show spinners and redraw lines.
func (s *IOStreams) Animate() bool { return s.errTTY && os.Getenv("TERM") != "dumb" }
