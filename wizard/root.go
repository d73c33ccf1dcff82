package wizard

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// NewRootCmd builds the whole command tree. With no arguments on a terminal
// it opens the main menu; without one it prints usage and exits 2.
func NewRootCmd(f *Factory) *cobra.Command { return NewRootCmdFor(f, nil) }

// NewRootCmdFor builds the tree needed to run args (the command line after
// the program name): when args name one of stackpilot's commands, the root
// holds that command alone; otherwise (no command, help, completion, a name
// to suggest against) it holds them all. Building every command with its
// flags is most of what a run costs before it does anything, and each run
// uses one.
func NewRootCmdFor(f *Factory, args []string) *cobra.Command {
	g := &f.Global
	root := &cobra.Command{
		Use:   "stackpilot [command]",
		Short: "Run a Docker Compose stack: status, deploy, logs, backups and .env edits",
		Long: `stackpilot runs a Docker Compose stack for the people who look after it.

Run it with no arguments in a terminal for guided menus. Every menu job is
also a command with flags, for scripts and CI: no prompt without a terminal,
--yes for confirmations, --json for data.

Exit codes: 0 ok, 1 failure, 2 usage error or missing input without a
terminal, 3 stack degraded, 130 cancelled.`,
		Example: `  stackpilot                       # the menu (in a terminal)
  stackpilot status                # what is running, healthy, published
  stackpilot status api --json     # one service, as JSON
  stackpilot doctor                # check docker, compose, the compose file and .env
  stackpilot -C ~/apps/shop status # a stack in another directory`,
		Version:       f.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Global flags go before the command name (as with Compose), so a
		// command may reuse a global's shorthand: logs -f is --follow.
		TraverseChildren: true,
		Args:             cobra.ArbitraryArgs,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if f.BeforeRun != nil {
				f.BeforeRun()
			}
			// The process may start on one processor (main's
			// internal/startup); backups compress and hash, logs parse
			// streams: they get all of them back.
			switch topCommand(cmd) {
			case "backup", "logs":
				f.parallel()
			}
			f.applyGlobal()
			warnIgnoredPlugin(f, topCommand(cmd))
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("unknown command %q — run stackpilot --help for the list", args[0])
			}
			if !f.CanPrompt() {
				fmt.Fprintln(f.IO.ErrOut, "stackpilot: no command given, and the menu needs a terminal (stdin and stdout) — pass a command:")
				fmt.Fprintln(f.IO.ErrOut)
				cmd.SetOut(f.IO.ErrOut)
				_ = cmd.Usage()
				return silentExit(ExitUsage)
			}
			f.parallel() // the menu may run any job
			return runMenu(cmd.Context(), f)
		},
	}
	root.SetOut(f.IO.Out)
	root.SetErr(f.IO.ErrOut)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErr("%v — see %s --help", err, cmd.CommandPath())
	})

	pf := root.PersistentFlags()
	pf.StringVarP(&g.ProjectDir, "project-dir", "C", "", "the project directory (default: where the compose file is found)")
	repeatedFlag(pf, &g.Files, "file", "f", "compose file (repeatable; default: compose.yaml etc. searched upward)")
	pf.StringVarP(&g.ProjectName, "project-name", "p", "", "Compose project name (default: COMPOSE_PROJECT_NAME, the name: key, or the directory)")
	repeatedFlag(pf, &g.EnvFiles, "env-file", "", "env file for interpolation (repeatable, the last wins; default: COMPOSE_ENV_FILES, else the .env files Compose reads)")
	repeatedFlag(pf, &g.Profiles, "profile", "", "Compose profile to enable (repeatable; default: COMPOSE_PROFILES)")
	pf.BoolVarP(&g.Yes, "yes", "y", false, "agree to every confirmation (needed for destructive steps without a terminal)")
	pf.BoolVar(&g.NoInput, "no-input", false, "never prompt, even in a terminal (also STACKPILOT_NO_INPUT=1)")
	pf.BoolVar(&g.NoColor, "no-color", false, "no color (also NO_COLOR=1 or TERM=dumb)")
	pf.BoolVarP(&g.Verbose, "verbose", "v", false, "show the docker commands run")
	pf.StringVar(&g.Context, "context", "", "docker context to act on (default: DOCKER_HOST, DOCKER_CONTEXT, then docker context use's choice)")
	pf.BoolVar(&g.Swarm, "swarm", false, "the stack runs on a Docker Swarm (as x-stackpilot.orchestrator: swarm); the engine must be a manager")
	pf.StringVarP(&g.Host, "host", "H", "", "docker engine to act on: unix://PATH, tcp://HOST:PORT or ssh://[USER@]HOST (default: as the docker CLI)")

	cmds := commandBuilders(f)
	root.InitDefaultHelpFlag()
	root.InitDefaultVersionFlag()
	name := commandNameIn(root, args)
	switch b, ok := cmds[name]; {
	case args != nil && ok:
		root.AddCommand(b())
	case args != nil && name == "" && onlyVersion(args):
		// --version needs no command
	case args != nil && isPluginCandidate(name):
		// Not one of ours: a plugin's, looked up once the global flags
		// (-C, -f) say which project it runs for.
		root.AddCommand(newPluginCmd(f, name))
	default:
		for _, name := range commandOrder {
			root.AddCommand(cmds[name]())
		}
	}
	root.CompletionOptions.HiddenDefaultCmd = false
	return root
}

