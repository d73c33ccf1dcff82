package wizard

import (
	"context"
	"fmt"
	"strings"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
)

// serviceChoices lists every service of the stack with its containers'
// state ("running, healthy", "exited (1)", "not created"), for the menus'
// service pickers. When the state cannot be read (the daemon is down) the
// names come back anyway, with the error.
func serviceChoices(ctx context.Context, st *stackops.Stack) ([]steps.ServiceChoice, error) {
	res, err := st.Status(ctx, stackops.StatusOptions{NoProbes: true})
	states := map[string][]string{}
	if err == nil {
		for _, r := range res.Services {
			s := r.State
			switch {
			case r.State == stackops.StateExited || r.State == "restarting":
				s = fmt.Sprintf("%s (%d)", r.State, r.ExitCode)
			case r.Health != "":
				s += ", " + r.Health
			}
			states[r.Service] = append(states[r.Service], s)
		}
	}
	out := make([]steps.ServiceChoice, 0, len(st.ServiceNames()))
	for _, name := range st.ServiceNames() {
		out = append(out, steps.ServiceChoice{Name: name, State: strings.Join(dedupe(states[name]), "; ")})
	}
	return out, err
}
