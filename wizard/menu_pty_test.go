package wizard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// A person opens the menu, picks Status, sees the table, comes back to the
// menu and leaves with Ctrl-C (exit 130).
func TestIntegrationMenuStatusThenCtrlC(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-fixture:latest\n    command: [\"wait\"]\n", nil)
	p.Compose("up", "-d")

	term := itest.StartTerminal(t, p.Dir, nil)
	term.Expect("What do you want to do?")
	if !term.ScreenContains("project " + p.Name) {
		t.Errorf("menu header does not name the project:\n%s", term.Screen())
	}
	term.Send(itest.KeyEnter) // Status is the first entry
	term.Expect("SERVICE")
	term.Expect("Equivalent command:")
	term.Expect("What do you want to do?")
	screen := term.Screen()
	if !strings.Contains(screen, "api") || !strings.Contains(screen, "running") {
		t.Errorf("status table not on screen:\n%s", screen)
	}
	// survey draws the menu before it puts the terminal in raw mode: a Ctrl-C
	// in between is a SIGINT, not a key. Wait until the menu is drawn and read.
	term.Expect("Quit")
	time.Sleep(300 * time.Millisecond)
	term.Send(itest.KeyCtrlC)
	if code := term.Wait(10 * time.Second); code != 130 {
		t.Fatalf("Ctrl-C at the menu: exit %d, want 130\n%s", code, term.Screen())
	}
}

// Ctrl-C inside a job (watching status) returns to the menu; Quit leaves with 0.
func TestIntegrationMenuCtrlCInJobReturnsToMenu(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-fixture:latest\n    command: [\"wait\"]\n", nil)
	p.Compose("up", "-d")

	term := itest.StartTerminal(t, p.Dir, nil)
	term.Expect("What do you want to do?")
	term.Send(itest.KeyDown, itest.KeyEnter) // Watch status
	term.Expect("Ctrl-C to stop")
	time.Sleep(300 * time.Millisecond)
	term.Send(itest.KeyCtrlC)
	term.Expect("back to the menu")
	term.Expect("What do you want to do?")
	// The menu remembers the last job; typing filters the entries.
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(10 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d, want 0\n%s", code, term.Screen())
	}
}

// On a terminal the table is colored; NO_COLOR (and --no-color) turn color off.
func TestIntegrationColorOnTerminalAndNoColor(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-fixture:latest\n    command: [\"wait\"]\n", nil)
	p.Compose("up", "-d")
	colored := itest.StartTerminal(t, p.Dir, nil, "status")
	colored.Wait(30 * time.Second)
	if !strings.Contains(colored.Raw(), "\x1b[32mrunning") {
		t.Fatalf("no color on a terminal: %q", colored.Raw())
	}
	for _, c := range []struct {
		env  []string
		args []string
	}{{[]string{"NO_COLOR=1"}, []string{"status"}}, {nil, []string{"--no-color", "status"}}} {
		term := itest.StartTerminal(t, p.Dir, c.env, c.args...)
		term.Wait(30 * time.Second)
		raw := term.Raw()
		if !strings.Contains(raw, "running") || strings.Contains(raw, "\x1b[3") || strings.Contains(raw, "\x1b[1m") {
			t.Fatalf("%v %v: color despite the setting: %q", c.env, c.args, raw)
		}
	}
}

// The menu's cursor starts on the previous job. Typing a filter must put it
// on the first match: after History, "deploy" matches Deploy, Roll back and
// History, and Enter must run Deploy — never the entry at a stale index.
// An empty service selection then asks again.
func TestIntegrationMenuFilterAfterPreviousChoice(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-fixture:latest\n    command: [\"wait\"]\n", nil)

	term := itest.StartTerminal(t, p.Dir, nil)
	term.Expect("What do you want to do?")
	term.Send("History", itest.KeyEnter)
	term.Expect("stackpilot history")
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	term.Send("deploy", itest.KeyEnter)
	term.Expect("Which services do you want to deploy?")
	// Choosing services and confirming none asks again rather than ending the flow.
	term.Send("Choose", itest.KeyEnter)
	term.Expect("Services to deploy")
	term.Send(itest.KeyEnter)
	term.Expect("Nothing was selected.")
	term.Send(itest.KeyCtrlC)
	term.Expect("back to the menu")
	term.Expect("What do you want to do?")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(10 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d, want 0\n%s", code, term.Screen())
	}
}
