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
		return typeBack(ios, p, prompt, c.TypeBack)
	}
	return p.Confirm(prompt, !c.Destructive)
}

// typeBackTries is how many times a mistyped confirmation is asked again
// before the step is cancelled: a slip of the finger should not throw away
// every answer given so far, and a wrong name must never count as consent.
const typeBackTries = 3

// typeBack asks for text to be typed back. An empty answer cancels at once;
// a mismatch asks again, up to typeBackTries times.
func typeBack(ios *IOStreams, p Prompter, prompt, want string) (bool, error) {
	cs := ios.ErrColorScheme()
	for try := 1; ; try++ {
		answer, err := p.Input(fmt.Sprintf("%s Type %q to confirm:", prompt, want), "")
		if err != nil {
			return false, err
		}
		answer = strings.TrimSpace(answer)
		switch {
		case answer == want:
			return true, nil
		case answer == "":
			fmt.Fprintf(ios.ErrOut, "%s nothing typed — cancelled, nothing was changed.\n", cs.Gray("—"))
			return false, nil
		case try == typeBackTries:
			fmt.Fprintf(ios.ErrOut, "%s %q does not match %q (%d tries) — nothing was changed.\n", cs.FailureIcon(), answer, want, try)
			return false, nil
		default:
			fmt.Fprintf(ios.ErrOut, "%s %q does not match %q — try again (%d left), or press Enter to cancel.\n", cs.WarningIcon(), answer, want, typeBackTries-try)
		}
	}
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
