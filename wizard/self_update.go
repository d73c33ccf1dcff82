package wizard

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/selfupdate"
	"github.com/stackpilot/stackpilot/steps"
)

// ExitUpdateAvailable is self-update --check's answer when a newer release
// exists (0 means up to date, 1 the check failed), documented in the README.
const ExitUpdateAvailable = 10

type selfUpdateOptions struct {
	Check    bool
	Rollback bool
	Version  string
	JSON     bool
	Timeout  time.Duration
	// refreshNotice is the hidden mode the update notice starts in the
	// background: check, record the answer in the cache, print nothing.
	refreshNotice bool
	menu          bool
}

func newSelfUpdateCmd(f *Factory) *cobra.Command {
	opts := &selfUpdateOptions{}
	cmd := &cobra.Command{
		Use:   "self-update",
		Short: "Update stackpilot to the newest release, verified before it replaces anything",
		Long: `Download the newest stackpilot release for this OS and architecture and
replace this binary with it. Before anything changes, the release's
SHA256SUMS must carry a valid minisign signature by a key compiled into this
binary, the signature must name the version being installed, the binary must
match its SHA-256, and the new binary must run and report that version. The
binary is then renamed into place atomically; the previous one is kept
beside it (hidden, .stackpilot.previous) for --rollback.

Releases come from ` + selfupdate.DefaultBaseURL + `,
or from STACKPILOT_UPDATE_URL (a mirror with the same layout).

A downgrade needs --version. Without a terminal the update needs --yes. A
binary installed by a package manager (apt/dpkg, rpm, Homebrew) is refused,
with the command that updates it.

--check changes nothing. Exit status: 0 up to date, 10 a newer release is
available, 1 the check failed.`,
		Example: `  stackpilot self-update --check          # is there a newer release? (exit 10 if so)
  stackpilot self-update                  # show what changed, ask, update
  stackpilot self-update --yes            # in a script
  stackpilot self-update --version 1.4.2  # exactly this release, also older
  stackpilot self-update --rollback       # back to the binary before the last update
  STACKPILOT_UPDATE_URL=https://mirror.example/stackpilot/releases stackpilot self-update`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSelfUpdate(cmd.Context(), f, opts)
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&opts.Check, "check", false, "only say whether a newer release exists (exit 10 when one does)")
	fl.StringVar(&opts.Version, "version", "", "install this release (e.g. 1.4.2), older or newer")
	fl.BoolVar(&opts.Rollback, "rollback", false, "put back the binary the last update replaced")
	fl.BoolVar(&opts.JSON, "json", false, "print the result as JSON")
	fl.DurationVar(&opts.Timeout, "timeout", selfupdate.DefaultIdleTimeout, "give up when the release server sends nothing for this long")
	fl.BoolVar(&opts.refreshNotice, "refresh-notice", false, "")
	_ = fl.MarkHidden("refresh-notice")
	return cmd
}

// runSelfUpdate is the self-update job, for the menu and the command alike.
func runSelfUpdate(ctx context.Context, f *Factory, opts *selfUpdateOptions) error {
	switch {
	case opts.Rollback && (opts.Check || opts.Version != ""):
		return usageErr("--rollback takes neither --check nor --version")
	case opts.Check && opts.Version != "":
		return usageErr("--check looks for the newest release; --version installs a given one — pass one of them")
	case opts.Timeout <= 0:
		return usageErr("--timeout must be positive")
	}
	if opts.refreshNotice {
		return refreshNotice(ctx, f)
	}
	if opts.menu {
		defer f.Equivalent("self-update")
	}
	if opts.Rollback {
		return runSelfRollback(ctx, f, opts)
	}
	src, err := updateSource(f, opts.Timeout)
	if err != nil {
		return err
	}
	if opts.Check {
		return runSelfUpdateCheck(ctx, f, opts, src)
	}
	// Without a terminal, refuse before any download.
	if !f.Global.Yes && !f.CanPrompt() {
		return &exitError{code: ExitUsage, err: fmt.Errorf("self-update replaces this binary: %w (nothing was changed)", stackops.ErrConfirmationRequired)}
	}
	prog := f.Progress(opts.JSON)
	res, err := selfupdate.Update(ctx, selfupdate.UpdateOptions{
		Source:  src,
		Current: f.Version,
		Version: opts.Version,
		Confirm: confirmWith(f, prog),
		Sink:    prog,
	})
	prog.Close()
	if err != nil {
		return selfUpdateError(f, err)
	}
	if opts.JSON {
		return writeJSON(f.IO.Out, res)
	}
	cs := f.IO.ColorScheme()
	if !res.Updated {
		fmt.Fprintf(f.IO.Out, "%s stackpilot %s is already installed at %s; nothing to do\n", cs.SuccessIcon(), res.To, res.Path)
		return nil
	}
	verb := "Updated"
	if res.Downgrade {
		verb = "Downgraded"
	}
	fmt.Fprintf(f.IO.Out, "%s %s %s from %s to %s\n", cs.SuccessIcon(), verb, res.Path, displayVersion(res.From), res.To)
	ecs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "%s the previous binary is kept as %s — stackpilot self-update --rollback puts it back\n", ecs.Gray("·"), res.PreviousPath)
	if opts.menu {
		fmt.Fprintf(f.IO.ErrOut, "%s this menu still runs %s: quit and start stackpilot again to use %s\n", ecs.WarningIcon(), displayVersion(res.From), res.To)
	}
	return nil
}

