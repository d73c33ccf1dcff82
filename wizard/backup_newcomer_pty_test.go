package wizard_test

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// threeServices are a and b, each with a volume, and c with none: a backup
// of the stack holds a's and b's data, never c's.
const threeServices = `
services:
  a:
    image: stackpilot-busybox:latest
    {{idle}}
    volumes: ["va:/srv"]
  b:
    image: stackpilot-busybox:latest
    {{idle}}
    volumes: ["vb:/srv"]
  c:
    image: stackpilot-busybox:latest
    {{idle}}
volumes:
  va:
  vb:
`

// Backups for a newcomer (issue 17, item 10): two backups of the same
// minute read apart in the list (their time, not two "just now"); prune
// says why it keeps or deletes each; the menu's Restore asks only about the
// services whose data the backup holds; Down with volumes shows how old the
// newest backup is and takes one first when asked.
func TestIntegrationBackupsForANewcomer(t *testing.T) {
	itest.Require(t)
	t.Parallel()
	p := itest.NewProject(t, threeServices, nil)
	if res := p.Run("deploy"); res.Code != 0 {
		t.Fatalf("deploy: exit %d\n%s", res.Code, res.Combined())
	}
	createBackup(t, p)
	time.Sleep(1100 * time.Millisecond) // two backups, never of the same second
	createBackup(t, p)

	list := p.Run("backup", "list")
	stamp := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
	var times []string
	for _, l := range strings.Split(strings.TrimSpace(list.Stdout), "\n")[1:] {
		times = append(times, stamp.FindString(l))
	}
	if list.Code != 0 || len(times) != 2 || times[0] == "" || times[1] == "" || times[0] == times[1] {
		t.Errorf("backup list does not tell two backups apart by their time (%q):\n%s", times, list.Combined())
	}

	prune := p.Run("backup", "prune", "--keep-last", "1", "--yes")
	if prune.Code != 0 {
		t.Fatalf("prune: exit %d\n%s", prune.Code, prune.Combined())
	}
	for _, want := range []string{"keep      last 1: the newest", "deleted   last 1: 1 newer backup already kept"} {
		if !strings.Contains(prune.Combined(), want) {
			t.Errorf("prune does not say %q:\n%s", want, prune.Combined())
		}
	}
	if l := backupList(t, p); len(l.Backups) != 1 {
		t.Fatalf("%d backups after prune --keep-last 1", len(l.Backups))
	}

	term := itest.StartTerminal(t, p.Dir, nil)
	term.Expect("What do you want to do?")
	term.Send("Backups", itest.KeyEnter)
	term.Expect("Backups — what do you want to do?")
	term.Send("Restore", itest.KeyEnter)
	term.Expect("Which backup do you want to restore?")
	term.Send(itest.KeyEnter)
	term.Expect("Which services do you want to restore?")
	term.Expect("Choose services")
	if s := term.Screen(); !regexp.MustCompile(`(?m)^> All services \(2\): a, b *$`).MatchString(s) {
		t.Errorf("restore offers other services than those the backup holds (a, b):\n%s", s)
	}
	term.Send(itest.KeyEnter)
	term.Expect("to confirm")
	answerCursorQuery(term)
	term.SendLine(p.Name)
	expectWithin(t, term, "restored backup", 2*time.Minute)
	term.Expect("What do you want to do?")
	term.Expect("Quit")

	term.Send("Down", itest.KeyEnter)
	term.Expect("Take down " + p.Name + "?")
	term.Send("Remove everything", itest.KeyEnter)
	term.Expect("Back up before deleting the volumes?")
	term.Expect("Cancel")
	// The newest is the restore's safety backup: taken just now, holding both volumes.
	// (On a loaded machine the restore itself can take over a minute.)
	if s := term.Screen(); !strings.Contains(s, "the newest backup of "+p.Name+" is ") || !newestBackupAge.MatchString(s) {
		t.Errorf("Down does not show the newest backup's age:\n%s", s)
	}
	term.Send(itest.KeyEnter) // Take a backup first, then remove everything
	expectWithin(t, term, "to confirm", 2*time.Minute)
	answerCursorQuery(term)
	term.SendLine(p.Name)
	expectWithin(t, term, "down --volumes --yes", 2*time.Minute)
	term.Expect("What do you want to do?")
	term.Expect("Quit")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d\n%s", code, term.Screen())
	}
	// the pruned one's successor, the restore's safety backup, the one Down took
	if l := backupList(t, p); len(l.Backups) != 3 {
		t.Errorf("%d backups after Down took one first, want 3", len(l.Backups))
	}
	if out, _ := exec.Command("docker", "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+p.Name).Output(); strings.TrimSpace(string(out)) != "" {
		t.Errorf("volumes left after Down with volumes: %s", out)
	}
}

// newestBackupAge is how Down names the age of a backup taken moments ago.
var newestBackupAge = regexp.MustCompile(`\((just now|[1-9] minutes? ago)\); anything written since`)