// commandOrder is the order of the commands in --help.
var commandOrder = []string{"status", "deploy", "rollback", "history", "start", "stop", "restart", "down", "logs", "env", "backup", "tasks", "run", "plugins", "doctor", "self-update"}

// commandBuilders maps each command's name to what builds it (a test checks
// that each builds the command of its name).
func commandBuilders(f *Factory) map[string]func() *cobra.Command {
	return map[string]func() *cobra.Command{
		"status":   func() *cobra.Command { return newStatusCmd(f) },
		"deploy":   func() *cobra.Command { return newDeployCmd(f) },
		"rollback": func() *cobra.Command { return newRollbackCmd(f) },
		"history":  func() *cobra.Command { return newHistoryCmd(f) },
		"start":    func() *cobra.Command { return newLifecycleCmd(f, "start") },
		"stop":     func() *cobra.Command { return newLifecycleCmd(f, "stop") },
		"restart":  func() *cobra.Command { return newLifecycleCmd(f, "restart") },
		"down":     func() *cobra.Command { return newDownCmd(f) },
		"logs":     func() *cobra.Command { return newLogsCmd(f) },
		"env":      func() *cobra.Command { return newEnvCmd(f) },
		"backup":   func() *cobra.Command { return newBackupCmd(f) },
		"tasks":    func() *cobra.Command { return newTasksCmd(f) },
		"run":      func() *cobra.Command { return newRunCmd(f) },
		"plugins":  func() *cobra.Command { return newPluginsCmd(f) },
		"doctor":   func() *cobra.Command { return newDoctorCmd(f) },

		"self-update": func() *cobra.Command { return newSelfUpdateCmd(f) },
	}
}

// commandNameIn returns the command named in args: the first argument that
// is neither a global flag nor a global flag's value ("" when there is none,
// or when a flag it does not know comes first — cobra then reports it).
// Which flags take a value is read from their definitions on root (its
// persistent flags, plus --help and --version), so a new global flag is
// honoured here without a second list to keep in step.
func commandNameIn(root *cobra.Command, args []string) string {
	lookup := func(name string) *pflag.Flag {
		if fl := root.PersistentFlags().Lookup(name); fl != nil {
			return fl
		}
		return root.Flags().Lookup(name)
	}
	shorthand := func(c string) *pflag.Flag {
		if fl := root.PersistentFlags().ShorthandLookup(c); fl != nil {
			return fl
		}
		return root.Flags().ShorthandLookup(c)
	}
	// takesValue reports whether a known flag consumes the next argument.
	takesValue := func(f *pflag.Flag) bool { return f.NoOptDefVal == "" }
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--" || a == "-":
			return ""
		case strings.HasPrefix(a, "--"):
			name, _, hasValue := strings.Cut(a[2:], "=")
			fl := lookup(name)
			if fl == nil {
				return ""
			}
			if takesValue(fl) && !hasValue {
				i++
			}
		case strings.HasPrefix(a, "-"):
			// a cluster of shorthands: -yv, -Cdir, -vC dir
			for j := 1; j < len(a); j++ {
				fl := shorthand(a[j : j+1])
				if fl == nil {
					return ""
				}
				if takesValue(fl) {
					if j == len(a)-1 {
						i++
					}
					break
				}
			}
		default:
			return a
		}
	}
	return ""
}

// topCommand is the name of cmd's top-level command ("" for the root).
func topCommand(cmd *cobra.Command) string {
	for cmd.HasParent() && cmd.Parent().HasParent() {
		cmd = cmd.Parent()
	}
	if !cmd.HasParent() {
		return ""
	}
	return cmd.Name()
}

// onlyVersion reports whether args ask for --version and not for help.
func onlyVersion(args []string) bool {
	version := false
	for _, a := range args {
		switch {
		case a == "--":
			return version
		case a == "-h" || a == "--help" || strings.HasPrefix(a, "--help="):
			return false
		case a == "--version" || strings.HasPrefix(a, "--version="):
			version = true
		}
	}
	return version
}

// completeServices completes service names from the compose model.
func completeServices(f *Factory) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		f.applyGlobal()
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		st, err := f.Stack(ctx)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		taken := map[string]bool{}
		for _, a := range args {
			taken[a] = true
		}
		var out []string
		for _, n := range st.ServiceNames() {
			if !taken[n] && strings.HasPrefix(n, toComplete) {
				out = append(out, n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
