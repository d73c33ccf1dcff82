package wizard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/stackops/selfupdate"
	"github.com/stackpilot/stackpilot/steps"
)

// A release server that counts requests and has nothing: any request a
// test expects not to happen shows up in the count.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

const testReleaseKey = "RWQmJRPb/M40q84bH3fG+FdiI/1G3+tMZK0T4f9caDZ3UleJ/iv/6FGM"

func TestSelfUpdateFlagsThatDoNotGoTogether(t *testing.T) {
	srv, requests := countingServer(t)
	t.Setenv("STACKPILOT_UPDATE_URL", srv.URL)
	for _, args := range [][]string{
		{"self-update", "--rollback", "--check"},
		{"self-update", "--rollback", "--version", "1.0.0"},
		{"self-update", "--check", "--version", "1.0.0"},
		{"self-update", "--timeout", "0s"},
	} {
		f := testFactory(t)
		f.ReleaseKeys = testReleaseKey
		err := execute(f, args...)
		if ExitCode(err) != ExitUsage {
			t.Errorf("%v: exit %d (%v), want 2", args, ExitCode(err), err)
		}
	}
	if requests.Load() != 0 {
		t.Fatalf("%d requests for a usage error", requests.Load())
	}
}

// Without a terminal and without --yes, nothing is downloaded: exit 2
// naming --yes, before any request.
func TestSelfUpdateWithoutTerminalNeedsYesBeforeAnyRequest(t *testing.T) {
	srv, requests := countingServer(t)
	t.Setenv("STACKPILOT_UPDATE_URL", srv.URL)
	for _, args := range [][]string{{"self-update"}, {"self-update", "--rollback"}} {
		f := testFactory(t)
		f.Version = "1.0.0"
		f.ReleaseKeys = testReleaseKey
		err := execute(f, args...)
		if ExitCode(err) != ExitUsage || !strings.Contains(Message(err), "--yes is required") || !strings.Contains(Message(err), "nothing was changed") {
			t.Errorf("%v: exit %d %q", args, ExitCode(err), Message(err))
		}
	}
	if requests.Load() != 0 {
		t.Fatalf("%d requests before consent", requests.Load())
	}
}

// --check is allowed without a terminal; a server without a release is an
// error (exit 1) that says where it looked.
func TestSelfUpdateCheckWithoutRelease(t *testing.T) {
	srv, requests := countingServer(t)
	t.Setenv("STACKPILOT_UPDATE_URL", srv.URL)
	t.Setenv("STACKPILOT_CACHE_DIR", t.TempDir())
	f := testFactory(t)
	f.Version = "1.0.0"
	f.ReleaseKeys = testReleaseKey
	err := execute(f, "self-update", "--check")
	if ExitCode(err) != ExitFailure || !strings.Contains(Message(err), "no release published at "+srv.URL) || requests.Load() != 1 {
		t.Fatalf("exit %d %q, %d requests", ExitCode(err), Message(err), requests.Load())
	}
}

func TestSelfUpdateWithoutReleaseKey(t *testing.T) {
	f := testFactory(t)
	err := execute(f, "self-update", "--check")
	if ExitCode(err) != ExitFailure || !strings.Contains(Message(err), "without a usable release key") {
		t.Fatalf("exit %d %q", ExitCode(err), Message(err))
	}
}

func TestUpdateAvailableExitCode(t *testing.T) {
	if ExitCode(silentExit(ExitUpdateAvailable)) != 10 {
		t.Fatal("update available is not exit 10")
	}
}

// The notice is for people: never without a terminal on stderr, never in
// CI, never for a development build, never when turned off.
func TestUpdateNoticeOnlyForAPersonOnARelease(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("STACKPILOT_CACHE_DIR", cache)
	t.Setenv("CI", "")
	t.Setenv("STACKPILOT_NO_UPDATE_NOTIFIER", "")
	state := selfupdate.NoticeState{CheckedAt: time.Now(), Latest: "1.1.0", Notes: "stackpilot 1.1.0"}
	if err := state.Save(selfupdate.NoticeFile(cache)); err != nil {
		t.Fatal(err)
	}
	factory := func(version string, tty bool) *Factory {
		ios, _, _, _ := steps.Test()
		ios.SetTTY(tty, tty, tty)
		f := NewFactory(ios, version, nil)
		f.ReleaseKeys = testReleaseKey
		return f
	}
	for _, c := range []struct {
		name    string
		version string
		tty     bool
		env     [2]string
	}{
		{"no terminal", "1.0.0", false, [2]string{}},
		{"development build", "dev", true, [2]string{}},
		{"CI", "1.0.0", true, [2]string{"CI", "true"}},
		{"turned off", "1.0.0", true, [2]string{"STACKPILOT_NO_UPDATE_NOTIFIER", "1"}},
	} {
		if c.env[0] != "" {
			t.Setenv(c.env[0], c.env[1])
		}
		f := factory(c.version, c.tty)
		if latest, _ := updateNotice(f); latest != "" {
			t.Errorf("%s: notice of %s", c.name, latest)
		}
		if c.env[0] != "" {
			t.Setenv(c.env[0], "")
		}
	}
	f := factory("1.0.0", true)
	if latest, notes := updateNotice(f); latest != "1.1.0" || notes != "stackpilot 1.1.0" {
		t.Fatalf("on a terminal: %q %q", latest, notes)
	}
	if latest, _ := updateNotice(f); latest != "" {
		t.Fatal("a second notice the same day")
	}
	if e := selfUpdateMenuEntry(f); e.Label != "Update stackpilot to 1.1.0 (this is 1.0.0)" {
		t.Fatalf("menu entry %q", e.Label)
	}
}
