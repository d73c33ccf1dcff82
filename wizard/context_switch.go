package wizard

import (
	"context"
	"fmt"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/endpoint"
)

// whereLabel names the engine a stack acts on for the menu's header — "on
// prod (ssh://deploy@10.0.0.5)" — or "" for the local default socket, which
// needs no saying. A resolution error is said too: every job would fail on it.
func whereLabel(st *stackops.Stack) string {
	ep, err := st.Endpoint()
	switch {
	case err != nil:
		return "engine: " + Message(err)
	case ep.Context != endpoint.DefaultContext:
		return fmt.Sprintf("on %s (%s)", ep.Context, ep.Host)
	case ep.Host != endpoint.DefaultHost:
		return "on " + ep.Host
	}
	return ""
}

// contextMenuEntry is the menu's way to act on another engine: offered when
// the docker CLI's context store holds a context besides the default one.
func contextMenuEntry(f *Factory, st *stackops.Stack) (menuEntry, bool) {
	list, err := endpoint.Contexts(f.environ())
	if err != nil || len(list) < 2 {
		return menuEntry{}, false
	}
	now := endpoint.DefaultContext
	if ep, err := st.Endpoint(); err == nil {
		now = ep.Context
	}
	return menuEntry{
		Label: fmt.Sprintf("Docker context — act on another engine (now: %s)", now),
		Run:   runSwitchContext,
	}, true
}

// runSwitchContext lists the docker contexts (the docker CLI's store, as
// `docker context ls`), and the one picked is where the rest of the session
// acts: the menu behaves from then on as `stackpilot --context NAME`, which
// it prints. It changes nothing in the docker configuration (unlike `docker
// context use`), so other terminals are not moved.
func runSwitchContext(ctx context.Context, f *Factory) error {
	list, err := endpoint.Contexts(f.environ())
	if err != nil {
		return err
	}
	current := ""
	if st, err := f.Stack(ctx); err == nil {
		if ep, err := st.Endpoint(); err == nil {
			current = ep.Context
		}
	}
	labels := make([]string, 0, len(list)+1)
	def := ""
	for _, c := range list {
		l := fmt.Sprintf("%s  %s", c.Name, c.Host)
		if c.Name == current {
			l += "  (in use)"
			def = l
		}
		labels = append(labels, l)
	}
	labels = append(labels, "Back")
	idx, err := f.Prompter.Select("Which docker context should stackpilot act on?", labels, def)
	if err != nil {
		return err
	}
	if idx == len(list) {
		return nil
	}
	name := list[idx].Name
	f.Global.Context, f.Global.Host = name, ""
	f.forgetStack()
	cs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "%s acting on docker context %s (%s) for the rest of this session\n", cs.SuccessIcon(), cs.Cyan(name), list[idx].Host)
	if _, err := f.Stack(ctx); err != nil {
		// The project no longer loads (or the context is broken): say so,
		// the menu shows the rest.
		fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.WarningIcon(), Message(err))
	}
	f.Equivalent()
	return nil
}
