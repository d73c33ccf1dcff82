// Package wizard is stackpilot's command layer: the cobra command tree (flag
// mode), the main menu, and one runX function per operation that both the
// menu and the flags call. The two differ only in how missing inputs are
// filled: a flag, an obvious default, a prompt when a terminal allows it, or
// an error naming the flag.
package wizard

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/backup"
	"github.com/stackpilot/stackpilot/stackops/swarm"
	"github.com/stackpilot/stackpilot/steps"
)

// GlobalOptions are the flags every command shares.
type GlobalOptions struct {
	ProjectDir  string
	Files       []string
	ProjectName string
	EnvFiles    []string
	Profiles    []string
	Yes         bool
	NoInput     bool
	NoColor     bool
	Verbose     bool
	Context     string // --context
	Host        string // -H/--host
	Swarm       bool   // --swarm
}

// Factory builds what commands need, once, from the global options.
type Factory struct {
	IO         *steps.IOStreams
	Prompter   steps.Prompter
	Global     GlobalOptions
	Version    string
	Interrupts *Interrupts
	// WorkDir overrides the working directory for stack discovery (tests).
	WorkDir string
	// Environ overrides os.Environ (tests).
	Environ []string
	// Runner overrides the command runner (tests); an ExecRunner otherwise.
	Runner stackops.Runner
	// ReleaseKeys are the minisign public keys self-update trusts (main's).
	ReleaseKeys string
	// BeforeRun, when set, is called once a command is about to run — after
	// its flags parsed, never for --version or --help. main installs the
	// signal handlers there: starting them costs a thread and a goroutine,
	// which answers that print and exit need not pay.
	BeforeRun func()
	// Parallel, when set, gives the process all its processors back (main
	// starts it on one: internal/startup). Called before the commands that
	// compress, hash or parse in bulk.
	Parallel func()

	mu        sync.Mutex
	stack     *stackops.Stack
	stackErr  error
	recovered bool
	located   *stackops.Stack
	// startedOutside is set when the menu found no project where it was
	// started: it then offers to open another one later too.
	startedOutside bool
	// deferUnseal loads the stack with its encrypted .env values sealed
	// until something needs them (stackops.LoadOptions.DeferUnseal): `run
	// TASK` sets it, since most tasks use none.
	deferUnseal bool
	// detectCompose starts detecting Compose as the stack loads
	// (stackops.LoadOptions.DetectCompose): `deploy` sets it.
	detectCompose bool
}

// NewFactory returns a factory on the given streams.
func NewFactory(ios *steps.IOStreams, version string, interrupts *Interrupts) *Factory {
	f := &Factory{IO: ios, Version: version, Interrupts: interrupts}
	if interrupts == nil {
		f.Interrupts = NewInterrupts()
	}
	return f
}

func (f *Factory) parallel() {
	if f.Parallel != nil {
		f.Parallel()
	}
}

// applyGlobal copies the global flags onto the streams after parsing.
func (f *Factory) applyGlobal() {
	if f.Global.NoInput {
		f.IO.NoInput = true
	}
	if f.Global.NoColor {
		f.IO.NoColor = true
	}
	if f.Prompter == nil && f.IO.CanPrompt() {
		f.Prompter = steps.NewSurveyPrompter(f.IO)
	}
}

// CanPrompt says whether a question may be asked.
func (f *Factory) CanPrompt() bool { return f.IO.CanPrompt() && f.Prompter != nil }

func (f *Factory) runner() stackops.Runner {
	if f.Runner != nil {
		return f.Runner
	}
	r := &stackops.ExecRunner{}
	if f.Global.Verbose {
		cs := f.IO.ErrColorScheme()
		r.Trace = func(line string) { fmt.Fprintln(f.IO.ErrOut, cs.Gray("$ "+line)) }
	}
	return r
}

func (f *Factory) loadOptions() stackops.LoadOptions {
	return stackops.LoadOptions{
		ProjectDir:    f.Global.ProjectDir,
		Files:         f.Global.Files,
		ProjectName:   f.Global.ProjectName,
		EnvFiles:      f.Global.EnvFiles,
		Profiles:      f.Global.Profiles,
		Context:       f.Global.Context,
		Host:          f.Global.Host,
		Swarm:         f.Global.Swarm,
		DeferUnseal:   f.deferUnseal,
		DetectCompose: f.detectCompose,
		WorkDir:       f.WorkDir,
		Environ:       f.Environ,
		Runner:        f.runner(),
	}
}

// Stack loads the stack once per command (the menu reloads it for each job,
// so edits to the compose file between jobs are seen). A compose file
// Compose refuses because of a variable's value comes back as the env-file
// line that sets it (explainLoadError).
func (f *Factory) Stack(ctx context.Context) (*stackops.Stack, error) {
	f.mu.Lock()
	loaded := false
	if f.stack == nil && f.stackErr == nil {
		loaded = true
		f.stack, f.stackErr = stackops.Load(ctx, f.loadOptions())
		if f.stack != nil {
			f.located = f.stack
			for _, w := range f.stack.Warnings {
				fmt.Fprintf(f.IO.ErrOut, "%s %s\n", f.IO.ErrColorScheme().WarningIcon(), w)
			}
		}
	}
	st, err := f.stack, f.stackErr
	f.mu.Unlock()
	if loaded && err != nil {
		err = f.explainLoadError(ctx, err)
		f.mu.Lock()
		f.stackErr = err
		f.mu.Unlock()
	}
	return st, err
}

