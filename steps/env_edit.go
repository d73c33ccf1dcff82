package steps

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/stackpilot/stackpilot/stackops/envfile"
)

// ErrTooManyAttempts ends a prompt loop after repeated invalid answers, so
// a wizard never spins forever.
var ErrTooManyAttempts = errors.New("too many invalid answers")

const maxAttempts = 3

// AskNewEnvKey asks for the name of a key to add, re-asking (up to three
// times) when the name is not a valid variable name.
func AskNewEnvKey(ios *IOStreams, p Prompter) (string, error) {
	cs := ios.ErrColorScheme()
	for i := 0; i < maxAttempts; i++ {
		k, err := p.Input("Name of the new key (letters, digits and _):", "")
		if err != nil {
			return "", err
		}
		k = strings.TrimSpace(k)
		if err := envfile.ValidKey(k); err != nil {
			fmt.Fprintf(ios.ErrOut, "%s %v\n", cs.FailureIcon(), err)
			continue
		}
		return k, nil
	}
	return "", fmt.Errorf("%w: no valid key name given", ErrTooManyAttempts)
}

// AskEnvValue asks for a key's new value. A secret-looking key is asked
// with hidden input, twice, so a typo cannot slip in unseen; another key
// shows its current value as the default (Enter keeps it).
func AskEnvValue(ios *IOStreams, p Prompter, key string, secret bool, current string) (string, error) {
	if !secret {
		return p.Input(fmt.Sprintf("New value for %s:", key), current)
	}
	cs := ios.ErrColorScheme()
	var value string
	err := withEchoOff(ios, func() error {
		for i := 0; i < maxAttempts; i++ {
			v, err := p.Password(fmt.Sprintf("New value for %s (hidden):", key))
			if err != nil {
				return err
			}
			again, err := p.Password("Type it again to confirm:")
			if err != nil {
				return err
			}
			if v == again {
				value = v
				return nil
			}
			fmt.Fprintf(ios.ErrOut, "%s the two entries differ — try again\n", cs.FailureIcon())
		}
		return fmt.Errorf("%w: the value was typed differently each time", ErrTooManyAttempts)
	})
	return value, err
}

// EnvValueForDisplay renders a value on one line: masked when withheld,
// "(empty)", or quoted Go-style when it holds line breaks or control
// characters, and cut to max runes. A masked value that is not empty is a
// URL whose credentials stackops already replaced (postgres://********@db).
func EnvValueForDisplay(cs *ColorScheme, value string, masked bool, max int) string {
	switch {
	case masked && value == "":
		return cs.Gray(envfile.Mask)
	case value == "":
		return cs.Gray("(empty)")
	}
	shown := value
	if strings.IndexFunc(value, func(r rune) bool { return unicode.IsControl(r) || r == utf8.RuneError }) >= 0 {
		shown = strconv.Quote(value)
	}
	if max > 0 && utf8.RuneCountInString(shown) > max {
		shown = string([]rune(shown)[:max-1]) + "…"
	}
	return shown
}

// RenderEnvDiff prints the lines an edit changes, old (-) then new (+),
// with line numbers. Secret values arrive already masked from stackops.
func RenderEnvDiff(w io.Writer, cs *ColorScheme, path string, diff []envfile.DiffLine) {
	if len(diff) == 0 {
		return
	}
	fmt.Fprintf(w, "  %s\n", cs.Bold(path))
	width := 1
	for _, d := range diff {
		if n := len(strconv.Itoa(d.Line)); n > width {
			width = n
		}
	}
	for _, d := range diff {
		text := d.Text
		if strings.IndexFunc(text, func(r rune) bool { return unicode.IsControl(r) && r != '\t' }) >= 0 {
			text = strings.Trim(strconv.Quote(text), `"`)
		}
		line := fmt.Sprintf("%s %*d  %s", d.Op, width, d.Line, text)
		if d.Op == "-" {
			line = cs.Red(line)
		} else {
			line = cs.Green(line)
		}
		if d.Secret && strings.Contains(d.Text, envfile.Mask) {
			line += cs.Gray("  (value hidden)")
		}
		fmt.Fprintf(w, "  %s\n", line)
	}
}
