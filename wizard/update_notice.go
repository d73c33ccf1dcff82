package wizard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/stackpilot/stackpilot/stackops/selfupdate"
)

// The update notice: `status` and the menu mention a newer release at most
// once a day. A command pays only for reading one small cached file; when
// the cached answer is a day old, a detached `stackpilot self-update
// --refresh-notice` asks the release server (short timeouts) and records the
// answer for the next command, so no command ever waits on the network.
// Shown only to a person: stderr must be a terminal; never in CI
// (CI set), with STACKPILOT_NO_UPDATE_NOTIFIER set, or in a development
// build, which has no release version to compare.

// noticePath is the notice's cache file, or "" when the notice is off.
func noticePath(f *Factory) string {
	if !f.IO.IsStderrTTY() || os.Getenv("STACKPILOT_NO_UPDATE_NOTIFIER") != "" || os.Getenv("CI") != "" {
		return ""
	}
	if _, ok := selfupdate.ParseVersion(f.Version); !ok || f.ReleaseKeys == "" {
		return ""
	}
	dir := selfupdate.CacheDir()
	if dir == "" {
		return ""
	}
	return selfupdate.NoticeFile(dir)
}

// updateNotice returns the newer release to mention now (marking it
// mentioned) and starts the day's background check when it is due.
func updateNotice(f *Factory) (latest, notes string) {
	path := noticePath(f)
	if path == "" {
		return "", ""
	}
	now := time.Now()
	s := selfupdate.LoadNotice(path)
	changed := false
	if s.NoticeDue(f.Version, now) {
		latest, notes = s.Latest, s.Notes
		s.NotifiedAt = now
		changed = true
	}
	due := s.CheckDue(now)
	if due {
		s.CheckedAt = now // claimed before the check starts: one check a day, even offline
		changed = true
	}
	if changed && s.Save(path) != nil {
		return latest, notes // an unwritable cache would start a check at every command
	}
	if due {
		startNoticeRefresh()
	}
	return latest, notes
}

// printUpdateNotice is the notice after a command's output.
func printUpdateNotice(f *Factory) {
	latest, _ := updateNotice(f)
	if latest == "" {
		return
	}
	cs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "\n%s A new release of stackpilot is available: %s → %s\n", cs.Yellow("↑"), displayVersion(f.Version), cs.Cyan(latest))
	fmt.Fprintf(f.IO.ErrOut, "  Update with: %s (release notes: stackpilot self-update --check)\n", cs.Cyan("stackpilot self-update"))
}

// printMenuUpdateNotice is the notice above the menu, with the release
// notes' first lines.
func printMenuUpdateNotice(f *Factory) {
	latest, notes := updateNotice(f)
	if latest == "" {
		return
	}
	cs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "%s stackpilot %s is available (this is %s):\n", cs.Yellow("↑"), cs.Cyan(latest), displayVersion(f.Version))
	for _, l := range strings.Split(notes, "\n") {
		if l != "" {
			fmt.Fprintf(f.IO.ErrOut, "    %s\n", cs.Gray(l))
		}
	}
	fmt.Fprintf(f.IO.ErrOut, "  choose %q below to install it\n\n", "Update stackpilot")
}

// selfUpdateMenuEntry is the menu's update job, naming the newer release
// when the last check found one.
func selfUpdateMenuEntry(f *Factory) menuEntry {
	label := "Update stackpilot — look for a newer release and install it"
	if path := noticePath(f); path != "" {
		if s := selfupdate.LoadNotice(path); selfupdate.Newer(s.Latest, f.Version) {
			label = fmt.Sprintf("Update stackpilot to %s (this is %s)", s.Latest, displayVersion(f.Version))
		}
	}
	return menuEntry{Label: label, Run: func(ctx context.Context, f *Factory) error {
		return runSelfUpdate(ctx, f, &selfUpdateOptions{Timeout: selfupdate.DefaultIdleTimeout, menu: true})
	}}
}

// startNoticeRefresh starts the background check in its own session, its
// output discarded, so it outlives this command without holding its
// terminal.
func startNoticeRefresh() {
	exe, err := os.Executable()
	if err != nil {
		return
	}
	cmd := exec.Command(exe, "self-update", "--refresh-notice")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if cmd.Start() == nil {
		go func() { _ = cmd.Wait() }()
	}
}

// refreshNotice is self-update --refresh-notice: one quick check whose
// answer goes to the notice's cache; it prints nothing and always succeeds.
func refreshNotice(ctx context.Context, f *Factory) error {
	dir := selfupdate.CacheDir()
	if dir == "" {
		return nil
	}
	src, err := updateSource(f, 5*time.Second)
	if err != nil {
		return nil
	}
	src.ConnectTimeout = 5 * time.Second
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_ = selfupdate.RefreshNotice(ctx, src, selfupdate.NoticeFile(dir), f.Version)
	return nil
}

// rememberCheck records a --check's answer for the notice, which then need
// not ask again today.
func rememberCheck(res *selfupdate.CheckResult) {
	dir := selfupdate.CacheDir()
	if dir == "" {
		return
	}
	path := selfupdate.NoticeFile(dir)
	s := selfupdate.LoadNotice(path)
	s.CheckedAt = time.Now()
	s.Latest = ""
	if res.Asset != "" {
		s.Latest = res.Latest
	}
	s.Notes = selfupdate.NotesHead(res.Notes, 3)
	_ = s.Save(path)
}
