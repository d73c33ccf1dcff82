package steps

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/AlecAivazis/survey/v2"
	"github.com/AlecAivazis/survey/v2/core"
	"github.com/AlecAivazis/survey/v2/terminal"

	"github.com/stackpilot/stackpilot/stackops"
)

// ErrInterrupted is returned by a prompt when the person presses Ctrl-C.
var ErrInterrupted = stackops.ErrInterrupted

// Prompter asks questions. The survey adapter asks on a terminal; the
// scripted prompter answers in tests. Nothing else in stackpilot calls survey.
type Prompter interface {
	// Select returns the index of the chosen option.
	Select(message string, options []string, def string) (int, error)
	// MultiSelect returns the indexes of the chosen options.
	MultiSelect(message string, options []string, defaults []string) ([]int, error)
	// Confirm asks yes or no.
	Confirm(message string, def bool) (bool, error)
	// Input asks for a line of text.
	Input(message string, def string) (string, error)
	// Password asks for text without echoing it.
	Password(message string) (string, error)
}

// fileReader and fileWriter are what survey needs: streams with a descriptor.
type fileReader interface {
	io.Reader
	Fd() uintptr
}
type fileWriter interface {
	io.Writer
	Fd() uintptr
}

// SurveyPrompter asks with survey on the terminal.
type SurveyPrompter struct {
	in  fileReader
	out fileWriter
	err io.Writer
}

// NewSurveyPrompter builds a prompter on the given streams. Prompts are drawn
// on stderr when it is a terminal (stdout stays for results), else stdout.
func NewSurveyPrompter(ios *IOStreams) *SurveyPrompter {
	p := &SurveyPrompter{err: ios.ErrOut}
	// survey colors its prompts itself; --no-color, NO_COLOR and TERM=dumb apply to it too.
	core.DisableColor = ios.NoColor
	if f, ok := ios.In.(fileReader); ok {
		p.in = f
	} else {
		p.in = os.Stdin
	}
	switch {
	case ios.IsStderrTTY():
		if f, ok := ios.ErrOut.(fileWriter); ok {
			p.out = f
		}
	}
	if p.out == nil {
		if f, ok := ios.Out.(fileWriter); ok {
			p.out = f
		} else {
			p.out = os.Stdout
		}
	}
	return p
}

func (p *SurveyPrompter) ask(q survey.Prompt, resp any) error {
	err := survey.AskOne(q, resp, survey.WithStdio(p.in, p.out, p.err), survey.WithShowCursor(true))
	if errors.Is(err, terminal.InterruptErr) {
		return ErrInterrupted
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("input closed: %w", ErrInterrupted)
	}
	return err
}

// selectPageSize is how many options a select shows at once: the main
// menu's jobs with its repairs or "Open another project", the update entry
// and Quit, in a 24-line terminal.
const selectPageSize = 20

// Select implements Prompter.
func (p *SurveyPrompter) Select(message string, options []string, def string) (int, error) {
	q := &selectPrompt{Message: message, Options: options, PageSize: selectPageSize}
	for i, o := range options {
		if o == def {
			q.Default = i
		}
	}
	var idx int
	err := p.ask(q, &idx)
	return idx, err
}

// MultiSelect implements Prompter.
func (p *SurveyPrompter) MultiSelect(message string, options []string, defaults []string) ([]int, error) {
	q := &multiSelectPrompt{Message: message, Options: options, PageSize: 15, Default: defaults}
	var idx []int
	err := p.ask(q, &idx)
	return idx, err
}

// Confirm implements Prompter.
func (p *SurveyPrompter) Confirm(message string, def bool) (bool, error) {
	var ok bool
	err := p.ask(&survey.Confirm{Message: message, Default: def}, &ok)
	return ok, err
}

// Input implements Prompter.
func (p *SurveyPrompter) Input(message string, def string) (string, error) {
	var s string
	err := p.ask(&survey.Input{Message: message, Default: def}, &s)
	return strings.TrimRight(s, "\r\n"), err
}

// Password implements Prompter.
func (p *SurveyPrompter) Password(message string) (string, error) {
	var s string
	err := p.ask(&survey.Password{Message: message}, &s)
	return s, err
}
