// Command stackpilot runs a Docker Compose stack for the people who look
// after it: guided menus in a terminal, the same operations as flag-mode
// commands for scripts and CI.
//
// main owns the process: signals become context cancellation, the shared
// dependencies are built once, and errors become exit codes.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/stackpilot/stackpilot/internal/startup"
	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/steps"
	"github.com/stackpilot/stackpilot/wizard"
)

// version is set at build time with -ldflags "-X main.version=…"; otherwise
// it comes from the module's build information.
var version = ""

// releaseKeys are the minisign public keys whose signature self-update
// accepts on a release's SHA256SUMS, separated by commas: the project's
// release key (README, docs/stackpilot.pub), and during a key rotation the
// next one too. Tests build binaries that trust a test key instead with
// -ldflags "-X main.releaseKeys=…" (scripts/release.sh's STACKPILOT_RELEASE_KEYS).
var releaseKeys = "RWQmJRPb/M40q84bH3fG+FdiI/1G3+tMZK0T4f9caDZ3UleJ/iv/6FGM"

func main() {
	os.Exit(run())
}

// gcPercent is the GOGC a command runs with until it calls Parallel.
const gcPercent = 400

// roomyGC lets the heap grow to five times what is live before the garbage
// collector runs (GOGC=400), unless GOGC is set: the first collection then
// comes at 16 MB instead of 4 MB, which a command that lives a fraction of
// a second rarely reaches. A deploy of a stack whose .env holds 20
// encrypted values allocated just past 4 MB (the decryption, the longer
// .env parsed) and paid for a collection — its stop-the-world phases and
// helper threads, a few milliseconds at the end of the deploy — that the
// same deploy in plain text did not. The returned func restores the
// setting; Parallel calls it, since the commands that call Parallel are
// the ones that allocate in bulk. (Here rather than in internal/startup:
// importing runtime/debug there would move that package's init ~90 places
// later.)
func roomyGC() (restore func()) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return func() {}
	}
	before := debug.SetGCPercent(gcPercent)
	return func() { debug.SetGCPercent(before) }
}

func run() int {
	ios := steps.System()
	interrupts := wizard.NewInterrupts()

	ctx, done := interrupts.Job(context.Background())
	defer done()

	// compose-go prints its warnings through logrus' global logger; route
	// them into the loaded stack's warnings (shown by the wizard) instead.
	// Process-wide, so here, once, and never inside stackops.Load.
	stackops.CollectComposeWarnings()

	restoreGC := roomyGC()
	f := wizard.NewFactory(ios, buildVersion(), interrupts)
	f.Parallel = func() {
		restoreGC()
		startup.Parallel()
	}
	f.ReleaseKeys = releaseKeys
	// Signals are routed only once a command runs: until then the default
	// action (exit) is right, and --version or --help do not pay for the
	// handler's goroutine and thread.
	var sigs chan os.Signal
	f.BeforeRun = func() {
		if sigs != nil {
			return
		}
		sigs = make(chan os.Signal, 4)
		signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
		go func() {
			for sig := range sigs {
				// The terminal echoed "^C" where the cursor was: end that
				// line so what follows does not start after it.
				if sig == os.Interrupt && ios.IsStdinTTY() && ios.IsStderrTTY() {
					fmt.Fprintln(ios.ErrOut)
				}
				if !interrupts.Signal(sig) {
					os.Exit(wizard.ExitCancelled)
				}
			}
		}()
	}
	defer func() {
		if sigs != nil {
			signal.Stop(sigs)
		}
	}()
	cmd := wizard.NewRootCmdFor(f, os.Args[1:])
	err := cmd.ExecuteContext(ctx)
	f.Close()
	if msg := wizard.Message(err); msg != "" {
		cs := ios.ErrColorScheme()
		fmt.Fprintf(ios.ErrOut, "%s %s\n", cs.Red("error:"), msg)
	}
	return wizard.ExitCode(err)
}

func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev != "" && len(rev) >= 12 {
		v += " (" + rev[:12] + dirty + ")"
	}
	return v
}