// recoveredStack is Stack for the commands that act on or report the
// running stack (deploy, rollback, start, stop, restart, down, status, the
// backup commands, and the menu when it loads the project): first,
// backup.Recover finishes what a killed backup or restore left undone —
// services it stopped are started again — and its warnings are printed.
// Load does no such work, so env, logs, history, doctor and completion
// never change the stack.
func (f *Factory) recoveredStack(ctx context.Context) (*stackops.Stack, error) {
	st, err := f.Stack(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	done := f.recovered
	f.recovered = true
	f.mu.Unlock()
	if !done {
		warnings, err := backup.Recover(ctx, st, backup.RecoverOptions{SwarmGate: swarm.RecoveryGate(st)})
		if err != nil {
			warnings = append(warnings, "could not check for an interrupted backup or restore: "+err.Error())
		}
		printWarnings(f, warnings)
	}
	return st, nil
}

// forgetStack drops the cached stack so the next job reloads it.
func (f *Factory) forgetStack() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stack != nil {
		f.stack.Close()
	}
	f.stack, f.stackErr, f.recovered = nil, nil, false
}

// Close ends what the command's stack holds open (an ssh connection to a
// remote engine).
func (f *Factory) Close() { f.forgetStack() }

// Confirm returns the consent hook for this command: --yes agrees, a terminal
// asks, otherwise consent is refused naming --yes.
func (f *Factory) Confirm(before func()) stackops.ConfirmFunc {
	var p steps.Prompter
	if f.CanPrompt() {
		p = f.Prompter
	}
	return steps.ConfirmFunc(f.IO, p, f.Global.Yes, before)
}

// Progress returns the renderer for an operation's events on stderr.
func (f *Factory) Progress(jsonOutput bool) *steps.Progress {
	mode := steps.ProgressAuto
	if jsonOutput && !f.IO.IsStderrTTY() {
		mode = steps.ProgressPlain
	}
	return steps.NewProgress(f.IO, mode)
}

// Equivalent prints the flag-mode command a wizard flow just ran, so a
// newcomer learns the scripted form. It is the command as typed where the
// person stands: -C appears when the project is elsewhere (found upward,
// opened from the menu's picker, or given with -C), not when they stand in it.
// args are quoted by the caller.
func (f *Factory) Equivalent(args ...string) {
	cs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "%s %s\n", cs.Gray("Equivalent command:"), cs.Cyan(f.commandLine(f.workDir(), args...)))
}

// hint renders a follow-up command ("check it with: …", "undo with: …")
// that works copy-pasted from any directory: -C with the project directory,
// and every other global flag the stack needs. args are quoted by the caller.
func (f *Factory) hint(args ...string) string { return f.commandLine("", args...) }

// commandLine is the one way commands are rendered for people: stackpilot,
// the global flags that find the stack from the directory from ("" for
// anywhere; stackops.Stack.GlobalArgs), then args.
func (f *Factory) commandLine(from string, args ...string) string {
	parts := []string{"stackpilot"}
	f.mu.Lock()
	st := f.located
	f.mu.Unlock()
	if st != nil {
		parts = append(parts, quoteArgs(st.GlobalArgs(from)...)...)
	} else {
		parts = append(parts, f.globalArgs()...)
	}
	return strings.Join(append(parts, args...), " ")
}

// locate remembers the stack the command acts on, for the commands it
// suggests. Every load (the full one, the env commands' lenient one) calls it.
func (f *Factory) locate(st *stackops.Stack) {
	if st == nil {
		return
	}
	f.mu.Lock()
	f.located = st
	f.mu.Unlock()
}

// workDir is where the person stands (stack discovery starts there).
func (f *Factory) workDir() string {
	if f.WorkDir != "" {
		return f.WorkDir
	}
	return getwd()
}

// globalArgs renders the global flags that were given, for a command when
// no stack was found.
func (f *Factory) globalArgs() []string {
	var out []string
	g := f.Global
	if g.ProjectDir != "" {
		out = append(out, "-C", quoteArg(g.ProjectDir))
	}
	for _, file := range g.Files {
		out = append(out, "-f", quoteArg(file))
	}
	if g.ProjectName != "" {
		out = append(out, "-p", quoteArg(g.ProjectName))
	}
	for _, e := range g.EnvFiles {
		out = append(out, "--env-file", quoteArg(e))
	}
	for _, p := range g.Profiles {
		out = append(out, "--profile", quoteArg(p))
	}
	if g.Context != "" {
		out = append(out, "--context", quoteArg(g.Context))
	}
	if g.Host != "" {
		out = append(out, "-H", quoteArg(g.Host))
	}
	return out
}

func quoteArg(s string) string {
	c := stackops.Cmd{Args: []string{s}}
	return c.String()
}

func getwd() string {
	wd, _ := os.Getwd()
	return wd
}
