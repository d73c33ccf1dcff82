package wizard_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// cancelBuiltStack is db built here (so a deploy changes its image) and api
// depending on it being healthy.
const cancelBuiltStack = `
services:
  db:
    build: .
    healthcheck: {test: ["CMD", "/fixture", "check=http://127.0.0.1:8080/health"], interval: 500ms, timeout: 5s, retries: 120}` + cancelAPI

// A person deploys from the menu and presses Ctrl-C while Compose replaces
// db: stackpilot says it finishes the container being replaced (Ctrl-C again
// would stop at once), then the cancel screen says which services run and
// which do not, and offers Deploy again, Roll back db, Back. Deploy again
// brings back a healthy stack; a second cancelled deploy is rolled back from
// the same screen, to the image db ran before it.
func TestIntegrationDeployCancelMenu(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project; most of the time is spent waiting on Compose
	p := itest.NewProject(t, cancelBuiltStack, nil)
	cleanupImages(t, p)
	p.WriteFile("Dockerfile", appDockerfile(p, "1", `["serve=:8080"]`))
	if res := p.Run("deploy"); res.Code != 0 {
		t.Fatalf("first deploy: exit %d\n%s", res.Code, res.Combined())
	}
	ev := watchEvents(t, p.Name)
	term := itest.StartTerminal(t, p.Dir, nil)

	// deployAndCancel runs Deploy from the menu and presses Ctrl-C once
	// Compose has begun replacing db (stopping the old db container).
	deployAndCancel := func(version string) {
		t.Helper()
		p.WriteFile("Dockerfile", appDockerfile(p, version, `["serve=:8080"]`))
		m := ev.mark()
		term.Expect("What do you want to do?")
		term.Send("Deploy — build", itest.KeyEnter)
		term.Expect("Which services do you want to deploy?")
		term.Send(itest.KeyEnter)
		term.Expect("Rebuild the images")
		answerConfirm(term, itest.KeyEnter) // yes
		term.Expect("Pull newer images")
		answerConfirm(term, itest.KeyEnter) // no
		term.Expect("Deploy now?")
		answerConfirm(term, itest.KeyEnter)
		itest.Eventually(t, 3*time.Minute, "Compose to stop the old db container", func() bool {
			for _, e := range ev.since(m) {
				if strings.HasPrefix(e, "kill ") && strings.Contains(e, "db") {
					return true
				}
			}
			return false
		})
		rawFrom := len(term.Raw())
		term.Send(itest.KeyCtrlC)
		expectWithin(t, term, "The deploy was cancelled. What now?", 3*time.Minute)
		term.Expect("Back to the menu")
		// The live line said it while it waited (it moves on when Compose stops).
		if !strings.Contains(term.Raw()[rawFrom:], "finishing the container being replaced… Ctrl-C again to stop now") {
			t.Errorf("no word of finishing the container being replaced:\n%s", tailOf(term.Raw()[rawFrom:], 3000))
		}
		screen := term.Screen()
		for _, want := range []string{"deploy cancelled after",
			"running:", "Deploy again — finish what was cancelled", "Roll back db to the images before this deploy", "Back to the menu"} {
			if !strings.Contains(screen, want) {
				t.Errorf("the cancel screen lacks %q:\n%s", want, screen)
			}
		}
		// What it says of each service is what the engine has.
		for _, c := range projectContainers(t, p.Name) {
			if tempNameRe.MatchString(c.Name) {
				t.Errorf("temporary container %s left behind", c.Name)
			}
			line := "  running: "
			if c.State != "running" {
				line = "  not running: "
			}
			found := false
			for _, l := range strings.Split(screen, "\n") {
				if strings.HasPrefix(l, line) && strings.Contains(l, " "+c.Service+" (") {
					found = true
				}
			}
			if !found {
				t.Errorf("the cancel screen does not list %s (%s) under %q:\n%s", c.Service, c.State, strings.TrimSpace(line), screen)
			}
		}
	}
	healthy := func(when string) {
		t.Helper()
		rows, res := statusJSON(t, p)
		if res.Code != 0 || len(rows) != 2 {
			t.Fatalf("%s: the stack is not healthy: exit %d\n%s", when, res.Code, res.Combined())
		}
	}

	deployAndCancel("2")
	term.Send(itest.KeyEnter) // Deploy again
	expectWithin(t, term, "Deployed", 3*time.Minute)
	healthy("after Deploy again")
	v2 := containerImage(t, p, "db")

	deployAndCancel("3")
	if got := containerImage(t, p, "db"); got == v2 {
		t.Fatalf("the cancelled deploy did not change db's image (the test needs it to)")
	}
	term.Send(itest.KeyDown, itest.KeyEnter) // Roll back db
	expectWithin(t, term, "Rolled back", 3*time.Minute)
	if got := containerImage(t, p, "db"); got != v2 {
		t.Errorf("Roll back left db on %s, want the image before the cancelled deploy %s", got, v2)
	}
	healthy("after Roll back")

	term.Expect("What do you want to do?")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d\n%s", code, term.Screen())
	}
	recs := historyOf(t, p)
	if len(recs) != 5 || recs[0].Op != "rollback" || recs[1].Result != "cancelled" || recs[2].Result != "success" || recs[3].Result != "cancelled" {
		t.Fatalf("history %+v", recs)
	}
}
