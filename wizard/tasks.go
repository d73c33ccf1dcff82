package wizard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/mattn/go-shellwords"
	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/tasks"
	"github.com/stackpilot/stackpilot/steps"
)

type tasksOptions struct {
	JSON bool
}

func newTasksCmd(f *Factory) *cobra.Command {
	opts := &tasksOptions{}
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List the stack's tasks: one-off commands declared in x-stackpilot.tasks",
		Long: `List the tasks declared in the compose file's x-stackpilot.tasks: where each
runs (inside a service's running container, or on the host in the project
directory), whether it asks before it runs, and what it does. Run one with
stackpilot run TASK. See docs/tasks.md.`,
		Example: `  stackpilot tasks
  stackpilot tasks --json | jq -r '.[].name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTasks(cmd.Context(), f, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print the tasks as a JSON array")
	return cmd
}

// runTasks is the task list, for the command.
func runTasks(ctx context.Context, f *Factory, opts *tasksOptions) error {
	st, err := f.Stack(ctx)
	if err != nil {
		return err
	}
	list, err := tasks.List(st)
	if err != nil {
		return err
	}
	if opts.JSON {
		return writeJSON(f.IO.Out, list)
	}
	if len(list) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "no tasks declared for %s — add them under %s.%s in %s (see docs/tasks.md)\n",
			st.Name, stackops.ConfigExtension, tasks.Section, st.ComposeFiles[0])
		return nil
	}
	cs := f.IO.ColorScheme()
	t := steps.NewTable(cs, "TASK", "RUNS IN", "ASKS", "DESCRIPTION")
	for _, task := range list {
		asks := ""
		if task.Confirm {
			asks = cs.Yellow("yes")
		}
		t.AddRow(task.Name, task.Where(), asks, task.Description)
	}
	return t.Render(f.IO.Out)
}

type runOptions struct {
	Task  string
	Args  []string
	NoTTY bool
	// wizard: the menu ran it (it prints the equivalent command and the
	// task's exit status, and comes back to the menu).
	wizard bool
}

func newRunCmd(f *Factory) *cobra.Command {
	opts := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run TASK [-- ARGS…]",
		Short: "Run one of the stack's tasks, in its service's container or on the host",
		Long: `Run a task declared in x-stackpilot.tasks. Extra arguments are appended to its
command (everything after TASK goes to the task; "--" before them is optional).

Its output streams as it comes and its exit code becomes stackpilot's. When
stdin and stdout are a terminal, a container task gets a TTY (an interactive
psql works; -T turns that off), a host task shares the terminal, and Ctrl-C
goes to the task. Without a TTY, the
first Ctrl-C (or SIGTERM) is forwarded to the task and a second stops waiting
for it. A task marked confirm: true asks first; without a terminal it needs
--yes. See docs/tasks.md.`,
		Example: `  stackpilot tasks                        # what there is
  stackpilot run db-stats                # inside db's running container
  stackpilot run db-stats > stats.txt    # stdout is a file: no TTY, the task's bytes as they are
  stackpilot run add-note -- "hello"     # extra arguments
  stackpilot run --yes add-note -- hi    # a confirm task in a script
  stackpilot run -T shell                # no TTY even on a terminal`,
		Args: cobra.ArbitraryArgs,
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveDefault
			}
			return completeTasks(cmd, f, toComplete), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				opts.Task, opts.Args = args[0], args[1:]
				if len(opts.Args) > 0 && opts.Args[0] == "--" {
					opts.Args = opts.Args[1:]
				}
				// A task that uses no encrypted value runs without
				// decrypting any (tasks.Prepare decrypts for one that
				// does). Without a name, the tasks are listed to choose
				// from, as they read with the values.
				f.deferUnseal = true
			}
			return runRun(cmd.Context(), f, opts)
		},
	}
	// Everything after TASK is the task's, flags included, as with docker exec.
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().BoolVarP(&opts.NoTTY, "no-tty", "T", false, "no TTY for a container task, even on a terminal")
	return cmd
}

