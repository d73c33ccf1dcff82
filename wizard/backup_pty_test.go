package wizard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// A person walks the Backups menu in a real terminal: creates a backup
// (all services, a tag), changes the data, then restores it — choosing the
// backup from the list, reading what will be replaced, and typing the
// project name back.
func TestIntegrationBackupMenuCreateAndRestore(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	p := itest.NewProject(t, itest.IdleVolumeService("files", ""), nil)
	p.Compose("up", "-d")
	sh(t, p.ContainerID("files"), "echo original > /srv/kept.txt && mkdir /srv/empty")
	before := snapshot(t, p.ContainerID("files"), "/srv")

	term := itest.StartTerminal(t, p.Dir, nil)
	term.Expect("What do you want to do?")
	menuCreateBackup(term, "menu-test")
	term.Expect("Equivalent command:")
	term.Expect("backup create --tag menu-test")
	term.Expect("What do you want to do?")

	sh(t, p.ContainerID("files"), "echo changed > /srv/kept.txt && echo new > /srv/new.txt && rmdir /srv/empty")

	term.Send("Backups", itest.KeyEnter)
	term.Expect("Backups — what do you want to do?")
	term.Send("Restore", itest.KeyEnter)
	term.Expect("Which backup do you want to restore?")
	term.Expect("tag menu-test")
	if s := term.Screen(); !strings.Contains(s, "just now") || !strings.Contains(s, "data") {
		t.Errorf("the backup list does not show age and contents:\n%s", s)
	}
	term.Send(itest.KeyEnter)
	term.Expect("to confirm")
	answerCursorQuery(term)
	screen := term.Screen()
	for _, want := range []string{"Restore ", "volume data", "replaced", "safety backup", `Type "` + p.Name + `"`} {
		if !strings.Contains(screen, want) {
			t.Errorf("the confirmation does not say %q:\n%s", want, screen)
		}
	}
	// A slip of the finger asks again instead of dropping every answer.
	term.SendLine(p.Name + "x")
	term.Expect("try again (2 left)")
	answerCursorQuery(term)
	term.SendLine(p.Name)
	term.Expect("restored backup")
	term.Expect("Equivalent command:")
	term.Expect("--yes")
	term.Expect("What do you want to do?")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d\n%s", code, term.Screen())
	}
	if d := diffSnapshots(before, snapshot(t, p.ContainerID("files"), "/srv")); len(d) > 0 {
		t.Errorf("after the menu restore the volume differs:\n%s", strings.Join(d, "\n"))
	}
	if l := backupList(t, p); len(l.Backups) != 2 || l.Backups[1].Tag != "menu-test" || l.Backups[0].Tag != "pre-restore" {
		t.Errorf("backups after the menu flow: %+v", l.Backups)
	}
}

// menuCreateBackup drives the menu's Backups → Create now, all services,
// with tag, until the archive is written (one host or a Swarm alike).
func menuCreateBackup(term *itest.Terminal, tag string) {
	term.Send("Backups", itest.KeyEnter)
	term.Expect("Backups — what do you want to do?")
	term.Send(itest.KeyEnter) // Create now
	term.Expect("Which services do you want to back up?")
	term.Send(itest.KeyEnter) // All services
	term.Expect("Tag for this backup")
	answerCursorQuery(term)
	term.SendLine(tag)
	term.Expect("written to backups/")
}

// answerCursorQuery waits until survey has asked the terminal where the
// cursor is (ESC[6n, twice: once from the far corner for the size, once in
// place) when a text prompt opens; the test terminal answers by itself, and
// keys typed before that would be mixed into the answers.
func answerCursorQuery(term *itest.Terminal) {
	term.Expect("\x1b[999;999f\x1b[6n")
	term.Expect("\x1b[6n")
}