func runSelfUpdateCheck(ctx context.Context, f *Factory, opts *selfUpdateOptions, src *selfupdate.Source) error {
	stop := func() {}
	if !opts.JSON {
		stop = steps.Spin(f.IO, "Looking for a newer stackpilot release…")
	}
	res, err := selfupdate.Check(ctx, selfupdate.CheckOptions{Source: src, Current: f.Version})
	stop()
	if err != nil {
		return selfUpdateError(f, err)
	}
	rememberCheck(res)
	if opts.JSON {
		if err := writeJSON(f.IO.Out, res); err != nil {
			return err
		}
	} else {
		cs := f.IO.ColorScheme()
		switch {
		case res.Asset == "":
			fmt.Fprintf(f.IO.Out, "%s the newest release, %s, has no binary for this platform (%s) — go install github.com/stackpilot/stackpilot@v%s builds it\n",
				cs.WarningIcon(), res.Latest, strings.TrimPrefix(selfupdate.HostAsset(), "stackpilot_"), res.Latest)
		case res.UpdateAvailable:
			fmt.Fprintf(f.IO.Out, "%s stackpilot %s is available (installed: %s), released %s\n", cs.Yellow("↑"), res.Latest, displayVersion(res.Current), res.ReleasedAt.Local().Format("2006-01-02"))
			if head := selfupdate.NotesHead(res.Notes, 6); head != "" {
				for _, l := range strings.Split(head, "\n") {
					fmt.Fprintf(f.IO.Out, "    %s\n", l)
				}
			}
			fmt.Fprintf(f.IO.ErrOut, "Install it: %s\n", f.IO.ErrColorScheme().Cyan("stackpilot self-update"))
		default:
			fmt.Fprintf(f.IO.Out, "%s stackpilot %s is up to date (newest release: %s)\n", cs.SuccessIcon(), displayVersion(res.Current), res.Latest)
		}
	}
	if res.UpdateAvailable {
		return silentExit(ExitUpdateAvailable)
	}
	return nil
}

func runSelfRollback(ctx context.Context, f *Factory, opts *selfUpdateOptions) error {
	if !f.Global.Yes && !f.CanPrompt() {
		return &exitError{code: ExitUsage, err: fmt.Errorf("rollback replaces this binary: %w (nothing was changed)", stackops.ErrConfirmationRequired)}
	}
	res, err := selfupdate.Rollback(ctx, selfupdate.RollbackOptions{Current: f.Version, Confirm: f.Confirm(nil)})
	if err != nil {
		return selfUpdateError(f, err)
	}
	if opts.JSON {
		return writeJSON(f.IO.Out, res)
	}
	fmt.Fprintf(f.IO.Out, "%s Rolled back %s from %s to %s\n", f.IO.ColorScheme().SuccessIcon(), res.Path, displayVersion(res.From), res.To)
	fmt.Fprintf(f.IO.ErrOut, "%s %s is kept as %s — --rollback again undoes this\n", f.IO.ErrColorScheme().Gray("·"), displayVersion(res.From), res.PreviousPath)
	return nil
}

// updateSource is where releases come from: STACKPILOT_UPDATE_URL or the
// project's release page, trusted by the keys compiled into this binary.
func updateSource(f *Factory, idle time.Duration) (*selfupdate.Source, error) {
	keys, err := selfupdate.ParseKeys(f.ReleaseKeys)
	if err != nil {
		return nil, fmt.Errorf("this stackpilot was built without a usable release key (%v) — install a release binary, or build with go install", err)
	}
	return &selfupdate.Source{BaseURL: os.Getenv("STACKPILOT_UPDATE_URL"), TrustedKeys: keys, IdleTimeout: idle}, nil
}

// selfUpdateError adds what to do to the operations' errors.
func selfUpdateError(f *Factory, err error) error {
	var de *selfupdate.DowngradeError
	switch {
	case errors.Is(err, stackops.ErrNotConfirmed):
		fmt.Fprintln(f.IO.ErrOut, "Nothing was changed.")
		return silentExit(ExitFailure)
	case errors.As(err, &de):
		return fmt.Errorf("%w — to install it anyway: stackpilot self-update --version %s", err, de.Latest)
	case errors.Is(err, selfupdate.ErrUnreachable), errors.Is(err, selfupdate.ErrTimeout):
		return fmt.Errorf("%w — nothing was changed; check the network (or set STACKPILOT_UPDATE_URL to a mirror; --timeout waits longer)", err)
	case errors.Is(err, selfupdate.ErrBadSignature), errors.Is(err, selfupdate.ErrSignatureMissing),
		errors.Is(err, selfupdate.ErrChecksumMismatch), errors.Is(err, selfupdate.ErrTruncated), errors.Is(err, selfupdate.ErrTooLarge),
		errors.Is(err, selfupdate.ErrBadChecksums):
		return fmt.Errorf("%w — nothing was changed", err)
	}
	return err
}

// displayVersion names a version for a sentence ("dev" stays as it is).
func displayVersion(v string) string {
	if v == "" {
		return "an unknown version"
	}
	if pv, ok := selfupdate.ParseVersion(v); ok {
		return pv.String()
	}
	return v
}