func completeTasks(cmd *cobra.Command, f *Factory, prefix string) []string {
	f.applyGlobal()
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	st, err := f.Stack(ctx)
	if err != nil {
		return nil
	}
	list, _ := tasks.List(st)
	var out []string
	for _, t := range list {
		if strings.HasPrefix(t.Name, prefix) {
			out = append(out, t.Name+"\t"+t.Description)
		}
	}
	return out
}

// runRun runs one task, for the menu and the command alike.
func runRun(ctx context.Context, f *Factory, opts *runOptions) error {
	st, err := f.recoveredStack(ctx)
	if err != nil {
		return err
	}
	if on, err := onSwarm(st); err != nil || on {
		return orSwarm(err, func() error {
			return swarmRefusal(st, "run", "a task runs in a service's container on one engine; on a Swarm, `docker exec` into the task's container on its node (`stackpilot status` names the node)")
		})
	}
	// A task chosen from a list ends with the command that runs it directly.
	equivalent := opts.wizard || opts.Task == ""
	if opts.Task == "" {
		if !f.CanPrompt() {
			list, lerr := tasks.List(st)
			if lerr != nil {
				return lerr
			}
			return missingInput(fmt.Sprintf("which task to run (%s)", taskNames(list)), "TASK")
		}
		if err := chooseTask(f, st, opts); err != nil {
			return err
		}
	}
	p, err := tasks.Prepare(ctx, st, tasks.PrepareOptions{Name: opts.Task, Args: opts.Args, Confirm: f.Confirm(nil)})
	switch {
	case errors.Is(err, tasks.ErrUnknownTask):
		return &exitError{code: ExitUsage, err: err}
	case errors.Is(err, stackops.ErrNotConfirmed):
		fmt.Fprintf(f.IO.ErrOut, "%s task %s did not run\n", f.IO.ErrColorScheme().Gray("—"), opts.Task)
		if opts.wizard {
			return nil
		}
		return silentExit(ExitFailure)
	case err != nil:
		return err
	}
	res, err := runPrepared(ctx, f, p, opts)
	if equivalent {
		args := []string{"run", opts.Task}
		if p.Task.Confirm {
			args = []string{"--yes", "run", opts.Task}
		}
		if len(opts.Args) > 0 {
			args = append(args, "--")
			for _, a := range opts.Args {
				args = append(args, quoteArg(a))
			}
		}
		defer f.Equivalent(args...)
		if opts.wizard && res != nil && res.ExitCode != 0 {
			cs := f.IO.ErrColorScheme()
			fmt.Fprintf(f.IO.ErrOut, "%s task %s exited with status %d\n", cs.FailureIcon(), opts.Task, res.ExitCode)
			return nil
		}
	}
	var de *tasks.DetachedError
	switch {
	case errors.As(err, &de):
		code := ExitCancelled
		if de.Signal == syscall.SIGTERM {
			code = ExitTerm
		}
		return &exitError{code: code, err: err}
	case err != nil:
		return err
	case res.ExitCode != 0:
		// The task said why; its code is ours, as with docker exec.
		return silentExit(res.ExitCode)
	}
	return nil
}

// isDevNull reports whether r is /dev/null (a script's `< /dev/null`, a
// service manager's stdin).
func isDevNull(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err == nil && os.SameFile(fi, null)
}

