package wizard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mattn/go-shellwords"
	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/plugins"
	"github.com/stackpilot/stackpilot/steps"
)

// reservedNames are the names no plugin may take: stackpilot's commands
// and cobra's.
func reservedNames() map[string]bool {
	r := map[string]bool{"help": true, "completion": true, cobra.ShellCompRequestCmd: true, cobra.ShellCompNoDescRequestCmd: true}
	for _, n := range commandOrder {
		r[n] = true
	}
	return r
}

// isPluginCandidate reports whether a command name that is not one of
// stackpilot's may be a plugin's, to be looked up when it runs.
func isPluginCandidate(name string) bool {
	return plugins.ValidName(name) && !reservedNames()[name]
}

// pluginProject finds the project a plugin runs for, without loading the
// compose model: a plugin must run where stackpilot's own commands would
// refuse (a compose file with an error, a missing .env). No project is
// not an error; a project that cannot be read is said, and the plugin
// runs without it.
func pluginProject(ctx context.Context, f *Factory) *stackops.Stack {
	lo := f.loadOptions()
	lo.Lenient = true
	st, err := stackops.Load(ctx, lo)
	if err != nil {
		if !errors.Is(err, stackops.ErrNoComposeFile) {
			fmt.Fprintf(f.IO.ErrOut, "%s no project context for the plugin: %s\n", f.IO.ErrColorScheme().WarningIcon(), Message(err))
		}
		return nil
	}
	return st
}

func pluginOptions(f *Factory, st *stackops.Stack) plugins.Options {
	o := plugins.Options{Reserved: reservedNames(), PATH: f.getenv("PATH")}
	if st != nil {
		o.ProjectDir = st.Dir
	}
	return o
}

// pluginEnv is a plugin's environment: stackpilot's, without the project
// variables it may have inherited, plus the project's context when there
// is a project, and STACKPILOT_BIN (this stackpilot, to call back).
func pluginEnv(ctx context.Context, f *Factory, st *stackops.Stack) []string {
	drop := map[string]bool{"STACKPILOT_BIN": true}
	for _, k := range stackops.ProjectEnvKeys {
		drop[k] = true
	}
	var env []string
	for _, kv := range f.environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	if exe, err := os.Executable(); err == nil {
		env = append(env, "STACKPILOT_BIN="+exe)
	}
	if st != nil {
		env = append(env, st.ContextEnv(ctx)...)
	}
	return env
}

// environ is the environment stackpilot runs in (the test's, in tests).
func (f *Factory) environ() []string {
	if f.Environ != nil {
		return f.Environ
	}
	return os.Environ()
}

// getenv is the value of key in the environment stackpilot runs in.
func (f *Factory) getenv(key string) string {
	v := ""
	for _, kv := range f.environ() {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}

// warnIgnoredPlugin says so when a built-in command runs while a plugin of
// its name is on PATH: whoever installed it expects it to run. (A few
// stat calls; `stackpilot plugins` also checks the project's directory.)
func warnIgnoredPlugin(f *Factory, name string) {
	if !reservedNames()[name] || name == cobra.ShellCompRequestCmd || name == cobra.ShellCompNoDescRequestCmd {
		return
	}
	if p, err := plugins.Find(name, plugins.Options{PATH: f.getenv("PATH")}); err == nil {
		fmt.Fprintf(f.IO.ErrOut, "%s ignored %s: %s\n", f.IO.ErrColorScheme().WarningIcon(), p.Path, plugins.ReservedReason(name))
	}
}

// newPluginCmd is the command for a name that is not stackpilot's: it
// runs the plugin of that name with every argument after it, untouched
// (flags included), or reports an unknown command.
func newPluginCmd(f *Factory, name string) *cobra.Command {
	return &cobra.Command{
		Use:                name,
		Short:              "a plugin (stackpilot-" + name + ")",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st := pluginProject(ctx, f)
			p, err := plugins.Find(name, pluginOptions(f, st))
			if err != nil {
				where := "on PATH"
				if st != nil {
					where += " or in " + st.Dir + "/" + plugins.ProjectDir
				}
				return usageErr("unknown command %q — run stackpilot --help for the commands (no plugin stackpilot-%s %s)", name, name, where)
			}
			return execPlugin(p.Path, args, pluginEnv(ctx, f, st))
		},
	}
}

type pluginsOptions struct {
	JSON bool
}

