package steps

import (
	"errors"
	"fmt"
	"strings"
)

// ServiceChoice is a service offered in a selection, with its current state shown beside it.
type ServiceChoice struct {
	Name  string
	State string // e.g. "running, healthy" or "not created"
}

// SelectServices asks which services to act on: all of them, or a
// multi-select showing each with its state. It returns nil for "all".
func SelectServices(p Prompter, verb string, choices []ServiceChoice) ([]string, error) {
	if len(choices) == 0 {
		return nil, errors.New("the stack has no services")
	}
	all := fmt.Sprintf("All services (%d)", len(choices))
	if len(choices) <= 5 { // name them while the line stays short
		names := make([]string, len(choices))
		for i, c := range choices {
			names[i] = c.Name
		}
		all += ": " + strings.Join(names, ", ")
	}
	idx, err := p.Select(fmt.Sprintf("Which services do you want to %s?", verb), []string{all, "Choose services…"}, all)
	if err != nil {
		return nil, err
	}
	if idx == 0 {
		return nil, nil
	}
	options := make([]string, len(choices))
	for i, c := range choices {
		options[i] = c.Name
		if c.State != "" {
			options[i] = fmt.Sprintf("%s (%s)", c.Name, c.State)
		}
	}
	// Enter with nothing marked asks again (saying so) rather than ending
	// the flow: Ctrl-C is the way back.
	message := fmt.Sprintf("Services to %s (space to select, enter to confirm):", verb)
	var picked []int
	for len(picked) == 0 {
		picked, err = p.MultiSelect(message, options, nil)
		if err != nil {
			return nil, err
		}
		message = fmt.Sprintf("Nothing was selected. Services to %s (space marks one, enter confirms, Ctrl-C goes back):", verb)
	}
	out := make([]string, len(picked))
	for i, j := range picked {
		out[i] = choices[j].Name
	}
	return out, nil
}