// runPrepared connects the task to this process's terminal or streams and
// runs it, with Ctrl-C and SIGTERM forwarded to it rather than stopping
// stackpilot.
func runPrepared(ctx context.Context, f *Factory, p *tasks.Prepared, opts *runOptions) (*tasks.Result, error) {
	ro := tasks.RunOptions{Stdin: f.IO.In, Stdout: f.IO.Out, Stderr: f.IO.ErrOut}
	raw := false
	if p.Task.Host {
		// It shares the terminal, if there is one, and stackpilot's process group.
		ro.TTY = f.IO.IsStdinTTY()
	} else {
		ro.TTY = f.IO.IsStdinTTY() && f.IO.IsStdoutTTY() && !opts.NoTTY
		keys := f.IO.KeyReader()
		defer keys.Close()
		ro.Stdin = keys
		if !ro.TTY && isDevNull(f.IO.In) {
			// Nothing to forward: the exec gets no stdin (its process
			// reads end of file, as from ours), which the engine starts
			// and ends a few milliseconds faster than an attached one.
			ro.Stdin = nil
		}
		if ro.TTY {
			w, h := f.IO.TerminalSize()
			ro.Size = tasks.TermSize{Width: uint(w), Height: uint(h)}
			resize := make(chan tasks.TermSize, 1)
			stopSizes := f.IO.WatchSize(func(w, h int) {
				select { // the newest size replaces one not yet applied
				case <-resize:
				default:
				}
				resize <- tasks.TermSize{Width: uint(w), Height: uint(h)}
			})
			defer stopSizes()
			ro.Resize = resize
			restore, err := f.IO.MakeRaw()
			if err != nil {
				return nil, fmt.Errorf("terminal: %w", err)
			}
			defer restore()
			raw = true
		}
	}
	sigs := make(chan os.Signal, 4)
	stop := f.Interrupts.Forward(sigs)
	defer stop()
	ro.Signals = sigs
	ro.Sink = &runNotices{f: f, raw: raw}
	return p.Run(ctx, ro)
}

// runNotices prints what happened to a forwarded signal, and with -v where
// a container task runs. In raw mode a line needs its carriage return.
type runNotices struct {
	stackops.NopSink
	f   *Factory
	raw bool
	mu  sync.Mutex
}

func (n *runNotices) Event(e stackops.Event) {
	if e.Phase == "exec" && !n.f.Global.Verbose {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	eol := "\n"
	if n.raw {
		eol = "\r\n"
	}
	fmt.Fprintf(n.f.IO.ErrOut, "%s %s%s", n.f.IO.ErrColorScheme().Gray("stackpilot:"), e.Message, eol)
}

// chooseTask asks which task to run and with which extra arguments.
func chooseTask(f *Factory, st *stackops.Stack, opts *runOptions) error {
	list, err := tasks.List(st)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("no tasks are declared for %s: add them under %s.%s in the compose file (see docs/tasks.md)", st.Name, stackops.ConfigExtension, tasks.Section)
	}
	labels := make([]string, len(list))
	for i, t := range list {
		labels[i] = taskLabel(t)
	}
	idx, err := f.Prompter.Select("Which task?", labels, "")
	if err != nil {
		return err
	}
	t := list[idx]
	opts.Task = t.Name
	line, err := f.Prompter.Input(fmt.Sprintf("Extra arguments (optional, after %s):", stackops.Cmd{Args: t.Command}.String()), "")
	if err != nil {
		return err
	}
	args, err := shellwords.Parse(line)
	if err != nil {
		return usageErr("extra arguments %q: %v", line, err)
	}
	opts.Args = args
	return nil
}

func taskLabel(t tasks.Task) string {
	label := t.Name
	if t.Description != "" {
		label += " — " + t.Description
	}
	label += " (" + t.Where() + ")"
	if t.Confirm {
		label += " · asks first"
	}
	return label
}

func taskNames(list []tasks.Task) string {
	if len(list) == 0 {
		return "no tasks are declared"
	}
	names := make([]string, len(list))
	for i, t := range list {
		names[i] = t.Name
	}
	return "tasks: " + strings.Join(names, ", ")
}

// tasksMenuEntry is the menu's Tasks job, when the stack declares tasks.
func tasksMenuEntry(ctx context.Context, f *Factory) (menuEntry, bool) {
	st, err := f.Stack(ctx)
	if err != nil {
		return menuEntry{}, false
	}
	list, err := tasks.List(st)
	if err != nil || len(list) == 0 {
		return menuEntry{}, false
	}
	return menuEntry{
		Label: fmt.Sprintf("Tasks — run one of the stack's %d task(s)", len(list)),
		Run: func(ctx context.Context, f *Factory) error {
			return runRun(ctx, f, &runOptions{wizard: true})
		},
	}, true
}