func newPluginsCmd(f *Factory) *cobra.Command {
	opts := &pluginsOptions{}
	cmd := &cobra.Command{
		Use:   "plugins",
		Short: "List plugins: executables stackpilot-NAME that run as stackpilot NAME",
		Long: `List the plugins stackpilot finds: executables named stackpilot-NAME in the
project's .stackpilot/plugins/ directory (first) and on PATH, which run as
stackpilot NAME ARGS… with the project's context in their environment. Each is
asked for its description (stackpilot-NAME --stackpilot-metadata); one that
does not answer is listed with its path. A plugin cannot replace a built-in
command: such a file is ignored, with a warning. See docs/tasks.md.`,
		Example: `  stackpilot plugins
  stackpilot plugins --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlugins(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the plugins as a JSON array")
	return cmd
}

// listPlugins finds the plugins, warns about the ignored ones and asks
// each for its description.
func listPlugins(ctx context.Context, f *Factory) ([]plugins.Plugin, *stackops.Stack) {
	st := pluginProject(ctx, f)
	list, ignored := plugins.List(pluginOptions(f, st))
	cs := f.IO.ErrColorScheme()
	for _, ig := range ignored {
		fmt.Fprintf(f.IO.ErrOut, "%s ignored %s: %s\n", cs.WarningIcon(), ig.Path, ig.Reason)
	}
	plugins.LoadMetadata(ctx, list, plugins.MetadataOptions{Environ: pluginEnv(ctx, f, st), Runner: f.runner()})
	return list, st
}

// runPlugins is the plugin list, for the command.
func runPlugins(ctx context.Context, f *Factory, opts *pluginsOptions) error {
	list, st := listPlugins(ctx, f)
	if opts.JSON {
		if list == nil {
			list = []plugins.Plugin{}
		}
		return writeJSON(f.IO.Out, list)
	}
	if len(list) == 0 {
		where := "on PATH"
		if st != nil {
			where += " or in " + st.Dir + "/" + plugins.ProjectDir
		}
		fmt.Fprintf(f.IO.ErrOut, "no plugins — an executable stackpilot-NAME %s runs as stackpilot NAME (see docs/tasks.md)\n", where)
		return nil
	}
	cs := f.IO.ColorScheme()
	t := steps.NewTable(cs, "PLUGIN", "VERSION", "FROM", "DESCRIPTION")
	for _, p := range list {
		version, desc := "", cs.Gray(p.Path)
		if p.Metadata != nil {
			version = p.Metadata.Version
			if p.Metadata.Description != "" {
				desc = p.Metadata.Description
			}
		}
		t.AddRow(p.Name, version, p.Source, desc)
	}
	return t.Render(f.IO.Out)
}

// pluginsMenuEntry is the menu's Plugins job, when there are plugins.
func pluginsMenuEntry(ctx context.Context, f *Factory, st *stackops.Stack) (menuEntry, bool) {
	o := pluginOptions(f, st)
	list, _ := plugins.List(o)
	if len(list) == 0 {
		return menuEntry{}, false
	}
	return menuEntry{Label: fmt.Sprintf("Plugins — run one of %d plugin(s)", len(list)), Run: runPluginsMenu}, true
}

// runPluginsMenu lists the plugins with their descriptions, asks which to
// run and with which arguments, runs it on the terminal and comes back.
func runPluginsMenu(ctx context.Context, f *Factory) error {
	list, st := listPlugins(ctx, f)
	if len(list) == 0 {
		return errors.New("no plugins found")
	}
	labels := make([]string, len(list))
	for i, p := range list {
		labels[i] = p.Name + " — " + p.Path
		if p.Metadata != nil && p.Metadata.Description != "" {
			labels[i] = p.Name + " — " + p.Metadata.Description
		}
	}
	idx, err := f.Prompter.Select("Which plugin?", labels, "")
	if err != nil {
		return err
	}
	p := list[idx]
	if p.Metadata != nil && p.Metadata.Usage != "" {
		fmt.Fprintf(f.IO.ErrOut, "%s\n", f.IO.ErrColorScheme().Gray(p.Metadata.Usage))
	}
	line, err := f.Prompter.Input(fmt.Sprintf("Arguments for stackpilot %s (optional):", p.Name), "")
	if err != nil {
		return err
	}
	args, err := shellwords.Parse(line)
	if err != nil {
		return usageErr("arguments %q: %v", line, err)
	}
	code, err := runPluginChild(ctx, f, p.Path, args, pluginEnv(ctx, f, st))
	if err != nil {
		return err
	}
	equivalent := []string{p.Name}
	for _, a := range args {
		equivalent = append(equivalent, quoteArg(a))
	}
	if code != 0 {
		fmt.Fprintf(f.IO.ErrOut, "%s stackpilot %s exited with status %d\n", f.IO.ErrColorScheme().FailureIcon(), p.Name, code)
	}
	f.Equivalent(equivalent...)
	return nil
}

// runPluginChild runs a plugin from the menu as a child on the terminal
// (the menu comes back after it), with Ctrl-C its to handle: it shares the
// terminal and the process group, so the key reaches it from the kernel,
// and stackpilot waits for it.
func runPluginChild(ctx context.Context, f *Factory, path string, args, env []string) (int, error) {
	sigs := make(chan os.Signal, 4)
	stop := f.Interrupts.Forward(sigs)
	defer stop()
	err := f.runner().Run(ctx, stackops.Cmd{Args: append([]string{path}, args...), Environ: env,
		Stdin: f.IO.In, Stdout: f.IO.Out, Stderr: f.IO.ErrOut, Signals: sigs})
	var ee *stackops.ExitError
	if errors.As(err, &ee) {
		return ee.Code, nil
	}
	return 0, err
}
