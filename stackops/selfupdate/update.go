package selfupdate

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
)

const op = "self-update"

// UpdateOptions says what Update installs and where.
type UpdateOptions struct {
	Source *Source
	// Current is the running binary's version.
	Current string
	// Version installs exactly this release, older or newer; empty means the
	// newest, which must not be older than Current.
	Version string
	// Executable is the binary to replace: this process's own (symlinks
	// resolved) when empty.
	Executable string
	// Confirm is asked once the release is verified and before anything is
	// downloaded or changed (nil refuses, as without a terminal).
	Confirm stackops.ConfirmFunc
	// Runner runs the package-manager queries and the new binary's
	// --version check (an ExecRunner when nil).
	Runner stackops.Runner
	Sink   stackops.EventSink
	// GOOS and GOARCH choose the platform (runtime's when empty).
	GOOS, GOARCH string
}

// DowngradeError is ErrDowngrade: the newest release is older than the
// running binary (a release withdrawn, a stale mirror, or an old signed
// release served again). Installing it takes naming its version.
type DowngradeError struct {
	Latest, Current, URL string
}

func (e *DowngradeError) Error() string {
	return fmt.Sprintf("refusing to downgrade: the newest release at %s is %s, older than this stackpilot %s", e.URL, e.Latest, e.Current)
}

// Is matches ErrDowngrade.
func (e *DowngradeError) Is(target error) bool { return target == ErrDowngrade }

// UpdateResult says what Update did. JSON field names are stable.
type UpdateResult struct {
	Path         string `json:"path"`
	PreviousPath string `json:"previous_path,omitempty"`
	From         string `json:"from_version"`
	To           string `json:"to_version"`
	// Updated is false when the binary already was the release asked for.
	Updated   bool   `json:"updated"`
	Downgrade bool   `json:"downgrade,omitempty"`
	Notes     string `json:"notes,omitempty"`
}

// Update replaces the binary with a verified release. In order, each step
// able to refuse before anything changes: the binary is not a package
// manager's; the release's signature and version; a newer release (or the
// version asked for); a binary for this platform; a writable directory;
// consent; the download's SHA-256; the new binary runs and says it is that
// version. Only then is the old binary kept as the previous one and the new
// one renamed over it.
func Update(ctx context.Context, opts UpdateOptions) (res *UpdateResult, err error) {
	sink := opts.Sink
	if sink == nil {
		sink = stackops.NopSink{}
	}
	runner := opts.Runner
	if runner == nil {
		runner = &stackops.ExecRunner{}
	}
	sink.Start(op)
	defer func() { sink.Done(op, err) }()
	event := func(phase, msg string) {
		sink.Event(stackops.Event{Op: op, Phase: phase, Message: msg, Time: time.Now()})
	}

	files, err := locate(ctx, runner, opts.Executable)
	if err != nil {
		return nil, err
	}
	exe := files.exe

	event("checking", "verifying the release's signature")
	var rel *Release
	if opts.Version != "" {
		rel, err = opts.Source.Release(ctx, opts.Version)
	} else {
		rel, err = opts.Source.Latest(ctx)
	}
	if err != nil {
		return nil, err
	}
	res = &UpdateResult{Path: exe, From: opts.Current, To: rel.Version, Notes: rel.Notes}
	cur, curOK := ParseVersion(opts.Current)
	if curOK {
		relV, _ := ParseVersion(rel.Version)
		switch c := relV.Compare(cur); {
		case c == 0:
			return res, nil
		case c < 0 && opts.Version == "":
			return nil, &DowngradeError{Latest: rel.Version, Current: cur.String(), URL: opts.Source.base()}
		case c < 0:
			res.Downgrade = true
		}
	}

	goos, goarch := orDefault(opts.GOOS, runtime.GOOS), orDefault(opts.GOARCH, runtime.GOARCH)
	asset := AssetName(goos, goarch)
	if !rel.HasAsset(asset) {
		return nil, fmt.Errorf("%w: release %s has no %s (it has binaries for %s) — build from source: go install github.com/stackpilot/stackpilot@v%s",
			ErrNoAsset, rel.Version, asset, strings.Join(rel.Platforms(), ", "), rel.Version)
	}
	if err := checkWritable(files.dir); err != nil {
		return nil, err
	}

	confirm := opts.Confirm
	if confirm == nil {
		confirm = stackops.NeverConfirm
	}
	ok, err := confirm(ctx, updateConfirmation(res, files, rel))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, stackops.ErrNotConfirmed
	}

	event("downloading", fmt.Sprintf("%s %s", asset, rel.Version))
	data, err := opts.Source.Download(ctx, rel, asset, maxBinarySize)
	if err != nil {
		return nil, err
	}
	event("installing", fmt.Sprintf("%s (%s, SHA-256 verified)", exe, humanSize(len(data))))
	if err := install(ctx, runner, files, data, rel.Version); err != nil {
		return nil, err
	}
	res.Updated = true
	res.PreviousPath = files.previous()
	sink.Event(stackops.Event{Op: op, Phase: "done", Message: fmt.Sprintf("%s is now %s", exe, rel.Version), Final: true, Time: time.Now()})
	return res, nil
}

