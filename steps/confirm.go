package steps

import (
	"context"
	"fmt"
	"strings"

	"github.com/stackpilot/stackpilot/stackops"
)

// ConfirmDestructive asks for consent to c on the terminal: the details
// first, then yes/no — or, when c.TypeBack is set, the text typed back
// (the project name), so destroying data never takes a single keypress.
func ConfirmDestructive(ios *IOStreams, p Prompter, c stackops.Confirmation) (bool, error) {
	cs := ios.ErrColorScheme()
	if len(c.Details) > 0 {
		title := c.Action
		if title == "" {
			title = "This will"
		}
		fmt.Fprintf(ios.ErrOut, "%s %s:\n", cs.WarningIcon(), cs.Bold(title))
		for _, d := range c.Details {
			fmt.Fprintf(ios.ErrOut, "    %s\n", d)
		}
	}
	prompt := c.Prompt
	if prompt == "" {
		prompt = "Continue?"
	}
	if c.TypeBack != "" {
		answer, err := p.Input(fmt.Sprintf("%s Type %q to confirm:", prompt, c.TypeBack), "")
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(answer) != c.TypeBack {
			fmt.Fprintf(ios.ErrOut, "%s %q does not match %q — nothing was changed.\n", cs.FailureIcon(), strings.TrimSpace(answer), c.TypeBack)
			return false, nil
		}
		return true, nil
	}
	return p.Confirm(prompt, !c.Destructive)
}

// ConfirmFunc builds the stackops.ConfirmFunc for a command: --yes agrees to
// everything; a terminal asks; otherwise consent is refused with
// ErrConfirmationRequired, which names --yes.
func ConfirmFunc(ios *IOStreams, p Prompter, yes bool, before func()) stackops.ConfirmFunc {
	if yes {
		return stackops.AlwaysConfirm
	}
	if !ios.CanPrompt() || p == nil {
		return stackops.NeverConfirm
	}
	return func(_ context.Context, c stackops.Confirmation) (bool, error) {
		if before != nil {
			before()
		}
		return ConfirmDestructive(ios, p, c)
	}
}