func updateConfirmation(res *UpdateResult, files binaryFiles, rel *Release) stackops.Confirmation {
	from := res.From
	if from == "" {
		from = "this version"
	}
	verb := "Update"
	if res.Downgrade {
		verb = "Downgrade"
	}
	details := []string{
		fmt.Sprintf("replace %s (%s) with %s, released %s", files.exe, from, rel.Version, rel.SignedAt.Local().Format("2006-01-02")),
		fmt.Sprintf("keep the current binary as %s (stackpilot self-update --rollback)", files.previous()),
	}
	if head := NotesHead(rel.Notes, 6); head != "" {
		details = append(details, "", "Release notes:")
		for _, l := range strings.Split(head, "\n") {
			details = append(details, "  "+l)
		}
	}
	return stackops.Confirmation{
		Action:  fmt.Sprintf("%s stackpilot %s → %s", verb, from, rel.Version),
		Prompt:  fmt.Sprintf("%s stackpilot to %s?", verb, rel.Version),
		Details: details,
	}
}

// install puts verified bytes in place of the binary, the directory locked
// against a concurrent update: the new file is written and synced beside
// the binary, run once to prove it works here and is the version expected,
// then the binary is kept as the previous one and the new file renamed over
// it.
func install(ctx context.Context, runner stackops.Runner, files binaryFiles, data []byte, version string) error {
	unlock, err := lockDir(files.dir)
	if err != nil {
		return notWritable(files.dir, err)
	}
	defer unlock()
	if err := files.tidy(); err != nil {
		return err
	}
	st, err := os.Stat(files.exe)
	if err != nil {
		return err
	}
	if err := files.writeNew(data, st); err != nil {
		return err
	}
	got, err := BinaryVersion(ctx, runner, files.newTemp())
	if err == nil && got != version {
		err = fmt.Errorf("%w: it reports version %q, but the release is %s", ErrBrokenBinary, got, version)
	}
	if err != nil {
		os.Remove(files.newTemp())
		return err
	}
	if err := files.keepPrevious(); err != nil {
		os.Remove(files.newTemp())
		return fmt.Errorf("keep the current binary as %s: %w", files.previous(), err)
	}
	return files.swapIn()
}

// BinaryVersion runs path --version and returns the version it reports
// (normalised, without a leading "v"); a binary that does not run, or says
// something else, is ErrBrokenBinary.
func BinaryVersion(ctx context.Context, runner stackops.Runner, path string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err := runner.Run(ctx, stackops.Cmd{Args: []string{path, "--version"}, Dir: filepath.Dir(path), Env: []string{"STACKPILOT_NO_UPDATE_NOTIFIER=1"}, Stdout: &out, Stderr: &errOut})
	if err != nil {
		return "", fmt.Errorf("%w: %s --version: %v %s", ErrBrokenBinary, path, err, strings.TrimSpace(errOut.String()))
	}
	// cobra's template: "stackpilot version 1.2.3".
	_, v, ok := strings.Cut(strings.TrimSpace(out.String()), " version ")
	if !ok || v == "" {
		return "", fmt.Errorf("%w: %s --version printed %q", ErrBrokenBinary, path, truncateForError(out.Bytes()))
	}
	if pv, ok := ParseVersion(v); ok {
		return pv.String(), nil
	}
	return v, nil
}

// locate finds the binary to replace and refuses one a package manager owns.
func locate(ctx context.Context, runner stackops.Runner, path string) (binaryFiles, error) {
	exe, err := Executable(path)
	if err != nil {
		return binaryFiles{}, err
	}
	if err := managedBy(ctx, runner, exe); err != nil {
		return binaryFiles{}, err
	}
	return filesFor(exe), nil
}

// Executable resolves the binary to replace: path, or this process's, with
// symlinks followed (a link in /usr/local/bin keeps pointing at the file
// that is replaced).
func Executable(path string) (string, error) {
	if path == "" {
		p, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find the running binary: %w", err)
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("find the running binary: %w", err)
	}
	return resolved, nil
}

// NotesHead is the first n non-empty lines of release notes, without
// escape sequences or other control characters: notes are shown on a
// terminal, and text from a server reaches one only as plain text.
func NotesHead(notes string, n int) string {
	var out []string
	for _, l := range strings.Split(stripControl(notes), "\n") {
		l = strings.TrimRight(l, " \t")
		if strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, l)
		if len(out) == n {
			break
		}
	}
	return strings.Join(out, "\n")
}

// stripControl drops ANSI escape sequences (CSI "ESC [ … final", OSC
// "ESC ] … BEL or ESC \\", and two-character ones) and every other control
// character but newline and tab.
func stripControl(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			for i += 2; i < len(rs) && !(rs[i] >= 0x40 && rs[i] <= 0x7e); i++ {
			}
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == ']':
			for i += 2; i < len(rs) && rs[i] != 0x07 && !(rs[i] == 0x1b && i+1 < len(rs) && rs[i+1] == '\\'); i++ {
			}
			if i < len(rs) && rs[i] == 0x1b {
				i++
			}
		case r == 0x1b:
			i++
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func humanSize(n int) string {
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
